//! Corruptions for denoising autoencoders: the model sees a corrupted image and learns to
//! give back the clean one. They work on the u8 pixels of one image with a seeded
//! generator, so a batch costs a few microseconds on the host and a given seed corrupts an
//! image the same way in the CLI, the page and the worker.

use std::fmt;
use std::str::FromStr;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{IMAGE_PIXELS, IMAGE_SIDE};

/// How an input is corrupted. Strengths are in the image's units: pixel values in [0, 1],
/// fractions of the 784 pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Corruption {
    /// Adds Gaussian noise of standard deviation `sigma` to every pixel (then clamps).
    Gaussian { sigma: f32 },
    /// Turns a `fraction` of the pixels white or black (half each).
    SaltPepper { fraction: f32 },
    /// Erases (turns black) a `fraction` of the pixels, chosen one by one.
    Mask { fraction: f32 },
    /// Erases one square block of about `fraction` of the image, at a random place.
    Block { fraction: f32 },
}

/// The names [`Corruption::from_str`] takes.
pub const CORRUPTION_NAMES: [&str; 4] = ["gaussian", "salt-pepper", "mask", "block"];

impl Corruption {
    /// The name of its kind, as the CLI and the page write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gaussian { .. } => "gaussian",
            Self::SaltPepper { .. } => "salt-pepper",
            Self::Mask { .. } => "mask",
            Self::Block { .. } => "block",
        }
    }

    /// σ for Gaussian noise, the fraction of pixels (or of the image) for the others.
    pub fn strength(self) -> f32 {
        match self {
            Self::Gaussian { sigma } => sigma,
            Self::SaltPepper { fraction } | Self::Mask { fraction } | Self::Block { fraction } => {
                fraction
            }
        }
    }

    /// `name` at `strength`, checked.
    pub fn new(name: &str, strength: f32) -> Result<Self, String> {
        let corruption = match name {
            "gaussian" => Self::Gaussian { sigma: strength },
            "salt-pepper" => Self::SaltPepper { fraction: strength },
            "mask" => Self::Mask { fraction: strength },
            "block" => Self::Block { fraction: strength },
            _ => {
                return Err(format!(
                    "unknown noise '{name}' (known: {})",
                    CORRUPTION_NAMES.join(", ")
                ));
            }
        };
        corruption.validate()?;
        Ok(corruption)
    }

    /// Checks the strength: σ ≥ 0 (and at most 10), fractions in [0, 1].
    pub fn validate(self) -> Result<(), String> {
        let strength = self.strength();
        match self {
            Self::Gaussian { .. } if !(0.0..=10.0).contains(&strength) => {
                Err(format!("gaussian noise needs 0 ≤ σ ≤ 10, not {strength}"))
            }
            Self::Gaussian { .. } => Ok(()),
            _ if !(0.0..=1.0).contains(&strength) => Err(format!(
                "{} noise needs a fraction in [0, 1], not {strength}",
                self.name()
            )),
            _ => Ok(()),
        }
    }

    /// Ready to apply: Gaussian noise gets its table of quantiles.
    pub fn corrupter(self) -> Corrupter {
        let gaussian = match self {
            Self::Gaussian { sigma } => Some(gaussian_table(sigma)),
            _ => None,
        };
        Corrupter {
            corruption: self,
            gaussian,
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.name(), self.strength())
    }
}

impl FromStr for Corruption {
    type Err = String;

    /// `NAME:STRENGTH`, e.g. `gaussian:0.3`, `salt-pepper:0.2`, `mask:0.25`, `block:0.25`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (name, strength) = text
            .split_once(':')
            .ok_or_else(|| format!("noise '{text}' is not NAME:STRENGTH, e.g. gaussian:0.3"))?;
        let strength: f32 = strength
            .parse()
            .map_err(|_| format!("noise strength '{strength}' is not a number"))?;
        Self::new(name, strength)
    }
}

/// Number of quantiles in the Gaussian table: 12 bits of a random word pick one.
const QUANTILES: usize = 1 << 12;

/// A [`Corruption`] ready to apply to images.
#[derive(Debug, Clone)]
pub struct Corrupter {
    corruption: Corruption,
    /// σ·255·Φ⁻¹((i + ½) / 4096), rounded: the noise of a pixel is one of these, drawn
    /// uniformly, which is a Gaussian sample to within the u8 pixels' own rounding.
    gaussian: Option<Box<[i16]>>,
}

impl Corrupter {
    pub fn corruption(&self) -> Corruption {
        self.corruption
    }

