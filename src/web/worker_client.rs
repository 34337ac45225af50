//! The page's side of the training worker: starts it and carries messages both ways. What
//! the worker is doing (starting, ready, broken) is the controller's state, not kept here.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker, WorkerOptions};

use super::app::Msg;
use super::dom;
use super::protocol::{FromWorker, Role, ToWorker, envelope};
use crate::data::TrainTest;

/// Bytes copied out of wasm memory per task: about 4 ms here, where copying MNIST's 47 MB
/// training set in one go was a 54–65 ms task.
const COPY_PIECE_BYTES: usize = 4 << 20;

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    /// What waits to be posted while a data set is being copied out, in order.
    static OUTBOX: RefCell<VecDeque<Outgoing>> = const { RefCell::new(VecDeque::new()) };
    static POSTING_DATA: Cell<bool> = const { Cell::new(false) };
}

enum Outgoing {
    Message(ToWorker),
    Data(TrainTest),
}

/// Starts `worker.js` (beside the page) on the page's own wasm module; what it says, and
/// its failure, reach `dispatch`. Without module workers or the wasm-bindgen glue's URL, the
/// page simply has no worker.
pub fn spawn(dispatch: fn(Msg)) -> Result<(), String> {
    let glue = glue_url().ok_or("the page's wasm-bindgen glue was not found")?;
    let options = WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let worker = Worker::new_with_options("worker.js", &options)
        .map_err(|e| format!("cannot start worker.js: {e:?}"))?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        dispatch(match envelope::decode::<FromWorker>(&event.data()) {
            Ok(message) => Msg::Worker(message),
            Err(e) => Msg::WorkerBroken(format!("it sent a message the page cannot read ({e})")),
        });
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // An `ErrorEvent` when the worker's code fails, a plain `Event` when worker.js or the
    // module cannot be loaded.
    let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
        let reason = event
            .dyn_ref::<ErrorEvent>()
            .map(|e| e.message())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "worker.js could not be loaded".into());
        dispatch(Msg::WorkerBroken(reason));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let start = js_sys::Object::new();
    js_sys::Reflect::set(&start, &"glue".into(), &glue.into()).expect("a plain object");
    js_sys::Reflect::set(&start, &"module".into(), &wasm_bindgen::module())
        .expect("a plain object");
    worker
        .post_message(&start)
        .map_err(|e| format!("cannot start the worker: {e:?}"))?;
    WORKER.replace(Some(worker));
    Ok(())
}

/// Terminates the worker: whatever it still does, and what waits to be posted to it, is
/// dropped.
pub fn close() {
    if let Some(worker) = WORKER.take() {
        worker.set_onmessage(None);
        worker.set_onerror(None);
        worker.terminate();
    }
    OUTBOX.with_borrow_mut(VecDeque::clear);
}

/// The URL of the wasm-bindgen glue module (trunk links it with `modulepreload`).
fn glue_url() -> Option<String> {
    let link = super::dom::document()
        .query_selector("link[rel=modulepreload]")
        .ok()??;
    Some(link.unchecked_into::<web_sys::HtmlLinkElement>().href())
}

/// Posts `message` to the worker, its arrays transferred: at once, or after the data sets
/// still being copied out.
pub fn send(message: ToWorker) {
    if POSTING_DATA.get() {
        OUTBOX.with_borrow_mut(|outbox| outbox.push_back(Outgoing::Message(message)));
    } else {
        let (envelope, transfer) = envelope::encode(message);
        post(&envelope, &transfer);
    }
}

/// Posts the training and test sets as two `Data` messages. Their bytes are copied out of
/// wasm memory a piece per task, so the page is never blocked for long; messages sent
/// meanwhile follow them in order.
pub fn send_data(sets: TrainTest) {
    OUTBOX.with_borrow_mut(|outbox| outbox.push_back(Outgoing::Data(sets)));
    if !POSTING_DATA.replace(true) {
        wasm_bindgen_futures::spawn_local(post_outbox());
    }
}

