//! Where the controller lives in the browser: [`dispatch`] runs `App::update` and performs
//! the effects it returns (fetches, the worker, the page engine, timers), whose results come
//! back as messages; after each change the page is rendered at the next animation frame.
//!
//! The app sits in a thread-local and no borrow of it is ever held across an `await`.

use std::cell::{Cell, RefCell};

use wasm_bindgen_futures::spawn_local;

use super::app::{App, Changes, Effect, Msg, Switched, WeightsOrigin};
use super::device::{self, Backend, BackendKind, DeviceState};
use super::protocol::ToWorker;
use super::views::{Latest, Views};
use super::{
    data_io, dom, evaluation, kept_weights, loader, page_run, ui, views, webgpu, weights_io,
    worker_client,
};
use crate::data::Catalog;
use crate::model::Model;
use crate::training::Trainer;
use crate::weights::WeightsHeader;

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
    static VIEWS: RefCell<Option<Views>> = const { RefCell::new(None) };
    static RENDER_PENDING: Cell<bool> = const { Cell::new(false) };
    /// Changes from outside the controller (the sketch pad's ink).
    static OUTSIDE_CHANGES: Cell<Changes> = Cell::new(Changes::default());
    /// The longest piece of the lab's main-thread work during the current run (an update
    /// with its effects, a render, a page frame's steps), in milliseconds.
    static LONGEST_FRAME_MS: Cell<f64> = const { Cell::new(0.0) };
    /// Weights being kept in the browser, one write at a time: epochs that end during a
    /// write leave only their newest weights to write next.
    static KEEPING: Latest<(Model, WeightsHeader)> = Latest::default();
}

/// Starts the lab: backend, controls, views, then the catalog, data and weights.
pub async fn start() {
    ui::show_starting();
    let (backend, device) = match webgpu::start(on_device_lost).await {
        Ok(gpu) => (gpu, DeviceState::WebGpu),
        Err(reason) => (
            device::cpu(),
            DeviceState::Cpu {
                unavailable: Some(reason),
            },
        ),
    };
    let app = App::new(
        backend,
        device,
        Catalog::builtin().clone(),
        ui::selected_kind(),
    );
    APP.replace(Some(app));
    VIEWS.replace(Some(views::all()));
    ui::wire(dispatch);
    views::install(mark_changed);
    request_render();
    spawn_local(watch_worker());
    let catalog = data_io::load_catalog().await;
    dispatch(Msg::CatalogLoaded(catalog));
}

/// Reports the training worker broken once it has been silent too long (see
/// `App::worker_silent`): a worker that crashed or was closed sends no error event.
async fn watch_worker() {
    const EVERY_MS: i32 = 1000;
    let mut last = dom::now();
    loop {
        dom::sleep(EVERY_MS).await;
        let now = dom::now();
        // A long gap means the page itself was asleep (a frozen tab): the worker's messages
        // queued meanwhile get a second to arrive before its silence counts.
        let awake = now - last < 3.0 * EVERY_MS as f64;
        last = now;
        if awake && with_app(|app| app.worker_silent(now)) == Some(true) {
            let seconds = crate::web::app::WORKER_SILENCE_MS / 1000.0;
            dispatch(Msg::WorkerBroken(format!("it said nothing for {seconds} s")));
        }
    }
}

fn on_device_lost(reason: String) {
    dispatch(Msg::DeviceLost(reason));
}

/// Reads the state (for scripts: `labState`).
pub fn with_app<R>(f: impl FnOnce(&App) -> R) -> Option<R> {
    APP.with_borrow(|app| app.as_ref().map(f))
}

/// Hands `msg` to the controller and performs what it asks for.
pub fn dispatch(msg: Msg) {
    let now = dom::now();
    let effects = APP.with_borrow_mut(|app| app.as_mut().map(|app| app.update(msg, now)));
    for effect in effects.unwrap_or_default() {
        perform(effect);
    }
    note_main_thread(dom::now() - now);
    request_render();
}

