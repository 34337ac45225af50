//! The page's controls and text: the settings form and buttons (what they dispatch), and
//! rendering the state into the status line, the backend line, the dataset selector, the
//! progress bar and the enabled controls. Cheap DOM writes, done on every render.

use wasm_bindgen::JsCast;
use web_sys::{
    DragEvent, Event, HtmlElement, HtmlInputElement, HtmlOptionElement, HtmlSelectElement,
};

use super::app::{App, DataState, MAX_BATCH_SIZE, Msg, Origin, Status, WeightsOrigin};
use super::device::{BackendKind, DeviceState};
use super::run::{Run, RunState};
use super::{data_io, dom, techniques_form, weights_io};
use crate::data::Dataset;
use crate::model::ModelKind;
use crate::training::TrainConfig;

/// Shown before the controller exists.
pub fn show_starting() {
    dom::set_text("status", "starting: looking for a WebGPU adapter…");
}

pub fn selected_kind() -> ModelKind {
    dom::get::<HtmlSelectElement>("model")
        .value()
        .parse()
        .unwrap_or(ModelKind::Upsample)
}

fn input_value(id: &str) -> String {
    dom::get::<HtmlInputElement>(id).value()
}

fn read_usize(id: &str) -> Option<usize> {
    input_value(id).trim().parse().ok()
}

pub fn set_batch_size(size: usize) {
    dom::get::<HtmlInputElement>("batch-size").set_value(&size.to_string());
}

/// The training settings from the form, checked.
fn read_settings() -> Result<TrainConfig, String> {
    let mut config = TrainConfig::new(selected_kind());
    config.epochs = read_usize("epochs")
        .filter(|&e| (1..=1000).contains(&e))
        .ok_or("epochs must be a whole number from 1 to 1000")?;
    // Blank: the model's own code size; the model's rules are checked with the rest below.
    if !input_value("code-size").trim().is_empty() {
        config.model.code_size = read_usize("code-size")
            .ok_or("code size must be a whole number (blank: the model's own)")?;
    }
    config.batch_size = read_usize("batch-size")
        .filter(|&b| (1..=MAX_BATCH_SIZE).contains(&b))
        .ok_or_else(|| format!("batch size must be a whole number from 1 to {MAX_BATCH_SIZE}"))?;
    config.learning_rate = input_value("learning-rate")
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|lr| lr.is_finite() && *lr > 0.0 && *lr <= 1.0)
        .ok_or("learning rate must be a number in (0, 1]")?;
    let train_size = read_usize("train-size")
        .filter(|&n| (1..=48_000).contains(&n))
        .ok_or("training-set size must be a whole number from 1 to 48000")?;
    config.train_limit = (train_size < 48_000).then_some(train_size);
    config.techniques = techniques_form::read(config.model.kind)?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Connects the controls to `dispatch`.
pub fn wire(dispatch: fn(Msg)) {
    set_batch_size(selected_kind().default_batch_size());
    dom::on("model", "change", move |_: Event| {
        // Each model has its own code size (and the conv models' rules): start from it.
        dom::get::<HtmlInputElement>("code-size").set_value("");
        dispatch(Msg::ChooseModel(selected_kind()))
    });
    dom::on("dataset", "change", move |_: Event| {
        dispatch(Msg::ChooseDataset(
            dom::get::<HtmlSelectElement>("dataset").value(),
        ))
    });
    dom::on("backend-select", "change", move |_: Event| {
        let kind = match dom::get::<HtmlSelectElement>("backend-select")
            .value()
            .as_str()
        {
            "webgpu" => BackendKind::WebGpu,
            _ => BackendKind::Cpu,
        };
        dispatch(Msg::ChooseBackend(kind))
    });
    dom::on("batch-size", "change", move |_: Event| {
        if let Some(size) = read_usize("batch-size") {
            dispatch(Msg::ChooseBatchSize(size))
        }
    });
    dom::on("start", "click", move |_: Event| {
        dispatch(Msg::Start(read_settings()))
    });
    dom::on("pause", "click", move |_: Event| dispatch(Msg::TogglePause));
    techniques_form::wire(dispatch);
    dom::on("reset", "click", move |_: Event| {
        dispatch(Msg::Reset {
            epochs: read_usize("epochs").unwrap_or(20),
        })
    });
    dom::on("evaluate", "click", move |_: Event| dispatch(Msg::Evaluate));
    dom::on("load-pretrained", "click", move |_: Event| {
        let variant = dom::get::<HtmlSelectElement>("pretrained").value();
        dispatch(Msg::LoadPretrained((!variant.is_empty()).then_some(variant)))
    });
    dom::on("download-weights", "click", move |_: Event| {
        dispatch(Msg::Download)
    });
    dom::on("kept-list", "click", move |event: Event| {
        let model = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|button| button.get_attribute("data-model"));
        if let Some(kind) = model.and_then(|name| name.parse().ok()) {
            dispatch(Msg::RestoreKept(kind));
        }
    });
    dom::on("forget-kept", "click", move |_: Event| dispatch(Msg::ForgetKept));
    dom::on("upload-data", "change", move |event: Event| {
        let input: HtmlInputElement = event.target().expect("an input").unchecked_into();
        if let Some(list) = input.files() {
            upload_data(dispatch, (0..list.length()).filter_map(|i| list.get(i)).collect());
        }
        input.set_value("");
    });
    // Files dropped anywhere on the page are taken as IDX data.
    dom::on("drop-zone", "dragover", move |event: DragEvent| event.prevent_default());
    dom::on("drop-zone", "drop", move |event: DragEvent| {
        event.prevent_default();
        if let Some(list) = event.data_transfer().and_then(|d| d.files()) {
            upload_data(dispatch, (0..list.length()).filter_map(|i| list.get(i)).collect());
        }
    });
    dom::on("upload-weights", "change", move |event: Event| {
        let input: HtmlInputElement = event.target().expect("an input").unchecked_into();
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            wasm_bindgen_futures::spawn_local(async move {
                let result = weights_io::read_upload(&file, selected_kind()).await;
                let origin = WeightsOrigin::Upload { name: file.name() };
                dispatch(Msg::WeightsLoaded { origin, result });
            });
        }
        input.set_value("");
    });
}

