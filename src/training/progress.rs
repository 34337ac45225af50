//! Where a run is and its losses, as plain data: what the CLI prints and the page draws.

use serde::{Deserialize, Serialize};

/// Losses of one finished epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_mse: f64,
    pub val_mse: f64,
}

/// A run's position and losses as plain data, for a page showing a run that trains
/// elsewhere (the browser's training worker).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    /// Finished epochs, and the run's length.
    pub epoch: usize,
    pub epochs: usize,
    /// Fraction of the whole run done, in [0, 1].
    pub fraction: f64,
    pub images_seen: usize,
    pub train_images: usize,
    pub steps_per_epoch: usize,
    pub train_loss: Option<f64>,
    pub history: Vec<EpochRecord>,
    pub finished: bool,
    /// With early stopping: the epoch whose weights the run keeps, and whether it ended
    /// before its last epoch.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    #[serde(default)]
    pub stopped_early: bool,
}

/// Where the trainer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Running training batch `cursor` of the epoch.
    Train,
    /// Running validation batches at the end of the epoch.
    Validate,
    /// All epochs done (or stopped after divergence).
    Finished,
}
