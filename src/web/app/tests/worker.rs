//! The controller and its training worker: runs, measurements and warm-ups in the worker,
//! and what the page does when the worker breaks or loses its WebGPU device.

use super::*;

#[test]
fn on_the_cpu_the_worker_trains_and_the_page_shows_its_weights() {
    let mut app = ready_app(BackendKind::Cpu);
    let effects = app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    assert!(matches!(effects[..], [Effect::SendWorkerData(_)]));
    let effects = app.update(Msg::Start(Ok(config(1))), 100.0);
    let [Effect::StartWorkerRun { id, grid, .. }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!((*id, grid.len()), (1, 20 * IMAGE_PIXELS));
    assert!(matches!(
        app.update(Msg::TogglePause, 200.0)[..],
        [Effect::PauseWorker(1)]
    ));
    assert!(matches!(
        app.update(Msg::TogglePause, 300.0)[..],
        [Effect::ResumeWorker(1)]
    ));
    let values = pollster::block_on(model().values()).unwrap();
    let weights = FromWorker::Weights {
        id: 1,
        values,
        reconstructions: vec![0.5; 20 * IMAGE_PIXELS],
    };
    assert!(app.update(Msg::Worker(weights), 400.0).is_empty());
    app.take_changes();
    let effects = app.update(
        Msg::Worker(FromWorker::Progress {
            id: 1,
            progress: progress(8, 1, 1),
        }),
        500.0,
    );
    // The worker measures the trained model too, off the main thread.
    assert!(
        matches!(effects[..], [Effect::EvaluateInWorker { count: 40, .. }]),
        "{effects:?}"
    );
    assert!(app.take_changes().intersects(Changes::MODEL));
    assert_eq!(
        app.model.grid_reconstructions.as_ref().map(Vec::len),
        Some(20 * IMAGE_PIXELS)
    );
    // A report of an older run changes nothing.
    let stale = FromWorker::Progress {
        id: 7,
        progress: progress(1, 0, 1),
    };
    assert!(app.update(Msg::Worker(stale), 600.0).is_empty());
    let measuring = FromWorker::Evaluating {
        done: 20,
        count: 40,
    };
    app.update(Msg::Worker(measuring), 700.0);
    assert_eq!(
        app.status,
        Status::Info("measuring on the test set: 20 / 40…".into())
    );
    app.update(Msg::Worker(FromWorker::Evaluated(Ok(metrics()))), 800.0);
    assert_eq!(app.metrics, Some((ModelKind::Ffnn, metrics())));
    assert_eq!(app.evaluating, None);
    assert!(app.take_changes().intersects(Changes::METRICS));
    // Metrics nobody asked for (now) change nothing.
    let late = FromWorker::Evaluated(Err("late".into()));
    assert!(app.update(Msg::Worker(late), 900.0).is_empty());
    assert_eq!(app.metrics, Some((ModelKind::Ffnn, metrics())));
}

#[test]
fn test_metrics_that_end_after_another_model_was_chosen_are_not_its_own() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    app.update(Msg::Evaluate, 10.0);
    app.update(Msg::ChooseModel(ModelKind::Upsample), 20.0);
    app.update(Msg::Worker(FromWorker::Evaluated(Ok(metrics()))), 30.0);
    assert_eq!(app.metrics, None);
    assert_eq!(app.evaluating, None);
    assert_eq!(
        app.status,
        Status::Info("ffnn's test metrics came after upsample was chosen: not shown".into())
    );
}

fn metrics() -> Metrics {
    Metrics {
        mse: 0.02,
        psnr_db: 17.0,
        ssim: 0.7,
        l2_per_image: 3.9,
        images: 40,
        input_psnr_db: None,
        input_ssim: None,
    }
}

#[test]
fn a_measurement_the_worker_cannot_finish_goes_on_on_the_page() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    let effects = app.update(Msg::Evaluate, 10.0);
    assert!(
        matches!(effects[..], [Effect::EvaluateInWorker { count: 40, .. }]),
        "{effects:?}"
    );
    // Asked again while it runs: nothing new starts.
    assert!(app.update(Msg::Evaluate, 20.0).is_empty());
    let effects = app.update(Msg::WorkerBroken("out of memory".into()), 30.0);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Evaluate { count: 40, .. })),
        "{effects:?}"
    );
    assert_eq!(app.evaluating, Some(Evaluator::Page));
}

