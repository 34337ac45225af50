// End-to-end tests of the page's views in Debian's Chromium: the sketch pad, "Inside the model"
// (latent map, interpolation strip, generated digits, the comparison) on both backends, and
// the layout at two sizes with the keyboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  ARTIFACTS, CPU_ARGS, GPU_ARGS, canvasDigit, dataLoaded, gridSpread, mse, openLab, serveDist,
  trainBriefly, waitForLab,
} from './harness.mjs';

serveDist();

test('Sketch: strokes make an MNIST-like input and the pretrained model reconstructs it', { timeout: 120_000 }, async () => {
  const opened = Date.now();
  const { browser, page } = await openLab(CPU_ARGS);
  try {
    // Pretrained weights load by default: the first reconstructions appear with the data.
    await page.waitForFunction(() => document.querySelector('#recon-grid').dataset.updated, null, { timeout: 60_000 });
    console.log(`  first reconstructions ${((Date.now() - opened) / 1000).toFixed(1)} s after opening the page (CPU path)`);
    await waitForLab(page, dataLoaded);
    await page.waitForFunction(() => /epochs trained/.test(document.querySelector('#model-note').textContent));
    assert.ok(await gridSpread(page) > 10, 'pretrained reconstructions are blank');
    const box = await page.locator('#sketch').boundingBox();
    // A "7": a top bar and a diagonal.
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
    await page.mouse.move(...at(0.3, 0.25));
    await page.mouse.down();
    for (const [fx, fy] of [[0.5, 0.25], [0.7, 0.25], [0.6, 0.45], [0.5, 0.65], [0.42, 0.8]]) {
      await page.mouse.move(...at(fx, fy), { steps: 6 });
    }
    await page.mouse.up();
    await page.waitForTimeout(500);
    const input = await canvasDigit(page, '#sketch-input');
    const recon = await canvasDigit(page, '#sketch-recon');
    const blank = input.map(() => 0);
    const inked = input.filter((v) => v > 0.5).length;
    console.log(`  sketch: ${inked} inked input pixels; MSE(recon, input) ${mse(recon, input).toFixed(4)} vs blank ${mse(blank, input).toFixed(4)}`);
    assert.ok(inked > 20, 'the sketch input is blank');
    assert.ok(recon.some((v) => v > 0.5), 'the reconstruction is blank');
    assert.ok(mse(recon, input) < mse(blank, input) * 0.7, 'the reconstruction is not closer than a blank image');
    await page.screenshot({ path: path.join(ARTIFACTS, 'lab-pretrained-sketch.png'), fullPage: true });

    // "Corrupt my drawing": the input gets Gaussian noise (no denoising setting chosen).
    await page.check('#sketch-noise');
    await page.waitForFunction(() => /corrupted \(gaussian:0.3\)/.test(document.querySelector('#sketch-input-caption').textContent));
    await page.waitForTimeout(300);
    const noisy = await canvasDigit(page, '#sketch-input');
    const speckled = noisy.filter((v, i) => input[i] < 0.1 && v > 0.1).length;
    console.log(`  corrupted sketch: ${speckled} background pixels lit by the noise`);
    assert.ok(speckled > 100, `the background did not get noise (${speckled})`);
    await page.uncheck('#sketch-noise');

    // The eraser wipes the top bar of the "7" from the pad.
    const padInk = async () => (await canvasDigit(page, '#sketch')).filter((v) => v > 0.5).length;
    const before = await padInk();
    await page.check('#eraser');
    // Checking the box may have scrolled the page: where the pad is now.
    const moved = await page.locator('#sketch').boundingBox();
    const atNow = (fx, fy) => [moved.x + fx * moved.width, moved.y + fy * moved.height];
    await page.mouse.move(...atNow(0.25, 0.25));
    await page.mouse.down();
    await page.mouse.move(...atNow(0.75, 0.25), { steps: 8 });
    await page.mouse.up();
    await page.uncheck('#eraser');
    await page.waitForTimeout(300);
    const after = await padInk();
    console.log(`  the eraser: ${before} → ${after} inked pad cells`);
    assert.ok(after < before * 0.8, 'the eraser took no ink');
    await page.click('#clear-sketch');
    await page.waitForTimeout(300);
    assert.ok((await canvasDigit(page, '#sketch-input')).every((v) => v < 0.2), 'clear did not clear');
  } finally {
    await browser.close();
  }
});

