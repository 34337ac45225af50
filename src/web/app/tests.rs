//! The controller's transitions, natively: no browser, no DOM, a flex device standing in
//! for WebGPU where a test needs one.

use std::sync::Arc;

use burn::tensor::Device;

use super::*;
use crate::data::IMAGE_PIXELS;
use crate::training::{EpochRecord, Progress, TrainConfig};
use crate::web::device::CopyOf;
use crate::web::protocol::FromWorker;

fn sets() -> TrainTest {
    let set = |n: usize| {
        let pixels = (0..n * IMAGE_PIXELS).map(|i| (i % 251) as u8).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Arc::new(ImageSet::new(pixels, labels).unwrap())
    };
    TrainTest {
        train: set(100),
        test: set(40),
    }
}

fn backend(kind: BackendKind) -> Backend {
    Backend {
        kind,
        device: Device::flex(),
        label: "test".into(),
    }
}

/// A page on `kind` with the data loaded.
fn ready_app(kind: BackendKind) -> App {
    let device = match kind {
        BackendKind::WebGpu => DeviceState::WebGpu,
        BackendKind::Cpu => DeviceState::Cpu { unavailable: None },
    };
    let catalog = Catalog::builtin().clone();
    let mut app = App::new(backend(kind), device, catalog, ModelKind::Ffnn);
    app.update(Msg::CatalogLoaded(Err("offline".into())), 0.0);
    let effects = app.update(
        Msg::DataLoaded {
            dataset: "mnist".into(),
            result: Ok(sets()),
        },
        0.0,
    );
    assert!(matches!(effects[0], Effect::SpawnWorker), "{effects:?}");
    assert!(matches!(app.status, Status::Info(ref s) if s.starts_with("ready")));
    app
}

fn config(epochs: usize) -> TrainConfig {
    let mut config = TrainConfig::new(ModelKind::Ffnn);
    config.epochs = epochs;
    config.batch_size = 10;
    config
}

fn progress(step: usize, epochs_done: usize, epochs: usize) -> Progress {
    Progress {
        step,
        epoch: epochs_done,
        epochs,
        fraction: epochs_done as f64 / epochs as f64,
        images_seen: step * 10,
        train_images: 80,
        steps_per_epoch: 8,
        train_loss: Some(0.05),
        history: (1..=epochs_done)
            .map(|epoch| EpochRecord {
                epoch,
                train_mse: 0.05,
                val_mse: 0.06,
            })
            .collect(),
        finished: epochs_done == epochs,
    }
}

/// The worker is up, without a WebGPU device of its own.
fn cpu_worker_ready() -> FromWorker {
    FromWorker::Ready {
        webgpu: Err("no adapter".into()),
    }
}

fn model() -> Model {
    ModelConfig::new(ModelKind::Ffnn)
        .init(&Device::flex())
        .unwrap()
}

fn advanced(id: u64, progress: Progress) -> Msg {
    Msg::PageAdvanced(Box::new(PageAdvance {
        id,
        result: Ok(progress),
        model: model(),
        checkpoint: None,
    }))
}

