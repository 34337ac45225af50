//! WebGPU through burn's wgpu runtime: finds the adapter, starts the device and reports
//! when the browser loses it. Works on the page and in the training worker alike.

use burn::tensor::Device;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::device::{Backend, BackendKind};
use crate::model::matmul::{self, GpuMatmul};

/// WebGPU, or why it is not available. `on_lost` runs (once) when the browser reports the
/// device lost.
pub async fn start(on_lost: fn(String)) -> Result<Backend, String> {
    // The page's or the worker's navigator: Chromium exposes WebGPU in dedicated workers.
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
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
    matmul::use_gpu_matmul(GpuMatmul::for_adapter(&label));
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("WebGPU device could not start: {e}"))?;
    setup.device.set_device_lost_callback(move |_, message| {
        let reason = if message.is_empty() {
            "device lost".to_string()
        } else {
            message
        };
        on_lost(reason);
    });
    Ok(Backend {
        kind: BackendKind::WebGpu,
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn without_an_adapter_webgpu_is_refused_with_a_reason() {
        // scripts/test.sh starts the test browser without --enable-unsafe-webgpu.
        let reason = start(|_| {})
            .await
            .expect_err("the test browser has no WebGPU adapter");
        assert!(reason.contains("WebGPU"), "{reason}");
    }
}
