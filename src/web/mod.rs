//! The browser lab: a thin layer over the library that only does DOM, canvas and
//! scheduling. A `requestAnimationFrame` loop drives each run: on WebGPU it enqueues the
//! steps itself; on burn's CPU backend (burn-flex, wasm SIMD) a Web Worker running this same
//! module trains and the loop draws what it reports.

mod app;
mod backend;
mod chart;
mod dom;
mod draw;
mod loader;
mod sketch;
mod worker;

use wasm_bindgen::prelude::*;

/// Entry point, run by the wasm-bindgen glue when the module loads.
#[wasm_bindgen(start)]
pub fn start() {
    run_static_constructors();
    console_error_panic_hook::set_once();
    // The training worker loads the same module; it starts with `trainingWorker` instead.
    if web_sys::window().is_some() {
        wasm_bindgen_futures::spawn_local(app::run());
    }
}

/// Runs the module's static constructors once (cubecl registers with `inventory` in them).
/// Unless some code calls `__wasm_call_ctors` itself, wasm-ld wraps *every* export in a call
/// to it, and each call from JavaScript into wasm (event handlers, promise callbacks, the
/// glue's own helpers) ran all the constructors again: tens of milliseconds per task.
fn run_static_constructors() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: wasm-ld's synthetic constructor function, run once before anything needs it.
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}

/// The lab's state as a plain object for scripts and tests (`window.wasmBindings.labState()`):
/// backend, adapter, model, epochs trained, whether training runs, the epoch curves.
#[wasm_bindgen(js_name = labState)]
pub fn lab_state() -> JsValue {
    app::state()
        .and_then(|state| serde_wasm_bindgen::to_value(&state).ok())
        .unwrap_or(JsValue::NULL)
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
