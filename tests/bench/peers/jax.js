// jax-js 0.1.25 training the lab's four autoencoders (hand-written layers, batch norm and
// Adam 1e-3, MSE), timed as the benchmark times the lab: the first step apart (it compiles),
// then a window of jit-compiled steps with one batch upload each and one read-back at its end.
// jax-js arrays are reference-counted: every op consumes its arguments, so an array used
// twice is passed as `.ref` the first time (README, "Reference counting").
import { defaultDevice, init, jit, lax, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { loadMnist } from './mnist.js';

const IMAGES = 2048;
const [LR, B1, B2, EPS] = [1e-3, 0.9, 0.999, 1e-8]; // Adam, as tf.train.adam(1e-3)
const BN_EPS = 1e-5; // burn's BatchNorm default

/// Seeded host-side initialisation (mulberry32 + Box–Muller): the same start on every run.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform: (limit) => (2 * next() - 1) * limit,
    normal: (std) => std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

// Parameter factories: [shape, sample] pairs, realised on the device in makeParams.
// As burn: Linear/Conv2d weights uniform(±1/√fan_in); the FFNN's N(0, 1/√fan_in) (ffnn.rs).
const uniform = (shape, fanIn) => [shape, (r) => r.uniform(1 / Math.sqrt(fanIn))];
const normal = (shape, fanIn) => [shape, (r) => r.normal(1 / Math.sqrt(fanIn))];
const filled = (shape, value) => [shape, () => value];

function makeParams(specs, seed = 0) {
  const r = rng(seed);
  const params = {};
  for (const [name, [shape, sample]] of Object.entries(specs)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = sample(r);
    params[name] = np.array(data, { shape });
  }
  return params;
}

const dense = (x, w, b) => np.dot(x, w).add(b);

// Convolutions are NCHW with OIHW kernels (lax.conv_general_dilated's layout); biases are
// stored as [C, 1, 1] to broadcast over the image.
const conv3x3 = (x, w, b) => lax.conv(x, w, [1, 1], 'SAME').add(b);
const maxPool2 = (x) => lax.reduceWindow(x, np.max, [2, 2], [2, 2]);
// Transposed 2×2 conv of stride 2 (jax-js's own, a fractionally strided conv; it does not
// flip the kernel as Keras does, which changes nothing for a learned kernel).
const convT2x2 = (x, w, b) => lax.convTranspose(x, w, [2, 2], 'VALID').add(b);
// Nearest ×2 upsampling (jax-js has no resize op): a broadcast over two new unit axes.
function upsample2(x) {
  const [n, c, h, w] = x.shape;
  return np.broadcastTo(x.reshape([n, c, h, 1, w, 1]), [n, c, h, 2, w, 2]).reshape([n, c, 2 * h, 2 * w]);
}

/// Training-mode batch norm: batch statistics, learned scale and shift (no running stats:
/// the benchmark never evaluates).
function batchNorm(x, gamma, beta) {
  const centred = x.ref.sub(x.mean(0, { keepdims: true }));
  const variance = np.square(centred.ref).mean(0, { keepdims: true });
  return centred.div(np.sqrt(variance.add(BN_EPS))).mul(gamma).add(beta);
}

const convEncoderSpecs = {
  c1w: uniform([16, 1, 3, 3], 9), c1b: filled([16, 1, 1], 0),
  c2w: uniform([4, 16, 3, 3], 16 * 9), c2b: filled([4, 1, 1], 0),
};
function convEncoder(p, x) { // [n, 1, 28, 28] → [n, 4, 7, 7]
  x = maxPool2(nn.relu(conv3x3(x, p.c1w, p.c1b)));
  return maxPool2(nn.relu(conv3x3(x, p.c2w, p.c2b)));
}

const DEEP_WIDTHS = [784, 1000, 500, 250, 4, 250, 500, 1000];

/// The lab's architectures (src/model/): parameter specs and a forward pass from
/// [n, 1, 28, 28] images to [n, 1, 28, 28] reconstructions. Each parameter is used once.
const MODELS = {
  ffnn: {
    specs: () => ({
      w1: normal([784, 32], 784), b1: filled([32], 0),
      w2: normal([32, 784], 32), b2: filled([784], 0),
    }),
    forward(p, x) {
      const n = x.shape[0];
      const code = nn.relu(dense(x.reshape([n, 784]), p.w1, p.b1));
      return nn.sigmoid(dense(code, p.w2, p.b2)).reshape([n, 1, 28, 28]);
    },
  },
  'conv-transpose': {
    specs: () => ({
      ...convEncoderSpecs,
      t1w: uniform([16, 4, 2, 2], 4 * 4), t1b: filled([16, 1, 1], 0),
      t2w: uniform([1, 16, 2, 2], 16 * 4), t2b: filled([1, 1, 1], 0),
    }),
    forward(p, x) {
      x = convEncoder(p, x);
      x = nn.relu(convT2x2(x, p.t1w, p.t1b));
      return nn.sigmoid(convT2x2(x, p.t2w, p.t2b));
    },
  },
  upsample: {
    specs: () => ({
      ...convEncoderSpecs,
      u1w: uniform([16, 4, 3, 3], 4 * 9), u1b: filled([16, 1, 1], 0),
      u2w: uniform([1, 16, 3, 3], 16 * 9), u2b: filled([1, 1, 1], 0),
    }),
    forward(p, x) {
      x = convEncoder(p, x);
      x = nn.relu(conv3x3(upsample2(x), p.u1w, p.u1b));
      return nn.sigmoid(conv3x3(upsample2(x), p.u2w, p.u2b));
    },
  },
  deep: {
    specs() {
      const specs = {};
      DEEP_WIDTHS.forEach((units, i) => {
        if (i === 0) return;
        const fanIn = DEEP_WIDTHS[i - 1];
        specs[`w${i}`] = uniform([fanIn, units], fanIn);
        specs[`b${i}`] = filled([units], 0);
        specs[`g${i}`] = filled([units], 1);
        specs[`s${i}`] = filled([units], 0);
      });
      specs.wOut = uniform([1000, 784], 1000);
      specs.bOut = filled([784], 0);
      return specs;
    },
    forward(p, x) {
      const n = x.shape[0];
      x = x.reshape([n, 784]);
      for (let i = 1; i < DEEP_WIDTHS.length; i++) {
        x = batchNorm(dense(x, p[`w${i}`], p[`b${i}`]), p[`g${i}`], p[`s${i}`]);
        if (i !== 4) x = nn.relu(x); // no ReLU at the 4-wide code
      }
      return nn.sigmoid(dense(x, p.wOut, p.bOut)).reshape([n, 1, 28, 28]);
    },
  },
};

/// One jit-compiled training step: loss and gradients, then Adam (jax-js ships no
/// optimizer; @jax-js/optax is not a dependency). The bias corrections β^t are carried as
/// device scalars so that no step uploads anything but its batch, and nothing recompiles.
function trainStep(forward) {
  const loss = (params, x) => np.square(forward(params, x.ref).sub(x)).mean();
  return jit((params, opt, x) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(params), x);
    const b1t = opt.b1t.mul(B1);
    const b2t = opt.b2t.mul(B2);
    const c1 = np.subtract(1, b1t.ref);
    const c2 = np.subtract(1, b2t.ref);
    const next = {};
    const m = {};
    const v = {};
    for (const k of Object.keys(params)) {
      const g = grads[k];
      m[k] = opt.m[k].mul(B1).add(g.ref.mul(1 - B1));
      v[k] = opt.v[k].mul(B2).add(np.square(g).mul(1 - B2));
      const mHat = m[k].ref.div(c1.ref);
      const vHat = v[k].ref.div(c2.ref);
      next[k] = params[k].sub(mHat.div(np.sqrt(vHat).add(EPS)).mul(LR));
    }
    c1.dispose();
    c2.dispose();
    return [next, { m, v, b1t, b2t }, value];
  });
}

