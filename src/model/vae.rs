//! `vae`: a variational autoencoder, 784 → 512 (ReLU) → μ, log σ² (2-D by default) → 512 (ReLU)
//! → 784 (Sigmoid).
//!
//! Its code is the mean μ of the Gaussian the encoder assigns an image, so reconstructions,
//! maps and interpolations are deterministic like the other models'. Training decodes a draw
//! z = μ + σ·ε instead (the reparameterisation trick: ε ~ N(0, I) from the backend's seeded
//! generator, so gradients reach μ and σ) and adds the KL divergence of that Gaussian from
//! N(0, I), which pulls the codes towards the prior that "Generate" samples from.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};

use super::matmul::dense;
use super::sigmoid::sigmoid;
use crate::data::IMAGE_PIXELS;

const HIDDEN: usize = 512;

#[derive(Module, Debug)]
pub struct Vae {
    hidden: Linear,
    mean: Linear,
    log_var: Linear,
    expand: Linear,
    output: Linear,
}

impl Vae {
    pub fn new(code_size: usize, device: &Device) -> Self {
        let linear = |from, to| LinearConfig::new(from, to).init(device);
        Self {
            hidden: linear(IMAGE_PIXELS, HIDDEN),
            mean: linear(HIDDEN, code_size),
            log_var: linear(HIDDEN, code_size),
            expand: linear(code_size, HIDDEN),
            output: linear(HIDDEN, IMAGE_PIXELS),
        }
    }

    /// The code: the mean of the encoder's Gaussian.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.gaussian(images).0
    }

    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        let [n, _] = code.dims();
        let hidden = relu(dense(&self.expand, code));
        sigmoid(dense(&self.output, hidden)).reshape([n, 1, 28, 28])
    }

    /// The training pass's code, a draw from the encoder's Gaussian, and the KL divergence of
    /// that Gaussian from N(0, I): averaged over the batch and divided by the pixel count, the
    /// scale of the per-pixel reconstruction losses, so that with BCE the sum is the negative
    /// ELBO per pixel.
    pub fn sample_code(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<1>) {
        let (mean, log_var) = self.gaussian(images);
        let noise = Tensor::random(mean.shape(), Distribution::Normal(0.0, 1.0), &mean.device());
        let code = mean.clone() + log_var.clone().mul_scalar(0.5).exp() * noise;
        // KL(N(μ, σ²) ‖ N(0, 1)) = ½ (σ² + μ² − 1 − log σ²) per dimension.
        let kl = (log_var.clone().exp() + mean.clone() * mean - log_var)
            .sub_scalar(1.0)
            .sum_dim(1)
            .mean()
            .mul_scalar(0.5 / IMAGE_PIXELS as f64);
        (code, kl)
    }

    fn gaussian(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let hidden = relu(dense(&self.hidden, images.flatten(1, 3)));
        (
            dense(&self.mean, hidden.clone()),
            dense(&self.log_var, hidden),
        )
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_kl_term_is_the_closed_form() {
        let device = Device::flex();
        let vae = Vae::new(2, &device);
        let images = Tensor::<4>::from_data(
            TensorData::new(
                (0..3 * 784).map(|i| (i % 7) as f32 / 7.0).collect(),
                [3, 1, 28, 28],
            ),
            &device,
        );
        let (mean, log_var) = vae.gaussian(images.clone());
        let mean = mean.into_data().try_to_vec::<f32>().unwrap();
        let log_var = log_var.into_data().try_to_vec::<f32>().unwrap();
        let expected: f32 = mean
            .iter()
            .zip(&log_var)
            .map(|(m, l)| 0.5 * (l.exp() + m * m - 1.0 - l))
            .sum::<f32>()
            / 3.0
            / 784.0;
        let (code, kl) = vae.sample_code(images);
        let kl = kl.into_data().try_to_vec::<f32>().unwrap()[0];
        assert!(
            (kl - expected).abs() < 1e-6 * expected.abs().max(1.0),
            "{kl} vs {expected}"
        );
        assert!(kl >= 0.0, "a KL divergence is never negative: {kl}");
        assert_eq!(code.dims(), [3, 2]);
        // The draw is not the mean (σ > 0).
        let code = code.into_data().try_to_vec::<f32>().unwrap();
        assert!(code.iter().zip(&mean).any(|(z, m)| (z - m).abs() > 1e-4));
    }
}
