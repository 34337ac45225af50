//! The sketch pad: pointer (mouse, pen, touch) strokes on `#sketch` (or, with the eraser,
//! strokes that wipe), read back as ink, turned into an MNIST-style 28×28 input, corrupted
//! if asked (a denoiser then cleans the drawing live) and reconstructed by the model as it
//! changes.

use std::cell::Cell;
use std::rc::Rc;

use web_sys::{HtmlCanvasElement, HtmlInputElement, PointerEvent};

use super::{Latest, View};
use crate::data::{Corruption, IMAGE_PIXELS, images_tensor, sketch::to_mnist, unit};
use crate::model::{Model, read_values};
use crate::web::app::{App, Changes};
use crate::web::{dom, draw};

/// Pen width relative to the pad's side (MNIST strokes are ~2–3 px of 28).
const PEN: f64 = 0.075;
/// The eraser is wider than the pen.
const ERASER: f64 = 0.15;
/// "Corrupt my drawing" without a denoising setting: the article's Gaussian noise.
const DEFAULT_NOISE: Corruption = Corruption::Gaussian { sigma: 0.3 };
/// The drawing's corruption is seeded, so that it does not flicker from stroke to stroke.
const SKETCH_NOISE_SEED: u64 = 7;

/// What one redraw needs: the drawing as a 28×28 input and the model to rebuild it.
struct Job {
    input: Vec<f32>,
    /// On its own device: the CPU while a worker's run is shown.
    model: Model,
}

/// The 28×28 input and its reconstruction beside the pad.
#[derive(Default)]
pub struct Sketch(Latest<Job>);

impl View for Sketch {
    fn redraw(&mut self, app: &App, _: Changes) {
        let Some(mut input) = digit() else {
            let blank = vec![0.0; IMAGE_PIXELS];
            draw::image_grid("sketch-input", &[&blank], 1, 4);
            draw::image_grid("sketch-recon", &[&blank], 1, 4);
            return;
        };
        let caption = match dom::get::<HtmlInputElement>("sketch-noise").checked() {
            true => {
                let noise = app.noise.unwrap_or(DEFAULT_NOISE);
                input = corrupted(&input, noise);
                format!("28×28 input, corrupted ({noise})")
            }
            false => "28×28 input".to_string(),
        };
        dom::set_text("sketch-input-caption", &caption);
        draw::image_grid("sketch-input", &[&input], 1, 4);
        let job = Job {
            input,
            model: app.model.model.clone(),
        };
        self.0.submit(job, reconstruct);
    }
}

/// `input` (784 values in [0, 1]) corrupted by `noise`, through its u8 pixels.
fn corrupted(input: &[f32], noise: Corruption) -> Vec<f32> {
    let mut pixels: Vec<u8> = input.iter().map(|v| (v * 255.0).round() as u8).collect();
    noise
        .corrupter()
        .apply_seeded(&mut pixels, &[0], SKETCH_NOISE_SEED);
    pixels.into_iter().map(unit).collect()
}

async fn reconstruct(job: Job) {
    let output = job.model.forward(images_tensor(job.input, &job.model.device()));
    if let Ok(reconstruction) = read_values(output).await {
        draw::image_grid("sketch-recon", &[&reconstruction], 1, 4);
    }
}

