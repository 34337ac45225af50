//! Data: the IDX reader and MNIST in memory (split, batches).

pub mod idx;
pub mod mnist;
pub mod sketch;

pub use idx::{IMAGE_PIXELS, IMAGE_SIDE, IdxError};
pub use mnist::{FILE_NAMES, ImageSet, Mnist, Split, images_tensor};
