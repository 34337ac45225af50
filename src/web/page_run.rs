//! The page's own training engine: one [`Trainer`] advanced a frame's budget at a time, on
//! WebGPU (the GPU does the work; the page enqueues steps and reads back) or, without the
//! training worker, on the CPU. It also keeps the CPU copies of the weights a lost GPU
//! device would leave, and warms the engine up before runs.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;

use super::app::PageAdvance;
use super::device;
use super::dom;
use crate::data::ImageSet;
use crate::model::{Model, ModelKind};
use crate::training::{self, TrainError, Trainer};

/// Main-thread time per frame (on WebGPU: enqueueing steps), in milliseconds.
const FRAME_BUDGET_MS: f64 = 8.0;
/// On WebGPU, the length of a training cycle (enqueue, GPU work, read-back) to aim for.
const GPU_CYCLE_MS: f64 = 100.0;
/// On WebGPU, copy the weights to the CPU at least this often while training.
const CHECKPOINT_MS: f64 = 10_000.0;

struct PageRun {
    id: u64,
    trainer: Trainer,
    on_gpu: bool,
    /// Steps enqueued per frame on WebGPU, adapted to the frame's length.
    gpu_steps: usize,
    last_checkpoint: f64,
    checkpointed_epochs: usize,
}

thread_local! {
    /// The run, while no frame has it out.
    static RUN: RefCell<Option<PageRun>> = const { RefCell::new(None) };
    /// The id of the current run (a frame under way checks it before putting its run back).
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
    /// Where to go on when the device was lost while a frame had the run out.
    static MOVE: RefCell<Option<(Device, Model)>> = const { RefCell::new(None) };
}

/// What a frame did, for the runtime.
pub struct Frame {
    pub advance: PageAdvance,
    /// Main-thread time of the steps, in milliseconds.
    pub busy_ms: f64,
    /// A read from the GPU failed: the device is gone, though the browser may not have said.
    pub device_failure: Option<String>,
}

pub fn start(id: u64, trainer: Trainer, on_gpu: bool) {
    CURRENT.set(Some(id));
    MOVE.take();
    RUN.replace(Some(PageRun {
        id,
        trainer,
        on_gpu,
        gpu_steps: 1,
        last_checkpoint: f64::MIN,
        checkpointed_epochs: 0,
    }));
}

pub fn stop() {
    CURRENT.set(None);
    MOVE.take();
    RUN.take();
}

/// Goes on from `model` on `device` (at the same step) before the next frame.
pub fn move_to(device: Device, model: Model) {
    MOVE.replace(Some((device, model)));
}

/// One frame of run `id`: steps within the budget, the read-back and, on WebGPU, a CPU copy
/// of the weights when one is due. `None` if the run is no longer the current one.
pub async fn advance(id: u64) -> Option<Frame> {
    let mut run = RUN.take().filter(|run| run.id == id)?;
    if let Some((device, model)) = MOVE.take() {
        run.trainer.continue_on(device, model);
        run.on_gpu = false;
    }
    let frame_start = dom::now();
    let mut step_start = frame_start;
    let mut busy_ms = 0.0;
    let (on_gpu, gpu_steps) = (run.on_gpu, run.gpu_steps);
    let result = run
        .trainer
        .advance(|steps| {
            let now = dom::now();
            busy_ms = now - frame_start;
            // On the CPU, stop before a step that would likely end past the budget.
            let last_step_ms = now - std::mem::replace(&mut step_start, now);
            if on_gpu {
                steps < gpu_steps && now - frame_start < FRAME_BUDGET_MS
            } else {
                now - frame_start + last_step_ms <= FRAME_BUDGET_MS
            }
        })
        .await;
    if CURRENT.get() != Some(id) {
        return None; // stopped or replaced while the frame awaited its read-back
    }
    let mut device_failure = None;
    let result = match result {
        Err(TrainError::Device(error)) if run.on_gpu => {
            device_failure = Some(error.to_string());
            Ok(run.trainer.progress())
        }
        Err(error) => Err(error.to_string()),
        Ok(_) => Ok(run.trainer.progress()),
    };
    let checkpoint = if run.on_gpu && device_failure.is_none() {
        adapt_gpu_steps(&mut run, dom::now() - frame_start, busy_ms);
        checkpoint(&mut run).await
    } else {
        None
    };
    let advance = PageAdvance {
        id,
        result,
        model: run.trainer.model().valid(),
        checkpoint,
    };
    if CURRENT.get() == Some(id) {
        RUN.replace(Some(run));
    }
    Some(Frame {
        advance,
        busy_ms,
        device_failure,
    })
}