#[test]
fn a_page_run_starts_pauses_resumes_and_finishes_with_an_evaluation() {
    let mut app = ready_app(BackendKind::WebGpu);
    let effects = app.update(Msg::Start(Ok(config(2))), 1000.0);
    assert!(matches!(
        effects[..],
        [Effect::StartPageRun { id: 1, .. }, Effect::NextFrame(1)]
    ));
    assert_eq!(app.run.name(), "training");
    assert!(matches!(
        app.update(Msg::Frame(1), 1016.0)[..],
        [Effect::AdvancePageRun(1)]
    ));
    // Paused while a frame's steps run: the frame chain stops after them.
    assert!(app.update(Msg::TogglePause, 1020.0).is_empty());
    assert_eq!(app.run.name(), "paused");
    assert!(
        app.update(advanced(1, progress(4, 0, 2)), 1030.0)
            .is_empty()
    );
    // Resume starts the frames again, exactly once.
    assert!(matches!(
        app.update(Msg::TogglePause, 5000.0)[..],
        [Effect::NextFrame(1)]
    ));
    assert!(app.update(Msg::Frame(1), 5016.0).len() == 1);
    let effects = app.update(advanced(1, progress(8, 1, 2)), 5030.0);
    assert!(matches!(effects[..], [Effect::NextFrame(1)]));
    assert_eq!(app.curves.validation, [(1.0, 0.06)]);
    assert!(
        app.take_changes()
            .intersects(Changes::CURVES | Changes::MODEL)
    );
    // The last frame ends the run and measures it on the test set.
    app.update(Msg::Frame(1), 5050.0);
    let effects = app.update(advanced(1, progress(16, 2, 2)), 5060.0);
    assert!(
        matches!(
            effects[..],
            [Effect::StopPageRun, Effect::Evaluate { count: 40, .. }]
        ),
        "{effects:?}"
    );
    assert_eq!(app.run.name(), "done");
    assert_eq!(app.model.origin, Origin::Trained { epochs: 2 });
    // Active time excludes the pause: 20 ms + 60 ms.
    let RunState::Finished(ended) = &app.run else {
        panic!("finished")
    };
    assert_eq!(ended.progress.step, 16);
}

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

fn metrics() -> Metrics {
    Metrics {
        mse: 0.02,
        psnr_db: 17.0,
        ssim: 0.7,
        l2_per_image: 3.9,
        images: 40,
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
    // The page now warms up its own engine and trains there.
    assert!(
        matches!(effects[..], [Effect::WarmUp { .. }]),
        "{effects:?}"
    );
    let effects = app.update(Msg::Start(Ok(config(1))), 20.0);
    assert!(matches!(
        effects[..],
        [Effect::StartPageRun { id: 2, .. }, Effect::NextFrame(2)]
    ));
}

#[test]
fn a_lost_device_moves_a_running_page_run_to_the_cpu_copy() {
    let mut app = ready_app(BackendKind::WebGpu);
    app.update(Msg::Start(Ok(config(3))), 0.0);
    app.update(Msg::Frame(1), 16.0);
    let advance = PageAdvance {
        id: 1,
        result: Ok(progress(8, 1, 3)),
        model: model(),
        checkpoint: Some((model(), 8)),
    };
    app.update(Msg::PageAdvanced(Box::new(advance)), 30.0);
    let effects = app.update(Msg::DeviceLost("Device was destroyed.".into()), 40.0);
    assert!(
        matches!(effects[..], [Effect::MovePageRun { .. }]),
        "{effects:?}"
    );
    assert_eq!(app.backend.kind, BackendKind::Cpu);
    assert_eq!(
        app.device,
        DeviceState::Lost {
            reason: "Device was destroyed.".into(),
            went_on_from: Some(CopyOf::Step(8)),
        }
    );
    assert!(matches!(&app.status, Status::Error(s) if s.ends_with("from the weights of step 8")));
    assert_eq!(app.run.name(), "training");
    // WebGPU stays off until a reload.
    app.update(Msg::Reset { epochs: 3 }, 50.0);
    app.update(Msg::ChooseBackend(BackendKind::WebGpu), 60.0);
    assert!(matches!(&app.status, Status::Error(s) if s.contains("reload the page")));
}

#[test]
fn a_device_lost_while_paused_resumes_on_the_cpu() {
    let mut app = ready_app(BackendKind::WebGpu);
    app.update(Msg::Start(Ok(config(2))), 0.0);
    app.update(Msg::Frame(1), 16.0);
    app.update(advanced(1, progress(4, 0, 2)), 30.0);
    app.update(Msg::TogglePause, 40.0);
    app.update(Msg::Frame(1), 50.0); // the pending frame sees the pause
    let effects = app.update(Msg::DeviceLost("gone".into()), 60.0);
    assert!(matches!(effects[..], [Effect::MovePageRun { .. }]));
    assert_eq!(app.run.name(), "paused");
    // No copy was made yet: the page says it goes on from fresh weights.
    assert!(matches!(&app.status, Status::Error(s) if s.ends_with("from fresh weights")));
    assert!(matches!(
        app.update(Msg::TogglePause, 70.0)[..],
        [Effect::NextFrame(1)]
    ));
}

#[test]
fn a_device_lost_while_idle_keeps_the_loaded_weights_on_the_cpu() {
    let mut app = ready_app(BackendKind::WebGpu);
    let header = WeightsHeader {
        model: ModelConfig::new(ModelKind::Ffnn),
        epochs: 20,
        precision: Default::default(),
        dataset: "mnist".into(),
    };
    let loaded = Msg::WeightsLoaded {
        origin: WeightsOrigin::Pretrained {
            url: "weights/ffnn.bin".into(),
            quiet: true,
        },
        result: Ok(Some((model(), header))),
    };
    app.update(loaded, 0.0);
    assert_eq!(app.cpu_copy.as_ref().map(|c| c.of), Some(CopyOf::Loaded));
    app.take_changes();
    // On the CPU now, runs go to the training worker (still starting here): no warm-up.
    let effects = app.update(Msg::DeviceLost("gone".into()), 10.0);
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.take_changes().intersects(Changes::MODEL));
    assert_eq!(app.model.origin.epochs(), 20);
    assert!(matches!(&app.status, Status::Error(s) if s.ends_with("from the loaded weights")));
}

