//! The page's side of the training worker: starts it and carries messages both ways. What
//! the worker is doing (starting, ready, broken) is the controller's state, not kept here.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker, WorkerOptions};

use super::app::Msg;
use super::protocol::{FromWorker, ToWorker, envelope};

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
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

/// The URL of the wasm-bindgen glue module (trunk links it with `modulepreload`).
fn glue_url() -> Option<String> {
    let link = super::dom::document()
        .query_selector("link[rel=modulepreload]")
        .ok()??;
    Some(link.unchecked_into::<web_sys::HtmlLinkElement>().href())
}

/// Posts `message` to the worker, its arrays transferred.
pub fn send(message: ToWorker) {
    WORKER.with_borrow(|worker| {
        if let Some(worker) = worker {
            let (envelope, transfer) = envelope::encode(message);
            // Fails only when the worker is gone; its error event then says why.
            let _ = worker.post_message_with_transfer(&envelope, &transfer);
        }
    });
}
