//! What training minimises: MSE (the reference protocol), a mix of MSE and SSIM, or
//! per-pixel binary cross-entropy. Written with burn's tensor ops, so each differentiates
//! on every backend.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::IMAGE_SIDE;
use crate::metrics::{SSIM_C1, SSIM_C2, SSIM_WINDOW, gaussian_kernel};
use crate::model::ModelKind;

/// A reconstruction loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Loss {
    /// Mean squared error per pixel.
    #[default]
    Mse,
    /// α·(1 − SSIM) + (1 − α)·MSE, SSIM as [`crate::metrics::ssim`] measures it.
    MseSsim { alpha: f32 },
    /// Binary cross-entropy per pixel, the pixels taken as probabilities of ink.
    Bce,
}

/// Keeps BCE's logarithms finite where a sigmoid output rounds to 0 or 1.
const BCE_EPSILON: f64 = 1e-6;

impl Loss {
    /// The mean loss of `output` against `target` (both `[n, 1, 28, 28]`, values in [0, 1]).
    pub fn forward(self, output: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
        match self {
            Self::Mse => mse(output, target),
            Self::Bce => {
                let p = output.clamp(BCE_EPSILON, 1.0 - BCE_EPSILON);
                let ink = target.clone() * p.clone().log();
                let background = (target.neg() + 1.0) * (p.neg() + 1.0).log();
                (ink + background).mean().neg()
            }
            Self::MseSsim { alpha } => {
                let alpha = f64::from(alpha);
                let dissimilarity = ssim(output.clone(), target.clone()).neg() + 1.0;
                dissimilarity * alpha + mse(output, target) * (1.0 - alpha)
            }
        }
    }

    /// A model's default: MSE (the reference protocol), BCE for the VAE (with its KL term, the
    /// negative ELBO of a decoder whose pixels are probabilities of ink).
    pub fn default_for(kind: ModelKind) -> Self {
        match kind {
            ModelKind::Vae => Self::Bce,
            _ => Self::Mse,
        }
    }

    /// α in [0, 1].
    pub fn validate(self) -> Result<(), String> {
        match self {
            Self::MseSsim { alpha } if !(0.0..=1.0).contains(&alpha) => {
                Err(format!("loss mse+ssim needs 0 ≤ α ≤ 1, not {alpha}"))
            }
            _ => Ok(()),
        }
    }
}

fn mse(output: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    (output - target).square().mean()
}

/// Mean SSIM of the pairs of images: an 11 × 11 Gaussian window (σ = 1.5) over the valid
/// region, as the metric. The window is separable, so each filtering is two products with
/// a 28 × 18 band matrix; filtering `X` gives `(X·G)ᵀ·G`, the transpose of `Gᵀ·X·G`, which
/// leaves the mean over the map unchanged.
pub fn ssim(x: Tensor<4>, y: Tensor<4>) -> Tensor<1> {
    let n = x.dims()[0];
    let band = band_matrix(&x.device());
    let filter = |images: Tensor<3>| -> Tensor<3> {
        images
            .matmul(band.clone().unsqueeze())
            .swap_dims(1, 2)
            .matmul(band.clone().unsqueeze())
    };
    let x: Tensor<3> = x.reshape([n, IMAGE_SIDE, IMAGE_SIDE]);
    let y: Tensor<3> = y.reshape([n, IMAGE_SIDE, IMAGE_SIDE]);
    let mu_x = filter(x.clone());
    let mu_y = filter(y.clone());
    let xx = filter(x.clone().square());
    let yy = filter(y.clone().square());
    let xy = filter(x * y);
    let mu_xy = mu_x.clone() * mu_y.clone();
    let (mu_xx, mu_yy) = (mu_x.square(), mu_y.square());
    let numerator = (mu_xy.clone() * 2.0 + SSIM_C1) * ((xy - mu_xy) * 2.0 + SSIM_C2);
    let denominator =
        (mu_xx.clone() + mu_yy.clone() + SSIM_C1) * (xx - mu_xx + yy - mu_yy + SSIM_C2);
    (numerator / denominator).mean()
}

/// G with G[i + k, i] = w[k]: `X·G` filters the rows of X with the window w ('valid').
fn band_matrix(device: &burn::tensor::Device) -> Tensor<2> {
    let out = IMAGE_SIDE - SSIM_WINDOW + 1;
    let kernel = gaussian_kernel();
    let mut values = vec![0.0f32; IMAGE_SIDE * out];
    for column in 0..out {
        for (k, weight) in kernel.iter().enumerate() {
            values[(column + k) * out + column] = *weight as f32;
        }
    }
    Tensor::from_data(TensorData::new(values, [IMAGE_SIDE, out]), device)
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Mse => write!(f, "mse"),
            Self::MseSsim { alpha } => write!(f, "mse+ssim:{alpha}"),
            Self::Bce => write!(f, "bce"),
        }
    }
}

