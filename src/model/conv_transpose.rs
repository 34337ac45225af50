//! `conv-transpose`: a convolutional encoder and a transposed-convolution decoder.

use burn::module::Module;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use super::encoder::ConvEncoder;

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
            encoder: ConvEncoder::new(code_channels, device),
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
        let x = relu(self.up1.forward(x));
        sigmoid(self.up2.forward(x))
    }
}
