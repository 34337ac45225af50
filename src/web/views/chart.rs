//! The loss chart (plotters on a canvas): smoothed per-step training MSE and the
//! per-epoch training and validation MSE, against epochs, on a log scale.

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlElement;

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

/// Redraws `#loss-chart`.
fn draw(curves: &LossCurves, epochs: usize) {
    let canvas: web_sys::HtmlCanvasElement = dom::get("loss-chart");
    // Creates the context our way (see `draw::context`) before plotters asks for it.
    crate::web::draw::context(&canvas);
    let Some(backend) = CanvasBackend::with_canvas_object(canvas) else {
        return;
    };
    let root = backend.into_drawing_area();
    // Drawing errors only mean a detached canvas; the chart is then simply not shown.
    let _ = plot(&root, curves, epochs);
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
    };
    draw(&sample, 1);
    // The settings form's default length, until a run says otherwise.
    draw(&LossCurves::default(), 20);
}

fn plot(
    root: &DrawingArea<CanvasBackend, plotters::coord::Shift>,
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
        (low * 0.8, high * 1.25)
    };
    let mut chart = ChartBuilder::on(root)
        .caption("MSE per pixel", ("sans-serif", 16))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(
            0f64..epochs.max(1) as f64,
            (low.max(1e-5)..high).log_scale(),
        )?;
    // Few grid lines and labels: every canvas call costs main-thread time.
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("MSE")
        .x_labels(6)
        .y_labels(5)
        .max_light_lines(0)
        .x_label_formatter(&|x| {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        })
        .y_label_formatter(&|y| format!("{y:.3}"))
        .draw()?;
    let step_colour = RGBColor(160, 190, 230);
    chart
        .draw_series(LineSeries::new(
            thin(&curves.steps, MAX_STEP_POINTS),
            &step_colour,
        ))?
        .label("train (smoothed, per step)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], step_colour));
    for (points, colour, label) in [
        (&curves.train, BLUE, "train (epoch)"),
        (&curves.validation, RED, "validation (epoch)"),
    ] {
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}
