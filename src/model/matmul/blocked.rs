//! A register-blocked matrix product for GPUs without fast workgroup memory (SwiftShader).
//!
//! Each invocation computes a block of 8 rows × 8 columns of the output from its own loads: per
//! step along the shared dimension, 8 values of `lhs` and 8 of `rhs` (two loads where `rhs`'s
//! rows are contiguous) feed 64 multiply-adds, where a per-element kernel loads two values per
//! multiply-add. SwiftShader turns every load of a value that differs between invocations into
//! one load per SIMD lane (a gather), however regular the addresses, so multiply-adds per load
//! are what counts. No workgroup memory and no barriers (SwiftShader emulates both at great
//! cost), and the operands are read through their strides, so the transposed views of the
//! backward pass need no copies. On SwiftShader it trains `ffnn` about 1.5× and `deep` about 2×
//! faster than cubek's per-element kernel (docs/speed.md, "Our matmul kernel"); 8 rows instead of
//! 4 made the page's `deep` another 20–40 % faster (docs/speed.md, "Session 16").

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::matmul::init_matmul_output;
use cubecl::prelude::*;

/// The width of each of an invocation's two column halves (and of a vector of `rhs`).
pub(in crate::model) const FOUR: usize = 4;
/// Columns of the output one invocation computes.
const COLUMNS: usize = 2 * FOUR;
/// Rows of the output one invocation computes.
const ROWS: usize = 8;
/// Invocations per workgroup along the output's columns and rows.
const GROUP: (u32, u32) = (8, 4);

/// Four values side by side: four columns of a block row's sums, or of a row of `rhs`.
pub(in crate::model) type Four<F> = Vector<F, Const<4>>;

#[cube(launch_unchecked)]
fn blocked_matmul_kernel<F: Float, R: Size>(
    lhs: &Tensor<F>,
    rhs: &Tensor<Vector<F, R>>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let rows = out.shape(0);
    let cols = out.shape(1);
    let depth = lhs.shape(1);
    let row0 = ABSOLUTE_POS_Y as usize * ROWS;
    let col0 = ABSOLUTE_POS_X as usize * COLUMNS;
    if row0 >= rows || col0 >= cols {
        terminate!();
    }
    let (lhs_row, lhs_step) = (lhs.stride(0), lhs.stride(1));
    let (rhs_step, rhs_col) = (rhs.stride(0), rhs.stride(1));
    // Past the edge a block reads the last row or column again; those sums are not written.
    let a0 = offset(row0, rows, lhs_row);
    let a1 = offset(row0 + 1, rows, lhs_row);
    let a2 = offset(row0 + 2, rows, lhs_row);
    let a3 = offset(row0 + 3, rows, lhs_row);
    let a4 = offset(row0 + 4, rows, lhs_row);
    let a5 = offset(row0 + 5, rows, lhs_row);
    let a6 = offset(row0 + 6, rows, lhs_row);
    let a7 = offset(row0 + 7, rows, lhs_row);
    let left = offsets(col0, cols, rhs_col);
    let right = offsets(col0 + FOUR, cols, rhs_col);
    // Per block row, the sums of its left and right four columns.
    let zero = Four::<F>::broadcast(F::new(0.0));
    let (mut left0, mut right0) = (zero, zero);
    let (mut left1, mut right1) = (zero, zero);
    let (mut left2, mut right2) = (zero, zero);
    let (mut left3, mut right3) = (zero, zero);
    let (mut left4, mut right4) = (zero, zero);
    let (mut left5, mut right5) = (zero, zero);
    let (mut left6, mut right6) = (zero, zero);
    let (mut left7, mut right7) = (zero, zero);
    for step in 0..depth {
        let at = step * lhs_step;
        let x0 = Four::<F>::broadcast(lhs[at + a0]);
        let x1 = Four::<F>::broadcast(lhs[at + a1]);
        let x2 = Four::<F>::broadcast(lhs[at + a2]);
        let x3 = Four::<F>::broadcast(lhs[at + a3]);
        let x4 = Four::<F>::broadcast(lhs[at + a4]);
        let x5 = Four::<F>::broadcast(lhs[at + a5]);
        let x6 = Four::<F>::broadcast(lhs[at + a6]);
        let x7 = Four::<F>::broadcast(lhs[at + a7]);
        let b = rhs_four(rhs, step * rhs_step, left);
        left0 += x0 * b;
        left1 += x1 * b;
        left2 += x2 * b;
        left3 += x3 * b;
        left4 += x4 * b;
        left5 += x5 * b;
        left6 += x6 * b;
        left7 += x7 * b;
        let b = rhs_four(rhs, step * rhs_step, right);
        right0 += x0 * b;
        right1 += x1 * b;
        right2 += x2 * b;
        right3 += x3 * b;
        right4 += x4 * b;
        right5 += x5 * b;
        right6 += x6 * b;
        right7 += x7 * b;
    }
    write_four(out, row0, col0, left0);
    write_four(out, row0 + 1, col0, left1);
    write_four(out, row0 + 2, col0, left2);
    write_four(out, row0 + 3, col0, left3);
    write_four(out, row0 + 4, col0, left4);
    write_four(out, row0 + 5, col0, left5);
    write_four(out, row0 + 6, col0, left6);
    write_four(out, row0 + 7, col0, left7);
    write_four(out, row0, col0 + FOUR, right0);
    write_four(out, row0 + 1, col0 + FOUR, right1);
    write_four(out, row0 + 2, col0 + FOUR, right2);
    write_four(out, row0 + 3, col0 + FOUR, right3);
    write_four(out, row0 + 4, col0 + FOUR, right4);
    write_four(out, row0 + 5, col0 + FOUR, right5);
    write_four(out, row0 + 6, col0 + FOUR, right6);
    write_four(out, row0 + 7, col0 + FOUR, right7);
}

