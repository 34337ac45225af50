//! The training set kept on a GPU as bytes, with each batch gathered there.
//!
//! A batch made on the host is an upload of four bytes per pixel at every step (200 KB at batch
//! 64). Here the whole training set goes to the device once, as its bytes (47 MB for MNIST's
//! 60,000 images), and a step sends only its batch's image indices; one kernel gathers the
//! images and turns the pixels into [0, 1] through the same 256-entry table as the host
//! (`data::images::unit`), so a batch holds exactly the host's values. WGSL has no 8-bit storage:
//! four pixels travel in one 32-bit word, which is what the bytes already are, read
//! little-endian.
//!
//! It is a burn backend extension with one op, `gather_images`: on the GPU our kernel; its
//! default body (burn's own tensor ops, several kernels) serves the CPU backend, where the
//! trainer keeps making batches on the host.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Device, Int, Shape, Tensor, TensorData};
use burn_cubecl::CubeBackend;
use burn_cubecl::ops::numeric::empty_device_dtype;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::CubeDim;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, ImageSet, unit};

/// 32-bit words per image, four pixels each.
const WORDS: usize = IMAGE_PIXELS / 4;

/// A set of images on one device, as 32-bit words of four pixels.
pub struct DeviceImages {
    /// `[images · WORDS]`; pixel `4w + k` of an image is byte `k` of its word `w`.
    words: Tensor<1, Int>,
    /// `p / 255` for every pixel value `p`.
    units: Tensor<1>,
}

impl DeviceImages {
    /// Uploads `images` to `device`, once.
    pub fn new(images: &ImageSet, device: &Device) -> Self {
        let pixels = images.pixels().to_vec();
        let words = pixels.len() / 4;
        let units: Vec<f32> = (0..=u8::MAX).map(unit).collect();
        Self {
            words: Tensor::from_data(
                TensorData::from_bytes_vec(pixels, [words], DType::I32),
                device,
            ),
            units: Tensor::from_data(TensorData::new(units, [256]), device),
        }
    }

    /// The images at `indices` as a `[n, 1, 28, 28]` tensor with values in [0, 1], as
    /// [`ImageSet::batch`] makes them on the host.
    pub fn batch(&self, indices: &[usize]) -> Tensor<4> {
        let device = self.units.device();
        let indices: Vec<i32> = indices
            .iter()
            .map(|&i| i32::try_from(i).expect("an image index fits 32 bits"))
            .collect();
        let count = indices.len();
        let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [count]), &device);
        let gathered: Tensor<2> = Tensor::from_dispatch(<Dispatch as GatherImages>::gather_images(
            self.words.clone().into_dispatch(),
            indices.into_dispatch(),
            self.units.clone().into_dispatch(),
        ));
        gathered.reshape([count, 1, IMAGE_SIDE, IMAGE_SIDE])
    }
}

/// The op. Its default body is burn's own tensor ops.
#[backend_extension(Flex, Cube, Fusion: cfg(target_family = "wasm"))]
pub trait GatherImages: Backend {
    /// The images `indices` of `words` (`[images · WORDS]`) as `[n, 784]` values, each pixel
    /// `p` as `units[p]`.
    #[fusion(dtype = units, shape = Shape::new([indices[0], IMAGE_PIXELS]))]
    fn gather_images(
        words: IntTensor<Self>,
        indices: IntTensor<Self>,
        units: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let images = words.shape()[0] / WORDS;
        let count = indices.shape()[0];
        let rows = Self::int_select(
            Self::int_reshape(words, Shape::new([images, WORDS])),
            0,
            indices,
        );
        // Byte k of every word, side by side: [count, WORDS, 4].
        let bytes = (0..4)
            .map(|k| {
                let byte = Self::bitwise_and_scalar(
                    Self::bitwise_right_shift_scalar(rows.clone(), (8 * k).into()),
                    0xff.into(),
                );
                Self::int_reshape(byte, Shape::new([count, WORDS, 1]))
            })
            .collect();
        let pixels = Self::int_reshape(Self::int_cat(bytes, 2), Shape::new([count * IMAGE_PIXELS]));
        Self::float_reshape(
            Self::float_select(units, 0, pixels),
            Shape::new([count, IMAGE_PIXELS]),
        )
    }
}

impl GatherImages for Flex {}

impl GatherImages for CubeBackend {
    fn gather_images(
        words: IntTensor<Self>,
        indices: IntTensor<Self>,
        units: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let count = indices.meta.shape()[0];
        let out = empty_device_dtype(
            units.client.clone(),
            units.device.clone(),
            Shape::new([count, IMAGE_PIXELS]),
            units.dtype,
        );
        let client = out.client.clone();
        let invocations = count * WORDS;
        let cube_dim = CubeDim::new_1d(64);
        let dtypes = [
            dtype_to_storage_type(units.dtype),
            dtype_to_storage_type(words.dtype),
        ];
        // Safety: the indices are those of the images uploaded (`DeviceImages::batch`), each
        // invocation reads one word of one, and writes its four pixels inside the output.
        unsafe {
            kernel::gather::launch_unchecked(
                &client,
                calculate_cube_count_elemwise(&client, invocations, cube_dim),
                cube_dim,
                words.into_tensor_arg(),
                indices.into_tensor_arg(),
                units.into_tensor_arg(),
                out.clone().into_tensor_arg(),
                dtypes,
            );
        }
        out
    }
}

/// The kernel, apart: cubecl's prelude has its own `Tensor` and `Int`.
mod kernel {
    use cubecl::prelude::*;

    use super::WORDS;

    /// One word of one image of the batch: its four pixels through the table.
    #[cube(launch_unchecked)]
    pub fn gather<F: Float, I: Int>(
        words: &Tensor<I>,
        indices: &Tensor<I>,
        units: &Tensor<F>,
        out: &mut Tensor<F>,
        #[define(F, I)] _dtypes: [ElemType; 2],
    ) {
        if ABSOLUTE_POS >= indices.shape(0) * WORDS {
            terminate!();
        }
        let image = usize::cast_from(indices[ABSOLUTE_POS / WORDS]);
        let word = u32::cast_from(words[image * WORDS + ABSOLUTE_POS % WORDS]);
        let at = ABSOLUTE_POS * 4;
        out[at] = units[usize::cast_from(word & 0xff)];
        out[at + 1] = units[usize::cast_from((word >> 8) & 0xff)];
        out[at + 2] = units[usize::cast_from((word >> 16) & 0xff)];
        out[at + 3] = units[usize::cast_from(word >> 24)];
    }
}
