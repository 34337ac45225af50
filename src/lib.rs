//! A lab for MNIST autoencoders built on burn: the same library trains natively (the
//! `mnist-ae` CLI) and in the browser (WebAssembly, WebGPU or CPU).
//!
//! - [`data`]: the dataset catalog (`static/datasets.json`), IDX reader, image sets in
//!   memory, seeded split and batches.
//! - [`model`]: the four autoencoders (`ffnn`, `conv-transpose`, `upsample`, `deep`) and
//!   asynchronous read-back of results.
//! - [`training`]: the training engine, advanced in caller-sized chunks.
//! - [`metrics`]: MSE, PSNR, SSIM and per-image L2.
//! - [`explore`]: looking inside a model: its codes on a plane, their k-NN accuracy.
//! - [`weights`]: self-describing weights files.
//! - [`sniff`]: what a file that is not the one expected is, for error messages.
//! - [`cli`], `figures` (native only): the `mnist-ae` command line and the README's figures.
//! - `web` (wasm; its controller also natively, for tests): the browser lab.

pub mod data;
pub mod explore;
pub mod metrics;
pub mod model;
pub mod sniff;
pub mod training;
pub mod weights;

#[cfg(not(target_family = "wasm"))]
pub mod cli;
#[cfg(not(target_family = "wasm"))]
pub mod figures;

// The page's controller also compiles natively, for its tests (and the worker protocol for
// the fuzz targets in `fuzz/`, which cargo-fuzz builds with `--cfg fuzzing`).
#[cfg(any(target_family = "wasm", test, fuzzing))]
mod web;

/// The worker protocol's messages, for the fuzz targets.
#[cfg(fuzzing)]
pub mod fuzzing {
    pub use crate::web::protocol::{Array, FromWorker, Message, ToWorker};
}
