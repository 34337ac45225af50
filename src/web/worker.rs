//! The training worker: CPU training off the page's main thread.
//!
//! A step of burn's CPU backend cannot be cut into pieces (a `deep` step at batch 100 takes
//! about 250 ms in wasm), so on the CPU the page trains in a Web Worker running the same
//! wasm module (`static/worker.js` starts it) and only draws what the worker reports. The
//! worker trains with the same engine call as the CLI and the page (`Trainer::advance`).
//! It measures models on the test set too, which takes as long as an epoch of `deep`.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{FromWorker, Role, ToWorker, envelope};
use super::run::MODEL_REFRESH_MS;
use crate::data::{IMAGE_PIXELS, ImageSet};
use crate::metrics::{Evaluation, Metrics};
use crate::model::{ModelConfig, read_values};
use crate::training::Trainer;

/// The worker trains this long between read-backs (and between looks at its messages).
const CHUNK_MS: f64 = 100.0;

/// Test images measured between looks at messages and reports of progress.
const EVALUATION_CHUNK: usize = 250;

thread_local! {
    static TRAINING: RefCell<Option<Arc<ImageSet>>> = const { RefCell::new(None) };
    static TEST: RefCell<Option<Arc<ImageSet>>> = const { RefCell::new(None) };
    /// The run the worker should train, and whether it is paused.
    static CONTROL: Cell<Option<(u64, bool)>> = const { Cell::new(None) };
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
    send(FromWorker::Ready);
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
            config,
            validation_batch,
            grid,
        } => {
            CONTROL.set(Some((id, false)));
            let Some(data) = TRAINING.with_borrow(Clone::clone) else {
                let message = "the worker has no training images".to_string();
                return send(FromWorker::Failed { id, message });
            };
            let labels = vec![0; grid.len() / IMAGE_PIXELS];
            let grid = ImageSet::new(grid, labels).expect("the protocol checked whole images");
            match Trainer::new(config, data, Device::flex()) {
                Ok(trainer) => {
                    let trainer = trainer.with_validation_batch(validation_batch);
                    wasm_bindgen_futures::spawn_local(train(id, trainer, grid));
                }
                Err(e) => send(FromWorker::Failed {
                    id,
                    message: e.to_string(),
                }),
            }
        }
        ToWorker::Pause { id } | ToWorker::Resume { id } => {
            if CONTROL.get().is_some_and(|(run, _)| run == id) {
                CONTROL.set(Some((id, matches!(message, ToWorker::Pause { .. }))));
            }
        }
        ToWorker::Stop => CONTROL.set(None),
        ToWorker::Evaluate {
            config,
            count,
            values,
        } => wasm_bindgen_futures::spawn_local(async move {
            send(FromWorker::Evaluated(evaluate(config, &values, count).await));
        }),
    }
}

/// The metrics of a `config` model with weights `values` on the first `count` test images,
/// measured a chunk at a time with progress reports (a run's messages get in between).
async fn evaluate(config: ModelConfig, values: &[f32], count: usize) -> Result<Metrics, String> {
    let test = TEST
        .with_borrow(Clone::clone)
        .ok_or("the worker has no test images")?;
    let device = Device::flex();
    let model = config
        .init(&device)
        .map_err(|e| e.to_string())?
        .with_values(values, &device)
        .ok_or(format!("{} weights of the wrong size", config.kind))?;
    let indices: Vec<usize> = (0..count.min(test.len())).collect();
    let mut evaluation = Evaluation::new(&model, &test, &indices);
    while !evaluation.is_finished() {
        send(FromWorker::Evaluating {
            done: evaluation.done(),
            count: evaluation.count(),
        });
        sleep(0).await;
        evaluation
            .measure(EVALUATION_CHUNK, &device)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(evaluation.metrics())
}

/// Trains run `id` in chunks of about [`CHUNK_MS`], reporting after each one, with the
/// weights and their reconstructions of `grid` now and then.
async fn train(id: u64, mut trainer: Trainer, grid: ImageSet) {
    let mut last_weights = f64::MIN;
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
            .advance(|_| js_sys::Date::now() - start < CHUNK_MS)
            .await;
        let progress = trainer.progress();
        // As often as the page shows them (`deep`'s weights are 11 MB a message), and after
        // each epoch and at the end.
        let weights_due = !matches!(result, Ok(None))
            || progress.finished
            || js_sys::Date::now() - last_weights >= MODEL_REFRESH_MS;
        if weights_due {
            last_weights = js_sys::Date::now();
            // Before the report they belong to: the page shows them when it reads it.
            if let Some(weights) = weights(id, &trainer, &grid).await {
                send(weights);
            }
        }
        if let Err(error) = result {
            let message = error.to_string();
            return send(FromWorker::Failed { id, message });
        }
        send(FromWorker::Progress { id, progress });
        if trainer.is_finished() {
            return;
        }
    }
}

/// The trainer's weights and their reconstructions of the grid's digits.
async fn weights(id: u64, trainer: &Trainer, grid: &ImageSet) -> Option<FromWorker> {
    let model = trainer.model().valid();
    let values = model.values().await.ok()?;
    let indices: Vec<usize> = (0..grid.len()).collect();
    let output = model.forward(grid.batch(&indices, &Device::flex()));
    let reconstructions = read_values(output).await.ok()?;
    Some(FromWorker::Weights {
        id,
        values,
        reconstructions,
    })
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