/// The 28×28 images of a canvas drawn by `draw::image_grid` (`scale` px a pixel, 2 px gaps), row by row.
async function canvasImages(page, id, cols, scale) {
  return page.$eval(id, (c, [cols, scale]) => {
    const cell = 28 * scale + 2;
    const rows = Math.round((c.height + 2) / cell);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const images = [];
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) {
      const image = [];
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
        image.push(d[((r * cell + y * scale) * c.width + k * cell + x * scale) * 4] / 255);
      }
      images.push(image);
    }
    return images;
  }, [cols, scale]);
}

/// The views of "Inside the model" and the comparison, on one backend's page.
async function insideTheModel(args, backend) {
  const { browser, page, errors } = await openLab(args);
  try {
    await waitForLab(page, dataLoaded);
    await page.waitForFunction(() => /epochs trained/.test(document.querySelector('#model-note').textContent));
    // The strip is there as soon as weights are: a test 3 turning into a test 8.
    await page.waitForFunction(() => document.querySelector('#interp-strip').dataset.updated);
    assert.match(await page.textContent('#interp-caption'), /From a test 3 to a test 8/);
    let strip = await canvasImages(page, '#interp-strip', 10, 2);
    assert.equal(strip.length, 20, 'two rows of ten');
    const [decodes, fade] = [strip.slice(0, 10), strip.slice(10)];
    // The ends of both rows are the two digits (decoded, or as they are); the middles differ:
    // a decoded code between two digits is not their average picture.
    assert.ok(mse(decodes[0], fade[0]) < 0.03 && mse(decodes[9], fade[9]) < 0.03, 'the decoded ends are not the digits');
    assert.ok(mse(decodes[5], fade[5]) > 0.005, 'the middle decode is the cross-fade');
    assert.ok(mse(decodes[0], decodes[9]) > 0.03, 'the strip does not go anywhere');

    // A click on the grid's test 1 (top row, second column) makes it the first end.
    const grid = await page.locator('#recon-grid').boundingBox();
    const before = await page.$eval('#interp-strip', (c) => c.dataset.updated);
    await page.mouse.click(grid.x + grid.width * 1.5 / 10, grid.y + grid.height * 0.1);
    await page.waitForFunction((b) => document.querySelector('#interp-strip').dataset.updated !== b, before);
    assert.match(await page.textContent('#interp-caption'), /From a test 1 to a test 8/);

    // The latent map of upsample's 196-number codes: 2,000 test digits on their principal
    // components, with the k-NN figures counted a slice at a time.
    await page.waitForFunction(() => document.querySelector('#latent-map').dataset.knnCode, null, { timeout: 60_000 });
    const map = await page.$eval('#latent-map', (c) => ({ ...c.dataset }));
    console.log(`  latent map: ${map.points} codes, 5-NN accuracy ${map.knnCode} on the codes, ${map.knnMap} on the map`);
    assert.equal(map.points, '2000');
    assert.ok(Number(map.knnCode) > 0.8 && Number(map.knnMap) > 0.3, JSON.stringify(map));
    assert.match(await page.textContent('#latent-caption'), /principal components/);
    await page.locator('#latent-map').scrollIntoViewIfNeeded();
    const mapBox = await page.locator('#latent-map').boundingBox();
    const spot = (fx, fy) => [mapBox.x + fx * mapBox.width, mapBox.y + fy * mapBox.height];
    await page.mouse.move(...spot(0.5, 0.5));
    await page.waitForFunction(() => /nearest: test digit \d+/.test(document.querySelector('#latent-hover-caption').textContent));
    const previewOf = async (fx, fy) => {
      const before = await page.$eval('#latent-preview', (c) => c.dataset.updated);
      await page.mouse.move(...spot(fx, fy));
      await page.mouse.down();
      await page.mouse.up();
      await page.waitForFunction((b) => document.querySelector('#latent-preview').dataset.updated !== b, before);
      return canvasDigit(page, '#latent-preview');
    };
    const [left, right] = [await previewOf(0.2, 0.5), await previewOf(0.8, 0.5)];
    assert.ok(left.some((v) => v > 0.3) && mse(left, right) > 0.01, 'two ends of the map decode alike');
    // Ten classes, ten colours (matplotlib's tab10) on the map.
    const colours = await page.$eval('#latent-map', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      const tab10 = ['31,119,180', '255,127,14', '44,160,44', '214,39,40', '148,103,189', '140,86,75',
        '227,119,194', '127,127,127', '188,189,34', '23,190,207'];
      return tab10.filter((t) => seen.has(t)).length;
    });
    assert.equal(colours, 10);
    // Dragging across the map morphs the preview, with no main-thread task over 50 ms.
    const dragStart = await page.evaluate(() => performance.now());
    const previewBefore = await page.$eval('#latent-preview', (c) => c.dataset.updated);
    await page.mouse.move(...spot(0.1, 0.2));
    await page.mouse.down();
    for (const f of [0.3, 0.5, 0.7, 0.9]) await page.mouse.move(...spot(f, 0.8 - f / 2), { steps: 8 });
    await page.mouse.up();
    await page.waitForTimeout(500);
    assert.notEqual(await page.$eval('#latent-preview', (c) => c.dataset.updated), previewBefore);
    const dragTasks = await page.evaluate((t) => window.__longtasks.filter((e) => e.start >= t).map((e) => Math.round(e.duration)), dragStart);
    console.log(`  ${backend}: long tasks while dragging on the map: ${JSON.stringify(dragTasks)}`);
    assert.ok(dragTasks.every((d) => d <= 50), `a main-thread task over 50 ms while dragging: ${dragTasks}`);

    // The strip's ends from elsewhere: the map's point (the second end: the grid click set the
    // first), then a sketch (the first end again). Each fade's end is that digit as it is.
    const newStrip = async (button) => {
      const before = await page.$eval('#interp-strip', (c) => c.dataset.updated);
      await page.click(button);
      await page.waitForFunction((b) => document.querySelector('#interp-strip').dataset.updated !== b, before);
      return canvasImages(page, '#interp-strip', 10, 2);
    };
    strip = await newStrip('#interp-map');
    assert.match(await page.textContent('#interp-caption'), /From a test 1 to the map's point/);
    assert.ok(mse(strip[19], await canvasDigit(page, '#latent-preview')) < 1e-4, 'the strip does not end at the map\'s point');
    await page.locator('#sketch').scrollIntoViewIfNeeded();
    const pad = await page.locator('#sketch').boundingBox();
    const onPad = (fx, fy) => [pad.x + fx * pad.width, pad.y + fy * pad.height];
    await page.mouse.move(...onPad(0.5, 0.2));
    await page.mouse.down();
    await page.mouse.move(...onPad(0.5, 0.8), { steps: 8 }); // a "1"
    await page.mouse.up();
    await page.waitForTimeout(300);
    strip = await newStrip('#interp-sketch');
    assert.match(await page.textContent('#interp-caption'), /From your sketch to the map's point/);
    const sketched = await canvasDigit(page, '#sketch-input');
    assert.ok(sketched.some((v) => v > 0.5) && mse(strip[10], sketched) < 1e-4, 'the strip does not start at the sketch');
    const mapDrawn = map.updated;
    await page.selectOption('#latent-plane', 'axes');
    await page.waitForFunction((b) => document.querySelector('#latent-map').dataset.updated !== b, mapDrawn);
    assert.match(await page.textContent('#latent-caption'), /code axes 0 and 1/);

    // An autoencoder's "generate a 3": a Gaussian fitted to the codes of test 3s.
    await page.selectOption('#generate-class', '3');
    await page.waitForFunction(() => document.querySelector('#generated').dataset.updated);
    assert.match(await page.textContent('#generate-caption'), /Gaussian fitted to the codes of \d+ test digits labelled 3/);
    const threes = await canvasImages(page, '#generated', 8, 1);
    assert.equal(threes.length, 64);
    assert.ok(threes.every((d) => d.some((v) => v > 0.5)), 'a generated digit is blank');
    assert.ok(await page.$eval('#manifold-figure', (f) => f.hidden), 'the manifold is the 2-D VAE\'s');

    // The comparison: choosing conv-transpose keeps upsample's weights; both are measured.
    const rows = () => page.$$eval('#compare [data-model]', (rs) => rs.map((r) => [r.dataset.model, r.textContent]));
    await page.waitForFunction(() => document.querySelector('#compare [data-model="upsample"]'));
    await page.selectOption('#model', 'conv-transpose');
    await page.waitForFunction(() => document.querySelectorAll('#compare [data-model]').length === 2
      && /MSE/.test(document.querySelector('#compare [data-model="conv-transpose"]')?.textContent), null, { timeout: 60_000 });
    const compared = await rows();
    console.log(`  compare: ${compared.map(([, t]) => t).join(' | ')}`);
    assert.deepEqual(compared.map(([m]) => m), ['conv-transpose', 'upsample']);
    const mseOf = (text) => Number(/MSE ([0-9.]+)/.exec(text)[1]);
    // On these 1,000 test images upsample beats conv-transpose (0.0045 vs 0.0080 on all 10,000).
    assert.ok(mseOf(compared[1][1]) < mseOf(compared[0][1]), JSON.stringify(compared));
    // The heat map row is not black: reconstructions are not exact.
    const heat = await page.$eval('#compare-conv-transpose', (c) => {
      const d = c.getContext('2d').getImageData(0, c.height / 2 + 2, c.width, c.height / 2 - 2).data;
      let red = 0;
      for (let i = 0; i < d.length; i += 4) red += d[i];
      return red / (d.length / 4);
    });
    assert.ok(heat > 2, `the heat map is black (${heat})`);
    // The sketch on the pad is the comparison's last column, each model's error on it named;
    // cleared, the rows come back without it and with the figures measured before.
    const width = (id) => page.$eval(id, (c) => c.width);
    assert.equal(await width('#compare-upsample'), 11 * 58 - 2, 'no sketch column');
    assert.ok(compared.every(([, text]) => /your sketch: MSE [0-9.]+/.test(text)), JSON.stringify(compared));
    await page.click('#clear-sketch');
    await page.waitForFunction(() => !/your sketch/.test(document.querySelector('#compare').textContent)
      && document.querySelectorAll('#compare [data-model]').length === 2, null, { timeout: 10_000 });
    assert.equal(await width('#compare-upsample'), 10 * 58 - 2);
    assert.deepEqual((await rows()).map(([, t]) => mseOf(t)), compared.map(([, t]) => mseOf(t)));

    const shoot = (id, name) => page.locator(id).screenshot({ path: path.join(ARTIFACTS, `view-${name}-${backend}.png`) });
    await shoot('#interp-strip', 'interpolation');
    await shoot('#generated', 'generated-threes');

    // The pretrained VAE: its 2-number code is its own map; it samples its prior.
    const gridBefore = await page.$eval('#recon-grid', (c) => c.dataset.updated);
    await page.selectOption('#model', 'vae');
    await page.waitForFunction((b) => document.querySelector('#recon-grid').dataset.updated !== b, gridBefore);
    await page.waitForFunction(() => /2 numbers on code axes 0 and 1/.test(document.querySelector('#latent-caption').textContent)
      && document.querySelector('#latent-map').dataset.knnCode, null, { timeout: 60_000 });
    const pretrainedVae = await page.$eval('#latent-map', (c) => ({ ...c.dataset }));
    assert.equal(pretrainedVae.knnCode, pretrainedVae.knnMap);
    console.log(`  ${backend}: the pretrained VAE's map, 5-NN accuracy ${pretrainedVae.knnCode}`);
    await page.locator('#latent-map').screenshot({ path: path.join(ARTIFACTS, `view-map-${backend}.png`) });
    const vaeDrawn = await page.$eval('#generated', (c) => c.dataset.updated);
    await page.click('#generate');
    await page.waitForFunction((b) => document.querySelector('#generated').dataset.updated !== b, vaeDrawn);
    await page.waitForFunction(() => document.querySelectorAll('#compare [data-model]').length === 3, null, { timeout: 60_000 });
    await page.waitForFunction(() => /MSE/.test(document.querySelector('#compare [data-model="vae"]')?.textContent), null, { timeout: 60_000 });
    await shoot('#generated', 'generated-vae');
    await shoot('#manifold', 'manifold');
    await shoot('#compare', 'compare');

    // A fresh VAE trained briefly here samples its prior and draws its manifold.
    await trainBriefly(page, { model: 'vae', size: 2000, batch: 50, epochs: 2 });
    const drawn = await page.$eval('#generated', (c) => c.dataset.updated);
    await page.click('#generate');
    await page.waitForFunction((b) => document.querySelector('#generated').dataset.updated !== b, drawn);
    assert.match(await page.textContent('#generate-caption'), /the VAE's prior, N\(0, I\)/);
    assert.ok(await page.$eval('#generate-class', (s) => s.disabled), 'a prior has no classes');
    assert.ok(!await page.$eval('#manifold-figure', (f) => f.hidden), 'no manifold for the 2-D VAE');
    const manifold = await canvasImages(page, '#manifold', 15, 1);
    assert.equal(manifold.length, 225);
    assert.ok(mse(manifold[0], manifold[224]) > 0.01, 'the manifold\'s corners are the same digit');
    // Its 2-number code is its own map.
    await page.waitForFunction(() => /2 numbers on code axes 0 and 1/.test(document.querySelector('#latent-caption').textContent)
      && document.querySelector('#latent-map').dataset.knnCode, null, { timeout: 60_000 });
    const vaeMap = await page.$eval('#latent-map', (c) => ({ ...c.dataset }));
    assert.equal(vaeMap.knnCode, vaeMap.knnMap);
    // Three models compared now, the VAE trained here among them.
    await page.waitForFunction(() => document.querySelectorAll('#compare [data-model]').length === 3
      && /trained here/.test(document.querySelector('#compare [data-model="vae"]')?.textContent), null, { timeout: 60_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, `lab-inside-${backend}.png`), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
}

test('Inside the model (CPU): the latent map, the interpolation strip, generated digits from a VAE and an autoencoder, the comparison', { timeout: 180_000 }, async () => {
  await insideTheModel(CPU_ARGS, 'cpu');
});

test('Inside the model (WebGPU): the same views on the WebGPU backend', { timeout: 420_000 }, async () => {
  await insideTheModel(GPU_ARGS, 'webgpu');
});

test('Layout: the page at 1400×1000 and at a phone\'s 390×844, reachable by keyboard', { timeout: 120_000 }, async () => {
  const { browser, page, errors } = await openLab(CPU_ARGS);
  try {
    await waitForLab(page, dataLoaded);
    await page.waitForFunction(() => document.querySelector('#latent-map').dataset.updated, null, { timeout: 60_000 });
    // The pretrained model's run and test figures are there at once, from the manifest.
    await page.waitForFunction(() => document.querySelector('#metrics').dataset.mse);
    assert.match(await page.textContent('#model-about'), /\w/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'layout-1400x1000.png') });
    // Keyboard: Tab reaches the controls in order, and the sketch pad clears with Delete.
    await page.focus('#model');
    const reached = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => document.activeElement.id));
    }
    assert.deepEqual(reached.slice(0, 3), ['epochs', 'code-size', 'batch-size']);
    const pad = await page.locator('#sketch').boundingBox();
    await page.mouse.move(pad.x + pad.width * 0.5, pad.y + pad.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(pad.x + pad.width * 0.5, pad.y + pad.height * 0.8, { steps: 8 });
    await page.mouse.up();
    await page.waitForTimeout(300);
    assert.ok((await canvasDigit(page, '#sketch-input')).some((v) => v > 0.5), 'the stroke left no ink');
    await page.focus('#sketch');
    await page.keyboard.press('Delete');
    await page.waitForTimeout(300);
    assert.ok((await canvasDigit(page, '#sketch-input')).every((v) => v === 0), 'Delete did not clear the pad');

    // A phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone's screen`);
    // Touch, as a phone's finger (CDP touch events, which Chromium turns into pointer events
    // of type "touch"): a stroke on the pad draws instead of scrolling the page, and a touch
    // on the latent map decodes its point.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
    const swipe = async (id, from, to) => {
      await page.locator(id).scrollIntoViewIfNeeded();
      const box = await page.locator(id).boundingBox();
      const at = ([fx, fy]) => ({ x: box.x + fx * box.width, y: box.y + fy * box.height });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(from)] });
      for (let i = 1; i <= 8; i++) {
        const f = [from[0] + (to[0] - from[0]) * i / 8, from[1] + (to[1] - from[1]) * i / 8];
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at(f)] });
      }
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await page.waitForTimeout(300);
    };
    await page.locator('#sketch').scrollIntoViewIfNeeded();
    const scrolled = await page.evaluate(() => window.scrollY);
    await swipe('#sketch', [0.5, 0.15], [0.5, 0.85]);
    assert.ok((await canvasDigit(page, '#sketch-input')).some((v) => v > 0.5), 'a touch stroke left no ink');
    assert.equal(await page.evaluate(() => window.scrollY), scrolled, 'a stroke on the pad scrolled the page');
    const previewed = await page.$eval('#latent-preview', (c) => c.dataset.updated ?? '');
    await swipe('#latent-map', [0.3, 0.5], [0.7, 0.5]);
    await page.waitForFunction((b) => (document.querySelector('#latent-preview').dataset.updated ?? '') !== b, previewed);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, 'layout-390x844.png') });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
