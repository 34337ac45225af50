//! The `mnist-ae` binary end to end: a real short run, and clear errors for bad input.
#![cfg(not(target_family = "wasm"))] // native: real files, the CLI binary, pollster

mod common;

use std::path::Path;
use std::process::{Command, Output};

use mnist_ae::model::{ModelConfig, ModelKind};
use mnist_ae::weights::{self, Precision, WeightsHeader};

fn mnist_ae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mnist-ae"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Asserts a failure with a one-line message on stderr containing `needle`, and no panic.
fn assert_clear_failure(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {stderr}");
    assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "panic: {stderr}");
}

fn last_json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().expect("some stdout");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Runs the CLI with `args` (ending in `--json`), which must succeed, and returns its report.
fn report_of(args: &[&str]) -> serde_json::Value {
    let output = mnist_ae(args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    last_json(&output)
}

fn copy_data(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in common::mnist_dataset().file_names() {
        std::fs::copy(common::data_dir().join(name), to.join(name)).unwrap();
    }
}

#[test]
fn train_then_eval_reports_json_and_refuses_other_models_weights() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("ffnn.bin");
    let data = common::data_dir();
    let output = mnist_ae(&[
        "train",
        "--model",
        "ffnn",
        "--epochs",
        "1",
        "--limit",
        "6000",
        "--json",
        "--data",
        data.to_str().unwrap(),
        "--out",
        weights.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = last_json(&output);
    for key in [
        "model",
        "epochs",
        "train_mse",
        "val_mse",
        "test_mse",
        "psnr_db",
        "ssim",
        "l2_per_image",
        "images_per_sec",
        "seconds",
    ] {
        assert!(!report[key].is_null(), "missing {key}: {report}");
    }
    assert_eq!(report["model"], "ffnn");
    assert_eq!(report["dataset"], "mnist");
    assert_eq!(report["test_images"], 10_000);
    let test_mse = report["test_mse"].as_f64().unwrap();
    assert!(test_mse < 0.067, "worse than the mean image: {test_mse}");

    let eval = mnist_ae(&[
        "eval",
        "--model",
        "ffnn",
        "--weights",
        weights.to_str().unwrap(),
        "--json",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert_eq!(last_json(&eval)["test_mse"].as_f64(), Some(test_mse));
    // `train` wrote the dataset into the header.
    assert!(!String::from_utf8_lossy(&eval.stderr).contains("warning"));

    let wrong = mnist_ae(&[
        "eval",
        "--model",
        "deep",
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_clear_failure(&wrong, "these weights are for the 'ffnn' model, not 'deep'");
}

#[test]
fn bench_prints_a_json_line_per_batch_size() {
    let data = common::data_dir();
    let output = mnist_ae(&[
        "bench",
        "--models",
        "ffnn",
        "--seconds",
        "0.2",
        "--data",
        data.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    // The reference size, then 256 and 1024.
    let batches: Vec<u64> = lines.iter().map(|l| l["batch"].as_u64().unwrap()).collect();
    assert_eq!(batches, [20, 256, 1024], "{stdout}");
    for line in &lines {
        assert_eq!(line["device"], "cpu", "{line}");
        assert_eq!(line["adapter"], "burn-flex", "{line}");
        assert_eq!(line["train_images"], 2048, "{line}");
        common::assert_bench_figures(line);
    }

    let output = mnist_ae(&["bench", "--seconds", "0"]);
    assert_clear_failure(&output, "--seconds must be a positive number");
    let output = mnist_ae(&["bench", "--batch-sizes", "20,0"]);
    assert_clear_failure(&output, "batch size must be at least 1");
    let output = mnist_ae(&["bench", "--models", "ffnn,resnet"]);
    assert_clear_failure(&output, "unknown model 'resnet'");
    let output = mnist_ae(&["train", "--model", "ffnn", "--device", "tpu"]);
    assert_clear_failure(&output, "invalid value 'tpu' for '--device <DEVICE>'");
}

#[test]
fn unknown_model_is_refused() {
    let output = mnist_ae(&["train", "--model", "resnet"]);
    assert_clear_failure(&output, "unknown model 'resnet'");
}

#[test]
fn unknown_dataset_is_refused_with_the_known_ones() {
    let output = mnist_ae(&["train", "--model", "ffnn", "--dataset", "cifar"]);
    assert_clear_failure(
        &output,
        "error: unknown dataset 'cifar' (known: mnist, fashion-mnist)",
    );
}

#[test]
fn weights_from_another_dataset_load_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ffnn.bin");
    let device = burn::tensor::Device::flex();
    let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
    let header = WeightsHeader {
        model: ModelConfig::new(ModelKind::Ffnn),
        epochs: 1,
        precision: Precision::F32,
        dataset: "other".into(),
    };
    std::fs::write(&path, weights::to_bytes(&model, &header).unwrap()).unwrap();
    let path = path.to_str().unwrap();
    let output = mnist_ae(&[
        "eval",
        "--model",
        "ffnn",
        "--weights",
        path,
        "--limit",
        "100",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("warning: {path} was trained on other, not mnist")),
        "{stderr}"
    );
}

#[test]
fn missing_data_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let output = mnist_ae(&[
        "train",
        "--model",
        "ffnn",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert_clear_failure(&output, "train-images-idx3-ubyte.gz");
    assert_clear_failure(&output, "fetch-data.py mnist");
}

#[test]
fn corrupt_data_names_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    copy_data(dir.path());
    // Truncate the test labels: a gzip stream cut short.
    let labels = dir.path().join("t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() / 2]).unwrap();
    let output = mnist_ae(&[
        "train",
        "--model",
        "ffnn",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert_clear_failure(&output, "t10k-labels-idx1-ubyte.gz");
}

#[test]
fn garbage_weights_and_bad_numbers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("junk.bin");
    std::fs::write(&weights, b"definitely not weights").unwrap();
    let output = mnist_ae(&[
        "eval",
        "--model",
        "ffnn",
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_clear_failure(&output, "not a weights file");

    let missing = mnist_ae(&["eval", "--model", "ffnn", "--weights", "/nonexistent/w.bin"]);
    assert_clear_failure(&missing, "cannot read /nonexistent/w.bin");

    let output = mnist_ae(&["train", "--model", "ffnn", "--lr=-1"]);
    assert_clear_failure(&output, "learning rate");
    let output = mnist_ae(&["train", "--model", "ffnn", "--batch-size", "0"]);
    assert_clear_failure(&output, "batch size");
}

#[test]
fn techniques_train_and_report_their_figures() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("denoiser.bin");
    let common_args = ["--model", "ffnn", "--limit", "2000", "--json"];
    let train = |extra: &[&str]| {
        let out = weights.to_str().unwrap();
        let mut args = vec!["train", "--epochs", "3", "--out", out];
        args.extend(common_args);
        args.extend(extra);
        report_of(&args)
    };
    // Denoising with augmentation, early stopping that cannot find a better epoch by 1.0,
    // and every other technique on.
    let report = train(&[
        "--noise",
        "gaussian:0.3",
        "--augment",
        "shift:2,rotate:10",
        "--early-stop",
        "1",
        "--min-delta",
        "1",
        "--loss",
        "mse+ssim:0.5",
        "--weight-decay",
        "0.01",
        "--l1-code",
        "0.001",
    ]);
    assert_eq!(report["best_epoch"], 1, "{report}");
    assert_eq!(report["stopped_early"], true);
    assert_eq!(report["history"].as_array().unwrap().len(), 2);
    assert_eq!(report["epochs"], 2);
    assert_eq!(report["test_changes"], "noise gaussian:0.3");
    assert!(
        report["dead_code_units"].as_u64().unwrap() <= 32,
        "{report}"
    );
    assert_eq!(report["techniques"]["noise"]["kind"], "gaussian");
    for key in ["noisy_psnr_db", "noisy_ssim", "psnr_db", "ssim"] {
        assert!(report[key].as_f64().unwrap().is_finite(), "{key}: {report}");
    }
    // The noisy inputs of σ = 0.3 are about 10 dB away from the clean images.
    let noisy_psnr = report["noisy_psnr_db"].as_f64().unwrap();
    assert!((9.0..15.0).contains(&noisy_psnr), "{noisy_psnr}");

    // The saved denoiser, measured on the same fixed-seed noise and on a moved test set.
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--model", "ffnn", "--limit", "500", "--json"];
        args.extend(["--weights", weights.to_str().unwrap()]);
        args.extend(extra);
        report_of(&args)
    };
    let noisy = eval(&["--noise", "gaussian:0.3"]);
    let again = eval(&["--noise", "gaussian:0.3"]);
    for key in ["test_mse", "noisy_psnr_db", "noisy_ssim", "ssim"] {
        assert_eq!(noisy[key], again[key], "{key}: the test noise is seeded");
    }
    assert!(noisy["noisy_psnr_db"].as_f64().is_some());
    let clean = eval(&[]);
    let moved = eval(&["--augment", "shift:3,rotate:20"]);
    assert!(clean["noisy_psnr_db"].is_null() && moved["noisy_psnr_db"].is_null());
    assert_eq!(moved["test_changes"], "augment shift:3,rotate:20");
    assert!(moved["test_mse"].as_f64() != clean["test_mse"].as_f64());

    // Noise made on the device: reported as such, measured on the host's fixed-seed noise.
    let on_device = train(&["--noise", "salt-pepper:0.2", "--noise-on", "device"]);
    assert_eq!(on_device["techniques"]["noise_on"], "device", "{on_device}");
    assert!(on_device["noisy_psnr_db"].as_f64().unwrap().is_finite());

    // The reference protocol reports no techniques.
    let plain = train(&[]);
    for key in ["techniques", "best_epoch", "stopped_early", "noisy_psnr_db"] {
        assert!(plain[key].is_null(), "{key}: {plain}");
    }
}

#[test]
fn bad_technique_settings_are_refused_with_one_line() {
    for (args, needle) in [
        (
            &["--noise", "gaussian:-0.1"][..],
            "gaussian noise needs 0 ≤ σ ≤ 10, not -0.1",
        ),
        (
            &["--noise", "salt-pepper:1.5"],
            "salt-pepper noise needs a fraction in [0, 1], not 1.5",
        ),
        (&["--noise", "speckle:0.1"], "unknown noise 'speckle'"),
        (&["--noise-on", "device"], "--noise"),
        (
            &["--noise", "mask:0.2", "--noise-on", "gpu"],
            "noise is made on 'host' or 'device', not 'gpu'",
        ),
        (&["--augment", "shear:2"], "unknown augmentation 'shear'"),
        (&["--early-stop", "0"], "patience of at least 1 epoch"),
        (&["--min-delta", "0.1"], "--early-stop"),
        (&["--loss", "mse+ssim:1.5"], "needs 0 ≤ α ≤ 1, not 1.5"),
        (
            &["--loss", "hinge"],
            "unknown loss 'hinge' (known: mse, mse+ssim:α, bce)",
        ),
        (
            &["--weight-decay=-1"],
            "weight decay needs a value ≥ 0, not -1",
        ),
        (
            &["--l1-code=nan"],
            "L1 code penalty needs a value ≥ 0, not NaN",
        ),
        (
            &["--kl-weight", "2"],
            "--kl-weight is a setting of the vae model, not ffnn",
        ),
    ] {
        let mut all = vec![
            "train", "--model", "ffnn", "--epochs", "1", "--limit", "100",
        ];
        all.extend(args);
        assert_clear_failure(&mnist_ae(&all), needle);
    }
    let output = mnist_ae(&[
        "eval",
        "--model",
        "ffnn",
        "--weights",
        "x.bin",
        "--noise",
        "mask:2",
    ]);
    assert_clear_failure(&output, "mask noise needs a fraction in [0, 1], not 2");
}

#[test]
fn sample_draws_a_row_per_weights_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.png");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [
        "weights/ffnn.bin",
        "weights/variants/ffnn-shift2-rotate10.bin",
    ]
    .map(|f| root.join(f).to_str().unwrap().to_string());
    let output = mnist_ae(&[
        "sample",
        "--weights",
        &files[0],
        &files[1],
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Ten columns and three rows (the test digits, then the two files) of 84-pixel digits
    // with 4-pixel gaps: the PNG header's width and height.
    let png = std::fs::read(&out).unwrap();
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (10 * 88 + 4, 3 * 88 + 4));

    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"not weights").unwrap();
    let output = mnist_ae(&[
        "sample",
        "--weights",
        garbage.to_str().unwrap(),
        "--out",
        "x.png",
    ]);
    assert_clear_failure(&output, "garbage.bin");
}

#[test]
fn latent_maps_the_codes_and_measures_how_they_keep_classes_apart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("map.png");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ffnn = root.join("weights/ffnn.bin");
    let ffnn = ffnn.to_str().unwrap();
    let common = [
        "latent",
        "--model",
        "ffnn",
        "--weights",
        ffnn,
        "--points",
        "600",
    ];
    let mut args = common.to_vec();
    args.extend(["--json", "--out", out.to_str().unwrap()]);
    let report = report_of(&args);
    assert_eq!(report["points"], 600);
    assert_eq!(report["code_size"], 32);
    assert_eq!(report["plane"], "principal components");
    let explained: Vec<f64> = serde_json::from_value(report["explained"].clone()).unwrap();
    assert!(
        explained[0] >= explained[1] && explained[0] + explained[1] < 1.0,
        "{report}"
    );
    // The trained codes keep digits apart far better than chance (0.1), better than any
    // 2-D picture of them can.
    let code = report["knn_accuracy_code"].as_f64().unwrap();
    let map = report["knn_accuracy_map"].as_f64().unwrap();
    assert!(code > 0.8 && map < code && map > 0.2, "{report}");
    assert_eq!(&std::fs::read(&out).unwrap()[1..4], b"PNG");

    let mut axes = common.to_vec();
    axes.extend(["--axes", "3,7", "--json"]);
    assert_eq!(report_of(&axes)["plane"], "code axes 3,7");
    for (bad, needle) in [
        ("3,32", "two different axes of 0–31"),
        ("3", "are not two numbers X,Y"),
    ] {
        let mut args = common.to_vec();
        args.extend(["--axes", bad]);
        assert_clear_failure(&mnist_ae(&args), needle);
    }
}

#[test]
fn a_two_number_code_trains_and_maps_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("deep2.bin");
    let weights = weights.to_str().unwrap();
    let report = report_of(&[
        "train",
        "--model",
        "deep",
        "--code-size",
        "2",
        "--epochs",
        "1",
        "--limit",
        "1000",
        "--out",
        weights,
        "--json",
    ]);
    assert_eq!(report["code_size"], 2, "{report}");
    let map = report_of(&[
        "latent",
        "--model",
        "deep",
        "--weights",
        weights,
        "--points",
        "300",
        "--json",
    ]);
    assert_eq!(
        (map["code_size"].as_u64(), map["plane"].as_str()),
        (Some(2), Some("code axes 0,1"))
    );
    // A 2-number code and its map are the same points.
    assert_eq!(map["knn_accuracy_code"], map["knn_accuracy_map"]);
    let bad = mnist_ae(&[
        "train",
        "--model",
        "upsample",
        "--code-size",
        "50",
        "--epochs",
        "1",
    ]);
    assert_clear_failure(
        &bad,
        "code size 50 is not valid (a convolutional code is channels × 7 × 7",
    );
}

#[test]
fn the_vae_trains_on_its_elbo_with_a_two_number_code() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("vae.bin");
    let weights = weights.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train", "--model", "vae", "--epochs", "2", "--limit", "2000", "--out", weights,
            "--json",
        ];
        args.extend(extra);
        report_of(&args)
    };
    let report = train(&[]);
    assert_eq!(
        (report["model"].as_str(), report["code_size"].as_u64()),
        (Some("vae"), Some(2)),
        "{report}"
    );
    // Its default loss is BCE (with the KL term: the negative ELBO), and the report says so.
    assert_eq!(report["techniques"]["loss"]["kind"], "bce", "{report}");
    assert!(report["test_mse"].as_f64().unwrap() < 0.08, "{report}");
    let heavy = train(&["--kl-weight", "4"]);
    assert_eq!(heavy["techniques"]["kl_weight"], 4.0, "{heavy}");
    // The codes are its μ: deterministic, so a map of them keeps classes apart better than chance.
    let map = report_of(&[
        "latent",
        "--model",
        "vae",
        "--weights",
        weights,
        "--points",
        "300",
        "--json",
    ]);
    assert!(map["knn_accuracy_code"].as_f64().unwrap() > 0.3, "{map}");
    // The manifold: decodes of a 6 × 6 grid over the prior, 2 × 28 pixels each.
    let png = dir.path().join("manifold.png");
    let png_arg = png.to_str().unwrap();
    let manifold = |model: &str, weights: &str, extra: &[&str]| {
        let mut args = vec![
            "manifold",
            "--model",
            model,
            "--weights",
            weights,
            "--grid",
            "6",
            "--out",
            png_arg,
            "--json",
        ];
        args.extend(extra);
        mnist_ae(&args)
    };
    let report = last_json(&manifold("vae", weights, &[]));
    assert_eq!(report["plane"], "prior N(0, I)", "{report}");
    let picture = image::open(&png).unwrap().into_luma8();
    assert_eq!(picture.dimensions(), (6 * 56, 6 * 56));
    // Not one digit drawn 36 times: the corners differ.
    let corner = |x: u32, y: u32| -> Vec<u8> {
        (0..56)
            .flat_map(|dy| (0..56).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| picture.get_pixel(x + dx, y + dy)[0])
            .collect()
    };
    assert_ne!(corner(0, 0), corner(5 * 56, 5 * 56));
    assert_clear_failure(
        &manifold("vae", weights, &["--span", "0"]),
        "--span 0: a positive number",
    );
    // Without a prior, the grid covers the plane of the test codes.
    let report = last_json(&manifold("ffnn", "weights/ffnn.bin", &["--points", "500"]));
    assert_eq!(
        report["plane"], "principal components of 500 test codes",
        "{report}"
    );
    let bad = mnist_ae(&["train", "--model", "vae", "--kl-weight=-1", "--epochs", "1"]);
    assert_clear_failure(&bad, "KL weight needs a value ≥ 0, not -1");
}

#[test]
fn plot_draws_the_curves_of_the_models_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("curves.png");
    let png = png.to_str().unwrap();
    let output = mnist_ae(&[
        "plot",
        "--out",
        png,
        "--models",
        "ffnn,deep",
        "weights/manifest.json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(image::image_dimensions(png).unwrap(), (900, 540));
    let none = mnist_ae(&[
        "plot",
        "--out",
        png,
        "--models",
        "vae",
        "weights/fashion-mnist/manifest.json",
    ]);
    assert_clear_failure(&none, "no runs of the models asked for");
    let unknown = mnist_ae(&[
        "plot",
        "--out",
        png,
        "--models",
        "resnet",
        "weights/manifest.json",
    ]);
    assert_clear_failure(&unknown, "unknown model 'resnet'");
}