fn upload_data(dispatch: fn(Msg), files: Vec<web_sys::File>) {
    if files.is_empty() {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        dispatch(Msg::DataUploaded(data_io::read_uploads(files).await));
    });
}

/// Writes the state into the page's text and controls.
pub fn render(app: &App, longest_frame_ms: f64) {
    render_status(&app.status);
    render_backend(app);
    render_datasets(app);
    render_variants(app);
    techniques_form::show_noise(app.noise);
    render_controls(app);
    let note = match &app.model.origin {
        Origin::Fresh => "untrained".to_string(),
        Origin::Loaded { epochs, .. } => format!("{epochs} epochs trained"),
        Origin::Training { .. } => "training from fresh weights".into(),
        Origin::Trained { epochs } => format!("{epochs} epochs trained here"),
    };
    dom::set_text("model-note", &note);
    dom::set_text("model-about", about(app.model.config.kind));
    // The selector shows the model shown, also when a choice came while a run still held it.
    let select: HtmlSelectElement = dom::get("model");
    if select.value() != app.model.config.kind.name() {
        select.set_value(app.model.config.kind.name());
    }
    render_progress(&app.run, longest_frame_ms);
}

/// One line on what a model is, under the model selector.
fn about(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Ffnn => {
            "One hidden layer: each digit squeezed into 32 numbers and rebuilt from them, the simplest autoencoder."
        }
        ModelKind::ConvTranspose => {
            "Convolutions down to 4 maps of 7 × 7, transposed convolutions back up: small and sharp, with a faint checkerboard."
        }
        ModelKind::Upsample => {
            "The same encoder; the decoder repeats pixels and convolves instead, so no checkerboard: the sharpest here."
        }
        ModelKind::Deep => {
            "A deep MLP with batch norm down to just 4 numbers: blurry, but its codes keep the classes apart best."
        }
        ModelKind::Vae => {
            "A variational autoencoder: a 2-number code pulled towards N(0, I), so that new digits can be drawn from it."
        }
    }
}

fn render_status(status: &Status) {
    let element: HtmlElement = dom::get("status");
    let (text, class) = match status {
        Status::Info(text) => (text.clone(), ""),
        Status::Warning(text) => (format!("warning: {text}"), "warning"),
        Status::Error(text) => (format!("error: {text}"), "error"),
    };
    element.set_text_content(Some(&text));
    element.set_class_name(class);
}

fn render_backend(app: &App) {
    let kind = app.backend.kind.name();
    let element: HtmlElement = dom::get("backend");
    element.set_text_content(Some(&format!("{kind} ({})", app.backend.label)));
    dom::set_attr(&element, "data-backend", kind);
    let why = match &app.device {
        DeviceState::Cpu {
            unavailable: Some(reason),
        } => format!("WebGPU unavailable: {reason}"),
        DeviceState::Lost { reason, .. } => {
            format!("WebGPU unavailable: the device was lost: {reason}")
        }
        _ => String::new(),
    };
    dom::set_attr(&element, "title", &why);
    dom::get::<HtmlSelectElement>("backend-select").set_value(kind);
}

/// The dataset selector lists the site's catalog, and a person's own files while they are
/// the dataset.
fn render_datasets(app: &App) {
    let select: HtmlSelectElement = dom::get("dataset");
    let mut datasets: Vec<&Dataset> = app.catalog.datasets().iter().collect();
    if app.catalog.get(&app.dataset.id).is_err() {
        datasets.push(&app.dataset);
    }
    let listed: Vec<String> = (0..select.length())
        .filter_map(|i| select.item(i))
        .map(|option| option.unchecked_into::<HtmlOptionElement>().value())
        .collect();
    if listed.iter().ne(datasets.iter().map(|d| &d.id)) {
        select.set_inner_html("");
        for dataset in datasets {
            let option = HtmlOptionElement::new_with_text_and_value(
                &format!("{} ({})", dataset.name, dataset.description),
                &dataset.id,
            )
            .expect("an option");
            let _ = select.append_child(&option);
        }
    }
    select.set_value(&app.dataset.id);
}

