//! The engine's unit tests (native: pollster drives the async engine).

use super::*;
use crate::model::ModelConfig;
use device_noise::NoisePlace;
use pollster::block_on;

/// The backend's random generator is global (seeded by `Trainer::new`, drawn from by model
/// initialisation and device noise): these tests, whose runs must repeat exactly or which
/// draw much from it (`deep`'s 2.8 M initial weights), take turns.
fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tiny_set(n: usize) -> Arc<ImageSet> {
    // Synthetic strokes: a bright bar whose row depends on the index.
    let mut pixels = vec![0u8; n * IMAGE_PIXELS];
    for i in 0..n {
        let row = 4 + i % 20;
        for col in 6..22 {
            pixels[i * IMAGE_PIXELS + row * 28 + col] = 255;
        }
    }
    Arc::new(ImageSet::new(pixels, vec![0; n]).unwrap())
}

fn small_config(epochs: usize) -> TrainConfig {
    let mut config = TrainConfig::new(ModelKind::Ffnn);
    config.epochs = epochs;
    config.batch_size = 16;
    config
}

/// 100 images split 80 / 20: 5 training batches of 16 and 2 validation batches of 10
/// per epoch.
fn small_run(config: TrainConfig) -> Trainer {
    Trainer::new(config, tiny_set(100), Device::flex())
        .unwrap()
        .with_validation_batch(10)
}

/// Advances to the end, reading back after every `window` batches.
fn run_to_end(trainer: &mut Trainer, window: usize) -> Result<Vec<EpochRecord>, TrainError> {
    let mut records = Vec::new();
    while !trainer.is_finished() {
        records.extend(block_on(trainer.advance(|n| n < window))?);
    }
    Ok(records)
}

#[test]
fn steps_phases_and_epochs_add_up() {
    let _turn = take_turn();
    let mut trainer = small_run(small_config(2));
    assert_eq!(
        (trainer.steps_per_epoch(), trainer.validation_steps()),
        (5, 2)
    );
    let epochs = run_to_end(&mut trainer, 3).unwrap();
    assert_eq!(trainer.global_step(), 10);
    assert_eq!(epochs.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2]);
    assert!(epochs.iter().all(|r| r.train_mse > 0.0 && r.val_mse > 0.0));
    assert_eq!(trainer.history(), &epochs[..]);
    assert_eq!(trainer.fraction(), 1.0);
    let progress = trainer.progress();
    assert_eq!(
        (progress.step, progress.epoch, progress.finished),
        (10, 2, true)
    );
    // A finished run does nothing more.
    assert_eq!(block_on(trainer.advance(|_| true)).unwrap(), None);
    assert_eq!(trainer.global_step(), 10);
    let unbatched = small_run(small_config(1)).with_validation_batch(0);
    assert_eq!(unbatched.validation_steps(), 20);
}

#[test]
fn advance_honours_go_on_and_stops_at_the_end_of_an_epoch() {
    let _turn = take_turn();
    let mut trainer = small_run(small_config(2));
    let mut asked = Vec::new();
    let mut three = |n: usize| {
        asked.push(n);
        n < 3
    };
    assert_eq!(block_on(trainer.advance(&mut three)).unwrap(), None);
    assert_eq!((trainer.global_step(), trainer.phase()), (3, Phase::Train));
    // Two training batches, then the first validation batch.
    assert_eq!(block_on(trainer.advance(&mut three)).unwrap(), None);
    assert_eq!(
        (trainer.global_step(), trainer.phase()),
        (5, Phase::Validate)
    );
    assert_eq!(asked, [1, 2, 3, 1, 2, 3]);
    // The last validation batch ends the epoch, though `go_on` would go on.
    let record = block_on(trainer.advance(|_| true)).unwrap();
    assert_eq!(record.map(|r| r.epoch), Some(1));
    assert_eq!((trainer.global_step(), trainer.phase()), (5, Phase::Train));
}

#[test]
fn losses_do_not_depend_on_how_often_they_are_read_back() {
    let _turn = take_turn();
    let model = ModelConfig::new(ModelKind::Ffnn)
        .init(&Device::flex())
        .unwrap();
    let histories = [1, usize::MAX].map(|window| {
        let config = small_config(2);
        let data = tiny_set(100);
        let mut trainer = Trainer::with_model(config, data, Device::flex(), model.clone())
            .with_validation_batch(10);
        run_to_end(&mut trainer, window).unwrap()
    });
    assert_eq!((histories[0].len(), histories[1].len()), (2, 2));
    let close = |a: f64, b: f64| (a - b).abs() <= a.abs() * 1e-5;
    for (every_batch, per_epoch) in histories[0].iter().zip(&histories[1]) {
        assert!(
            close(every_batch.train_mse, per_epoch.train_mse)
                && close(every_batch.val_mse, per_epoch.val_mse),
            "{every_batch:?} vs {per_epoch:?}"
        );
    }
}