/// Keeps the longest main-thread piece while a run is active (`#progress[data-longest-frame-ms]`).
fn note_main_thread(ms: f64) {
    if with_app(|app| app.run.is_active()) == Some(true) {
        LONGEST_FRAME_MS.set(LONGEST_FRAME_MS.get().max(ms));
    }
}

/// Something outside the controller changed what a view shows.
fn mark_changed(changes: Changes) {
    OUTSIDE_CHANGES.set(OUTSIDE_CHANGES.get() | changes);
    request_render();
}

/// Renders at the next animation frame, in a task of its own (never lengthening the task
/// that asked), once however many changes come before it.
fn request_render() {
    if RENDER_PENDING.replace(true) {
        return;
    }
    spawn_local(async {
        dom::next_frame().await;
        dom::yield_task().await;
        RENDER_PENDING.set(false);
        let started = dom::now();
        let changes = APP.with_borrow_mut(|app| app.as_mut().map(App::take_changes));
        let changes = changes.unwrap_or_default() | OUTSIDE_CHANGES.take();
        APP.with_borrow(|app| {
            let Some(app) = app else { return };
            ui::render(app, LONGEST_FRAME_MS.get());
            VIEWS.with_borrow_mut(|views| {
                if let Some(views) = views {
                    views.render(app, changes);
                }
            });
        });
        note_main_thread(dom::now() - started);
    });
}

/// Performs `effect`: at once, or in a task of its own for those that wait.
fn perform(effect: Effect) {
    match effect {
        Effect::SpawnWorker => {
            if let Err(reason) = worker_client::spawn(dispatch) {
                let warning = format!("no training worker ({reason}): CPU runs train on the page");
                web_sys::console::warn_1(&warning.into());
                dispatch(Msg::WorkerBroken(reason));
            }
        }
        Effect::SendWorkerData(sets) => worker_client::send_data(sets),
        Effect::StartWorkerRun {
            id,
            backend,
            config,
            validation_batch,
            dataset,
            grid,
        } => {
            LONGEST_FRAME_MS.set(0.0);
            let start = ToWorker::Start {
                id,
                backend,
                config,
                validation_batch,
                dataset,
                grid,
            };
            worker_client::send(start);
        }
        Effect::PauseWorker(id) => worker_client::send(ToWorker::Pause { id }),
        Effect::ResumeWorker(id) => worker_client::send(ToWorker::Resume { id }),
        Effect::StopWorker => worker_client::send(ToWorker::Stop),
        Effect::CloseWorker => worker_client::close(),
        Effect::WarmUpWorker { kind, batch_size } => {
            worker_client::send(ToWorker::WarmUp { kind, batch_size })
        }
        Effect::StartPageRun {
            id,
            config,
            validation_batch,
            data,
            backend,
        } => {
            LONGEST_FRAME_MS.set(0.0);
            match Trainer::new(config, data, backend.device) {
                Ok(trainer) => {
                    let trainer = trainer.with_validation_batch(validation_batch);
                    page_run::start(id, trainer, backend.kind == BackendKind::WebGpu);
                }
                Err(e) => dispatch(Msg::RunFailed {
                    id,
                    message: e.to_string(),
                }),
            }
        }
        Effect::MovePageRun { backend, model } => page_run::move_to(backend.device, model),
        Effect::StopPageRun => page_run::stop(),
        Effect::SuggestBatchSize(size) => ui::set_batch_size(size),
        Effect::KeepWeights { model, header } => {
            KEEPING.with(|keeping| keeping.submit((model, header), keep_weights))
        }
        waits => spawn_local(perform_waiting(waits)),
    }
}