/// Sizes the steps enqueued per frame on WebGPU. A read-back costs a fixed wait (the GPU
/// process maps the buffer, then the page's next task runs) besides the steps' own GPU time,
/// so more steps per read-back train faster; but enqueueing is main-thread work (within
/// [`FRAME_BUDGET_MS`]), and a cycle (enqueue, GPU, read-back) should stay short enough for
/// steady progress reports.
fn adapt_gpu_steps(run: &mut PageRun, cycle_ms: f64, busy_ms: f64) {
    if cycle_ms < GPU_CYCLE_MS && busy_ms < FRAME_BUDGET_MS {
        run.gpu_steps = (run.gpu_steps * 2).min(64);
    } else if (cycle_ms > 3.0 * GPU_CYCLE_MS || busy_ms > 2.0 * FRAME_BUDGET_MS) && run.gpu_steps > 1 {
        run.gpu_steps /= 2;
    }
}

/// A CPU copy of the weights at the start, after each epoch, every [`CHECKPOINT_MS`] and
/// at the end: a lost GPU device cannot be read any more.
async fn checkpoint(run: &mut PageRun) -> Option<(Model, usize)> {
    let progress = run.trainer.progress();
    let due = progress.history.len() > run.checkpointed_epochs
        || progress.finished
        || dom::now() - run.last_checkpoint > CHECKPOINT_MS;
    if !due {
        return None;
    }
    run.last_checkpoint = dom::now();
    run.checkpointed_epochs = progress.history.len();
    let copy = run.trainer.model().copy_to(&device::cpu().device).await;
    copy.ok().map(|copy| (copy, progress.step))
}

/// Runs one throwaway training step (and its read-back) of `kind` at `batch_size` on the
/// page: the browser compiles wasm code (and WebGPU kernels) lazily, so the first step of a
/// run would otherwise stall the first training frame.
pub async fn warm_up(kind: ModelKind, batch_size: usize, device: Device, images: Arc<ImageSet>) {
    dom::yield_task().await;
    training::warm_up(kind, batch_size, &images, device).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;
    use crate::model::ModelKind;
    use crate::training::TrainConfig;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn a_page_run_trains_on_the_cpu_in_frame_budgets() {
        // Synthetic strokes: a bright bar whose row depends on the index.
        let n = 200;
        let mut pixels = vec![0u8; n * IMAGE_PIXELS];
        for i in 0..n {
            let row = 4 + i % 20;
            pixels[i * IMAGE_PIXELS + row * 28 + 6..i * IMAGE_PIXELS + row * 28 + 22].fill(255);
        }
        let data = Arc::new(ImageSet::new(pixels, vec![0; n]).unwrap());
        let mut config = TrainConfig::new(ModelKind::Ffnn);
        config.epochs = 4;
        config.batch_size = 16;
        config.learning_rate = 1e-2;
        let trainer = Trainer::new(config, data, device::cpu().device).unwrap();
        start(9, trainer, false);
        let mut frames = 0;
        let progress = loop {
            let frame = advance(9).await.expect("the run is current");
            frames += 1;
            let progress = frame.advance.result.expect("no error");
            if progress.finished {
                break progress;
            }
        };
        // A frame never runs past an epoch's end (its losses are read back there).
        assert!(frames >= 4, "{frames} frames");
        let history = &progress.history;
        assert_eq!(history.len(), 4);
        assert!(
            history[3].train_mse < history[0].train_mse * 0.9,
            "{history:?}"
        );
        stop();
        assert!(advance(9).await.is_none());
    }
}
