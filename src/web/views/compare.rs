//! The comparison: every model with weights this session (the one shown and those kept in
//! memory) on the same ten test digits, one of each class. Each row says what the model is,
//! its MSE, PSNR and SSIM on the first 1,000 test images, and draws its reconstructions over
//! a heat map of |input − output|, pixel for pixel, where the transposed convolutions'
//! checkerboard shows against the upsample model. Every model runs on the page's current
//! backend: one kept on the other device is copied over first.

use std::sync::Arc;

use web_sys::{Element, HtmlElement};

use super::{Latest, View};
use crate::data::{IMAGE_PIXELS, ImageSet, images_tensor};
use crate::metrics::Evaluation;
use crate::model::{Model, read_values};
use crate::web::app::{App, Changes, Origin, Shown};
use crate::web::device::Backend;
use crate::web::{dom, draw};

/// Test images each model's figures are measured on.
const MEASURED: usize = 1000;
/// Images per measuring step (one task each: `deep`'s 25 took 56–69 ms on the page's CPU
/// backend; 5 take about a fifth of that).
const BATCH: usize = 5;

struct Entry {
    name: String,
    origin: String,
    model: Model,
}

struct Job {
    entries: Vec<Entry>,
    test: Arc<ImageSet>,
    /// The ten digits shown, one of each class (the grid's top row).
    digits: Vec<usize>,
    backend: Backend,
}

#[derive(Default)]
pub struct Compare(Latest<Job>);

impl View for Compare {
    fn redraw(&mut self, app: &App, _: Changes) {
        // Not on every weights update of a run: each model is measured again.
        if app.run.is_active() {
            return;
        }
        let Some(data) = app.loaded() else {
            return;
        };
        let mut shown: Vec<&Shown> = app.shelf.iter().collect();
        if app.model.origin != Origin::Fresh {
            shown.push(&app.model);
        }
        shown.sort_by_key(|s| crate::model::ModelKind::ALL.iter().position(|k| *k == s.config.kind));
        let entries = shown
            .into_iter()
            .map(|s| Entry {
                name: s.config.kind.to_string(),
                origin: s.origin.describe(),
                model: s.model.clone(),
            })
            .collect();
        let job = Job {
            entries,
            test: data.sets.test.clone(),
            digits: data.grid.iter().take(10).copied().collect(),
            backend: app.backend.clone(),
        };
        self.0.submit(job, compare);
    }
}

async fn compare(job: Job) {
    let list: HtmlElement = dom::get("compare");
    list.set_text_content(None);
    if job.entries.is_empty() {
        list.set_text_content(Some("No weights yet: load pretrained ones or train a model."));
        return;
    }
    let device = &job.backend.device;
    let originals = job.test.values(&job.digits);
    let measured: Vec<usize> = (0..MEASURED.min(job.test.len())).collect();
    add_row(&list, "inputs", "the test digits", None, &originals, None);
    for entry in &job.entries {
        // On the current backend: a model kept on the other device is read back and copied.
        let model = match entry.model.device() == *device {
            true => entry.model.clone(),
            false => match entry.model.copy_to(device).await {
                Ok(model) => model,
                Err(e) => {
                    let note = format!("its weights could not be read back ({e})");
                    add_row(&list, &entry.name, &note, None, &[], None);
                    continue;
                }
            },
        };
        let output = model.forward(images_tensor(originals.clone(), device));
        let Ok(reconstructions) = read_values(output).await else {
            return; // a lost device: the page moves on and redraws
        };
        let errors: Vec<f32> = reconstructions
            .iter()
            .zip(&originals)
            .map(|(r, o)| (r - o).abs())
            .collect();
        dom::yield_task().await; // the row's forward pass and the measuring: two tasks
        let mut evaluation = Evaluation::new(&model, &job.test, &measured);
        while !evaluation.is_finished() {
            if super::training() || evaluation.measure(BATCH, device).await.is_err() {
                return; // a run started (compared again when it ends), or a lost device
            }
            dom::yield_task().await;
        }
        let metrics = evaluation.metrics();
        let figures = format!(
            "MSE {:.5} · PSNR {:.2} dB · SSIM {:.3} on {} test images",
            metrics.mse, metrics.psnr_db, metrics.ssim, metrics.images
        );
        add_row(
            &list,
            &entry.name,
            &entry.origin,
            Some(&figures),
            &reconstructions,
            Some(&errors),
        );
        dom::yield_task().await;
    }
    dom::set_attr(&list, "data-updated", &format!("{:.0}", dom::now()));
}

/// One row: a name and a note, the figures if any, then the images (and their errors as
/// a heat map beneath them).
fn add_row(
    list: &Element,
    name: &str,
    note: &str,
    figures: Option<&str>,
    images: &[f32],
    errors: Option<&[f32]>,
) {
    let document = dom::document();
    let row = document.create_element("div").expect("a div");
    row.set_class_name("compare-row");
    if name != "inputs" {
        dom::set_attr(&row, "data-model", name);
    }
    let title = document.create_element("p").expect("a p");
    title.set_inner_html("");
    let strong = document.create_element("strong").expect("a strong");
    strong.set_text_content(Some(name));
    let _ = title.append_child(&strong);
    let rest = figures.map_or(format!(" — {note}"), |f| format!(" — {note}: {f}"));
    let _ = title.append_with_str_1(&rest);
    let _ = row.append_child(&title);
    let _ = list.append_child(&row);
    if images.is_empty() {
        return;
    }
    let id = format!("compare-{name}");
    let canvas = document.create_element("canvas").expect("a canvas");
    canvas.set_id(&id);
    let _ = row.append_child(&canvas);
    let mut cells: Vec<&[f32]> = images.chunks(IMAGE_PIXELS).collect();
    let per_row = cells.len();
    if let Some(errors) = errors {
        cells.extend(errors.chunks(IMAGE_PIXELS));
    }
    // The images in grey; their errors beneath, as a heat map.
    draw::colour_grid(&id, &cells, per_row, 2, |index, v| match index < per_row {
        true => draw::grey(v),
        false => draw::heat(v),
    });
}
