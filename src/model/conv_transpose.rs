//! `conv-transpose`: a convolutional encoder and a transposed-convolution decoder.

use burn::module::Module;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::encoder::{CodeStart, ConvEncoder};
use super::matmul::matmul;
use super::sigmoid::sigmoid;

/// Encoder: Conv(1→16)+ReLU, MaxPool 2, Conv(16→c)+ReLU, MaxPool 2 (code c×7×7).
/// Decoder: ConvTranspose(c→16, k2, s2)+ReLU, ConvTranspose(16→1, k2, s2)+Sigmoid.
#[derive(Module, Debug)]
pub struct ConvTranspose {
    encoder: ConvEncoder,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
}

impl ConvTranspose {
    pub fn new(code_channels: usize, device: &Device) -> Self {
        let up = |from, to| {
            ConvTranspose2dConfig::new([from, to], [2, 2])
                .with_stride([2, 2])
                .init(device)
        };
        Self {
            encoder: ConvEncoder::new(code_channels, CodeStart::He, device),
            up1: up(code_channels, 16),
            up2: up(16, 1),
        }
    }

    /// `[n, 1, 28, 28]` → `[n, c·49]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images).flatten(1, 3)
    }

    /// `[n, c·49]` → `[n, 1, 28, 28]`.
    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        let x = self.encoder.unflatten(code);
        let x = relu(up2x2(&self.up1, x));
        sigmoid(up2x2(&self.up2, x))
    }
}

/// A 2 × 2, stride-2 transposed convolution computed as what it is: each input pixel's channels
/// times the weights `[c_in, c_out, 2, 2]` give its own 2 × 2 block of output pixels, so the
/// layer is one matrix product (through the dense layers' kernel) and a reshuffle of the blocks.
/// Faster than burn's transposed convolution on the CPU and on SwiftShader (docs/speed.md).
fn up2x2(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let [n, c_in, h, w] = x.dims();
    let c_out = layer.weight.dims()[1];
    let pixels = x.permute([0, 2, 3, 1]).reshape([n * h * w, c_in]);
    let blocks = matmul(pixels, layer.weight.val().reshape([c_in, c_out * 4]));
    let out = blocks
        .reshape([n, h, w, c_out, 2, 2])
        .permute([0, 3, 1, 4, 2, 5])
        .reshape([n, c_out, 2 * h, 2 * w]);
    match &layer.bias {
        Some(bias) => out + bias.val().reshape([1, c_out, 1, 1]),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    /// The product-and-reshuffle is burn's transposed convolution, weights and bias included.
    #[test]
    fn up2x2_is_the_transposed_convolution() {
        let device = Device::default();
        let layer = ConvTranspose2dConfig::new([3, 5], [2, 2])
            .with_stride([2, 2])
            .init(&device);
        let values: Vec<f32> = (0..2 * 3 * 4 * 6)
            .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 4, 6]), &device);
        let ours = up2x2(&layer, x.clone()).into_data();
        let burns = layer.forward(x).into_data();
        assert_eq!(ours.shape(), burns.shape());
        ours.assert_approx_eq::<f32>(&burns, burn::tensor::Tolerance::absolute(1e-5));
    }
}
