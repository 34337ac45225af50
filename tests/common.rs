//! Shared helpers for the integration tests: the real MNIST in `static/mnist` (and
//! Fashion-MNIST in `static/fashion-mnist`).

// Each test crate uses part of these helpers.
#![allow(dead_code)]
#![cfg(not(target_family = "wasm"))]

use std::path::PathBuf;

use mnist_ae::data::{Catalog, Dataset, TrainTest};

pub fn mnist_dataset() -> &'static Dataset {
    Catalog::builtin().get("mnist").unwrap()
}

/// The directory the data script fills.
pub fn data_dir() -> PathBuf {
    dataset_dir(mnist_dataset())
}

fn dataset_dir(dataset: &Dataset) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("static")
        .join(&dataset.dir)
}

/// Loads the real MNIST, failing with the fix when it is missing.
pub fn mnist() -> TrainTest {
    load("mnist")
}

/// Loads the catalog's dataset `id` from where the data script puts it.
pub fn load(id: &str) -> TrainTest {
    let dataset = Catalog::builtin().get(id).unwrap();
    TrainTest::load_dir(dataset, &dataset_dir(dataset)).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that a `mnist-ae bench` JSON line holds positive, finite figures and at least one step.
pub fn assert_bench_figures(line: &serde_json::Value) {
    for key in [
        "train_images_per_sec",
        "inference_images_per_sec",
        "first_step_ms",
        "seconds",
    ] {
        let value = line[key].as_f64().unwrap_or(f64::NAN);
        assert!(value.is_finite() && value > 0.0, "{key}: {line}");
    }
    assert!(line["steps"].as_u64().unwrap() >= 1, "{line}");
}
