//! The reconstruction grid: each row of test digits directly above the model's
//! reconstructions of them (and, with a denoising corruption, the inputs it gets in between);
//! drawn when the model, the data or the corruption changes.

use web_sys::HtmlElement;

use super::{Latest, View};
use crate::data::{IMAGE_PIXELS, images_tensor, unit};
use crate::model::{Model, read_values};
use crate::web::app::{App, Changes};
use crate::web::{dom, draw};

/// What one redraw needs, taken from the state.
struct Job {
    originals: Vec<f32>,
    /// The corrupted inputs, when the grid shows a corruption.
    inputs: Option<Vec<f32>>,
    /// The training worker's reconstructions, or the model to compute them with (on its
    /// own device: the CPU while a worker's run is shown).
    reconstructions: Result<Vec<f32>, Model>,
}

#[derive(Default)]
pub struct Grid {
    redraws: Latest<Job>,
    /// The class names shown above the columns (rewritten only when they change: a
    /// dataset switch, not every weights update during a run).
    classes: Vec<String>,
}

impl View for Grid {
    fn redraw(&mut self, app: &App, _: Changes) {
        let Some(data) = app.loaded() else {
            return;
        };
        let reconstructions = match &app.model.grid_reconstructions {
            Some(values) => Ok(values.clone()),
            None => Err(app.model.model.clone()),
        };
        if self.classes != app.dataset.labels {
            self.classes.clone_from(&app.dataset.labels);
            show_classes(&self.classes);
        }
        let inputs = app
            .noise
            .map(|noise| data.grid_inputs(Some(noise)).into_iter().map(unit).collect());
        let job = Job {
            originals: data.sets.test.values(&data.grid),
            inputs,
            reconstructions,
        };
        self.redraws.submit(job, draw_grid);
    }
}

/// The classes' names above the grid's columns (a column holds one class).
fn show_classes(labels: &[String]) {
    let row: HtmlElement = dom::get("grid-classes");
    row.set_text_content(None);
    let document = dom::document();
    for label in labels {
        let name = document.create_element("span").expect("a span");
        name.set_text_content(Some(label));
        dom::set_attr(&name, "title", label);
        let _ = row.append_child(&name);
    }
}

async fn draw_grid(job: Job) {
    let reconstructions = match job.reconstructions {
        Ok(values) => values,
        Err(model) => {
            let inputs = job.inputs.clone().unwrap_or_else(|| job.originals.clone());
            let output = model.forward(images_tensor(inputs, &model.device()));
            // A failed read means a lost device: the page moves on and redraws.
            let Ok(values) = read_values(output).await else {
                return;
            };
            values
        }
    };
    // Each row of test digits directly above the model's inputs (when corrupted) and its
    // reconstructions of them.
    let mut images: Vec<&[f32]> = Vec::new();
    for r in 0..job.originals.len() / (10 * IMAGE_PIXELS) {
        images.extend(row(&job.originals, r));
        if let Some(inputs) = &job.inputs {
            images.extend(row(inputs, r));
        }
        images.extend(row(&reconstructions, r));
    }
    draw::image_grid("recon-grid", &images, 10, 2);
    let caption = match job.inputs {
        Some(_) => "Each test digit above the corrupted input the model gets and, beneath, its reconstruction.",
        None => "Each test digit above the model's reconstruction of it.",
    };
    dom::set_text("recon-caption", caption);
    let grid: HtmlElement = dom::get("recon-grid");
    dom::set_attr(&grid, "data-rows", &(images.len() / 10).to_string());
    dom::set_attr(&grid, "data-updated", &format!("{:.0}", dom::now()));
}

/// The `r`-th row of ten images of `values`.
fn row(values: &[f32], r: usize) -> impl Iterator<Item = &[f32]> {
    values.chunks(IMAGE_PIXELS).skip(r * 10).take(10)
}
