//! The training engine shared by the CLI, the page and its training worker.
//!
//! [`Trainer::advance`] is the one way to move a run on: it runs batches (training batches,
//! and a validation pass at the end of each epoch) for as long as the caller's `go_on` says,
//! so the CLI can read the losses back every 100 batches and a browser frame or worker chunk
//! can stop at its time budget. Losses stay on the device until the read-back that ends each
//! call (asynchronous, as WebGPU requires), which is also where divergence is caught and the
//! last good weights restored.

mod adam;
mod config;
pub mod device_images;
pub mod device_noise;
pub mod early_stop;
pub mod loss;
mod progress;
pub mod techniques;

use std::sync::Arc;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use rand::rngs::{StdRng, Xoshiro256PlusPlus};
use rand::{SeedableRng, seq::SliceRandom};

use crate::data::{Corrupter, IMAGE_PIXELS, ImageSet, Split, images_tensor, unit};
use crate::model::{Model, ModelKind, ReadError};
use device_images::DeviceImages;
use early_stop::{Verdict, Watch};

pub use config::{TrainConfig, TrainError};
pub use progress::{EpochRecord, Phase, Progress};

/// Adam with the reference protocol's settings (the learning rate is passed per step), and
/// AdamW's decoupled `weight_decay`.
fn adam(weight_decay: f64) -> ModuleOptimizer {
    ModuleOptimizer::from(adam::Adam::default().with_weight_decay(weight_decay as f32))
}

/// Mixed into the seed for the techniques' own generator, so that turning noise or
/// augmentation on leaves the split, the initial weights and the data order as they were.
const TECHNIQUES_SEED: u64 = 0x5EED_7EC4;
/// The validation inputs' noise is seeded per image by this and the run's seed: the same
/// every epoch, so that epochs compare.
const VALIDATION_NOISE_SEED: u64 = 0x7A11_DA7E;

/// The validation batch size unless [`Trainer::with_validation_batch`] says otherwise: no
/// gradients are kept, so it can be much larger than a training batch.
const DEFAULT_VALIDATION_BATCH: usize = 500;

/// A sum kept on the device (reading it back would stall the pipeline) and the number of
/// images it covers.
#[derive(Default)]
struct DeviceSum {
    sum: Option<Tensor<1>>,
    images: usize,
}

impl DeviceSum {
    fn add(&mut self, value: Tensor<1>, images: usize) {
        self.sum = Some(match self.sum.take() {
            Some(sum) => sum + value,
            None => value,
        });
        self.images += images;
    }
}

/// Losses computed on the device and not yet read back.
#[derive(Default)]
struct Pending {
    /// Σ (batch loss × batch size) over the training batches since the last read-back.
    train: DeviceSum,
    /// Σ squared error over the validation pass so far; read back once the pass is complete,
    /// however many calls it spans.
    validation: DeviceSum,
    /// The epoch whose validation pass finished, if any.
    finished_epoch: Option<usize>,
}

/// One training run: model, optimizer, data order and progress.
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    model: Model,
    optimizer: ModuleOptimizer,
    data: Arc<ImageSet>,
    /// The training set on a GPU device, where batches are gathered (`None` on the CPU).
    data_on_device: Option<DeviceImages>,
    split: Split,
    validation_batch: usize,
    rng: StdRng,
    order: Vec<usize>,
    phase: Phase,
    /// Index of the next batch inside the current phase.
    cursor: usize,
    epoch: usize,
    step: usize,
    images_seen: usize,
    pending: Pending,
    validation_model: Option<Model>,
    /// Weights at the start of the current loss window, and the last ones shown to give a
    /// finite loss; kept as [`kept`] copies.
    window_start: Model,
    last_good: Model,
    epoch_train_sum: f64,
    epoch_train_images: usize,
    /// Running mean training loss of the last read-back window.
    train_loss: Option<f64>,
    history: Vec<EpochRecord>,
    /// Denoising's corruption, ready to apply.
    corrupter: Option<Corrupter>,
    /// Draws the techniques' noise and augmentations.
    techniques_rng: Xoshiro256PlusPlus,
    /// Early stopping: the best epoch so far and its weights (a [`kept`] copy).
    watch: Watch,
    best_model: Option<Model>,
    stopped_early: bool,
}

impl Trainer {
    /// Starts a run on `data` (a dataset's whole training set) split by the config's seed.
    /// `device` is a plain (non-autodiff) device; training uses its autodiff form.
    pub fn new(
        config: TrainConfig,
        data: Arc<ImageSet>,
        device: Device,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        device.seed(config.seed);
        let model = config.model.init(&device.clone().autodiff())?;
        Ok(Self::with_model(config, data, device, model))
    }

