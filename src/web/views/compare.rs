//! The comparison: every model with weights this session (the one shown and those kept in
//! memory) on the same ten test digits, one of each class, and on the sketch pad's drawing if
//! there is one. Each row says what the model is, its MSE, PSNR and SSIM on the first 1,000
//! test images, and draws its reconstructions over a heat map of |input − output|, pixel for
//! pixel, where the transposed convolutions' checkerboard shows against the upsample model.
//! Every model runs on the page's current backend: one kept on the other device is copied
//! over first. A new stroke on the pad redraws the rows with the figures measured before.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, HtmlElement, Node};

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

/// The figures measured for each model, and for which models and data: a change of either
/// starts a new generation.
#[derive(Default)]
struct Figures {
    generation: u64,
    by_model: HashMap<String, String>,
}

struct Job {
    entries: Vec<Entry>,
    test: Arc<ImageSet>,
    /// The ten digits shown, one of each class (the grid's top row).
    digits: Vec<usize>,
    /// The sketch pad's drawing, shown last.
    sketch: Option<Vec<f32>>,
    backend: Backend,
    generation: u64,
    figures: Rc<RefCell<Figures>>,
}

#[derive(Default)]
pub struct Compare {
    latest: Latest<Job>,
    generation: u64,
    figures: Rc<RefCell<Figures>>,
}

impl View for Compare {
    fn redraw(&mut self, app: &App, changes: Changes) {
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
        // Only the sketch changed: the figures stand.
        if changes != Changes::SKETCH {
            self.generation += 1;
        }
        let job = Job {
            entries,
            test: data.sets.test.clone(),
            digits: data.grid.iter().take(10).copied().collect(),
            sketch: super::sketch::digit(),
            backend: app.backend.clone(),
            generation: self.generation,
            figures: self.figures.clone(),
        };
        self.latest.submit(job, compare);
    }
}

async fn compare(job: Job) {
    let list: HtmlElement = dom::get("compare");
    if job.entries.is_empty() {
        list.set_text_content(Some("No weights yet: load pretrained ones or train a model."));
        return;
    }
    // With the figures known, the rows are built aside and shown at once (no flicker while
    // drawing); else they appear one by one as each model is measured.
    let known = {
        let mut figures = job.figures.borrow_mut();
        if figures.generation != job.generation {
            *figures = Figures {
                generation: job.generation,
                by_model: HashMap::new(),
            };
        }
        job.entries.iter().all(|e| figures.by_model.contains_key(&e.name))
    };
    let rows: Node = match known {
        true => dom::document().create_document_fragment().into(),
        false => {
            list.set_text_content(None);
            list.clone().into()
        }
    };
    let device = &job.backend.device;
    let mut originals = job.test.values(&job.digits);
    let note = match &job.sketch {
        Some(sketch) => {
            originals.extend_from_slice(sketch);
            "the test digits, and your sketch (last)"
        }
        None => "the test digits",
    };
    add_row(&rows, "inputs", note, None, &originals, None);
    for entry in &job.entries {
        // On the current backend: a model kept on the other device is read back and copied.
        let model = match entry.model.device() == *device {
            true => entry.model.clone(),
            false => match entry.model.copy_to(device).await {
                Ok(model) => model,
                Err(e) => {
                    let note = format!("its weights could not be read back ({e})");
                    add_row(&rows, &entry.name, &note, None, &[], None);
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
        let known = job.figures.borrow().by_model.get(&entry.name).cloned();
        let mut figures = match known {
            Some(figures) => figures,
            None => {
                let figures = measure(&model, &job.test, device).await;
                let Some(figures) = figures else {
                    return; // a run started (compared again when it ends), or a lost device
                };
                let mut cache = job.figures.borrow_mut();
                if cache.generation == job.generation {
                    cache.by_model.insert(entry.name.clone(), figures.clone());
                }
                figures
            }
        };
        if job.sketch.is_some() {
            let last = errors.len() - IMAGE_PIXELS..;
            let mse = errors[last].iter().map(|e| e * e).sum::<f32>() / IMAGE_PIXELS as f32;
            figures.push_str(&format!(" · your sketch: MSE {mse:.4}"));
        }
        add_row(
            &rows,
            &entry.name,
            &entry.origin,
            Some(&figures),
            &reconstructions,
            Some(&errors),
        );
        dom::yield_task().await;
    }
    if known {
        list.replace_children_with_node_1(&rows);
    }
    dom::set_attr(&list, "data-updated", &format!("{:.0}", dom::now()));
}

/// `model`'s MSE, PSNR and SSIM on the first [`MEASURED`] test images, in words, measured
/// [`BATCH`] images a task; `None` if a run starts meanwhile or the device is lost.
async fn measure(model: &Model, test: &ImageSet, device: &burn::tensor::Device) -> Option<String> {
    let measured: Vec<usize> = (0..MEASURED.min(test.len())).collect();
    let mut evaluation = Evaluation::new(model, test, &measured);
    while !evaluation.is_finished() {
        if super::training() || evaluation.measure(BATCH, device).await.is_err() {
            return None;
        }
        dom::yield_task().await;
    }
    let metrics = evaluation.metrics();
    Some(format!(
        "MSE {:.5} · PSNR {:.2} dB · SSIM {:.3} on {} test images",
        metrics.mse, metrics.psnr_db, metrics.ssim, metrics.images
    ))
}

/// One row: a name and a note, the figures if any, then the images (and their errors as
/// a heat map beneath them).
fn add_row(
    list: &Node,
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
    let canvas: HtmlCanvasElement = document.create_element("canvas").expect("a canvas").unchecked_into();
    canvas.set_id(&id);
    let _ = row.append_child(&canvas);
    let mut cells: Vec<&[f32]> = images.chunks(IMAGE_PIXELS).collect();
    let per_row = cells.len();
    if let Some(errors) = errors {
        cells.extend(errors.chunks(IMAGE_PIXELS));
    }
    // The images in grey; their errors beneath, as a heat map.
    draw::colour_grid(&canvas, &cells, per_row, 2, |index, v| match index < per_row {
        true => draw::grey(v),
        false => draw::heat(v),
    });
}
