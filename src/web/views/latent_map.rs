//! The latent map: the codes of the first 2,000 test digits on a plane, coloured by label.
//! A 2-number code is drawn as it is; a larger one on its two principal components (an
//! exact eigen-decomposition in Rust, `explore::plane`) or on two code axes of the user's
//! choice. Hovering shows the nearest test digit; a click or a drag maps the point back to a
//! code (the plane's origin plus the point along its two axes) and decodes it live into
//! `#latent-preview`. Beside it, the map's honesty: the leave-one-out 5-NN label accuracy of
//! the codes and of their 2-D map, counted a slice at a time so the page stays responsive.

use std::cell::RefCell;

use wasm_bindgen::JsCast;

use web_sys::{HtmlCanvasElement, HtmlInputElement, HtmlSelectElement, ImageData, PointerEvent};

use super::{Latest, View};
use crate::data::IMAGE_PIXELS;
use crate::explore::neighbours::knn_correct;
use crate::explore::{Plane, decodes};
use crate::model::Model;
use crate::web::app::{App, Changes};
use crate::web::{dom, draw};

/// Test digits on the map.
const POINTS: usize = 2000;
/// Neighbours that vote on a code's label.
const K: usize = 5;
/// Codes whose neighbours are counted in one task (25 × 2,000 distances of 196 numbers:
/// about 10 ms).
const KNN_SLICE: usize = 25;
/// One colour per class (matplotlib's tab10).
const COLOURS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// What the pointer handlers need of the last map drawn.
struct Drawn {
    plane: Plane,
    points: Vec<[f32; 2]>,
    /// The plane's window shown: its lower-left corner and its size.
    origin: [f32; 2],
    size: [f32; 2],
    /// The points' range on each axis: lowest and highest.
    range: [[f32; 2]; 2],
    /// The digits' pixels (`POINTS × 784`), for the hover view.
    pixels: Vec<f32>,
    /// The model that made the codes, to decode a point.
    model: Model,
    /// The scatter without a marker, to draw the marker on.
    picture: ImageData,
}

thread_local! {
    static DRAWN: RefCell<Option<Drawn>> = const { RefCell::new(None) };
    static PREVIEWS: RefCell<Latest<(Model, Vec<f32>)>> = RefCell::new(Latest::default());
    /// The digit last decoded at a pressed point (784 values), for the interpolation's ends.
    static PRESSED: RefCell<Option<Vec<f32>>> = const { RefCell::new(None) };
}

/// How the codes are laid on the plane.
#[derive(Clone, Copy)]
enum Layout {
    Principal,
    Axes(usize, usize),
}

struct Job {
    model: Model,
    code_size: usize,
    pixels: Vec<f32>,
    labels: Vec<u8>,
    layout: Layout,
}

#[derive(Default)]
pub struct LatentMap(Latest<Job>);

impl View for LatentMap {
    fn redraw(&mut self, app: &App, changes: Changes) {
        let legend_changed = changes.intersects(Changes::DATA);
        if legend_changed {
            show_legend(&app.dataset.labels);
        }
        // Not on every weights update of a run: the codes are re-encoded and refitted.
        if app.run.is_active() && !changes.intersects(Changes::LATENT) {
            return;
        }
        let Some(data) = app.loaded() else {
            return;
        };
        if !super::has_weights(app, "latent-map", "latent-caption") {
            DRAWN.set(None);
            return;
        }
        let count = POINTS.min(data.sets.test.len());
        let indices: Vec<usize> = (0..count).collect();
        let code_size = app.model.config.code_size;
        let job = Job {
            model: app.model.model.clone(),
            code_size,
            pixels: data.sets.test.values(&indices),
            labels: data.sets.test.labels()[..count].to_vec(),
            layout: layout(code_size),
        };
        self.0.submit(job, draw_map);
    }
}

/// The layout the controls ask for (a 2-number code is always drawn as it is).
fn layout(code_size: usize) -> Layout {
    let axis = |id: &str| dom::get::<HtmlInputElement>(id).value().trim().parse::<usize>().ok();
    let chosen = dom::get::<HtmlSelectElement>("latent-plane").value() == "axes";
    match (code_size, chosen, axis("latent-x"), axis("latent-y")) {
        (2, _, _, _) => Layout::Axes(0, 1),
        (_, true, Some(x), Some(y)) => Layout::Axes(x, y),
        _ => Layout::Principal,
    }
}

