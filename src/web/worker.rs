//! The training worker: CPU training off the page's main thread.
//!
//! A step of burn's CPU backend cannot be cut into pieces (a `deep` step at batch 100 takes
//! about 250 ms in wasm), so on the CPU the page trains in a Web Worker running the same
//! wasm module (`static/worker.js` starts it) and only draws what the worker reports. The
//! page's side ([`spawn`], [`start`], [`take_updates`], …) and the worker's side
//! ([`training_worker`]) talk in [`ToWorker`] / [`FromWorker`] messages
//! (serde-wasm-bindgen), with the bulk data (images, weights) as typed arrays beside them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;
use js_sys::{Array, Float32Array, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, ErrorEvent, Event, MessageEvent, Worker, WorkerOptions};

use crate::data::{IMAGE_PIXELS, ImageSet};
use crate::training::{Report, TrainConfig, Trainer, read_values};

/// The worker trains this long between read-backs (and between looks at its messages).
const CHUNK_MS: f64 = 100.0;
/// The worker sends the weights at least this often (and after each epoch and at the end).
const WEIGHTS_MS: f64 = 1000.0;

// Each message travels as `{ message, …typed arrays }`. (Externally tagged enums: with an
// internal tag, serde would buffer the fields and no longer read JS numbers as integers.)

