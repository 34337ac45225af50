//! The controller's run transitions: Start, Pause/Resume, Reset, the page engine's frames,
//! the training worker's reports, and the end of a run.

use super::{App, Changes, Effect, Origin, PageAdvance, Status, WorkerState, validation_batch};
use crate::data::Split;
use crate::training::{Progress, TrainConfig};
use crate::web::device::{self, BackendKind, Checkpoint, CopyOf};
use crate::web::protocol::FromWorker;
use crate::web::run::{Engine, LossCurves, Run, RunState, WorkerWeights};

const WEIGHTS_MISFIT: &str = "the training worker's weights do not fit the model";

impl App {
    /// Shows weights from the training worker (those of `step`) with its reconstructions of
    /// the grid; `false` if they do not fit the model. The model stays on the CPU while the
    /// run lasts: forking it to the page's WebGPU device at every report was the largest part
    /// of a 34–94 ms main-thread task for `deep` (docs/speed.md); [`Self::finish`] moves it
    /// there once. On WebGPU it is also the copy a device loss goes on from.
    fn show_worker_weights(&mut self, weights: WorkerWeights, origin: Origin, step: usize) -> bool {
        let cpu = device::cpu();
        let Some(model) = self
            .model
            .model
            .clone()
            .with_values(&weights.values, &cpu.device)
        else {
            return false;
        };
        if self.backend.kind == BackendKind::WebGpu {
            self.cpu_copy = Some(Checkpoint {
                model: model.clone(),
                of: CopyOf::Step(step),
            });
        }
        self.set_model(model, origin);
        self.model.grid_reconstructions = Some(weights.reconstructions);
        true
    }

    pub(super) fn start(&mut self, settings: Result<TrainConfig, String>, now: f64) -> Vec<Effect> {
        if self.run.is_active() {
            return Vec::new();
        }
        let config = match settings {
            Ok(config) => config,
            Err(message) => return self.error(message),
        };
        let Some(data) = self.loaded() else {
            return self.error(format!("{} is not loaded", self.dataset.name));
        };
        let noise = config.techniques.noise;
        let (train, grid) = (data.sets.train.clone(), data.grid_inputs(noise));
        // The training worker takes the run when it can (on WebGPU: with a device of its
        // own); else the page trains.
        let engine = match self.worker_trains_on(self.backend.kind) {
            true => Engine::Worker,
            false => Engine::Page,
        };
        let train_images = Split::new(train.len(), config.seed, config.train_limit)
            .train
            .len();
        let id = self.next_run;
        self.next_run += 1;
        let mut run = Run::new(id, engine, train_images, now);
        self.curves = LossCurves::default();
        self.chart_epochs = config.epochs;
        self.metrics = None;
        self.cpu_copy = None;
        self.changes |= Changes::CURVES | Changes::METRICS;
        if noise != self.noise {
            self.noise = noise;
            self.changes |= Changes::NOISE;
        }
        self.model.config = config.model;
        self.model.origin = Origin::Training { epochs: 0 };
        let validation_batch = validation_batch(config.batch_size);
        let (place, effects) = match engine {
            Engine::Worker => (
                "the training worker",
                vec![Effect::StartWorkerRun {
                    id,
                    backend: self.backend.kind,
                    config: config.clone(),
                    validation_batch,
                    dataset: self.dataset.id.clone(),
                    grid,
                }],
            ),
            Engine::Page => {
                run.frame_pending = true;
                let start = Effect::StartPageRun {
                    id,
                    config: config.clone(),
                    validation_batch,
                    data: train,
                    backend: self.backend.clone(),
                };
                (self.backend.kind.name(), vec![start, Effect::NextFrame(id)])
            }
        };
        self.status = Status::Info(format!(
            "training {} on {train_images} images ({place})…",
            config.model.kind
        ));
        self.run = RunState::Running(run);
        effects
    }