async fn draw_map(job: Job) {
    let Some(codes) = super::encode_in_chunks(&job.model, &job.pixels).await else {
        return; // a run started (the map is drawn again when it ends) or the device was lost
    };
    let dim = job.code_size;
    let (plane, name) = match job.layout {
        Layout::Axes(x, y) => (Plane::code_axes(&codes, dim, x, y), format!("code axes {x} and {y}")),
        Layout::Principal => (Plane::principal(&codes, dim), "the two principal components".into()),
    };
    let plane = match plane {
        Ok(plane) => plane,
        Err(message) => {
            dom::set_text("latent-caption", &format!("Cannot draw the map: {message}."));
            return;
        }
    };
    let points: Vec<[f32; 2]> = codes.chunks_exact(dim).map(|c| plane.project(c)).collect();
    let canvas: HtmlCanvasElement = dom::get("latent-map");
    let (origin, size) = window(&points);
    let context = draw::context(&canvas);
    let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, width, height);
    for (point, &label) in points.iter().zip(&job.labels) {
        let [x, y] = to_screen(*point, origin, size, width, height);
        context.set_fill_style_str(COLOURS[usize::from(label) % COLOURS.len()]);
        context.fill_rect(x - 1.5, y - 1.5, 3.0, 3.0);
    }
    let Ok(picture) = context.get_image_data(0.0, 0.0, width, height) else {
        return;
    };
    let [first, second] = plane.explained();
    let shown = format!(
        "{} test codes of {dim} numbers on {name} ({:.1} % + {:.1} % of their variance)",
        points.len(),
        first * 100.0,
        second * 100.0
    );
    dom::set_text("latent-caption", &format!("{shown}. 5-NN label accuracy: counting…"));
    for stale in ["data-knn-code", "data-knn-map"] {
        let _ = canvas.remove_attribute(stale);
    }
    dom::set_attr(&canvas, "data-points", &points.len().to_string());
    dom::set_attr(&canvas, "data-updated", &format!("{:.0}", dom::now()));
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    let labels = job.labels.clone();
    let range = points.iter().fold(
        [[f32::INFINITY; 2], [f32::NEG_INFINITY; 2]],
        |[low, high], p| {
            [
                [low[0].min(p[0]), low[1].min(p[1])],
                [high[0].max(p[0]), high[1].max(p[1])],
            ]
        },
    );
    DRAWN.set(Some(Drawn {
        range,
        plane,
        points,
        origin,
        size,
        pixels: job.pixels,
        model: job.model,
        picture,
    }));
    // The honesty figures, a slice of codes per task.
    let (mut on_codes, mut on_map) = (0, 0);
    for start in (0..labels.len()).step_by(KNN_SLICE) {
        if super::training() {
            dom::set_text("latent-caption", &format!("{shown}. (The 5-NN figures wait for the run to end.)"));
            return;
        }
        let slice = start..start + KNN_SLICE;
        match (
            knn_correct(&codes, dim, &labels, K, slice.clone()),
            knn_correct(&flat, 2, &labels, K, slice),
        ) {
            (Ok(a), Ok(b)) => (on_codes, on_map) = (on_codes + a, on_map + b),
            _ => return,
        }
        dom::yield_task().await;
    }
    let n = labels.len() as f64;
    let (on_codes, on_map) = (on_codes as f64 / n, on_map as f64 / n);
    dom::set_text(
        "latent-caption",
        &format!("{shown}. 5-NN label accuracy: {on_codes:.3} on the codes, {on_map:.3} on the map."),
    );
    dom::set_attr(&canvas, "data-knn-code", &format!("{on_codes:.4}"));
    dom::set_attr(&canvas, "data-knn-map", &format!("{on_map:.4}"));
}

/// The points' bounding box with a 5 % margin: its lower-left corner and its size.
fn window(points: &[[f32; 2]]) -> ([f32; 2], [f32; 2]) {
    let extent = |k: usize| {
        let (low, high) = points
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), p| (l.min(p[k]), h.max(p[k])));
        let span = (high - low).max(1e-6);
        (low - 0.05 * span, 1.1 * span)
    };
    let ((x, w), (y, h)) = (extent(0), extent(1));
    ([x, y], [w, h])
}

fn to_screen(point: [f32; 2], origin: [f32; 2], size: [f32; 2], width: f64, height: f64) -> [f64; 2] {
    let fx = f64::from((point[0] - origin[0]) / size[0]);
    let fy = f64::from((point[1] - origin[1]) / size[1]);
    [fx * width, (1.0 - fy) * height]
}

fn to_plane(screen: [f64; 2], origin: [f32; 2], size: [f32; 2], width: f64, height: f64) -> [f32; 2] {
    [
        origin[0] + (screen[0] / width) as f32 * size[0],
        origin[1] + (1.0 - screen[1] / height) as f32 * size[1],
    ]
}

