//! Figures for the README (native only): a PNG grid of test images with each model's
//! reconstruction, a manifold of decodes, the training curves from the CLI's JSON reports and
//! the latent map.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use image::{GrayImage, Luma};
use plotters::prelude::*;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, ImageSet, images_tensor};
use crate::model::{Model, read_values};
use crate::training::EpochRecord;

/// Writes a PNG: the first row holds the first test image of each class 0–9, each
/// following row one model's reconstructions of them; every pixel drawn `scale`×`scale`.
pub fn reconstruction_grid(
    test: &ImageSet,
    models: &[Model],
    scale: u32,
    out: &Path,
) -> Result<(), String> {
    let indices: Vec<usize> = (0..10u8)
        .filter_map(|digit| (0..test.len()).find(|&i| test.label(i) == digit))
        .collect();
    let originals = test.values(&indices);
    let device = Device::flex();
    let mut rows = vec![originals.clone()];
    for model in models {
        let output = model
            .valid()
            .forward(images_tensor(originals.clone(), &device));
        rows.push(pollster::block_on(read_values(output)).map_err(|e| e.to_string())?);
    }
    image_rows(&rows, scale, 4, out)
}

/// Writes a PNG of the decodes of a manifold grid: `images` holds `side × side` images, row
/// by row, drawn edge to edge.
pub fn manifold(images: &[f32], side: usize, scale: u32, out: &Path) -> Result<(), String> {
    let rows: Vec<Vec<f32>> = images
        .chunks(side * IMAGE_PIXELS)
        .map(<[f32]>::to_vec)
        .collect();
    image_rows(&rows, scale, 0, out)
}

/// Writes rows of 28 × 28 images (values in [0, 1]) as a grey PNG, every pixel drawn
/// `scale` × `scale`, `gap` pixels of mid-grey between and around them.
fn image_rows(rows: &[Vec<f32>], scale: u32, gap: u32, out: &Path) -> Result<(), String> {
    let side = IMAGE_SIDE as u32 * scale;
    let cols = rows
        .iter()
        .map(|r| r.len() / IMAGE_PIXELS)
        .max()
        .unwrap_or(0) as u32;
    let mut canvas = GrayImage::from_pixel(
        cols * (side + gap) + gap,
        rows.len() as u32 * (side + gap) + gap,
        Luma([96]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, image) in row.chunks(IMAGE_PIXELS).enumerate() {
            let (ox, oy) = (gap + c as u32 * (side + gap), gap + r as u32 * (side + gap));
            for y in 0..side {
                for x in 0..side {
                    let v = image[(y / scale) as usize * IMAGE_SIDE + (x / scale) as usize];
                    canvas.put_pixel(
                        ox + x,
                        oy + y,
                        Luma([(v.clamp(0.0, 1.0) * 255.0).round() as u8]),
                    );
                }
            }
        }
    }
    canvas
        .save(out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// Fonts tried, in order, for the curves' labels (plotters draws text with ab_glyph).
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers the first system font found as plotters' "sans-serif".
fn register_font() -> Result<(), String> {
    let bytes = FONT_PATHS
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .ok_or_else(|| {
            format!(
                "no TrueType font found for the labels (looked for {}); install fonts-dejavu-core",
                FONT_PATHS.join(", ")
            )
        })?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, Vec::leak(bytes))
        .map_err(|_| "the system font could not be read".to_string())
}

/// Line colours, one per run (matplotlib's first four, readable on white).
const COLOURS: [RGBColor; 4] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
];

/// Writes a PNG of train (dashed) and validation (solid) MSE per epoch, one colour per run.
pub fn training_curves(runs: &[(String, Vec<EpochRecord>)], out: &Path) -> Result<(), String> {
    plot_png((900, 540), out, |backend| draw_curves(runs, backend))
}

/// Draws a plot of `size` with `draw` (labels in the system font) and writes it as a PNG.
fn plot_png(
    size: (u32, u32),
    out: &Path,
    draw: impl FnOnce(BitMapBackend<'_>) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), String> {
    register_font()?;
    let mut pixels = vec![0u8; (size.0 * size.1 * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut pixels, size))
        .map_err(|e| format!("cannot draw {}: {e}", out.display()))?;
    image::RgbImage::from_raw(size.0, size.1, pixels)
        .expect("buffer matches the size")
        .save(out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn draw_curves(
    runs: &[(String, Vec<EpochRecord>)],
    backend: BitMapBackend<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let values = runs
        .iter()
        .flat_map(|(_, h)| h.iter().flat_map(|r| [r.train_mse, r.val_mse]));
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        return Err("no epochs to plot".into());
    }
    let epochs = runs.iter().map(|(_, h)| h.len()).max().unwrap_or(1).max(2) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "MSE per pixel by epoch (dashed: train, solid: validation)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1f64..epochs, (low * 0.9..high * 1.1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("MSE")
        .y_label_formatter(&|y| format!("{y:.4}"))
        .draw()?;
    for (i, (name, history)) in runs.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let train = history.iter().map(|r| (r.epoch as f64, r.train_mse));
        chart.draw_series(DashedLineSeries::new(train, 6, 4, colour.stroke_width(2)))?;
        let validation = history.iter().map(|r| (r.epoch as f64, r.val_mse));
        chart
            .draw_series(LineSeries::new(validation, colour.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Class colours of the latent map (matplotlib's "tab10").
const CLASS_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Writes a PNG of `points` (codes on a plane), one dot per point coloured by its label,
/// with a legend of the class `names`.
pub fn latent_map(
    points: &[[f32; 2]],
    labels: &[u8],
    names: &[String],
    title: &str,
    out: &Path,
) -> Result<(), String> {
    plot_png((820, 720), out, |backend| {
        draw_map(points, labels, names, title, backend)
    })
}

fn draw_map(
    points: &[[f32; 2]],
    labels: &[u8],
    names: &[String],
    title: &str,
    backend: BitMapBackend<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let range = |axis: usize| {
        let (low, high) = points.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
            (lo.min(p[axis]), hi.max(p[axis]))
        });
        let pad = ((high - low) * 0.03).max(1e-3);
        f64::from(low - pad)..f64::from(high + pad)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(range(0), range(1))?;
    chart.configure_mesh().light_line_style(WHITE).draw()?;
    for (class, colour) in CLASS_COLOURS.iter().enumerate().take(names.len()) {
        let style = colour.mix(0.6).filled();
        let dots = points
            .iter()
            .zip(labels)
            .filter(|&(_, &label)| usize::from(label) == class)
            .map(|(p, _)| Circle::new((f64::from(p[0]), f64::from(p[1])), 2, style));
        chart
            .draw_series(dots)?
            .label(names[class].clone())
            .legend(move |(x, y)| Circle::new((x + 6, y), 5, colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
