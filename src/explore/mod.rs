//! Looking inside a trained model: its codes laid out on a plane, how well the codes keep
//! the classes apart, what lies between two codes, new codes like those of real digits, and
//! the decodes of a grid over the code space.

pub mod interpolate;
pub mod manifold;
pub mod neighbours;
pub mod plane;
pub mod sampling;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::data::{ImageSet, images_tensor};
use crate::model::{Model, ReadError, read_values};

pub use neighbours::knn_accuracy;
pub use plane::Plane;

/// The codes of the images at `indices` of `set` (`indices.len() × code size`, row-major),
/// encoded 500 at a time.
pub async fn codes(
    model: &Model,
    set: &ImageSet,
    indices: &[usize],
    device: &Device,
) -> Result<Vec<f32>, ReadError> {
    let model = model.valid();
    let mut codes = Vec::new();
    for chunk in indices.chunks(500) {
        let code = model.encode(images_tensor(set.values(chunk), device));
        codes.extend(read_values(code).await?);
    }
    Ok(codes)
}

/// The decodes of `codes` (`n × dim`, row-major) by `model`, on its device, read back
/// (`n × 784` values).
pub async fn decodes(model: &Model, codes: Vec<f32>, dim: usize) -> Result<Vec<f32>, ReadError> {
    let n = codes.len() / dim;
    let codes = Tensor::<2>::from_data(TensorData::new(codes, [n, dim]), &model.device());
    read_values(model.decode(codes)).await
}
