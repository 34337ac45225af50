//! The decoders' output activation, the sigmoid, keeping its output for the backward pass and,
//! on the CPU, computed in SIMD.
//!
//! burn's autodiff keeps the sigmoid's input and evaluates it again in the backward pass
//! (`burn-autodiff` `ops/activation.rs`, "memory bound"), and burn-flex evaluates it one value at
//! a time with the scalar `expf` (in wasm, Rust's software libm). In the page's CPU worker that
//! was a third of an `ffnn` training step at batch 64 (V8's profile, docs/speed.md). Here the
//! gradient is `grad · s · (1 − s)` from the kept output `s`, and on the CPU the forward pass
//! runs eight values at a time (`wide`'s vectors, Cephes' `expf`). On the GPU it is burn's own
//! sigmoid, which burn's fusion merges into the decoder's element-wise chain (the same ops through
//! this extension made no difference there: docs/speed.md).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Device, Tensor};
use wide::bytemuck::cast;
use wide::{f32x8, i32x8};

/// `1 / (1 + e^−x)`, element-wise: ours on the CPU, burn's on the GPU.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.device().inner() == Device::flex() {
        Tensor::from_dispatch(<Dispatch as OutputSigmoid>::output_sigmoid(
            x.into_dispatch(),
        ))
    } else {
        burn::tensor::activation::sigmoid(x)
    }
}

/// The op and its gradient, for the CPU (the op's default body is burn's sigmoid, the
/// gradient's burn-flex's one pass).
#[backend_extension(Flex, Autodiff)]
pub trait OutputSigmoid: Backend {
    /// `1 / (1 + e^−x)`.
    fn output_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::sigmoid(x)
    }

    /// `grad · s · (1 − s)`, from the op's output `s`.
    fn output_sigmoid_grad(
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::sigmoid_backward(output, grad)
    }
}

impl OutputSigmoid for Flex {
    fn output_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let elements = x.layout().num_elements();
        let mut out = x.to_contiguous();
        drop(x); // so that `out` usually owns its values and is overwritten in place
        let whole = out.layout().contiguous_offsets() == Some((0, elements))
            && out.bytes().len() == elements * size_of::<f32>();
        if out.dtype() != DType::F32 || !whole {
            return Self::sigmoid(out);
        }
        sigmoid_in_place(out.storage_mut::<f32>());
        out
    }
}

/// `values[i] ← 1 / (1 + e^−values[i])`, eight at a time.
fn sigmoid_in_place(values: &mut [f32]) {
    // Whole arrays of eight, so that loads and stores have a fixed size (a slice's copy is a call
    // to memmove in wasm).
    let (whole, rest) = values.as_chunks_mut::<8>();
    for lanes in whole {
        *lanes = sigmoid8(f32x8::new(*lanes)).to_array();
    }
    if !rest.is_empty() {
        let mut lanes = [0.0; 8];
        lanes[..rest.len()].copy_from_slice(rest);
        let s = sigmoid8(f32x8::new(lanes)).to_array();
        rest.copy_from_slice(&s[..rest.len()]);
    }
}

// The constants below are `const`: a `splat` evaluated at run time fills its lanes in a loop at
// the page's opt-level ("s"), which made this function about three times slower in wasm.
const LIMIT: f32x8 = f32x8::splat(87.0);
const LOG2_E: f32x8 = f32x8::splat(std::f32::consts::LOG2_E);
/// ln 2 in two parts, so that `n · LN2_HI` is exact (Cody and Waite).
const LN2_HI: f32x8 = f32x8::splat(0.693_359_4);
const LN2_LO: f32x8 = f32x8::splat(-2.121_944_4e-4);
/// Cephes' `expf` polynomial for e^r on |r| ≤ ln 2 / 2: P5 r⁵ + … + P0.
const P5: f32x8 = f32x8::splat(1.987_569_1e-4);
const P4: f32x8 = f32x8::splat(1.398_199_9e-3);
const P3: f32x8 = f32x8::splat(8.333_452e-3);
const P2: f32x8 = f32x8::splat(4.166_579_6e-2);
const P1: f32x8 = f32x8::splat(0.166_666_65);
const P0: f32x8 = f32x8::splat(0.5);
const EXPONENT_BIAS: i32x8 = i32x8::splat(127);

/// The sigmoid of eight values; NaN stays NaN (a diverged run must show in the loss).
fn sigmoid8(x: f32x8) -> f32x8 {
    // Beyond ±87 the sigmoid is within 2e-38 of 0 or 1, and e^t stays a normal float.
    let t = (-x).fast_max(-LIMIT).fast_min(LIMIT);
    let s = f32x8::ONE / (f32x8::ONE + exp8(t));
    x.is_nan().bitselect(x, s)
}

