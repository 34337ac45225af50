//! The speed benchmark's probe into the page (`scripts/bench.sh`). Training speed is read
//! from the page's own runs; inference has no run to watch, so this times it:
//! `await window.wasmBindings.inferenceSpeed(batch, seconds)`.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{dom, runtime};
use crate::model::read_values;

/// Give the page's other tasks a turn this often, in milliseconds.
const YIELD_MS: f64 = 100.0;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceSpeed {
    backend: &'static str,
    model: &'static str,
    batch: usize,
    batches: usize,
    seconds: f64,
    images_per_sec: f64,
    /// The first batch, timed apart: it may compile kernels.
    first_batch_ms: f64,
}

/// The shown model reconstructs batches of `batch` test images on the page's backend for
/// `seconds`, as the peers are timed: each batch uploaded, run and its output read back
/// before the next.
#[wasm_bindgen(js_name = inferenceSpeed)]
pub async fn inference_speed(batch: usize, seconds: f64) -> Result<JsValue, JsValue> {
    let (model, kind, backend, test) = runtime::with_app(|app| {
        let test = app.loaded()?.sets.test.clone();
        let shown = &app.model;
        Some((shown.model.clone(), shown.config.kind, app.backend.clone(), test))
    })
    .flatten()
    .ok_or("the lab has no data loaded yet")?;
    // A worker's run, paused for this probe, shows its weights from the CPU: time them on the
    // page's backend all the same.
    let model = model.on(&backend.device);
    let batch = batch.clamp(1, test.len());
    let reconstruct = async |first: usize| {
        let indices: Vec<usize> = (first..first + batch).map(|i| i % test.len()).collect();
        let output = model.forward(test.batch(&indices, &backend.device));
        read_values(output).await.map_err(|e| e.to_string())
    };
    let started = dom::now();
    reconstruct(0).await?;
    let first_batch_ms = dom::now() - started;
    let started = dom::now();
    let mut yielded = started;
    let mut batches = 0;
    while dom::now() - started < seconds * 1000.0 {
        reconstruct((batches + 1) * batch).await?;
        batches += 1;
        if dom::now() - yielded > YIELD_MS {
            dom::yield_task().await; // the page stays alive, as the peers' loops do
            yielded = dom::now();
        }
    }
    let seconds = (dom::now() - started) / 1000.0;
    let speed = InferenceSpeed {
        backend: backend.kind.name(),
        model: kind.name(),
        batch,
        batches,
        seconds,
        images_per_sec: (batches * batch) as f64 / seconds,
        first_batch_ms,
    };
    Ok(serde_wasm_bindgen::to_value(&speed)?)
}
