//! Adam, as burn's (same formulas, same order of operations, same state), with one pass per
//! parameter on the CPU.
//!
//! burn's Adam is a dozen tensor ops per parameter, each a pass over it and most a new buffer.
//! On the GPU burn's kernel fusion merges them; on the CPU (burn-flex) each runs alone, and in the
//! page's CPU worker Adam's scalar multiplications alone were about 30 % of an `ffnn` training
//! step (V8's profile, docs/speed.md). Here the CPU updates the parameter and both moments in
//! place in one pass, eight values at a time. Moments below the least normal f32 are flushed to
//! zero, as ML libraries do on CPUs (TensorFlow sets flush-to-zero): wasm has no flush-to-zero
//! mode, and a multiply of a subnormal costs about 40× a normal one here (in the runs measured
//! they were rare, a handful per step). On the GPU it is burn's Adam, whose ops fusion merges.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::optim::{AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor};
use wide::f32x8;

/// Adam with β₁ 0.9, β₂ 0.999 and ε 1e-8 (the reference protocol's; the learning rate comes
/// with each step).
#[derive(Clone)]
pub struct Adam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// AdamW's decoupled decay λ (0: plain Adam).
    weight_decay: f32,
    /// burn's, with the same settings, for the GPU.
    burns: burn::optim::Adam,
}

impl Default for Adam {
    fn default() -> Self {
        let (beta_1, beta_2, epsilon) = (0.9, 0.999, 1e-8);
        let burns = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            weight_decay: 0.0,
            burns,
        }
    }
}

impl Adam {
    /// With AdamW's decoupled weight decay: before each update the weights shrink by
    /// lr·λ of themselves, apart from the gradient's moments.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let tensor = match self.weight_decay {
            0.0 => tensor,
            decay => tensor.mul_scalar(1.0 - lr * f64::from(decay)),
        };
        if tensor.device().inner() != Device::flex() {
            return self.burns.step(lr, tensor, grad, state);
        }
        // The first step starts from zero moments, which gives burn's first step exactly.
        let (time, moment_1, moment_2) = match state {
            Some(state) => {
                let m = state.momentum;
                (m.time + 1, m.moment_1, m.moment_2)
            }
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let factors = Factors::new(self, lr, time);
        let (tensor, moment_1, moment_2) = <Dispatch as AdamUpdate>::adam_update(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            factors,
        );
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_dispatch(moment_1),
            Tensor::from_dispatch(moment_2),
        );
        (
            Tensor::from_dispatch(tensor),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

/// The scalars of step `time`, computed as burn computes them (in f32).
#[derive(Debug, Clone, Copy)]
pub struct Factors {
    beta_1: f32,
    beta_2: f32,
    /// The bias corrections' ratio, √(1 − β₂ᵗ) / (1 − β₁ᵗ).
    step_size: f32,
    /// ε · √(1 − β₂ᵗ).
    epsilon: f32,
    lr: f32,
}

impl Factors {
    fn new(adam: &Adam, lr: LearningRate, time: usize) -> Self {
        let time = time as i32;
        let correction_2 = (1.0 - adam.beta_2.powi(time)).sqrt();
        Self {
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            step_size: correction_2 / (1.0 - adam.beta_1.powi(time)),
            epsilon: adam.epsilon * correction_2,
            lr: lr as f32,
        }
    }
}

/// The op, for the CPU (the GPU takes burn's Adam).
#[backend_extension(Flex)]
pub trait AdamUpdate: Backend {
    /// One step for one parameter: the parameter and both moments, updated.
    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        factors: Factors,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// burn's Adam (`burn-optim` `adam.rs`), op for op: for tensors the one-pass update does not
/// take (views, other float types).
fn tensor_ops_update<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moment_1: FloatTensor<B>,
    moment_2: FloatTensor<B>,
    f: &Factors,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let moment_1 = B::float_add(
        B::float_mul_scalar(moment_1, f.beta_1.into()),
        B::float_mul_scalar(grad.clone(), (1.0 - f.beta_1).into()),
    );
    let squared = B::float_mul(grad.clone(), grad);
    let moment_2 = B::float_add(
        B::float_mul_scalar(moment_2, f.beta_2.into()),
        B::float_mul_scalar(squared, (1.0 - f.beta_2).into()),
    );
    let update = B::float_div(
        B::float_mul_scalar(moment_1.clone(), f.step_size.into()),
        B::float_add_scalar(B::float_sqrt(moment_2.clone()), f.epsilon.into()),
    );
    let param = B::float_sub(param, B::float_mul_scalar(update, f.lr.into()));
    (param, moment_1, moment_2)
}

impl AdamUpdate for Flex {
    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        factors: Factors,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (mut param, grad) = (owned(param), grad.to_contiguous());
        let (mut moment_1, mut moment_2) = (owned(moment_1), owned(moment_2));
        let n = grad.layout().num_elements();
        let fits = [&param, &grad, &moment_1, &moment_2]
            .iter()
            .all(|t| t.dtype() == DType::F32 && whole(t, n));
        if !fits {
            return tensor_ops_update::<Self>(param, grad, moment_1, moment_2, &factors);
        }
        factors.apply(
            param.storage_mut(),
            grad.storage(),
            moment_1.storage_mut(),
            moment_2.storage_mut(),
        );
        (param, moment_1, moment_2)
    }
}