#[test]
fn a_worker_silent_for_too_long_is_taken_as_gone() {
    let mut app = ready_app(BackendKind::Cpu);
    // Not yet ready (its module still compiling): silence is no sign.
    assert!(!app.worker_silent(1e9));
    app.update(Msg::Worker(cpu_worker_ready()), 1000.0);
    app.update(
        Msg::Worker(FromWorker::Alive {
            memory_bytes: 1 << 20,
        }),
        5000.0,
    );
    assert_eq!(app.worker_memory, Some(1 << 20));
    assert!(!app.worker_silent(5000.0 + WORKER_SILENCE_MS));
    assert!(app.worker_silent(5001.0 + WORKER_SILENCE_MS));
    // Once reported broken it is no longer watched.
    app.update(
        Msg::WorkerBroken("it said nothing for 15 s".into()),
        30_000.0,
    );
    assert!(!app.worker_silent(1e9));
}

#[test]
fn a_broken_worker_ends_its_run_and_later_runs_train_on_the_page() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    app.update(Msg::Start(Ok(config(1))), 0.0);
    let effects = app.update(
        Msg::WorkerBroken("worker.js could not be loaded".into()),
        10.0,
    );
    assert_eq!(app.run.name(), "error");
    assert_eq!(
        app.status,
        Status::Error("the training worker stopped: worker.js could not be loaded".into())
    );
    // The worker is closed; the page now warms up its own engine and trains there.
    assert!(
        matches!(effects[..], [Effect::CloseWorker, Effect::WarmUp { .. }]),
        "{effects:?}"
    );
    // A second report of the same failure changes nothing.
    assert!(
        app.update(Msg::WorkerBroken("again".into()), 15.0)
            .is_empty()
    );
    let effects = app.update(Msg::Start(Ok(config(1))), 20.0);
    assert!(matches!(
        effects[..],
        [Effect::StartPageRun { id: 2, .. }, Effect::NextFrame(2)]
    ));
}

#[test]
fn on_webgpu_a_worker_with_its_own_device_trains_and_a_copy_of_its_weights_is_kept() {
    let mut app = ready_app(BackendKind::WebGpu);
    let effects = app.update(Msg::Worker(gpu_worker_ready()), 0.0);
    // No warm-up on the page: runs go to the worker, which warms up itself.
    assert!(
        matches!(
            effects[..],
            [Effect::SendWorkerData(_), Effect::WarmUpWorker { .. }]
        ),
        "{effects:?}"
    );
    let effects = app.update(Msg::Start(Ok(config(1))), 100.0);
    let [
        Effect::StartWorkerRun {
            id: 1,
            backend: BackendKind::WebGpu,
            ..
        },
    ] = &effects[..]
    else {
        panic!("{effects:?}")
    };
    let values = pollster::block_on(model().values()).unwrap();
    let weights = FromWorker::Weights {
        id: 1,
        values,
        reconstructions: vec![0.5; 20 * IMAGE_PIXELS],
    };
    app.update(Msg::Worker(weights), 200.0);
    let effects = app.update(
        Msg::Worker(FromWorker::Progress {
            id: 1,
            progress: progress(8, 1, 1),
        }),
        300.0,
    );
    // The worker measures on its device too; the page keeps a CPU copy of what it shows.
    assert!(
        matches!(
            effects[..],
            [Effect::EvaluateInWorker {
                backend: BackendKind::WebGpu,
                count: 40,
                ..
            }]
        ),
        "{effects:?}"
    );
    assert_eq!(app.cpu_copy.as_ref().map(|c| c.of), Some(CopyOf::Step(8)));
}

#[test]
fn when_the_worker_loses_its_gpu_the_run_goes_on_and_later_webgpu_runs_train_on_the_page() {
    let mut app = ready_app(BackendKind::WebGpu);
    app.update(Msg::Worker(gpu_worker_ready()), 0.0);
    app.update(Msg::Start(Ok(config(2))), 100.0);
    let lost = FromWorker::GpuLost {
        reason: "device destroyed".into(),
        step: Some(5),
    };
    let effects = app.update(Msg::Worker(lost), 200.0);
    // The page gets ready to train WebGPU runs itself.
    assert!(
        matches!(effects[..], [Effect::WarmUp { .. }]),
        "{} effects",
        effects.len()
    );
    assert_eq!(
        app.status,
        Status::Error(
            "the training worker's WebGPU device was lost (device destroyed); training goes on on the CPU from the weights of step 5".into()
        )
    );
    assert_eq!(app.worker_webgpu, None);
    assert_eq!(app.run.name(), "training");
    app.update(
        Msg::Worker(FromWorker::Progress {
            id: 1,
            progress: progress(16, 2, 2),
        }),
        300.0,
    );
    assert_eq!(app.run.name(), "done");
    let effects = app.update(Msg::Start(Ok(config(1))), 400.0);
    assert!(
        matches!(
            effects[..],
            [Effect::StartPageRun { .. }, Effect::NextFrame(2)]
        ),
        "{effects:?}"
    );
}

