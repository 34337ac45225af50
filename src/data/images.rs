//! A dataset in memory: images kept as `u8` (a quarter of `f32`'s size, which matters in
//! the browser), the seeded train/validation split and batching.

use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use super::dataset::Dataset;
use super::idx::{self, IMAGE_PIXELS, IMAGE_SIDE, IdxError};

/// The share of the training set held out for validation (60,000 → 48,000 / 12,000).
pub const VALIDATION_FRACTION: f64 = 0.2;

/// A stored pixel as the models see it: 0–255 → [0, 1].
pub fn unit(pixel: u8) -> f32 {
    UNITS[usize::from(pixel)]
}

/// `p / 255` for every pixel value `p`, computed once: a batch's conversion is then one load per
/// pixel instead of a division (3 % of a CPU `ffnn` step in wasm).
const UNITS: [f32; 256] = {
    let mut units = [0.0; 256];
    let mut p = 0;
    while p < 256 {
        units[p] = p as f32 / 255.0;
        p += 1;
    }
    units
};

/// A set of 28×28 grey images (row-major `u8`, 0 = black) with their labels.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl ImageSet {
    /// Parses an image file and its label file and checks they describe the same images.
    pub fn from_idx(
        images_name: &str,
        images: Vec<u8>,
        labels_name: &str,
        labels: Vec<u8>,
    ) -> Result<Self, IdxError> {
        let pixels = idx::parse_images(images_name, images)?;
        let labels = idx::parse_labels(labels_name, labels)?;
        Self::new(pixels, labels).map_err(|(labels, images)| IdxError::CountMismatch {
            file: labels_name.into(),
            labels,
            images,
        })
    }

    /// Builds a set from raw pixels (N×784) and N labels; `Err((labels, images))` on a count mismatch.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>) -> Result<Self, (usize, usize)> {
        let images = pixels.len() / IMAGE_PIXELS;
        if !pixels.len().is_multiple_of(IMAGE_PIXELS) || labels.len() != images {
            return Err((labels.len(), images));
        }
        Ok(Self { pixels, labels })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// All pixels, image after image (N×784).
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The label (0–9) of image `index`.
    pub fn label(&self, index: usize) -> u8 {
        self.labels[index]
    }

    /// The images at `indices`, one after the other (`n × 784` values in [0, 1]).
    pub fn values(&self, indices: &[usize]) -> Vec<f32> {
        let mut values = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        for &i in indices {
            values.extend(self.image(i).iter().copied().map(unit));
        }
        values
    }

    /// The images at `indices` as a `[n, 1, 28, 28]` tensor with values in [0, 1].
    pub fn batch(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        images_tensor(self.values(indices), device)
    }
}

/// Turns `n × 784` values in [0, 1] into a `[n, 1, 28, 28]` tensor.
pub fn images_tensor(values: Vec<f32>, device: &Device) -> Tensor<4> {
    let n = values.len() / IMAGE_PIXELS;
    Tensor::from_data(
        TensorData::new(values, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

/// A dataset's training set (MNIST: 60k, split further for validation) and test set (10k).
#[derive(Debug, Clone)]
pub struct TrainTest {
    pub train: Arc<ImageSet>,
    pub test: Arc<ImageSet>,
}

impl TrainTest {
    /// Parses `dataset`'s four files, given in the order of [`Dataset::file_names`].
    pub fn from_files(dataset: &Dataset, files: [Vec<u8>; 4]) -> Result<Self, IdxError> {
        let [train_images, train_labels, test_images, test_labels] = files;
        let names = dataset.file_names();
        let train = ImageSet::from_idx(names[0], train_images, names[1], train_labels)?;
        let test = ImageSet::from_idx(names[2], test_images, names[3], test_labels)?;
        Ok(Self {
            train: Arc::new(train),
            test: Arc::new(test),
        })
    }

    /// Reads `dataset`'s four files from `dir` (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn load_dir(dataset: &Dataset, dir: &std::path::Path) -> Result<Self, LoadError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| LoadError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
                dataset: dataset.id.clone(),
            })
        };
        let [train_images, train_labels, test_images, test_labels] = dataset.file_names();
        let files = [
            read(train_images)?,
            read(train_labels)?,
            read(test_images)?,
            read(test_labels)?,
        ];
        Ok(Self::from_files(dataset, files)?)
    }
}

/// Failure to load a dataset from disk.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason} (run scripts/fetch-data.py {dataset} to fetch the data)")]
    Read {
        path: String,
        reason: String,
        dataset: String,
    },
    #[error(transparent)]
    Idx(#[from] IdxError),
}

/// The seeded split of a training set into training and validation indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
}

impl Split {
    /// Shuffles `0..total` with `seed` and holds out [`VALIDATION_FRACTION`] of it.
    ///
    /// `train_limit` keeps only the first `n` training images (a subset for quick runs and
    /// slow devices); the validation part then shrinks to keep the same ratio.
    pub fn new(total: usize, seed: u64, train_limit: Option<usize>) -> Self {
        let mut order: Vec<usize> = (0..total).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let validation_len = (total as f64 * VALIDATION_FRACTION).round() as usize;
        let mut validation = order.split_off(total - validation_len);
        let mut train = order;
        if let Some(limit) = train_limit.filter(|&limit| limit < train.len()) {
            let ratio = VALIDATION_FRACTION / (1.0 - VALIDATION_FRACTION);
            train.truncate(limit.max(1));
            validation.truncate(((limit as f64 * ratio).round() as usize).max(1));
        }
        Self { train, validation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reference_split_is_48k_12k_disjoint_and_seeded() {
        let split = Split::new(60_000, 7, None);
        assert_eq!(split.train.len(), 48_000);
        assert_eq!(split.validation.len(), 12_000);
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.validation)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..60_000).collect::<Vec<_>>());
        assert_eq!(split, Split::new(60_000, 7, None));
        assert_ne!(split, Split::new(60_000, 8, None));
    }

    #[test]
    fn limited_split_keeps_the_ratio() {
        let split = Split::new(60_000, 1, Some(4_000));
        assert_eq!((split.train.len(), split.validation.len()), (4_000, 1_000));
        let full = Split::new(60_000, 1, None);
        assert_eq!(split.train[..], full.train[..4_000]);
    }

    #[test]
    fn count_mismatch_names_both_counts() {
        let pixels = vec![0; 2 * IMAGE_PIXELS];
        assert_eq!(ImageSet::new(pixels, vec![1]).unwrap_err(), (1, 2));
    }

    #[test]
    fn batch_scales_pixels_to_unit_range() {
        let mut pixels = vec![0; 2 * IMAGE_PIXELS];
        pixels[IMAGE_PIXELS] = 255;
        let set = ImageSet::new(pixels, vec![3, 4]).unwrap();
        let batch = set.batch(&[1, 0], &Device::flex());
        assert_eq!(batch.dims(), [2, 1, 28, 28]);
        let values = batch.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, set.values(&[1, 0]));
        assert_eq!(values[0], 1.0);
        assert_eq!(values.iter().sum::<f32>(), 1.0);
        assert_eq!(unit(51), 0.2);
        assert!((0..=255).all(|p| unit(p) == f32::from(p) / 255.0));
    }
}
