//! Turns a free-hand drawing into an MNIST-like 28×28 image: the ink's bounding box is
//! scaled (aspect kept) to fit a 20×20 box, and placed so its centre of mass sits at the
//! centre of the 28×28 frame — how the MNIST digits were prepared.

use super::{IMAGE_PIXELS, IMAGE_SIDE};

/// Side of the box the digit is scaled into.
const BOX: usize = 20;
/// Ink below this intensity is background.
const INK_THRESHOLD: f32 = 0.05;

/// `ink` is a `width × height` row-major intensity map in [0, 1] (1 = ink). Returns the
/// 784 MNIST-style pixels, or `None` when nothing is drawn.
pub fn to_mnist(ink: &[f32], width: usize, height: usize) -> Option<Vec<f32>> {
    assert_eq!(ink.len(), width * height, "ink map size");
    let (mut left, mut top, mut right, mut bottom) = (width, height, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK_THRESHOLD {
                left = left.min(x);
                right = right.max(x + 1);
                top = top.min(y);
                bottom = bottom.max(y + 1);
            }
        }
    }
    if left >= right {
        return None;
    }
    let (w, h) = (right - left, bottom - top);
    let scale = BOX as f32 / w.max(h) as f32;
    let (out_w, out_h) = (
        ((w as f32 * scale).round() as usize).clamp(1, BOX),
        ((h as f32 * scale).round() as usize).clamp(1, BOX),
    );
    let boxed = area_resample(ink, width, (left, top, w, h), out_w, out_h);

    // Place the box so its centre of mass lands on the frame's centre.
    let (mut mass, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for y in 0..out_h {
        for x in 0..out_w {
            let v = boxed[y * out_w + x];
            mass += v;
            cx += v * (x as f32 + 0.5);
            cy += v * (y as f32 + 0.5);
        }
    }
    let centre = IMAGE_SIDE as f32 / 2.0;
    let place = |c: f32, size: usize| {
        ((centre - c / mass).round() as isize).clamp(0, (IMAGE_SIDE - size) as isize) as usize
    };
    let (dx, dy) = (place(cx, out_w), place(cy, out_h));
    let mut out = vec![0.0; IMAGE_PIXELS];
    for y in 0..out_h {
        for x in 0..out_w {
            out[(y + dy) * IMAGE_SIDE + x + dx] = boxed[y * out_w + x];
        }
    }
    Some(out)
}

/// Averages the source pixels covered by each output pixel (a box filter), so thin
/// strokes stay visible when shrinking.
fn area_resample(
    ink: &[f32],
    width: usize,
    (left, top, w, h): (usize, usize, usize, usize),
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    let mut out = vec![0.0; out_w * out_h];
    for oy in 0..out_h {
        let (y0, y1) = (top + oy * h / out_h, top + ((oy + 1) * h).div_ceil(out_h));
        for ox in 0..out_w {
            let (x0, x1) = (left + ox * w / out_w, left + ((ox + 1) * w).div_ceil(out_w));
            let mut sum = 0.0;
            for y in y0..y1 {
                sum += ink[y * width + x0..y * width + x1].iter().sum::<f32>();
            }
            out[oy * out_w + ox] = (sum / ((y1 - y0) * (x1 - x0)) as f32).min(1.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn blank(side: usize) -> Vec<f32> {
        vec![0.0; side * side]
    }

    #[test]
    fn nothing_drawn_gives_none() {
        assert_eq!(to_mnist(&blank(100), 100, 100), None);
    }

    #[test]
    fn an_off_centre_square_is_scaled_to_20_and_centred() {
        let side = 200;
        let mut ink = blank(side);
        // A filled 40×40 square in the top-left corner.
        for y in 10..50 {
            for x in 10..50 {
                ink[y * side + x] = 1.0;
            }
        }
        let out = to_mnist(&ink, side, side).unwrap();
        let lit: Vec<(usize, usize)> = (0..IMAGE_PIXELS)
            .filter(|&i| out[i] > 0.5)
            .map(|i| (i % 28, i / 28))
            .collect();
        assert_eq!(lit.len(), 400, "a 20×20 box");
        let min_x = lit.iter().map(|p| p.0).min().unwrap();
        let min_y = lit.iter().map(|p| p.1).min().unwrap();
        assert_eq!((min_x, min_y), (4, 4), "centred: 4 px margins");
    }

    #[test]
    fn a_thin_vertical_stroke_keeps_its_aspect_and_centre_of_mass() {
        let side = 280;
        let mut ink = blank(side);
        for y in 40..240 {
            for x in 200..220 {
                ink[y * side + x] = 1.0;
            }
        }
        let out = to_mnist(&ink, side, side).unwrap();
        let mass: f32 = out.iter().sum();
        let cx: f32 = (0..IMAGE_PIXELS)
            .map(|i| out[i] * ((i % 28) as f32 + 0.5))
            .sum::<f32>()
            / mass;
        let cy: f32 = (0..IMAGE_PIXELS)
            .map(|i| out[i] * ((i / 28) as f32 + 0.5))
            .sum::<f32>()
            / mass;
        assert!(
            (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
            "({cx}, {cy})"
        );
        let rows = (0..28)
            .filter(|y| (0..28).any(|x| out[y * 28 + x] > 0.5))
            .count();
        let cols = (0..28)
            .filter(|x| (0..28).any(|y| out[y * 28 + x] > 0.5))
            .count();
        assert_eq!((rows, cols), (20, 2));
    }
}
