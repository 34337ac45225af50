//! The loss chart (plotters on a canvas): smoothed per-step training MSE and the
//! per-epoch training and validation MSE, against epochs, on a log scale.

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::{CanvasRenderingContext2d, HtmlElement};

use super::View;
use crate::web::app::{App, Changes};
use crate::web::dom;
use crate::web::run::LossCurves;

/// Redraw for new per-step points at most this often (plotters on a canvas costs
/// milliseconds); an epoch's end redraws at once.
const STEP_REFRESH_MS: f64 = 2000.0;

/// The per-step curve is thinned to this many points before drawing.
const MAX_STEP_POINTS: usize = 150;

/// Every n-th point (and the last), so at most about `max` remain.
fn thin(points: &[(f64, f64)], max: usize) -> impl Iterator<Item = (f64, f64)> + '_ {
    let stride = points.len().div_ceil(max.max(1)).max(1);
    points
        .iter()
        .enumerate()
        .filter(move |(i, _)| i % stride == 0 || *i + 1 == points.len())
        .map(|(_, &p)| p)
}

/// The loss chart view.
pub struct Chart {
    last_drawn: f64,
}

impl Default for Chart {
    fn default() -> Self {
        Self {
            last_drawn: f64::MIN,
        }
    }
}

impl View for Chart {
    fn redraw(&mut self, app: &App, changes: Changes) {
        let now = dom::now();
        if !changes.intersects(Changes::CURVES) && now - self.last_drawn < STEP_REFRESH_MS {
            return;
        }
        self.last_drawn = now;
        draw(&app.curves, app.chart_epochs);
        let canvas: HtmlElement = dom::get("loss-chart");
        dom::set_attr(&canvas, "data-draw-ms", &format!("{:.1}", dom::now() - now));
    }
}

/// The three curves: label, colour and line width (the legend and the lines alike).
const LEGEND: [(&str, RGBColor, u32); 3] = [
    ("train (smoothed, per step)", RGBColor(160, 190, 230), 1),
    ("train (epoch)", BLUE, 2),
    ("validation (epoch)", RED, 2),
];

/// The plot's margins on the canvas, in pixels: the text goes there.
const TOP: u32 = 28;
const BOTTOM: u32 = 38;
const LEFT: u32 = 58;
const RIGHT: u32 = 20;

/// Redraws `#loss-chart`: plotters draws the lines, the canvas's own `fillText` the text.
/// (plotters measures text in wasm by laying out a `<span>` in the page, a forced layout per
/// label: most of a 40 ms redraw; docs/speed.md.)
fn draw(curves: &LossCurves, epochs: usize) {
    let canvas: web_sys::HtmlCanvasElement = dom::get("loss-chart");
    // Creates the context our way (see `draw::context`) before plotters asks for it.
    let context = crate::web::draw::context(&canvas);
    let Some(backend) = CanvasBackend::with_canvas_object(canvas) else {
        return;
    };
    let root = backend.into_drawing_area();
    // Drawing errors only mean a detached canvas; the chart is then simply not shown.
    let _ = plot(&root, &context, curves, epochs);
    let _ = root.present();
}

/// Draws the empty chart, after a throwaway curve: the browser compiles wasm code lazily, and
/// the series code would otherwise be compiled during the first training frames.
pub fn warm_up() {
    let points = vec![(0.5, 0.1), (1.0, 0.05)];
    let sample = LossCurves {
        steps: points.clone(),
        train: points.clone(),
        validation: points,
        best_epoch: Some(1),
    };
    draw(&sample, 1);
    // The settings form's default length, until a run says otherwise.
    draw(&LossCurves::default(), 20);
}