    /// Continues training from existing weights (e.g. a loaded file).
    pub fn with_model(
        config: TrainConfig,
        data: Arc<ImageSet>,
        device: Device,
        model: Model,
    ) -> Self {
        let model = trainable(&model, &device);
        let split = Split::new(data.len(), config.seed, config.train_limit);
        let optimizer = adam(config.techniques.weight_decay);
        let data_on_device = on_gpu(&data, &device);
        let mut trainer = Self {
            corrupter: config.techniques.noise.map(|noise| noise.corrupter()),
            techniques_rng: Xoshiro256PlusPlus::seed_from_u64(config.seed ^ TECHNIQUES_SEED),
            watch: Watch::default(),
            best_model: None,
            stopped_early: false,
            validation_batch: DEFAULT_VALIDATION_BATCH,
            rng: StdRng::seed_from_u64(config.seed),
            order: Vec::new(),
            phase: Phase::Train,
            cursor: 0,
            epoch: 0,
            step: 0,
            images_seen: 0,
            pending: Pending::default(),
            validation_model: None,
            window_start: kept(&model),
            last_good: kept(&model),
            epoch_train_sum: 0.0,
            epoch_train_images: 0,
            train_loss: None,
            history: Vec::new(),
            config,
            device,
            model,
            optimizer,
            data,
            data_on_device,
            split,
        };
        trainer.start_epoch();
        trainer
    }

    /// Sets the validation batch size of a new run (default 500), e.g. smaller where a
    /// batch must fit a browser frame; 0 counts as 1.
    pub fn with_validation_batch(mut self, size: usize) -> Self {
        self.validation_batch = size.max(1);
        self
    }

    /// Continues this run on `device` from `model` (e.g. a copy of the weights made before
    /// a GPU device was lost). Keeps the position, data order and history; the optimizer
    /// starts afresh, losses not yet read back are dropped and an unfinished validation
    /// pass starts again.
    pub fn continue_on(&mut self, device: Device, model: Model) {
        let model = trainable(&model, &device);
        self.pending = Pending::default();
        self.optimizer = adam(self.config.techniques.weight_decay);
        if self.phase == Phase::Validate {
            self.cursor = 0;
            self.validation_model = Some(model.valid());
        }
        self.window_start = kept(&model);
        self.last_good = kept(&model);
        self.model = model;
        self.data_on_device = on_gpu(&self.data, &device);
        self.device = device;
    }

    /// The images at `indices` augmented (the target) and then, if noise is made on the
    /// host, corrupted (the input), made on the host from their u8 pixels.
    fn changed_batch(&mut self, indices: &[usize]) -> (Tensor<4>, Tensor<4>) {
        let augment = self.config.techniques.augment;
        let mut clean = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        let mut warped = [0u8; IMAGE_PIXELS];
        for &index in indices {
            let image = self.data.image(index);
            if augment.is_identity() {
                clean.extend_from_slice(image);
            } else {
                augment.apply(image, &mut warped, &mut self.techniques_rng);
                clean.extend_from_slice(&warped);
            }
        }
        let tensor =
            |pixels: &[u8]| images_tensor(pixels.iter().copied().map(unit).collect(), &self.device);
        let target = tensor(&clean);
        let on_host = self.config.techniques.noise_on_host().is_some();
        let Some(corrupter) = self.corrupter.as_ref().filter(|_| on_host) else {
            return (target.clone(), target);
        };
        for image in clean.chunks_mut(IMAGE_PIXELS) {
            corrupter.apply(image, &mut self.techniques_rng);
        }
        (tensor(&clean), target)
    }

    /// The images at `indices`: gathered on the GPU from the set kept there, else made on the host.
    fn batch(&self, indices: &[usize]) -> Tensor<4> {
        match &self.data_on_device {
            Some(images) => images.batch(indices),
            None => self.data.batch(indices, &self.device),
        }
    }

    fn start_epoch(&mut self) {
        self.order.clone_from(&self.split.train);
        self.order.shuffle(&mut self.rng);
        self.phase = Phase::Train;
        self.cursor = 0;
    }

    /// Runs one batch, then more while `go_on(batches run in this call)` returns `true`,
    /// stopping after the batch that ends an epoch's validation pass (without asking
    /// `go_on`); then reads the losses back and returns the epoch that finished, if one did.
    /// A finished run returns `Ok(None)` at once.
    ///
    /// A non-finite loss stops training, restores the last good weights and returns
    /// [`TrainError::Diverged`].
    pub async fn advance(
        &mut self,
        mut go_on: impl FnMut(usize) -> bool,
    ) -> Result<Option<EpochRecord>, TrainError> {
        if self.is_finished() {
            return Ok(None);
        }
        let mut batches = 0;
        loop {
            if self.phase == Phase::Train {
                self.train_batch();
            } else {
                self.validate_batch();
            }
            batches += 1;
            // The run finishes only at the end of an epoch, so this covers it too.
            if self.pending.finished_epoch.is_some() || !go_on(batches) {
                break;
            }
        }
        self.read_back().await
    }

