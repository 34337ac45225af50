//! The controller's device policy: moving between WebGPU and the CPU, and going on on the
//! CPU when the browser takes the WebGPU device away.

use super::{App, Effect, Status, Switched};
use crate::web::device::{self, BackendKind, Checkpoint, CopyOf, DeviceState};
use crate::web::run::Engine;

impl App {
    /// The page moves to the CPU with its last CPU copy of the weights (fresh weights if there
    /// is none) and says so; a page run goes on from there at the same step.
    pub(super) fn on_device_lost(&mut self, reason: String) -> Vec<Effect> {
        if matches!(self.device, DeviceState::Lost { .. }) {
            return Vec::new(); // a failed read after the browser's report, or the reverse
        }
        self.webgpu = None;
        if self.backend.kind != BackendKind::WebGpu {
            self.device = DeviceState::Lost {
                reason,
                went_on_from: None,
            };
            return Vec::new();
        }
        let cpu = device::cpu();
        let copy = self.cpu_copy.take().unwrap_or_else(|| Checkpoint {
            model: self
                .model
                .config
                .init(&cpu.device)
                .expect("the shown model's config is valid"),
            of: CopyOf::Fresh,
        });
        self.status = Status::Error(format!(
            "WebGPU device lost ({reason}); the lab goes on on the CPU from {}",
            copy.of
        ));
        self.device = DeviceState::Lost {
            reason,
            went_on_from: Some(copy.of),
        };
        self.backend = cpu.clone();
        let origin = self.model.origin.clone();
        self.set_model(copy.model.clone(), origin);
        match self.run.active().map(|run| run.engine) {
            Some(Engine::Page) => vec![Effect::MovePageRun {
                backend: cpu,
                model: copy.model,
            }],
            _ => self.warm_up().into_iter().collect(),
        }
    }

    /// The training worker lost its WebGPU device: a run there went on on the CPU (in the
    /// worker, from the weights of `step`); later WebGPU runs train on the page.
    pub(super) fn on_worker_gpu_lost(
        &mut self,
        reason: String,
        step: Option<usize>,
    ) -> Vec<Effect> {
        self.worker_webgpu = None;
        let worker_run = self
            .run
            .active()
            .is_some_and(|run| run.engine == Engine::Worker);
        let what = match (worker_run, step) {
            (true, Some(step)) => {
                format!("training goes on on the CPU from the weights of step {step}")
            }
            (true, None) => "training goes on on the CPU from fresh weights".into(),
            (false, _) => "WebGPU runs now train on the page".into(),
        };
        self.status = Status::Error(format!(
            "the training worker's WebGPU device was lost ({reason}); {what}"
        ));
        self.warm_up().into_iter().collect()
    }

    pub(super) fn choose_backend(&mut self, kind: BackendKind) -> Vec<Effect> {
        if kind == self.backend.kind {
            return Vec::new();
        }
        if self.run.is_active() {
            // The optimizer state would have to move too: keep it simple and explicit.
            return self.error("reset training before switching the backend".into());
        }
        if let (BackendKind::WebGpu, DeviceState::Lost { reason, .. }) = (kind, &self.device) {
            let message = format!(
                "the WebGPU device was lost ({reason}); reload the page to use WebGPU again"
            );
            return self.error(message);
        }
        vec![Effect::SwitchBackend {
            to: kind,
            model: self.model.model.clone(),
            webgpu: self.webgpu.clone(),
        }]
    }

    pub(super) fn on_switched(&mut self, result: Result<Box<Switched>, String>) -> Vec<Effect> {
        let Switched { backend, model } = match result {
            Ok(switched) if !self.run.is_active() => *switched,
            Ok(_) => return Vec::new(),
            Err(message) => return self.error(message),
        };
        // Moving to WebGPU: the model the page had is on the CPU, the copy a loss leaves.
        let previous = std::mem::replace(&mut self.model.model, model.clone());
        self.cpu_copy = (backend.kind == BackendKind::WebGpu).then(|| Checkpoint {
            model: previous,
            of: CopyOf::Current,
        });
        self.device = match backend.kind {
            BackendKind::WebGpu => DeviceState::WebGpu,
            BackendKind::Cpu => DeviceState::Cpu { unavailable: None },
        };
        self.status = Status::Info(format!("now on {}", backend.kind.name()));
        self.backend = backend;
        let origin = self.model.origin.clone();
        self.set_model(model, origin);
        self.warm_up().into_iter().collect()
    }
}
