//! Training on the GPU through burn's wgpu runtime (`--device wgpu`), checked on whatever
//! adapter the machine has: in CI Mesa's software Vulkan driver, lavapipe (Debian's
//! `mesa-vulkan-drivers`, installed by `scripts/setup.sh packages`).
#![cfg(not(target_family = "wasm"))] // native: the CLI binary, pollster, a Vulkan driver

mod common;

use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard};

use burn::tensor::{Tensor, TensorData};

use mnist_ae::cli::device::{self, DeviceKind, Opened};
use mnist_ae::data::{IMAGE_PIXELS, ImageSet};
use mnist_ae::model::ModelKind;
use mnist_ae::model::conv::same_conv3x3;
use mnist_ae::model::matmul::{self, GpuMatmul};
use mnist_ae::training::device_images::DeviceImages;
use mnist_ae::training::{TrainConfig, Trainer};
use pollster::block_on;

/// Training steps compared between the devices (each one read back).
const STEPS: usize = 20;

fn wgpu() -> Opened {
    device::open(DeviceKind::Wgpu)
        .unwrap_or_else(|e| panic!("{e} (CI installs lavapipe with `scripts/setup.sh packages`)"))
}

/// Runs the CLI. `NODEVICE_SELECT=1` turns off Mesa's Vulkan device-select layer, which on a
/// headless machine prints `error: XDG_RUNTIME_DIR is invalid …` while adapters are listed.
fn mnist_ae(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mnist-ae"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stdout_and_stderr(output: &Output) -> (String, String) {
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    (out, err)
}

/// The first `count` real MNIST training images.
fn first_images(count: usize) -> Arc<ImageSet> {
    let train = common::mnist().train;
    let pixels = train.pixels()[..count * IMAGE_PIXELS].to_vec();
    Arc::new(ImageSet::new(pixels, train.labels()[..count].to_vec()).unwrap())
}

/// Runs `STEPS` single-batch steps (each read back) and returns the losses and the final
/// weights.
fn losses_and_weights(mut trainer: Trainer) -> (Vec<f64>, Vec<f32>) {
    let mut losses = Vec::new();
    for _ in 0..STEPS {
        block_on(trainer.advance(|_| false)).unwrap();
        losses.push(trainer.train_loss().unwrap());
    }
    let weights = block_on(trainer.model().values()).unwrap();
    (losses, weights)
}

/// The in-process tests set the process's GPU matmul kernel: one at a time.
static KERNEL: Mutex<()> = Mutex::new(());

/// The wgpu device with the dense layers' products on `kernel`, held until the guard drops.
fn wgpu_with(kernel: GpuMatmul) -> (Opened, MutexGuard<'static, ()>) {
    let guard = KERNEL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let gpu = wgpu();
    matmul::use_gpu_matmul(kernel);
    (gpu, guard)
}

#[test]
fn ffnn_learns_on_wgpu_as_on_the_cpu_with_burns_matmul() {
    ffnn_learns_on_wgpu_as_on_the_cpu(GpuMatmul::Burn);
}

#[test]
fn ffnn_learns_on_wgpu_as_on_the_cpu_with_the_blocked_matmul() {
    ffnn_learns_on_wgpu_as_on_the_cpu(GpuMatmul::Blocked);
}

/// The dense layers' op on the blocked kernel, forward and both gradients, against burn's
/// matmul on the CPU: transposed operands (read one value at a time) and row-major ones (four
/// at a time), in sizes that are not multiples of its 8 × 8 blocks.
#[test]
fn the_blocked_matmul_and_its_gradients_match_the_cpu() {
    let (gpu, _kernel) = wgpu_with(GpuMatmul::Blocked);
    let cpu = device::open(DeviceKind::Cpu).unwrap();
    let (a, b) = (values(784 * 19, 1), values(28 * 784, 2));
    // [784, 19]ᵀ @ [28, 784]ᵀ: both operands transposed views. The gradients: [19, 28] @ [28,
    // 784] and [784, 19] @ [19, 28], row-major.
    let run = |device: &burn::tensor::Device| {
        let device = device.clone().autodiff();
        let a =
            Tensor::<2>::from_data(TensorData::new(a.clone(), [784, 19]), &device).require_grad();
        let b =
            Tensor::<2>::from_data(TensorData::new(b.clone(), [28, 784]), &device).require_grad();
        let out = matmul::matmul(a.clone().transpose(), b.clone().transpose());
        let grads = (out.clone() * out.clone()).sum().backward();
        let grad_a = a.grad(&grads).unwrap();
        let grad_b = b.grad(&grads).unwrap();
        [read(out), read(grad_a), read(grad_b)]
    };
    assert_close("matmul", &run(&gpu.device), &run(&cpu.device));
}

