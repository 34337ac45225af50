//! The controller's vocabulary: the [`Msg`]s it takes (what the person does, and what
//! loads, the worker, the device and training frames report) and the [`Effect`]s it asks
//! `runtime` to perform.

use std::sync::Arc;

use crate::data::{Catalog, Corruption, Dataset, ImageSet, TrainTest};
use crate::metrics::Metrics;
use crate::model::{Model, ModelConfig, ModelKind};
use crate::training::{Progress, TrainConfig};
use crate::web::device::{Backend, BackendKind};
use crate::web::protocol::FromWorker;
use crate::weights::WeightsHeader;

/// Where a weights file came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsOrigin {
    /// The site's pretrained file; `quiet`: a missing file is not an error.
    Pretrained {
        url: String,
        quiet: bool,
    },
    Upload {
        name: String,
    },
    /// The entry an earlier visit kept in this browser.
    Kept {
        kind: ModelKind,
    },
}

/// What one page training frame did (see `page_run`).
#[derive(Debug)]
pub struct PageAdvance {
    pub id: u64,
    /// The run's position, or the error it stopped on.
    pub result: Result<Progress, String>,
    /// The trainer's current weights (inference form).
    pub model: Model,
    /// A CPU copy of the weights and the step it was made at (WebGPU only, when due).
    pub checkpoint: Option<(Model, usize)>,
}

/// The result of a backend switch.
#[derive(Debug)]
pub struct Switched {
    pub backend: Backend,
    pub model: Model,
}

/// Everything that happens to the page.
// Messages live for one `update` and are never stored in bulk: their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Msg {
    /// The site's dataset catalog (or why it could not be read).
    CatalogLoaded(Result<Catalog, String>),
    /// A person's own IDX files, parsed (or what is wrong with them).
    DataUploaded(Result<(Dataset, TrainTest), String>),
    DataLoaded {
        dataset: String,
        result: Result<TrainTest, String>,
    },
    /// A dataset's records of its pretrained weights (its weights manifest).
    RecordsLoaded {
        dataset: String,
        result: Result<Vec<super::Record>, String>,
    },
    /// A weights file, parsed on the CPU; `Ok(None)`: the site has no such file.
    WeightsLoaded {
        origin: WeightsOrigin,
        result: Result<Option<(Model, WeightsHeader)>, String>,
    },
    Worker(FromWorker),
    WorkerBroken(String),
    /// The browser lost the WebGPU device, or a read from it failed.
    DeviceLost(String),
    /// WebGPU started (it starts once per page).
    WebGpuStarted(Backend),
    BackendSwitched(Result<Box<Switched>, String>),
    /// An animation frame for page run `id`.
    Frame(u64),
    /// Page run `id` could not start.
    RunFailed {
        id: u64,
        message: String,
    },
    PageAdvanced(Box<PageAdvance>),
    Evaluating {
        done: usize,
        count: usize,
    },
    Evaluated(Result<Metrics, String>),
    /// An effect failed; the message goes to the status line.
    Failed(String),
    /// What an earlier visit kept in this browser, with why each damaged entry was thrown
    /// away (or why none could be read).
    KeptFound(Result<(Vec<super::Kept>, Vec<String>), String>),
    /// The browser refused to keep a run's weights.
    NotKept(String),
    // What the person does.
    ChooseDataset(String),
    ChooseModel(ModelKind),
    ChooseBackend(BackendKind),
    /// The settings form's batch size changed (to a whole number).
    ChooseBatchSize(usize),
    /// The techniques form's corruption changed (`None`: no noise, or not a valid one).
    ChooseNoise(Option<Corruption>),
    /// Start with the settings form's values (or what is wrong with them).
    Start(Result<TrainConfig, String>),
    TogglePause,
    /// Reset; the chart's x axis gets the settings form's epochs.
    Reset {
        epochs: usize,
    },
    /// Load the site's pretrained weights of the current model: the reference ones, or the
    /// named variant (e.g. a denoiser).
    LoadPretrained(Option<String>),
    Evaluate,
    Download,
    RestoreKept(ModelKind),
    ForgetKept,
}

/// What `runtime` does for the controller.
#[derive(Debug)]
pub enum Effect {
    LoadData(Dataset),
    /// The dataset's weights manifest (the records of its pretrained files).
    LoadRecords(Dataset),
    LoadWeights {
        url: String,
        kind: ModelKind,
        quiet: bool,
    },
    SpawnWorker,
    /// The training and test images, for the worker.
    SendWorkerData(TrainTest),
    StartWorkerRun {
        id: u64,
        backend: BackendKind,
        config: TrainConfig,
        validation_batch: usize,
        /// The dataset's id, for the weights the worker keeps in the browser.
        dataset: String,
        grid: Vec<u8>,
    },
    PauseWorker(u64),
    ResumeWorker(u64),
    StopWorker,
    /// The worker failed: it is terminated (later runs train on the page).
    CloseWorker,
    StartPageRun {
        id: u64,
        config: TrainConfig,
        validation_batch: usize,
        data: Arc<ImageSet>,
        backend: Backend,
    },
    /// Dispatch [`Msg::Frame`] at the next animation frame.
    NextFrame(u64),
    AdvancePageRun(u64),
    /// Go on with the page run on `backend` from `model` (the WebGPU device was lost).
    MovePageRun {
        backend: Backend,
        model: Model,
    },
    StopPageRun,
    /// One throwaway training step, so the browser compiles the code before a run needs it.
    WarmUp {
        kind: ModelKind,
        batch_size: usize,
        backend: Backend,
        images: Arc<ImageSet>,
    },
    /// The same in the training worker, on its WebGPU device.
    WarmUpWorker {
        kind: ModelKind,
        batch_size: usize,
    },
    /// Measure `model` on the first `count` test images on the page, corrupted by `noise`
    /// if any (the corruption the page shows).
    Evaluate {
        model: Model,
        backend: Backend,
        test: Arc<ImageSet>,
        count: usize,
        noise: Option<Corruption>,
    },
    /// The same, in the worker, on `backend`.
    EvaluateInWorker {
        backend: BackendKind,
        model: Model,
        config: ModelConfig,
        count: usize,
        noise: Option<Corruption>,
    },
    SwitchBackend {
        to: BackendKind,
        model: Model,
        webgpu: Option<Backend>,
    },
    Download {
        model: Model,
        header: WeightsHeader,
    },
    SuggestBatchSize(usize),
    /// Read what earlier visits kept in this browser (and discard damaged entries).
    ListKept,
    /// Keep `model` in this browser, in place of the entry of its kind (a page run's; the
    /// worker keeps its runs' itself).
    KeepWeights {
        model: Model,
        header: WeightsHeader,
    },
    /// Read the kept weights of a model, for [`Msg::WeightsLoaded`].
    ReadKept(ModelKind),
    ForgetKept(Vec<ModelKind>),
}
