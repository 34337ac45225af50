//! The training techniques a run may add to the reference protocol (whose values are the
//! defaults: no noise, no augmentation, MSE, no early stopping, no regularisation).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::device_noise::NoisePlace;
use super::early_stop::EarlyStop;
use super::loss::Loss;
use crate::data::{Augmentation, Corruption};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Techniques {
    /// Denoising: the model sees its input corrupted so and learns the clean image.
    pub noise: Option<Corruption>,
    /// Where the training batches' noise is made (validation's is always the host's, seeded
    /// per image, so that epochs compare).
    pub noise_on: NoisePlace,
    /// Random shifts, rotations and scalings of the training images.
    pub augment: Augmentation,
    pub early_stop: Option<EarlyStop>,
    pub loss: Loss,
    /// AdamW's decoupled weight decay λ: each step shrinks the weights by lr·λ of themselves.
    pub weight_decay: f64,
    /// λ of an L1 penalty on the code, λ·mean|code|: a sparse autoencoder.
    pub l1_code: f64,
    /// The VAE's KL term's weight (the other models have none).
    pub kl_weight: KlWeight,
}

/// The weight β of the VAE's KL term: 1 makes the loss the negative ELBO (with BCE); more
/// gives smoother codes and blurrier digits, less sharper digits and a code space further
/// from the prior that generation samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KlWeight(pub f64);

impl Default for KlWeight {
    fn default() -> Self {
        Self(1.0)
    }
}

impl Techniques {
    /// Checks every setting; the message names the one at fault.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(noise) = self.noise {
            noise.validate()?;
        }
        self.augment.validate()?;
        if let Some(rule) = self.early_stop {
            rule.validate()?;
        }
        self.loss.validate()?;
        for (name, value) in [
            ("weight decay", self.weight_decay),
            ("L1 code penalty", self.l1_code),
            ("KL weight", self.kl_weight.0),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("{name} needs a value ≥ 0, not {value}"));
            }
        }
        Ok(())
    }

    /// Whether a training batch must be made on the host (augmentation, and noise placed
    /// there, work on its u8 pixels).
    pub fn change_on_host(&self) -> bool {
        self.noise_on_host().is_some() || !self.augment.is_identity()
    }

    /// The noise to make on the host's u8 pixels, if any.
    pub fn noise_on_host(&self) -> Option<Corruption> {
        self.noise.filter(|_| self.noise_on == NoisePlace::Host)
    }

    /// The noise to make on the device, if any.
    pub fn noise_on_device(&self) -> Option<Corruption> {
        self.noise.filter(|_| self.noise_on == NoisePlace::Device)
    }
}

impl fmt::Display for Techniques {
    /// The settings that differ from the reference protocol, e.g. `noise gaussian:0.3,
    /// loss bce`; `none` when there are none.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(noise) = self.noise {
            match self.noise_on {
                NoisePlace::Host => parts.push(format!("noise {noise}")),
                NoisePlace::Device => parts.push(format!("noise {noise} on the device")),
            }
        }
        if !self.augment.is_identity() {
            parts.push(format!("augment {}", self.augment));
        }
        if let Some(rule) = self.early_stop {
            parts.push(format!(
                "early-stop {} (min-delta {})",
                rule.patience, rule.min_delta
            ));
        }
        if self.loss != Loss::Mse {
            parts.push(format!("loss {}", self.loss));
        }
        if self.weight_decay > 0.0 {
            parts.push(format!("weight-decay {}", self.weight_decay));
        }
        if self.l1_code > 0.0 {
            parts.push(format!("l1-code {}", self.l1_code));
        }
        if self.kl_weight != KlWeight::default() {
            parts.push(format!("kl-weight {}", self.kl_weight.0));
        }
        match parts.is_empty() {
            true => write!(f, "none"),
            false => write!(f, "{}", parts.join(", ")),
        }
    }
}
