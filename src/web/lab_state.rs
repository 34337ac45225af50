//! The page's state as plain data for scripts and tests (`window.wasmBindings.labState()`):
//! tests read state, not status prose.

use serde::Serialize;

use super::app::{App, DataState, Kept, Origin, Status, WorkerState};
use super::device::{CopyOf, DeviceState};
use super::run::RunState;
use crate::model::ModelKind;

#[derive(Serialize)]
pub struct LabState {
    backend: &'static str,
    adapter: String,
    /// "webgpu", "cpu" or "lost".
    device: &'static str,
    /// After a device loss: the weights the page went on from.
    went_on_from: Option<CopyOf>,
    /// "starting", "ready" or "broken".
    worker: &'static str,
    /// The training worker's own WebGPU adapter, if it has one.
    worker_webgpu: Option<String>,
    dataset: String,
    data_loaded: bool,
    /// Why the dataset could not be loaded.
    data_error: Option<String>,
    model: ModelKind,
    code_size: usize,
    origin: Origin,
    epochs_trained: usize,
    /// "idle", "training", "paused", "done" or "error".
    run: &'static str,
    training: bool,
    /// The run's training step, as last reported (0 before a run).
    step: usize,
    status: Status,
    train_curve: Vec<(f64, f64)>,
    validation_curve: Vec<(f64, f64)>,
    /// The page's and the worker's wasm memory, in bytes (the worker's as last reported).
    page_memory_bytes: usize,
    worker_memory_bytes: Option<usize>,
    /// The weights an earlier visit kept in this browser, as offered.
    kept: Vec<Kept>,
}

pub fn of(app: &App) -> LabState {
    let (device, went_on_from) = match &app.device {
        DeviceState::WebGpu => ("webgpu", None),
        DeviceState::Cpu { .. } => ("cpu", None),
        DeviceState::Lost { went_on_from, .. } => ("lost", *went_on_from),
    };
    LabState {
        backend: app.backend.kind.name(),
        adapter: app.backend.label.clone(),
        device,
        went_on_from,
        worker: match app.worker {
            WorkerState::Starting => "starting",
            WorkerState::Ready => "ready",
            WorkerState::Broken { .. } => "broken",
        },
        worker_webgpu: app.worker_webgpu.clone(),
        dataset: app.dataset.id.clone(),
        data_loaded: matches!(app.data, DataState::Loaded(_)),
        data_error: match &app.data {
            DataState::Failed(message) => Some(message.clone()),
            _ => None,
        },
        model: app.model.config.kind,
        code_size: app.model.config.code_size,
        origin: app.model.origin.clone(),
        epochs_trained: app.model.origin.epochs(),
        run: app.run.name(),
        training: app.run.is_active(),
        step: match &app.run {
            RunState::Idle => 0,
            RunState::Running(run) | RunState::Paused(run) => {
                run.latest.as_ref().map_or(0, |p| p.step)
            }
            RunState::Finished(ended) => ended.progress.step,
        },
        status: app.status.clone(),
        train_curve: app.curves.train.clone(),
        validation_curve: app.curves.validation.clone(),
        page_memory_bytes: super::memory_bytes(),
        worker_memory_bytes: app.worker_memory,
        kept: app.kept.clone(),
    }
}
