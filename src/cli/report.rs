//! What the CLI prints: a run's summary (aligned text, or one JSON line with `--json`) on
//! stdout, and training progress on stderr.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::model::ModelKind;
use crate::training::techniques::Techniques;
use crate::training::{EpochRecord, Trainer};

/// The JSON summary of a run (the last line of stdout with `--json`).
#[derive(Debug, Serialize)]
pub(super) struct Summary {
    pub(super) model: ModelKind,
    /// The size of the model's code.
    pub(super) code_size: usize,
    /// The dataset trained or evaluated on.
    pub(super) dataset: String,
    pub(super) epochs: usize,
    pub(super) batch_size: Option<usize>,
    pub(super) learning_rate: Option<f64>,
    pub(super) seed: Option<u64>,
    pub(super) train_images: Option<usize>,
    pub(super) train_mse: Option<f64>,
    pub(super) val_mse: Option<f64>,
    pub(super) test_mse: f64,
    pub(super) psnr_db: f64,
    pub(super) ssim: f64,
    pub(super) l2_per_image: f64,
    pub(super) test_images: usize,
    pub(super) images_per_sec: Option<f64>,
    pub(super) seconds: f64,
    /// Where it ran: `cpu (burn-flex)`, or `wgpu (` the adapter `)`.
    pub(super) backend: String,
    pub(super) weights: String,
    pub(super) history: Vec<EpochRecord>,
    /// What the run added to the reference protocol (absent for the protocol itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) techniques: Option<Techniques>,
    /// How the test images were changed before the model saw them, if they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) test_changes: Option<String>,
    /// The corrupted inputs' PSNR and SSIM against the clean images: what the model
    /// started from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) noisy_psnr_db: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) noisy_ssim: Option<f64>,
    /// Code units (channels for the conv models) that are zero for every test image.
    pub(super) dead_code_units: usize,
    /// With early stopping: the epoch whose weights were kept, and whether it stopped early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) best_epoch: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) stopped_early: Option<bool>,
}

pub(super) fn print_summary(summary: &Summary, json: bool) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string(summary).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("model          {}", summary.model);
    println!("dataset        {}", summary.dataset);
    println!("epochs         {}", summary.epochs);
    if let (Some(train), Some(val)) = (summary.train_mse, summary.val_mse) {
        println!("train MSE      {train:.5}");
        println!("val MSE        {val:.5}");
    }
    println!(
        "test MSE       {:.5}  ({} images)",
        summary.test_mse, summary.test_images
    );
    if let Some(changes) = &summary.test_changes {
        println!("test images    changed: {changes}");
    }
    println!("PSNR           {:.2} dB", summary.psnr_db);
    println!("SSIM           {:.4}", summary.ssim);
    if let (Some(psnr), Some(ssim)) = (summary.noisy_psnr_db, summary.noisy_ssim) {
        println!(
            "noisy input    PSNR {psnr:.2} dB, SSIM {ssim:.4} (the model gained {:.2} dB)",
            summary.psnr_db - psnr
        );
    }
    if let Some(best) = summary.best_epoch {
        let why = match summary.stopped_early {
            Some(true) => "stopped early: no better validation MSE within the patience",
            _ => "ran every epoch; kept the best",
        };
        println!("best epoch     {best} ({why})");
    }
    println!("L2 / image     {:.3}", summary.l2_per_image);
    println!(
        "dead code      {} units (zero on every test image)",
        summary.dead_code_units
    );
    if let Some(rate) = summary.images_per_sec {
        println!(
            "speed          {rate:.0} images/s ({:.1} s)",
            summary.seconds
        );
    }
    println!("device         {}", summary.backend);
    println!("weights        {}", summary.weights);
    Ok(())
}

/// Progress on stderr: a bar on a terminal, one line per epoch otherwise.
pub(super) struct ProgressDisplay {
    bar: Option<ProgressBar>,
}

impl ProgressDisplay {
    pub(super) fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(1000);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} [{elapsed} < {eta}]")
                    .expect("valid template"),
            );
            bar
        });
        Self { bar }
    }

    pub(super) fn update(&self, trainer: &Trainer, record: Option<EpochRecord>, seconds: f64) {
        let epochs = trainer.config().epochs;
        let rate = trainer.images_seen() as f64 / seconds;
        if let Some(bar) = &self.bar {
            bar.set_position((trainer.fraction() * 1000.0) as u64);
            bar.set_message(format!(
                "epoch {}/{epochs} loss {:.5} {rate:.0} img/s",
                (trainer.epoch() + 1).min(epochs),
                trainer.train_loss().unwrap_or(f64::NAN)
            ));
        }
        if let Some(r) = record {
            let line = format!(
                "epoch {}/{epochs}  train MSE {:.5}  val MSE {:.5}  {rate:.0} images/s",
                r.epoch, r.train_mse, r.val_mse
            );
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
