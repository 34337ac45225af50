//! The training techniques' command-line flags, shared by `train` and `bench`; and the
//! test-set changes of `eval` (noise, augmentation).

use clap::Args;

use crate::data::perturbation::TEST_SEED;
use crate::data::{Augmentation, Corruption, Perturbation};
use crate::model::ModelKind;
use crate::training::device_noise::NoisePlace;
use crate::training::early_stop::EarlyStop;
use crate::training::loss::Loss;
use crate::training::techniques::{KlWeight, Techniques};

#[derive(Args, Debug, Clone, Default)]
pub(super) struct TechniqueArgs {
    /// Denoising: corrupt the inputs, learn the clean images. gaussian:σ, salt-pepper:p,
    /// mask:p (pixels erased) or block:p (a square of that fraction erased).
    #[arg(long, value_parser = parse::<Corruption>)]
    noise: Option<Corruption>,
    /// Where --noise is made: host (the u8 pixels before upload, seeded per image) or device
    /// (the uploaded batch, by the backend's generator).
    #[arg(long, value_parser = parse::<NoisePlace>, default_value = "host", requires = "noise")]
    noise_on: NoisePlace,
    /// Augment the training images: shift:PX, rotate:DEGREES, scale:FRACTION, comma-separated
    /// (e.g. shift:2,rotate:10).
    #[arg(long, value_parser = parse::<Augmentation>)]
    augment: Option<Augmentation>,
    /// Stop after this many epochs without a better validation MSE; keep the best weights.
    #[arg(long)]
    early_stop: Option<usize>,
    /// With --early-stop: the least decrease of the validation MSE that counts as better.
    #[arg(long, requires = "early_stop")]
    min_delta: Option<f64>,
    /// mse (default; the vae's: bce), mse+ssim:α (α·(1−SSIM) + (1−α)·MSE) or bce.
    #[arg(long, value_parser = parse::<Loss>)]
    loss: Option<Loss>,
    /// AdamW's decoupled weight decay λ.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// λ of an L1 penalty on the code (a sparse autoencoder).
    #[arg(long, default_value_t = 0.0)]
    l1_code: f64,
    /// vae only: the weight β of the KL term (1: the ELBO, with the VAE's default loss, bce).
    #[arg(long)]
    kl_weight: Option<f64>,
}

impl TechniqueArgs {
    /// The techniques for a model of `kind`, checked (the loss defaults to the model's).
    pub(super) fn techniques(&self, kind: ModelKind) -> Result<Techniques, String> {
        if kind != ModelKind::Vae && self.kl_weight.is_some() {
            return Err(format!(
                "--kl-weight is a setting of the vae model, not {kind}"
            ));
        }
        let techniques = Techniques {
            noise: self.noise,
            noise_on: self.noise_on,
            augment: self.augment.unwrap_or_default(),
            early_stop: self.early_stop.map(|patience| EarlyStop {
                patience,
                min_delta: self.min_delta.unwrap_or(0.0),
            }),
            loss: self.loss.unwrap_or(Loss::default_for(kind)),
            weight_decay: self.weight_decay,
            l1_code: self.l1_code,
            kl_weight: self.kl_weight.map(KlWeight).unwrap_or_default(),
        };
        techniques.validate()?;
        Ok(techniques)
    }
}

#[derive(Args, Debug, Clone, Default)]
pub(super) struct TestChangeArgs {
    /// Measure on test images corrupted so (as --noise of train; fixed seed).
    #[arg(long, value_parser = parse::<Corruption>)]
    noise: Option<Corruption>,
    /// Measure on a shifted / rotated / scaled copy of the test set (as --augment of train;
    /// fixed seed): how robust the model is to digits placed unlike MNIST's.
    #[arg(long, value_parser = parse::<Augmentation>)]
    augment: Option<Augmentation>,
}

impl TestChangeArgs {
    pub(super) fn perturbation(&self) -> Option<Perturbation> {
        (self.noise.is_some() || self.augment.is_some())
            .then(|| Perturbation::new(self.augment.unwrap_or_default(), self.noise, TEST_SEED))
    }

    /// How the test set was changed, for the report.
    pub(super) fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.augment.map(|a| format!("augment {a}")),
            self.noise.map(|n| format!("noise {n}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn parse<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, String> {
    text.parse()
}
