//! The interpolation strip: decodes of codes on the straight line between two test digits'
//! codes (top row), and beneath it the pixel cross-fade of the same two digits, for
//! comparison. The ends start as the grid's first 3 and first 8; a click on a test digit in
//! the grid sets one end, the first end, then the second, and so on.

use std::cell::Cell;

use web_sys::{HtmlCanvasElement, MouseEvent};

use super::{Latest, View};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, images_tensor};
use crate::explore::decodes;
use crate::explore::interpolate::strip;
use crate::model::{Model, read_values};
use crate::web::app::{App, Changes, GRID_PER_CLASS};
use crate::web::{dom, draw};

/// Decodes in the strip, both ends included.
const STEPS: usize = 10;
/// The grid's classes the strip starts between (its top row holds one digit per class).
const DEFAULT_ENDS: [usize; 2] = [3, 8];
/// The grid draws its digits `SCALE` times their size with a gap between them.
const GRID_CELL: f64 = (IMAGE_SIDE * 2 + 2) as f64;

thread_local! {
    /// The grid positions of the two ends, and which end the next click sets.
    static ENDS: Cell<([usize; 2], usize)> = const { Cell::new((DEFAULT_ENDS, 0)) };
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
        let (ends, _) = ENDS.get();
        let indices: Vec<usize> = ends.iter().filter_map(|&at| data.grid.get(at).copied()).collect();
        if indices.len() < 2 {
            return;
        }
        let labels: Vec<&str> = indices
            .iter()
            .map(|&i| data.sets.test.label(i))
            .map(|label| app.dataset.labels.get(usize::from(label)).map_or("?", String::as_str))
            .collect();
        dom::set_text(
            "interp-caption",
            &format!(
                "From a test {} to a test {}: top, the decodes of {STEPS} codes on the line between theirs; bottom, the pixels cross-faded. Click two test digits in the grid to choose others.",
                labels[0], labels[1]
            ),
        );
        let job = Job {
            ends: data.sets.test.values(&indices),
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

/// A click on a test digit of the grid (its top rows) sets the next end of the strip and
/// reports [`Changes::PICKS`].
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
        let (mut ends, next) = ENDS.get();
        ends[next] = row / per_set * 10 + col;
        ENDS.set((ends, 1 - next));
        changed(Changes::PICKS);
    });
}
