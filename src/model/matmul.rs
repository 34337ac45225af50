//! The matrix product of the models' dense layers, with its own choice of GPU kernel.
//!
//! burn's GPU matmul (cubek's tiled `SimpleUnit` routine without autotune) stages tiles in
//! workgroup memory behind barriers. On SwiftShader — Chromium's WebGPU where there is no GPU, a
//! CPU emulation — barriers are costly: a 20 × 784 × 32 product took 25 ms, cubek's per-element
//! kernel 4 ms, and our register-blocked one (`matmul/blocked.rs`) takes about 40 % less than
//! that. So on SwiftShader the dense layers use ours, forward and backward; everywhere else (real
//! GPUs, lavapipe, the CPU) burn's own matmul. docs/speed.md ("The matmul kernel", "Our matmul
//! kernel") has the measurements.
//!
//! It is a burn backend extension: one op, `dense_matmul`, implemented for the CPU backend
//! (burn's matmul), the GPU backend (the choice above), autodiff (the usual matmul gradients,
//! through the same op) and, in the page's build, burn's kernel fusion (which runs it as one
//! opaque step between the element-wise chains it merges).

pub(super) mod blocked;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn_cubecl::CubeBackend;

/// Which GPU kernel the dense layers' products use (the conv models' 3 × 3 convolutions follow
/// the same choice, `conv.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuMatmul {
    /// burn's own (tiled, shared memory).
    Burn,
    /// Ours (`matmul/blocked.rs`): 8 × 8 outputs per invocation, no shared memory or barriers.
    Blocked,
}

impl GpuMatmul {
    /// The kernel for a GPU adapter, from its description (name, vendor, architecture):
    /// ours on SwiftShader, where natively it trains 3.5–4.5× faster than burn's (docs/speed.md),
    /// else burn's.
    pub fn for_adapter(description: &str) -> Self {
        if description.to_lowercase().contains("swiftshader") {
            Self::Blocked
        } else {
            Self::Burn
        }
    }
}

/// The process's (or worker's) choice; it has one GPU device.
static BLOCKED: AtomicBool = AtomicBool::new(false);

/// Sets the kernel for the GPU products from now on.
pub fn use_gpu_matmul(kernel: GpuMatmul) {
    BLOCKED.store(kernel == GpuMatmul::Blocked, Ordering::Relaxed);
}

/// Whether the GPU runs our kernels rather than burn's (the convolutions follow the same choice).
pub(super) fn ours_on_gpu() -> bool {
    BLOCKED.load(Ordering::Relaxed)
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
        if ours_on_gpu() {
            blocked::blocked_matmul(lhs, rhs)
        } else {
            Self::float_matmul(lhs, rhs)
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
    fn swiftshader_alone_gets_the_blocked_kernel() {
        // The page's label (vendor / architecture / description) and wgpu's adapter names.
        for name in ["google / swiftshader / ", "SwiftShader Device (Subzero)"] {
            assert_eq!(GpuMatmul::for_adapter(name), GpuMatmul::Blocked, "{name}");
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
