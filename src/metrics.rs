//! Reconstruction quality: per-pixel MSE, PSNR, per-image L2 norm and SSIM.
//!
//! The per-image functions work on host slices of 28×28 values in [0, 1];
//! [`evaluate`] runs a model over a set of images and averages them.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, ImageSet, Perturbation, images_tensor, unit};
use crate::model::{Model, ModelConfig, ModelKind, ReadError, read_values};

/// Side of the SSIM Gaussian window.
pub(crate) const SSIM_WINDOW: usize = 11;
const SSIM_SIGMA: f64 = 1.5;
pub(crate) const SSIM_C1: f64 = 0.01 * 0.01;
pub(crate) const SSIM_C2: f64 = 0.03 * 0.03;

/// Mean quality figures over a set of images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean per-pixel squared error.
    pub mse: f64,
    /// Peak signal-to-noise ratio of the mean MSE, in dB (data range 1).
    pub psnr_db: f64,
    /// Mean structural similarity.
    pub ssim: f64,
    /// Mean per-image L2 norm of the error, √Σ(x−y)².
    pub l2_per_image: f64,
    /// How many images were measured.
    pub images: usize,
    /// When the model was given corrupted inputs (a denoising check): the inputs' own PSNR
    /// and SSIM against the clean images, what the model started from.
    #[serde(default)]
    pub input_psnr_db: Option<f64>,
    #[serde(default)]
    pub input_ssim: Option<f64>,
}

/// Sum of squared differences.
pub fn squared_error(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum()
}

/// PSNR in dB for a mean squared error over data in [0, 1].
pub fn psnr_db(mse: f64) -> f64 {
    10.0 * (1.0 / mse).log10()
}

/// Mean SSIM of two 28×28 images over the valid region (windows fully inside the image).
pub fn ssim(x: &[f32], y: &[f32]) -> f64 {
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let y: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
    let product = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).collect::<Vec<_>>();
    let mu_x = gaussian_valid(&x);
    let mu_y = gaussian_valid(&y);
    let xx = gaussian_valid(&product(&x, &x));
    let yy = gaussian_valid(&product(&y, &y));
    let xy = gaussian_valid(&product(&x, &y));
    let n = mu_x.len();
    (0..n)
        .map(|i| {
            let (mx, my) = (mu_x[i], mu_y[i]);
            let var_x = xx[i] - mx * mx;
            let var_y = yy[i] - my * my;
            let cov = xy[i] - mx * my;
            ((2.0 * mx * my + SSIM_C1) * (2.0 * cov + SSIM_C2))
                / ((mx * mx + my * my + SSIM_C1) * (var_x + var_y + SSIM_C2))
        })
        .sum::<f64>()
        / n as f64
}