    pub(super) fn toggle_pause(&mut self, now: f64) -> Vec<Effect> {
        if self.run.pause(now) {
            self.status = Status::Info("paused".into());
            let run = self.run.active().expect("just paused");
            return match run.engine {
                Engine::Worker => vec![Effect::PauseWorker(run.id)],
                Engine::Page => Vec::new(), // the next frame sees the pause and stops
            };
        }
        if !self.run.resume(now) {
            return Vec::new();
        }
        self.status = Status::Info("training resumed".into());
        let run = self.run.active_mut().expect("just resumed");
        match run.engine {
            Engine::Worker => vec![Effect::ResumeWorker(run.id)],
            Engine::Page if run.frame_pending => Vec::new(),
            Engine::Page => {
                run.frame_pending = true;
                vec![Effect::NextFrame(run.id)]
            }
        }
    }

    pub(super) fn reset(&mut self, epochs: usize) -> Vec<Effect> {
        let mut effects = match self.run.active().map(|run| run.engine) {
            Some(Engine::Page) => vec![Effect::StopPageRun],
            _ => vec![Effect::StopWorker],
        };
        self.run = RunState::Idle;
        self.curves = LossCurves::default();
        self.chart_epochs = epochs;
        self.metrics = None;
        self.changes |= Changes::CURVES | Changes::METRICS;
        self.fresh_model(self.model.config.kind);
        if self.loaded().is_some() {
            self.status = Status::Info("ready: reset".into());
        }
        effects.push(self.load_pretrained(true));
        effects
    }

