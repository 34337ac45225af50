//! The training worker: training off the page's main thread, on the CPU or on a WebGPU
//! device of its own.
//!
//! A step of burn's CPU backend cannot be cut into pieces (a `deep` step at batch 100 takes
//! about 250 ms in wasm), and on WebGPU burn compiles its kernels and enqueues each step on
//! the thread that runs it; so the page trains in a Web Worker running the same wasm module
//! (`static/worker.js` starts it) and only draws what the worker reports. The worker trains
//! with the same engine call as the CLI and the page (`Trainer::advance`). It measures
//! models on the test set too, which takes as long as an epoch of `deep`. If its WebGPU
//! device is lost, a run goes on on the CPU from the last weights it sent.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::device::BackendKind;
use super::protocol::{FromWorker, HEARTBEAT_MS, Role, ToWorker, envelope};
use super::run::MODEL_REFRESH_MS;
use super::webgpu;
use crate::data::{Corruption, IMAGE_PIXELS, ImageSet, Perturbation};
use crate::metrics::{Evaluation, Metrics};
use crate::model::{ModelConfig, read_values};
use crate::training::{self, TrainError, Trainer};
use crate::weights::WeightsHeader;

/// The worker trains this long between read-backs (and between looks at its messages).
const CHUNK_MS: f64 = 100.0;

/// Test images measured between looks at messages and reports of progress.
const EVALUATION_CHUNK: usize = 250;

/// On WebGPU, the length of a training cycle (enqueue, GPU work, read-back) to aim for.
const GPU_CYCLE_MS: f64 = 200.0;

thread_local! {
    static TRAINING: RefCell<Option<Arc<ImageSet>>> = const { RefCell::new(None) };
    static TEST: RefCell<Option<Arc<ImageSet>>> = const { RefCell::new(None) };
    /// The run the worker should train, and whether it is paused.
    static CONTROL: Cell<Option<(u64, bool)>> = const { Cell::new(None) };
    /// The worker's WebGPU device, until lost.
    static GPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    /// Why the WebGPU device was lost, once the browser said so.
    static GPU_LOST: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Warm-ups asked for and runs started, counted: a warm-up that a newer one or a run has
    /// made useless before it began is skipped.
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
}

