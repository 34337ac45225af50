//! `--device cpu|wgpu`: the device the CLI trains, evaluates and benchmarks on.
//!
//! `cpu` is burn-flex. `wgpu` is burn's wgpu runtime on the machine's GPU (Vulkan, Metal or
//! DX12; burn falls back to OpenGL where there is none), started with burn's fallible
//! initialiser `Device::wgpu_options().init_with_setup()`: without an adapter it returns
//! `WgpuInitError::AdapterUnavailable` rather than panicking, and that becomes a one-line error
//! naming the cause and the fix. No `catch_unwind` is needed.
//!
//! On a headless Linux machine Mesa's Vulkan device-select layer prints `error: XDG_RUNTIME_DIR
//! is invalid or not set in the environment.` while adapters are listed (harmless;
//! `NODEVICE_SELECT=1` silences it).

use std::sync::OnceLock;

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuInitError;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::model::matmul::{self, GpuMatmul};

/// Which device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The CPU, burn-flex.
    #[default]
    Cpu,
    /// The GPU through burn's wgpu runtime (Vulkan, Metal, DX12).
    Wgpu,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        }
    }
}

/// The `--device` flag.
#[derive(Args, Debug, Clone, Copy)]
pub struct DeviceArgs {
    /// Where to compute: cpu (burn-flex) or wgpu (the GPU: Vulkan, Metal, DX12).
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

/// A started device and what it runs on.
#[derive(Debug, Clone)]
pub struct Opened {
    pub kind: DeviceKind,
    pub device: Device,
    /// What computes: `burn-flex`, or the wgpu adapter's name, graphics API and type,
    /// e.g. `llvmpipe (LLVM 15.0.6, 256 bits), Vulkan, Cpu`.
    pub adapter: String,
}

impl Opened {
    /// For reports: `cpu (burn-flex)`, `wgpu (NVIDIA GeForce …, Vulkan, DiscreteGpu)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.kind.name(), self.adapter)
    }
}

/// Starts `kind`; the error is one line naming the cause. The wgpu runtime starts once per
/// process (burn refuses a second initialisation): later calls share it.
pub fn open(kind: DeviceKind) -> Result<Opened, String> {
    match kind {
        DeviceKind::Cpu => Ok(Opened {
            kind,
            device: Device::flex(),
            adapter: "burn-flex".into(),
        }),
        DeviceKind::Wgpu => {
            static WGPU: OnceLock<Result<Opened, String>> = OnceLock::new();
            WGPU.get_or_init(start_wgpu).clone()
        }
    }
}

fn start_wgpu() -> Result<Opened, String> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| one_line(&wgpu_error(&e)))?;
    let info = setup.adapter.get_info();
    matmul::use_gpu_matmul(GpuMatmul::for_adapter(&info.name));
    Ok(Opened {
        kind: DeviceKind::Wgpu,
        device,
        adapter: format!("{}, {:?}, {:?}", info.name, info.backend, info.device_type),
    })
}

fn wgpu_error(error: &WgpuInitError) -> String {
    match error {
        WgpuInitError::AdapterUnavailable { message, .. } => format!(
            "--device wgpu: no GPU adapter found on {APIS} ({message}); install a Vulkan driver \
             (on Debian, mesa-vulkan-drivers gives the software one, lavapipe) or use --device cpu"
        ),
        WgpuInitError::UnsupportedGraphicsApi { api } => format!(
            "--device wgpu: this build has no {api:?} graphics API for this machine; use --device cpu"
        ),
        other => {
            format!("--device wgpu: the GPU device could not start ({other}); use --device cpu")
        }
    }
}

/// The graphics APIs burn's wgpu runtime tries here.
const APIS: &str = if cfg!(target_os = "macos") {
    "Metal"
} else {
    "Vulkan, DX12 or OpenGL"
};

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
