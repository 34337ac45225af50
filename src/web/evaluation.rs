//! Measures a model on the test set in the page: one chunk per frame, each chunk sized to
//! about [`TASK_MS`] of main-thread time from the speed measured so far.

use super::app::Msg;
use super::device::{Backend, BackendKind};
use super::dom;
use crate::data::ImageSet;
use crate::metrics::{Metrics, MetricsAccumulator};
use crate::model::{Model, read_values};

/// Main-thread time per evaluation chunk (forward pass and SSIM), in milliseconds.
const TASK_MS: f64 = 12.0;

/// The metrics of `model` on the first `count` images of `test`; progress goes to `dispatch`.
pub async fn run(
    model: &Model,
    backend: &Backend,
    test: &ImageSet,
    count: usize,
    dispatch: fn(Msg),
) -> Result<Metrics, String> {
    let mut accumulator = MetricsAccumulator::default();
    let (mut done, mut chunk_size) = (0, 4);
    while done < count {
        // One chunk per frame, each in a task of its own (never tacked onto the caller's).
        dom::next_frame().await;
        dom::yield_task().await;
        dispatch(Msg::Evaluating { done, count });
        let started = dom::now();
        let chunk: Vec<usize> = (done..(done + chunk_size).min(count)).collect();
        let output = model.forward(test.batch(&chunk, &backend.device));
        let enqueue_ms = dom::now() - started;
        let reconstructions = read_values(output).await.map_err(|e| e.to_string())?;
        let read_at = dom::now();
        accumulator.add(&test.values(&chunk), &reconstructions);
        done += chunk.len();
        // Main-thread time: on the CPU the read-back is where the work runs; on WebGPU its
        // wait is not the page's.
        let busy_ms = match backend.kind {
            BackendKind::Cpu => dom::now() - started,
            BackendKind::WebGpu => enqueue_ms + dom::now() - read_at,
        };
        let ms_per_image = busy_ms / chunk.len() as f64;
        chunk_size = ((TASK_MS / ms_per_image.max(0.01)) as usize).clamp(1, 200);
    }
    Ok(accumulator.finish())
}