function adamState(params) {
  const zeros = () => Object.fromEntries(Object.entries(params).map(([k, p]) => [k, np.zeros(p.shape)]));
  // Strongly typed f32 scalars (np.array(1) would be weakly typed): the jit cache is keyed
  // on shape, dtype and weak type, so the state must come back as it went in.
  const one = () => np.array(new Float32Array([1]), { shape: [] });
  return { m: zeros(), v: zeros(), b1t: one(), b2t: one() };
}

const yieldTask = () => new Promise((resolve) => setTimeout(resolve, 0));

let images;

/// Trains `model` on `backend` ('webgpu' or 'wasm', jax-js device names) at `batch` for a
/// `seconds` window.
window.benchJax = async function ({ model, backend, batch, seconds, inferenceSeconds }) {
  images ??= await loadMnist(IMAGES);
  await init(backend);
  defaultDevice(backend); // throws "Backend not initialized: …" when the device is missing
  if (!MODELS[model]) throw new Error(`unknown model ${model}`);
  const { specs, forward } = MODELS[model];
  let params = makeParams(specs());
  let opt = adamState(params);
  const step = trainStep(forward);
  let cursor = 0;
  const run = () => {
    if (cursor + batch > IMAGES) cursor = 0;
    const slice = images.subarray(cursor * 784, (cursor + batch) * 784);
    cursor += batch;
    const x = np.array(slice, { shape: [batch, 1, 28, 28] }); // one host → device upload
    let loss;
    [params, opt, loss] = step(params, opt, x);
    return loss;
  };
  try {
    const t0 = performance.now();
    await run().data();
    const firstStepMs = performance.now() - t0;

    // At most two steps in flight. jax-js is lazy: a step's kernels are only submitted when
    // one of its outputs is realised. `blockUntilReady()` on the step's loss submits the
    // step (its parameters' updates included: one jit program) and resolves once it has run,
    // reading 0 bytes back (a zero-sized copy and map on WebGPU), so nothing big crosses to
    // the host. Each step is submitted at once, then we wait for the one before it.
    const start = performance.now();
    const gpuAtStart = { ...window.__gpu }; // the driver's counters, if any
    let lastYield = start;
    let steps = 0;
    let pending = null; // { loss, ready } of the previous step
    while (performance.now() - start < seconds * 1000) {
      const loss = run();
      const current = { loss, ready: loss.blockUntilReady() };
      steps += 1;
      if (pending) {
        await pending.ready;
        pending.loss.dispose();
      }
      pending = current;
      if (performance.now() - lastYield > 100) { // the page stays alive
        await yieldTask();
        lastYield = performance.now();
      }
    }
    await pending.ready;
    const finalLoss = (await pending.loss.data())[0]; // data() consumes the array
    const elapsed = (performance.now() - start) / 1000;
    const gpu = { start: gpuAtStart, end: { ...window.__gpu } };
    const inference = inferenceSeconds ? await infer(forward, params, inferenceSeconds) : undefined;
    return { library: 'jax', model, backend, batch, steps, seconds: elapsed,
      imagesPerSec: (steps * batch) / elapsed, firstStepMs, finalLoss, inference,
      window: [t0, start + elapsed * 1000], gpu };
  } finally {
    // A failed step has consumed its inputs already: free only what is still alive.
    for (const array of tree.leaves([params, opt])) if (array.refCount > 0) array.dispose();
    step.dispose();
  }
};
/// Inference as the lab's probe times it: a jit-compiled forward pass on batches of 64
/// uploaded, run and read back one at a time; the first batch timed apart.
async function infer(forward, params, seconds, batch = 64) {
  const reconstruct = jit(forward);
  let cursor = 0;
  const once = async () => {
    if (cursor + batch > IMAGES) cursor = 0;
    const slice = images.subarray(cursor * 784, (cursor + batch) * 784);
    cursor += batch;
    const x = np.array(slice, { shape: [batch, 1, 28, 28] });
    await reconstruct(tree.ref(params), x).data(); // the parameters stay alive; data() consumes the output
  };
  try {
    const t0 = performance.now();
    await once();
    const firstBatchMs = performance.now() - t0;
    const start = performance.now();
    let batches = 0;
    while (performance.now() - start < seconds * 1000) {
      await once();
      batches += 1;
    }
    const elapsed = (performance.now() - start) / 1000;
    return { batch, batches, seconds: elapsed, imagesPerSec: (batches * batch) / elapsed, firstBatchMs };
  } finally {
    reconstruct.dispose();
  }
}
window.peerReady = true;