    /// Corrupts the 784 pixels of one image in place.
    pub fn apply(&self, image: &mut [u8], rng: &mut Xoshiro256PlusPlus) {
        match (self.corruption, &self.gaussian) {
            (Corruption::Gaussian { .. }, Some(table)) => {
                let table: &[i16; QUANTILES] = table.as_ref().try_into().expect("the table's size");
                let mut noise = [0i16; IMAGE_PIXELS];
                for values in noise.chunks_exact_mut(4) {
                    let bits = rng.next_u64();
                    for (k, value) in values.iter_mut().enumerate() {
                        *value = table[((bits >> (12 * k)) & 0xFFF) as usize];
                    }
                }
                // Branch-free (min and max), so that the compiler vectorises it: with
                // branches, the clamps' random outcomes cost more than the rest.
                for (pixels, noise) in image.chunks_exact_mut(16).zip(noise.chunks_exact(16)) {
                    let pixels: &mut [u8; 16] = pixels.try_into().expect("16 pixels");
                    let noise: &[i16; 16] = noise.try_into().expect("16 values");
                    for (pixel, noise) in pixels.iter_mut().zip(noise) {
                        *pixel = (i16::from(*pixel) + noise).clamp(0, 255) as u8;
                    }
                }
            }
            (Corruption::SaltPepper { fraction }, _) => {
                let threshold = threshold(fraction);
                per_pixel(image, rng, |pixel, draw| {
                    // Hit: draw < threshold; then salt (255) for its upper half, else pepper.
                    let keep = 0u8.wrapping_sub(u8::from(draw >= threshold));
                    let salt = 0u8.wrapping_sub(u8::from(draw >= threshold / 2));
                    (pixel & keep) | (salt & !keep)
                });
            }
            (Corruption::Mask { fraction }, _) => {
                let threshold = threshold(fraction);
                per_pixel(image, rng, |pixel, draw| {
                    pixel & 0u8.wrapping_sub(u8::from(draw >= threshold))
                });
            }
            (Corruption::Block { fraction }, _) => {
                let side = ((IMAGE_SIDE as f32) * fraction.sqrt()).round() as usize;
                let room = (IMAGE_SIDE - side + 1) as u64;
                let bits = rng.next_u64();
                let (top, left) = ((bits % room) as usize, ((bits >> 32) % room) as usize);
                for row in image.chunks_mut(IMAGE_SIDE).skip(top).take(side) {
                    row[left..left + side].fill(0);
                }
            }
            (Corruption::Gaussian { .. }, None) => unreachable!("made by Corruption::corrupter"),
        }
    }

    /// Corrupts each image of `pixels` (N×784) in place with a generator of its own,
    /// seeded by `seed` and the image's `indices` entry: the same image gets the same noise
    /// whatever batch it is in (for fixed-seed evaluation and the page's pictures).
    pub fn apply_seeded(&self, pixels: &mut [u8], indices: &[usize], seed: u64) {
        for (image, &index) in pixels.chunks_mut(IMAGE_SIDE * IMAGE_SIDE).zip(indices) {
            self.apply(image, &mut image_rng(seed, index));
        }
    }
}

