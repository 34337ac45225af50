// The benchmark's data for the peers: the first `count` MNIST training images as floats in
// [0, 1], read from the site's own gzipped IDX file (the same file the lab reads).
export async function loadMnist(count) {
  const response = await fetch('/mnist/train-images-idx3-ubyte.gz');
  if (!response.ok) throw new Error(`MNIST: HTTP ${response.status}`);
  const stream = response.body.pipeThrough(new DecompressionStream('gzip'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const view = new DataView(bytes.buffer);
  if (view.getUint32(0) !== 0x803) throw new Error('MNIST: not an IDX file of u8 images');
  const [n, rows, cols] = [view.getUint32(4), view.getUint32(8), view.getUint32(12)];
  if (rows !== 28 || cols !== 28 || n < count) throw new Error(`MNIST: ${n} images of ${rows}×${cols}`);
  const pixels = bytes.subarray(16, 16 + count * 784);
  return Float32Array.from(pixels, (p) => p / 255);
}