#[derive(Serialize, Deserialize)]
enum ToWorker {
    /// The training images; `pixels` and `labels` travel beside it as `Uint8Array`s.
    Data,
    /// A run; the grid's digits (N×784 pixels) travel beside it as `grid`, a `Uint8Array`.
    Start {
        id: u64,
        config: TrainConfig,
    },
    Pause {
        id: u64,
    },
    Resume {
        id: u64,
    },
    Stop,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum FromWorker {
    Ready,
    /// After each read-back; with `weights`, the model's values (see `Model::values`) and
    /// its reconstructions of the grid's digits travel beside it as `Float32Array`s.
    Progress {
        id: u64,
        report: Report,
        weights: bool,
    },
    Failed {
        id: u64,
        message: String,
    },
}

/// What the page learns of its run from one worker message.
pub struct Update {
    pub report: Option<Report>,
    /// The model's values (`Model::values` order), when sent.
    pub weights: Option<Vec<f32>>,
    /// With the weights: their reconstructions of the grid's digits (N×784 in [0, 1]).
    pub reconstructions: Option<Vec<f32>>,
    /// The run stopped on this error.
    pub error: Option<String>,
}

// ---------------------------------------------------------------- the page's side

struct Client {
    worker: Worker,
    /// The training images, until the worker is ready to take them.
    pending_data: Option<Arc<ImageSet>>,
    ready: bool,
    /// The run the worker is training, and what it reported that the page has not taken.
    run: Option<u64>,
    inbox: VecDeque<Update>,
}

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Starts the worker (`worker.js` beside the page) and hands it `data` once it is up.
/// Without module workers or the wasm-bindgen glue's URL, the page simply has no worker.
pub fn spawn(data: Arc<ImageSet>) -> Result<(), String> {
    let glue = glue_url().ok_or("the page's wasm-bindgen glue was not found")?;
    let options = WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let worker = Worker::new_with_options("worker.js", &options)
        .map_err(|e| format!("cannot start worker.js: {e:?}"))?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        receive(event.data());
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // An `ErrorEvent` when the worker's code fails, a plain `Event` when worker.js or the
    // module cannot be loaded.
    let on_error = Closure::<dyn FnMut(Event)>::new(|event: Event| {
        let reason = event
            .dyn_ref::<ErrorEvent>()
            .map(|e| e.message())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "worker.js could not be loaded".into());
        fail_current(format!("the training worker stopped: {reason}"));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let start = js_sys::Object::new();
    Reflect::set(&start, &"glue".into(), &glue.into()).expect("plain object");
    Reflect::set(&start, &"module".into(), &wasm_bindgen::module()).expect("plain object");
    worker
        .post_message(&start)
        .map_err(|e| format!("cannot start the worker: {e:?}"))?;
    CLIENT.with(|client| {
        *client.borrow_mut() = Some(Client {
            worker,
            pending_data: Some(data),
            ready: false,
            run: None,
            inbox: VecDeque::new(),
        })
    });
    Ok(())
}

/// The URL of the wasm-bindgen glue module (trunk links it with `modulepreload`).
fn glue_url() -> Option<String> {
    let link = super::dom::document()
        .query_selector("link[rel=modulepreload]")
        .ok()??;
    Some(link.unchecked_into::<web_sys::HtmlLinkElement>().href())
}

/// Whether the worker is up and has the training images.
pub fn is_ready() -> bool {
    CLIENT.with(|client| client.borrow().as_ref().is_some_and(|c| c.ready))
}

/// Whether the worker is up or still starting (and has not failed).
pub fn is_coming() -> bool {
    CLIENT.with(|client| {
        client
            .borrow()
            .as_ref()
            .is_some_and(|c| c.ready || c.pending_data.is_some())
    })
}

/// Starts run `id` in the worker (fresh weights, seeded as on the page); it reports the
/// reconstructions of `grid_images` (N×784 pixels) with the weights.
pub fn start(id: u64, config: TrainConfig, grid_images: Vec<u8>) {
    with_client(|client| {
        client.run = Some(id);
        client.inbox.clear();
        let grid = [("grid", Uint8Array::from(grid_images.as_slice()).into())];
        post(&client.worker, &ToWorker::Start { id, config }, Some(&grid));
    });
}

pub fn pause(id: u64) {
    with_client(|client| post(&client.worker, &ToWorker::Pause { id }, None));
}

pub fn resume(id: u64) {
    with_client(|client| post(&client.worker, &ToWorker::Resume { id }, None));
}

/// Ends whatever run the worker has.
pub fn stop() {
    with_client(|client| {
        client.run = None;
        client.inbox.clear();
        post(&client.worker, &ToWorker::Stop, None);
    });
}

/// What the worker reported on run `id` since the last call, oldest first.
pub fn take_updates(id: u64) -> Vec<Update> {
    CLIENT.with(|client| match client.borrow_mut().as_mut() {
        Some(client) if client.run == Some(id) => client.inbox.drain(..).collect(),
        _ => Vec::new(),
    })
}

fn with_client(f: impl FnOnce(&mut Client)) {
    CLIENT.with(|client| {
        if let Some(client) = client.borrow_mut().as_mut() {
            f(client)
        }
    })
}

fn receive(envelope: JsValue) {
    let Ok(typed) = read::<FromWorker>(&envelope) else {
        return fail_current("the training worker sent an unreadable message".into());
    };
    with_client(|client| match typed {
        FromWorker::Ready => {
            client.ready = true;
            if let Some(data) = client.pending_data.take() {
                let pixels = Uint8Array::from(data.pixels());
                let labels = Uint8Array::from(data.labels());
                let extra = [("pixels", pixels.into()), ("labels", labels.into())];
                post(&client.worker, &ToWorker::Data, Some(&extra));
            }
        }
        FromWorker::Progress {
            id,
            report,
            weights,
        } if client.run == Some(id) => {
            let floats = |name: &str| {
                Reflect::get(&envelope, &name.into())
                    .ok()
                    .filter(|v| v.is_instance_of::<Float32Array>())
                    .map(|v| v.unchecked_into::<Float32Array>().to_vec())
            };
            client.inbox.push_back(Update {
                report: Some(report),
                weights: weights.then(|| floats("values")).flatten(),
                reconstructions: weights.then(|| floats("reconstructions")).flatten(),
                error: None,
            });
        }
        FromWorker::Failed { id, message } if client.run == Some(id) => {
            client.inbox.push_back(Update {
                report: None,
                weights: None,
                reconstructions: None,
                error: Some(message),
            });
        }
        _ => {}
    });
}

/// The worker broke: the current run ends with `message`, and later runs stay on the page.
fn fail_current(message: String) {
    with_client(|client| {
        client.ready = false;
        client.pending_data = None;
        client.inbox.push_back(Update {
            report: None,
            weights: None,
            reconstructions: None,
            error: Some(message),
        });
    });
}

/// Posts `message` with `extra` properties (typed arrays, whose buffers are transferred).
fn post<T: Serialize>(target: &impl PostMessage, message: &T, extra: Option<&[(&str, JsValue)]>) {
    let (envelope, transfer) = envelope(message, extra.unwrap_or_default());
    // Fails only when the other side is gone; the page then sees the worker's error event.
    let _ = target.post(&envelope, &transfer);
}

/// `{ message, …extra }` and the buffers of the typed arrays in `extra`.
fn envelope<T: Serialize>(message: &T, extra: &[(&str, JsValue)]) -> (JsValue, Array) {
    let envelope = js_sys::Object::new();
    let value = serde_wasm_bindgen::to_value(message).expect("plain data");
    Reflect::set(&envelope, &"message".into(), &value).expect("plain object");
    let transfer = Array::new();
    for (name, array) in extra {
        Reflect::set(&envelope, &(*name).into(), array).expect("plain object");
        if let Ok(buffer) = Reflect::get(array, &"buffer".into()) {
            transfer.push(&buffer);
        }
    }
    (envelope.into(), transfer)
}

/// The typed message of an envelope.
fn read<T: for<'de> Deserialize<'de>>(envelope: &JsValue) -> Result<T, String> {
    let message = Reflect::get(envelope, &"message".into()).map_err(|e| format!("{e:?}"))?;
    serde_wasm_bindgen::from_value(message).map_err(|e| e.to_string())
}

/// `postMessage` with transfer, on the page's `Worker` and on the worker's global scope.
trait PostMessage {
    fn post(&self, message: &JsValue, transfer: &Array) -> Result<(), JsValue>;
}

impl PostMessage for Worker {
    fn post(&self, message: &JsValue, transfer: &Array) -> Result<(), JsValue> {
        self.post_message_with_transfer(message, transfer)
    }
}

impl PostMessage for DedicatedWorkerGlobalScope {
    fn post(&self, message: &JsValue, transfer: &Array) -> Result<(), JsValue> {
        self.post_message_with_transfer(message, transfer)
    }
}

// ---------------------------------------------------------------- the worker's side

thread_local! {
    static DATA: RefCell<Option<Arc<ImageSet>>> = const { RefCell::new(None) };
    /// The run the worker should train, and whether it is paused.
    static CONTROL: Cell<Option<(u64, bool)>> = const { Cell::new(None) };
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// The worker's entry point (called by `static/worker.js` once the module is loaded).
#[wasm_bindgen(js_name = trainingWorker)]
pub fn training_worker() {
    console_error_panic_hook::set_once();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        handle(event.data());
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&scope(), &FromWorker::Ready, None);
}

fn handle(envelope: JsValue) {
    let Ok(typed) = read::<ToWorker>(&envelope) else {
        return;
    };
    let bytes = |name: &str| {
        Reflect::get(&envelope, &name.into())
            .ok()
            .filter(|v| v.is_instance_of::<Uint8Array>())
            .map(|v| v.unchecked_into::<Uint8Array>().to_vec())
            .unwrap_or_default()
    };
    match typed {
        ToWorker::Data => {
            // The page checked these images when it parsed them.
            let data = ImageSet::new(bytes("pixels"), bytes("labels"))
                .ok()
                .map(Arc::new);
            DATA.with(|slot| *slot.borrow_mut() = data);
        }
        ToWorker::Start { id, config } => {
            CONTROL.set(Some((id, false)));
            let Some(data) = DATA.with(|slot| slot.borrow().clone()) else {
                let message = "the worker has no training images".to_string();
                return post(&scope(), &FromWorker::Failed { id, message }, None);
            };
            let grid = bytes("grid");
            let grid = ImageSet::new(grid.clone(), vec![0; grid.len() / IMAGE_PIXELS]).ok();
            match Trainer::new(config, data, Device::flex()) {
                Ok(trainer) => wasm_bindgen_futures::spawn_local(train(id, trainer, grid)),
                Err(e) => {
                    let message = e.to_string();
                    post(&scope(), &FromWorker::Failed { id, message }, None);
                }
            }
        }
        ToWorker::Pause { id } | ToWorker::Resume { id } => {
            if CONTROL.get().is_some_and(|(run, _)| run == id) {
                CONTROL.set(Some((id, matches!(typed, ToWorker::Pause { .. }))));
            }
        }
        ToWorker::Stop => CONTROL.set(None),
    }
}

/// Trains run `id` in chunks of about [`CHUNK_MS`], reporting after each one (with the
/// weights and their reconstructions of `grid` now and then).
async fn train(id: u64, mut trainer: Trainer, grid: Option<ImageSet>) {
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
        while js_sys::Date::now() - start < CHUNK_MS && trainer.step() {}
        let synced = trainer.sync().await;
        let report = trainer.report();
        let send_weights = synced.is_err()
            || matches!(synced, Ok(Some(_)))
            || report.finished
            || js_sys::Date::now() - last_weights > WEIGHTS_MS;
        let mut extra = Vec::new();
        if send_weights {
            last_weights = js_sys::Date::now();
            let model = trainer.model().valid();
            if let Ok(values) = model.values().await {
                extra.push(("values", Float32Array::from(values.as_slice()).into()));
            }
            if let Some(grid) = &grid {
                let indices: Vec<usize> = (0..grid.len()).collect();
                let output = model.forward(grid.batch(&indices, &Device::flex()));
                if let Ok(values) = read_values(output).await {
                    extra.push((
                        "reconstructions",
                        Float32Array::from(values.as_slice()).into(),
                    ));
                }
            }
        }
        let weights = !extra.is_empty();
        let progress = FromWorker::Progress {
            id,
            report,
            weights,
        };
        post(&scope(), &progress, Some(&extra));
        if let Err(error) = synced {
            let message = error.to_string();
            return post(&scope(), &FromWorker::Failed { id, message }, None);
        }
        if trainer.is_finished() {
            return;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::EpochRecord;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn messages_and_their_arrays_survive_the_envelope() {
        let record = EpochRecord {
            epoch: 1,
            train_mse: 0.05,
            val_mse: 0.06,
        };
        let message = FromWorker::Progress {
            id: 7,
            report: Report {
                step: 240,
                epoch: 1,
                epochs: 3,
                fraction: 0.4,
                images_seen: 4800,
                train_images: 4000,
                steps_per_epoch: 200,
                train_loss: Some(0.049),
                history: vec![record],
                finished: false,
            },
            weights: true,
        };
        let values = Float32Array::from(&[1.5f32, -2.0][..]);
        let (envelope, transfer) = envelope(&message, &[("values", values.into())]);
        assert_eq!(read::<FromWorker>(&envelope), Ok(message));
        assert_eq!(transfer.length(), 1);
        let values: Float32Array = Reflect::get(&envelope, &"values".into())
            .unwrap()
            .unchecked_into();
        assert_eq!(values.to_vec(), [1.5, -2.0]);
        assert!(read::<ToWorker>(&envelope).is_err());
    }
}
