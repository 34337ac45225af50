//! The lab's behaviour: start-up (backend, data, pretrained weights), the controls, the
//! `requestAnimationFrame` training loop, the reconstruction grid and the sketch pad.
//!
//! State lives in one thread-local [`App`]; no borrow of it is ever held across an `await`.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use burn::module::Module;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Event, HtmlElement, HtmlInputElement, HtmlSelectElement};

use super::backend::{self, Backend, Kind};
use super::chart::{self, LossCurves};
use super::{dom, draw, loader, sketch, worker};
use crate::data::{
    FILE_NAMES, IMAGE_PIXELS, ImageSet, Inflater, MAX_INFLATED_BYTES, Mnist, Split, images_tensor,
    sketch as sketch_data,
};
use crate::metrics::{Metrics, MetricsAccumulator};
use crate::model::{Model, ModelConfig, ModelKind};
use crate::training::{Report, TrainConfig, TrainError, Trainer, read_values};
use crate::weights::{self, WeightsHeader};

/// Main-thread work per frame on the CPU backend, in milliseconds.
const FRAME_BUDGET_MS: f64 = 8.0;
/// Refresh the reconstruction grid at least this often while training.
const GRID_REFRESH_MS: f64 = 2000.0;
/// Redraw the loss chart at most this often (plotters on a canvas costs milliseconds).
const CHART_REFRESH_MS: f64 = 2000.0;
/// On WebGPU, copy the weights to the CPU at least this often while training.
const CHECKPOINT_MS: f64 = 10_000.0;
/// Main-thread time per evaluation chunk (forward pass and SSIM), in milliseconds.
const EVAL_TASK_MS: f64 = 12.0;
/// Digits per class shown in the reconstruction grid (2 rows of 0–9).
const GRID_PER_CLASS: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RunState {
    Training,
    Paused,
}