/// The pretrained weights on offer for the current model: the reference ones and the
/// dataset's variants of it (e.g. a denoiser).
fn render_variants(app: &App) {
    let select: HtmlSelectElement = dom::get("pretrained");
    let kind = app.model.config.kind.name();
    let mut names = vec![String::new()];
    names.extend(
        app.dataset
            .variants
            .iter()
            .filter(|v| v.model == kind)
            .map(|v| v.name.clone()),
    );
    let listed: Vec<String> = (0..select.length())
        .filter_map(|i| select.item(i))
        .map(|option| option.unchecked_into::<HtmlOptionElement>().value())
        .collect();
    if listed != names {
        select.set_inner_html("");
        for name in names {
            let text = if name.is_empty() { "reference" } else { &name };
            let option = HtmlOptionElement::new_with_text_and_value(text, &name).expect("an option");
            let _ = select.append_child(&option);
        }
    }
    set_enabled("pretrained", select.length() > 1 && !app.run.is_active());
}

fn set_enabled(id: &str, enabled: bool) {
    let element: HtmlElement = dom::get(id);
    if enabled {
        let _ = element.remove_attribute("disabled");
    } else {
        dom::set_attr(&element, "disabled", "");
    }
}

fn render_controls(app: &App) {
    let running = app.run.is_active();
    let loaded = matches!(app.data, DataState::Loaded(_));
    for id in [
        "dataset",
        "model",
        "epochs",
        "code-size",
        "batch-size",
        "learning-rate",
        "train-size",
        "upload-weights",
        "upload-data",
        "load-pretrained",
        "backend-select",
    ]
    .into_iter()
    .chain(techniques_form::FIELDS)
    {
        set_enabled(id, !running);
    }
    set_enabled("start", !running && loaded);
    set_enabled("evaluate", loaded && app.evaluating.is_none());
    set_enabled("pause", running);
    let paused = matches!(app.run, RunState::Paused(_));
    dom::set_text("pause", if paused { "Resume" } else { "Pause" });
}

/// `#progress`: its attributes for scripts (`data-state`, `data-step`, …) and its caption.
fn render_progress(run: &RunState, longest_frame_ms: f64) {
    let progress: HtmlElement = dom::get("progress");
    dom::set_attr(&progress, "data-state", run.name());
    let (latest, images_per_sec, caption) = match run {
        RunState::Idle => (None, None, String::new()),
        RunState::Running(run) | RunState::Paused(run) => {
            let speed = run.speed(dom::now());
            let caption = run_caption(run, speed);
            dom::set_attr(&progress, "data-engine", run.engine.name());
            (run.latest.clone(), speed.map(|s| s.images_per_sec), caption)
        }
        RunState::Finished(ended) => {
            dom::set_attr(&progress, "data-engine", ended.engine.name());
            let p = &ended.progress;
            let caption = format!("{} epochs · {} steps", p.history.len(), p.step);
            (Some(p.clone()), ended.images_per_sec, caption)
        }
    };
    let p = latest.unwrap_or_default();
    dom::set_attr(&progress, "value", &format!("{:.4}", p.fraction));
    dom::set_attr(&progress, "data-step", &p.step.to_string());
    dom::set_attr(&progress, "data-epoch", &p.epoch.to_string());
    dom::set_attr(&progress, "data-images-seen", &p.images_seen.to_string());
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    dom::set_attr(&progress, "data-train-loss", &fmt(p.train_loss));
    dom::set_attr(
        &progress,
        "data-val-loss",
        &fmt(p.history.last().map(|r| r.val_mse)),
    );
    let rate = format!("{:.1}", images_per_sec.unwrap_or(0.0));
    dom::set_attr(&progress, "data-images-per-sec", &rate);
    dom::set_attr(
        &progress,
        "data-longest-frame-ms",
        &format!("{longest_frame_ms:.1}"),
    );
    dom::set_text("progress-text", &caption);
}

fn run_caption(run: &Run, speed: Option<super::run::Speed>) -> String {
    let Some(p) = &run.latest else {
        return "starting…".into();
    };
    let loss = p
        .train_loss
        .map(|l| format!(" · train MSE {l:.4}"))
        .unwrap_or_default();
    let val = p
        .history
        .last()
        .map(|r| format!(" · val MSE {:.4}", r.val_mse))
        .unwrap_or_default();
    let speed = match speed {
        Some(s) => format!(
            " · {:.0} images/s · epoch ≈ {} · ETA {}",
            s.images_per_sec,
            duration(s.epoch_sec),
            duration(s.eta_sec)
        ),
        None => " · measuring speed…".into(),
    };
    format!(
        "epoch {}/{} ({:.0}%) · step {}{loss}{val}{speed}",
        (p.epoch + 1).min(p.epochs),
        p.epochs,
        p.fraction * 100.0,
        p.step
    )
}

fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}
