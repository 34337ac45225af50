//! Weights kept in the browser: kept at each epoch's end, offered on the next visit,
//! restored (switching model), and discarded when damaged.

use super::*;

fn kept(kind: ModelKind, epochs: usize) -> Kept {
    Kept {
        kind,
        epochs,
        dataset: "mnist".into(),
        saved_ms: 1.7e12,
    }
}

fn header(kind: ModelKind, epochs: usize) -> WeightsHeader {
    WeightsHeader {
        model: ModelConfig::new(kind),
        epochs,
        precision: Default::default(),
        dataset: "mnist".into(),
    }
}

fn restored(kind: ModelKind, result: Result<Option<(Model, WeightsHeader)>, String>) -> Msg {
    Msg::WeightsLoaded {
        origin: WeightsOrigin::Kept { kind },
        result,
    }
}

#[test]
fn the_page_asks_for_kept_weights_once_the_catalog_is_read() {
    let mut app = App::new(
        backend(BackendKind::Cpu),
        DeviceState::Cpu { unavailable: None },
        Catalog::builtin().clone(),
        ModelKind::Ffnn,
    );
    let effects = app.update(Msg::CatalogLoaded(Err("offline".into())), 0.0);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::ListKept)),
        "{effects:?}"
    );
}

#[test]
fn the_worker_keeps_its_runs_weights_and_the_page_its_own() {
    // A worker run: the worker is told the dataset and keeps each epoch's weights itself.
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Worker(cpu_worker_ready()), 0.0);
    let effects = app.update(Msg::Start(Ok(config(2))), 0.0);
    assert!(
        matches!(&effects[..], [Effect::StartWorkerRun { dataset, .. }] if dataset == "mnist"),
        "{effects:?}"
    );
    let values = pollster::block_on(model().values()).unwrap();
    app.update(
        Msg::Worker(FromWorker::Weights {
            id: 1,
            values,
            reconstructions: vec![0.0; 20 * IMAGE_PIXELS],
        }),
        2000.0,
    );
    let report = FromWorker::Progress {
        id: 1,
        progress: progress(8, 1, 2),
    };
    let effects = app.update(Msg::Worker(report), 2000.0);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::KeepWeights { .. }))
    );
    // What it could not keep is said.
    let refused = FromWorker::NotKept {
        reason: "QuotaExceededError".into(),
    };
    app.update(Msg::Worker(refused), 2100.0);
    assert!(matches!(&app.status, Status::Warning(s) if s.contains("QuotaExceededError")));

    // A page run (no worker): the page keeps each epoch's weights, with their header.
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::Start(Ok(config(2))), 0.0);
    app.update(Msg::Frame(1), 10.0);
    let effects = app.update(advanced(1, progress(4, 0, 2)), 20.0);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::KeepWeights { .. }))
    );
    app.update(Msg::Frame(1), 30.0);
    let effects = app.update(advanced(1, progress(8, 1, 2)), 2000.0);
    let Some(Effect::KeepWeights { header: kept, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(kept, &header(ModelKind::Ffnn, 1));
}

#[test]
fn kept_weights_are_offered_and_damaged_ones_reported() {
    let mut app = ready_app(BackendKind::Cpu);
    app.take_changes();
    let discarded =
        vec!["the deep weights kept in this browser are damaged (…); they were discarded".into()];
    app.update(
        Msg::KeptFound(Ok((
            vec![kept(ModelKind::Ffnn, 3), kept(ModelKind::Upsample, 20)],
            discarded,
        ))),
        0.0,
    );
    assert_eq!(app.kept.len(), 2);
    assert!(app.take_changes().intersects(Changes::KEPT));
    assert!(
        matches!(&app.status, Status::Warning(s) if s.contains("deep weights") && s.contains("discarded"))
    );
    // The pretrained weights loaded at start, arriving after, leave the warning in view.
    let upsample = ModelConfig::new(ModelKind::Upsample)
        .init(&Device::flex())
        .unwrap();
    let pretrained = WeightsOrigin::Pretrained {
        url: "weights/upsample.bin".into(),
        quiet: true,
    };
    app.update(Msg::ChooseModel(ModelKind::Upsample), 0.0);
    app.update(
        Msg::WeightsLoaded {
            origin: pretrained,
            result: Ok(Some((upsample, header(ModelKind::Upsample, 20)))),
        },
        0.0,
    );
    assert_eq!(app.model.config.kind, ModelKind::Upsample);
    assert!(matches!(&app.status, Status::Warning(s) if s.contains("discarded")));
    // A kind that is not offered is not read.
    assert!(app.update(Msg::RestoreKept(ModelKind::Vae), 0.0).is_empty());
}

#[test]
fn restoring_another_models_weights_shows_that_model() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(
        Msg::KeptFound(Ok((vec![kept(ModelKind::Upsample, 20)], vec![]))),
        0.0,
    );
    app.curves.validation = vec![(1.0, 0.03)]; // ffnn's, shown before
    let effects = app.update(Msg::RestoreKept(ModelKind::Upsample), 0.0);
    assert!(
        matches!(effects[..], [Effect::ReadKept(ModelKind::Upsample)]),
        "{effects:?}"
    );
    let upsample = ModelConfig::new(ModelKind::Upsample)
        .init(&Device::flex())
        .unwrap();
    let effects = app.update(
        restored(
            ModelKind::Upsample,
            Ok(Some((upsample, header(ModelKind::Upsample, 20)))),
        ),
        0.0,
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::SuggestBatchSize(20))),
        "{effects:?}"
    );
    assert_eq!(app.model.config.kind, ModelKind::Upsample);
    assert_eq!(
        app.model.origin,
        Origin::Loaded {
            source: "kept in this browser".into(),
            epochs: 20,
            dataset: "mnist".into()
        }
    );
    assert!(
        matches!(&app.status, Status::Info(s) if s == "restored the upsample weights kept in this browser (20 epochs)")
    );
    // The offer is done with it; ffnn's figures are not shown as upsample's.
    assert!(app.kept.is_empty());
    assert_eq!((&app.metrics, app.curves.validation.len()), (&None, 0));
}

