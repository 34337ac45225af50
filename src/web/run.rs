//! A training run as the page sees it, whichever engine trains it: its state, its clock
//! (pauses excluded), its smoothed loss and the loss curves.

use serde::Serialize;

use crate::training::Progress;

/// Where a run's batches execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// In the training worker (on the CPU or its own WebGPU device): the page only shows
    /// what it reports.
    Worker,
    /// On the page, a frame's budget at a time (on WebGPU the GPU does the work).
    Page,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Page => "page",
        }
    }
}

/// Everything the loss chart shows; x values are in epochs.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct LossCurves {
    /// Smoothed training loss at each read-back.
    pub steps: Vec<(f64, f64)>,
    pub train: Vec<(f64, f64)>,
    pub validation: Vec<(f64, f64)>,
    /// With early stopping: the epoch whose weights the run keeps.
    pub best_epoch: Option<usize>,
}

/// Active time of a run: wall-clock milliseconds, pauses excluded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    active_ms: f64,
    running_since: Option<f64>,
}

impl Clock {
    pub fn started(now: f64) -> Self {
        Self {
            active_ms: 0.0,
            running_since: Some(now),
        }
    }

    pub fn pause(&mut self, now: f64) {
        if let Some(since) = self.running_since.take() {
            self.active_ms += now - since;
        }
    }

    pub fn resume(&mut self, now: f64) {
        self.running_since.get_or_insert(now);
    }

    pub fn elapsed_ms(&self, now: f64) -> f64 {
        self.active_ms + self.running_since.map_or(0.0, |since| now - since)
    }
}

/// A run's speed so far, once it has run long enough to say.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Speed {
    pub images_per_sec: f64,
    pub epoch_sec: f64,
    pub eta_sec: f64,
}

/// Weights the training worker sent, waiting to be shown (see [`Run::take_due_weights`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerWeights {
    /// The model's values in `Model::values` order.
    pub values: Vec<f32>,
    /// The worker's reconstructions of the grid's digits (N×784 in [0, 1]).
    pub reconstructions: Vec<f32>,
}

/// Show new weights at least this often while training (grid, sketch), in milliseconds.
pub const MODEL_REFRESH_MS: f64 = 2000.0;

/// A run that has started and not ended.
#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub engine: Engine,
    pub train_images: usize,
    pub clock: Clock,
    /// The latest report.
    pub latest: Option<Progress>,
    smoothed_loss: Option<f64>,
    /// Page engine: a frame or an advance is under way (never more than one).
    pub frame_pending: bool,
    /// Worker engine: the latest weights not yet shown.
    pub worker_weights: Option<WorkerWeights>,
    /// When the page last showed this run's weights.
    pub model_shown_at: f64,
}

impl Run {
    pub fn new(id: u64, engine: Engine, train_images: usize, now: f64) -> Self {
        Self {
            id,
            engine,
            train_images,
            clock: Clock::started(now),
            latest: None,
            smoothed_loss: None,
            frame_pending: false,
            worker_weights: None,
            model_shown_at: now,
        }
    }

    /// Takes in a report: the smoothed loss goes on the step curve and newly finished epochs
    /// on the epoch curves. Returns whether an epoch finished.
    pub fn record(&mut self, progress: Progress, curves: &mut LossCurves) -> bool {
        if let Some(loss) = progress.train_loss {
            let value = self
                .smoothed_loss
                .map_or(loss, |smoothed| 0.9 * smoothed + 0.1 * loss);
            self.smoothed_loss = Some(value);
            let x = progress.step as f64 / progress.steps_per_epoch.max(1) as f64;
            curves.steps.push((x, value));
        }
        let known = curves.train.len();
        for record in progress.history.iter().skip(known) {
            curves.train.push((record.epoch as f64, record.train_mse));
            curves
                .validation
                .push((record.epoch as f64, record.val_mse));
        }
        let new_epoch = curves.train.len() > known;
        curves.best_epoch = progress.best_epoch;
        self.latest = Some(progress);
        new_epoch
    }