#[test]
fn weights_arriving_during_a_run_leave_the_run_alone() {
    let mut app = ready_app(BackendKind::WebGpu);
    app.update(Msg::Start(Ok(config(2))), 0.0);
    let header = WeightsHeader {
        model: ModelConfig::new(ModelKind::Ffnn),
        epochs: 20,
        precision: Default::default(),
        dataset: "mnist".into(),
    };
    let upload = Msg::WeightsLoaded {
        origin: WeightsOrigin::Upload {
            name: "mine.bin".into(),
        },
        result: Ok(Some((model(), header.clone()))),
    };
    app.take_changes();
    assert!(app.update(upload, 10.0).is_empty());
    assert!(!app.take_changes().intersects(Changes::MODEL));
    assert_eq!(app.run.name(), "training");
    assert_eq!(app.model.origin, Origin::Training { epochs: 0 });
    assert!(matches!(&app.status, Status::Error(s) if s.starts_with("mine.bin: a run is going")));
    // A quiet pretrained load asked for before Start is dropped without a word.
    let late = Msg::WeightsLoaded {
        origin: WeightsOrigin::Pretrained {
            url: "weights/ffnn.bin".into(),
            quiet: true,
        },
        result: Ok(Some((model(), header))),
    };
    app.update(Msg::TogglePause, 20.0);
    assert!(app.update(late, 30.0).is_empty());
    assert_eq!(app.status, Status::Info("paused".into()));
}

#[test]
fn weights_of_another_dataset_load_with_a_warning() {
    let mut app = ready_app(BackendKind::Cpu);
    let header = WeightsHeader {
        model: ModelConfig::new(ModelKind::Ffnn),
        epochs: 5,
        precision: Default::default(),
        dataset: "fashion-mnist".into(),
    };
    let upload = Msg::WeightsLoaded {
        origin: WeightsOrigin::Upload {
            name: "clothes.bin".into(),
        },
        result: Ok(Some((model(), header))),
    };
    app.update(upload, 0.0);
    assert_eq!(
        app.status,
        Status::Warning(
            "loaded weights from clothes.bin, trained on fashion-mnist, not mnist".into()
        )
    );
    assert_eq!(app.model.origin.epochs(), 5);
}

