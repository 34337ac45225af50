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
        ..Progress::default()
    }
}

/// The worker is up, without a WebGPU device of its own.
fn cpu_worker_ready() -> FromWorker {
    FromWorker::Ready {
        webgpu: Err("no adapter".into()),
    }
}

/// The worker is up, with a WebGPU device of its own.
fn gpu_worker_ready() -> FromWorker {
    FromWorker::Ready {
        webgpu: Ok("swiftshader".into()),
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
    // An epoch ended: its weights are kept in the browser.
    let effects = app.update(advanced(1, progress(8, 1, 2)), 5030.0);
    assert!(
        matches!(&effects[..], [Effect::KeepWeights { header, .. }, Effect::NextFrame(1)] if header.epochs == 1),
        "{effects:?}"
    );
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
            [
                Effect::KeepWeights { .. },
                Effect::StopPageRun,
                Effect::Evaluate { count: 40, .. }
            ]
        ),
        "{effects:?}"
    );
    assert_eq!(app.run.name(), "done");
    assert_eq!(app.model.origin, Origin::Trained { epochs: 2 });
    // Active time excludes the pause: 20 ms + 60 ms.
    let RunState::Finished(ended) = &app.run else {
        panic!("finished")
    };
    assert_eq!((ended.progress.step, ended.engine), (16, Engine::Page));
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
fn a_dataset_that_fails_to_load_leaves_the_one_shown_before() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::ChooseDataset("fashion-mnist".into()), 10.0);
    assert!(app.loaded().is_none());
    app.update(
        Msg::DataLoaded {
            dataset: "fashion-mnist".into(),
            result: Err("train-images-idx3-ubyte.gz: Failed to fetch".into()),
        },
        20.0,
    );
    assert_eq!(app.dataset.id, "mnist");
    assert!(app.loaded().is_some());
    assert_eq!(
        app.status,
        Status::Error(
            "Fashion-MNIST: train-images-idx3-ubyte.gz: Failed to fetch — MNIST stays loaded"
                .into()
        )
    );
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

mod devices;
mod kept;
mod worker;

#[test]
fn uploaded_files_become_the_dataset_and_bad_ones_leave_it() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    let bad = Err("junk.gz: bad magic number 0x3c21646f (not an IDX file)".to_string());
    app.update(Msg::DataUploaded(bad), 10.0);
    assert_eq!(app.dataset.id, "mnist");
    assert!(app.loaded().is_some());
    let Status::Error(message) = &app.status else {
        panic!("{:?}", app.status)
    };
    assert!(message.contains("junk.gz") && message.ends_with("the current dataset is unchanged"));

    let dataset = crate::data::Dataset::uploaded(&["a".into(), "b".into()], 100, 40);
    let effects = app.update(Msg::DataUploaded(Ok((dataset, sets()))), 20.0);
    assert_eq!(app.dataset.id, "your-files");
    assert!(app.loaded().is_some());
    assert!(
        matches!(effects[0], Effect::SendWorkerData(_)),
        "{effects:?}"
    );
    // Back to a dataset of the site's.
    let effects = app.update(Msg::ChooseDataset("mnist".into()), 30.0);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::LoadData(_))),
        "{effects:?}"
    );
}

#[test]
fn a_pretrained_denoiser_loads_by_name_and_the_grid_shows_its_noise() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::ChooseModel(ModelKind::Upsample), 0.0);
    let name = "denoising (Gaussian σ 0.3)".to_string();
    let effects = app.update(Msg::LoadPretrained(Some(name)), 10.0);
    let [Effect::LoadWeights { url, quiet, .. }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (url.as_str(), *quiet),
        ("weights/variants/upsample-gaussian-0.3.bin", false)
    );
    let config = ModelConfig::new(ModelKind::Upsample);
    let model = config.init(&Device::flex()).unwrap();
    let header = WeightsHeader {
        model: config,
        epochs: 20,
        precision: crate::weights::Precision::F32,
        dataset: "mnist".into(),
    };
    let origin = WeightsOrigin::Pretrained {
        url: url.clone(),
        quiet: false,
    };
    app.take_changes();
    app.update(
        Msg::WeightsLoaded {
            origin,
            result: Ok(Some((model, header))),
        },
        20.0,
    );
    assert!(app.take_changes().intersects(Changes::NOISE));
    assert_eq!(app.noise, Some(Corruption::Gaussian { sigma: 0.3 }));
    // A name the site does not offer for this model is an error.
    app.update(Msg::LoadPretrained(Some("sharpening".into())), 30.0);
    assert!(matches!(&app.status, Status::Error(m) if m.contains("no pretrained 'sharpening'")));
}