    fn train_batch(&mut self) {
        let batch_size = self.config.batch_size;
        let start = self.cursor * batch_size;
        let indices = &self.order[start..(start + batch_size).min(self.order.len())];
        let count = indices.len();
        let (input, target) = if self.config.techniques.change_on_host() {
            let indices = indices.to_vec();
            self.changed_batch(&indices)
        } else {
            let images = self.batch(indices);
            (images.clone(), images)
        };
        let techniques = &self.config.techniques;
        let input = match techniques.noise_on_device() {
            Some(noise) => device_noise::corrupt(input, noise),
            None => input,
        };
        let (code, model_term) = self.model.training_code(input.autodiff());
        let output = self.model.decode(code.clone());
        let mut loss = techniques.loss.forward(output, target.autodiff());
        if techniques.l1_code > 0.0 {
            loss = loss + code.abs().mean().mul_scalar(techniques.l1_code);
        }
        if let Some(kl) = model_term {
            loss = loss + kl.mul_scalar(techniques.kl_weight.0);
        }
        let weighted = loss.clone().detach().mul_scalar(count as f64);
        self.pending.train.add(weighted, count);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = self.model.clone();
        self.model = self.optimizer.step(self.config.learning_rate, model, grads);
        self.step += 1;
        self.images_seen += count;
        self.cursor += 1;
        if self.cursor * batch_size >= self.order.len() {
            self.phase = Phase::Validate;
            self.cursor = 0;
            self.validation_model = Some(self.model.valid());
        }
    }

    fn validate_batch(&mut self) {
        let batch_size = self.validation_batch;
        let start = self.cursor * batch_size;
        let validation = &self.split.validation;
        let indices = &validation[start..(start + batch_size).min(validation.len())];
        let model = self
            .validation_model
            .as_ref()
            .expect("set when validation starts");
        let images = self.batch(indices);
        let input = match &self.corrupter {
            Some(corrupter) => {
                let mut pixels: Vec<u8> = indices
                    .iter()
                    .flat_map(|&i| self.data.image(i).iter().copied())
                    .collect();
                let seed = self.config.seed ^ VALIDATION_NOISE_SEED;
                corrupter.apply_seeded(&mut pixels, indices, seed);
                images_tensor(pixels.into_iter().map(unit).collect(), &self.device)
            }
            None => images.clone(),
        };
        let error = (model.forward(input) - images).square().sum();
        self.pending.validation.add(error, indices.len());
        self.cursor += 1;
        if self.cursor * batch_size >= validation.len() {
            self.validation_model = None;
            self.pending.finished_epoch = Some(self.epoch + 1);
            self.epoch += 1;
            if self.epoch >= self.config.epochs {
                self.phase = Phase::Finished;
            } else {
                self.start_epoch();
            }
        }
    }

    /// Reads back the pending losses, updates the running loss and history, and returns
    /// the epoch that just finished, if one did.
    async fn read_back(&mut self) -> Result<Option<EpochRecord>, TrainError> {
        let train = std::mem::take(&mut self.pending.train);
        let finished_epoch = self.pending.finished_epoch.take();
        if let Some(sum) = train.sum {
            let sum: f32 = sum.into_scalar_async().await.map_err(ReadError::from)?;
            if !sum.is_finite() {
                return Err(self.diverge(sum));
            }
            self.train_loss = Some(f64::from(sum) / train.images as f64);
            self.epoch_train_sum += f64::from(sum);
            self.epoch_train_images += train.images;
            self.last_good = std::mem::replace(&mut self.window_start, kept(&self.model));
        }
        let Some(epoch) = finished_epoch else {
            return Ok(None);
        };
        let validation = std::mem::take(&mut self.pending.validation);
        let val_sum: f32 = match validation.sum {
            Some(sum) => sum.into_scalar_async().await.map_err(ReadError::from)?,
            None => f32::NAN,
        };
        if !val_sum.is_finite() {
            return Err(self.diverge(val_sum));
        }
        let record = EpochRecord {
            epoch,
            train_mse: self.epoch_train_sum / self.epoch_train_images.max(1) as f64,
            val_mse: f64::from(val_sum) / (validation.images * IMAGE_PIXELS) as f64,
        };
        self.history.push(record);
        self.epoch_train_sum = 0.0;
        self.epoch_train_images = 0;
        self.watch_validation(record);
        Ok(Some(record))
    }