#[test]
fn a_bad_upload_leaves_the_model_and_names_the_file() {
    let mut app = ready_app(BackendKind::Cpu);
    app.take_changes();
    let upload = Msg::WeightsLoaded {
        origin: WeightsOrigin::Upload {
            name: "broken.bin".into(),
        },
        result: Err("the weights file is truncated (header)".into()),
    };
    app.update(upload, 0.0);
    assert!(!app.take_changes().intersects(Changes::MODEL));
    assert_eq!(
        app.status,
        Status::Error(
            "broken.bin: the weights file is truncated (header) — the current model is unchanged"
                .into()
        )
    );
}

#[test]
fn reset_stops_the_run_and_reloads_the_pretrained_weights() {
    let mut app = ready_app(BackendKind::WebGpu);
    app.update(Msg::Start(Ok(config(2))), 0.0);
    let effects = app.update(Msg::Reset { epochs: 5 }, 10.0);
    assert!(
        matches!(&effects[..], [Effect::StopPageRun, Effect::LoadWeights { url, quiet: true, .. }] if url == "weights/ffnn.bin"),
        "{effects:?}"
    );
    assert_eq!((app.run.name(), app.chart_epochs), ("idle", 5));
    // The frame the old run had asked for finds no run.
    assert!(app.update(Msg::Frame(1), 20.0).is_empty());
    assert!(app.update(advanced(1, progress(2, 0, 2)), 30.0).is_empty());
}

#[test]
fn settings_errors_and_missing_data_are_said_not_started() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(
        Msg::Start(Err("epochs must be a whole number from 1 to 1000".into())),
        0.0,
    );
    assert_eq!(app.run.name(), "idle");
    assert!(matches!(&app.status, Status::Error(s) if s.starts_with("epochs")));
    app.data = DataState::Failed("no data".into());
    app.update(Msg::Start(Ok(config(1))), 0.0);
    assert_eq!(app.status, Status::Error("MNIST is not loaded".into()));
}

#[test]
fn the_grid_takes_two_digits_of_each_class_in_rows() {
    let grid = grid_indices(&sets().test);
    let labels: Vec<u8> = grid.iter().map(|&i| sets().test.label(i)).collect();
    assert_eq!(
        labels,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(grid[..2], [0, 1]);
}

#[test]
fn on_webgpu_a_worker_with_its_own_device_trains_and_a_copy_of_its_weights_is_kept() {
    let mut app = ready_app(BackendKind::WebGpu);
    let ready = FromWorker::Ready {
        webgpu: Ok("swiftshader".into()),
    };
    let effects = app.update(Msg::Worker(ready), 0.0);
    // No warm-up on the page: runs go to the worker, which warms up itself.
    assert!(
        matches!(
            effects[..],
            [Effect::SendWorkerData(_), Effect::WarmUpWorker(_)]
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
    let ready = FromWorker::Ready {
        webgpu: Ok("swiftshader".into()),
    };
    app.update(Msg::Worker(ready), 0.0);
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

#[test]
fn on_webgpu_the_worker_warms_up_each_model_once_before_its_runs() {
    let mut app = ready_app(BackendKind::WebGpu);
    let ready = FromWorker::Ready {
        webgpu: Ok("swiftshader".into()),
    };
    let effects = app.update(Msg::Worker(ready), 0.0);
    assert!(
        matches!(
            effects[..],
            [
                Effect::SendWorkerData(_),
                Effect::WarmUpWorker(ModelKind::Ffnn)
            ]
        ),
        "{effects:?}"
    );
    let warm_ups = |effects: &[Effect]| -> Vec<String> {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::WarmUp { .. } | Effect::WarmUpWorker(_)))
            .map(|e| format!("{e:?}"))
            .collect()
    };
    let effects = app.update(Msg::ChooseModel(ModelKind::Deep), 10.0);
    assert_eq!(warm_ups(&effects), ["WarmUpWorker(Deep)"]);
    // Back to a model the worker has compiled: nothing to do.
    let effects = app.update(Msg::ChooseModel(ModelKind::Ffnn), 20.0);
    assert_eq!(warm_ups(&effects), Vec::<String>::new());
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
