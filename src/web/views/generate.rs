//! Generation: "Generate" draws 8 × 8 new digits. A VAE decodes draws from its prior,
//! N(0, I). A plain autoencoder has no prior, so its new codes are drawn from a Gaussian
//! fitted to the codes of the first 1,000 test digits (of the class chosen, or of all), and
//! the caption says so. For a VAE with a 2-number code the manifold is drawn beside: the
//! decodes of a grid over ±2 standard deviations of the prior.

use std::cell::Cell;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use web_sys::{Event, HtmlCanvasElement, HtmlElement, HtmlSelectElement};

use super::{Latest, View};
use crate::data::IMAGE_PIXELS;
use crate::explore::manifold::{Extent, grid_codes};
use crate::explore::sampling::{self, CodeGaussian};
use crate::explore::{Plane, decodes};
use crate::model::{Model, ModelKind};
use crate::web::app::{App, Changes};
use crate::web::{dom, draw};

/// New digits per press: an 8 × 8 grid.
const SIDE: usize = 8;
/// Test digits whose codes the plain autoencoders' Gaussians are fitted to.
const FIT_IMAGES: usize = 1000;
/// The 2-D VAE's manifold: digits a side, and its half-width in prior standard deviations.
const MANIFOLD_SIDE: usize = 15;
const MANIFOLD_SPAN: f32 = 2.0;

thread_local! {
    /// Presses of "Generate" so far: each press draws anew (and seeds the draw).
    static PRESSES: Cell<u64> = const { Cell::new(0) };
}

/// Where the new codes come from.
enum Source {
    /// The VAE's prior.
    Prior,
    /// A Gaussian fitted to these test digits' codes (`class`: only those of that label).
    Fitted {
        pixels: Vec<f32>,
        labels: Vec<u8>,
        class: Option<usize>,
    },
}

struct Job {
    model: Model,
    code_size: usize,
    source: Source,
    class_name: Option<String>,
    seed: u64,
}

#[derive(Default)]
pub struct Generate {
    draws: Latest<Job>,
    /// The class names offered (rewritten when the dataset's change).
    classes: Vec<String>,
}

impl View for Generate {
    fn redraw(&mut self, app: &App, changes: Changes) {
        if self.classes != app.dataset.labels {
            self.classes.clone_from(&app.dataset.labels);
            offer_classes(&self.classes);
        }
        let kind = app.model.config.kind;
        show_vae_parts(kind, app.model.config.code_size);
        let presses = PRESSES.get();
        // Drawn on a press; redrawn for a new model once something was generated, but not
        // on every weights update of a run (refitting the codes each time is too much).
        let asked = changes.intersects(Changes::GENERATE) || (presses > 0 && !app.run.is_active());
        if !asked {
            return;
        }
        let Some(data) = app.loaded() else {
            return;
        };
        if !super::has_weights(app, "generated", "generate-caption") {
            return;
        }
        let class = dom::get::<HtmlSelectElement>("generate-class")
            .value()
            .parse::<usize>()
            .ok()
            .filter(|&c| c < self.classes.len());
        let source = match kind {
            ModelKind::Vae => Source::Prior,
            _ => {
                let count = FIT_IMAGES.min(data.sets.test.len());
                let indices: Vec<usize> = (0..count).collect();
                Source::Fitted {
                    pixels: data.sets.test.values(&indices),
                    labels: data.sets.test.labels()[..count].to_vec(),
                    class,
                }
            }
        };
        let job = Job {
            model: app.model.model.clone(),
            code_size: app.model.config.code_size,
            source,
            class_name: class.map(|c| self.classes[c].clone()),
            seed: presses,
        };
        self.draws.submit(job, generate);
    }
}

async fn generate(job: Job) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(job.seed);
    let dim = job.code_size;
    let (new_codes, caption) = match &job.source {
        Source::Prior => (
            sampling::prior(SIDE * SIDE, dim, &mut rng),
            "New digits: decodes of codes drawn from the VAE's prior, N(0, I).".to_string(),
        ),
        Source::Fitted {
            pixels,
            labels,
            class,
        } => {
            let Some(codes) = super::encode_in_chunks(&job.model, pixels).await else {
                return; // a run started, or the device was lost
            };
            let fitted = match class {
                Some(class) => sampling::per_class(&codes, dim, labels, *class + 1)
                    .pop()
                    .flatten(),
                None => CodeGaussian::fit(&codes, dim).ok(),
            };
            let Some(gaussian) = fitted else {
                dom::set_text("generate-caption", "Too few test digits of that class to fit their codes.");
                return;
            };
            let of = match &job.class_name {
                Some(name) => format!("the codes of {} test digits labelled {name}", labels.iter().filter(|&&l| Some(usize::from(l)) == *class).count()),
                None => format!("the codes of {} test digits", labels.len()),
            };
            (
                gaussian.sample(SIDE * SIDE, &mut rng),
                format!("An autoencoder has no prior to sample: these decode codes drawn from a Gaussian fitted to {of} (their mean and covariance)."),
            )
        }
    };
    let Ok(images) = decodes(&job.model, new_codes, dim).await else {
        return;
    };
    let images: Vec<&[f32]> = images.chunks(IMAGE_PIXELS).collect();
    draw::image_grid("generated", &images, SIDE, 1);
    dom::set_text("generate-caption", &caption);
    let canvas: HtmlCanvasElement = dom::get("generated");
    dom::set_attr(&canvas, "data-updated", &format!("{:.0}", dom::now()));
    if matches!(job.source, Source::Prior) && dim == 2 {
        let plane = Plane::code_axes(&[0.0, 0.0], 2, 0, 1).expect("two axes of a 2-number code");
        let grid = grid_codes(&plane, Extent::prior(MANIFOLD_SPAN), MANIFOLD_SIDE);
        if let Ok(manifold) = decodes(&job.model, grid, 2).await {
            let images: Vec<&[f32]> = manifold.chunks(IMAGE_PIXELS).collect();
            draw::image_grid("manifold", &images, MANIFOLD_SIDE, 1);
        }
    }
}

/// The class selector's options: any class, then each of the dataset's.
fn offer_classes(labels: &[String]) {
    let select: HtmlSelectElement = dom::get("generate-class");
    select.set_inner_html("");
    let document = dom::document();
    for (value, name) in std::iter::once(("any".to_string(), "any class".to_string()))
        .chain(labels.iter().enumerate().map(|(i, l)| (i.to_string(), l.clone())))
    {
        let option = document.create_element("option").expect("an option");
        dom::set_attr(&option, "value", &value);
        option.set_text_content(Some(&name));
        let _ = select.append_child(&option);
    }
}

/// The manifold is a 2-number VAE's; the class choice is the autoencoders' (a VAE's prior
/// has no classes).
fn show_vae_parts(kind: ModelKind, code_size: usize) {
    let figure: HtmlElement = dom::get("manifold-figure");
    figure.set_hidden(!(kind == ModelKind::Vae && code_size == 2));
    dom::get::<HtmlSelectElement>("generate-class").set_disabled(kind == ModelKind::Vae);
}

/// "Generate" and the class choice report [`Changes::GENERATE`].
pub fn install(changed: fn(Changes)) {
    let press = move |_: Event| {
        PRESSES.set(PRESSES.get() + 1);
        changed(Changes::GENERATE);
    };
    dom::on("generate", "click", press);
    dom::on("generate-class", "change", press);
}
