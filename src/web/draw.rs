//! Draws 28×28 images on canvases, scaled up with crisp (nearest-neighbour) pixels.

use wasm_bindgen::Clamped;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use super::dom;
use crate::data::IMAGE_SIDE;

const GAP: usize = 2;

/// Draws `images` (784 values in [0, 1] each) in a grid of `cols` columns on `#id`,
/// each pixel as a `scale × scale` square, white ink on black.
pub fn image_grid(id: &str, images: &[&[f32]], cols: usize, scale: usize) {
    colour_grid(&dom::get(id), images, cols, scale, |_, v| grey(v));
}

/// A value in [0, 1] as grey: white ink on black.
pub fn grey(v: f32) -> [u8; 3] {
    let grey = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [grey, grey, grey]
}

/// The colour of an error of `v` in [0, 1] in a heat map: black, through red, to yellow.
pub fn heat(v: f32) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0);
    let red = (v * 2.0).min(1.0);
    let green = (v * 2.0 - 1.0).max(0.0);
    [(red * 255.0).round() as u8, (green * 255.0).round() as u8, 0]
}

/// [`image_grid`] on `canvas` (in the page or not yet), with each value coloured by
/// `colour(image index, value)`.
pub fn colour_grid(
    canvas: &HtmlCanvasElement,
    images: &[&[f32]],
    cols: usize,
    scale: usize,
    colour: impl Fn(usize, f32) -> [u8; 3],
) {
    let rows = images.len().div_ceil(cols.max(1));
    let cell = IMAGE_SIDE * scale + GAP;
    let (width, height) = (cols * cell - GAP, rows * cell - GAP);
    let mut rgba = vec![0u8; width * height * 4];
    for pixel in rgba.chunks_exact_mut(4) {
        pixel.copy_from_slice(&[40, 44, 52, 255]);
    }
    for (index, image) in images.iter().enumerate() {
        let (ox, oy) = ((index % cols) * cell, (index / cols) * cell);
        for y in 0..IMAGE_SIDE * scale {
            for x in 0..IMAGE_SIDE * scale {
                let [r, g, b] = colour(index, image[(y / scale) * IMAGE_SIDE + x / scale]);
                let at = ((oy + y) * width + ox + x) * 4;
                rgba[at..at + 4].copy_from_slice(&[r, g, b, 255]);
            }
        }
    }
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let data =
        ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width as u32, height as u32)
            .expect("image data");
    context(canvas)
        .put_image_data(&data, 0.0, 0.0)
        .expect("put image");
}

/// The 2-D context of a canvas. The first call creates it with `willReadFrequently`: a
/// CPU-side canvas, which the sketch pad reads on every stroke and on which small drawings
/// (the chart, the grids) cost less main-thread time than on a GPU-backed one.
pub fn context(canvas: &HtmlCanvasElement) -> CanvasRenderingContext2d {
    use wasm_bindgen::JsCast;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"willReadFrequently".into(), &true.into())
        .expect("a plain object");
    canvas
        .get_context_with_context_options("2d", &options)
        .ok()
        .flatten()
        .expect("2d context")
        .unchecked_into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn image_grid_draws_crisp_scaled_pixels() {
        let canvas = dom::add_canvas("grid-test", 1, 1);
        let mut first = vec![0.0f32; 28 * 28];
        first[3 * 28 + 5] = 1.0;
        let second = vec![0.5f32; 28 * 28];
        image_grid("grid-test", &[&first, &second], 2, 2);
        let width = 2 * 56 + GAP;
        assert_eq!((canvas.width(), canvas.height()), (width as u32, 56));
        let data = context(&canvas)
            .get_image_data(0.0, 0.0, width as f64, 56.0)
            .unwrap()
            .data();
        let red = |x: usize, y: usize| data[(y * width + x) * 4];
        // Pixel (row 3, column 5) becomes a 2×2 block; its neighbours stay black.
        for (x, y) in [(10, 6), (11, 6), (10, 7), (11, 7)] {
            assert_eq!(red(x, y), 255, "({x}, {y})");
        }
        for (x, y) in [(9, 6), (12, 7), (10, 5), (11, 8)] {
            assert_eq!(red(x, y), 0, "({x}, {y})");
        }
        // The gap between the images, then the second image at mid grey.
        assert_eq!(red(56, 0), 40);
        assert_eq!(red(56 + GAP, 0), 128);
    }
}
