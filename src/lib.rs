//! A lab for MNIST autoencoders built on burn: the same library trains natively (the
//! `mnist-ae` CLI) and in the browser (WebAssembly, WebGPU or CPU).
//!
//! - [`data`]: IDX reader, MNIST in memory, seeded split and batches.
//! - [`model`]: the four autoencoders (`ffnn`, `conv-transpose`, `upsample`, `deep`).
//! - [`training`]: the one-batch-per-call training engine.
//! - [`metrics`]: MSE, PSNR, SSIM and per-image L2.
//! - [`weights`]: self-describing weights files.
//! - [`cli`], `figures` (native only): the `mnist-ae` command line and the README's figures.
//! - `web` (wasm only): the browser lab's DOM, canvas and scheduling layer.

pub mod data;
pub mod metrics;
pub mod model;
pub mod training;
pub mod weights;

#[cfg(not(target_family = "wasm"))]
pub mod cli;
#[cfg(not(target_family = "wasm"))]
pub mod figures;

#[cfg(target_family = "wasm")]
mod web;