/// The training set kept on the GPU: a batch gathered there holds exactly the values of the
/// host's batch, in the batch's order, with repeats and the first and last images; the same
/// through burn's own ops on the CPU (the op's default body).
#[test]
fn batches_gathered_on_the_device_equal_the_hosts() {
    let gpu = wgpu();
    let cpu = device::open(DeviceKind::Cpu).unwrap();
    let data = first_images(300);
    let indices = [299, 0, 17, 17, 150, 298];
    let on_host = read(data.batch(&indices, &cpu.device));
    assert!(
        on_host.contains(&1.0),
        "pixels of 255 (top bit set) are in the batch"
    );
    for device in [&gpu.device, &cpu.device] {
        let gathered = read(DeviceImages::new(&data, device).batch(&indices));
        assert_eq!(gathered, on_host, "{device:?}");
    }
}

/// `count` values in [-1, 1), spread and different for each `salt`.
fn values(count: usize, salt: usize) -> Vec<f32> {
    (0..count)
        .map(|i| ((i * 7919 + salt) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn read<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    block_on(tensor.into_data_async())
        .unwrap()
        .try_to_vec::<f32>()
        .unwrap()
}

/// An op's result and its two gradients on the GPU against the CPU, within 1e-5 of the largest.
fn assert_close(case: &str, on_gpu: &[Vec<f32>; 3], on_cpu: &[Vec<f32>; 3]) {
    for (name, (g, c)) in ["result", "d first", "d second"]
        .iter()
        .zip(on_gpu.iter().zip(on_cpu))
    {
        assert_eq!(g.len(), c.len(), "{case}, {name}");
        let scale = c.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = g.iter().zip(c).fold(0f32, |m, (g, c)| m.max((g - c).abs()));
        assert!(
            worst <= 1e-5 * scale,
            "{case}, {name}: differs by {worst} (scale {scale})"
        );
    }
}

/// The conv models' 3 × 3 convolution on our kernels, forward and both gradients, against
/// burn's convolution on the CPU: one, four-and-some and sixteen output channels, widths and
/// heights that are not multiples of the kernels' blocks of 4 pixels or bands of 4 rows.
#[test]
fn our_convolution_and_its_gradients_match_the_cpu() {
    let (gpu, _kernel) = wgpu_with(GpuMatmul::Blocked);
    let cpu = device::open(DeviceKind::Cpu).unwrap();
    for [images, c_in, c_out, height, width] in
        [[3, 5, 6, 13, 14], [2, 16, 1, 9, 7], [2, 4, 16, 14, 14]]
    {
        let x = values(images * c_in * height * width, 3);
        let weight = values(c_out * c_in * 9, 4);
        let run = |device: &burn::tensor::Device| {
            let device = device.clone().autodiff();
            let x = Tensor::<4>::from_data(
                TensorData::new(x.clone(), [images, c_in, height, width]),
                &device,
            )
            .require_grad();
            let weight = Tensor::<4>::from_data(
                TensorData::new(weight.clone(), [c_out, c_in, 3, 3]),
                &device,
            )
            .require_grad();
            let out = same_conv3x3(x.clone(), weight.clone());
            let grads = (out.clone() * out.clone()).sum().backward();
            let (grad_x, grad_w) = (x.grad(&grads).unwrap(), weight.grad(&grads).unwrap());
            [read(out), read(grad_x), read(grad_w)]
        };
        let case = format!("{images}×{c_in}→{c_out}, {height}×{width}");
        assert_close(&case, &run(&gpu.device), &run(&cpu.device));
    }
}

fn ffnn_learns_on_wgpu_as_on_the_cpu(kernel: GpuMatmul) {
    let (gpu, _kernel) = wgpu_with(kernel);
    let cpu = device::open(DeviceKind::Cpu).unwrap();
    let data = first_images(500);
    let config = TrainConfig::new(ModelKind::Ffnn); // batch 20, Adam 1e-3, seed 42
    // The same initial weights on both: each backend has its own random generator, so
    // they are drawn on the CPU and copied to the GPU.
    let start = Trainer::new(config.clone(), data.clone(), cpu.device.clone()).unwrap();
    let initial = block_on(start.model().copy_to(&gpu.device)).unwrap();
    let on_cpu = losses_and_weights(start);
    let on_gpu = losses_and_weights(Trainer::with_model(
        config,
        data,
        gpu.device.clone(),
        initial,
    ));

    let (cpu_losses, gpu_losses) = (&on_cpu.0, &on_gpu.0);
    assert!(
        gpu_losses[STEPS - 1] < 0.9 * gpu_losses[0],
        "the loss does not fall on {}: {gpu_losses:?}",
        gpu.adapter
    );
    // The same arithmetic in f32, summed in another order (the GPU's matrix products
    // and tree reductions against the CPU's SIMD loops): on lavapipe the losses differ by
    // ~3e-6 relative (a mean over 20 × 784 pixels) and, after 20 Adam steps, the weights by
    // at most ~2e-6, Adam's division by √v carrying the gradients' last-bit differences into
    // the updates. The bounds, 1e-4 relative on each loss and 1e-4 absolute on each weight,
    // leave a margin of 30× and more for other adapters and drivers, and stay far below what
    // a wrong kernel does: 20 steps move a weight by up to 20 × the learning rate, 2e-2.
    for (step, (c, g)) in cpu_losses.iter().zip(gpu_losses).enumerate() {
        assert!(
            (c - g).abs() <= 1e-4 * c.abs(),
            "step {step}: loss {g} on {} vs {c} on the CPU",
            gpu.adapter
        );
    }
    let (cpu_weights, gpu_weights) = (&on_cpu.1, &on_gpu.1);
    assert_eq!(cpu_weights.len(), gpu_weights.len());
    let (worst, at) = cpu_weights
        .iter()
        .zip(gpu_weights)
        .map(|(c, g)| (c - g).abs())
        .enumerate()
        .fold(
            (0.0f32, 0),
            |(worst, at), (i, d)| {
                if d > worst { (d, i) } else { (worst, at) }
            },
        );
    eprintln!(
        "{} ({kernel:?} matmul) vs CPU after {STEPS} steps: losses {gpu_losses:?} vs {cpu_losses:?}; largest weight difference {worst:e} (#{at})",
        gpu.adapter
    );
    assert!(worst <= 1e-4, "weight #{at} differs by {worst}");
}

#[test]
fn cli_trains_and_benchmarks_on_wgpu() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("ffnn.bin");
    let data = common::data_dir();
    let output = mnist_ae(
        &[
            "train",
            "--device",
            "wgpu",
            "--model",
            "ffnn",
            "--epochs",
            "1",
            "--limit",
            "400",
            "--json",
            "--data",
            data.to_str().unwrap(),
            "--out",
            weights.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, stderr) = stdout_and_stderr(&output);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(
        report["backend"].as_str().unwrap().starts_with("wgpu ("),
        "{report}"
    );
    assert_eq!(report["train_images"], 400, "{report}");
    // One short epoch: below the untrained model's ~0.23, no more.
    let test_mse = report["test_mse"].as_f64().unwrap();
    assert!(test_mse < 0.21, "{report}");
    // The weights it wrote measure the same on the CPU.
    let output = mnist_ae(
        &[
            "eval",
            "--model",
            "ffnn",
            "--weights",
            weights.to_str().unwrap(),
            "--json",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, stderr) = stdout_and_stderr(&output);
    assert!(output.status.success(), "{stderr}");
    let on_cpu: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(on_cpu["backend"], "cpu (burn-flex)");
    let cpu_mse = on_cpu["test_mse"].as_f64().unwrap();
    assert!(
        (cpu_mse - test_mse).abs() <= 1e-5 * test_mse,
        "test MSE {test_mse} on wgpu, {cpu_mse} on the CPU"
    );

    let output = mnist_ae(
        &[
            "bench",
            "--device",
            "wgpu",
            "--models",
            "ffnn",
            // Two sizes keep it short (each first step compiles for a second or more on
            // lavapipe); tests/cli.rs checks the default sizes on the CPU.
            "--batch-sizes",
            "20,256",
            "--seconds",
            "1",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, stderr) = stdout_and_stderr(&output);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let batches: Vec<u64> = lines.iter().map(|l| l["batch"].as_u64().unwrap()).collect();
    assert_eq!(batches, [20, 256], "{stdout}");
    for line in &lines {
        assert_eq!(line["device"], "wgpu");
        assert_eq!(line["model"], "ffnn");
        assert!(!line["adapter"].as_str().unwrap().is_empty());
        common::assert_bench_figures(line);
        assert!(line["seconds"].as_f64().unwrap() >= 1.0, "{line}");
    }
}

#[test]
fn without_an_adapter_wgpu_is_refused_in_one_line() {
    // No Vulkan driver (the loader reads only this list) and no EGL vendor library for
    // wgpu's OpenGL fallback: no adapter at all.
    let hidden = [
        ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
        ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json"),
    ];
    let output = mnist_ae(&["train", "--device", "wgpu", "--model", "ffnn"], &hidden);
    let (_, stderr) = stdout_and_stderr(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.starts_with("error: --device wgpu: no GPU adapter found"),
        "{stderr}"
    );
    assert!(stderr.contains("--device cpu"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