/// The classes' colours and names under the map.
fn show_legend(labels: &[String]) {
    let legend: web_sys::HtmlElement = dom::get("latent-legend");
    legend.set_text_content(None);
    let document = dom::document();
    for (i, label) in labels.iter().enumerate() {
        let entry = document.create_element("span").expect("a span");
        entry.set_text_content(Some(label));
        // Through the CSSOM: the page's CSP refuses style attributes.
        let _ = entry
            .unchecked_ref::<web_sys::HtmlElement>()
            .style()
            .set_property("--swatch", COLOURS[i % COLOURS.len()]);
        let _ = legend.append_child(&entry);
    }
}

/// Hover shows the nearest test digit; a press or a drag decodes the point under it. The
/// layout controls report [`Changes::LATENT`].
pub fn install(changed: fn(Changes)) {
    let canvas: HtmlCanvasElement = dom::get("latent-map");
    let pressed = std::rc::Rc::new(std::cell::Cell::new(false));
    let at = {
        let canvas = canvas.clone();
        move |event: &PointerEvent| {
            let rect = canvas.get_bounding_client_rect();
            [
                (f64::from(event.client_x()) - rect.left()) * f64::from(canvas.width()) / rect.width(),
                (f64::from(event.client_y()) - rect.top()) * f64::from(canvas.height()) / rect.height(),
            ]
        }
    };
    {
        let (canvas, pressed, at) = (canvas.clone(), pressed.clone(), at.clone());
        dom::on("latent-map", "pointerdown", move |event: PointerEvent| {
            event.prevent_default();
            let _ = canvas.set_pointer_capture(event.pointer_id());
            pressed.set(true);
            pick(&canvas, at(&event));
        });
    }
    {
        let (canvas, pressed) = (canvas.clone(), pressed.clone());
        dom::on("latent-map", "pointermove", move |event: PointerEvent| {
            match pressed.get() {
                true => pick(&canvas, at(&event)),
                false => hover(&canvas, at(&event)),
            }
        });
    }
    dom::on("latent-map", "pointerup", move |_: PointerEvent| pressed.set(false));
    for id in ["latent-plane", "latent-x", "latent-y"] {
        dom::on(id, "change", move |_: web_sys::Event| changed(Changes::LATENT));
    }
}

/// Shows the test digit nearest to the pointer.
fn hover(canvas: &HtmlCanvasElement, screen: [f64; 2]) {
    DRAWN.with_borrow(|drawn| {
        let Some(drawn) = drawn else {
            return;
        };
        let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
        let target = to_plane(screen, drawn.origin, drawn.size, width, height);
        let scale = [drawn.size[0], drawn.size[1]];
        let nearest = drawn.points.iter().enumerate().min_by(|(_, a), (_, b)| {
            let d = |p: &[f32; 2]| {
                ((p[0] - target[0]) / scale[0]).powi(2) + ((p[1] - target[1]) / scale[1]).powi(2)
            };
            d(a).total_cmp(&d(b))
        });
        if let Some((i, _)) = nearest {
            let digit = &drawn.pixels[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
            draw::image_grid("latent-hover", &[digit], 1, 3);
            dom::set_text("latent-hover-caption", &format!("nearest: test digit {i}"));
        }
    });
}

/// Marks the point and decodes the code there into the preview.
fn pick(canvas: &HtmlCanvasElement, screen: [f64; 2]) {
    let job = DRAWN.with_borrow(|drawn| {
        let drawn = drawn.as_ref()?;
        let context = draw::context(canvas);
        let _ = context.put_image_data(&drawn.picture, 0.0, 0.0);
        context.set_stroke_style_str("#111");
        context.set_line_width(2.0);
        context.begin_path();
        let _ = context.arc(screen[0], screen[1], 6.0, 0.0, std::f64::consts::TAU);
        context.stroke();
        let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
        // A press on the margin decodes the nearest point of the data's range.
        let [x, y] = to_plane(screen, drawn.origin, drawn.size, width, height);
        let (low, high) = (drawn.range[0], drawn.range[1]);
        let point = [x.clamp(low[0], high[0]), y.clamp(low[1], high[1])];
        Some((drawn.model.clone(), drawn.plane.code_at(point)))
    });
    if let Some(job) = job {
        PREVIEWS.with_borrow(|previews| previews.submit(job, preview));
    }
}

async fn preview((model, code): (Model, Vec<f32>)) {
    let dim = code.len();
    if let Ok(image) = decodes(&model, code, dim).await {
        draw::image_grid("latent-preview", &[&image], 1, 4);
        let canvas: HtmlCanvasElement = dom::get("latent-preview");
        dom::set_attr(&canvas, "data-updated", &format!("{:.0}", dom::now()));
        PRESSED.set(Some(image));
    }
}

/// The digit decoded at the point last pressed on the map, if any.
pub fn pressed_digit() -> Option<Vec<f32>> {
    PRESSED.with_borrow(Clone::clone)
}