/// `tensor`, contiguous, owning its values unless someone else holds them (then `storage_mut`
/// copies them once).
fn owned(tensor: FloatTensor<Flex>) -> FloatTensor<Flex> {
    tensor.to_contiguous()
}

/// Whether `tensor` is `n` values from the start of its buffer to its end.
fn whole(tensor: &FloatTensor<Flex>, n: usize) -> bool {
    tensor.layout().num_elements() == n
        && tensor.layout().contiguous_offsets() == Some((0, n))
        && tensor.bytes().len() == n * size_of::<f32>()
}

impl Factors {
    /// The update of one parameter in place, eight values at a time: burn's operations in
    /// burn's order (so the same roundings), then subnormal moments flushed to zero.
    fn apply(&self, param: &mut [f32], grad: &[f32], moment_1: &mut [f32], moment_2: &mut [f32]) {
        let lanes = Lanes::new(self);
        // Whole arrays of eight, so that loads and stores have a fixed size (a slice's copy is a
        // call to memmove in wasm).
        let (p8, p_rest) = param.as_chunks_mut::<8>();
        let (g8, g_rest) = grad.as_chunks::<8>();
        let (m8, m_rest) = moment_1.as_chunks_mut::<8>();
        let (v8, v_rest) = moment_2.as_chunks_mut::<8>();
        for (((p, g), m), v) in p8.iter_mut().zip(g8).zip(m8).zip(v8) {
            lanes.update(p, g, m, v);
        }
        // The last few values, padded to eight.
        let pad = |values: &[f32]| {
            let mut lane = [0.0; 8];
            lane[..values.len()].copy_from_slice(values);
            lane
        };
        let (mut p, g, mut m, mut v) = (pad(p_rest), pad(g_rest), pad(m_rest), pad(v_rest));
        lanes.update(&mut p, &g, &mut m, &mut v);
        let k = g_rest.len();
        p_rest.copy_from_slice(&p[..k]);
        m_rest.copy_from_slice(&m[..k]);
        v_rest.copy_from_slice(&v[..k]);
    }
}

/// [`Factors`] in every lane.
struct Lanes {
    beta_1: f32x8,
    rest_1: f32x8,
    beta_2: f32x8,
    rest_2: f32x8,
    step_size: f32x8,
    epsilon: f32x8,
    lr: f32x8,
}

impl Lanes {
    fn new(f: &Factors) -> Self {
        Self {
            beta_1: f32x8::splat(f.beta_1),
            rest_1: f32x8::splat(1.0 - f.beta_1),
            beta_2: f32x8::splat(f.beta_2),
            rest_2: f32x8::splat(1.0 - f.beta_2),
            step_size: f32x8::splat(f.step_size),
            epsilon: f32x8::splat(f.epsilon),
            lr: f32x8::splat(f.lr),
        }
    }

    /// Eight values of the parameter, its gradient and moments.
    fn update(&self, p: &mut [f32; 8], g: &[f32; 8], m: &mut [f32; 8], v: &mut [f32; 8]) {
        let g = f32x8::new(*g);
        let m1 = f32x8::new(*m) * self.beta_1 + g * self.rest_1;
        let m2 = f32x8::new(*v) * self.beta_2 + (g * g) * self.rest_2;
        let update = (m1 * self.step_size) / (m2.sqrt() + self.epsilon);
        *p = (f32x8::new(*p) - update * self.lr).to_array();
        *m = flush_subnormal(m1).to_array();
        *v = flush_subnormal(m2).to_array();
    }
}

