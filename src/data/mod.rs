//! Data: the dataset catalog, the IDX reader and image sets in memory (split, batches).
//! The bottom layer: nothing here knows about models or training.

pub mod augmentation;
pub mod corruption;
pub mod dataset;
pub mod idx;
pub mod images;
pub mod perturbation;
pub mod sketch;
pub mod upload;

pub use augmentation::Augmentation;
pub use corruption::{Corrupter, Corruption};
pub use dataset::{Catalog, Dataset, DatasetError};
pub use idx::{IMAGE_PIXELS, IMAGE_SIDE, IdxError, Inflater, MAX_INFLATED_BYTES};
pub use images::{ImageSet, LoadError, Split, TrainTest, VALIDATION_FRACTION, images_tensor, unit};
pub use perturbation::Perturbation;
