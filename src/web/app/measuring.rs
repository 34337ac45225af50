//! The controller's measurements on the test set: where they run (the worker, on the CPU
//! path, when there is one; else the page) and what becomes of their results.

use super::{App, Changes, Effect, Status};
use crate::metrics::Metrics;

/// Where a measurement on the test set runs: on the CPU it takes as long as an epoch of
/// `deep`, so the worker does it when there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evaluator {
    Page,
    Worker { count: usize },
}

impl App {
    pub(super) fn evaluate(&mut self, limit: Option<usize>) -> Option<Effect> {
        if self.evaluating.is_some() {
            return None;
        }
        let Some(test) = self.loaded().map(|data| data.sets.test.clone()) else {
            self.error(format!("{} is not loaded", self.dataset.name));
            return None;
        };
        let count = limit.unwrap_or(test.len()).min(test.len());
        let model = self.model.model.clone();
        self.measuring = Some(self.model.config.kind);
        if self.worker_trains_on(self.backend.kind) {
            self.evaluating = Some(Evaluator::Worker { count });
            return Some(Effect::EvaluateInWorker {
                backend: self.backend.kind,
                model,
                config: self.model.config,
                count,
                noise: self.noise,
            });
        }
        self.evaluating = Some(Evaluator::Page);
        Some(Effect::Evaluate {
            model,
            backend: self.backend.clone(),
            count,
            test,
            noise: self.noise,
        })
    }

    pub(super) fn on_evaluated(&mut self, result: Result<Metrics, String>) -> Vec<Effect> {
        self.evaluating = None;
        let measured = self.measuring.take();
        match result {
            // Another model was chosen meanwhile: these figures are not the shown model's.
            Ok(_) if measured.is_some_and(|kind| kind != self.model.config.kind) => {
                let kind = measured.expect("checked");
                self.status = Status::Info(format!(
                    "{kind}'s test metrics came after {} was chosen: not shown",
                    self.model.config.kind
                ));
                Vec::new()
            }
            Ok(metrics) => {
                self.metrics = Some((self.model.config.kind, metrics));
                self.changes |= Changes::METRICS;
                self.status = Status::Info("ready: test metrics measured".into());
                Vec::new()
            }
            Err(message) => self.error(message),
        }
    }

    pub(super) fn on_evaluating(&mut self, done: usize, count: usize) -> Vec<Effect> {
        self.status = Status::Info(format!("measuring on the test set: {done} / {count}…"));
        Vec::new()
    }

    /// Whether the page waits for the worker's measurement (its news is stale otherwise).
    pub(super) fn measuring_in_worker(&self) -> bool {
        matches!(self.evaluating, Some(Evaluator::Worker { .. }))
    }

    /// The worker stopped: a measurement it had under way starts again on the page.
    pub(super) fn measure_on_the_page_instead(&mut self) -> Option<Effect> {
        let Some(Evaluator::Worker { count }) = self.evaluating else {
            return None;
        };
        self.evaluating = None;
        self.evaluate(Some(count))
    }
}
