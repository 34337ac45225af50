//! What a training run is given (the reference protocol by default), and why it can fail.

use serde::{Deserialize, Serialize};

use super::loss::Loss;
use super::techniques::{KlWeight, Techniques};
use crate::model::{ModelConfig, ModelError, ModelKind, ReadError};

/// Hyper-parameters of a training run (defaults: the reference protocol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Seeds the split, the initial weights and the per-epoch shuffles.
    pub seed: u64,
    /// Use only this many training images (validation shrinks in proportion).
    pub train_limit: Option<usize>,
    /// What the run adds to the reference protocol (nothing by default).
    #[serde(default)]
    pub techniques: Techniques,
}

impl TrainConfig {
    /// The reference protocol for `kind`: 20 epochs, Adam 1e-3, batch 20 (`deep`: 100), seed 42,
    /// MSE (the VAE: BCE, its ELBO's reconstruction term).
    pub fn new(kind: ModelKind) -> Self {
        Self {
            model: ModelConfig::new(kind),
            epochs: 20,
            batch_size: kind.default_batch_size(),
            learning_rate: 1e-3,
            seed: 42,
            train_limit: None,
            techniques: Techniques {
                loss: Loss::default_for(kind),
                ..Techniques::default()
            },
        }
    }

    /// Checks every field is usable.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        let bad = |what: &str| Err(TrainError::Config(what.to_string()));
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch size must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning rate must be a positive number");
        }
        if self.train_limit == Some(0) {
            return bad("the training set needs at least one image");
        }
        if self.model.kind != ModelKind::Vae && self.techniques.kl_weight != KlWeight::default() {
            return bad("the KL weight is a setting of the vae model only");
        }
        self.techniques.validate().map_err(TrainError::Config)
    }
}

/// Why training cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid settings: {0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(
        "training diverged at step {step} (loss became {loss}); the last good weights were kept — try a lower learning rate"
    )]
    Diverged { step: usize, loss: f32 },
    #[error(transparent)]
    Device(#[from] ReadError),
}
