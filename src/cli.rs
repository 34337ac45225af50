//! The native command line: `mnist-ae train`, `eval`, `bench`, `convert`, `latent` (a
//! model's code space), and `sample` / `plot` for the README's figures.
//!
//! `train`, `eval` and `bench` take `--device cpu|wgpu` ([`device`]): the CPU (burn-flex, the
//! default) or the GPU through burn's wgpu runtime (Vulkan, Metal, DX12), which the CLI starts
//! itself and refuses in one line, naming the cause, when the machine has no adapter.
//! `bench` ([`bench`]) prints training and inference images/s per model and batch size as
//! JSON lines, the native counterpart of the browser benchmark.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use clap::{Args, Parser, Subcommand};

use crate::data::{Catalog, Dataset, Perturbation, TrainTest};
use crate::metrics::{self, Evaluation, Metrics};
use crate::model::{Model, ModelConfig, ModelKind};
use crate::training::{EpochRecord, TrainConfig, TrainError, Trainer};
use crate::weights::{self, Precision, WeightsHeader};

pub mod bench;
pub mod device;
mod latent;
mod manifold;
mod report;
mod techniques;

use device::DeviceArgs;
use report::{ProgressDisplay, Summary, print_summary};
use techniques::{TechniqueArgs, TestChangeArgs};

/// Training batches between loss read-backs: each one updates the progress display and
/// checks for divergence.
const READ_BACK_EVERY: usize = 100;

/// Train and evaluate MNIST autoencoders.
#[derive(Parser, Debug)]
#[command(name = "mnist-ae", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model with the reference protocol, evaluate it on the test set and save it.
    Train(TrainArgs),
    /// Evaluate saved weights on the dataset's test set.
    Eval(EvalArgs),
    /// Training and inference images/s per model and batch size, as JSON lines.
    Bench(bench::BenchArgs),
    /// Rewrite a weights file in another precision (f16 halves the size).
    Convert(ConvertArgs),
    /// PNG of a test image of each class (top row) and each model's reconstructions (one row each).
    Sample(SampleArgs),
    /// PNG of the train/validation curves from `train --json` reports or weights/manifest.json.
    Plot(PlotArgs),
    /// Where a model puts the test digits in its code space: a 2-D map (PNG), how much of the
    /// codes' variance it shows and how well codes and map keep the classes apart (k-NN).
    Latent(latent::LatentArgs),
    /// PNG of the decodes of a grid of codes: a VAE's prior, or the plane of a model's codes.
    Manifold(manifold::ManifoldArgs),
}

#[derive(Args, Debug)]
struct SampleArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Directory holding <model>.bin for each model, the VAE where present (default: the
    /// dataset's weights).
    #[arg(long, conflicts_with = "weights")]
    weights_dir: Option<PathBuf>,
    /// Instead of every model: one row per weights file, in order (each file's header
    /// names its model), e.g. one model trained with different losses.
    #[arg(long, num_args = 1..)]
    weights: Vec<PathBuf>,
    /// Where to write the PNG.
    #[arg(long)]
    out: PathBuf,
}

/// Which dataset, and where its files are.
#[derive(Args, Debug)]
struct DataArgs {
    /// Dataset id from static/datasets.json (default: the first there, mnist).
    #[arg(long)]
    dataset: Option<String>,
    /// Directory with the dataset's four IDX files (default: static/<the dataset's dir>).
    #[arg(long)]
    data: Option<PathBuf>,
}

impl DataArgs {
    fn dataset(&self) -> Result<&'static Dataset, String> {
        let catalog = Catalog::builtin();
        match &self.dataset {
            Some(id) => catalog.get(id).map_err(|e| e.to_string()),
            None => Ok(catalog.default_dataset()),
        }
    }

    fn load(&self, dataset: &Dataset) -> Result<TrainTest, String> {
        let dir = match &self.data {
            Some(dir) => dir.clone(),
            None => Path::new("static").join(&dataset.dir),
        };
        TrainTest::load_dir(dataset, &dir).map_err(|e| e.to_string())
    }
}

#[derive(Args, Debug)]
struct PlotArgs {
    /// Where to write the PNG.
    #[arg(long)]
    out: PathBuf,
    /// JSON reports written by `mnist-ae train --json`, or a weights manifest.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// Only these models' runs, comma-separated (e.g. the autoencoders, whose training
    /// loss is the MSE the axis shows; the VAE's is BCE plus its KL term).
    #[arg(long, value_delimiter = ',', value_parser = parse_model)]
    models: Vec<ModelKind>,
}