fn plot(
    root: &DrawingArea<CanvasBackend, plotters::coord::Shift>,
    context: &CanvasRenderingContext2d,
    curves: &LossCurves,
    epochs: usize,
) -> Result<(), DrawingAreaErrorKind<<CanvasBackend as DrawingBackend>::ErrorType>> {
    root.fill(&WHITE)?;
    let all = curves
        .steps
        .iter()
        .chain(&curves.train)
        .chain(&curves.validation);
    let (low, high) = all.fold((f64::MAX, f64::MIN), |(lo, hi), &(_, y)| {
        (lo.min(y), hi.max(y))
    });
    let (low, high) = if low > high {
        (0.005, 0.12)
    } else {
        ((low * 0.8).max(1e-5), high * 1.25)
    };
    let epochs = epochs.max(1) as f64;
    let area = root.margin(TOP, BOTTOM, LEFT, RIGHT);
    let mut chart = ChartBuilder::on(&area).build_cartesian_2d(0f64..epochs, (low..high).log_scale())?;
    // Few grid lines: every canvas call costs main-thread time.
    let grid = RGBColor(225, 225, 225);
    let (x_ticks, y_ticks) = (x_ticks(epochs), y_ticks(low, high));
    chart.draw_series(
        x_ticks
            .iter()
            .map(|&x| PathElement::new(vec![(x, low), (x, high)], grid))
            .chain(
                y_ticks
                    .iter()
                    .map(|&y| PathElement::new(vec![(0.0, y), (epochs, y)], grid)),
            ),
    )?;
    let [(_, step_colour, _), (_, train_colour, width), (_, validation_colour, _)] = LEGEND;
    chart.draw_series(LineSeries::new(
        thin(&curves.steps, MAX_STEP_POINTS),
        &step_colour,
    ))?;
    for (points, colour) in [
        (&curves.train, train_colour),
        (&curves.validation, validation_colour),
    ] {
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            colour.stroke_width(width),
        ))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }

    // Early stopping's kept epoch: a dashed line across the plot.
    if let Some(best) = curves.best_epoch {
        let x = best as f64;
        let dashes = (0..12).map(|i| {
            let at = |k: f64| low * (high / low).powf(k / 12.0);
            PathElement::new(vec![(x, at(i as f64)), (x, at(i as f64 + 0.5))], BLACK)
        });
        chart.draw_series(dashes)?;
    }
    let text = |value: &str, (x, y): (i32, i32), align: &str, baseline: &str| {
        context.set_text_align(align);
        context.set_text_baseline(baseline);
        let _ = context.fill_text(value, f64::from(x), f64::from(y));
    };
    context.set_fill_style_str("black");
    context.set_font("12px sans-serif");
    for &x in &x_ticks {
        let (px, py) = chart.backend_coord(&(x, low));
        text(&format!("{x:.0}"), (px, py + 5), "center", "top");
    }
    for &y in &y_ticks {
        let (px, py) = chart.backend_coord(&(0.0, y));
        text(&tick_label(y), (px - 5, py), "right", "middle");
    }
    let (left, bottom) = chart.backend_coord(&(0.0, low));
    let (right, top) = chart.backend_coord(&(epochs, high));
    text("epoch", ((left + right) / 2, bottom + 20), "center", "top");
    context.set_font("14px sans-serif");
    text("MSE per pixel", ((left + right) / 2, top - 8), "center", "bottom");
    if let Some(best) = curves.best_epoch {
        context.set_font("12px sans-serif");
        let (px, _) = chart.backend_coord(&(best as f64, low));
        text(&format!("best: epoch {best} (kept)"), (px + 4, top + 4), "left", "top");
    }
    let canvas = context.canvas().expect("a canvas context");
    let best = curves.best_epoch.map_or(String::new(), |e| e.to_string());
    dom::set_attr(&canvas, "data-best-epoch", &best);

    // The legend, upper right inside the plot.
    context.set_font("12px sans-serif");
    let (x, mut y) = (f64::from(right - 190), f64::from(top + 14));
    for (label, RGBColor(r, g, b), width) in LEGEND {
        context.set_stroke_style_str(&format!("rgb({r},{g},{b})"));
        context.set_line_width(f64::from(width));
        context.begin_path();
        context.move_to(x, y);
        context.line_to(x + 18.0, y);
        context.stroke();
        text(label, (x as i32 + 24, y as i32), "left", "middle");
        y += 16.0;
    }
    Ok(())
}

/// Whole epochs for the x axis, at most about six.
fn x_ticks(epochs: f64) -> Vec<f64> {
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .find(|step| epochs / step <= 6.0)
        .unwrap_or(1000.0);
    (0..)
        .map(|i| f64::from(i) * step)
        .take_while(|&x| x <= epochs)
        .collect()
}

/// 1, 2 and 5 × powers of ten within `[low, high]` for the log y axis; only the powers of
/// ten when those are more than six.
fn y_ticks(low: f64, high: f64) -> Vec<f64> {
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        let (first, last) = (low.log10().floor() as i32, high.log10().ceil() as i32);
        (first..=last)
            .flat_map(|power| mantissas.iter().map(move |m| m * 10f64.powi(power)))
            // Within rounding: 10⁻⁵ computed is a hair off 1e-5.
            .filter(|&y| y >= low * (1.0 - 1e-9) && y <= high * (1.0 + 1e-9))
            .collect()
    };
    let fine = ticks(&[1.0, 2.0, 5.0]);
    if fine.len() <= 6 { fine } else { ticks(&[1.0]) }
}

/// A tick value with as many decimals as its first significant digit needs (0.005, 0.02, 0.1).
fn tick_label(y: f64) -> String {
    let decimals = (-y.log10().floor()).max(0.0) as usize;
    format!("{y:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn ticks_are_few_and_round() {
        assert_eq!(x_ticks(1.0), [0.0, 1.0]);
        assert_eq!(x_ticks(20.0), [0.0, 5.0, 10.0, 15.0, 20.0]);
        assert_eq!(x_ticks(3.0), [0.0, 1.0, 2.0, 3.0]);
        let labels: Vec<String> = y_ticks(0.005, 0.12).into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0.005", "0.01", "0.02", "0.05", "0.1"]);
        // A span of many decades keeps only the powers of ten.
        let labels: Vec<String> = y_ticks(1e-5, 1.5).into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0.00001", "0.0001", "0.001", "0.01", "0.1", "1"]);
    }
}
