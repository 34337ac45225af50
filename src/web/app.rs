//! The page's controller, in the style of Elm: all of the lab's state in one [`App`], one
//! [`Msg`] for everything that happens (user actions, loads, worker and device events,
//! training frames) and one [`App::update`] that changes the state and returns the
//! [`Effect`]s to perform. Nothing here touches the DOM or awaits: `runtime` performs the
//! effects and feeds their results back as messages, and each view redraws when a part of
//! the state it shows has changed ([`Changes`]). So every transition is unit-tested natively.

use std::collections::HashSet;
use std::ops::{BitOr, BitOrAssign};

use serde::Serialize;

use super::device::{self, Backend, BackendKind, DeviceState};
use super::run::{Engine, LossCurves, RunState};
use crate::data::perturbation::TEST_SEED;
use crate::data::{Catalog, Corruption, Dataset, ImageSet, TrainTest};
use crate::metrics::Metrics;
use crate::model::{Model, ModelConfig, ModelKind};
use crate::weights::WeightsHeader;

/// Test digits per class in the reconstruction grid (2 rows of 0–9).
pub const GRID_PER_CLASS: usize = 2;

/// The status line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "lowercase")]
pub enum Status {
    Info(String),
    Warning(String),
    Error(String),
}

/// Parts of the state that views draw from; `update` records which ones it changed.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Changes(u16);

impl Changes {
    pub const MODEL: Self = Self(1);
    pub const DATA: Self = Self(2);
    /// An epoch ended or the curves were cleared.
    pub const CURVES: Self = Self(4);
    /// A new point on the per-step loss curve only.
    pub const STEP_CURVE: Self = Self(8);
    pub const METRICS: Self = Self(16);
    /// The sketch pad's ink (changed by the pad, outside the controller).
    pub const SKETCH: Self = Self(32);
    /// The corruption the grid and the sketch pad show.
    pub const NOISE: Self = Self(64);
    /// The two test digits to interpolate between (picked on the grid, outside the
    /// controller).
    pub const PICKS: Self = Self(128);
    /// "Generate" was pressed (outside the controller).
    pub const GENERATE: Self = Self(256);
    /// The latent map's layout controls changed (outside the controller).
    pub const LATENT: Self = Self(512);
    /// The models kept in memory beside the shown one changed.
    pub const SHELF: Self = Self(1024);
    /// The weights an earlier visit kept in this browser, offered for restoring, changed.
    pub const KEPT: Self = Self(2048);

    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for Changes {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl BitOrAssign for Changes {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

/// Where the shown model's weights come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    Fresh,
    Loaded {
        source: String,
        epochs: usize,
        dataset: String,
    },
    /// A run is training it.
    Training {
        epochs: usize,
    },
    Trained {
        epochs: usize,
    },
}

impl Origin {
    /// Where the weights came from, in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Fresh => "fresh".into(),
            Self::Loaded { source, epochs, .. } => format!("{source}, {epochs} epochs"),
            Self::Training { epochs } | Self::Trained { epochs } => {
                format!("{epochs} epochs trained here")
            }
        }
    }

    pub fn epochs(&self) -> usize {
        match self {
            Self::Fresh => 0,
            Self::Loaded { epochs, .. } | Self::Training { epochs } | Self::Trained { epochs } => {
                *epochs
            }
        }
    }
}

/// The model the grid, the sketch pad and downloads use (inference form).
#[derive(Clone, Debug)]
pub struct Shown {
    pub model: Model,
    pub config: ModelConfig,
    pub origin: Origin,
    /// The training worker's reconstructions of the grid's digits by this model, if sent.
    pub grid_reconstructions: Option<Vec<f32>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerState {
    Starting,
    Ready,
    Broken { reason: String },
}

/// A loaded dataset and the test digits the grid shows.
#[derive(Clone, Debug)]
pub struct LoadedData {
    pub sets: TrainTest,
    pub grid: Vec<usize>,
}

impl LoadedData {
    /// The grid's digits, N×784 pixels.
    pub fn grid_pixels(&self) -> Vec<u8> {
        self.grid
            .iter()
            .flat_map(|&i| self.sets.test.image(i).to_vec())
            .collect()
    }

