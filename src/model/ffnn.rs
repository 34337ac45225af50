//! `ffnn`: a one-hidden-layer autoencoder, 784 → code (ReLU) → 784 (Sigmoid).

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::matmul::dense;
use super::sigmoid::sigmoid;
use crate::data::IMAGE_PIXELS;

/// Linear 784→code + ReLU, Linear code→784 + Sigmoid.
#[derive(Module, Debug)]
pub struct Ffnn {
    encoder: Linear,
    decoder: Linear,
}

impl Ffnn {
    /// Weights ~ N(0, 1/√fan_in), biases 0 (the seed notebook's scheme).
    pub fn new(code_size: usize, device: &Device) -> Self {
        Self {
            encoder: seed_linear(IMAGE_PIXELS, code_size, device),
            decoder: seed_linear(code_size, IMAGE_PIXELS, device),
        }
    }

    /// `[n, 1, 28, 28]` → `[n, code]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        relu(dense(&self.encoder, images.flatten(1, 3)))
    }

    /// `[n, code]` → `[n, 1, 28, 28]`.
    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        let [n, _] = code.dims();
        sigmoid(dense(&self.decoder, code)).reshape([n, 1, 28, 28])
    }
}

fn seed_linear(d_input: usize, d_output: usize, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(d_input, d_output)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 1.0 / (d_input as f64).sqrt(),
        })
        .init(device);
    linear.bias = Some(Param::from_tensor(Tensor::zeros([d_output], device)));
    linear
}
