//! The browser lab. An Elm-style controller ([`app`]) holds the state and decides; the
//! runtime performs its effects; views redraw what changed. A Web Worker running this same
//! module trains ([`worker`]), on burn's CPU backend or on a WebGPU device of its own, and
//! the page draws what it reports; without a worker the page trains itself, a frame's
//! budget at a time ([`page_run`]).
//!
//! The controller and the run's bookkeeping are plain Rust and also compile natively, so
//! `cargo test` checks the page's transitions without a browser.
//!
//! How to add…
//! - **a view** (e.g. a latent map): a file in `views/` implementing `View` (how it draws)
//!   and one line in `views::all` (the view and the parts of the state it shows); if it
//!   shows new state, a field on `App` and a `Changes` flag that `update` sets.
//! - **a model**: a file in `src/model/` and its arm in `ModelKind`/`Model`; the page
//!   lists it with one `<option>` in index.html. Nothing in `web/` changes.
//! - **a dataset**: an entry in `static/datasets.json` (and its files, fetched by
//!   `scripts/fetch-data.py`); the page's dataset selector lists the site's catalog. Nothing
//!   in `web/` changes.

// Natively only the tests use the controller: what the runtime alone reads is unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

mod app;
mod device;
pub(crate) mod protocol;
mod run;

/// Declares the browser-only modules (DOM, canvas, fetch, workers).
macro_rules! browser_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(target_family = "wasm")]
            mod $name;
        )*
    };
}

browser_modules!(
    bench,
    data_io,
    dom,
    draw,
    evaluation,
    kept_weights,
    lab_state,
    loader,
    page_run,
    runtime,
    techniques_form,
    ui,
    views,
    webgpu,
    weights_io,
    worker,
    worker_client,
);

/// This wasm instance's linear memory, in bytes (it grows and never shrinks: a leak shows).
#[cfg(target_family = "wasm")]
fn memory_bytes() -> usize {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as usize
}

#[cfg(target_family = "wasm")]
mod entry {
    use wasm_bindgen::prelude::*;

    /// Entry point, run by the wasm-bindgen glue when the module loads.
    #[wasm_bindgen(start)]
    pub fn start() {
        run_static_constructors();
        console_error_panic_hook::set_once();
        // The training worker loads the same module; it starts with `trainingWorker` instead.
        if web_sys::window().is_some() {
            wasm_bindgen_futures::spawn_local(super::runtime::start());
        }
    }

    /// Runs the module's static constructors once (cubecl registers with `inventory` in
    /// them). Unless some code calls `__wasm_call_ctors` itself, wasm-ld wraps *every*
    /// export in a call to it, and each call from JavaScript into wasm (event handlers,
    /// promise callbacks, the glue's own helpers) ran all the constructors again.
    fn run_static_constructors() {
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: wasm-ld's synthetic constructor function, run once before anything needs it.
        ONCE.call_once(|| unsafe { __wasm_call_ctors() });
    }

    /// The lab's state as a plain object for scripts and tests
    /// (`window.wasmBindings.labState()`).
    #[wasm_bindgen(js_name = labState)]
    pub fn lab_state() -> JsValue {
        super::runtime::with_app(super::lab_state::of)
            .and_then(|state| serde_wasm_bindgen::to_value(&state).ok())
            .unwrap_or(JsValue::NULL)
    }
}

#[cfg(all(test, target_family = "wasm"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