/// The normalised 1-D Gaussian of the SSIM window.
pub(crate) fn gaussian_kernel() -> [f64; SSIM_WINDOW] {
    let centre = (SSIM_WINDOW / 2) as f64;
    let mut kernel = [0.0; SSIM_WINDOW];
    for (i, k) in kernel.iter_mut().enumerate() {
        *k = (-((i as f64 - centre).powi(2)) / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let total: f64 = kernel.iter().sum();
    kernel.map(|k| k / total)
}

/// Separable Gaussian filter of a 28×28 image, 'valid' mode (18×18 output).
fn gaussian_valid(image: &[f64]) -> Vec<f64> {
    let kernel = gaussian_kernel();
    let out = IMAGE_SIDE - SSIM_WINDOW + 1;
    let mut rows = vec![0.0; IMAGE_SIDE * out];
    for r in 0..IMAGE_SIDE {
        for c in 0..out {
            rows[r * out + c] = (0..SSIM_WINDOW)
                .map(|k| kernel[k] * image[r * IMAGE_SIDE + c + k])
                .sum();
        }
    }
    let mut result = vec![0.0; out * out];
    for r in 0..out {
        for c in 0..out {
            result[r * out + c] = (0..SSIM_WINDOW)
                .map(|k| kernel[k] * rows[(r + k) * out + c])
                .sum();
        }
    }
    result
}

/// Running sums of the per-image figures.
#[derive(Debug, Default, Clone, Copy)]
struct MetricsAccumulator {
    squared_error: f64,
    l2: f64,
    ssim: f64,
    images: usize,
}

impl MetricsAccumulator {
    /// Adds pairs of originals and reconstructions (both `n × 784`).
    pub fn add(&mut self, originals: &[f32], reconstructions: &[f32]) {
        for (x, y) in originals
            .chunks_exact(IMAGE_PIXELS)
            .zip(reconstructions.chunks_exact(IMAGE_PIXELS))
        {
            let se = squared_error(x, y);
            self.squared_error += se;
            self.l2 += se.sqrt();
            self.ssim += ssim(x, y);
            self.images += 1;
        }
    }

    /// The means so far.
    pub fn finish(&self) -> Metrics {
        let n = self.images.max(1) as f64;
        let mse = self.squared_error / (n * IMAGE_PIXELS as f64);
        Metrics {
            mse,
            psnr_db: psnr_db(mse),
            ssim: self.ssim / n,
            l2_per_image: self.l2 / n,
            images: self.images,
            input_psnr_db: None,
            input_ssim: None,
        }
    }
}

/// Reconstructs the images at `indices` with `model` (in inference mode) and measures them,
/// `batch_size` at a time.
pub async fn evaluate(
    model: &Model,
    set: &ImageSet,
    indices: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<Metrics, ReadError> {
    let mut evaluation = Evaluation::new(model, set, indices);
    while !evaluation.is_finished() {
        evaluation.measure(batch_size, device).await?;
    }
    Ok(evaluation.metrics())
}

/// How many of `model`'s code units are dead on the images at `indices`: zero for every one
/// of them (a ReLU that never fires; a conv model with a 4-channel code can lose a channel
/// so). For the conv models a unit is a channel (its 7 × 7 values), else one number.
pub async fn dead_code_units(
    model: &Model,
    config: ModelConfig,
    set: &ImageSet,
    indices: &[usize],
    device: &Device,
) -> Result<usize, ReadError> {
    let model = model.valid();
    let channels = match config.kind {
        ModelKind::ConvTranspose | ModelKind::Upsample => config.code_size / 49,
        ModelKind::Ffnn | ModelKind::Deep | ModelKind::Vae => config.code_size,
    };
    let mut largest = vec![0f32; channels];
    for chunk in indices.chunks(500) {
        let code = model.encode(images_tensor(set.values(chunk), device));
        let values = read_values(code.abs().max_dim(0)).await?;
        for (unit, value) in values.iter().enumerate() {
            let channel = unit * channels / values.len();
            largest[channel] = largest[channel].max(*value);
        }
    }
    Ok(largest.iter().filter(|&&v| v == 0.0).count())
}

/// A measurement taken a chunk at a time, so that the page and the worker can report how
/// far it is and let other work in between chunks.
pub struct Evaluation<'a> {
    model: Model,
    set: &'a ImageSet,
    indices: &'a [usize],
    done: usize,
    accumulator: MetricsAccumulator,
    /// Inputs changed before the model sees them, and the changed inputs' own figures
    /// against the images they came from.
    perturbation: Option<Perturbation>,
    inputs: MetricsAccumulator,
}

/// Images on their way through the model: the originals (what the model should give back),
/// what it was given, and the queued reconstructions.
pub struct Chunk {
    pub originals: Vec<f32>,
    pub inputs: Option<Vec<f32>>,
    pub reconstructions: Tensor<4>,
}

impl<'a> Evaluation<'a> {
    /// Measures `model` (in inference mode) on the images of `set` at `indices`.
    pub fn new(model: &Model, set: &'a ImageSet, indices: &'a [usize]) -> Self {
        Self {
            model: model.valid(),
            set,
            indices,
            done: 0,
            accumulator: MetricsAccumulator::default(),
            perturbation: None,
            inputs: MetricsAccumulator::default(),
        }
    }

    /// Measures on the images changed by `perturbation` (a denoising or robustness check).
    pub fn with_perturbation(mut self, perturbation: Perturbation) -> Self {
        self.perturbation = Some(perturbation);
        self
    }

    /// Measures the next `count` images (at least one); returns how many it measured.
    pub async fn measure(&mut self, count: usize, device: &Device) -> Result<usize, ReadError> {
        let Some(chunk) = self.enqueue(count, device) else {
            return Ok(0);
        };
        let reconstructions = read_values(chunk.reconstructions).await?;
        Ok(self.add(&chunk.originals, chunk.inputs.as_deref(), &reconstructions))
    }

    /// [`Evaluation::measure`] in steps: queues the next `count` images' forward pass on
    /// the device; the caller reads the reconstructions back and [`Evaluation::add`]s them.
    pub fn enqueue(&mut self, count: usize, device: &Device) -> Option<Chunk> {
        let end = (self.done + count.max(1)).min(self.indices.len());
        let indices = &self.indices[self.done..end];
        if indices.is_empty() {
            return None;
        }
        let (originals, inputs) = match &self.perturbation {
            None => (self.set.values(indices), None),
            Some(perturbation) => {
                let (clean, input) = perturbation.apply(self.set, indices);
                let values = |pixels: Vec<u8>| pixels.into_iter().map(unit).collect::<Vec<_>>();
                let input = perturbation.corrupts().then(|| values(input));
                (values(clean), input)
            }
        };
        let images = images_tensor(inputs.clone().unwrap_or_else(|| originals.clone()), device);
        let reconstructions = self.model.forward(images);
        self.done = end;
        Some(Chunk {
            originals,
            inputs,
            reconstructions,
        })
    }

    /// Measures a chunk's reconstructions (and its corrupted inputs, if any) against its
    /// originals; returns how many images.
    pub fn add(
        &mut self,
        originals: &[f32],
        inputs: Option<&[f32]>,
        reconstructions: &[f32],
    ) -> usize {
        if let Some(inputs) = inputs {
            self.inputs.add(originals, inputs);
        }
        self.accumulator.add(originals, reconstructions);
        originals.len() / IMAGE_PIXELS
    }

    /// How many images are measured (or queued) so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// How many images the measurement covers.
    pub fn count(&self) -> usize {
        self.indices.len()
    }

    pub fn is_finished(&self) -> bool {
        self.done == self.indices.len()
    }

    /// The metrics of the images measured so far.
    pub fn metrics(&self) -> Metrics {
        let inputs = (self.inputs.images > 0).then(|| self.inputs.finish());
        Metrics {
            input_psnr_db: inputs.map(|m| m.psnr_db),
            input_ssim: inputs.map(|m| m.ssim),
            ..self.accumulator.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    fn pattern() -> Vec<f32> {
        (0..IMAGE_PIXELS)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect()
    }

    #[test]
    fn identical_images_are_perfect() {
        let x = pattern();
        assert_eq!(squared_error(&x, &x), 0.0);
        assert!(close(ssim(&x, &x), 1.0, 1e-12));
        let mut acc = MetricsAccumulator::default();
        acc.add(&x, &x);
        let m = acc.finish();
        assert_eq!((m.mse, m.l2_per_image, m.images), (0.0, 0.0, 1));
        assert!(m.psnr_db.is_infinite());
    }

    #[test]
    fn constant_images_have_the_luminance_only_ssim() {
        // No variance anywhere: SSIM = (2ab + C1) / (a² + b² + C1).
        let (a, b) = (0.5, 0.25);
        let x = vec![a as f32; IMAGE_PIXELS];
        let y = vec![b as f32; IMAGE_PIXELS];
        let expected = (2.0 * a * b + SSIM_C1) / (a * a + b * b + SSIM_C1);
        assert!(close(ssim(&x, &y), expected, 1e-9), "{}", ssim(&x, &y));
        assert!(close(expected, 0.800_064, 1e-6));
    }

    #[test]
    fn inverted_image_has_negative_structure() {
        let x = pattern();
        let y: Vec<f32> = x.iter().map(|v| 1.0 - v).collect();
        assert!(ssim(&x, &y) < 0.0);
    }

    #[test]
    fn mse_psnr_and_l2_by_hand() {
        // Two images: one all-zero vs 0.5 everywhere, one exact.
        let x = vec![0.0; 2 * IMAGE_PIXELS];
        let mut y = vec![0.0; 2 * IMAGE_PIXELS];
        y[..IMAGE_PIXELS].fill(0.5);
        let mut acc = MetricsAccumulator::default();
        acc.add(&x, &y);
        let m = acc.finish();
        // Squared error of image 0: 784 × 0.25 = 196; mean over 1568 pixels = 0.125.
        assert!(close(m.mse, 0.125, 1e-12));
        assert!(close(m.psnr_db, 10.0 * 8f64.log10(), 1e-9));
        // L2: √196 = 14 and 0 → mean 7.
        assert!(close(m.l2_per_image, 7.0, 1e-12));
    }

    #[test]
    fn gaussian_window_is_normalised_and_symmetric() {
        let k = gaussian_kernel();
        assert!(close(k.iter().sum(), 1.0, 1e-12));
        assert!(close(k[0], k[10], 1e-15));
        assert!(k[5] > k[4]);
    }

    #[test]
    fn a_measurement_in_chunks_equals_one_in_a_single_pass() {
        use crate::model::{ModelConfig, ModelKind, ready};
        let device = Device::flex();
        let pixels = (0..9 * IMAGE_PIXELS).map(|i| (i * 7 % 256) as u8).collect();
        let set = ImageSet::new(pixels, vec![0; 9]).unwrap();
        let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
        let indices: Vec<usize> = (0..9).collect();
        let whole = ready(evaluate(&model, &set, &indices, 9, &device)).unwrap();
        let mut evaluation = Evaluation::new(&model, &set, &indices);
        let mut chunks = Vec::new();
        while !evaluation.is_finished() {
            chunks.push(ready(evaluation.measure(4, &device)).unwrap());
        }
        assert_eq!(chunks, [4, 4, 1]);
        let chunked = evaluation.metrics();
        assert_eq!(chunked.images, 9);
        // Equal up to rounding: a matrix product may sum in another order at another batch size.
        assert!(
            close(chunked.mse, whole.mse, 1e-6),
            "{chunked:?} vs {whole:?}"
        );
        assert!(
            close(chunked.ssim, whole.ssim, 1e-6),
            "{chunked:?} vs {whole:?}"
        );
        assert_eq!(ready(evaluation.measure(4, &device)).unwrap(), 0);
    }

    #[test]
    #[cfg(not(target_family = "wasm"))] // pollster drives the async reads natively
    fn code_units_that_never_fire_are_counted_dead() {
        use pollster::block_on;
        let device = Device::flex();
        let config = ModelConfig::new(ModelKind::Ffnn);
        let model = config.init(&device).unwrap();
        let mut values = block_on(model.values()).unwrap();
        // The encoder's weights (784 × 32), then its biases: units 0 and 5 get a bias no
        // input can overcome, so their ReLU never fires; the others one that always does.
        let biases = IMAGE_PIXELS * 32;
        for (unit, bias) in values[biases..biases + 32].iter_mut().enumerate() {
            *bias = if unit == 0 || unit == 5 { -1e3 } else { 1e3 };
        }
        let model = model.with_values(&values, &device).unwrap();
        let pixels = (0..20 * IMAGE_PIXELS)
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        let set = ImageSet::new(pixels, vec![0; 20]).unwrap();
        let indices: Vec<usize> = (0..20).collect();
        let dead = block_on(dead_code_units(&model, config, &set, &indices, &device)).unwrap();
        assert_eq!(dead, 2);
    }
}
