//! Measures a model on the test set on the page's main thread (WebGPU, or the CPU when
//! there is no worker): one chunk per frame, each sized to about [`TASK_MS`] of main-thread
//! time from the speed measured so far.

use super::app::Msg;
use super::device::{Backend, BackendKind};
use super::dom;
use crate::data::{Corruption, ImageSet, Perturbation};
use crate::metrics::{Evaluation, Metrics};
use crate::model::{Model, read_values};

/// Main-thread time per evaluation chunk (forward pass and SSIM), in milliseconds.
const TASK_MS: f64 = 12.0;

/// The metrics of `model` on the first `count` images of `test`, corrupted by `noise` if
/// given; progress goes to `dispatch`.
pub async fn run(
    model: &Model,
    backend: &Backend,
    test: &ImageSet,
    count: usize,
    noise: Option<Corruption>,
    dispatch: fn(Msg),
) -> Result<Metrics, String> {
    let indices: Vec<usize> = (0..count.min(test.len())).collect();
    let mut evaluation = Evaluation::new(model, test, &indices);
    if let Some(noise) = noise {
        evaluation = evaluation.with_perturbation(Perturbation::test_noise(noise));
    }
    let mut chunk_size = 4;
    while !evaluation.is_finished() {
        // One chunk per frame, each in a task of its own (never tacked onto the caller's).
        dom::next_frame().await;
        dom::yield_task().await;
        dispatch(Msg::Evaluating {
            done: evaluation.done(),
            count: evaluation.count(),
        });
        let started = dom::now();
        let Some(chunk) = evaluation.enqueue(chunk_size, &backend.device) else {
            break;
        };
        let enqueue_ms = dom::now() - started;
        let reconstructions = read_values(chunk.reconstructions)
            .await
            .map_err(|e| e.to_string())?;
        let read_at = dom::now();
        let measured = evaluation.add(&chunk.originals, chunk.inputs.as_deref(), &reconstructions);
        // Main-thread time: on the CPU the read-back is where the work runs; on WebGPU its
        // wait is not the page's.
        let busy_ms = match backend.kind {
            BackendKind::Cpu => dom::now() - started,
            BackendKind::WebGpu => enqueue_ms + dom::now() - read_at,
        };
        let ms_per_image = busy_ms / measured.max(1) as f64;
        chunk_size = ((TASK_MS / ms_per_image.max(0.01)) as usize).clamp(1, 200);
    }
    Ok(evaluation.metrics())
}
