//! Where the page's tensors live: a [`Backend`] (WebGPU or burn's CPU backend) and the
//! state of the GPU device, which the browser can take away at any time.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// The two places tensors can live.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    WebGpu,
    Cpu,
}

impl BackendKind {
    /// The name used by the page's backend selector and its `data-backend` attribute.
    pub fn name(self) -> &'static str {
        match self {
            Self::WebGpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }
}

/// A ready device and how to describe it on the page.
#[derive(Clone, Debug)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    /// The adapter for WebGPU (vendor / architecture / description), or the CPU backend.
    pub label: String,
}

/// burn's CPU backend (burn-flex; wasm SIMD in the browser).
pub fn cpu() -> Backend {
    Backend {
        kind: BackendKind::Cpu,
        device: Device::flex(),
        label: "burn-flex, wasm SIMD".into(),
    }
}

/// What became of WebGPU on this page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceState {
    /// The page works on WebGPU.
    WebGpu,
    /// The page works on the CPU: chosen, or because WebGPU is `unavailable` (the reason).
    Cpu { unavailable: Option<String> },
    /// The browser lost the WebGPU device; the page works on the CPU until it is reloaded,
    /// from the weights in `went_on_from` if it was on WebGPU then.
    Lost {
        reason: String,
        went_on_from: Option<CopyOf>,
    },
}

/// A CPU copy of the weights, kept while the page works on WebGPU: a lost device cannot
/// be read any more, so this is what the page goes on from.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub model: crate::model::Model,
    pub of: CopyOf,
}

/// Which weights a [`Checkpoint`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "step", rename_all = "lowercase")]
pub enum CopyOf {
    /// A run's weights at this step.
    Step(usize),
    /// The weights loaded from a file.
    Loaded,
    /// The weights the page had when it moved to WebGPU.
    Current,
    /// No copy existed: freshly initialised weights.
    Fresh,
}

impl std::fmt::Display for CopyOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Step(step) => write!(f, "the weights of step {step}"),
            Self::Loaded => f.write_str("the loaded weights"),
            Self::Current => f.write_str("the current weights"),
            Self::Fresh => f.write_str("fresh weights"),
        }
    }
}
