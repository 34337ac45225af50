//! The controller when the page's WebGPU device is lost: during a run, while paused, idle.

use super::*;

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
