//! `mnist-ae bench`: training and inference speed on this machine, the native counterpart of
//! the browser benchmark (`scripts/bench.sh`), one JSON object per line on stdout.
//!
//! Each model × batch size trains with the engine the page uses ([`Trainer::advance`]) on
//! 2,048 MNIST training images: the split of `train --limit 2048`, as the page's benchmark
//! sets its training size, so each epoch ends with the page's validation pass over 512
//! images (timed with the rest). The first step is timed apart (it compiles kernels on a GPU);
//! then a window of `--seconds`, with one loss read-back at its end (and at each epoch's
//! end, where the engine reads the epoch's losses). Inference: the trained model
//! reconstructs batches of the same size from the same images, each output read back before
//! the next batch, its first batch timed apart too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::module::Module;
use clap::Args;
use serde::Serialize;

use super::device::{self, DeviceArgs};
use super::techniques::TechniqueArgs;
use super::{DataArgs, parse_model};
use crate::model::{ModelKind, read_values};
use crate::training::{TrainConfig, Trainer};

/// Training images per measurement, as in the browser benchmark.
pub const TRAIN_IMAGES: usize = 2048;

#[derive(Args, Debug)]
pub(super) struct BenchArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// Models to time, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_model,
          default_value = "ffnn,conv-transpose,upsample,deep")]
    models: Vec<ModelKind>,
    /// Batch sizes, comma-separated (default: the model's reference size, 20 or 100 for
    /// deep, then 256 and 1024).
    #[arg(long, value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    /// Length of each timing window (training, then inference), in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Seed of the split and the initial weights.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Techniques to time with the training (their cost shows against a plain run).
    #[command(flatten)]
    techniques: TechniqueArgs,
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Measurement {
    device: &'static str,
    adapter: String,
    model: ModelKind,
    batch: usize,
    /// The techniques timed with training, e.g. `noise gaussian:0.3` (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    techniques: Option<String>,
    train_images: usize,
    train_images_per_sec: f64,
    inference_images_per_sec: f64,
    /// The first training step and its read-back, timed apart: it compiles kernels.
    first_step_ms: f64,
    /// Training steps in the window, and its length up to the last read-back.
    steps: usize,
    seconds: f64,
    inference_first_batch_ms: f64,
    inference_batches: usize,
    inference_seconds: f64,
}

pub(super) fn bench(args: BenchArgs) -> Result<(), String> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err("--seconds must be a positive number".into());
    }
    if args.batch_sizes.contains(&0) {
        return Err("invalid settings: batch size must be at least 1".into());
    }
    let opened = device::open(args.device.device)?;
    let dataset = args.data.dataset()?;
    let train = args.data.load(dataset)?.train;
    let window = Duration::from_secs_f64(args.seconds);
    for &kind in &args.models {
        let techniques = args.techniques.techniques(kind)?;
        let batches = if args.batch_sizes.is_empty() {
            vec![kind.default_batch_size(), 256, 1024]
        } else {
            args.batch_sizes.clone()
        };
        for batch in batches {
            let mut config = TrainConfig::new(kind);
            config.batch_size = batch;
            config.seed = args.seed;
            config.train_limit = Some(TRAIN_IMAGES);
            config.epochs = 1_000_000; // the window ends first
            config.techniques = techniques.clone();
            let measurement = measure(config, &train, &opened, window)
                .map_err(|e| format!("{kind}, batch {batch}: {e}"))?;
            println!(
                "{}",
                serde_json::to_string(&measurement).map_err(|e| e.to_string())?
            );
        }
    }
    Ok(())
}

fn measure(
    config: TrainConfig,
    data: &Arc<crate::data::ImageSet>,
    opened: &device::Opened,
    window: Duration,
) -> Result<Measurement, String> {
    let (kind, batch) = (config.model.kind, config.batch_size);
    let mut trainer =
        Trainer::new(config, data.clone(), opened.device.clone()).map_err(|e| e.to_string())?;
    let train_images = trainer.split().train.len();
    pollster::block_on(async {
        let started = Instant::now();
        trainer.advance(|_| false).await?;
        let first_step = started.elapsed();
        let (steps, images) = (trainer.global_step(), trainer.images_seen());
        let started = Instant::now();
        while started.elapsed() < window {
            trainer.advance(|_| started.elapsed() < window).await?;
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let steps = trainer.global_step() - steps;
        let images = trainer.images_seen() - images;

        let model = trainer.model().valid();
        let order = &trainer.split().train;
        let reconstruct = async |first: usize| {
            let indices: Vec<usize> = (first..first + batch)
                .map(|i| order[i % order.len()])
                .collect();
            let output = model.forward(data.batch(&indices, &opened.device));
            read_values(output).await.map(|_| ())
        };
        let started = Instant::now();
        reconstruct(0).await?;
        let inference_first = started.elapsed();
        let started = Instant::now();
        let mut inference_batches = 0;
        while started.elapsed() < window {
            reconstruct((inference_batches + 1) * batch).await?;
            inference_batches += 1;
        }
        let inference_seconds = started.elapsed().as_secs_f64();
        Ok::<_, Box<dyn std::error::Error>>(Measurement {
            device: opened.kind.name(),
            adapter: opened.adapter.clone(),
            model: kind,
            batch,
            techniques: (trainer.config().techniques != Default::default())
                .then(|| trainer.config().techniques.to_string()),
            train_images,
            train_images_per_sec: images as f64 / train_seconds,
            inference_images_per_sec: (inference_batches * batch) as f64 / inference_seconds,
            first_step_ms: first_step.as_secs_f64() * 1000.0,
            steps,
            seconds: train_seconds,
            inference_first_batch_ms: inference_first.as_secs_f64() * 1000.0,
            inference_batches,
            inference_seconds,
        })
    })
    .map_err(|e| e.to_string())
}
