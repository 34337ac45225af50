// TensorFlow.js 4.22 training the lab's four autoencoders (Keras-style layers, Adam 1e-3,
// MSE), timed as the benchmark times the lab: the first step apart (it compiles), then a
// window of steps with one batch upload each and one read-back at its end.
import { loadMnist } from './mnist.js';

const tf = window.tf;
const IMAGES = 2048;
tf.wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');

/// The lab's architectures (src/model/), in Keras layers.
const MODELS = {
  ffnn: () => [
    tf.layers.flatten({ inputShape: [28, 28, 1] }),
    tf.layers.dense({ units: 32, activation: 'relu' }),
    tf.layers.dense({ units: 784, activation: 'sigmoid' }),
    tf.layers.reshape({ targetShape: [28, 28, 1] }),
  ],
  'conv-transpose': () => [
    ...convEncoder(),
    tf.layers.conv2dTranspose({ filters: 16, kernelSize: 2, strides: 2, activation: 'relu' }),
    tf.layers.conv2dTranspose({ filters: 1, kernelSize: 2, strides: 2, activation: 'sigmoid' }),
  ],
  upsample: () => [
    ...convEncoder(),
    tf.layers.upSampling2d({ size: [2, 2] }),
    tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.upSampling2d({ size: [2, 2] }),
    tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }),
  ],
  deep: () => {
    const widths = [1000, 500, 250, 4, 250, 500, 1000];
    const layers = [tf.layers.flatten({ inputShape: [28, 28, 1] })];
    widths.forEach((units, i) => {
      layers.push(tf.layers.dense({ units }), tf.layers.batchNormalization());
      if (i !== 3) layers.push(tf.layers.activation({ activation: 'relu' })); // no ReLU at the code
    });
    layers.push(tf.layers.dense({ units: 784, activation: 'sigmoid' }), tf.layers.reshape({ targetShape: [28, 28, 1] }));
    return layers;
  },
};

function convEncoder() {
  return [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
  ];
}

let images;

/// At most two steps in flight on WebGPU (as for jax-js), without reading anything back:
/// TF.js enqueues far faster than SwiftShader runs, and an unbounded queue makes the
/// window end long after its time (or runs the GPU process out of memory).
async function fence(steps) {
  const backend = tf.backend();
  if (tf.getBackend() === 'webgpu' && steps % 2 === 0) {
    if (backend.commandEncoder) { // as the backend's own flush does
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
    await backend.device.queue.onSubmittedWorkDone();
  } else if (steps % 8 === 0) {
    await new Promise((resolve) => setTimeout(resolve, 0)); // the page stays alive
  }
}

/// Trains `model` on `backend` ('webgpu' or 'wasm') at `batch` for a `seconds` window, then
/// times inference for `inferenceSeconds` if given.
window.benchTfjs = async function ({ model, backend, batch, seconds, inferenceSeconds }) {
  images ??= await loadMnist(IMAGES);
  if (!(await tf.setBackend(backend))) throw new Error(`no ${backend} backend`);
  await tf.ready();
  const net = tf.sequential({ layers: MODELS[model]() });
  const optimizer = tf.train.adam(1e-3);
  let cursor = 0;
  const step = () => {
    if (cursor + batch > IMAGES) cursor = 0;
    const slice = images.subarray(cursor * 784, (cursor + batch) * 784);
    cursor += batch;
    return tf.tidy(() => {
      const x = tf.tensor4d(slice, [batch, 28, 28, 1]); // one host → device upload
      return optimizer.minimize(() => tf.losses.meanSquaredError(x, net.apply(x, { training: true })), true);
    });
  };
  const t0 = performance.now();
  const first = step();
  await first.data();
  first.dispose();
  const firstStepMs = performance.now() - t0;
  const start = performance.now();
  const gpuAtStart = { ...window.__gpu };
  let steps = 0;
  let loss;
  while (performance.now() - start < seconds * 1000) {
    loss?.dispose();
    loss = step();
    steps += 1;
    await fence(steps);
  }
  const finalLoss = (await loss.data())[0];
  const elapsed = (performance.now() - start) / 1000;
  const gpu = { start: gpuAtStart, end: { ...window.__gpu } }; // the driver's counters, if any
  loss.dispose();
  const inference = inferenceSeconds ? await infer(net, inferenceSeconds) : undefined;
  net.dispose();
  optimizer.dispose();
  return { library: 'tfjs', model, backend, batch, steps, seconds: elapsed,
    imagesPerSec: (steps * batch) / elapsed, firstStepMs, finalLoss, inference, window: [t0, start + elapsed * 1000], gpu };
};

/// Inference as the lab's probe times it: batches of 64 uploaded, run and read back one at
/// a time; the first batch timed apart.
async function infer(net, seconds, batch = 64) {
  let cursor = 0;
  const reconstruct = async () => {
    if (cursor + batch > IMAGES) cursor = 0;
    const slice = images.subarray(cursor * 784, (cursor + batch) * 784);
    cursor += batch;
    const y = tf.tidy(() => net.predict(tf.tensor4d(slice, [batch, 28, 28, 1])));
    await y.data();
    y.dispose();
  };
  const t0 = performance.now();
  await reconstruct();
  const firstBatchMs = performance.now() - t0;
  const start = performance.now();
  let batches = 0;
  while (performance.now() - start < seconds * 1000) {
    await reconstruct();
    batches += 1;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { batch, batches, seconds: elapsed, imagesPerSec: (batches * batch) / elapsed, firstBatchMs };
}
window.peerReady = true;