/// The offset of row or column `index` of `len`, clamped to the last one.
#[cube]
fn offset(index: usize, len: usize, stride: usize) -> usize {
    index.min(len - 1) * stride
}

/// The offsets of four columns from `first` on, clamped to the last one.
#[cube]
pub(in crate::model) fn offsets(
    first: usize,
    len: usize,
    stride: usize,
) -> (usize, usize, usize, usize) {
    (
        offset(first, len, stride),
        offset(first + 1, len, stride),
        offset(first + 2, len, stride),
        offset(first + 3, len, stride),
    )
}

/// Four columns of one row of `rhs`, at the offsets `cols` from `at`: one load where the rows
/// are read four values at a time, else four.
#[cube]
pub(in crate::model) fn rhs_four<F: Float, R: Size>(
    rhs: &Tensor<Vector<F, R>>,
    at: usize,
    cols: (usize, usize, usize, usize),
) -> Four<F> {
    let mut four = Four::<F>::empty();
    let vector = rhs.vector_size();
    if comptime![vector == FOUR] {
        four = Four::<F>::cast_from(rhs[(at + cols.0) / FOUR]);
    } else {
        four.insert(0usize, rhs[at + cols.0].extract(0usize));
        four.insert(1usize, rhs[at + cols.1].extract(0usize));
        four.insert(2usize, rhs[at + cols.2].extract(0usize));
        four.insert(3usize, rhs[at + cols.3].extract(0usize));
    }
    four
}

/// Writes the columns of four sums that fall inside the output.
#[cube]
fn write_four<F: Float>(out: &mut Tensor<F>, row: usize, col0: usize, sums: Four<F>) {
    if row < out.shape(0) {
        let at = row * out.stride(0);
        let (cols, col_stride) = (out.shape(1), out.stride(1));
        #[unroll]
        for j in 0..FOUR {
            if col0 + j < cols {
                out[at + (col0 + j) * col_stride] = sums.extract(j);
            }
        }
    }
}

/// `lhs @ rhs` of two matrices (any strides) into a new contiguous matrix.
pub fn blocked_matmul(
    lhs: FloatTensor<CubeBackend>,
    rhs: FloatTensor<CubeBackend>,
) -> FloatTensor<CubeBackend> {
    let dtype = lhs.dtype;
    let out = init_matmul_output(&lhs, &rhs, dtype);
    let (rows, cols) = (out.meta.shape()[0], out.meta.shape()[1]);
    let groups = |len: usize, per_invocation: usize, per_group: u32| {
        len.div_ceil(per_invocation).div_ceil(per_group as usize) as u32
    };
    let cube_count = CubeCount::Static(
        groups(cols, COLUMNS, GROUP.0),
        groups(rows, ROWS, GROUP.1),
        1,
    );
    // The rows of `rhs` are read four values at a time where they are contiguous and whole.
    let rhs_strides = rhs.meta.strides();
    let rhs_vector = if rhs_strides[1] == 1
        && rhs_strides[0].is_multiple_of(FOUR)
        && cols.is_multiple_of(FOUR)
    {
        FOUR
    } else {
        1
    };
    let client = out.client.clone();
    // Safety: every read is clamped into the operands and every write checked against the output.
    unsafe {
        blocked_matmul_kernel::launch_unchecked(
            &client,
            cube_count,
            CubeDim::new_2d(GROUP.0, GROUP.1),
            rhs_vector,
            lhs.into_tensor_arg(),
            rhs.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype_to_storage_type(dtype),
        );
    }
    out
}