#[test]
fn a_damaged_entry_is_discarded_with_a_message_and_the_model_stays() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(
        Msg::KeptFound(Ok((vec![kept(ModelKind::Ffnn, 3)], vec![]))),
        0.0,
    );
    let before = app.model.origin.clone();
    app.update(Msg::RestoreKept(ModelKind::Ffnn), 0.0);
    let effects = app.update(
        restored(
            ModelKind::Ffnn,
            Err("the weights file is corrupted (checksum mismatch)".into()),
        ),
        0.0,
    );
    assert!(
        matches!(&effects[..], [Effect::ForgetKept(kinds)] if kinds == &[ModelKind::Ffnn]),
        "{effects:?}"
    );
    assert!(
        matches!(&app.status, Status::Error(s) if s.contains("ffnn weights kept in this browser are damaged (the weights file is corrupted"))
    );
    assert_eq!(app.model.origin, before);
    assert!(app.kept.is_empty());
}

#[test]
fn nothing_is_restored_during_a_run_and_forgetting_deletes_every_entry() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(
        Msg::KeptFound(Ok((
            vec![kept(ModelKind::Ffnn, 3), kept(ModelKind::Deep, 1)],
            vec![],
        ))),
        0.0,
    );
    app.update(Msg::Start(Ok(config(2))), 0.0);
    assert!(
        app.update(Msg::RestoreKept(ModelKind::Ffnn), 0.0)
            .is_empty()
    );
    assert!(matches!(&app.status, Status::Error(s) if s.contains("a run is going")));
    let effects = app.update(Msg::ForgetKept, 0.0);
    assert!(
        matches!(&effects[..], [Effect::ForgetKept(kinds)] if kinds == &[ModelKind::Ffnn, ModelKind::Deep]),
        "{effects:?}"
    );
    assert!(app.kept.is_empty());
}

#[test]
fn storage_that_cannot_be_read_is_reported_and_nothing_offered() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::KeptFound(Err("UnknownError".into())), 0.0);
    assert!(app.kept.is_empty());
    assert_eq!(
        app.status,
        Status::Warning("the weights kept in this browser could not be read (UnknownError)".into())
    );
}

#[test]
fn a_browser_that_cannot_keep_weights_says_so() {
    let mut app = ready_app(BackendKind::Cpu);
    app.update(Msg::NotKept("QuotaExceededError".into()), 0.0);
    assert!(
        matches!(&app.status, Status::Warning(s) if s.contains("QuotaExceededError") && s.contains("download"))
    );
    // An error on the status line (e.g. a lost device) is not hidden by it.
    app.update(Msg::Failed("WebGPU device lost".into()), 0.0);
    app.update(Msg::NotKept("QuotaExceededError".into()), 0.0);
    assert_eq!(app.status, Status::Error("WebGPU device lost".into()));
}
