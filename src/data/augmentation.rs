//! Augmentation of training images: a random shift, rotation and scale about the image's
//! centre, drawn per image from a seeded generator, resampled bilinearly, u8 in and u8 out
//! (black outside the frame, as MNIST's background).

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{IMAGE_PIXELS, IMAGE_SIDE};

/// The largest transformation of each kind; each image gets one drawn uniformly within them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Shift in pixels, along each axis: ± `shift`.
    pub shift: f32,
    /// Rotation in degrees: ± `rotate`.
    pub rotate: f32,
    /// Scale factor: 1 ± `scale`.
    pub scale: f32,
}

impl Augmentation {
    /// Whether it changes nothing.
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }

    /// Shift ≤ 14 px, rotation ≤ 180°, scale < 1, none negative.
    pub fn validate(&self) -> Result<(), String> {
        let check = |name: &str, value: f32, max: f32, unit: &str| {
            if (0.0..=max).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "augment {name} needs 0 ≤ {name} ≤ {max}{unit}, not {value}"
                ))
            }
        };
        check("shift", self.shift, 14.0, " px")?;
        check("rotate", self.rotate, 180.0, "°")?;
        check("scale", self.scale, 0.9, "")
    }

    /// Writes a randomly transformed copy of `image` (784 pixels) into `out`.
    pub fn apply(&self, image: &[u8], out: &mut [u8], rng: &mut Xoshiro256PlusPlus) {
        let mut uniform = || {
            // A draw in [-1, 1) from the top 24 bits.
            (rng.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        let (dx, dy) = (self.shift * uniform(), self.shift * uniform());
        let angle = (self.rotate * uniform()).to_radians();
        let scale = 1.0 + self.scale * uniform();
        warp(image, out, dx, dy, angle, scale);
    }
}

/// Border of zeros around the padded source: sample positions are clamped into it, so the
/// bilinear reads need no bounds checks and see black outside the frame.
const PAD: usize = 2;
const PADDED: usize = IMAGE_SIDE + 2 * PAD;

/// Resamples `image` into `out`: out(p) = image(A⁻¹(p − c − d) + c), A the rotation by
/// `angle` and the scaling by `scale`, c the centre, d = (dx, dy).
pub fn warp(image: &[u8], out: &mut [u8], dx: f32, dy: f32, angle: f32, scale: f32) {
    assert_eq!((image.len(), out.len()), (IMAGE_PIXELS, IMAGE_PIXELS));
    let mut padded = [0f32; PADDED * PADDED];
    for (row, pixels) in image.chunks_exact(IMAGE_SIDE).enumerate() {
        let start = (row + PAD) * PADDED + PAD;
        for (to, &from) in padded[start..start + IMAGE_SIDE].iter_mut().zip(pixels) {
            *to = f32::from(from);
        }
    }
    let centre = (IMAGE_SIDE as f32 - 1.0) / 2.0;
    let (sin, cos) = angle.sin_cos();
    // The inverse rotation and scale take an output pixel back to the source; along a row
    // the source position moves by a constant step.
    let (step_x, step_y) = (cos / scale, -sin / scale);
    // Positions in padded coordinates, kept within [0.5, PADDED − 2.5]: outside the frame
    // they then read only zeros, and the cell's far corner stays inside the buffer.
    let (low, high) = (0.5, PADDED as f32 - 2.5);
    for (y, row) in out.chunks_exact_mut(IMAGE_SIDE).enumerate() {
        let (x, y) = (-centre - dx, y as f32 - centre - dy);
        let mut sx = (cos * x + sin * y) / scale + centre + PAD as f32;
        let mut sy = (-sin * x + cos * y) / scale + centre + PAD as f32;
        for pixel in row {
            let (px, py) = (sx.clamp(low, high), sy.clamp(low, high));
            // Positive, so truncation is the floor.
            let (x0, y0) = (px as usize, py as usize);
            let (fx, fy) = (px - x0 as f32, py - y0 as f32);
            let at = y0 * PADDED + x0;
            let top = padded[at] + fx * (padded[at + 1] - padded[at]);
            let bottom = padded[at + PADDED] + fx * (padded[at + PADDED + 1] - padded[at + PADDED]);
            // Non-negative, so adding ½ and truncating rounds (and `as` saturates at 255).
            *pixel = (top + fy * (bottom - top) + 0.5) as u8;
            sx += step_x;
            sy += step_y;
        }
    }
}

impl fmt::Display for Augmentation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let parts: Vec<String> = [
            ("shift", self.shift),
            ("rotate", self.rotate),
            ("scale", self.scale),
        ]
        .into_iter()
        .filter(|(_, value)| *value != 0.0)
        .map(|(name, value)| format!("{name}:{value}"))
        .collect();
        if parts.is_empty() {
            write!(f, "none")
        } else {
            write!(f, "{}", parts.join(","))
        }
    }
}

impl FromStr for Augmentation {
    type Err = String;