/// The warm-ups among `effects`, as (model, batch size, in the worker).
fn warm_ups(effects: &[Effect]) -> Vec<(ModelKind, usize, bool)> {
    effects
        .iter()
        .filter_map(|effect| match *effect {
            Effect::WarmUp {
                kind, batch_size, ..
            } => Some((kind, batch_size, false)),
            Effect::WarmUpWorker { kind, batch_size } => Some((kind, batch_size, true)),
            _ => None,
        })
        .collect()
}

#[test]
fn on_webgpu_the_worker_warms_up_each_model_once_before_its_runs() {
    let mut app = ready_app(BackendKind::WebGpu);
    let effects = app.update(Msg::Worker(gpu_worker_ready()), 0.0);
    assert!(
        matches!(effects[..], [Effect::SendWorkerData(_), _]),
        "{effects:?}"
    );
    assert_eq!(warm_ups(&effects), [(ModelKind::Ffnn, 20, true)]);
    // Another model: at its reference batch size, which the form now suggests.
    let effects = app.update(Msg::ChooseModel(ModelKind::Deep), 10.0);
    assert_eq!(warm_ups(&effects), [(ModelKind::Deep, 100, true)]);
    // Back to a model the worker has compiled: nothing to do.
    let effects = app.update(Msg::ChooseModel(ModelKind::Ffnn), 20.0);
    assert_eq!(warm_ups(&effects), []);
}

#[test]
fn on_webgpu_a_new_batch_size_in_the_form_is_warmed_up_once() {
    let mut app = ready_app(BackendKind::WebGpu);
    app.update(Msg::Worker(gpu_worker_ready()), 0.0);
    // burn compiles kernels per shape: a run at 64 would compile again.
    let effects = app.update(Msg::ChooseBatchSize(64), 10.0);
    assert_eq!(warm_ups(&effects), [(ModelKind::Ffnn, 64, true)]);
    assert_eq!(warm_ups(&app.update(Msg::ChooseBatchSize(64), 20.0)), []);
    assert_eq!(warm_ups(&app.update(Msg::ChooseBatchSize(20), 30.0)), []);
    // Not a batch size the form takes, or a run under way: nothing.
    assert_eq!(warm_ups(&app.update(Msg::ChooseBatchSize(0), 40.0)), []);
    assert_eq!(warm_ups(&app.update(Msg::ChooseBatchSize(5000), 40.0)), []);
    app.update(Msg::Start(Ok(config(1))), 50.0);
    assert_eq!(warm_ups(&app.update(Msg::ChooseBatchSize(32), 60.0)), []);
    assert_eq!(app.batch_size, 20);
}

#[test]
fn on_the_cpu_the_page_warms_up_once_per_model_at_a_small_batch() {
    // Without a worker the page trains, and warms up its wasm code with a batch of 2.
    let mut app = ready_app(BackendKind::Cpu);
    let effects = app.update(
        Msg::WorkerBroken("worker.js could not be loaded".into()),
        0.0,
    );
    assert_eq!(warm_ups(&effects), [(ModelKind::Ffnn, 2, false)]);
    assert_eq!(warm_ups(&app.update(Msg::ChooseBatchSize(64), 10.0)), []);
}

#[test]
fn on_the_cpu_the_worker_needs_no_warm_up() {
    let mut app = ready_app(BackendKind::Cpu);
    let effects = app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    assert!(
        matches!(effects[..], [Effect::SendWorkerData(_)]),
        "{effects:?}"
    );
}

#[test]
fn a_denoising_run_sends_corrupted_grid_digits_and_the_grid_shows_its_noise() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    let noise: crate::data::Corruption = "salt-pepper:0.3".parse().unwrap();
    // The form's corruption is shown before any run.
    app.take_changes();
    app.update(Msg::ChooseNoise(Some(noise)), 10.0);
    assert!(app.take_changes().intersects(Changes::NOISE));
    assert_eq!(app.noise, Some(noise));
    let clean = app.loaded().unwrap().grid_pixels();

    let mut denoising = config(1);
    denoising.techniques.noise = Some(noise);
    let effects = app.update(Msg::Start(Ok(denoising)), 100.0);
    let [Effect::StartWorkerRun { grid, config, .. }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(config.techniques.noise, Some(noise));
    assert_eq!(grid.len(), clean.len());
    let changed = grid.iter().zip(&clean).filter(|(a, b)| a != b).count();
    assert!(
        changed > clean.len() / 10,
        "{changed} of {} pixels corrupted",
        clean.len()
    );
    // The same digits as the grid view corrupts for itself: seeded by test index.
    assert_eq!(grid, &app.loaded().unwrap().grid_inputs(Some(noise)));
    // While it trains, the form cannot change what the grid shows.
    app.update(Msg::ChooseNoise(None), 200.0);
    assert_eq!(app.noise, Some(noise));
}