/// The generator of image `index` under `seed`.
pub fn image_rng(seed: u64, index: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// `fraction` of the 65,536 values of a 16-bit draw.
fn threshold(fraction: f32) -> u32 {
    (fraction.clamp(0.0, 1.0) * 65_536.0).round() as u32
}

/// Sets every pixel to `change(pixel, draw)` with a uniform 16-bit draw (four per word).
fn per_pixel(image: &mut [u8], rng: &mut Xoshiro256PlusPlus, change: impl Fn(u8, u32) -> u8) {
    for pixels in image.chunks_mut(4) {
        let bits = rng.next_u64();
        for (k, pixel) in pixels.iter_mut().enumerate() {
            *pixel = change(*pixel, ((bits >> (16 * k)) & 0xFFFF) as u32);
        }
    }
}

fn gaussian_table(sigma: f32) -> Box<[i16]> {
    (0..QUANTILES)
        .map(|i| {
            let p = (i as f64 + 0.5) / QUANTILES as f64;
            (f64::from(sigma) * 255.0 * inverse_normal_cdf(p))
                .round()
                .clamp(-255.0, 255.0) as i16
        })
        .collect()
}

/// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error below 1.2e-9).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.02425;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A digit-like image: a grey square on black.
    fn image() -> Vec<u8> {
        (0..IMAGE_PIXELS)
            .map(|i| {
                if (8..20).contains(&(i / 28)) && (8..20).contains(&(i % 28)) {
                    200
                } else {
                    0
                }
            })
            .collect()
    }

    fn corrupted(text: &str, seed: u64) -> Vec<u8> {
        let mut pixels = image();
        let corruption: Corruption = text.parse().unwrap();
        corruption
            .corrupter()
            .apply(&mut pixels, &mut Xoshiro256PlusPlus::seed_from_u64(seed));
        pixels
    }

    fn changed(a: &[u8], b: &[u8]) -> usize {
        a.iter().zip(b).filter(|(x, y)| x != y).count()
    }

    #[test]
    fn the_inverse_normal_cdf_has_known_values() {
        assert!((inverse_normal_cdf(0.5)).abs() < 1e-9);
        assert!((inverse_normal_cdf(0.975) - 1.959_963_985).abs() < 1e-7);
        assert!((inverse_normal_cdf(0.001) + 3.090_232_306).abs() < 1e-7);
    }

    #[test]
    fn gaussian_noise_has_its_sigma_and_no_bias() {
        // Mid-grey pixels, so that clamping does not cut the noise.
        let mut pixels = vec![128u8; 100 * IMAGE_PIXELS];
        let corrupter = Corruption::Gaussian { sigma: 0.1 }.corrupter();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for image in pixels.chunks_mut(IMAGE_PIXELS) {
            corrupter.apply(image, &mut rng);
        }
        let n = pixels.len() as f64;
        let mean = pixels.iter().map(|&p| f64::from(p) - 128.0).sum::<f64>() / n;
        let sd = (pixels
            .iter()
            .map(|&p| (f64::from(p) - 128.0 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(mean.abs() < 0.2, "mean {mean}");
        assert!((sd / 255.0 - 0.1).abs() < 0.002, "σ {}", sd / 255.0);
    }

    #[test]
    fn salt_and_pepper_changes_its_fraction_half_white_half_black() {
        let clean = vec![128u8; IMAGE_PIXELS];
        let corrupter = Corruption::SaltPepper { fraction: 0.2 }.corrupter();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let (mut white, mut black) = (0, 0);
        for _ in 0..100 {
            let mut pixels = clean.clone();
            corrupter.apply(&mut pixels, &mut rng);
            white += pixels.iter().filter(|&&p| p == 255).count();
            black += pixels.iter().filter(|&&p| p == 0).count();
        }
        let total = 100.0 * IMAGE_PIXELS as f64;
        assert!(((white + black) as f64 / total - 0.2).abs() < 0.005);
        assert!((white as f64 / total - 0.1).abs() < 0.005);
    }

    #[test]
    fn masking_erases_its_fraction_and_a_block_its_square() {
        let clean = vec![128u8; IMAGE_PIXELS];
        let corrupter = Corruption::Mask { fraction: 0.25 }.corrupter();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut erased = 0;
        for _ in 0..100 {
            let mut pixels = clean.clone();
            corrupter.apply(&mut pixels, &mut rng);
            erased += pixels.iter().filter(|&&p| p == 0).count();
        }
        assert!((erased as f64 / (100.0 * IMAGE_PIXELS as f64) - 0.25).abs() < 0.005);

        // 0.25 of the image: a 14 × 14 square, wherever it lands.
        for seed in 0..20 {
            let mut pixels = clean.clone();
            Corruption::Block { fraction: 0.25 }
                .corrupter()
                .apply(&mut pixels, &mut Xoshiro256PlusPlus::seed_from_u64(seed));
            assert_eq!(changed(&pixels, &clean), 14 * 14);
        }
    }

    #[test]
    fn corruption_is_seeded_keeps_the_shape_and_leaves_zero_strength_alone() {
        for text in ["gaussian:0.3", "salt-pepper:0.2", "mask:0.25", "block:0.25"] {
            let a = corrupted(text, 1);
            assert_eq!(a.len(), IMAGE_PIXELS);
            assert_eq!(a, corrupted(text, 1), "{text}: same seed, same image");
            assert_ne!(a, corrupted(text, 2), "{text}: another seed, another image");
            assert!(changed(&a, &image()) > 0, "{text} changed nothing");
            let zero = format!("{}:0", text.split(':').next().unwrap());
            assert_eq!(corrupted(&zero, 1), image(), "{zero}");
        }
    }

    #[test]
    fn seeded_batches_corrupt_each_image_by_its_index() {
        let corrupter = Corruption::Gaussian { sigma: 0.3 }.corrupter();
        let two: Vec<u8> = [image(), image()].concat();
        let mut batch = two.clone();
        corrupter.apply_seeded(&mut batch, &[4, 9], 42);
        let mut alone = image();
        corrupter.apply_seeded(&mut alone, &[9], 42);
        assert_eq!(&batch[IMAGE_PIXELS..], &alone[..]);
        assert_ne!(&batch[..IMAGE_PIXELS], &alone[..]);
    }

    #[test]
    fn bad_noise_settings_are_refused_with_a_reason() {
        let error = |text: &str| text.parse::<Corruption>().unwrap_err();
        assert_eq!(
            error("speckle:0.1"),
            "unknown noise 'speckle' (known: gaussian, salt-pepper, mask, block)"
        );
        assert_eq!(
            error("gaussian:-0.1"),
            "gaussian noise needs 0 ≤ σ ≤ 10, not -0.1"
        );
        assert_eq!(
            error("salt-pepper:1.5"),
            "salt-pepper noise needs a fraction in [0, 1], not 1.5"
        );
        assert_eq!(error("mask:x"), "noise strength 'x' is not a number");
        assert_eq!(
            error("mask"),
            "noise 'mask' is not NAME:STRENGTH, e.g. gaussian:0.3"
        );
        assert!(error("gaussian:NaN").contains("0 ≤ σ ≤ 10"));
        let round_trip: Corruption = "salt-pepper:0.2".parse().unwrap();
        assert_eq!(round_trip.to_string(), "salt-pepper:0.2");
    }
}
