//! Weights kept in this browser across visits, one entry per model kind (IndexedDB, in
//! `web::kept_weights`): a run's weights are kept at the end of each of its epochs, what
//! an earlier visit kept is offered for restoring, and an entry found damaged is discarded
//! with a message.

use serde::Serialize;

use super::{App, Changes, Effect, Status};
use crate::model::ModelKind;
use crate::web::device::BackendKind;

/// What an earlier visit kept of one model, as offered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kept {
    pub kind: ModelKind,
    pub epochs: usize,
    /// The id of the dataset the weights were trained on.
    pub dataset: String,
    /// When they were kept, in milliseconds since 1970 (JavaScript's `Date.now()`).
    pub saved_ms: f64,
}

impl Kept {
    /// What the status line says of the entry `name` found damaged (and deleted).
    pub fn discarded(name: &str, reason: &str) -> String {
        format!(
            "the {name} weights kept in this browser are damaged ({reason}); they were discarded"
        )
    }
}

impl App {
    /// What an earlier visit kept, with why each damaged entry was thrown away; or why the
    /// browser's storage could not be read (e.g. turned off: then nothing is offered).
    pub(super) fn on_kept_found(
        &mut self,
        found: Result<(Vec<Kept>, Vec<String>), String>,
    ) -> Vec<Effect> {
        let (kept, discarded) = match found {
            Ok(found) => found,
            Err(reason) => (
                Vec::new(),
                vec![format!(
                    "the weights kept in this browser could not be read ({reason})"
                )],
            ),
        };
        self.kept = kept;
        self.changes |= Changes::KEPT;
        if !discarded.is_empty() {
            self.status = Status::Warning(discarded.join("; "));
        }
        Vec::new()
    }

    /// Restore the `kind` weights an earlier visit kept (the model shown becomes that kind).
    pub(super) fn restore_kept(&mut self, kind: ModelKind) -> Vec<Effect> {
        if self.run.is_active() {
            return self.error("a run is going: reset it before restoring weights".into());
        }
        match self.kept.iter().any(|kept| kept.kind == kind) {
            true => vec![Effect::ReadKept(kind)],
            false => Vec::new(),
        }
    }

    /// Forget every entry offered: they are deleted from the browser.
    pub(super) fn forget_kept(&mut self) -> Vec<Effect> {
        let kinds = self.kept.drain(..).map(|kept| kept.kind).collect();
        self.changes |= Changes::KEPT;
        self.status = Status::Info("the weights kept in this browser are forgotten".into());
        vec![Effect::ForgetKept(kinds)]
    }

    /// The end of an epoch of a run: keep the weights it shows now. On WebGPU, their CPU
    /// copy (made at each epoch's end): no read from the GPU, which may be lost meanwhile.
    pub(super) fn keep_shown(&self, epochs: usize) -> Effect {
        let mut header = self.shown_header();
        header.epochs = epochs;
        let model = match &self.cpu_copy {
            Some(copy) if self.backend.kind == BackendKind::WebGpu => copy.model.clone(),
            _ => self.model.model.clone(),
        };
        Effect::KeepWeights { model, header }
    }

    /// The browser refused to keep weights (storage full, or off in a private window); an
    /// error already on the status line stays.
    pub(super) fn on_not_kept(&mut self, reason: String) -> Vec<Effect> {
        if let Status::Error(_) = self.status {
            return Vec::new();
        }
        self.status = Status::Warning(format!(
            "the trained weights could not be kept in this browser ({reason}); download them to keep them"
        ));
        Vec::new()
    }

    /// The entry of `kind` is gone from the offer (restored, or found damaged).
    pub(super) fn drop_from_offer(&mut self, kind: ModelKind) {
        let before = self.kept.len();
        self.kept.retain(|kept| kept.kind != kind);
        if self.kept.len() != before {
            self.changes |= Changes::KEPT;
        }
    }
}