#[derive(Args, Debug)]
struct ConvertArgs {
    /// Weights file to read.
    #[arg(long)]
    weights: PathBuf,
    /// Where to write the converted file.
    #[arg(long)]
    out: PathBuf,
    /// Storage precision of the output.
    #[arg(long, value_parser = parse_precision)]
    precision: Precision,
}

fn parse_precision(name: &str) -> Result<Precision, String> {
    match name {
        "f32" => Ok(Precision::F32),
        "f16" => Ok(Precision::F16),
        other => Err(format!("unknown precision '{other}' (expected f32 or f16)")),
    }
}

#[derive(Args, Debug)]
struct Common {
    /// Which model: ffnn, conv-transpose, upsample, deep or vae.
    #[arg(long, value_parser = parse_model)]
    model: ModelKind,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    common: Common,
    /// Number of epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Batch size (default: 20, or 100 for deep).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Size of the code (default: the reference architecture's, 32 for ffnn, 4 for deep,
    /// 196 = 4 × 7 × 7 for the conv models, whose codes are multiples of 49); e.g. 2 for a
    /// code that can be drawn as it is.
    #[arg(long)]
    code_size: Option<usize>,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the split, the initial weights and the shuffles.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train on only this many images (validation shrinks in proportion).
    #[arg(long)]
    limit: Option<usize>,
    /// Where to write the weights (default: runs/<model>.bin).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Storage precision of the weights file: f32 or f16.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    precision: Precision,
    #[command(flatten)]
    techniques: TechniqueArgs,
}

#[derive(Args, Debug)]
struct EvalArgs {
    #[command(flatten)]
    common: Common,
    /// Weights file written by `mnist-ae train`.
    #[arg(long)]
    weights: PathBuf,
    /// Measure only the first N test images.
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    changes: TestChangeArgs,
}

fn parse_model(name: &str) -> Result<ModelKind, String> {
    name.parse()
        .map_err(|e: crate::model::ModelError| e.to_string())
}

/// Runs the command line; the error is a one-line message for stderr.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
        Command::Bench(args) => bench::bench(args),
        Command::Convert(args) => convert(args),
        Command::Sample(args) => sample(args),
        Command::Plot(args) => plot(args),
        Command::Latent(args) => latent::latent(args),
        Command::Manifold(args) => manifold::manifold(args),
    }
}

fn train(args: TrainArgs) -> Result<(), String> {
    let kind = args.common.model;
    let mut config = TrainConfig::new(kind);
    config.epochs = args.epochs;
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.model.code_size = args.code_size.unwrap_or(config.model.code_size);
    config.learning_rate = args.lr;
    config.seed = args.seed;
    config.train_limit = args.limit;
    config.techniques = args.techniques.techniques(kind)?;
    config.validate().map_err(|e| e.to_string())?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("runs/{kind}.bin")));
    let opened = device::open(args.common.device.device)?;
    let device = opened.device.clone();
    let dataset = args.common.data.dataset()?;
    let sets = args.common.data.load(dataset)?;

    let mut trainer = Trainer::new(config.clone(), sets.train.clone(), device.clone())
        .map_err(|e| e.to_string())?;
    let train_images = trainer.split().train.len();
    let display = ProgressDisplay::new();
    let started = Instant::now();
    let result = pollster::block_on(async {
        while !trainer.is_finished() {
            let record = trainer.advance(|batches| batches < READ_BACK_EVERY).await?;
            display.update(&trainer, record, started.elapsed().as_secs_f64());
        }
        Ok::<(), TrainError>(())
    });
    display.finish();
    let train_seconds = started.elapsed().as_secs_f64();
    // On divergence the trainer already restored the last good weights: save those too.
    let epochs_done = trainer.history().len();
    let bytes = weights::to_bytes(
        trainer.model(),
        &WeightsHeader {
            model: config.model,
            epochs: epochs_done,
            precision: args.precision,
            dataset: dataset.id.clone(),
        },
    )
    .map_err(|e| e.to_string())?;
    write_file(&out, &bytes)?;
    result.map_err(|e| format!("{e} (weights saved to {})", out.display()))?;

    // A denoiser is measured on the test set corrupted as it was trained (fixed seed).
    let noise = config.techniques.noise;
    let perturbation = noise.map(Perturbation::test_noise);
    let test = test_metrics(trainer.model(), &sets, None, perturbation, &device)?;
    let dead = dead_units(trainer.model(), config.model, &sets, &device)?;
    let last = trainer.history().last();
    let progress = trainer.progress();
    let summary = Summary {
        model: kind,
        code_size: config.model.code_size,
        dataset: dataset.id.clone(),
        epochs: epochs_done,
        batch_size: Some(config.batch_size),
        learning_rate: Some(config.learning_rate),
        seed: Some(config.seed),
        train_images: Some(train_images),
        train_mse: last.map(|r| r.train_mse),
        val_mse: last.map(|r| r.val_mse),
        test_mse: test.mse,
        psnr_db: test.psnr_db,
        ssim: test.ssim,
        l2_per_image: test.l2_per_image,
        test_images: test.images,
        images_per_sec: Some(trainer.images_seen() as f64 / train_seconds),
        seconds: train_seconds,
        backend: opened.label(),
        weights: out.display().to_string(),
        history: trainer.history().to_vec(),
        techniques: (config.techniques != Default::default()).then(|| config.techniques.clone()),
        test_changes: noise.map(|n| format!("noise {n}")),
        noisy_psnr_db: test.input_psnr_db,
        noisy_ssim: test.input_ssim,
        dead_code_units: dead,
        best_epoch: progress.best_epoch,
        stopped_early: config.techniques.early_stop.map(|_| progress.stopped_early),
    };
    print_summary(&summary, args.common.json)
}