/// Counts a warm-up or a run; returns its number.
fn next_request() -> u64 {
    REQUESTS.with(|count| {
        count.set(count.get() + 1);
        count.get()
    })
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn send(message: FromWorker) {
    let (envelope, transfer) = envelope::encode(message);
    // Fails only when the page is gone.
    let _ = scope().post_message_with_transfer(&envelope, &transfer);
}

/// The worker's entry point (called by `static/worker.js` once the module is loaded).
#[wasm_bindgen(js_name = trainingWorker)]
pub fn training_worker() {
    console_error_panic_hook::set_once();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        match envelope::decode::<ToWorker>(&event.data()) {
            Ok(message) => handle(message),
            Err(message) => send(FromWorker::Refused { message }),
        }
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    wasm_bindgen_futures::spawn_local(async {
        let webgpu = match webgpu::start(on_gpu_lost).await {
            Ok(gpu) => {
                GPU.set(Some(gpu.device));
                Ok(gpu.label)
            }
            Err(reason) => Err(reason),
        };
        send(FromWorker::Ready { webgpu });
        // The heartbeat, between (never during) the worker's own tasks.
        loop {
            sleep(HEARTBEAT_MS).await;
            send(alive());
        }
    });
}

fn alive() -> FromWorker {
    FromWorker::Alive {
        memory_bytes: super::memory_bytes(),
    }
}

fn on_gpu_lost(reason: String) {
    GPU.set(None);
    GPU_LOST.set(Some(reason));
}

/// The device for `backend`: the worker's WebGPU device, or burn's CPU backend.
fn device(backend: BackendKind) -> Result<Device, String> {
    match backend {
        BackendKind::Cpu => Ok(Device::flex()),
        BackendKind::WebGpu => GPU
            .with_borrow(Clone::clone)
            .ok_or_else(|| "the training worker has no WebGPU device".to_string()),
    }
}

fn handle(message: ToWorker) {
    match message {
        ToWorker::Data {
            role,
            pixels,
            labels,
        } => {
            // The protocol checked the sizes; the page checked the images when it parsed them.
            let data = ImageSet::new(pixels, labels).ok().map(Arc::new);
            let slot = match role {
                Role::Training => &TRAINING,
                Role::Test => &TEST,
            };
            slot.set(data);
        }
        ToWorker::Start {
            id,
            backend,
            config,
            validation_batch,
            dataset,
            grid,
        } => {
            next_request();
            CONTROL.set(Some((id, false)));
            let Some(data) = TRAINING.with_borrow(Clone::clone) else {
                let message = "the worker has no training images".to_string();
                return send(FromWorker::Failed { id, message });
            };
            let labels = vec![0; grid.len() / IMAGE_PIXELS];
            let grid = ImageSet::new(grid, labels).expect("the protocol checked whole images");
            let trainer = device(backend)
                .and_then(|device| Trainer::new(config, data, device).map_err(|e| e.to_string()));
            match trainer {
                Ok(trainer) => {
                    let trainer = trainer.with_validation_batch(validation_batch);
                    let on_gpu = backend == BackendKind::WebGpu;
                    let run = train(id, trainer, grid, dataset, on_gpu);
                    wasm_bindgen_futures::spawn_local(run);
                }
                Err(message) => send(FromWorker::Failed { id, message }),
            }
        }
        ToWorker::Pause { id } | ToWorker::Resume { id } => {
            if CONTROL.get().is_some_and(|(run, _)| run == id) {
                CONTROL.set(Some((id, matches!(message, ToWorker::Pause { .. }))));
            }
        }
        ToWorker::Stop => CONTROL.set(None),
        ToWorker::WarmUp { kind, batch_size } => {
            if let (Ok(device), Some(data)) = (
                device(BackendKind::WebGpu),
                TRAINING.with_borrow(Clone::clone),
            ) {
                let request = next_request();
                wasm_bindgen_futures::spawn_local(async move {
                    // Messages already queued (another model chosen, Start) come first.
                    sleep(0).await;
                    if REQUESTS.get() == request {
                        training::warm_up(kind, batch_size, &data, device).await;
                    }
                });
            }
        }
        ToWorker::Evaluate {
            backend,
            config,
            count,
            noise,
            values,
        } => wasm_bindgen_futures::spawn_local(async move {
            let result = match device(backend) {
                Ok(device) => evaluate(config, &values, count, noise, &device).await,
                Err(message) => Err(message),
            };
            send(FromWorker::Evaluated(result));
        }),
    }
}

/// The metrics of a `config` model with weights `values` on the first `count` test images,
/// measured on `device` a chunk at a time with progress reports (a run's messages get in
/// between).
async fn evaluate(
    config: ModelConfig,
    values: &[f32],
    count: usize,
    noise: Option<Corruption>,
    device: &Device,
) -> Result<Metrics, String> {
    let test = TEST
        .with_borrow(Clone::clone)
        .ok_or("the worker has no test images")?;
    let model = config
        .init(device)
        .map_err(|e| e.to_string())?
        .with_values(values, device)
        .ok_or(format!("{} weights of the wrong size", config.kind))?;
    let indices: Vec<usize> = (0..count.min(test.len())).collect();
    let mut evaluation = Evaluation::new(&model, &test, &indices);
    if let Some(noise) = noise {
        evaluation = evaluation.with_perturbation(Perturbation::test_noise(noise));
    }
    while !evaluation.is_finished() {
        send(FromWorker::Evaluating {
            done: evaluation.done(),
            count: evaluation.count(),
        });
        sleep(0).await;
        evaluation
            .measure(EVALUATION_CHUNK, device)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(evaluation.metrics())
}

/// Trains run `id` in chunks (on the CPU about [`CHUNK_MS`] long; on WebGPU as many steps as
/// keep a cycle near [`GPU_CYCLE_MS`]), reporting after each one, with the weights and their
/// reconstructions of `grid` now and then.
async fn train(id: u64, mut trainer: Trainer, grid: ImageSet, dataset: String, mut on_gpu: bool) {
    let mut last_weights = f64::MIN;
    // The weights last sent and their step: where a run goes on if the GPU device is lost.
    let mut last_sent: Option<(Vec<f32>, usize)> = None;
    let mut gpu_steps = 1;
    loop {
        sleep(0).await;
        match CONTROL.get() {
            Some((run, false)) if run == id => {}
            Some((run, true)) if run == id => {
                sleep(50).await;
                continue;
            }
            _ => return,
        }
        let start = js_sys::Date::now();
        let result = trainer
            .advance(|steps| match on_gpu {
                true => steps < gpu_steps,
                false => js_sys::Date::now() - start < CHUNK_MS,
            })
            .await;
        if on_gpu {
            let lost = GPU_LOST.with_borrow(Clone::clone);
            if let Some(reason) = lost.or_else(|| match &result {
                Err(TrainError::Device(error)) => Some(error.to_string()),
                _ => None,
            }) {
                on_gpu = false;
                go_on_on_the_cpu(&mut trainer, last_sent.as_ref(), reason);
                continue;
            }
            gpu_steps = adapt_gpu_steps(gpu_steps, js_sys::Date::now() - start);
        }
        let progress = trainer.progress();
        // As often as the page shows them (`deep`'s weights are 11 MB a message), and after
        // each epoch and at the end.
        let weights_due = !matches!(result, Ok(None))
            || progress.finished
            || js_sys::Date::now() - last_weights >= MODEL_REFRESH_MS;
        if weights_due {
            last_weights = js_sys::Date::now();
            // Before the report they belong to: the page shows them when it reads it.
            if let Some((values, reconstructions)) = weights(&trainer, &grid).await {
                last_sent = Some((values.clone(), progress.step));
                send(FromWorker::Weights {
                    id,
                    values,
                    reconstructions,
                });
            }
        }
        if let Err(error) = result {
            let message = error.to_string();
            return send(FromWorker::Failed { id, message });
        }
        if let Ok(Some(_)) = result
            && let Err(reason) = keep(&trainer, &dataset).await
        {
            send(FromWorker::NotKept { reason });
        }
        // The memory first: the page reads it when the progress arrives.
        send(alive());
        send(FromWorker::Progress { id, progress });
        if trainer.is_finished() {
            return;
        }
    }
}

/// Doubles the steps per cycle while a cycle is short, halves them when it is long: a
/// read-back costs a fixed wait besides the steps' GPU time.
fn adapt_gpu_steps(steps: usize, cycle_ms: f64) -> usize {
    if cycle_ms < GPU_CYCLE_MS / 2.0 {
        (steps * 2).min(256)
    } else if cycle_ms > GPU_CYCLE_MS * 2.0 {
        (steps / 2).max(1)
    } else {
        steps
    }
}

/// Moves the run to the CPU, from the weights last sent (fresh ones if none were), and
/// tells the page.
fn go_on_on_the_cpu(trainer: &mut Trainer, last_sent: Option<&(Vec<f32>, usize)>, reason: String) {
    let cpu = Device::flex();
    let config = trainer.config().model;
    let fresh = config.init(&cpu).expect("a running model's config is valid");
    let (model, step) = match last_sent {
        Some((values, step)) => (fresh.clone().with_values(values, &cpu).unwrap_or(fresh), Some(*step)),
        None => (fresh, None),
    };
    trainer.continue_on(cpu, model);
    send(FromWorker::GpuLost { reason, step });
}

/// The trainer's weights and their reconstructions of the grid's digits (on the CPU: a
/// few images).
async fn weights(trainer: &Trainer, grid: &ImageSet) -> Option<(Vec<f32>, Vec<f32>)> {
    let model = trainer.model().valid();
    let values = model.values().await.ok()?;
    let cpu = Device::flex();
    let model = model.with_values(&values, &cpu)?;
    let indices: Vec<usize> = (0..grid.len()).collect();
    let output = model.forward(grid.batch(&indices, &cpu));
    let reconstructions = read_values(output).await.ok()?;
    Some((values, reconstructions))
}

/// Keeps the trainer's weights in the browser, as trained on `dataset` for the epochs done.
async fn keep(trainer: &Trainer, dataset: &str) -> Result<(), String> {
    let header = WeightsHeader {
        model: trainer.config().model,
        epochs: trainer.progress().history.len(),
        precision: Default::default(),
        dataset: dataset.into(),
    };
    super::kept_weights::keep(&trainer.model().valid(), &header).await
}

/// Resolves after `ms` milliseconds, in a new task (so messages get in).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
