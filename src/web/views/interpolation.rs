//! The interpolation strip: decodes of codes on the straight line between two digits' codes
//! (top row), and beneath it the pixel cross-fade of the same two digits, for comparison.
//! The ends start as the grid's first 3 and first 8. Each pick sets the next end, the first,
//! then the second, and so on: a click on a test digit in the grid, "Your sketch" (the pad's
//! drawing) or "The map's point" (the digit decoded where the latent map was last pressed).

use std::cell::RefCell;

use web_sys::{HtmlCanvasElement, MouseEvent};

use super::{Latest, View};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, images_tensor};
use crate::explore::decodes;
use crate::explore::interpolate::strip;
use crate::model::{Model, read_values};
use crate::web::app::{App, Changes, GRID_PER_CLASS, LoadedData};
use crate::web::{dom, draw};

/// Decodes in the strip, both ends included.
const STEPS: usize = 10;
/// The grid's classes the strip starts between (its top row holds one digit per class).
const DEFAULT_ENDS: [usize; 2] = [3, 8];
/// The grid draws its digits `SCALE` times their size with a gap between them.
const GRID_CELL: f64 = (IMAGE_SIDE * 2 + 2) as f64;

/// One end of the strip.
#[derive(Clone)]
enum End {
    /// A test digit, by its position in the grid.
    Test(usize),
    /// A digit from elsewhere on the page (784 values), and what it is, in words.
    Drawn(Vec<f32>, &'static str),
}

impl End {
    /// The end's pixels and its name, e.g. "a test 3"; `None` if the grid has no such digit.
    fn resolve(&self, app: &App, data: &LoadedData) -> Option<(Vec<f32>, String)> {
        match self {
            Self::Test(at) => {
                let index = *data.grid.get(*at)?;
                let label = data.sets.test.label(index);
                let name = app.dataset.labels.get(usize::from(label)).map_or("?", String::as_str);
                Some((data.sets.test.values(&[index]), format!("a test {name}")))
            }
            Self::Drawn(pixels, what) => Some((pixels.clone(), (*what).to_string())),
        }
    }
}

/// Another view's digit to take as an end (784 values), if it has one now.
type DigitOf = fn() -> Option<Vec<f32>>;

thread_local! {
    /// The two ends, and which end the next pick sets.
    static ENDS: RefCell<([End; 2], usize)> =
        const { RefCell::new(([End::Test(DEFAULT_ENDS[0]), End::Test(DEFAULT_ENDS[1])], 0)) };
}

/// Makes `end` the next end of the strip.
fn pick(end: End) {
    ENDS.with_borrow_mut(|(ends, next)| {
        ends[*next] = end;
        *next = 1 - *next;
    });
}

struct Job {
    ends: Vec<f32>,
    /// On its own device: the CPU while a worker's run is shown.
    model: Model,
}

#[derive(Default)]
pub struct Interpolation(Latest<Job>);

impl View for Interpolation {
    fn redraw(&mut self, app: &App, _: Changes) {
        let Some(data) = app.loaded() else {
            return;
        };
        if !super::has_weights(app, "interp-strip", "interp-caption") {
            return;
        }
        // Not on every weights update of a run (`deep`'s 12 passes take a frame's budget and
        // more on the page's CPU backend): drawn again when the run ends.
        if app.run.is_active() {
            return;
        }
        let ends = ENDS.with_borrow(|(ends, _)| ends.clone());
        let [Some((from, from_name)), Some((to, to_name))] = ends.map(|end| end.resolve(app, data))
        else {
            return;
        };
        dom::set_text(
            "interp-caption",
            &format!(
                "From {from_name} to {to_name}: top, the decodes of {STEPS} codes on the line between theirs; bottom, the pixels cross-faded. Choose other ends: click test digits in the grid, or take your sketch or the map's point."
            ),
        );
        let job = Job {
            ends: [from, to].concat(),
            model: app.model.model.clone(),
        };
        self.0.submit(job, draw_strip);
    }
}

async fn draw_strip(job: Job) {
    let device = job.model.device();
    let codes = job.model.encode(images_tensor(job.ends.clone(), &device));
    let Ok(codes) = read_values(codes).await else {
        return; // a lost device: the page moves on and redraws
    };
    dom::yield_task().await; // the encoding and the decoding: two tasks
    let (from, to) = codes.split_at(codes.len() / 2);
    let (Ok(line), Ok(fade)) = (
        strip(from, to, STEPS),
        strip(&job.ends[..IMAGE_PIXELS], &job.ends[IMAGE_PIXELS..], STEPS),
    ) else {
        return;
    };
    let Ok(decodes) = decodes(&job.model, line, from.len()).await else {
        return;
    };
    let images: Vec<&[f32]> = decodes.chunks(IMAGE_PIXELS).chain(fade.chunks(IMAGE_PIXELS)).collect();
    draw::image_grid("interp-strip", &images, STEPS, 2);
    let canvas: HtmlCanvasElement = dom::get("interp-strip");
    dom::set_attr(&canvas, "data-updated", &format!("{:.0}", dom::now()));
}

/// A click on a test digit of the grid (its top rows), "Your sketch" or "The map's point"
/// sets the next end of the strip and reports [`Changes::PICKS`].
pub fn install_picks(changed: fn(Changes)) {
    let canvas: HtmlCanvasElement = dom::get("recon-grid");
    dom::on("recon-grid", "click", move |event: MouseEvent| {
        let rect = canvas.get_bounding_client_rect();
        let x = (f64::from(event.client_x()) - rect.left()) * f64::from(canvas.width()) / rect.width();
        let y = (f64::from(event.client_y()) - rect.top()) * f64::from(canvas.height()) / rect.height();
        let (col, row) = ((x / GRID_CELL) as usize, (y / GRID_CELL) as usize);
        // The grid's rows come in sets, one per row of test digits: the digits, the corrupted
        // inputs if shown, the reconstructions.
        let rows: usize = canvas
            .get_attribute("data-rows")
            .and_then(|r| r.parse().ok())
            .unwrap_or(2 * GRID_PER_CLASS);
        let per_set = (rows / GRID_PER_CLASS).max(1);
        if col >= 10 || row >= rows || row % per_set != 0 {
            return; // not a test digit
        }
        pick(End::Test(row / per_set * 10 + col));
        changed(Changes::PICKS);
    });
    let sources: [(&str, DigitOf, &'static str, &str); 2] = [
        ("interp-sketch", super::sketch::digit, "your sketch", "Draw a digit on the sketch pad first."),
        (
            "interp-map",
            super::latent_map::pressed_digit,
            "the map's point",
            "Press a point on the latent map first.",
        ),
    ];
    for (button, digit, what, missing) in sources {
        dom::on(button, "click", move |_: web_sys::Event| match digit() {
            Some(pixels) => {
                pick(End::Drawn(pixels, what));
                changed(Changes::PICKS);
            }
            None => dom::set_text("interp-caption", missing),
        });
    }
}