impl FromStr for Loss {
    type Err = String;

    /// `mse`, `bce` or `mse+ssim:α`.
    fn from_str(text: &str) -> Result<Self, String> {
        let loss = match text {
            "mse" => Self::Mse,
            "bce" => Self::Bce,
            _ => match text.strip_prefix("mse+ssim:") {
                Some(alpha) => Self::MseSsim {
                    alpha: alpha
                        .parse()
                        .map_err(|_| format!("loss weight α '{alpha}' is not a number"))?,
                },
                None => {
                    return Err(format!(
                        "unknown loss '{text}' (known: mse, mse+ssim:α, bce)"
                    ));
                }
            },
        };
        loss.validate()?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::data::IMAGE_PIXELS;
    use crate::metrics;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Two different, image-like batches of three.
    fn pair() -> (Vec<f32>, Vec<f32>) {
        let x: Vec<f32> = (0..3 * IMAGE_PIXELS)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect();
        let y: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| (v * 0.7 + ((i * 13 % 17) as f32) / 60.0).min(1.0))
            .collect();
        (x, y)
    }

    fn images(values: &[f32], device: &Device) -> Tensor<4> {
        crate::data::images_tensor(values.to_vec(), device)
    }

    fn scalar(tensor: Tensor<1>) -> f64 {
        f64::from(tensor.into_data().try_to_vec::<f32>().unwrap()[0])
    }

    #[test]
    fn the_ssim_loss_equals_one_minus_the_metric() {
        let device = Device::flex();
        let (x, y) = pair();
        let metric: f64 = x
            .chunks(IMAGE_PIXELS)
            .zip(y.chunks(IMAGE_PIXELS))
            .map(|(a, b)| metrics::ssim(a, b))
            .sum::<f64>()
            / 3.0;
        let tensor = scalar(ssim(images(&x, &device), images(&y, &device)));
        assert!(
            (tensor - metric).abs() < 1e-5,
            "tensor {tensor}, metric {metric}"
        );
        assert!(metric < 0.9, "the test pair should differ ({metric})");
        let loss = Loss::MseSsim { alpha: 1.0 };
        let value = scalar(loss.forward(images(&x, &device), images(&y, &device)));
        assert!((value - (1.0 - metric)).abs() < 1e-5);
        let same = scalar(ssim(images(&x, &device), images(&x, &device)));
        assert!((same - 1.0).abs() < 1e-6);
    }

    #[test]
    fn each_loss_has_a_finite_gradient_that_lowers_it() {
        let device = Device::flex().autodiff();
        let (x, y) = pair();
        for loss in [Loss::Mse, Loss::MseSsim { alpha: 0.84 }, Loss::Bce] {
            // Outputs at the clamp's edges too: BCE must stay finite there.
            let mut start = x.clone();
            start[0] = 0.0;
            start[1] = 1.0;
            let output = images(&start, &device).require_grad();
            let value = loss.forward(output.clone(), images(&y, &device));
            let grads = value.backward();
            let grad = output.grad(&grads).unwrap();
            let grad_values = grad.clone().into_data().try_to_vec::<f32>().unwrap();
            assert!(grad_values.iter().all(|g| g.is_finite()), "{loss}");
            assert!(grad_values.iter().any(|&g| g != 0.0), "{loss}");
            // A small step against the gradient lowers the loss.
            let stepped = (output.inner() - grad * 0.01).clamp(0.0, 1.0);
            let before =
                scalar(loss.forward(images(&start, &Device::flex()), images(&y, &Device::flex())));
            let after = scalar(loss.forward(stepped, images(&y, &Device::flex())));
            assert!(after < before, "{loss}: {before} → {after}");
        }
    }

    #[test]
    fn bce_and_mse_have_their_textbook_values() {
        let device = Device::flex();
        let output = images(&vec![0.25; IMAGE_PIXELS], &device);
        let target = images(&vec![1.0; IMAGE_PIXELS], &device);
        let bce = scalar(Loss::Bce.forward(output.clone(), target.clone()));
        assert!((bce - 4f64.ln()).abs() < 1e-5, "bce {bce}");
        let mse = scalar(Loss::Mse.forward(output, target));
        assert!((mse - 0.5625).abs() < 1e-6);
    }

    #[test]
    fn losses_parse_and_bad_ones_are_refused() {
        for text in ["mse", "bce", "mse+ssim:0.84"] {
            assert_eq!(text.parse::<Loss>().unwrap().to_string(), text);
        }
        let error = |text: &str| text.parse::<Loss>().unwrap_err();
        assert_eq!(
            error("l1"),
            "unknown loss 'l1' (known: mse, mse+ssim:α, bce)"
        );
        assert_eq!(
            error("mse+ssim:1.5"),
            "loss mse+ssim needs 0 ≤ α ≤ 1, not 1.5"
        );
        assert_eq!(error("mse+ssim:a"), "loss weight α 'a' is not a number");
    }
}
