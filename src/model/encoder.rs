//! The convolutional encoder shared by `conv-transpose` and `upsample`.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::conv::conv3x3;

/// Conv(1→16, 3×3, pad 1)+ReLU, MaxPool 2; Conv(16→c, 3×3, pad 1)+ReLU, MaxPool 2 → c×7×7.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
}

impl ConvEncoder {
    pub fn new(code_channels: usize, device: &Device) -> Self {
        Self {
            conv1: layer3x3(1, 16, device),
            conv2: layer3x3(16, code_channels, device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    /// `[n, 1, 28, 28]` → `[n, c, 7, 7]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let x = self.pool.forward(relu(conv3x3(&self.conv1, images)));
        self.pool.forward(relu(conv3x3(&self.conv2, x)))
    }

    /// A flat code `[n, c·49]` back to its `[n, c, 7, 7]` feature maps.
    pub fn unflatten(&self, code: Tensor<2>) -> Tensor<4> {
        let [n, len] = code.dims();
        code.reshape([n, len / 49, 7, 7])
    }
}

/// A 3×3 convolution with padding 1 (keeps the size; applied by [`conv3x3`]); `upsample`'s
/// decoder uses it too.
pub(super) fn layer3x3(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}
