//! Shared helpers for the integration tests: the real MNIST in `static/mnist`.

// Each test crate uses part of these helpers.
#![allow(dead_code)]
#![cfg(not(target_family = "wasm"))]

use std::path::PathBuf;

use mnist_ae::data::Mnist;

/// The directory the data script fills.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static/mnist")
}

/// Loads the real MNIST, failing with the fix when it is missing.
pub fn mnist() -> Mnist {
    Mnist::load_dir(&data_dir()).unwrap_or_else(|e| panic!("{e}"))
}
