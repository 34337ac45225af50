//! The conv models' 3 × 3 convolutions (stride 1, padding 1), with their own GPU kernels on
//! SwiftShader.
//!
//! burn's direct convolution computes one output value per invocation; on SwiftShader it ran
//! `upsample`'s convolutions at about 0.17 GMAC/s, three quarters of a training step's kernel time
//! (docs/speed.md). Where the dense layers use our matmul kernel (the same choice,
//! [`super::matmul::GpuMatmul`]), these layers use ours (`conv/kernels.rs`), forward and backward;
//! elsewhere burn's own convolution and its gradients.
//!
//! Like the dense layers' product it is a burn backend extension with three ops (the convolution
//! and its two gradients), for the CPU backend, the GPU backend, autodiff and kernel fusion.

mod kernels;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Shape, Tensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;

use super::matmul::ours_on_gpu;

/// A `Conv2d` layer of 3 × 3 kernels, stride 1 and padding 1, applied to `x` `[n, c_in, h, w]`.
pub fn conv3x3(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let out = same_conv3x3(x, conv.weight.val());
    match &conv.bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            out + bias.val().reshape([1, channels, 1, 1])
        }
        None => out,
    }
}

/// `x` `[n, c_in, h, w]` ⊛ `weight` `[c_out, c_in, 3, 3]`, stride 1, padding 1, no bias, through
/// the kernels chosen above on the GPU.
pub fn same_conv3x3(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as SameConv3x3>::conv3x3(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// burn's options for the same convolution.
fn options() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], 1)
}

/// The ops. Their default bodies are the backend's own convolution and gradients.
#[backend_extension(Flex, Cube, Autodiff, Fusion: cfg(target_family = "wasm"))]
pub trait SameConv3x3: Backend {
    /// `x` `[n, c_in, h, w]` ⊛ `weight` `[c_out, c_in, 3, 3]` → `[n, c_out, h, w]`.
    #[fusion(dtype = x, shape = Shape::new([x[0], weight[0], x[2], x[3]]))]
    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options())
    }

    /// The gradient of `x` from the output's gradient `grad`.
    #[fusion(dtype = x, shape = Shape::new([x[0], x[1], x[2], x[3]]))]
    fn conv3x3_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, grad, options())
    }

    /// The gradient of `weight` from the output's gradient `grad`.
    #[fusion(dtype = x, shape = Shape::new([weight[0], weight[1], weight[2], weight[3]]))]
    fn conv3x3_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, grad, options())
    }
}

impl SameConv3x3 for Flex {}

impl SameConv3x3 for CubeBackend {
    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        if !ours_on_gpu() {
            return Self::conv2d(x, weight, None, options());
        }
        // [c_out, c_in, 3, 3] → [c_in·9, c_out]: the rows of an im2col product.
        let [c_out, c_in, _, _] = weight.meta.shape().dims();
        let columns = Self::float_reshape(
            Self::float_permute(weight, &[1, 2, 3, 0]),
            Shape::new([c_in * 9, c_out]),
        );
        kernels::conv3x3(x, whole_fours(columns), c_out)
    }

    fn conv3x3_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        if !ours_on_gpu() {
            return Self::conv2d_x_backward(x, weight, grad, options());
        }
        // The same convolution from the output's channels back to the input's, with each
        // kernel turned by 180°: [c_out, c_in, 3, 3] → [c_out·9, c_in].
        let [c_out, c_in, _, _] = weight.meta.shape().dims();
        let turned = Self::float_flip(weight, &[2, 3]);
        let columns = Self::float_reshape(
            Self::float_permute(turned, &[0, 2, 3, 1]),
            Shape::new([c_out * 9, c_in]),
        );
        kernels::conv3x3(grad, whole_fours(columns), c_in)
    }

    fn conv3x3_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        if !ours_on_gpu() {
            return Self::conv2d_weight_backward(x, weight, grad, options());
        }
        let shape = weight.meta.shape().clone();
        let partials = kernels::weight_grad_partials(x, grad);
        Self::float_reshape(Self::float_sum_dim(partials, 0), shape)
    }
}

/// `columns` `[rows, c]` with zero columns up to a multiple of four (the kernel reads four
/// channels at a time), contiguous.
fn whole_fours(columns: FloatTensor<CubeBackend>) -> FloatTensor<CubeBackend> {
    let [rows, channels] = columns.meta.shape().dims();
    if channels.is_multiple_of(4) {
        return into_contiguous(columns);
    }
    let zeros = CubeBackend::float_zeros(
        Shape::new([rows, channels.next_multiple_of(4) - channels]),
        &columns.device,
        columns.dtype.into(),
    );
    CubeBackend::float_cat(vec![columns, zeros], 1)
}

impl<B: Backend + SameConv3x3, C: CheckpointStrategy> SameConv3x3 for Autodiff<B, C> {
    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        /// d(x) and d(weight), each through the ops above; both need `x` and `weight`.
        #[derive(Debug)]
        struct Conv3x3;

        impl<B: Backend + SameConv3x3> Backward<B, 2> for Conv3x3 {
            type State = (NodeId, NodeId);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (x, weight) = ops.state;
                let x: B::FloatTensorPrimitive = checkpointer.retrieve_node_output(x);
                let weight: B::FloatTensorPrimitive = checkpointer.retrieve_node_output(weight);
                let (x_for_w, weight_for_w) = (x.clone(), weight.clone());
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::conv3x3_x_grad(x, weight, grad),
                    |grad| B::conv3x3_weight_grad(x_for_w, weight_for_w, grad),
                );
            }
        }

        match Conv3x3
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let out = B::conv3x3(x.into_primitive(), weight.into_primitive());
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::conv3x3(x.into_primitive(), weight.into_primitive()))
            }
        }
    }
}
