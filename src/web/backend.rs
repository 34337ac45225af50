//! Chooses where tensors live: WebGPU when the browser gives an adapter, else the CPU.

use burn::tensor::Device;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::dom;

/// A ready device and how to describe it on the page.
#[derive(Clone)]
pub struct Backend {
    pub kind: Kind,
    pub device: Device,
    /// The adapter for WebGPU (vendor / architecture / description), or the CPU backend.
    pub label: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    WebGpu,
    Cpu,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::WebGpu => "webgpu",
            Kind::Cpu => "cpu",
        }
    }
}

/// burn's CPU backend (burn-flex, wasm SIMD).
pub fn cpu() -> Backend {
    Backend {
        kind: Kind::Cpu,
        device: Device::flex(),
        label: "burn-flex, wasm SIMD".into(),
    }
}

/// WebGPU through burn's wgpu runtime, or why it is not available.
pub async fn webgpu() -> Result<Backend, String> {
    let navigator: JsValue = dom::window().navigator().into();
    let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser does not expose WebGPU (navigator.gpu)".into());
    }
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or("navigator.gpu.requestAdapter is missing")?;
    let promise: js_sys::Promise = request
        .call0(&gpu)
        .map_err(|e| format!("requestAdapter failed: {e:?}"))?
        .unchecked_into();
    let adapter = JsFuture::from(promise)
        .await
        .map_err(|e| format!("requestAdapter failed: {e:?}"))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("no WebGPU adapter is available".into());
    }
    let label = adapter_label(&adapter);
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("WebGPU device could not start: {e}"))?;
    Ok(Backend {
        kind: Kind::WebGpu,
        device,
        label,
    })
}

fn adapter_label(adapter: &JsValue) -> String {
    let info = Reflect::get(adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| {
        Reflect::get(&info, &name.into())
            .ok()
            .and_then(|v| v.as_string())
            .filter(|s| !s.is_empty())
    };
    let parts: Vec<String> = ["vendor", "architecture", "description"]
        .into_iter()
        .filter_map(field)
        .collect();
    if parts.is_empty() {
        "adapter".into()
    } else {
        parts.join(" / ")
    }
}