async fn post_outbox() {
    while let Some(outgoing) = OUTBOX.with_borrow_mut(VecDeque::pop_front) {
        match outgoing {
            Outgoing::Message(message) => {
                let (envelope, transfer) = envelope::encode(message);
                post(&envelope, &transfer);
            }
            Outgoing::Data(sets) => {
                for (role, set) in [(Role::Training, sets.train), (Role::Test, sets.test)] {
                    let pixels = copy_out(set.pixels()).await;
                    let labels = copy_out(set.labels()).await;
                    let head = ToWorker::Data {
                        role,
                        pixels: Vec::new(),
                        labels: Vec::new(),
                    };
                    let (envelope, transfer) = envelope::wrap(&head, [pixels.into(), labels.into()]);
                    post(&envelope, &transfer);
                }
            }
        }
    }
    POSTING_DATA.set(false);
}

/// `bytes` in a new JavaScript array, copied [`COPY_PIECE_BYTES`] per task.
async fn copy_out(bytes: &[u8]) -> Uint8Array {
    let array = Uint8Array::new_with_length(bytes.len() as u32);
    for (index, piece) in bytes.chunks(COPY_PIECE_BYTES).enumerate() {
        if index > 0 {
            dom::yield_task().await;
        }
        let start = (index * COPY_PIECE_BYTES) as u32;
        array
            .subarray(start, start + piece.len() as u32)
            .copy_from(piece);
    }
    array
}

fn post(envelope: &JsValue, transfer: &js_sys::Array) {
    WORKER.with_borrow(|worker| {
        if let Some(worker) = worker {
            // Fails only when the worker is gone; its error event then says why.
            let _ = worker.post_message_with_transfer(envelope, transfer);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::sync::Arc;

    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::data::{IMAGE_PIXELS, ImageSet};
    use crate::model::ModelKind;

    #[wasm_bindgen_test]
    async fn bytes_copied_out_in_pieces_arrive_whole() {
        let bytes: Vec<u8> = (0..2 * COPY_PIECE_BYTES + 3).map(|i| (i % 251) as u8).collect();
        assert_eq!(copy_out(&bytes).await.to_vec(), bytes);
        assert_eq!(copy_out(&[]).await.length(), 0);
    }

    /// A worker that answers each message with its head and its arrays' lengths.
    fn echo_worker() -> Worker {
        let script = "onmessage = (e) => postMessage(JSON.stringify(\
            [e.data.message, e.data.arrays.map((a) => a.length)]));";
        let parts = js_sys::Array::of1(&script.into());
        let blob = web_sys::Blob::new_with_str_sequence(&parts).unwrap();
        let url = web_sys::Url::create_object_url_with_blob(&blob).unwrap();
        Worker::new(&url).unwrap()
    }

    #[wasm_bindgen_test]
    async fn messages_sent_while_data_is_copied_out_follow_it() {
        let worker = echo_worker();
        let heard = Rc::new(RefCell::new(Vec::<String>::new()));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let heard = heard.clone();
            move |event: MessageEvent| heard.borrow_mut().push(event.data().as_string().unwrap())
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        WORKER.replace(Some(worker));

        // A training set of two pieces, so the copy spans tasks.
        let images = COPY_PIECE_BYTES / IMAGE_PIXELS + 1;
        let set = |count: usize| Arc::new(ImageSet::new(vec![0; count * IMAGE_PIXELS], vec![0; count]).unwrap());
        send(ToWorker::Stop);
        send_data(TrainTest { train: set(images), test: set(2) });
        send(ToWorker::WarmUp { kind: ModelKind::Ffnn, batch_size: 20 });
        for _ in 0..200 {
            if heard.borrow().len() == 4 {
                break;
            }
            dom::yield_task().await;
        }
        WORKER.replace(None);
        let heard = heard.borrow();
        let expected = [
            r#"["Stop",[]]"#.to_string(),
            format!(r#"[{{"Data":{{"role":"Training"}}}},[{},{images}]]"#, images * IMAGE_PIXELS),
            format!(r#"[{{"Data":{{"role":"Test"}}}},[{},2]]"#, 2 * IMAGE_PIXELS),
            r#"[{"WarmUp":{"kind":"ffnn","batch_size":20}},[]]"#.to_string(),
        ];
        assert_eq!(*heard, expected);
    }
}
