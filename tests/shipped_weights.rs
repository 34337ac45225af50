//! Every file in each dataset's weights folder (`weights/`, `weights/fashion-mnist/`) loads
//! into its model and reproduces the test MSE its manifest records.
#![cfg(not(target_family = "wasm"))] // native: real files, the CLI binary, pollster

mod common;

use burn::tensor::Device;
use mnist_ae::data::Catalog;
use mnist_ae::metrics::evaluate;
use mnist_ae::model::ModelKind;
use mnist_ae::weights;

fn shipped_weights_reproduce_their_manifest(dataset_id: &str) {
    let dataset = Catalog::builtin().get(dataset_id).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&dataset.weights_dir);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let entries = manifest["models"].as_array().unwrap();
    // One per autoencoder, and the VAE where it is shipped (MNIST).
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["model"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..4], ["ffnn", "conv-transpose", "upsample", "deep"]);
    assert!(kinds.len() == 4 || kinds[4..] == ["vae"], "{kinds:?}");
    let sets = common::load(dataset_id);
    let device = Device::flex();
    let first_1000: Vec<usize> = (0..1000).collect();
    for entry in entries {
        let kind: ModelKind = entry["model"].as_str().unwrap().parse().unwrap();
        let bytes = std::fs::read(dir.join(entry["file"].as_str().unwrap())).unwrap();
        assert_eq!(
            bytes.len() as u64,
            entry["bytes"].as_u64().unwrap(),
            "{kind} size"
        );
        let (model, header) = weights::from_bytes_for(&bytes, kind, &device).unwrap();
        assert_eq!(
            header.epochs, 20,
            "{kind}: shipped weights are the 20-epoch ones"
        );
        assert_eq!(
            header.dataset, dataset_id,
            "{kind}: trained on another dataset"
        );
        let measured = pollster::block_on(evaluate(&model, &sets.test, &first_1000, 500, &device))
            .unwrap()
            .mse;
        let recorded = entry["test_first_1000"]["test_mse"].as_f64().unwrap();
        assert!(
            (measured - recorded).abs() <= recorded * 0.01,
            "{dataset_id} {kind}: measured {measured}, manifest {recorded}"
        );
    }
}

#[test]
fn mnist_weights_reproduce_their_manifest() {
    shipped_weights_reproduce_their_manifest("mnist");
}

#[test]
fn fashion_mnist_weights_reproduce_their_manifest() {
    shipped_weights_reproduce_their_manifest("fashion-mnist");
}

/// The catalog's variants (the denoising `upsample`, the augmented `ffnn`) load and reproduce
/// their manifest's test MSE: on the test set corrupted by the CLI's fixed seed where the
/// variant removes a corruption, else on the clean test set.
#[test]
fn variant_weights_reproduce_their_manifest() {
    use mnist_ae::data::{Corruption, Perturbation};
    use mnist_ae::metrics::Evaluation;

    let mnist_dataset = common::mnist_dataset();
    assert!(!mnist_dataset.variants.is_empty());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("weights/variants/manifest.json")).unwrap(),
    )
    .unwrap();
    let mnist = common::mnist();
    let device = Device::flex();
    let all: Vec<usize> = (0..mnist.test.len()).collect();
    for variant in &mnist_dataset.variants {
        let kind: ModelKind = variant.model.parse().unwrap();
        let bytes = std::fs::read(root.join(&variant.file)).unwrap();
        let (model, header) = weights::from_bytes_for(&bytes, kind, &device).unwrap();
        assert_eq!(header.dataset, "mnist");
        let entry = manifest["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| variant.file.ends_with(e["file"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{} is not in the manifest", variant.file));
        let noise: Option<Corruption> = variant.noise.as_deref().map(|n| n.parse().unwrap());
        let perturbation = Perturbation::new(Default::default(), noise, 42);
        let mut evaluation =
            Evaluation::new(&model, &mnist.test, &all).with_perturbation(perturbation);
        while !evaluation.is_finished() {
            pollster::block_on(evaluation.measure(500, &device)).unwrap();
        }
        let measured = evaluation.metrics().mse;
        let recorded = entry["test_mse"].as_f64().unwrap();
        assert!(
            (measured - recorded).abs() <= recorded * 0.01,
            "{}: measured {measured}, manifest {recorded}",
            variant.name
        );
        if noise.is_some() {
            let noisy = evaluation.metrics().input_psnr_db.unwrap();
            assert!((noisy - entry["noisy_psnr_db"].as_f64().unwrap()).abs() < 0.01);
        }
    }
}
