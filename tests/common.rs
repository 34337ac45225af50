//! Shared helpers for the integration tests: the real MNIST in `static/mnist`.

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
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("static")
        .join(&mnist_dataset().dir)
}

/// Loads the real MNIST, failing with the fix when it is missing.
pub fn mnist() -> TrainTest {
    TrainTest::load_dir(mnist_dataset(), &data_dir()).unwrap_or_else(|e| panic!("{e}"))
}