/// The least normal f32 in every lane (`const`: a run-time `splat` fills its lanes in a loop
/// at the page's opt-level).
const LEAST_NORMAL: f32x8 = f32x8::splat(f32::MIN_POSITIVE);

/// Zero where `x` is subnormal (|x| below the least normal f32); NaN and infinities stay.
fn flush_subnormal(x: f32x8) -> f32x8 {
    x.abs().simd_lt(LEAST_NORMAL).bitselect(f32x8::ZERO, x)
}

#[cfg(test)]
mod tests {
    use burn::backend::ops::FloatTensorOps;
    use burn::optim::AdamConfig;
    use burn::tensor::{TensorData, Tolerance};

    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 37 values (four vectors of eight and five more), varied in sign and size.
    fn tensor(seed: usize, device: &Device) -> Tensor<1> {
        let values = (0..37)
            .map(|i| ((i * 7 + seed * 13) % 23) as f32 / 11.0 - 1.0)
            .map(|v| v * 10f32.powi((seed % 5) as i32 - 2))
            .collect::<Vec<_>>();
        Tensor::from_data(TensorData::new(values, [37]), device)
    }

    /// Five steps of `optimizer` from the same start with the same gradients.
    fn five_steps<O: Optimizer>(optimizer: &O, device: &Device) -> (Tensor<1>, O::State<1>) {
        let mut param = tensor(0, device);
        let mut state = None;
        for step in 1..=5 {
            let (next, next_state) = optimizer.step(1e-3, param, tensor(step, device), state);
            (param, state) = (next, next_state);
        }
        (param, state.expect("a state after a step"))
    }

    #[test]
    fn the_fused_update_matches_burns_adam() {
        let device = Device::flex();
        let burns = AdamConfig::new().with_epsilon(1e-8).build();
        let (expected, expected_state) = five_steps(&burns, &device);
        let (ours, state) = five_steps(&Adam::default(), &device);
        let same = Tolerance::absolute(1e-7);
        ours.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), same);
        let (m, expected_m) = (state.momentum, expected_state.momentum);
        assert_eq!(m.time, expected_m.time);
        m.moment_1
            .into_data()
            .assert_approx_eq::<f32>(&expected_m.moment_1.into_data(), same);
        m.moment_2
            .into_data()
            .assert_approx_eq::<f32>(&expected_m.moment_2.into_data(), same);
    }

    #[test]
    fn the_tensor_ops_fallback_matches_the_fused_update() {
        let device = Device::flex();
        let factors = Factors::new(&Adam::default(), 1e-3, 3);
        // A parameter, its gradient and two moments (the second one positive, as it must be).
        let inputs = || {
            [0, 1, 2, 3].map(|seed| {
                let values = tensor(seed, &device);
                let values = if seed == 3 { values.abs() } else { values };
                Flex::float_from_data(values.into_data(), &Default::default())
            })
        };
        let [p, g, m, v] = inputs();
        let by_ops = tensor_ops_update::<Flex>(p, g, m, v, &factors);
        let [p, g, m, v] = inputs();
        let fused = <Flex as AdamUpdate>::adam_update(p, g, m, v, factors);
        for (a, b) in [
            (by_ops.0, fused.0),
            (by_ops.1, fused.1),
            (by_ops.2, fused.2),
        ] {
            a.into_data()
                .assert_approx_eq::<f32>(&b.into_data(), Tolerance::absolute(1e-7));
        }
    }

    #[test]
    fn subnormal_moments_are_flushed_to_zero() {
        let device = Device::flex();
        let param = Tensor::<1>::from_data(TensorData::new(vec![0.5; 9], [9]), &device);
        // 0.1 × 1e-38 is subnormal.
        let grad = Tensor::<1>::from_data(TensorData::new(vec![1e-38; 9], [9]), &device);
        let (param, state) = Adam::default().step(1e-3, param, grad, None);
        let m = state.expect("a state").momentum;
        assert_eq!(
            m.moment_1.into_data().try_to_vec::<f32>().unwrap(),
            vec![0.0; 9]
        );
        assert_eq!(
            m.moment_2.into_data().try_to_vec::<f32>().unwrap(),
            vec![0.0; 9]
        );
        assert_eq!(param.into_data().try_to_vec::<f32>().unwrap(), vec![0.5; 9]);
    }
}