/// Wires the pad; every stroke segment and Clear report [`Changes::SKETCH`].
pub fn install_pad(changed: fn(Changes)) {
    let on_change = Rc::new(move || changed(Changes::SKETCH));
    let drawing = Rc::new(Cell::new(false));
    clear();

    let canvas: HtmlCanvasElement = dom::get("sketch");
    let position = {
        let canvas = canvas.clone();
        move |event: &PointerEvent| {
            let rect = canvas.get_bounding_client_rect();
            let sx = f64::from(canvas.width()) / rect.width();
            let sy = f64::from(canvas.height()) / rect.height();
            (
                (f64::from(event.client_x()) - rect.left()) * sx,
                (f64::from(event.client_y()) - rect.top()) * sy,
            )
        }
    };
    {
        let (drawing, canvas, position) = (drawing.clone(), canvas.clone(), position.clone());
        dom::on("sketch", "pointerdown", move |event: PointerEvent| {
            event.prevent_default();
            let _ = canvas.set_pointer_capture(event.pointer_id());
            drawing.set(true);
            let ctx = draw::context(&canvas);
            let erasing = dom::get::<HtmlInputElement>("eraser").checked();
            let side = f64::from(canvas.width());
            ctx.set_stroke_style_str(if erasing { "#000" } else { "#fff" });
            ctx.set_line_width(side * if erasing { ERASER } else { PEN });
            let (x, y) = position(&event);
            ctx.begin_path();
            ctx.move_to(x, y);
            ctx.line_to(x + 0.01, y);
            ctx.stroke();
        });
    }
    {
        let (drawing, canvas, on_change) = (drawing.clone(), canvas.clone(), on_change.clone());
        dom::on("sketch", "pointermove", move |event: PointerEvent| {
            if !drawing.get() {
                return;
            }
            let ctx = draw::context(&canvas);
            let (x, y) = position(&event);
            ctx.line_to(x, y);
            ctx.stroke();
            ctx.begin_path();
            ctx.move_to(x, y);
            on_change();
        });
    }
    for end in ["pointerup", "pointercancel", "pointerleave"] {
        let (drawing, on_change) = (drawing.clone(), on_change.clone());
        dom::on("sketch", end, move |_: PointerEvent| {
            if drawing.replace(false) {
                on_change();
            }
        });
    }
    let on_noise = on_change.clone();
    dom::on("sketch-noise", "change", move |_: web_sys::Event| on_noise());
    let on_clear = on_change.clone();
    dom::on("clear-sketch", "click", move |_: web_sys::Event| {
        clear();
        on_clear();
    });
    // By keyboard: with the pad focused, Delete, Backspace or Escape wipes it.
    dom::on("sketch", "keydown", move |event: web_sys::KeyboardEvent| {
        if matches!(event.key().as_str(), "Delete" | "Backspace" | "Escape") {
            event.prevent_default();
            clear();
            on_change();
        }
    });
}

/// Wipes the pad to black and resets the pen.
pub fn clear() {
    let canvas: HtmlCanvasElement = dom::get("sketch");
    let ctx = draw::context(&canvas);
    let side = f64::from(canvas.width());
    ctx.set_fill_style_str("#000");
    ctx.fill_rect(0.0, 0.0, side, f64::from(canvas.height()));
    ctx.set_stroke_style_str("#fff");
    ctx.set_line_width(side * PEN);
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
}

/// The drawing as an MNIST-style 28×28 digit (values in [0, 1]), or `None` while the pad is
/// blank. Other views use it too: the interpolation's ends, the comparison's last column.
pub fn digit() -> Option<Vec<f32>> {
    let (ink, width, height) = ink();
    to_mnist(&ink, width, height)
}

/// The pad's ink as intensities in [0, 1], with its size.
pub fn ink() -> (Vec<f32>, usize, usize) {
    let canvas: HtmlCanvasElement = dom::get("sketch");
    let (w, h) = (canvas.width() as usize, canvas.height() as usize);
    let data = draw::context(&canvas)
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .expect("readable canvas")
        .data();
    let ink = data.chunks_exact(4).map(|p| unit(p[0])).collect();
    (ink, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_SIDE;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_stroke_becomes_ink_and_an_mnist_style_digit() {
        let pad = dom::add_canvas("sketch", 280, 280);
        clear();
        let ctx = draw::context(&pad);
        ctx.begin_path();
        ctx.move_to(140.0, 60.0);
        ctx.line_to(140.0, 220.0);
        ctx.stroke();

        let (ink, width, height) = ink();
        assert_eq!((width, height), (280, 280));
        assert!(ink[140 * 280 + 140] > 0.9, "the stroke is inked");
        assert_eq!(ink[140 * 280 + 20], 0.0, "the background is black");

        // A vertical bar: scaled to the 20-pixel box, centred at column 14 like MNIST.
        let digit = to_mnist(&ink, width, height).expect("ink found");
        let row_inked = |r: usize| {
            digit[r * IMAGE_SIDE..(r + 1) * IMAGE_SIDE]
                .iter()
                .any(|&v| v > 0.5)
        };
        let rows = (0..IMAGE_SIDE).filter(|&r| row_inked(r)).count();
        assert!((17..=21).contains(&rows), "{rows} inked rows");
        let mass: f32 = digit.iter().sum();
        let centre: f32 = digit
            .iter()
            .enumerate()
            .map(|(i, v)| (i % IMAGE_SIDE) as f32 * v)
            .sum::<f32>()
            / mass;
        assert!(
            (centre - 14.0).abs() < 1.0,
            "centre of mass at column {centre}"
        );
    }
}