#[test]
fn divergence_stops_and_keeps_finite_weights() {
    let _turn = take_turn();
    let mut config = TrainConfig::new(ModelKind::Ffnn);
    config.learning_rate = 1e37;
    config.batch_size = 8;
    let mut trainer = Trainer::new(config, tiny_set(200), Device::flex()).unwrap();
    let err = run_to_end(&mut trainer, 1).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("diverged"));
    assert!(trainer.is_finished());
    // The restored weights still give a finite reconstruction.
    let images = tiny_set(4).batch(&[0, 1, 2, 3], &Device::flex());
    let out = trainer.model().valid().forward(images).into_data();
    assert!(
        out.try_to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|v| v.is_finite())
    );
}

#[test]
fn a_run_continues_from_a_copy_of_its_weights() {
    let _turn = take_turn();
    let mut config = small_config(3);
    config.learning_rate = 1e-2;
    let mut trainer = small_run(config);
    block_on(trainer.advance(|_| true)).unwrap();
    // Into the second epoch's validation pass, its first batch's error still on the device.
    block_on(trainer.advance(|n| n < 6)).unwrap();
    assert_eq!((trainer.epoch(), trainer.phase()), (1, Phase::Validate));
    let copy = block_on(trainer.model().copy_to(&Device::flex())).unwrap();
    let (step, history) = (trainer.global_step(), trainer.history().to_vec());

    trainer.continue_on(Device::flex(), copy);
    assert_eq!(
        (trainer.global_step(), trainer.history()),
        (step, &history[..])
    );
    assert_eq!(
        (trainer.phase(), trainer.fraction() < 1.0),
        (Phase::Validate, true)
    );
    run_to_end(&mut trainer, 2).unwrap();
    // Every epoch recorded once, the validation pass of epoch 2 re-run in full.
    assert_eq!(trainer.global_step(), 15);
    let epochs: Vec<usize> = trainer.history().iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, [1, 2, 3]);
    assert!(trainer.history()[2].train_mse < history[0].train_mse);
}

#[test]
fn bad_settings_are_refused() {
    let _turn = take_turn();
    let data = tiny_set(10);
    for change in [
        |c: &mut TrainConfig| c.epochs = 0,
        |c: &mut TrainConfig| c.batch_size = 0,
        |c: &mut TrainConfig| c.learning_rate = -1.0,
        |c: &mut TrainConfig| c.learning_rate = f64::NAN,
        |c: &mut TrainConfig| c.train_limit = Some(0),
        |c: &mut TrainConfig| c.techniques.weight_decay = -0.1,
        |c: &mut TrainConfig| c.techniques.l1_code = f64::INFINITY,
        // A KL term only the VAE has.
        |c: &mut TrainConfig| c.techniques.kl_weight = techniques::KlWeight(2.0),
        |c: &mut TrainConfig| {
            c.techniques.early_stop = Some(early_stop::EarlyStop {
                patience: 0,
                min_delta: 0.0,
            })
        },
        |c: &mut TrainConfig| {
            c.techniques.noise = Some(crate::data::Corruption::Mask { fraction: 2.0 })
        },
    ] {
        let mut config = TrainConfig::new(ModelKind::Ffnn);
        change(&mut config);
        assert!(matches!(
            Trainer::new(config, data.clone(), Device::flex()),
            Err(TrainError::Config(_))
        ));
    }
}

/// Every parameter's values, in order.
fn weights(model: &Model) -> Vec<f32> {
    block_on(model.values()).unwrap()
}

#[test]
fn early_stopping_stops_and_keeps_the_best_epoch() {
    let _turn = take_turn();
    // `deep` has batch norm: its running statistics must be the best epoch's too.
    for kind in [ModelKind::Ffnn, ModelKind::Deep] {
        let mut config = small_config(6);
        config.model = ModelConfig::new(kind);
        // No later epoch can beat the first by 1.0: patience 2 ends the run after epoch 3.
        config.techniques.early_stop = Some(early_stop::EarlyStop {
            patience: 2,
            min_delta: 1.0,
        });
        let mut trainer = small_run(config);
        let first = block_on(trainer.advance(|_| true)).unwrap().unwrap();
        assert_eq!(first.epoch, 1);
        let best = weights(trainer.model());
        run_to_end(&mut trainer, 4).unwrap();
        let progress = trainer.progress();
        assert_eq!(progress.history.len(), 3);
        assert_eq!(
            (progress.best_epoch, progress.stopped_early),
            (Some(1), true)
        );
        assert!(
            weights(trainer.model()) == best,
            "{kind}: the best epoch's weights and statistics are kept"
        );
        assert!(trainer.is_finished());
    }

    // Without a stop, the run still ends on its best epoch's weights.
    let mut config = small_config(3);
    config.techniques.early_stop = Some(early_stop::EarlyStop {
        patience: 5,
        min_delta: 0.0,
    });
    let mut trainer = small_run(config);
    run_to_end(&mut trainer, 4).unwrap();
    let progress = trainer.progress();
    assert!(!progress.stopped_early);
    let best = progress.best_epoch.unwrap();
    let lowest = progress
        .history
        .iter()
        .min_by(|a, b| a.val_mse.total_cmp(&b.val_mse))
        .unwrap();
    assert_eq!(best, lowest.epoch);
}