/// What `eval` and `latent` start from: a device, a dataset's sets and weights for it.
struct Loaded {
    opened: device::Opened,
    dataset: &'static Dataset,
    sets: TrainTest,
    model: Model,
    header: WeightsHeader,
}

impl Loaded {
    fn new(common: &Common, weights: &Path) -> Result<Self, String> {
        let opened = device::open(common.device.device)?;
        let dataset = common.data.dataset()?;
        let (model, header) = load_weights(weights, common.model, dataset, &opened.device)?;
        let sets = common.data.load(dataset)?;
        Ok(Self {
            opened,
            dataset,
            sets,
            model,
            header,
        })
    }
}

fn eval(args: EvalArgs) -> Result<(), String> {
    let Loaded {
        opened,
        dataset,
        sets,
        model,
        header,
    } = Loaded::new(&args.common, &args.weights)?;
    let device = opened.device.clone();
    let started = Instant::now();
    let test = test_metrics(
        &model,
        &sets,
        args.limit,
        args.changes.perturbation(),
        &device,
    )?;
    let dead = dead_units(&model, header.model, &sets, &device)?;
    let summary = Summary {
        model: header.model.kind,
        code_size: header.model.code_size,
        dataset: dataset.id.clone(),
        epochs: header.epochs,
        batch_size: None,
        learning_rate: None,
        seed: None,
        train_images: None,
        train_mse: None,
        val_mse: None,
        test_mse: test.mse,
        psnr_db: test.psnr_db,
        ssim: test.ssim,
        l2_per_image: test.l2_per_image,
        test_images: test.images,
        images_per_sec: None,
        seconds: started.elapsed().as_secs_f64(),
        backend: opened.label(),
        weights: args.weights.display().to_string(),
        history: Vec::new(),
        techniques: None,
        test_changes: args.changes.describe(),
        noisy_psnr_db: test.input_psnr_db,
        noisy_ssim: test.input_ssim,
        dead_code_units: dead,
        best_epoch: None,
        stopped_early: None,
    };
    print_summary(&summary, args.common.json)
}

fn convert(args: ConvertArgs) -> Result<(), String> {
    let bytes = std::fs::read(&args.weights)
        .map_err(|e| format!("cannot read {}: {e}", args.weights.display()))?;
    let (model, mut header) = weights::from_bytes(&bytes, &Device::flex())
        .map_err(|e| format!("{}: {e}", args.weights.display()))?;
    header.precision = args.precision;
    let out = weights::to_bytes(&model, &header).map_err(|e| e.to_string())?;
    write_file(&args.out, &out)?;
    println!(
        "{} → {} ({} → {} bytes)",
        args.weights.display(),
        args.out.display(),
        bytes.len(),
        out.len()
    );
    Ok(())
}