#[test]
fn another_models_weights_stay_on_the_shelf_and_come_back() {
    let mut app = ready_app(BackendKind::Cpu);
    let header = WeightsHeader {
        model: ModelConfig::new(ModelKind::Ffnn),
        epochs: 7,
        precision: Default::default(),
        dataset: "mnist".into(),
    };
    let upload = Msg::WeightsLoaded {
        origin: WeightsOrigin::Upload {
            name: "mine.bin".into(),
        },
        result: Ok(Some((model(), header))),
    };
    app.update(upload, 0.0);
    // Choosing another model shelves ffnn's weights; the fresh deep asks for its pretrained file.
    let effects = app.update(Msg::ChooseModel(ModelKind::Deep), 0.0);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::LoadWeights { url, .. } if url == "weights/deep.bin"))
    );
    assert_eq!(app.shelf.len(), 1);
    assert!(app.take_changes().intersects(Changes::SHELF));
    // A fresh model is not kept: back to ffnn, deep is not shelved and ffnn's weights return.
    let effects = app.update(Msg::ChooseModel(ModelKind::Ffnn), 0.0);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::LoadWeights { .. })),
        "{effects:?}"
    );
    assert!(app.shelf.is_empty());
    assert_eq!(app.model.origin.epochs(), 7);
    assert_eq!(
        app.status,
        Status::Info(
            "ffnn: the weights it had this session (mine.bin, 7 epochs), kept in memory".into()
        )
    );
}

#[test]
fn pretrained_weights_come_with_their_runs_curves_and_test_figures() {
    let mut app = ready_app(BackendKind::Cpu);
    let manifest = br#"{"format": 1, "models": [{"model": "ffnn", "epochs": 2, "extra": true,
        "history": [{"epoch": 1, "train_mse": 0.03, "val_mse": 0.02}, {"epoch": 2, "train_mse": 0.015, "val_mse": 0.012}],
        "test": {"test_mse": 0.0106, "psnr_db": 19.76, "ssim": 0.839, "l2_per_image": 2.77, "test_images": 10000}}]}"#;
    let records = records::parse(manifest).unwrap();
    assert!(
        records::parse(b"<html>")
            .unwrap_err()
            .contains("not readable")
    );
    let header = WeightsHeader {
        model: ModelConfig::new(ModelKind::Ffnn),
        epochs: 2,
        precision: Default::default(),
        dataset: "mnist".into(),
    };
    let pretrained = Msg::WeightsLoaded {
        origin: WeightsOrigin::Pretrained {
            url: "weights/ffnn.bin".into(),
            quiet: true,
        },
        result: Ok(Some((model(), header))),
    };
    // The weights first, the records after: either order shows them.
    app.update(pretrained, 0.0);
    assert!(app.metrics.is_none());
    app.take_changes();
    let loaded = Msg::RecordsLoaded {
        dataset: "mnist".into(),
        result: Ok(records),
    };
    app.update(loaded, 0.0);
    assert!(
        app.take_changes()
            .intersects(Changes::CURVES | Changes::METRICS)
    );
    assert_eq!(app.curves.validation, vec![(1.0, 0.02), (2.0, 0.012)]);
    assert_eq!(app.chart_epochs, 2);
    let (kind, metrics) = app.metrics.unwrap();
    assert_eq!(
        (kind, metrics.mse, metrics.images),
        (ModelKind::Ffnn, 0.0106, 10000)
    );
}