#[test]
fn denoising_and_augmented_runs_train_on_changed_inputs() {
    let _turn = take_turn();
    let plain = run_to_end(&mut small_run(small_config(2)), 5).unwrap();
    for (noise, augment) in [
        (Some("gaussian:0.3"), "none"),
        (Some("block:0.25"), "shift:2,rotate:10"),
        (None, "shift:2,rotate:10,scale:0.1"),
    ] {
        let mut config = small_config(2);
        config.techniques.noise = noise.map(|n| n.parse().unwrap());
        config.techniques.augment = augment.parse().unwrap();
        let records = run_to_end(&mut small_run(config.clone()), 5).unwrap();
        assert_eq!(records.len(), 2);
        assert!(
            records
                .iter()
                .all(|r| r.val_mse.is_finite() && r.train_mse.is_finite())
        );
        assert_ne!(records, plain, "{noise:?} {augment}: the inputs changed");
        // Seeded: the same run again gives the same losses.
        assert_eq!(run_to_end(&mut small_run(config), 5).unwrap(), records);
    }
}

#[test]
fn noise_made_on_the_device_trains_on_changed_inputs() {
    let _turn = take_turn();
    let plain = run_to_end(&mut small_run(small_config(2)), 5).unwrap();
    for (noise, augment) in [("salt-pepper:0.2", "none"), ("block:0.25", "shift:2")] {
        let mut config = small_config(2);
        config.techniques.noise = Some(noise.parse().unwrap());
        config.techniques.noise_on = NoisePlace::Device;
        config.techniques.augment = augment.parse().unwrap();
        let records = run_to_end(&mut small_run(config), 5).unwrap();
        assert_eq!(records.len(), 2);
        assert!(records.iter().all(|r| r.train_mse.is_finite()));
        // The backend's generator is shared by the tests running beside this one: the
        // runs are not compared with each other, only with the plain one.
        assert_ne!(records, plain, "{noise} on the device: the inputs changed");
    }
}

#[test]
fn weight_decay_shrinks_the_weights_and_l1_the_code() {
    let _turn = take_turn();
    let norm = |values: &[f32]| values.iter().map(|v| f64::from(v * v)).sum::<f64>().sqrt();
    let trained = |change: fn(&mut TrainConfig)| {
        let mut config = small_config(2);
        change(&mut config);
        let mut trainer = small_run(config);
        run_to_end(&mut trainer, 5).unwrap();
        trainer
    };
    let plain = trained(|_| {});
    let decayed = trained(|c| c.techniques.weight_decay = 50.0);
    assert!(norm(&weights(decayed.model())) < 0.95 * norm(&weights(plain.model())));

    let code_size = |trainer: &Trainer| {
        let images = tiny_set(20).batch(&(0..20).collect::<Vec<_>>(), &Device::flex());
        let model = trainer.model().valid();
        let code = model.encode(images).abs().mean();
        code.into_data().try_to_vec::<f32>().unwrap()[0]
    };
    let sparse = trained(|c| c.techniques.l1_code = 1.0);
    assert!(code_size(&sparse) < 0.8 * code_size(&plain));
}

#[test]
fn the_vae_trains_on_bce_and_its_kl_term() {
    let _turn = take_turn();
    let trained = |kl_weight: f64| {
        let mut config = TrainConfig::new(ModelKind::Vae);
        assert_eq!(config.techniques.loss, loss::Loss::Bce);
        config.epochs = 6;
        config.batch_size = 16;
        config.learning_rate = 1e-2;
        config.techniques.kl_weight = techniques::KlWeight(kl_weight);
        let mut trainer = small_run(config);
        let history = run_to_end(&mut trainer, 5).unwrap();
        (trainer, history)
    };
    let (free, history) = trained(0.0);
    // The training loss (BCE, then + KL) halves; the validation MSE of the codes' decodes falls.
    assert!(
        history[5].train_mse < 0.5 * history[0].train_mse,
        "{history:?}"
    );
    assert!(history[5].val_mse < 0.9 * history[0].val_mse, "{history:?}");
    // The spread of the codes (μ) over the images: free to grow without the KL term, held
    // near the prior's centre by a heavy one.
    let spread = |trainer: &Trainer| {
        let images = tiny_set(20).batch(&(0..20).collect::<Vec<_>>(), &Device::flex());
        let code = trainer.model().valid().encode(images);
        code.clone()
            .sub(code.mean_dim(0))
            .square()
            .mean()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()[0]
    };
    let (held, _) = trained(50.0);
    assert!(
        spread(&held) < 0.2 * spread(&free),
        "{} vs {}",
        spread(&held),
        spread(&free)
    );
}
