//! The convolutional encoder shared by `conv-transpose` and `upsample`.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::conv::conv3x3;

/// Where the code layer's biases start. burn's default draws them, like the weights, from
/// ±1/√fan_in; from there Adam's first steps can leave a code channel's ReLU at zero for
/// every image, and a dead channel never comes back. With the default start `upsample` lost
/// a channel in its first epoch on 5 of 8 seeds (two collapsed), `conv-transpose` on 11 of
/// 24; every channel starting above zero kept all of `upsample`'s alive on those 8 seeds
/// (docs/techniques.md, "Dead code units").
const CODE_BIAS: f32 = 0.1;

/// How the code layer's weights start (its biases start at [`CODE_BIAS`] either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStart {
    /// burn's default, uniform in ±1/√fan_in: `upsample`'s. He's larger start collapsed
    /// its decoder to black on 2 of 8 seeds.
    Default,
    /// He's start for ReLU layers, uniform in ±√(6/fan_in): `conv-transpose`'s, whose
    /// channels still died on 7 of 24 seeds with the default weights, on 2 of 24 with He's.
    He,
}

/// Conv(1→16, 3×3, pad 1)+ReLU, MaxPool 2; Conv(16→c, 3×3, pad 1)+ReLU, MaxPool 2 → c×7×7.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
}

impl ConvEncoder {
    pub fn new(code_channels: usize, start: CodeStart, device: &Device) -> Self {
        Self {
            conv1: layer3x3(1, 16, device),
            conv2: code_layer(code_channels, start, device),
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

/// The layer that makes the code: a 3×3 convolution as [`layer3x3`], its weights started
/// as `start` says and its biases at [`CODE_BIAS`].
fn code_layer(code_channels: usize, start: CodeStart, device: &Device) -> Conv2d {
    let mut config = Conv2dConfig::new([16, code_channels], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
    if start == CodeStart::He {
        config = config.with_initializer(Initializer::KaimingUniform {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        });
    }
    let mut conv = config.init(device);
    conv.bias = Some(Param::from_tensor(Tensor::full(
        [code_channels],
        CODE_BIAS,
        device,
    )));
    conv
}

/// A 3×3 convolution with padding 1 (keeps the size; applied by [`conv3x3`]); `upsample`'s
/// decoder uses it too.
pub(super) fn layer3x3(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_code_channel_starts_above_zero() {
        let device = Device::flex();
        // The code layer's weights: within ±1/√144 by default, within ±√(6/144) (and wider
        // than the default's) for He's start.
        for (start, bound) in [
            (CodeStart::Default, 1.0 / 12.0),
            (CodeStart::He, 6f32.sqrt() / 12.0),
        ] {
            let encoder = ConvEncoder::new(4, start, &device);
            let bias = encoder
                .conv2
                .bias
                .as_ref()
                .expect("the code layer has biases");
            let values = bias.val().into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(values, vec![CODE_BIAS; 4]);
            let weights = encoder
                .conv2
                .weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let largest = weights.iter().fold(0f32, |a, w| a.max(w.abs()));
            assert!(
                largest <= bound && largest > 0.9 * bound,
                "{start:?}: {largest} vs {bound}"
            );
        }
        let encoder = ConvEncoder::new(4, CodeStart::Default, &device);
        // The other layer keeps burn's default, drawn within ±1/√fan_in (fan_in 9).
        let first = encoder.conv1.bias.as_ref().unwrap().val().into_data();
        let first = first.try_to_vec::<f32>().unwrap();
        assert!(first.iter().all(|v| v.abs() <= 1.0 / 3.0) && first.iter().any(|&v| v != first[0]));
    }
}
