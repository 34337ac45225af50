//! The matrix product of the models' dense layers, with its own choice of GPU kernel.
//!
//! burn's GPU matmul (cubek's tiled `SimpleUnit` routine without autotune) stages tiles in
//! workgroup memory behind barriers. On SwiftShader — Chromium's WebGPU where there is no GPU, a
//! CPU emulation — barriers are costly, and a 20 × 784 × 32 product took 25 ms where cubek's
//! per-element kernel (one invocation per output, no shared memory) takes 4 ms. So on SwiftShader
//! the dense layers use that kernel, forward and backward; everywhere else (real GPUs, lavapipe,
//! the CPU) burn's own matmul. docs/NOTES.md ("The matmul kernel") has the measurements.
//!
//! It is a burn backend extension: one op, `dense_matmul`, implemented for the CPU backend
//! (burn's matmul), the GPU backend (the choice above), autodiff (the usual matmul gradients,
//! through the same op) and, in the page's build, burn's kernel fusion (which runs it as one
//! opaque step between the element-wise chains it merges).

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::matmul::init_matmul_output;
use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
use cubek::matmul::launch::launch_ref;
use cubek::matmul::multi_level::Strategy as MultiLevel;
use cubek::matmul::strategy::Strategy;
use cubek::std::InputBinding;

/// Which GPU kernel the dense layers' products use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuMatmul {
    /// burn's own (tiled, shared memory).
    Burn,
    /// cubek's per-element kernel: one invocation per output, no shared memory or barriers.
    PerElement,
}

impl GpuMatmul {
    /// The kernel for a GPU adapter, from its description (name, vendor, architecture):
    /// per-element on SwiftShader, where it measured 2–3× faster per training step, else burn's.
    pub fn for_adapter(description: &str) -> Self {
        if description.to_lowercase().contains("swiftshader") {
            Self::PerElement
        } else {
            Self::Burn
        }
    }
}

/// The process's (or worker's) choice; it has one GPU device.
static PER_ELEMENT: AtomicBool = AtomicBool::new(false);

/// Sets the kernel for the GPU products from now on.
pub fn use_gpu_matmul(kernel: GpuMatmul) {
    PER_ELEMENT.store(kernel == GpuMatmul::PerElement, Ordering::Relaxed);
}

/// A dense layer, `x @ weight + bias`, with burn's `Linear` holding the parameters.
pub fn dense(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    let product = matmul(x, linear.weight.val());
    match &linear.bias {
        Some(bias) => product + bias.val().unsqueeze(),
        None => product,
    }
}

/// `lhs @ rhs` of two matrices, through the kernel chosen above on the GPU.
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as DenseMatmul>::dense_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}

/// The op. Its default body is the backend's own matmul.
#[backend_extension(Flex, Cube, Autodiff, Fusion: cfg(target_family = "wasm"))]
pub trait DenseMatmul: Backend {
    /// `[m, k] @ [k, n]` → `[m, n]`.
    #[fusion(dtype = lhs, shape = burn::tensor::Shape::new([lhs[0], rhs[1]]))]
    fn dense_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}

impl DenseMatmul for Flex {}

impl DenseMatmul for CubeBackend {
    fn dense_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        if !PER_ELEMENT.load(Ordering::Relaxed) {
            return Self::float_matmul(lhs, rhs);
        }
        let dtype = lhs.dtype;
        let out = init_matmul_output(&lhs, &rhs, dtype);
        let storage = dtype_to_storage_type(dtype);
        let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
            lhs: storage,
            rhs: storage,
            out: storage,
        });
        let launched = launch_ref(
            &Strategy::MultiLevel(MultiLevel::Naive),
            &out.client,
            InputBinding::new(lhs.clone().binding(), storage),
            InputBinding::new(rhs.clone().binding(), storage),
            out.clone().binding(),
            &mut dtypes,
        );
        match launched {
            Ok(()) => out,
            // A layout or type the kernel does not take: burn's matmul takes every one.
            Err(_) => Self::float_matmul(lhs, rhs),
        }
    }
}

impl<B: Backend + DenseMatmul, C: CheckpointStrategy> DenseMatmul for Autodiff<B, C> {
    fn dense_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        /// d(lhs) = grad @ rhsᵀ, d(rhs) = lhsᵀ @ grad, each through the same op.
        #[derive(Debug)]
        struct Matmul;

        impl<B: Backend + DenseMatmul> Backward<B, 2> for Matmul {
            type State = (Option<NodeId>, Option<NodeId>);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (lhs, rhs) = ops.state;
                let lhs: Option<B::FloatTensorPrimitive> =
                    lhs.map(|id| checkpointer.retrieve_node_output(id));
                let rhs: Option<B::FloatTensorPrimitive> =
                    rhs.map(|id| checkpointer.retrieve_node_output(id));
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::dense_matmul(grad, B::float_transpose(rhs.expect("rhs kept"))),
                    |grad| B::dense_matmul(B::float_transpose(lhs.expect("lhs kept")), grad),
                );
            }
        }

        let lhs_tracked = lhs.is_tracked();
        let rhs_tracked = rhs.is_tracked();
        match Matmul
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                // Each side's gradient needs the other side.
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                let out = B::dense_matmul(lhs.into_primitive(), rhs.into_primitive());
                prep.finish((lhs_state, rhs_state), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::dense_matmul(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swiftshader_alone_gets_the_per_element_kernel() {
        // The page's label (vendor / architecture / description) and wgpu's adapter names.
        for name in ["google / swiftshader / ", "SwiftShader Device (Subzero)"] {
            assert_eq!(
                GpuMatmul::for_adapter(name),
                GpuMatmul::PerElement,
                "{name}"
            );
        }
        for name in [
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "NVIDIA GeForce RTX 4090",
            "apple / metal-3 / ",
        ] {
            assert_eq!(GpuMatmul::for_adapter(name), GpuMatmul::Burn, "{name}");
        }
    }
}