    /// Whether the page should show the run's current weights now: at an epoch's end, at
    /// the end of the run, or when [`MODEL_REFRESH_MS`] have passed.
    pub fn model_due(&mut self, new_epoch: bool, now: f64) -> bool {
        let finished = self.latest.as_ref().is_some_and(|p| p.finished);
        let due = new_epoch || finished || now - self.model_shown_at >= MODEL_REFRESH_MS;
        if due {
            self.model_shown_at = now;
        }
        due
    }

    pub fn speed(&self, now: f64) -> Option<Speed> {
        let progress = self.latest.as_ref()?;
        let seconds = self.clock.elapsed_ms(now) / 1000.0;
        if seconds <= 1.0 || progress.images_seen == 0 {
            return None;
        }
        let images_per_sec = progress.images_seen as f64 / seconds;
        let epoch_sec = progress.train_images as f64 / images_per_sec;
        Some(Speed {
            images_per_sec,
            epoch_sec,
            eta_sec: epoch_sec * progress.epochs as f64 * (1.0 - progress.fraction),
        })
    }
}

/// How the last run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Ended {
    /// The engine that trained it (scripts read it after the run too, which may have ended
    /// before a frame showed it running).
    pub engine: Engine,
    pub progress: Progress,
    pub images_per_sec: Option<f64>,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

/// The run's life cycle.
#[derive(Clone, Debug, Default)]
pub enum RunState {
    #[default]
    Idle,
    Running(Run),
    Paused(Run),
    Finished(Ended),
}

impl RunState {
    /// The run that has started and not ended.
    pub fn active(&self) -> Option<&Run> {
        match self {
            Self::Running(run) | Self::Paused(run) => Some(run),
            _ => None,
        }
    }

    pub fn active_mut(&mut self) -> Option<&mut Run> {
        match self {
            Self::Running(run) | Self::Paused(run) => Some(run),
            _ => None,
        }
    }

    /// The active run if its id is `id`.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Run> {
        self.active_mut().filter(|run| run.id == id)
    }

    pub fn is_active(&self) -> bool {
        self.active().is_some()
    }

    /// Running → Paused; `false` if there was no running run.
    pub fn pause(&mut self, now: f64) -> bool {
        self.toggle(now, true)
    }

    /// Paused → Running; `false` if there was no paused run.
    pub fn resume(&mut self, now: f64) -> bool {
        self.toggle(now, false)
    }

    fn toggle(&mut self, now: f64, pause: bool) -> bool {
        match (std::mem::take(self), pause) {
            (Self::Running(mut run), true) => {
                run.clock.pause(now);
                *self = Self::Paused(run);
                true
            }
            (Self::Paused(mut run), false) => {
                run.clock.resume(now);
                *self = Self::Running(run);
                true
            }
            (other, _) => {
                *self = other;
                false
            }
        }
    }

    /// Ends the active run (if any) with `error`, keeping its last report.
    pub fn finish(&mut self, now: f64, error: Option<String>) -> Option<Run> {
        let run = match std::mem::take(self) {
            Self::Running(run) | Self::Paused(run) => run,
            other => {
                *self = other;
                return None;
            }
        };
        *self = Self::Finished(Ended {
            engine: run.engine,
            progress: run.latest.clone().unwrap_or_default(),
            images_per_sec: run.speed(now).map(|s| s.images_per_sec),
            error,
        });
        Some(run)
    }

    /// The name scripts read (`#progress[data-state]`, `labState().run`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running(_) => "training",
            Self::Paused(_) => "paused",
            Self::Finished(Ended { error: None, .. }) => "done",
            Self::Finished(_) => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_leaves_pauses_out() {
        let mut clock = Clock::started(1000.0);
        clock.pause(1500.0);
        assert_eq!(clock.elapsed_ms(9000.0), 500.0);
        clock.resume(10_000.0);
        clock.resume(10_500.0); // a second resume changes nothing
        assert_eq!(clock.elapsed_ms(10_250.0), 750.0);
    }
}