/// Everything the page knows.
struct App {
    backend: Backend,
    /// The WebGPU backend once started (burn's wgpu runtime starts only once per page).
    gpu: Option<Backend>,
    mnist: Option<Mnist>,
    /// The model shown in the grid and used by the sketch pad (inference form).
    model: Model,
    config: ModelConfig,
    epochs_trained: usize,
    /// The current training run: its id and state. A new id orphans the old loop.
    run: Option<(u64, RunState)>,
    next_run: u64,
    curves: LossCurves,
    grid: Vec<usize>,
    sketch_busy: bool,
    sketch_dirty: bool,
    /// Model kinds whose training step already ran once on a backend (see [`warm_up`]).
    warmed: HashSet<(ModelKind, Kind)>,
    /// While the page works on WebGPU: a CPU copy of the model's weights and what they are
    /// (e.g. "the weights of step 120"), which a lost GPU device cannot take away.
    cpu_copy: Option<(Model, String)>,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> R {
    APP.with(|app| f(app.borrow_mut().as_mut().expect("app initialised")))
}

/// Starts the lab.
pub async fn run() {
    status("starting: looking for a WebGPU adapter…", false);
    let (backend, fallback) = match backend::webgpu(on_webgpu_lost).await {
        Ok(gpu) => (gpu, None),
        Err(reason) => (backend::cpu(), Some(reason)),
    };
    let config = ModelConfig::new(selected_kind());
    let model = config
        .init(&backend.device)
        .expect("reference config is valid");
    APP.with(|app| {
        *app.borrow_mut() = Some(App {
            gpu: (backend.kind == Kind::WebGpu).then(|| backend.clone()),
            backend,
            mnist: None,
            model,
            config,
            epochs_trained: 0,
            run: None,
            next_run: 1,
            curves: LossCurves::default(),
            grid: Vec::new(),
            sketch_busy: false,
            sketch_dirty: false,
            warmed: HashSet::new(),
            cpu_copy: None,
        })
    });
    show_backend(fallback.as_deref());
    wire_controls();
    sketch::install(request_sketch_update);
    set_batch_default();
    chart::draw_empty_after_warm_up(read_usize("epochs").unwrap_or(20));
    show_progress();

    // Pretrained weights first, so the sketch pad works even while data loads.
    load_pretrained(true).await;
    match load_data().await {
        Ok(mnist) => {
            let grid = grid_indices(&mnist);
            let train = mnist.train.clone();
            with_app(|app| {
                app.grid = grid;
                app.mnist = Some(mnist);
            });
            if let Err(reason) = worker::spawn(train) {
                web_sys::console::warn_1(
                    &format!("no training worker ({reason}): CPU runs train on the page").into(),
                );
            }
            status(
                "ready: MNIST loaded — press Start to train, or draw a digit",
                false,
            );
            set_enabled("start", true);
            set_enabled("evaluate", true);
            warm_up().await;
            refresh_grid().await;
        }
        Err(message) => status(&format!("error: {message}"), true),
    }
}

// ---------------------------------------------------------------- status and DOM

fn status(text: &str, is_error: bool) {
    let element: HtmlElement = dom::get("status");
    element.set_text_content(Some(text));
    element.set_class_name(if is_error { "error" } else { "" });
}

fn set_enabled(id: &str, enabled: bool) {
    let element: HtmlElement = dom::get(id);
    if enabled {
        let _ = element.remove_attribute("disabled");
    } else {
        dom::set_attr(&element, "disabled", "");
    }
}

fn selected_kind() -> ModelKind {
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

fn show_backend(fallback: Option<&str>) {
    let (kind, label) = with_app(|app| (app.backend.kind, app.backend.label.clone()));
    let element: HtmlElement = dom::get("backend");
    element.set_text_content(Some(&format!("{} ({label})", kind.name())));
    dom::set_attr(&element, "data-backend", kind.name());
    if let Some(reason) = fallback {
        dom::set_attr(&element, "title", &format!("WebGPU unavailable: {reason}"));
    }
    dom::get::<HtmlSelectElement>("backend-select").set_value(kind.name());
}

fn set_batch_default() {
    let kind = selected_kind();
    dom::get::<HtmlInputElement>("batch-size").set_value(&kind.default_batch_size().to_string());
}

/// Mirrors the run's numbers into `#progress` (attributes for scripts) and its caption.
fn show_progress() {
    show_progress_of(None, "idle", "");
}

struct Snapshot {
    fraction: f64,
    step: usize,
    epoch: usize,
    epochs: usize,
    train_loss: Option<f64>,
    val_loss: Option<f64>,
    images_per_sec: f64,
    eta_sec: f64,
    epoch_sec: f64,
}

fn show_progress_of(snapshot: Option<&Snapshot>, state: &str, caption: &str) {
    let progress: HtmlElement = dom::get("progress");
    dom::set_attr(&progress, "data-state", state);
    if let Some(s) = snapshot {
        dom::set_attr(&progress, "value", &format!("{:.4}", s.fraction));
        dom::set_attr(&progress, "data-step", &s.step.to_string());
        dom::set_attr(&progress, "data-epoch", &s.epoch.to_string());
        let fmt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        dom::set_attr(&progress, "data-train-loss", &fmt(s.train_loss));
        dom::set_attr(&progress, "data-val-loss", &fmt(s.val_loss));
        dom::set_attr(
            &progress,
            "data-images-per-sec",
            &format!("{:.1}", s.images_per_sec),
        );
    } else {
        dom::set_attr(&progress, "value", "0");
    }
    dom::set_text("progress-text", caption);
}

fn caption(s: &Snapshot) -> String {
    let loss = s
        .train_loss
        .map(|l| format!(" · train MSE {l:.4}"))
        .unwrap_or_default();
    let val = s
        .val_loss
        .map(|l| format!(" · val MSE {l:.4}"))
        .unwrap_or_default();
    let speed = if s.images_per_sec > 0.0 {
        format!(
            " · {:.0} images/s · epoch ≈ {} · ETA {}",
            s.images_per_sec,
            duration(s.epoch_sec),
            duration(s.eta_sec)
        )
    } else {
        " · measuring speed…".into()
    };
    format!(
        "epoch {}/{} ({:.0}%) · step {}{loss}{val}{speed}",
        (s.epoch + 1).min(s.epochs),
        s.epochs,
        s.fraction * 100.0,
        s.step
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

// ---------------------------------------------------------------- data

async fn load_data() -> Result<Mnist, String> {
    status("loading MNIST…", false);
    let mut responses = Vec::new();
    for name in FILE_NAMES {
        let url = format!("mnist/{name}");
        responses.push((url.clone(), loader::open(&url).await?));
    }
    let total: f64 = responses
        .iter()
        .map(|(_, r)| loader::content_length(r).unwrap_or(0.0))
        .sum();
    let progress: HtmlElement = dom::get("data-progress");
    let mut loaded = 0usize;
    let mut files = Vec::new();
    for (name, (url, response)) in FILE_NAMES.iter().zip(responses) {
        // Inflated as it arrives, between network chunks (no long task at the end).
        let mut inflater = Inflater::new(name, MAX_INFLATED_BYTES);
        loader::read_body(&url, response, |chunk| {
            inflater
                .write(chunk)
                .map_err(|e| format!("MNIST data: {e}"))?;
            loaded += chunk.len();
            if total > 0.0 {
                dom::set_attr(&progress, "value", &format!("{:.4}", loaded as f64 / total));
            }
            let text = if total > 0.0 {
                format!("{:.1} / {:.1} MB", loaded as f64 / 1e6, total / 1e6)
            } else {
                // The server sent no Content-Length (e.g. compressed on the fly).
                format!("{:.1} MB", loaded as f64 / 1e6)
            };
            dom::set_text("data-progress-text", &text);
            Ok(())
        })
        .await?;
        files.push(inflater.finish().map_err(|e| format!("MNIST data: {e}"))?);
    }
    dom::set_attr(&progress, "value", "1");
    status("parsing MNIST…", false);
    dom::next_frame().await;
    let files: [&[u8]; 4] = [&files[0], &files[1], &files[2], &files[3]];
    Mnist::from_files(files).map_err(|e| format!("MNIST data: {e}"))
}

/// Two test digits of each class, in class order.
fn grid_indices(mnist: &Mnist) -> Vec<usize> {
    let mut picked = Vec::new();
    for digit in 0..10u8 {
        picked.extend(
            (0..mnist.test.len())
                .filter(|&i| mnist.test.label(i) == digit)
                .take(GRID_PER_CLASS),
        );
    }
    // Row-major: first row one of each digit, second row the other.
    (0..GRID_PER_CLASS)
        .flat_map(|row| (0..10).map(move |digit| digit * GRID_PER_CLASS + row))
        .map(|slot| picked[slot])
        .collect()
}

// ---------------------------------------------------------------- controls

fn wire_controls() {
    dom::on("model", "change", |_: Event| {
        set_batch_default();
        spawn_local(async {
            let kind = selected_kind();
            let config = ModelConfig::new(kind);
            let model = with_app(|app| config.init(&app.backend.device)).expect("valid config");
            with_app(|app| {
                app.model = model;
                app.config = config;
                app.epochs_trained = 0;
                app.cpu_copy = None;
            });
            load_pretrained(true).await;
            warm_up().await;
            refresh_grid().await;
        });
    });
    dom::on("start", "click", |_: Event| start_training());
    dom::on("pause", "click", |_: Event| toggle_pause());
    dom::on("reset", "click", |_: Event| reset());
    dom::on("load-pretrained", "click", |_: Event| {
        spawn_local(async {
            load_pretrained(false).await;
            refresh_grid().await;
        })
    });
    dom::on("download-weights", "click", |_: Event| {
        spawn_local(download_weights())
    });
    dom::on("upload-weights", "change", |event: Event| {
        let input: HtmlInputElement = event.target().expect("input").unchecked_into();
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            spawn_local(upload_weights(file));
        }
        input.set_value("");
    });
    dom::on("evaluate", "click", |_: Event| {
        spawn_local(evaluate_and_show(None))
    });
    dom::on("backend-select", "change", |_: Event| {
        let wanted = dom::get::<HtmlSelectElement>("backend-select").value();
        spawn_local(switch_backend(wanted));
    });
}

fn is_training() -> bool {
    with_app(|app| app.run.is_some())
}

fn set_running_controls(running: bool) {
    for id in [
        "model",
        "epochs",
        "batch-size",
        "learning-rate",
        "train-size",
        "start",
        "upload-weights",
        "load-pretrained",
        "backend-select",
    ] {
        set_enabled(id, !running);
    }
    set_enabled("pause", running);
    if !running {
        dom::set_text("pause", "Pause");
    }
}

/// Reads and checks the training settings.
fn read_settings() -> Result<TrainConfig, String> {
    let kind = selected_kind();
    let mut config = TrainConfig::new(kind);
    config.epochs = read_usize("epochs")
        .filter(|&e| (1..=1000).contains(&e))
        .ok_or("epochs must be a whole number from 1 to 1000")?;
    config.batch_size = read_usize("batch-size")
        .filter(|&b| (1..=1000).contains(&b))
        .ok_or("batch size must be a whole number from 1 to 1000")?;
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
    // Validation in batches a frame can afford; losses read back once per frame instead.
    config.eval_batch_size = (config.batch_size * 2).clamp(16, 64);
    config.sync_every = 1_000_000;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn start_training() {
    if is_training() {
        return;
    }
    let config = match read_settings() {
        Ok(config) => config,
        Err(message) => return status(&format!("error: {message}"), true),
    };
    let Some(data) = with_app(|app| app.mnist.as_ref().map(|m| m.train.clone())) else {
        return status("error: MNIST is not loaded", true);
    };
    // On the CPU the training worker takes the run when it is up; else the page trains.
    let (backend, in_worker) = with_app(|app| {
        let in_worker = app.backend.kind == Kind::Cpu && worker::is_ready();
        (app.backend.clone(), in_worker)
    });
    let train_images = Split::new(data.len(), 0.2, config.seed, config.train_limit)
        .train
        .len();
    let engine = if in_worker {
        Engine::Worker
    } else {
        match Trainer::new(config.clone(), data, backend.device) {
            Ok(trainer) => Engine::Page(Box::new(PageRun {
                trainer,
                on_gpu: backend.kind == Kind::WebGpu,
                gpu_steps_per_frame: 1,
                last_checkpoint: f64::MIN,
                checkpointed_epochs: 0,
            })),
            Err(e) => return status(&format!("error: {e}"), true),
        }
    };
    let id = with_app(|app| {
        let id = app.next_run;
        app.next_run += 1;
        app.run = Some((id, RunState::Training));
        app.curves = LossCurves::default();
        app.config = config.model;
        app.epochs_trained = 0;
        app.cpu_copy = None;
        id
    });
    if in_worker {
        let grid_images = with_app(|app| {
            let test = &app.mnist.as_ref().expect("data loaded").test;
            app.grid
                .iter()
                .flat_map(|&i| test.image(i).to_vec())
                .collect()
        });
        worker::start(id, config.clone(), grid_images);
    }
    set_running_controls(true);
    dom::set_text("metrics-body", "");
    dom::set_text("model-note", "training from fresh weights");
    let place = if in_worker {
        "the training worker"
    } else {
        backend.kind.name()
    };
    dom::set_attr(
        &dom::get::<HtmlElement>("progress"),
        "data-engine",
        if in_worker { "worker" } else { "page" },
    );
    status(
        &format!(
            "training {} on {train_images} images ({place})…",
            config.model.kind
        ),
        false,
    );
    spawn_local(training_loop(id, engine));
}

fn toggle_pause() {
    let state = with_app(|app| {
        if let Some((_, state)) = app.run.as_mut() {
            *state = match state {
                RunState::Training => RunState::Paused,
                RunState::Paused => RunState::Training,
            };
            Some(*state)
        } else {
            None
        }
    });
    match state {
        Some(RunState::Paused) => {
            dom::set_text("pause", "Resume");
            dom::set_attr(&dom::get::<HtmlElement>("progress"), "data-state", "paused");
            status("paused", false);
        }
        Some(RunState::Training) => {
            dom::set_text("pause", "Pause");
            status("training resumed", false);
        }
        None => {}
    }
}

fn reset() {
    with_app(|app| {
        app.run = None;
        app.curves = LossCurves::default();
    });
    worker::stop();
    set_running_controls(false);
    show_progress();
    dom::set_text("metrics-body", "");
    chart::draw(&LossCurves::default(), read_usize("epochs").unwrap_or(20));
    spawn_local(async {
        let kind = selected_kind();
        let config = ModelConfig::new(kind);
        let model = with_app(|app| config.init(&app.backend.device)).expect("valid config");
        with_app(|app| {
            app.model = model;
            app.config = config;
            app.epochs_trained = 0;
            app.cpu_copy = None;
        });
        load_pretrained(true).await;
        refresh_grid().await;
        if with_app(|app| app.mnist.is_some()) {
            status("ready: reset", false);
        }
    });
}

// ---------------------------------------------------------------- training loop

/// Where a run's steps execute.
enum Engine {
    /// On the page, a frame's budget at a time (WebGPU: the GPU does the work).
    Page(Box<PageRun>),
    /// In the training worker (CPU backend): the page only shows what it reports.
    Worker,
}

/// A run trained on the page.
struct PageRun {
    trainer: Trainer,
    /// Whether the trainer is on WebGPU (until the device is lost).
    on_gpu: bool,
    /// Steps enqueued per frame on WebGPU, adapted to the frame's length.
    gpu_steps_per_frame: usize,
    /// On WebGPU, the weights are copied to the CPU at the start, each epoch and every
    /// CHECKPOINT_MS (`App::cpu_copy`): a lost GPU device cannot be read any more.
    last_checkpoint: f64,
    checkpointed_epochs: usize,
}

/// Wall-clock bookkeeping of a run, excluding pauses.
struct Clock {
    active_ms: f64,
    last_frame: Option<f64>,
}

/// Drives run `id` from `requestAnimationFrame`: each frame advances the run (or takes the
/// worker's reports) and redraws progress, chart and grid.
async fn training_loop(id: u64, mut engine: Engine) {
    let mut clock = Clock {
        active_ms: 0.0,
        last_frame: None,
    };
    let mut last_grid = dom::now();
    let mut last_chart = f64::MIN;
    let mut longest_frame_ms = 0.0;
    let mut smoothed: Option<f64> = None;
    let mut was_paused = false;
    // The run's latest report.
    let mut latest: Option<Report> = None;
    loop {
        // One batch of steps per animation frame, run in a task of its own right after the
        // frame, so the browser's rendering work and ours never add up to one long task.
        dom::next_frame().await;
        dom::yield_task().await;
        let frame_start = dom::now();
        let paused = match with_app(|app| app.run.filter(|(run, _)| *run == id).map(|(_, s)| s)) {
            None => return,
            Some(state) => state == RunState::Paused,
        };
        if matches!(engine, Engine::Worker) && paused != was_paused {
            if paused {
                worker::pause(id)
            } else {
                worker::resume(id)
            }
        }
        was_paused = paused;
        if paused {
            clock.last_frame = None;
            continue;
        }
        if let Some(last) = clock.last_frame {
            clock.active_ms += frame_start - last;
        }
        clock.last_frame = Some(frame_start);

        // Advance the run: the reports since the last frame (oldest first), and whether
        // the page's model now holds newer weights.
        let mut reports = Vec::new();
        let mut new_weights = false;
        let mut grid_reconstructions = None;
        match &mut engine {
            Engine::Page(run) => {
                let Some(report) = page_frame(id, run, frame_start).await else {
                    return;
                };
                if report.finished || dom::now() - last_grid > GRID_REFRESH_MS {
                    publish_model(&run.trainer);
                    new_weights = true;
                }
                reports.push(Ok(report));
            }
            Engine::Worker => {
                for update in worker::take_updates(id) {
                    if let Some(values) = update.weights {
                        let model = with_app(|app| app.model.clone());
                        if let Some(model) = model.with_values(&values, &backend::cpu().device) {
                            with_app(|app| app.model = model);
                            new_weights = true;
                            grid_reconstructions = update.reconstructions;
                        }
                    }
                    reports.extend(update.report.map(Ok));
                    reports.extend(update.error.map(Err));
                }
            }
        }
        if with_app(|app| app.run.map(|(run, _)| run) != Some(id)) {
            return;
        }
        let frame_ms = dom::now() - frame_start;
        if frame_ms > longest_frame_ms {
            longest_frame_ms = frame_ms;
            dom::set_attr(
                &dom::get::<HtmlElement>("progress"),
                "data-longest-frame-ms",
                &format!("{frame_ms:.1}"),
            );
        }
        let mut fresh = false;
        for report in reports {
            let report = match report {
                Ok(report) => report,
                Err(message) => {
                    let report = latest.unwrap_or_default();
                    finish_run(id, &report, &format!("error: {message}"), true);
                    refresh_grid().await;
                    return;
                }
            };
            if let Some(loss) = report.train_loss {
                let value = smoothed.map_or(loss, |s| 0.9 * s + 0.1 * loss);
                smoothed = Some(value);
                let x = report.step as f64 / report.steps_per_epoch as f64;
                with_app(|app| app.curves.steps.push((x, value)));
            }
            latest = Some(report);
            fresh = true;
        }
        let Some(report) = latest.clone().filter(|_| fresh) else {
            continue;
        };
        let new_epoch = with_app(|app| {
            let known = app.curves.train.len();
            for r in report.history.iter().skip(known) {
                app.curves.train.push((r.epoch as f64, r.train_mse));
                app.curves.validation.push((r.epoch as f64, r.val_mse));
            }
            app.epochs_trained = report.history.len();
            report.history.len() > known
        });
        // The chart and the DOM updates each run in a task of their own, so no task grows
        // long; the chart is drawn before the DOM updates, while the page's style is clean.
        if new_epoch || dom::now() - last_chart > CHART_REFRESH_MS || report.finished {
            dom::yield_task().await;
            last_chart = dom::now();
            let curves = with_app(|app| app.curves.clone());
            chart::draw(&curves, report.epochs);
            let chart_ms = dom::now() - last_chart;
            dom::set_attr(
                &dom::get::<HtmlElement>("loss-chart"),
                "data-draw-ms",
                &format!("{chart_ms:.1}"),
            );
        }
        let snapshot = snapshot(&report, &clock);
        show_progress_of(Some(&snapshot), "training", &caption(&snapshot));
        if new_weights && (new_epoch || report.finished || dom::now() - last_grid > GRID_REFRESH_MS)
        {
            last_grid = dom::now();
            refresh_grid_with(grid_reconstructions).await;
            request_sketch_update();
        }
        if report.finished {
            let test_images = report.train_images.clamp(500, 10_000);
            finish_run(
                id,
                &report,
                "training finished — measuring on the test set…",
                false,
            );
            evaluate_and_show(Some(test_images)).await;
            return;
        }
    }
}

/// One frame of a run on the page: steps within the budget, then the read-back (in a task of
/// its own) and, on WebGPU, a CPU copy of the weights when one is due. `None` when the run
/// ended here (an error shown, or the run replaced).
async fn page_frame(id: u64, run: &mut PageRun, frame_start: f64) -> Option<Report> {
    let trainer = &mut run.trainer;
    if run.on_gpu && backend::webgpu_lost().is_some() {
        continue_on_cpu(trainer);
        run.on_gpu = false;
    }
    let mut steps = 0;
    let mut step_start = frame_start;
    while trainer.step() {
        steps += 1;
        let now = dom::now();
        // On the CPU, stop before a step that would likely end past the budget.
        let last_step_ms = now - std::mem::replace(&mut step_start, now);
        let over = if run.on_gpu {
            steps >= run.gpu_steps_per_frame
        } else {
            now - frame_start + last_step_ms > FRAME_BUDGET_MS
        };
        if over {
            break;
        }
    }
    dom::yield_task().await;
    let synced = trainer.sync().await;
    if with_app(|app| app.run.map(|(run, _)| run) != Some(id)) {
        return None;
    }
    match synced {
        Ok(_) => {}
        Err(TrainError::Device(reason)) if run.on_gpu => {
            // The device failed before the browser reported it lost.
            on_webgpu_lost(reason);
            continue_on_cpu(trainer);
            run.on_gpu = false;
        }
        Err(error) => {
            finish_run(id, &trainer.report(), &format!("error: {error}"), true);
            publish_model(trainer);
            refresh_grid().await;
            return None;
        }
    }
    let report = trainer.report();
    if run.on_gpu {
        // Keep each frame's GPU work (enqueued steps and their read-back) near a frame's length.
        let cycle_ms = dom::now() - frame_start;
        if cycle_ms < 12.0 {
            run.gpu_steps_per_frame = (run.gpu_steps_per_frame * 2).min(64);
        } else if cycle_ms > 40.0 && run.gpu_steps_per_frame > 1 {
            run.gpu_steps_per_frame /= 2;
        }
        let due = report.history.len() > run.checkpointed_epochs
            || report.finished
            || dom::now() - run.last_checkpoint > CHECKPOINT_MS;
        if due {
            run.last_checkpoint = dom::now();
            run.checkpointed_epochs = report.history.len();
            if let Ok(copy) = trainer.model().copy_to(&backend::cpu().device).await {
                let step = report.step;
                with_app(|app| {
                    if app.run.map(|(run, _)| run) == Some(id) {
                        app.cpu_copy = Some((copy, format!("the weights of step {step}")));
                    }
                });
            }
        }
    }
    Some(report)
}

fn snapshot(report: &Report, clock: &Clock) -> Snapshot {
    let seconds = clock.active_ms / 1000.0;
    let images_per_sec = if seconds > 1.0 && report.images_seen > 0 {
        report.images_seen as f64 / seconds
    } else {
        0.0
    };
    let epoch_sec = report.train_images as f64 / images_per_sec;
    Snapshot {
        fraction: report.fraction,
        step: report.step,
        epoch: report.epoch,
        epochs: report.epochs,
        train_loss: report.train_loss,
        val_loss: report.history.last().map(|r| r.val_mse),
        images_per_sec,
        eta_sec: epoch_sec * report.epochs as f64 * (1.0 - report.fraction),
        epoch_sec,
    }
}

/// Runs one throwaway training step (and its read-back) of the selected model on a few test
/// images, once per model and backend, in a task of its own. The browser compiles wasm code
/// lazily, so the first step of a run would otherwise stall the first training frame.
/// (Runs in the training worker need none.)
async fn warm_up() {
    let kind = selected_kind();
    let Some((device, test)) = with_app(|app| {
        let test = app.mnist.as_ref()?.test.clone();
        let in_worker = app.backend.kind == Kind::Cpu && worker::is_coming();
        (!in_worker && app.warmed.insert((kind, app.backend.kind)))
            .then(|| (app.backend.device.clone(), test))
    }) else {
        return;
    };
    dom::yield_task().await;
    let pixels = (0..4).flat_map(|i| test.image(i).to_vec()).collect();
    let labels = (0..4).map(|i| test.label(i)).collect();
    let data = Arc::new(ImageSet::new(pixels, labels).expect("whole images"));
    let mut config = TrainConfig::new(kind);
    config.batch_size = 2;
    if let Ok(mut trainer) = Trainer::new(config, data, device) {
        trainer.step();
        // Only the compiled code matters; a failure here shows up again in a real run.
        let _ = trainer.sync().await;
    }
}

/// Makes the trainer's current weights the page's model (grid, sketch, download).
fn publish_model(trainer: &Trainer) {
    let model = trainer.model().valid();
    with_app(|app| app.model = model);
}

/// Ends run `id` (if it is still the current one) with `message` in the status line.
fn finish_run(id: u64, report: &Report, message: &str, is_error: bool) {
    let still_current = with_app(|app| {
        let current = app.run.map(|(run, _)| run) == Some(id);
        if current {
            app.run = None;
        }
        current
    });
    if still_current {
        set_running_controls(false);
        dom::set_text(
            "model-note",
            &format!("{} epochs trained here", report.history.len()),
        );
        let mut snapshot = snapshot(
            report,
            &Clock {
                active_ms: 0.0,
                last_frame: None,
            },
        );
        snapshot.images_per_sec = dom::get::<HtmlElement>("progress")
            .get_attribute("data-images-per-sec")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        show_progress_of(
            Some(&snapshot),
            if is_error { "error" } else { "done" },
            &format!("{} epochs · {} steps", report.history.len(), report.step),
        );
        status(message, is_error);
    }
}

/// The browser lost the WebGPU device (or a read on it failed): the page moves to the CPU
/// with the last CPU copy of the weights (fresh weights if there is none), and says so.
/// A training run notices at its next frame and goes on from there (see [`continue_on_cpu`]).
fn on_webgpu_lost(reason: String) {
    let moved = with_app(|app| {
        app.gpu = None;
        if app.backend.kind != Kind::WebGpu {
            return None;
        }
        let cpu = backend::cpu();
        let (model, from) = match app.cpu_copy.take() {
            Some(copy) => copy,
            None => (
                app.config.init(&cpu.device).expect("validated config"),
                "fresh weights".to_string(),
            ),
        };
        app.backend = cpu;
        app.model = model;
        Some(from)
    });
    let Some(from) = moved else { return };
    show_backend(Some(&format!("the device was lost: {reason}")));
    status(
        &format!("error: WebGPU device lost ({reason}); the lab goes on on the CPU from {from}"),
        true,
    );
    if !is_training() {
        spawn_local(async {
            warm_up().await;
            refresh_grid().await;
            request_sketch_update();
        });
    }
}

/// Moves a run whose WebGPU device was lost to the CPU, from the weights the page fell back
/// to (see [`on_webgpu_lost`]); position, data order and curves are kept.
fn continue_on_cpu(trainer: &mut Trainer) {
    let (device, model) = with_app(|app| (app.backend.device.clone(), app.model.clone()));
    trainer.continue_on(device, model);
}

// ---------------------------------------------------------------- inference views

/// Redraws the grid: the fixed test digits and, beneath, the model's reconstructions.
/// Runs in a task of its own, so it never lengthens the task that asked for it
/// (loading weights, a training frame).
async fn refresh_grid() {
    refresh_grid_with(None).await
}

/// Redraws the grid with `reconstructions` of the grid's digits if given (the training
/// worker computes them), else with the page model's.
async fn refresh_grid_with(reconstructions: Option<Vec<f32>>) {
    dom::yield_task().await;
    let Some((model, device, data, indices)) = with_app(|app| {
        let mnist = app.mnist.as_ref()?;
        Some((
            app.model.clone(),
            app.backend.device.clone(),
            mnist.test.clone(),
            app.grid.clone(),
        ))
    }) else {
        return;
    };
    let originals: Vec<f32> = indices
        .iter()
        .flat_map(|&i| data.image(i).iter().map(|&p| f32::from(p) / 255.0))
        .collect();
    let reconstructions = match reconstructions {
        Some(values) => values,
        None => {
            let output = model.forward(images_tensor(originals.clone(), &device));
            let Ok(values) = read_values(output).await else {
                return;
            };
            values
        }
    };
    let mut images: Vec<&[f32]> = originals.chunks(IMAGE_PIXELS).collect();
    images.extend(reconstructions.chunks(IMAGE_PIXELS));
    draw::image_grid("recon-grid", &images, 10, 2);
    let grid: HtmlElement = dom::get("recon-grid");
    dom::set_attr(&grid, "data-updated", &format!("{:.0}", dom::now()));
}

/// Schedules a sketch reconstruction; coalesces bursts of pointer events.
fn request_sketch_update() {
    let start = with_app(|app| {
        app.sketch_dirty = true;
        !std::mem::replace(&mut app.sketch_busy, true)
    });
    if start {
        spawn_local(async {
            loop {
                // A task of its own: never extend the task that asked for it.
                dom::yield_task().await;
                with_app(|app| app.sketch_dirty = false);
                update_sketch().await;
                let again = with_app(|app| {
                    app.sketch_busy = app.sketch_dirty;
                    app.sketch_dirty
                });
                if !again {
                    return;
                }
            }
        });
    }
}

async fn update_sketch() {
    let (ink, width, height) = sketch::ink();
    let Some(input) = sketch_data::to_mnist(&ink, width, height) else {
        let blank = vec![0.0; IMAGE_PIXELS];
        draw::image_grid("sketch-input", &[&blank], 1, 4);
        draw::image_grid("sketch-recon", &[&blank], 1, 4);
        return;
    };
    draw::image_grid("sketch-input", &[&input], 1, 4);
    let (model, device) = with_app(|app| (app.model.clone(), app.backend.device.clone()));
    let output = model.forward(images_tensor(input, &device));
    if let Ok(reconstruction) = read_values(output).await {
        draw::image_grid("sketch-recon", &[&reconstruction], 1, 4);
    }
}

/// Measures the model on the test set (all of it, or the first `limit` images), one
/// batch per frame, and fills `#metrics`.
async fn evaluate_and_show(limit: Option<usize>) {
    let Some((model, backend, test)) = with_app(|app| {
        let mnist = app.mnist.as_ref()?;
        Some((app.model.clone(), app.backend.clone(), mnist.test.clone()))
    }) else {
        return status("error: MNIST is not loaded", true);
    };
    set_enabled("evaluate", false);
    let count = limit.unwrap_or(test.len()).min(test.len());
    let mut accumulator = MetricsAccumulator::default();
    // Chunks sized to about EVAL_TASK_MS each, from the speed measured so far.
    let (mut done, mut chunk_size) = (0, 4);
    while done < count {
        // One chunk per frame, each in a task of its own (never tacked onto the caller's).
        dom::next_frame().await;
        dom::yield_task().await;
        status(
            &format!("measuring on the test set: {done} / {count}…"),
            false,
        );
        let started = dom::now();
        let chunk: Vec<usize> = (done..(done + chunk_size).min(count)).collect();
        let output = model.forward(test.batch(&chunk, &backend.device));
        let enqueue_ms = dom::now() - started;
        let reconstructions = match read_values(output).await {
            Ok(values) => values,
            Err(e) => {
                set_enabled("evaluate", true);
                return status(&format!("error: {e}"), true);
            }
        };
        let originals: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| test.image(i).iter().map(|&p| f32::from(p) / 255.0))
            .collect();
        let read_at = dom::now();
        accumulator.add(&originals, &reconstructions);
        done += chunk.len();
        // Main-thread time: on the CPU the read-back is where the work runs; on WebGPU its
        // wait is not the page's.
        let busy_ms = match backend.kind {
            Kind::Cpu => dom::now() - started,
            Kind::WebGpu => enqueue_ms + dom::now() - read_at,
        };
        let ms_per_image = busy_ms / chunk.len() as f64;
        chunk_size = ((EVAL_TASK_MS / ms_per_image.max(0.01)) as usize).clamp(1, 200);
    }
    show_metrics(&accumulator.finish());
    set_enabled("evaluate", true);
    status("ready: test metrics measured", false);
}

fn show_metrics(m: &Metrics) {
    let kind = with_app(|app| app.config.kind);
    let row = format!(
        "<tr><td>{kind}</td><td>{}</td><td>{:.5}</td><td>{:.2} dB</td><td>{:.4}</td><td>{:.3}</td></tr>",
        m.images, m.mse, m.psnr_db, m.ssim, m.l2_per_image
    );
    dom::get::<HtmlElement>("metrics-body").set_inner_html(&row);
    let table: HtmlElement = dom::get("metrics");
    dom::set_attr(&table, "data-mse", &format!("{:.6}", m.mse));
}

// ---------------------------------------------------------------- weights

/// Loads `weights/<model>.bin` if the site has it. `quiet`: a missing file is not an error.
async fn load_pretrained(quiet: bool) {
    let kind = selected_kind();
    let url = format!("weights/{kind}.bin");
    match loader::fetch_optional(&url).await {
        Ok(Some(bytes)) => {
            if let Err(message) = apply_weights(&bytes, kind) {
                status(&format!("error: {url}: {message}"), true);
            } else {
                status(&format!("loaded pretrained {kind} weights"), false);
            }
        }
        Ok(None) if quiet => {}
        Ok(None) => status(
            &format!("error: no pretrained weights for {kind} on this site"),
            true,
        ),
        Err(message) => status(&format!("error: {message}"), true),
    }
    request_sketch_update();
}

/// Replaces the model with the weights in `bytes`, or leaves it untouched and says why.
fn apply_weights(bytes: &[u8], kind: ModelKind) -> Result<(), String> {
    let backend = with_app(|app| app.backend.clone());
    // Read once on the CPU; on WebGPU that copy is also the one a lost device leaves.
    let (cpu_model, header) =
        weights::from_bytes_for(bytes, kind, &backend::cpu().device).map_err(|e| e.to_string())?;
    let (model, cpu_copy) = match backend.kind {
        Kind::WebGpu => (
            cpu_model.clone().fork(&backend.device),
            Some((cpu_model, "the loaded weights".to_string())),
        ),
        Kind::Cpu => (cpu_model, None),
    };
    with_app(|app| {
        app.model = model;
        app.config = header.model;
        app.epochs_trained = header.epochs;
        app.cpu_copy = cpu_copy;
    });
    dom::set_text("model-note", &format!("{} epochs trained", header.epochs));
    Ok(())
}

async fn upload_weights(file: web_sys::File) {
    let name = file.name();
    let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
        Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
        Err(e) => return status(&format!("error: {}", loader::describe(&name, e)), true),
    };
    match apply_weights(&bytes, selected_kind()) {
        Ok(()) => {
            status(&format!("loaded weights from {name}"), false);
            refresh_grid().await;
            request_sketch_update();
        }
        Err(message) => status(
            &format!("error: {name}: {message} — the current model is unchanged"),
            true,
        ),
    }
}

async fn download_weights() {
    let (model, config, epochs) =
        with_app(|app| (app.model.clone(), app.config, app.epochs_trained));
    // Serialising reads the tensors synchronously: do it on a CPU copy.
    let model = match model.copy_to(&backend::cpu().device).await {
        Ok(model) => model,
        Err(e) => return status(&format!("error: could not read the weights: {e:?}"), true),
    };
    let bytes = match weights::to_bytes(
        &model,
        &WeightsHeader {
            model: config,
            epochs,
            precision: Default::default(),
        },
    ) {
        Ok(bytes) => bytes,
        Err(e) => return status(&format!("error: {e}"), true),
    };
    let array = js_sys::Uint8Array::from(bytes.as_slice());
    let parts = js_sys::Array::of1(&array);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence(&parts) else {
        return status("error: could not package the weights", true);
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return status("error: could not package the weights", true);
    };
    let link: web_sys::HtmlAnchorElement = dom::document()
        .create_element("a")
        .expect("anchor")
        .unchecked_into();
    link.set_href(&url);
    link.set_download(&format!("{}.bin", config.kind));
    link.click();
    let _ = web_sys::Url::revoke_object_url(&url);
}

// ---------------------------------------------------------------- backend switch

async fn switch_backend(wanted: String) {
    let current = with_app(|app| app.backend.kind);
    if wanted == current.name() {
        return;
    }
    if is_training() {
        // Pause, move, resume would need the optimizer state on the new device too;
        // keep it simple and explicit.
        status(
            "error: pause or reset training before switching the backend",
            true,
        );
        dom::get::<HtmlSelectElement>("backend-select").set_value(current.name());
        return;
    }
    let target = if wanted == "webgpu" {
        match with_app(|app| app.gpu.clone()) {
            Some(gpu) => gpu,
            None => match backend::webgpu(on_webgpu_lost).await {
                Ok(gpu) => {
                    with_app(|app| app.gpu = Some(gpu.clone()));
                    gpu
                }
                Err(reason) => {
                    status(&format!("error: {reason}"), true);
                    dom::get::<HtmlSelectElement>("backend-select").set_value(current.name());
                    return;
                }
            },
        }
    } else {
        backend::cpu()
    };
    let model = with_app(|app| app.model.clone());
    match model.copy_to(&target.device).await {
        Ok(moved) => with_app(|app| {
            app.cpu_copy =
                (target.kind == Kind::WebGpu).then(|| (model, "the current weights".into()));
            app.model = moved;
            app.backend = target;
        }),
        Err(e) => {
            status(&format!("error: could not move the model: {e:?}"), true);
            dom::get::<HtmlSelectElement>("backend-select").set_value(current.name());
            return;
        }
    }
    show_backend(None);
    status(&format!("now on {wanted}"), false);
    warm_up().await;
    refresh_grid().await;
    request_sketch_update();
}

// ---------------------------------------------------------------- state for scripts

/// The page's state as plain data (see [`super::lab_state`]).
#[derive(serde::Serialize)]
pub struct LabState {
    backend: &'static str,
    adapter: String,
    model: ModelKind,
    code_size: usize,
    epochs_trained: usize,
    training: bool,
    data_loaded: bool,
    train_curve: Vec<(f64, f64)>,
    validation_curve: Vec<(f64, f64)>,
}

/// A snapshot of the state, or `None` before start-up finished.
pub fn state() -> Option<LabState> {
    APP.with(|app| {
        let app = app.borrow();
        let app = app.as_ref()?;
        Some(LabState {
            backend: app.backend.kind.name(),
            adapter: app.backend.label.clone(),
            model: app.config.kind,
            code_size: app.config.code_size,
            epochs_trained: app.epochs_trained,
            training: app.run.is_some(),
            data_loaded: app.mnist.is_some(),
            train_curve: app.curves.train.clone(),
            validation_curve: app.curves.validation.clone(),
        })
    })
}