    /// What the model is given for the grid's digits: them, corrupted by `noise` if any
    /// (seeded per test image by the test seed: the digits every measurement corrupts so).
    pub fn grid_inputs(&self, noise: Option<Corruption>) -> Vec<u8> {
        let mut pixels = self.grid_pixels();
        if let Some(noise) = noise {
            noise
                .corrupter()
                .apply_seeded(&mut pixels, &self.grid, TEST_SEED);
        }
        pixels
    }
}

#[derive(Clone, Debug)]
pub enum DataState {
    Loading,
    Loaded(LoadedData),
    Failed(String),
}

/// All of the page's state.
pub struct App {
    pub backend: Backend,
    pub device: DeviceState,
    /// The WebGPU backend once started (burn's wgpu runtime starts once per page), until lost.
    pub webgpu: Option<Backend>,
    pub worker: WorkerState,
    /// The training worker's own WebGPU adapter, once it said it has one (until lost).
    pub worker_webgpu: Option<String>,
    /// The worker's wasm memory in bytes, as last reported.
    pub worker_memory: Option<usize>,
    /// When the worker last said anything (it says it is alive every second).
    worker_heard_at: Option<f64>,
    worker_spawned: bool,
    pub catalog: Catalog,
    pub dataset: Dataset,
    pub data: DataState,
    /// The dataset shown before the one now loading: it comes back if that one fails.
    previous_data: Option<(Dataset, LoadedData)>,
    pub model: Shown,
    /// The other models' last weights this session, one per kind (trained or loaded; fresh
    /// ones are not kept): choosing a model again brings its weights back, and the
    /// comparison runs them all.
    pub shelf: Vec<Shown>,
    /// The weights an earlier visit kept in this browser, offered until restored or
    /// forgotten.
    pub kept: Vec<Kept>,
    pub run: RunState,
    pub curves: LossCurves,
    /// The x extent of the loss chart.
    pub chart_epochs: usize,
    pub metrics: Option<(ModelKind, Metrics)>,
    /// The dataset's pretrained weights' records (from its manifest), shown with them.
    pub records: Vec<Record>,
    /// The corruption the grid and the sketch pad show: the techniques form's denoising
    /// setting, or the running denoiser's.
    pub noise: Option<Corruption>,
    pub evaluating: Option<Evaluator>,
    /// The model a measurement under way measures (another may be shown when it ends).
    measuring: Option<ModelKind>,
    pub status: Status,
    /// While the page works on WebGPU: a CPU copy of the weights, which a lost device
    /// cannot take away.
    pub cpu_copy: Option<device::Checkpoint>,
    /// The settings form's batch size: what the next run most likely uses, so what the
    /// warm-ups compile for.
    pub batch_size: usize,
    /// Model kinds whose training step already ran once on a backend, on the page or in
    /// the worker, and at which batch size (see [`Effect::WarmUp`]).
    warmed: HashSet<(ModelKind, BackendKind, Engine, usize)>,
    next_run: u64,
    changes: Changes,
}

/// How long a ready worker may say nothing before the page takes it as gone (it says it is
/// alive every second, and a step of its, which cannot be interrupted, takes well under one).
pub const WORKER_SILENCE_MS: f64 = 15_000.0;

/// The largest batch size the settings form takes.
pub const MAX_BATCH_SIZE: usize = 1000;

/// Validation batches a page frame can afford (the page reads back once per frame).
fn validation_batch(batch_size: usize) -> usize {
    (batch_size * 2).clamp(16, 64)
}

/// Two test digits of each class, in class order; row-major, one of each digit per row.
fn grid_indices(test: &ImageSet) -> Vec<usize> {
    let mut picked = Vec::new();
    for digit in 0..10u8 {
        picked.extend(
            (0..test.len())
                .filter(|&i| test.label(i) == digit)
                .take(GRID_PER_CLASS),
        );
    }
    (0..GRID_PER_CLASS)
        .flat_map(|row| (0..10).map(move |digit| digit * GRID_PER_CLASS + row))
        .filter_map(|slot| picked.get(slot).copied())
        .collect()
}

impl App {
    /// The page as it starts: a fresh `kind` model on `backend`, the built-in catalog's
    /// default dataset, nothing loaded yet.
    pub fn new(backend: Backend, device: DeviceState, catalog: Catalog, kind: ModelKind) -> Self {
        let config = ModelConfig::new(kind);
        let model = config
            .init(&backend.device)
            .expect("reference configs are valid");
        Self {
            webgpu: (backend.kind == BackendKind::WebGpu).then(|| backend.clone()),
            backend,
            device,
            worker: WorkerState::Starting,
            worker_webgpu: None,
            worker_memory: None,
            worker_heard_at: None,
            worker_spawned: false,
            dataset: catalog.default_dataset().clone(),
            catalog,
            data: DataState::Loading,
            previous_data: None,
            model: Shown {
                model,
                config,
                origin: Origin::Fresh,
                grid_reconstructions: None,
            },
            shelf: Vec::new(),
            kept: Vec::new(),
            run: RunState::Idle,
            curves: LossCurves::default(),
            chart_epochs: 20,
            metrics: None,
            records: Vec::new(),
            noise: None,
            evaluating: None,
            measuring: None,
            status: Status::Info("starting…".into()),
            cpu_copy: None,
            batch_size: kind.default_batch_size(),
            warmed: HashSet::new(),
            next_run: 1,
            changes: Changes::default(),
        }
    }

