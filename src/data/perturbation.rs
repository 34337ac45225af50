//! A measurement's changed inputs: the test images augmented (a robustness check) and/or
//! corrupted (a denoising check), each image by a generator seeded with its index, so that
//! every run and every backend measures on the very same images.

use super::corruption::image_rng;
use super::{Augmentation, Corrupter, Corruption, IMAGE_PIXELS, ImageSet};

/// The seed of every measurement on a changed test set (the CLI's, the page's and the
/// worker's, and the page's grid): they all see the very same corrupted digits.
pub const TEST_SEED: u64 = 42;

/// Mixed into the seed for the augmentation, so that it draws apart from the noise.
const AUGMENT_SEED: u64 = 0xA06_3E27;

#[derive(Debug, Clone)]
pub struct Perturbation {
    augment: Augmentation,
    noise: Option<Corrupter>,
    seed: u64,
}

impl Perturbation {
    pub fn new(augment: Augmentation, noise: Option<Corruption>, seed: u64) -> Self {
        Self {
            augment,
            noise: noise.map(Corruption::corrupter),
            seed,
        }
    }

    /// The test set corrupted by `noise` under [`TEST_SEED`] (a denoiser's measurement).
    pub fn test_noise(noise: Corruption) -> Self {
        Self::new(Augmentation::default(), Some(noise), TEST_SEED)
    }

    /// Whether the inputs differ from the clean images the model is measured against.
    pub fn corrupts(&self) -> bool {
        self.noise.is_some()
    }

    /// The images at `indices` (N×784) as the model should give them back (augmented),
    /// and as it sees them (augmented, then corrupted).
    pub fn apply(&self, set: &ImageSet, indices: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let mut clean = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        let mut warped = [0u8; IMAGE_PIXELS];
        for &index in indices {
            if self.augment.is_identity() {
                clean.extend_from_slice(set.image(index));
            } else {
                let mut rng = image_rng(self.seed ^ AUGMENT_SEED, index);
                self.augment.apply(set.image(index), &mut warped, &mut rng);
                clean.extend_from_slice(&warped);
            }
        }
        let mut input = clean.clone();
        if let Some(noise) = &self.noise {
            noise.apply_seeded(&mut input, indices, self.seed);
        }
        (clean, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn set() -> ImageSet {
        let pixels = (0..3 * IMAGE_PIXELS).map(|i| (i % 7 * 30) as u8).collect();
        ImageSet::new(pixels, vec![0, 1, 2]).unwrap()
    }

    #[test]
    fn each_image_is_changed_by_its_index_whatever_the_batch() {
        let perturbation = Perturbation::new(
            "shift:2,rotate:10".parse().unwrap(),
            Some("gaussian:0.3".parse().unwrap()),
            42,
        );
        let (clean, input) = perturbation.apply(&set(), &[0, 2]);
        let (clean_2, input_2) = perturbation.apply(&set(), &[2]);
        assert_eq!(&clean[IMAGE_PIXELS..], &clean_2[..]);
        assert_eq!(&input[IMAGE_PIXELS..], &input_2[..]);
        assert_ne!(clean, input);
        assert_ne!(&clean[..IMAGE_PIXELS], set().image(0));
        assert!(perturbation.corrupts());

        let none = Perturbation::new(Augmentation::default(), None, 42);
        let (clean, input) = none.apply(&set(), &[1]);
        assert_eq!((&clean[..], &input[..]), (set().image(1), set().image(1)));
        assert!(!none.corrupts());
    }
}