    /// Early stopping: keeps the best epoch's weights, stops when patience is spent, and
    /// ends every run on its best weights.
    fn watch_validation(&mut self, record: EpochRecord) {
        let Some(rule) = self.config.techniques.early_stop else {
            return;
        };
        match self.watch.observe(rule, record.epoch, record.val_mse) {
            Verdict::Best => self.best_model = Some(kept(&self.model)),
            Verdict::Wait => {}
            Verdict::Stop => {
                self.stopped_early = true;
                self.phase = Phase::Finished;
            }
        }
        if self.phase == Phase::Finished
            && let Some(best) = self.best_model.take()
        {
            self.model = trainable(&best, &self.device);
            self.window_start = best.clone();
            self.last_good = best;
        }
    }

    fn diverge(&mut self, loss: f32) -> TrainError {
        self.model = trainable(&self.last_good, &self.device);
        self.window_start = self.last_good.clone();
        self.phase = Phase::Finished;
        TrainError::Diverged {
            step: self.step,
            loss,
        }
    }

    /// Where the run is, as plain data.
    pub fn progress(&self) -> Progress {
        Progress {
            step: self.step,
            epoch: self.epoch,
            epochs: self.config.epochs,
            fraction: self.fraction(),
            images_seen: self.images_seen,
            train_images: self.split.train.len(),
            steps_per_epoch: self.steps_per_epoch(),
            train_loss: self.train_loss,
            history: self.history.clone(),
            finished: self.is_finished(),
            best_epoch: self.watch.best_epoch(),
            stopped_early: self.stopped_early,
        }
    }

    /// The model being trained (with autodiff; use `.valid()` for inference).
    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Finished epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Training steps (optimizer updates) so far.
    pub fn global_step(&self) -> usize {
        self.step
    }

    /// Training images processed so far (counting repeats across epochs).
    pub fn images_seen(&self) -> usize {
        self.images_seen
    }

    /// Training batches per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.split.train.len().div_ceil(self.config.batch_size)
    }

    /// Validation batches per epoch.
    pub fn validation_steps(&self) -> usize {
        self.split.validation.len().div_ceil(self.validation_batch)
    }

    /// Fraction of the whole run done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        let per_epoch = (self.steps_per_epoch() + self.validation_steps()) as f64;
        let inside = match self.phase {
            Phase::Train => self.cursor,
            Phase::Validate => self.steps_per_epoch() + self.cursor,
            Phase::Finished => return 1.0,
        };
        (self.epoch as f64 * per_epoch + inside as f64) / (self.config.epochs as f64 * per_epoch)
    }

    /// The mean training loss of the last read-back window.
    pub fn train_loss(&self) -> Option<f64> {
        self.train_loss
    }

    /// Losses of the finished epochs.
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }
}

/// `data` on `device` if it is a GPU: there a batch costs an upload of its indices instead of
/// its pixels. The CPU reads the host's copy.
/// A copy of `model`, without autodiff, that later training leaves alone. A clone would not
/// do: burn's batch norm keeps its running statistics behind an `Arc` and updates them in
/// place, so a cloned `deep` kept as the best epoch would follow the run's later statistics.
fn kept(model: &Model) -> Model {
    model.valid()
}

/// `model` (e.g. a [`kept`] copy) ready to train on `device`'s autodiff form, with running
/// statistics of its own.
fn trainable(model: &Model, device: &Device) -> Model {
    model.clone().fork(&device.clone().autodiff()).train()
}

fn on_gpu(data: &ImageSet, device: &Device) -> Option<DeviceImages> {
    (*device != Device::flex()).then(|| DeviceImages::new(data, device))
}

/// One throwaway training step (and its read-back) of a fresh `kind` model at `batch_size`
/// images, on the first images of `data`. WebGPU compiles each kernel the first time it
/// runs — seconds for a training step, a minute for `deep` on a software adapter — and a
/// browser compiles wasm code lazily, so the page and the worker warm up before a run needs
/// it. A failure is dropped: a real run meets it again.
pub async fn warm_up(kind: ModelKind, batch_size: usize, data: &ImageSet, device: Device) {
    // Enough images that the split's training part holds one whole batch.
    let count = (batch_size * 2).min(data.len());
    let pixels = (0..count).flat_map(|i| data.image(i).to_vec()).collect();
    let labels = (0..count).map(|i| data.label(i)).collect();
    let Ok(sample) = ImageSet::new(pixels, labels) else {
        return;
    };
    let mut config = TrainConfig::new(kind);
    config.batch_size = batch_size;
    if let Ok(mut trainer) = Trainer::new(config, Arc::new(sample), device) {
        let _ = trainer.advance(|_| false).await;
    }
}

/// Native tests (pollster drives the async engine); `web::page_run` runs it in the browser.
#[cfg(all(test, not(target_family = "wasm")))]
mod tests;
