//! `upsample`: the convolutional encoder with a nearest-neighbour upsampling decoder
//! (no transposed convolutions, so no checkerboard artefacts).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::conv::conv3x3;
use super::encoder::{CodeStart, ConvEncoder, layer3x3};
use super::sigmoid::sigmoid;

/// Encoder as `conv-transpose`; decoder: nearest ×2 + Conv(c→16, 3×3)+ReLU,
/// nearest ×2 + Conv(16→1, 3×3)+Sigmoid.
#[derive(Module, Debug)]
pub struct Upsample {
    encoder: ConvEncoder,
    upscale: Interpolate2d,
    conv1: Conv2d,
    conv2: Conv2d,
}

impl Upsample {
    pub fn new(code_channels: usize, device: &Device) -> Self {
        Self {
            encoder: ConvEncoder::new(code_channels, CodeStart::Default, device),
            upscale: Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init(),
            conv1: layer3x3(code_channels, 16, device),
            conv2: layer3x3(16, 1, device),
        }
    }

    /// `[n, 1, 28, 28]` → `[n, c·49]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images).flatten(1, 3)
    }

    /// `[n, c·49]` → `[n, 1, 28, 28]`.
    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        let x = self.encoder.unflatten(code);
        let x = relu(conv3x3(&self.conv1, self.upscale.forward(x)));
        sigmoid(conv3x3(&self.conv2, self.upscale.forward(x)))
    }
}
