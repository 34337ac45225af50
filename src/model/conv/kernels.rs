//! Register-blocked 3 × 3 convolutions (stride 1, padding 1) for GPUs without fast workgroup
//! memory (SwiftShader), in the spirit of `matmul/blocked.rs`.
//!
//! burn's direct kernel computes one output value per invocation and loads an input and a weight
//! for each multiply-add. Here the forward pass computes 8 neighbouring pixels × 4 output channels
//! per invocation: per input channel and kernel row, 10 input values and 3 vectors of 4 weights
//! feed 96 multiply-adds. The weights' gradient slides a 3 × 3 window along bands of image rows:
//! per pixel, 3 new input values and 4 output gradients feed 36 multiply-adds, into partial sums
//! per band that one reduction adds up. The inputs' gradient is the forward kernel with the
//! weights turned and transposed (`conv.rs`). Both read a zero-padded copy of their input, so
//! their loops check no bounds; no workgroup memory, no barriers. docs/speed.md has the figures.

use burn::backend::cubecl::dtype_to_storage_type;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use cubecl::{calculate_cube_count_elemwise, prelude::Tensor};

use crate::model::matmul::blocked::{FOUR, Four, offsets};

/// Neighbouring pixels of a row per invocation of the convolution.
const PIXELS: usize = 8;
/// Image rows per invocation of the weights' gradient (one partial sum per band of rows).
const ROWS: usize = 4;
/// Invocations per workgroup.
const GROUP: u32 = 64;

/// `out[n, co, y, x] = Σ padded[n, ci, y + ky, x + kx] · columns[ci·9 + ky·3 + kx, co]`, for
/// `PIXELS` neighbouring pixels and four channels per invocation (`columns` read four at a time).
#[cube(launch_unchecked)]
fn conv3x3_kernel<F: Float, R: Size>(
    padded: &Tensor<F>,
    columns: &Tensor<Vector<F, R>>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let (images, c_out, height, width) = (out.shape(0), out.shape(1), out.shape(2), out.shape(3));
    let x_blocks = width.div_ceil(PIXELS);
    let c_blocks = c_out.div_ceil(FOUR);
    let pos = ABSOLUTE_POS;
    if pos >= x_blocks * c_blocks * height * images {
        terminate!();
    }
    let x0 = (pos % x_blocks) * PIXELS;
    let c_block = pos / x_blocks % c_blocks;
    let y = pos / (x_blocks * c_blocks) % height;
    let n = pos / (x_blocks * c_blocks * height);
    // Rows of `columns`, in vectors of four channels.
    let tap_step = c_blocks;
    let zero = Four::<F>::broadcast(F::new(0.0));
    // One sum per pixel (an array would live in memory on SwiftShader; variables stay in registers).
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    let (mut s4, mut s5, mut s6, mut s7) = (zero, zero, zero, zero);
    for ci in 0..padded.shape(1) {
        let plane = n * padded.stride(0) + ci * padded.stride(1) + x0;
        #[unroll]
        for ky in 0..3 {
            let row = plane + (y + ky) * padded.stride(2);
            let tap = (ci * 9 + ky * 3) * tap_step + c_block;
            let w0 = Four::<F>::cast_from(columns[tap]);
            let w1 = Four::<F>::cast_from(columns[tap + tap_step]);
            let w2 = Four::<F>::cast_from(columns[tap + 2 * tap_step]);
            let v0 = Four::<F>::broadcast(padded[row]);
            let v1 = Four::<F>::broadcast(padded[row + 1]);
            let v2 = Four::<F>::broadcast(padded[row + 2]);
            let v3 = Four::<F>::broadcast(padded[row + 3]);
            let v4 = Four::<F>::broadcast(padded[row + 4]);
            let v5 = Four::<F>::broadcast(padded[row + 5]);
            let v6 = Four::<F>::broadcast(padded[row + 6]);
            let v7 = Four::<F>::broadcast(padded[row + 7]);
            let v8 = Four::<F>::broadcast(padded[row + 8]);
            let v9 = Four::<F>::broadcast(padded[row + 9]);
            s0 += v0 * w0 + v1 * w1 + v2 * w2;
            s1 += v1 * w0 + v2 * w1 + v3 * w2;
            s2 += v2 * w0 + v3 * w1 + v4 * w2;
            s3 += v3 * w0 + v4 * w1 + v5 * w2;
            s4 += v4 * w0 + v5 * w1 + v6 * w2;
            s5 += v5 * w0 + v6 * w1 + v7 * w2;
            s6 += v6 * w0 + v7 * w1 + v8 * w2;
            s7 += v7 * w0 + v8 * w1 + v9 * w2;
        }
    }
    let base = n * out.stride(0) + y * out.stride(2);
    let co0 = c_block * FOUR;
    write_pixel(out, base, x0, co0, s0);
    write_pixel(out, base, x0 + 1, co0, s1);
    write_pixel(out, base, x0 + 2, co0, s2);
    write_pixel(out, base, x0 + 3, co0, s3);
    write_pixel(out, base, x0 + 4, co0, s4);
    write_pixel(out, base, x0 + 5, co0, s5);
    write_pixel(out, base, x0 + 6, co0, s6);
    write_pixel(out, base, x0 + 7, co0, s7);
}

