//! Denoising's corruption drawn on the device, with the backend's seeded generator: the
//! other placement of [`crate::data::Corrupter`] (which works on the host's u8 pixels, seeded
//! per image). Here the batch is uploaded once and corrupted where it is, in f32 (no
//! rounding to u8 steps); the same corruptions, by the same rules.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Distribution, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::{Corruption, IMAGE_SIDE};

/// Where a training batch's corruption is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoisePlace {
    /// On the u8 pixels before upload, seeded per image (the default).
    #[default]
    Host,
    /// On the uploaded batch, by the backend's random generator.
    Device,
}

impl fmt::Display for NoisePlace {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::Device => "device",
        })
    }
}

impl FromStr for NoisePlace {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "host" => Ok(Self::Host),
            "device" => Ok(Self::Device),
            _ => Err(format!("noise is made on 'host' or 'device', not '{text}'")),
        }
    }
}

/// `images` `[n, 1, 28, 28]` (values in [0, 1]) corrupted by `noise` on their device.
pub fn corrupt(images: Tensor<4>, noise: Corruption) -> Tensor<4> {
    let device = images.device();
    let shape = images.shape();
    let uniform = || Tensor::<4>::random(shape.clone(), Distribution::Default, &device);
    match noise {
        Corruption::Gaussian { sigma } => {
            let noise = Tensor::random(shape, Distribution::Normal(0.0, sigma.into()), &device);
            (images + noise).clamp(0.0, 1.0)
        }
        Corruption::SaltPepper { fraction } => {
            // A draw below fraction/2: pepper; from there up to fraction: salt.
            let draw = uniform();
            let salt = draw
                .clone()
                .lower_elem(fraction)
                .bool_and(draw.clone().greater_equal_elem(fraction / 2.0));
            images
                .mask_fill(draw.lower_elem(fraction / 2.0), 0.0)
                .mask_fill(salt, 1.0)
        }
        Corruption::Mask { fraction } => images.mask_fill(uniform().lower_elem(fraction), 0.0),
        Corruption::Block { fraction } => {
            let side = ((IMAGE_SIDE as f32) * fraction.sqrt()).round();
            let room = IMAGE_SIDE as f64 - f64::from(side) + 1.0;
            let n = images.dims()[0];
            let corner = || {
                Tensor::<4>::random([n, 1, 1, 1], Distribution::Uniform(0.0, room), &device).floor()
            };
            let (top, left) = (corner(), corner());
            let along = Tensor::<1, Int>::arange(0..IMAGE_SIDE as i64, &device).float();
            let rows = along.clone().reshape([1, 1, IMAGE_SIDE, 1]);
            let columns = along.reshape([1, 1, 1, IMAGE_SIDE]);
            let within = |at: Tensor<4>, start: Tensor<4>| {
                let offset = at - start;
                offset
                    .clone()
                    .greater_equal_elem(0.0)
                    .bool_and(offset.lower_elem(side))
                    .float()
            };
            let block = within(rows, top) * within(columns, left);
            images * block.neg().add_scalar(1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::data::{IMAGE_PIXELS, images_tensor};
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 64 mid-grey images corrupted on the CPU device.
    fn corrupted(noise: Corruption) -> Vec<f32> {
        let device = Device::flex();
        device.seed(3);
        let images = images_tensor(vec![0.5; 64 * IMAGE_PIXELS], &device);
        corrupt(images, noise).into_data().try_to_vec().unwrap()
    }

    fn share(values: &[f32], test: impl Fn(f32) -> bool) -> f64 {
        values.iter().filter(|&&v| test(v)).count() as f64 / values.len() as f64
    }

    #[test]
    fn each_corruption_follows_the_hosts_rules() {
        let gaussian = corrupted(Corruption::Gaussian { sigma: 0.1 });
        let mean = gaussian.iter().map(|&v| f64::from(v)).sum::<f64>() / gaussian.len() as f64;
        let spread = (gaussian
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / gaussian.len() as f64)
            .sqrt();
        assert!((mean - 0.5).abs() < 0.002 && (spread - 0.1).abs() < 0.002);

        let salt_pepper = corrupted(Corruption::SaltPepper { fraction: 0.2 });
        assert!((share(&salt_pepper, |v| v == 0.0) - 0.1).abs() < 0.01);
        assert!((share(&salt_pepper, |v| v == 1.0) - 0.1).abs() < 0.01);
        assert!((share(&salt_pepper, |v| v == 0.5) - 0.8).abs() < 0.01);

        let mask = corrupted(Corruption::Mask { fraction: 0.25 });
        assert!((share(&mask, |v| v == 0.0) - 0.25).abs() < 0.01);
        assert!(share(&mask, |v| v == 0.0 || v == 0.5) == 1.0);

        // One 14×14 square per image (a quarter of it), wholly inside the image.
        let block = corrupted(Corruption::Block { fraction: 0.25 });
        for image in block.chunks(IMAGE_PIXELS) {
            let erased: Vec<usize> = (0..IMAGE_PIXELS).filter(|&i| image[i] == 0.0).collect();
            assert_eq!(erased.len(), 14 * 14);
            let (rows, columns): (Vec<usize>, Vec<usize>) = erased
                .iter()
                .map(|i| (i / IMAGE_SIDE, i % IMAGE_SIDE))
                .unzip();
            let span = |v: &[usize]| v.iter().max().unwrap() - v.iter().min().unwrap() + 1;
            assert_eq!((span(&rows), span(&columns)), (14, 14));
        }
    }

    #[test]
    fn the_place_reads_and_prints() {
        for place in [NoisePlace::Host, NoisePlace::Device] {
            assert_eq!(place.to_string().parse::<NoisePlace>(), Ok(place));
        }
        assert!("gpu".parse::<NoisePlace>().unwrap_err().contains("'gpu'"));
    }
}
