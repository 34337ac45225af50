//! `deep`: the 784-1000-500-250-4-250-500-1000-784 MLP autoencoder with batch norm.

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::matmul::dense;
use super::sigmoid::sigmoid;
use crate::data::IMAGE_PIXELS;

const HIDDEN: [usize; 3] = [1000, 500, 250];

/// Linear + batch norm, followed by ReLU except at the code layer.
#[derive(Module, Debug)]
pub struct DenseBn {
    linear: Linear,
    norm: BatchNorm,
}

impl DenseBn {
    fn new(from: usize, to: usize, device: &Device) -> Self {
        Self {
            linear: LinearConfig::new(from, to).init(device),
            norm: BatchNormConfig::new(to).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.norm.forward(dense(&self.linear, x))
    }
}

/// Encoder 784→1000→500→250→code, decoder code→250→500→1000→784.
///
/// Every hidden layer (the code included) is Linear + BatchNorm; all but the code
/// use ReLU, so the code is a centred, unit-scale point (handy for a latent explorer).
#[derive(Module, Debug)]
pub struct Deep {
    encoder: Vec<DenseBn>,
    decoder: Vec<DenseBn>,
    output: Linear,
}

impl Deep {
    pub fn new(code_size: usize, device: &Device) -> Self {
        let widths: Vec<usize> = [IMAGE_PIXELS]
            .into_iter()
            .chain(HIDDEN)
            .chain([code_size])
            .collect();
        let layers = |sizes: &[usize]| {
            sizes
                .windows(2)
                .map(|w| DenseBn::new(w[0], w[1], device))
                .collect()
        };
        let reversed: Vec<usize> = widths.iter().rev().copied().collect();
        Self {
            encoder: layers(&widths),
            decoder: layers(&reversed[..reversed.len() - 1]),
            output: LinearConfig::new(HIDDEN[0], IMAGE_PIXELS).init(device),
        }
    }

    /// `[n, 1, 28, 28]` → `[n, code]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let last = self.encoder.len() - 1;
        self.encoder
            .iter()
            .enumerate()
            .fold(images.flatten(1, 3), |x, (i, layer)| {
                let x = layer.forward(x);
                if i == last { x } else { relu(x) }
            })
    }

    /// `[n, code]` → `[n, 1, 28, 28]`.
    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        let [n, _] = code.dims();
        let hidden = self
            .decoder
            .iter()
            .fold(code, |x, layer| relu(layer.forward(x)));
        sigmoid(dense(&self.output, hidden)).reshape([n, 1, 28, 28])
    }
}