/// Writes the four channels `co0..` of pixel `x` that fall inside the output.
#[cube]
fn write_pixel<F: Float>(out: &mut Tensor<F>, base: usize, x: usize, co0: usize, sums: Four<F>) {
    let (channel, column) = (out.stride(1), out.stride(3));
    if x < out.shape(3) {
        #[unroll]
        for j in 0..FOUR {
            if co0 + j < out.shape(1) {
                out[base + (co0 + j) * channel + x * column] = sums.extract(j);
            }
        }
    }
}

/// `input` `[n, c, h, w]` with a border of zeros: one row above and below, one column on the
/// left, and on the right up to a whole number of `PIXELS` blocks and one more. One invocation
/// per padded row (SwiftShader's integer divisions, to find an element's row, are costly).
#[cube(launch_unchecked)]
fn pad_kernel<F: Float>(input: &Tensor<F>, padded: &mut Tensor<F>, #[define(F)] _dtype: ElemType) {
    let (channels, rows, cols) = (padded.shape(1), padded.shape(2), padded.shape(3));
    let pos = ABSOLUTE_POS;
    if pos >= padded.shape(0) * channels * rows {
        terminate!();
    }
    let (height, width) = (input.shape(2), input.shape(3));
    let y = pos % rows;
    let c = pos / rows % channels;
    let n = pos / (rows * channels);
    let at = pos * cols;
    if y == 0 || y > height {
        for x in 0..cols {
            padded[at + x] = F::new(0.0);
        }
    } else {
        let from = n * input.stride(0) + c * input.stride(1) + (y - 1) * input.stride(2);
        padded[at] = F::new(0.0);
        for x in 0..width {
            padded[at + 1 + x] = input[from + x * input.stride(3)];
        }
        for x in width + 1..cols {
            padded[at + x] = F::new(0.0);
        }
    }
}

/// `partial[band, co, ci·9 + ky·3 + kx] = Σ grad[n, co, y, x] · padded[n, ci, y + ky, x + kx]`
/// over the rows `y` of one band of one image (`band = n · bands + y / ROWS`).
#[cube(launch_unchecked)]
fn weight_grad_kernel<F: Float>(
    padded: &Tensor<F>,
    grad: &Tensor<F>,
    partial: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let (images, c_out, height, width) =
        (grad.shape(0), grad.shape(1), grad.shape(2), grad.shape(3));
    let c_in = padded.shape(1);
    let c_blocks = c_out.div_ceil(FOUR);
    let bands = height.div_ceil(ROWS);
    let pos = ABSOLUTE_POS;
    if pos >= c_in * c_blocks * bands * images {
        terminate!();
    }
    let ci = pos % c_in;
    let co0 = (pos / c_in % c_blocks) * FOUR;
    let band = pos / (c_in * c_blocks) % bands;
    let n = pos / (c_in * c_blocks * bands);
    let plane = n * padded.stride(0) + ci * padded.stride(1);
    let g_plane = n * grad.stride(0);
    let g_channels = offsets(co0, c_out, grad.stride(1));
    let zero = Four::<F>::broadcast(F::new(0.0));
    // sum_{ky}{kx}: the gradient of the weights at kernel row ky, column kx, for 4 channels.
    let (mut sum00, mut sum01, mut sum02) = (zero, zero, zero);
    let (mut sum10, mut sum11, mut sum12) = (zero, zero, zero);
    let (mut sum20, mut sum21, mut sum22) = (zero, zero, zero);
    for r in 0..ROWS {
        let y = band * ROWS + r;
        if y < height {
            // Rows y - 1, y, y + 1 of the input: y, y + 1, y + 2 of the padded one.
            let row0 = plane + y * padded.stride(2);
            let row1 = row0 + padded.stride(2);
            let row2 = row1 + padded.stride(2);
            // The window's columns x - 1 (a), x (b) and x + 1 (c), one value per row.
            let (mut a0, mut a1, mut a2) = (padded[row0], padded[row1], padded[row2]);
            let (mut b0, mut b1, mut b2) = (padded[row0 + 1], padded[row1 + 1], padded[row2 + 1]);
            let g_row = g_plane + y * grad.stride(2);
            for x in 0..width {
                let (c0, c1, c2) = (
                    padded[row0 + x + 2],
                    padded[row1 + x + 2],
                    padded[row2 + x + 2],
                );
                let at = g_row + x * grad.stride(3);
                let mut g = Four::<F>::empty();
                g.insert(0usize, grad[at + g_channels.0]);
                g.insert(1usize, grad[at + g_channels.1]);
                g.insert(2usize, grad[at + g_channels.2]);
                g.insert(3usize, grad[at + g_channels.3]);
                sum00 += g * Four::<F>::broadcast(a0);
                sum01 += g * Four::<F>::broadcast(b0);
                sum02 += g * Four::<F>::broadcast(c0);
                sum10 += g * Four::<F>::broadcast(a1);
                sum11 += g * Four::<F>::broadcast(b1);
                sum12 += g * Four::<F>::broadcast(c1);
                sum20 += g * Four::<F>::broadcast(a2);
                sum21 += g * Four::<F>::broadcast(b2);
                sum22 += g * Four::<F>::broadcast(c2);
                a0 = b0;
                a1 = b1;
                a2 = b2;
                b0 = c0;
                b1 = c1;
                b2 = c2;
            }
        }
    }
    let base = (n * bands + band) * partial.stride(0) + ci * 9 * partial.stride(2);
    let tap = partial.stride(2);
    write_taps(partial, base, co0, sum00, sum01, sum02);
    write_taps(partial, base + 3 * tap, co0, sum10, sum11, sum12);
    write_taps(partial, base + 6 * tap, co0, sum20, sum21, sum22);
}