/// e^t for t in [−87, 87], Cephes' `expf` (relative error about 1e-7): t = n·ln 2 + r with
/// |r| ≤ ln 2 / 2, e^r by a polynomial, 2^n put in the exponent bits. (`wide`'s own `exp` also
/// takes inputs beyond that range, with branches and more selects per call.)
fn exp8(t: f32x8) -> f32x8 {
    let n = (t * LOG2_E).round();
    let r = t - n * LN2_HI - n * LN2_LO;
    // Horner's scheme written out: a loop over the coefficients stays a loop at opt-level "s".
    let p = ((((P5 * r + P4) * r + P3) * r + P2) * r + P1) * r + P0;
    let e_r = p * (r * r) + r + f32x8::ONE;
    let two_n: f32x8 = cast((n.round_int() + EXPONENT_BIAS) << 23);
    e_r * two_n
}

impl<B: Backend + OutputSigmoid, C: CheckpointStrategy> OutputSigmoid for Autodiff<B, C> {
    fn output_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        /// The gradient from the kept output.
        #[derive(Debug)]
        struct Sigmoid;

        impl<B: Backend + OutputSigmoid> Backward<B, 1> for Sigmoid {
            type State = B::FloatTensorPrimitive;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let output = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::output_sigmoid_grad(output, grad)
                });
            }
        }

        match Sigmoid.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let output = B::output_sigmoid(x.into_primitive());
                prep.finish(output.clone(), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::output_sigmoid(x.into_primitive())),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{TensorData, Tolerance};

    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Values across the sigmoid's range, its saturation and beyond `exp`'s, not a multiple of 8.
    fn inputs() -> Vec<f32> {
        let mut values: Vec<f32> = (-400..=400).map(|i| i as f32 * 0.05).collect();
        values.extend([-200.0, -90.0, -88.0, 88.0, 90.0, 200.0, f32::MAX, f32::MIN]);
        values
    }

    fn exact(x: f32) -> f32 {
        (1.0 / (1.0 + (-f64::from(x)).exp())) as f32
    }

    #[test]
    fn the_simd_sigmoid_matches_the_exact_one() {
        let mut values = inputs();
        sigmoid_in_place(&mut values);
        for (x, s) in inputs().into_iter().zip(values) {
            assert!(
                (s - exact(x)).abs() <= 2e-7,
                "sigmoid({x}) = {s}, not {}",
                exact(x)
            );
        }
        let mut nan = [f32::NAN, 1.0, f32::INFINITY, f32::NEG_INFINITY];
        sigmoid_in_place(&mut nan);
        assert!(nan[0].is_nan(), "NaN stays NaN, not {}", nan[0]);
        assert_eq!(nan[2], 1.0);
        assert!((0.0..2e-38).contains(&nan[3]), "sigmoid(−∞) = {}", nan[3]);
    }

    #[test]
    fn exp8_is_within_a_few_ulp_of_exp() {
        for i in -870..=870 {
            let t = i as f32 * 0.1 + 0.037;
            let ours = exp8(f32x8::splat(t)).to_array()[0];
            let exact = f64::from(t).exp();
            let error = (f64::from(ours) - exact).abs() / exact;
            assert!(
                error < 3e-7,
                "exp({t}) = {ours}, not {exact} (relative error {error})"
            );
        }
    }

    #[test]
    fn value_and_gradient_match_burns_sigmoid() {
        let device = Device::flex().autodiff();
        let values = inputs();
        let n = values.len();
        let run = |ours: bool| {
            let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [n]), &device)
                .require_grad();
            // A weight per element, so that a wrong gradient cannot hide in a sum.
            let weights = Tensor::<1>::from_data(
                TensorData::new((0..n).map(|i| (i % 7) as f32 - 3.0).collect(), [n]),
                &device,
            );
            let s = if ours {
                sigmoid(x.clone())
            } else {
                burn::tensor::activation::sigmoid(x.clone())
            };
            let grads = (s.clone() * weights).sum().backward();
            (
                s.into_data(),
                x.grad(&grads).expect("x is tracked").into_data(),
            )
        };
        let (ours, our_grad) = run(true);
        let (burns, burns_grad) = run(false);
        ours.assert_approx_eq::<f32>(&burns, Tolerance::absolute(2e-7));
        our_grad.assert_approx_eq::<f32>(&burns_grad, Tolerance::absolute(2e-7));
    }
}
