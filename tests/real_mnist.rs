//! The data pipeline and the training engine on the real MNIST (and Fashion-MNIST's files).
#![cfg(not(target_family = "wasm"))] // native: real files, the CLI binary, pollster

mod common;

use burn::tensor::Device;
use mnist_ae::data::{IMAGE_PIXELS, Split};
use mnist_ae::metrics::evaluate;
use mnist_ae::model::ModelKind;
use mnist_ae::training::{TrainConfig, Trainer};

#[test]
fn real_mnist_has_the_canonical_counts_and_statistics() {
    let mnist = common::mnist();
    assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
    let histogram = |set: &mnist_ae::data::ImageSet| {
        let mut counts = [0usize; 10];
        (0..set.len()).for_each(|i| counts[set.label(i) as usize] += 1);
        counts
    };
    assert_eq!(
        histogram(&mnist.train),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        histogram(&mnist.test),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let total: u64 = (0..mnist.train.len())
        .flat_map(|i| mnist.train.image(i).iter().map(|&p| u64::from(p)))
        .sum();
    let mean = total as f64 / (60_000.0 * IMAGE_PIXELS as f64 * 255.0);
    assert!((mean - 0.1307).abs() < 5e-5, "mean pixel {mean}");
}

#[test]
fn fashion_mnist_has_six_thousand_of_each_class() {
    let fashion = common::load("fashion-mnist");
    assert_eq!((fashion.train.len(), fashion.test.len()), (60_000, 10_000));
    for (set, each) in [(&fashion.train, 6_000), (&fashion.test, 1_000)] {
        let mut counts = [0usize; 10];
        (0..set.len()).for_each(|i| counts[set.label(i) as usize] += 1);
        assert_eq!(counts, [each; 10]);
    }
    let total: u64 = (0..fashion.train.len())
        .flat_map(|i| fashion.train.image(i).iter().map(|&p| u64::from(p)))
        .sum();
    let mean = total as f64 / (60_000.0 * IMAGE_PIXELS as f64 * 255.0);
    assert!((mean - 0.2860).abs() < 5e-5, "mean pixel {mean}");
}

/// Trains `kind` briefly on a real subset; returns (val MSE before, epoch records).
fn short_run(
    kind: ModelKind,
    limit: usize,
    epochs: usize,
) -> (f64, Vec<mnist_ae::training::EpochRecord>) {
    let mnist = common::mnist();
    let device = Device::flex();
    let mut config = TrainConfig::new(kind);
    config.train_limit = Some(limit);
    config.epochs = epochs;
    let mut trainer = Trainer::new(config.clone(), mnist.train.clone(), device.clone()).unwrap();
    let validation = Split::new(60_000, config.seed, Some(limit)).validation;
    let before = pollster::block_on(evaluate(
        trainer.model(),
        &mnist.train,
        &validation,
        250,
        &device,
    ))
    .unwrap()
    .mse;
    while !trainer.is_finished() {
        pollster::block_on(trainer.advance(|batches| batches < 10)).unwrap();
    }
    (before, trainer.history().to_vec())
}

#[test]
fn ffnn_loss_falls_on_a_real_subset() {
    let (before, history) = short_run(ModelKind::Ffnn, 2_000, 2);
    assert_eq!(history.len(), 2);
    assert!(
        history[0].val_mse < before * 0.8,
        "{before} → {:?}",
        history[0]
    );
    assert!(history[1].train_mse < history[0].train_mse, "{history:?}");
    assert!(history[1].val_mse < history[0].val_mse, "{history:?}");
}

#[test]
fn upsample_trains_off_the_all_black_plateau() {
    // The seed notebook's upsample model never left 0.112 (an all-black output).
    let (_, history) = short_run(ModelKind::Upsample, 2_000, 1);
    assert!(history[0].val_mse < 0.09, "{history:?}");
}

#[test]
fn deep_model_trains_with_batch_norm() {
    let (before, history) = short_run(ModelKind::Deep, 1_000, 2);
    assert!(history[1].val_mse < before, "{before} → {history:?}");
    assert!(history[1].val_mse < 0.08, "{history:?}");
}