    /// A frame for page run `id`: advance it, unless it was paused meanwhile (the frames
    /// stop until Resume) or replaced.
    pub(super) fn on_frame(&mut self, id: u64) -> Vec<Effect> {
        match &mut self.run {
            RunState::Running(run) if run.id == id => vec![Effect::AdvancePageRun(id)],
            RunState::Paused(run) if run.id == id => {
                run.frame_pending = false;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn on_page_advance(&mut self, advance: PageAdvance, now: f64) -> Vec<Effect> {
        let PageAdvance {
            id,
            result,
            model,
            checkpoint,
        } = advance;
        let Some(run) = self.run.get_mut(id) else {
            return Vec::new(); // reset meanwhile
        };
        run.frame_pending = false;
        if let Some((copy, step)) = checkpoint.filter(|_| self.backend.kind == BackendKind::WebGpu)
        {
            self.cpu_copy = Some(Checkpoint {
                model: copy,
                of: CopyOf::Step(step),
            });
        }
        let progress = match result {
            Ok(progress) => progress,
            Err(message) => {
                // After divergence the trainer holds the last good weights: show those.
                let origin = self.model.origin.clone();
                self.set_model(model, origin);
                return self.finish(now, Some(message));
            }
        };
        let mut effects = self.on_progress(id, progress, Some(model), now);
        // Frames go on while the run does; a paused run gets the next one on Resume.
        if let RunState::Running(run) = &mut self.run
            && run.id == id
        {
            run.frame_pending = true;
            effects.push(Effect::NextFrame(id));
        }
        effects
    }

    pub(super) fn on_worker(&mut self, message: FromWorker, now: f64) -> Vec<Effect> {
        match message {
            FromWorker::Ready { webgpu } => {
                self.worker = WorkerState::Ready;
                self.worker_webgpu = webgpu.ok();
                let mut effects: Vec<Effect> = match self.loaded() {
                    Some(data) => vec![Effect::SendWorkerData(data.sets.clone())],
                    None => Vec::new(),
                };
                // Without a device in the worker, WebGPU runs train on the page.
                effects.extend(self.warm_up());
                effects
            }
            FromWorker::GpuLost { reason, step } => self.on_worker_gpu_lost(reason, step),
            FromWorker::Progress { id, progress } => self.on_progress(id, progress, None, now),
            FromWorker::Alive { memory_bytes } => {
                self.worker_memory = Some(memory_bytes);
                Vec::new()
            }
            FromWorker::Weights {
                id,
                values,
                reconstructions,
            } => {
                if let Some(run) = self.run.get_mut(id) {
                    run.worker_weights = Some(WorkerWeights {
                        values,
                        reconstructions,
                    });
                }
                Vec::new()
            }
            FromWorker::NotKept { reason } => self.on_not_kept(reason),
            FromWorker::Failed { id, message } => {
                let Some(run) = self.run.get_mut(id) else {
                    return Vec::new();
                };
                // After divergence the worker sent its last good weights: show those.
                if let Some(weights) = run.worker_weights.take() {
                    let origin = self.model.origin.clone();
                    let step = run.latest.as_ref().map_or(0, |p| p.step);
                    if !self.show_worker_weights(weights, origin, step) {
                        return self.finish(now, Some(WEIGHTS_MISFIT.into()));
                    }
                }
                self.finish(now, Some(message))
            }
            FromWorker::Evaluating { done, count } if self.measuring_in_worker() => {
                self.on_evaluating(done, count)
            }
            FromWorker::Evaluated(result) if self.measuring_in_worker() => {
                self.on_evaluated(result)
            }
            FromWorker::Evaluating { .. } | FromWorker::Evaluated(_) => Vec::new(),
            FromWorker::Refused { message } => {
                self.on_worker_broken(format!("it could not read a message ({message})"), now)
            }
        }
    }

    /// The worker failed: its run (if any) ends with the reason; later runs stay on the page.
    pub(super) fn on_worker_broken(&mut self, reason: String, now: f64) -> Vec<Effect> {
        if let WorkerState::Broken { .. } = self.worker {
            return Vec::new();
        }
        self.worker = WorkerState::Broken {
            reason: reason.clone(),
        };
        // Whatever it still does (if anything) is of no use: it is closed.
        let mut effects = vec![Effect::CloseWorker];
        if self
            .run
            .active()
            .is_some_and(|run| run.engine == Engine::Worker)
        {
            effects
                .extend(self.finish(now, Some(format!("the training worker stopped: {reason}"))));
        }
        effects.extend(self.measure_on_the_page_instead());
        effects.extend(self.warm_up());
        effects
    }

    /// A report of run `id`, from either engine; `page_model` is the page engine's current
    /// model. Curves, shown weights and the end of the run follow from it.
    fn on_progress(
        &mut self,
        id: u64,
        progress: Progress,
        page_model: Option<crate::model::Model>,
        now: f64,
    ) -> Vec<Effect> {
        let Some(run) = self.run.get_mut(id) else {
            return Vec::new();
        };
        let finished = progress.finished;
        let page_run = run.engine == Engine::Page;
        let (epochs, step) = (progress.history.len(), progress.step);
        let new_epoch = run.record(progress, &mut self.curves);
        self.changes |= Changes::STEP_CURVE;
        if new_epoch {
            self.changes |= Changes::CURVES;
        }
        let due = run.model_due(new_epoch, now);
        let worker_weights = run.worker_weights.take().filter(|_| due);
        let origin = Origin::Training { epochs };
        let updated = if let Some(model) = page_model.filter(|_| due) {
            self.set_model(model, origin);
            true
        } else if let Some(weights) = worker_weights {
            if !self.show_worker_weights(weights, origin, step) {
                return self.finish(now, Some(WEIGHTS_MISFIT.into()));
            }
            true
        } else {
            self.model.origin = origin;
            false
        };
        // Each epoch's weights are kept in the browser: a reload or a closed tab loses at
        // most the epoch under way (the worker keeps its runs' itself).
        let mut effects = Vec::new();
        if new_epoch && updated && page_run {
            effects.push(self.keep_shown(epochs));
        }
        if finished {
            effects.extend(self.finish(now, None));
        }
        effects
    }

    /// Ends the active run, with `error` if it stopped early; a finished run is measured on
    /// (a part of) the test set.
    pub(super) fn finish(&mut self, now: f64, error: Option<String>) -> Vec<Effect> {
        let Some(run) = self.run.finish(now, error.clone()) else {
            return Vec::new();
        };
        self.changes |= Changes::CURVES;
        let epochs = run.latest.as_ref().map_or(0, |p| p.history.len());
        self.model.origin = Origin::Trained { epochs };
        let mut effects = match run.engine {
            Engine::Page => vec![Effect::StopPageRun],
            Engine::Worker => Vec::new(),
        };
        match error {
            Some(message) => {
                self.error(message);
            }
            None => {
                self.status = Status::Info("training finished — measuring on the test set…".into());
                effects.extend(self.evaluate(Some(run.train_images.clamp(500, 10_000))));
            }
        }
        // The worker's weights were shown from the CPU: the model goes back to the page's
        // device, after the measurement took them (the worker's gets their values without a
        // read-back from the GPU).
        self.model.model = self.model.model.clone().on(&self.backend.device);
        effects
    }
}
