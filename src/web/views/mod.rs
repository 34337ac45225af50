//! The page's views: each draws one part of the state, and redraws itself when a part it
//! shows changes. Adding a view is a new file here and one line in [`all`] (the view and
//! what it shows); nothing else in the page needs to know.

mod chart;
mod compare;
mod generate;
mod grid;
mod interpolation;
mod kept;
mod latent_map;
mod metrics;
mod sketch;

use std::cell::RefCell;
use std::rc::Rc;

use web_sys::HtmlElement;

use super::app::{App, Changes, Origin};
use crate::data::{IMAGE_PIXELS, images_tensor};
use crate::model::{Model, read_values};
use super::dom;

/// One part of the page drawn from the state.
pub trait View {
    /// Redraws from `app`; `changes` says what changed since the last render.
    fn redraw(&mut self, app: &App, changes: Changes);
}

/// Every view of the page, with the parts of the state it shows: a change to any of them
/// redraws it.
pub fn all() -> Views {
    Views(vec![
        (
            Changes::MODEL | Changes::DATA | Changes::NOISE,
            Box::new(grid::Grid::default()),
        ),
        (
            Changes::MODEL | Changes::SKETCH | Changes::NOISE,
            Box::new(sketch::Sketch::default()),
        ),
        (
            Changes::CURVES | Changes::STEP_CURVE,
            Box::new(chart::Chart::default()),
        ),
        (Changes::METRICS, Box::new(metrics::MetricsTable)),
        (Changes::KEPT, Box::new(kept::KeptOffer)),
        (
            Changes::MODEL | Changes::DATA | Changes::LATENT,
            Box::new(latent_map::LatentMap::default()),
        ),
        (
            Changes::MODEL | Changes::DATA | Changes::PICKS,
            Box::new(interpolation::Interpolation::default()),
        ),
        (
            Changes::MODEL | Changes::DATA | Changes::GENERATE,
            Box::new(generate::Generate::default()),
        ),
        (
            Changes::MODEL | Changes::DATA | Changes::SHELF | Changes::SKETCH,
            Box::new(compare::Compare::default()),
        ),
    ])
}

/// Whether the shown model has weights worth looking inside. If not (fresh), the view's
/// canvas is hidden and its caption asks for weights; else the canvas is shown.
fn has_weights(app: &App, canvas: &str, caption: &str) -> bool {
    let fresh = app.model.origin == Origin::Fresh;
    dom::get::<HtmlElement>(canvas).set_hidden(fresh);
    if fresh {
        dom::set_text(caption, "No weights yet: load the pretrained ones or train first.");
    }
    !fresh
}

/// Images a view's work encodes in one task: under 10 ms for `upsample` or `deep` (the
/// slowest encoders) on the page's CPU backend, so that no task of a view's nears 50 ms.
const ENCODE_CHUNK: usize = 8;

thread_local! {
    /// Whether a run trains now: the views' longer work (the map's codes and neighbours, the
    /// comparison's measurements) stops between its chunks when one starts, and is done
    /// again when the run ends.
    static TRAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a run trains now (see [`TRAINING`]).
fn training() -> bool {
    TRAINING.get()
}

/// The codes of `pixels` (N × 784) by `model`, [`ENCODE_CHUNK`] images per task; `None` if
/// a run starts meanwhile or the device is lost.
async fn encode_in_chunks(model: &Model, pixels: &[f32]) -> Option<Vec<f32>> {
    let device = model.device();
    let mut codes = Vec::new();
    for chunk in pixels.chunks(ENCODE_CHUNK * IMAGE_PIXELS) {
        if training() {
            return None;
        }
        let code = model.encode(images_tensor(chunk.to_vec(), &device));
        codes.extend(read_values(code).await.ok()?);
        dom::yield_task().await;
    }
    // A run may have started during the last yield.
    (!training()).then_some(codes)
}

pub struct Views(Vec<(Changes, Box<dyn View>)>);

impl Views {
    /// Redraws the views that show something in `changes`.
    pub fn render(&mut self, app: &App, changes: Changes) {
        TRAINING.set(app.run.is_active());
        for (shows, view) in &mut self.0 {
            if shows.intersects(changes) {
                view.redraw(app, changes);
            }
        }
    }
}

/// Sets up the views' own inputs (the sketch pad); `changed` reports what they change.
pub fn install(changed: fn(Changes)) {
    sketch::install_pad(changed);
    interpolation::install_picks(changed);
    generate::install(changed);
    latent_map::install(changed);
    chart::warm_up();
}

/// Runs asynchronous redraws one at a time, each in a task of its own; a redraw asked for
/// while one runs replaces any other waiting one, so bursts (pointer moves, training
/// updates) coalesce into the newest.
pub struct Latest<J> {
    state: Rc<RefCell<(bool, Option<J>)>>,
}

impl<J> Default for Latest<J> {
    fn default() -> Self {
        Self {
            state: Rc::new(RefCell::new((false, None))),
        }
    }
}

impl<J: 'static> Latest<J> {
    pub fn submit<F: Future<Output = ()> + 'static>(&self, job: J, run: fn(J) -> F) {
        let mut state = self.state.borrow_mut();
        state.1 = Some(job);
        if std::mem::replace(&mut state.0, true) {
            return;
        }
        let shared = self.state.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                dom::yield_task().await;
                let next = shared.borrow_mut().1.take();
                let Some(job) = next else {
                    shared.borrow_mut().0 = false;
                    return;
                };
                run(job).await;
            }
        });
    }
}
