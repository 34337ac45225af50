//! Data: the IDX reader and MNIST in memory (split, batches).

pub mod idx;
pub mod mnist;
pub mod sketch;

pub use idx::{IMAGE_PIXELS, IMAGE_SIDE, IdxError, Inflater, MAX_INFLATED_BYTES};
pub use mnist::{FILE_NAMES, ImageSet, Mnist, Split, images_tensor};
