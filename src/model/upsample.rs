//! `upsample`: the convolutional encoder with a nearest-neighbour upsampling decoder
//! (no transposed convolutions, so no checkerboard artefacts).

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::conv::conv3x3;
use super::encoder::{CodeStart, ConvEncoder, layer3x3};
use super::sigmoid::sigmoid;

/// Encoder as `conv-transpose`; decoder: nearest ×2 + Conv(c→16, 3×3)+ReLU,
/// nearest ×2 + Conv(16→1, 3×3)+Sigmoid.
/// Where the output layer's bias starts: the logit of a typical pixel (MNIST's mean is 0.13,
/// and sigmoid(−1.9) = 0.13), so the first outputs are the dark page the images are rather than
/// sigmoid(0) = 0.5 grey. From the grey start, Adam's first steps darken every pixel at once
/// by pushing the hidden layer's pre-activations below zero, and on some seeds (3; 42 with
/// Gaussian noise) every hidden channel died in the first epoch, a black image for good
/// (docs/techniques.md, "Dead code units").
const OUTPUT_BIAS: f32 = -1.9;

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
            conv2: output_layer(device),
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

/// The last 3×3 convolution (16 → 1), its bias started at [`OUTPUT_BIAS`].
fn output_layer(device: &Device) -> Conv2d {
    let mut conv = layer3x3(16, 1, device);
    conv.bias = Some(Param::from_tensor(Tensor::full([1], OUTPUT_BIAS, device)));
    conv
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_fresh_model_draws_the_dark_page() {
        let device = Device::flex();
        let model = Upsample::new(4, &device);
        let blank = Tensor::<4>::zeros([2, 1, 28, 28], &device);
        let output = model.decode(model.encode(blank));
        let pixels = output.into_data().try_to_vec::<f32>().unwrap();
        let mean = pixels.iter().sum::<f32>() / pixels.len() as f32;
        // sigmoid(OUTPUT_BIAS) = 0.13, MNIST's mean pixel, where burn's start gives about 0.5.
        assert!((mean - 0.13).abs() < 0.05, "mean output {mean}");
    }
}