/// Writes three neighbouring taps for the channels `co0..` that exist.
#[cube]
fn write_taps<F: Float>(
    partial: &mut Tensor<F>,
    base: usize,
    co0: usize,
    kx0: Four<F>,
    kx1: Four<F>,
    kx2: Four<F>,
) {
    let tap = partial.stride(2);
    #[unroll]
    for j in 0..FOUR {
        if co0 + j < partial.shape(1) {
            let at = base + (co0 + j) * partial.stride(1);
            partial[at] = kx0.extract(j);
            partial[at + tap] = kx1.extract(j);
            partial[at + 2 * tap] = kx2.extract(j);
        }
    }
}

/// `input` with the zero border the kernels read instead of checking their bounds.
fn pad(input: CubeTensor) -> CubeTensor {
    let [images, channels, height, width] = input.meta.shape().dims();
    let dtype = input.dtype;
    let padded = empty_device_dtype(
        input.client.clone(),
        input.device.clone(),
        [
            images,
            channels,
            height + 2,
            width.next_multiple_of(PIXELS) + 2,
        ]
        .into(),
        dtype,
    );
    let client = padded.client.clone();
    let cube_dim = CubeDim::new_1d(GROUP);
    let rows = images * channels * (height + 2);
    // Safety: rows inside the input are read within its width, and each invocation writes one
    // row of the padded tensor (contiguous, `cols` wide).
    unsafe {
        pad_kernel::launch_unchecked(
            &client,
            calculate_cube_count_elemwise(&client, rows, cube_dim),
            cube_dim,
            input.into_tensor_arg(),
            padded.clone().into_tensor_arg(),
            dtype_to_storage_type(dtype),
        );
    }
    padded
}

/// The forward convolution of `input` `[n, c_in, h, w]` with `columns` `[c_in·9, c_out]` (the
/// weights laid out as the rows of an im2col product, contiguous, `c_out` a multiple of four)
/// into a new `[n, c_out, h, w]` (the first `channels` of `columns`' columns).
pub fn conv3x3(input: CubeTensor, columns: CubeTensor, channels: usize) -> CubeTensor {
    let [images, _, height, width] = input.meta.shape().dims();
    let dtype = input.dtype;
    let out = empty_device_dtype(
        input.client.clone(),
        input.device.clone(),
        [images, channels, height, width].into(),
        dtype,
    );
    let invocations = width.div_ceil(PIXELS) * channels.div_ceil(FOUR) * height * images;
    let padded = pad(input);
    let client = out.client.clone();
    let cube_dim = CubeDim::new_1d(GROUP);
    // Safety: the padded input holds every pixel a block reads, `columns` every row and four
    // channels per block, and every write is checked against the output.
    unsafe {
        conv3x3_kernel::launch_unchecked(
            &client,
            calculate_cube_count_elemwise(&client, invocations, cube_dim),
            cube_dim,
            FOUR,
            padded.into_tensor_arg(),
            columns.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype_to_storage_type(dtype),
        );
    }
    out
}

/// Partial sums of the weights' gradient, `[bands, c_out, c_in·9]`, one per band of `ROWS`
/// image rows; their sum over the first axis is the gradient.
pub fn weight_grad_partials(input: CubeTensor, grad: CubeTensor) -> CubeTensor {
    let [images, c_in, height, _] = input.meta.shape().dims();
    let c_out = grad.meta.shape()[1];
    let bands = height.div_ceil(ROWS);
    let dtype = input.dtype;
    let partial = empty_device_dtype(
        input.client.clone(),
        input.device.clone(),
        [images * bands, c_out, c_in * 9].into(),
        dtype,
    );
    let invocations = c_in * c_out.div_ceil(FOUR) * bands * images;
    let padded = pad(input);
    let client = partial.client.clone();
    let cube_dim = CubeDim::new_1d(GROUP);
    // Safety: the padded input holds every pixel read, gradient reads are clamped to its
    // channels, and every write is checked against the output.
    unsafe {
        weight_grad_kernel::launch_unchecked(
            &client,
            calculate_cube_count_elemwise(&client, invocations, cube_dim),
            cube_dim,
            padded.into_tensor_arg(),
            grad.into_tensor_arg(),
            partial.clone().into_tensor_arg(),
            dtype_to_storage_type(dtype),
        );
    }
    partial
}