/// The effects that wait (fetches, frames, read-backs); their results come back as messages.
async fn perform_waiting(effect: Effect) {
    match effect {
        Effect::LoadData(dataset) => {
            let result = data_io::load(&dataset).await;
            let dataset = dataset.id;
            dispatch(Msg::DataLoaded { dataset, result });
        }
        Effect::LoadRecords(dataset) => {
            let url = format!("{}/manifest.json", dataset.weights_dir);
            let result = match loader::fetch_optional(&url).await {
                Ok(Some(bytes)) => crate::web::app::parse_records(&bytes),
                Ok(None) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
            let dataset = dataset.id;
            dispatch(Msg::RecordsLoaded { dataset, result });
        }
        Effect::LoadWeights { url, kind, quiet } => {
            let result = weights_io::fetch(&url, kind).await;
            let origin = WeightsOrigin::Pretrained { url, quiet };
            dispatch(Msg::WeightsLoaded { origin, result });
        }
        Effect::NextFrame(id) => {
            // Steps run in a task right after the frame, so the browser's rendering work and
            // ours never add up to one long task.
            dom::next_frame().await;
            dom::yield_task().await;
            dispatch(Msg::Frame(id));
        }
        Effect::AdvancePageRun(id) => {
            let Some(frame) = page_run::advance(id).await else {
                return;
            };
            note_main_thread(frame.busy_ms);
            if let Some(reason) = frame.device_failure {
                dispatch(Msg::DeviceLost(reason));
            }
            dispatch(Msg::PageAdvanced(Box::new(frame.advance)));
        }
        Effect::WarmUp {
            kind,
            batch_size,
            backend,
            images,
        } => page_run::warm_up(kind, batch_size, backend.device, images).await,
        Effect::Evaluate {
            model,
            backend,
            test,
            count,
            noise,
        } => {
            let result = evaluation::run(&model, &backend, &test, count, noise, dispatch).await;
            dispatch(Msg::Evaluated(result));
        }
        Effect::EvaluateInWorker {
            backend,
            model,
            config,
            count,
            noise,
        } => match model.values().await {
            Ok(values) => worker_client::send(ToWorker::Evaluate {
                backend,
                config,
                count,
                noise,
                values,
            }),
            Err(e) => dispatch(Msg::Evaluated(Err(e.to_string()))),
        },
        Effect::SwitchBackend { to, model, webgpu } => {
            let result = switch_backend(to, model, webgpu).await;
            dispatch(Msg::BackendSwitched(result));
        }
        Effect::Download { model, header } => {
            if let Err(message) = weights_io::download(&model, &header).await {
                dispatch(Msg::Failed(message));
            }
        }
        Effect::ListKept => dispatch(Msg::KeptFound(kept_weights::list().await)),
        Effect::ReadKept(kind) => {
            let result = kept_weights::read(kind).await;
            let origin = WeightsOrigin::Kept { kind };
            dispatch(Msg::WeightsLoaded { origin, result });
        }
        Effect::ForgetKept(kinds) => {
            if let Err(reason) = kept_weights::forget(&kinds).await {
                dispatch(Msg::Failed(format!(
                    "could not forget the weights kept in this browser: {reason}"
                )));
            }
        }
        immediate => perform(immediate),
    }
}

async fn keep_weights((model, header): (Model, WeightsHeader)) {
    if let Err(reason) = kept_weights::keep(&model, &header).await {
        dispatch(Msg::NotKept(reason));
    }
}

/// Moves `model` to the backend `to`, starting WebGPU first if it has not been yet.
async fn switch_backend(
    to: BackendKind,
    model: Model,
    webgpu: Option<Backend>,
) -> Result<Box<Switched>, String> {
    let backend = match (to, webgpu) {
        (BackendKind::Cpu, _) => device::cpu(),
        (BackendKind::WebGpu, Some(gpu)) => gpu,
        (BackendKind::WebGpu, None) => {
            let gpu = webgpu::start(on_device_lost).await?;
            dispatch(Msg::WebGpuStarted(gpu.clone()));
            gpu
        }
    };
    let model = model
        .copy_to(&backend.device)
        .await
        .map_err(|e| format!("could not move the model: {e}"))?;
    Ok(Box::new(Switched { backend, model }))
}