    /// What changed since the last call (for the views).
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    pub fn loaded(&self) -> Option<&LoadedData> {
        match &self.data {
            DataState::Loaded(data) => Some(data),
            _ => None,
        }
    }

    /// Changes the state for `msg` (at time `now`, in ms) and says what to do.
    pub fn update(&mut self, msg: Msg, now: f64) -> Vec<Effect> {
        match msg {
            Msg::CatalogLoaded(result) => self.on_catalog(result),
            Msg::DataLoaded { dataset, result } => self.on_data(&dataset, result),
            Msg::DataUploaded(result) => self.on_upload(result),
            Msg::WeightsLoaded { origin, result } => self.on_weights(origin, result),
            Msg::RecordsLoaded { dataset, result } => self.on_records(&dataset, result),
            Msg::Worker(message) => {
                self.worker_heard_at = Some(now);
                self.on_worker(message, now)
            }
            Msg::WorkerBroken(reason) => self.on_worker_broken(reason, now),
            Msg::DeviceLost(reason) => self.on_device_lost(reason),
            Msg::WebGpuStarted(backend) => {
                self.webgpu = Some(backend);
                Vec::new()
            }
            Msg::BackendSwitched(result) => self.on_switched(result),
            Msg::Frame(id) => self.on_frame(id),
            Msg::RunFailed { id, message } => match self.run.get_mut(id) {
                Some(_) => self.finish(now, Some(message)),
                None => Vec::new(),
            },
            Msg::PageAdvanced(advance) => self.on_page_advance(*advance, now),
            Msg::Evaluating { done, count } => self.on_evaluating(done, count),
            Msg::Evaluated(result) => self.on_evaluated(result),
            Msg::Failed(message) => self.error(message),
            Msg::ChooseDataset(id) => self.choose_dataset(&id),
            Msg::ChooseModel(kind) => self.choose_model(kind),
            Msg::ChooseBackend(kind) => self.choose_backend(kind),
            Msg::ChooseBatchSize(size) => self.choose_batch_size(size),
            Msg::ChooseNoise(noise) => self.choose_noise(noise),
            Msg::Start(settings) => self.start(settings, now),
            Msg::TogglePause => self.toggle_pause(now),
            Msg::Reset { epochs } => self.reset(epochs),
            Msg::LoadPretrained(None) => vec![self.load_pretrained(false)],
            Msg::LoadPretrained(Some(name)) => self.load_variant(&name),
            Msg::Evaluate => self.evaluate(None).into_iter().collect(),
            Msg::Download => vec![Effect::Download {
                model: self.model.model.clone(),
                header: self.shown_header(),
            }],
            Msg::KeptFound(found) => self.on_kept_found(found),
            Msg::NotKept(reason) => self.on_not_kept(reason),
            Msg::RestoreKept(kind) => self.restore_kept(kind),
            Msg::ForgetKept => self.forget_kept(),
        }
    }

    /// The header of a weights file of the shown model.
    fn shown_header(&self) -> WeightsHeader {
        WeightsHeader {
            model: self.model.config,
            epochs: self.model.origin.epochs(),
            precision: Default::default(),
            dataset: self.dataset.id.clone(),
        }
    }

    // ------------------------------------------------------------ model and status

    /// Makes `model` the one every view shows; the views that show it redraw.
    fn set_model(&mut self, model: Model, origin: Origin) {
        self.model.model = model;
        self.model.origin = origin;
        self.model.grid_reconstructions = None;
        self.changes |= Changes::MODEL;
    }

    fn error(&mut self, message: String) -> Vec<Effect> {
        self.status = Status::Error(message);
        Vec::new()
    }

