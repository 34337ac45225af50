//! Chooses where tensors live: WebGPU when the browser gives an adapter, else the CPU.

use std::sync::Mutex;

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

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
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

/// Why the WebGPU device was lost, once it has been (set by the device's `lost` promise).
static LOST: Mutex<Option<String>> = Mutex::new(None);

/// `Some(reason)` once the browser has reported the WebGPU device lost. Nothing may run on
/// a lost device: wgpu's uploads throw JavaScript exceptions there.
pub fn webgpu_lost() -> Option<String> {
    LOST.lock().ok()?.clone()
}

/// WebGPU through burn's wgpu runtime, or why it is not available. `on_lost` runs (once)
/// when the browser reports the device lost.
pub async fn webgpu(on_lost: fn(String)) -> Result<Backend, String> {
    if let Some(reason) = webgpu_lost() {
        return Err(format!(
            "the WebGPU device was lost ({reason}); reload the page to use WebGPU again"
        ));
    }
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
        if let Ok(mut lost) = LOST.lock() {
            *lost = Some(reason.clone());
        }
        on_lost(reason);
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use wasm_bindgen_test::wasm_bindgen_test;

    use crate::data::{IMAGE_PIXELS, ImageSet};
    use crate::model::ModelKind;
    use crate::training::{TrainConfig, Trainer};

    #[wasm_bindgen_test]
    async fn without_an_adapter_webgpu_is_refused_with_a_reason() {
        // scripts/test.sh starts the test browser without --enable-unsafe-webgpu.
        let reason = webgpu(|_| {})
            .await
            .err()
            .expect("the test browser has no WebGPU adapter");
        assert!(reason.contains("WebGPU"), "{reason}");
    }

    #[wasm_bindgen_test]
    async fn the_cpu_backend_trains_with_async_read_back() {
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
        config.sync_every = 4;
        let mut trainer = Trainer::new(config, data, cpu().device).unwrap();
        trainer.run(|_, _| {}).await.unwrap();
        let history = trainer.history();
        assert_eq!(history.len(), 4);
        assert!(
            history[3].train_mse < history[0].train_mse * 0.9,
            "{history:?}"
        );
    }
}