fn sample(args: SampleArgs) -> Result<(), String> {
    let dataset = args.data.dataset()?;
    let sets = args.data.load(dataset)?;
    let device = Device::flex();
    let mut models = Vec::new();
    let mut rows = Vec::new();
    if args.weights.is_empty() {
        for kind in ModelKind::ALL {
            let path = match &args.weights_dir {
                Some(dir) => dir.join(format!("{kind}.bin")),
                None => PathBuf::from(dataset.weights_file(kind.name())),
            };
            if kind == ModelKind::Vae && !path.exists() {
                continue; // not shipped for every dataset
            }
            models.push(load_weights(&path, kind, dataset, &device)?.0);
            rows.push(kind.name().to_string());
        }
    }
    for path in &args.weights {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (model, header) =
            weights::from_bytes(&bytes, &device).map_err(|e| format!("{}: {e}", path.display()))?;
        models.push(model);
        rows.push(format!("{} ({})", path.display(), header.model.kind));
    }
    crate::figures::reconstruction_grid(&sets.test, &models, 3, &args.out)?;
    println!(
        "wrote {} (rows: test images, then {})",
        args.out.display(),
        rows.join(", ")
    );
    Ok(())
}

fn plot(args: PlotArgs) -> Result<(), String> {
    let mut runs = Vec::new();
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let not_json = |e| format!("{}: not a JSON report or manifest ({e})", path.display());
        // A manifest holds one report-like entry per model; a report is the last line of `train --json`.
        let entries = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(manifest) if manifest["models"].is_array() => {
                manifest["models"].as_array().cloned().unwrap_or_default()
            }
            _ => vec![
                serde_json::from_str(text.lines().last().unwrap_or_default()).map_err(not_json)?,
            ],
        };
        for entry in entries {
            let history: Vec<EpochRecord> = serde_json::from_value(entry["history"].clone())
                .map_err(|e| format!("{}: no per-epoch history ({e})", path.display()))?;
            let name = entry["model"].as_str().unwrap_or("?").to_string();
            let wanted =
                args.models.is_empty() || args.models.iter().any(|kind| kind.name() == name);
            if wanted {
                runs.push((name, history));
            }
        }
    }
    if runs.is_empty() {
        return Err("no runs of the models asked for in those reports".into());
    }
    crate::figures::training_curves(&runs, &args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The test figures, on the test set changed by `perturbation` if given (with, when it
/// corrupts the inputs, the corrupted inputs' own PSNR and SSIM).
fn test_metrics(
    model: &Model,
    sets: &TrainTest,
    limit: Option<usize>,
    perturbation: Option<Perturbation>,
    device: &Device,
) -> Result<Metrics, String> {
    let count = limit.unwrap_or(usize::MAX).min(sets.test.len());
    let indices: Vec<usize> = (0..count).collect();
    let mut evaluation = Evaluation::new(model, &sets.test, &indices);
    if let Some(perturbation) = perturbation {
        evaluation = evaluation.with_perturbation(perturbation);
    }
    pollster::block_on(async {
        while !evaluation.is_finished() {
            evaluation.measure(500, device).await?;
        }
        Ok::<_, crate::model::ReadError>(())
    })
    .map_err(|e| format!("evaluation failed: {e}"))?;
    Ok(evaluation.metrics())
}

/// The code units (channels for the conv models) dead on the whole test set.
fn dead_units(
    model: &Model,
    config: ModelConfig,
    sets: &TrainTest,
    device: &Device,
) -> Result<usize, String> {
    let indices: Vec<usize> = (0..sets.test.len()).collect();
    pollster::block_on(metrics::dead_code_units(
        model, config, &sets.test, &indices, device,
    ))
    .map_err(|e| format!("evaluation failed: {e}"))
}

/// Reads a weights file made for `kind`; the error names the file. Weights trained on
/// another dataset than `dataset` still load (with a warning): trying a model on data it
/// has not seen is a fair experiment.
fn load_weights(
    path: &Path,
    kind: ModelKind,
    dataset: &Dataset,
    device: &Device,
) -> Result<(Model, WeightsHeader), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (model, header) = weights::from_bytes_for(&bytes, kind, device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if header.dataset != dataset.id {
        eprintln!(
            "warning: {} was trained on {}, not {}",
            path.display(),
            header.dataset,
            dataset.id
        );
    }
    Ok((model, header))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