    /// A fresh model of `kind` on the current backend.
    fn fresh_model(&mut self, kind: ModelKind) {
        let config = ModelConfig::new(kind);
        let model = config
            .init(&self.backend.device)
            .expect("reference configs are valid");
        self.model.config = config;
        self.set_model(model, Origin::Fresh);
        self.cpu_copy = None;
    }

    fn load_pretrained(&self, quiet: bool) -> Effect {
        let kind = self.model.config.kind;
        Effect::LoadWeights {
            url: self.dataset.weights_file(kind.name()),
            kind,
            quiet,
        }
    }

    /// The current dataset's pretrained variant `name` of the current model.
    fn load_variant(&mut self, name: &str) -> Vec<Effect> {
        let kind = self.model.config.kind;
        let variant = self
            .dataset
            .variants
            .iter()
            .find(|v| v.name == name && v.model == kind.name());
        match variant {
            Some(variant) => vec![Effect::LoadWeights {
                url: variant.file.clone(),
                kind,
                quiet: false,
            }],
            None => self.error(format!(
                "no pretrained '{name}' weights for {kind} on this site"
            )),
        }
    }

    /// Whether the training worker, once ready, has said nothing for [`WORKER_SILENCE_MS`]
    /// (it crashed, or was closed): the runtime then reports it broken.
    pub fn worker_silent(&self, now: f64) -> bool {
        self.worker == WorkerState::Ready
            && self
                .worker_heard_at
                .is_some_and(|heard| now - heard > WORKER_SILENCE_MS)
    }

    /// Whether the training worker takes runs on `backend`: it is up, and on WebGPU it
    /// has a WebGPU device of its own.
    fn worker_trains_on(&self, backend: BackendKind) -> bool {
        self.worker == WorkerState::Ready
            && (backend == BackendKind::Cpu || self.worker_webgpu.is_some())
    }

    /// The one-off warm-up of the selected model on this backend, when one is due, where
    /// its runs will train: in the worker when it takes them (only on WebGPU: CPU code needs
    /// no kernels), on the page otherwise, and nowhere while the worker is still starting.
    /// On WebGPU it runs at the form's batch size (burn compiles kernels per shape); on the
    /// CPU, where it compiles the wasm code alone, a batch of 2 keeps it short.
    fn warm_up(&mut self) -> Option<Effect> {
        let images = self.loaded()?.sets.test.clone();
        let (kind, backend) = (self.model.config.kind, self.backend.kind);
        if self.worker == WorkerState::Starting {
            return None;
        }
        let batch_size = match backend {
            BackendKind::WebGpu => self.batch_size,
            BackendKind::Cpu => 2,
        };
        if self.worker_trains_on(backend) {
            let due = backend == BackendKind::WebGpu
                && self
                    .warmed
                    .insert((kind, backend, Engine::Worker, batch_size));
            return due.then_some(Effect::WarmUpWorker { kind, batch_size });
        }
        if !self
            .warmed
            .insert((kind, backend, Engine::Page, batch_size))
        {
            return None;
        }
        Some(Effect::WarmUp {
            kind,
            batch_size,
            backend: self.backend.clone(),
            images,
        })
    }

    /// The form's batch size changed: runs will likely use it, so warm up for it.
    fn choose_batch_size(&mut self, size: usize) -> Vec<Effect> {
        if self.run.is_active() || !(1..=MAX_BATCH_SIZE).contains(&size) {
            return Vec::new();
        }
        self.batch_size = size;
        self.warm_up().into_iter().collect()
    }

    /// Shows `noise` in the grid and the sketch pad (not while a run trains: its own
    /// corruption is shown then).
    fn choose_noise(&mut self, noise: Option<Corruption>) -> Vec<Effect> {
        if self.run.is_active() || noise == self.noise {
            return Vec::new();
        }
        self.noise = noise;
        // The worker's reconstructions were of other inputs: the grid computes its own.
        self.model.grid_reconstructions = None;
        self.changes |= Changes::NOISE;
        Vec::new()
    }
}

mod devices;
mod kept;
mod loading;
mod measuring;
mod messages;
mod records;
mod training;

pub use kept::Kept;
pub use measuring::Evaluator;
pub use messages::{Effect, Msg, PageAdvance, Switched, WeightsOrigin};
pub use records::Record;
#[cfg(target_family = "wasm")]
pub use records::parse as parse_records;

#[cfg(all(test, not(target_family = "wasm")))]
mod tests;