    /// Comma-separated `NAME:AMOUNT` pairs of `shift` (px), `rotate` (°) and `scale`,
    /// e.g. `shift:2,rotate:10`; `none` for no augmentation.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut augmentation = Self::default();
        if text == "none" {
            return Ok(augmentation);
        }
        for part in text.split(',') {
            let (name, amount) = part.split_once(':').ok_or_else(|| {
                format!("augment '{part}' is not NAME:AMOUNT, e.g. shift:2,rotate:10")
            })?;
            let amount: f32 = amount
                .parse()
                .map_err(|_| format!("augment amount '{amount}' is not a number"))?;
            match name {
                "shift" => augmentation.shift = amount,
                "rotate" => augmentation.rotate = amount,
                "scale" => augmentation.scale = amount,
                _ => {
                    return Err(format!(
                        "unknown augmentation '{name}' (known: shift, rotate, scale)"
                    ));
                }
            }
        }
        augmentation.validate()?;
        Ok(augmentation)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A 6 × 4 bar off-centre.
    fn bar() -> Vec<u8> {
        (0..IMAGE_PIXELS)
            .map(|i| {
                if (6..10).contains(&(i / 28)) && (4..10).contains(&(i % 28)) {
                    255
                } else {
                    0
                }
            })
            .collect()
    }

    fn warped(dx: f32, dy: f32, degrees: f32, scale: f32) -> Vec<u8> {
        let mut out = vec![0; IMAGE_PIXELS];
        warp(&bar(), &mut out, dx, dy, degrees.to_radians(), scale);
        out
    }

    fn ink(image: &[u8]) -> f64 {
        image.iter().map(|&p| f64::from(p)).sum()
    }

    #[test]
    fn the_identity_and_whole_pixel_shifts_are_exact() {
        assert_eq!(warped(0.0, 0.0, 0.0, 1.0), bar());
        let shifted = warped(3.0, 2.0, 0.0, 1.0);
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                let source = if x >= 3 && y >= 2 {
                    bar()[(y - 2) * 28 + x - 3]
                } else {
                    0
                };
                assert_eq!(shifted[y * 28 + x], source, "({x}, {y})");
            }
        }
    }

    #[test]
    fn a_quarter_turn_turns_the_bar_and_keeps_its_ink() {
        let turned = warped(0.0, 0.0, 90.0, 1.0);
        // Rows 6–9 become columns; columns 4–9 become rows (the centre is 13.5).
        let rows: Vec<usize> = (0..28)
            .filter(|y| turned[y * 28..y * 28 + 28].iter().any(|&p| p > 0))
            .collect();
        let cols: Vec<usize> = (0..28)
            .filter(|x| (0..28).any(|y| turned[y * 28 + x] > 0))
            .collect();
        assert_eq!(
            (rows.len(), cols.len()),
            (6, 4),
            "rows {rows:?} cols {cols:?}"
        );
        assert!((ink(&turned) - ink(&bar())).abs() < 1.0);
    }

    #[test]
    fn scaling_up_spreads_the_ink_by_the_square_of_the_scale() {
        // A centred 8 × 8 square, so that nothing leaves the frame.
        let square: Vec<u8> = (0..IMAGE_PIXELS)
            .map(|i| {
                if (10..18).contains(&(i / 28)) && (10..18).contains(&(i % 28)) {
                    255
                } else {
                    0
                }
            })
            .collect();
        let mut out = vec![0; IMAGE_PIXELS];
        warp(&square, &mut out, 0.0, 0.0, 0.0, 1.5);
        let ratio = ink(&out) / ink(&square);
        assert!((ratio - 2.25).abs() < 0.1, "ink ratio {ratio}");
    }

    #[test]
    fn augmentation_is_seeded_and_stays_within_its_bounds() {
        let augmentation: Augmentation = "shift:2,rotate:10,scale:0.1".parse().unwrap();
        let run = |seed: u64| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut out = vec![0; IMAGE_PIXELS];
            augmentation.apply(&bar(), &mut out, &mut rng);
            out
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        for seed in 0..50 {
            let out = run(seed);
            assert_eq!(out.len(), IMAGE_PIXELS);
            // At most ±10 % scale: the ink stays within 0.81–1.21 of the original, plus
            // what rounding adds at the edges.
            let ratio = ink(&out) / ink(&bar());
            assert!(
                (0.75..1.3).contains(&ratio),
                "seed {seed}: ink ratio {ratio}"
            );
        }
        let none: Augmentation = "none".parse().unwrap();
        assert!(none.is_identity());
        assert_eq!(augmentation.to_string(), "shift:2,rotate:10,scale:0.1");
    }

    #[test]
    fn bad_augmentations_are_refused_with_a_reason() {
        let error = |text: &str| text.parse::<Augmentation>().unwrap_err();
        assert_eq!(
            error("shear:3"),
            "unknown augmentation 'shear' (known: shift, rotate, scale)"
        );
        assert_eq!(
            error("shift:-1"),
            "augment shift needs 0 ≤ shift ≤ 14 px, not -1"
        );
        assert_eq!(
            error("rotate:400"),
            "augment rotate needs 0 ≤ rotate ≤ 180°, not 400"
        );
        assert_eq!(
            error("scale:2"),
            "augment scale needs 0 ≤ scale ≤ 0.9, not 2"
        );
        assert_eq!(
            error("shift"),
            "augment 'shift' is not NAME:AMOUNT, e.g. shift:2,rotate:10"
        );
        assert_eq!(error("shift:two"), "augment amount 'two' is not a number");
    }
}
