//! The five models, one file each, behind one [`Model`] enum: four autoencoders and a variational
//! autoencoder.
//!
//! Every model maps `[n, 1, 28, 28]` images in [0, 1] to a flat code `[n, code_size]`
//! ([`Model::encode`]) and back ([`Model::decode`]); [`Model::forward`] reconstructs.
//! [`read_values`] brings results back to the host, the one way that works on every device.

pub mod conv;
mod conv_transpose;
mod deep;
mod encoder;
mod ffnn;
pub mod matmul;
mod read;
mod sigmoid;
mod upsample;
mod vae;

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

pub use conv_transpose::ConvTranspose;
pub use deep::Deep;
pub use ffnn::Ffnn;
#[cfg(test)]
pub use read::ready;
pub use read::{ReadError, read_values};
pub use upsample::Upsample;
pub use vae::Vae;

/// Which of the five architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Ffnn,
    ConvTranspose,
    Upsample,
    Deep,
    Vae,
}

impl ModelKind {
    pub const ALL: [ModelKind; 5] = [
        Self::Ffnn,
        Self::ConvTranspose,
        Self::Upsample,
        Self::Deep,
        Self::Vae,
    ];

    /// The name used on the command line, in files and in the page.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ffnn => "ffnn",
            Self::ConvTranspose => "conv-transpose",
            Self::Upsample => "upsample",
            Self::Deep => "deep",
            Self::Vae => "vae",
        }
    }

    /// The code size of the reference architecture.
    pub fn default_code_size(self) -> usize {
        match self {
            Self::Ffnn => 32,
            Self::ConvTranspose | Self::Upsample => 4 * 7 * 7,
            Self::Deep => 4,
            Self::Vae => 2,
        }
    }

    /// The batch size of the reference protocol (the `deep` model's own seed uses 100).
    pub fn default_batch_size(self) -> usize {
        match self {
            Self::Deep => 100,
            _ => 20,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| ModelError::UnknownKind(s.to_string()))
    }
}

/// An invalid model choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model '{0}' (expected ffnn, conv-transpose, upsample, deep or vae)")]
    UnknownKind(String),
    #[error("{kind}: code size {code_size} is not valid ({rule})")]
    BadCodeSize {
        kind: ModelKind,
        code_size: usize,
        rule: &'static str,
    },
}

/// The largest code a model may have: past it a code is no longer a summary (the images
/// themselves have 784 numbers), and the page's views (the map's PCA, the generators'
/// covariances) stay quick.
pub const MAX_CODE_SIZE: usize = 256;

/// What is needed to build a model: its kind and code size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub kind: ModelKind,
    pub code_size: usize,
}

impl ModelConfig {
    /// The reference architecture of `kind`.
    pub fn new(kind: ModelKind) -> Self {
        Self {
            kind,
            code_size: kind.default_code_size(),
        }
    }

    /// Checks the code size fits the architecture.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |rule| {
            Err(ModelError::BadCodeSize {
                kind: self.kind,
                code_size: self.code_size,
                rule,
            })
        };
        match self.kind {
            _ if self.code_size == 0 => bad("it must be positive"),
            ModelKind::ConvTranspose | ModelKind::Upsample
                if !self.code_size.is_multiple_of(49) =>
            {
                bad("a convolutional code is channels × 7 × 7, a multiple of 49")
            }
            _ if self.code_size > MAX_CODE_SIZE => bad("at most 256"),
            _ => Ok(()),
        }
    }

    /// Builds a freshly initialised model on `device`.
    pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
        self.validate()?;
        Ok(match self.kind {
            ModelKind::Ffnn => Model::Ffnn(Ffnn::new(self.code_size, device)),
            ModelKind::ConvTranspose => {
                Model::ConvTranspose(ConvTranspose::new(self.code_size / 49, device))
            }
            ModelKind::Upsample => Model::Upsample(Upsample::new(self.code_size / 49, device)),
            ModelKind::Deep => Model::Deep(Deep::new(self.code_size, device)),
            ModelKind::Vae => Model::Vae(Vae::new(self.code_size, device)),
        })
    }
}

/// Any of the five models.
#[derive(Module, Debug)]
pub enum Model {
    Ffnn(Ffnn),
    ConvTranspose(ConvTranspose),
    Upsample(Upsample),
    Deep(Deep),
    Vae(Vae),
}

impl Model {
    /// `[n, 1, 28, 28]` images → `[n, code_size]` codes.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Self::Ffnn(m) => m.encode(images),
            Self::ConvTranspose(m) => m.encode(images),
            Self::Upsample(m) => m.encode(images),
            Self::Deep(m) => m.encode(images),
            Self::Vae(m) => m.encode(images),
        }
    }

    /// `[n, code_size]` codes → `[n, 1, 28, 28]` images in (0, 1).
    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        match self {
            Self::Ffnn(m) => m.decode(code),
            Self::ConvTranspose(m) => m.decode(code),
            Self::Upsample(m) => m.decode(code),
            Self::Deep(m) => m.decode(code),
            Self::Vae(m) => m.decode(code),
        }
    }

    /// The code a training step decodes, and the loss term its model adds: the VAE's draw
    /// and KL divergence ([`Vae::sample_code`]); the autoencoders' code and nothing.
    pub fn training_code(&self, images: Tensor<4>) -> (Tensor<2>, Option<Tensor<1>>) {
        match self {
            Self::Vae(m) => {
                let (code, kl) = m.sample_code(images);
                (code, Some(kl))
            }
            _ => (self.encode(images), None),
        }
    }

    /// Reconstructs `[n, 1, 28, 28]` images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }

    /// The device its tensors live on.
    pub fn device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .expect("every model has parameters")
    }

    /// This model on `device`: itself if it is there already, else a fork to it.
    pub fn on(self, device: &Device) -> Model {
        match self.device() == *device {
            true => self,
            false => self.fork(device),
        }
    }

    /// A copy of this model (without autodiff) on `device`, its tensors read back
    /// asynchronously: in the browser a WebGPU tensor cannot be read synchronously, so
    /// `Module::fork` cannot leave the GPU there.
    pub async fn copy_to(&self, device: &Device) -> Result<Model, ReadError> {
        let values = self.values().await?;
        Ok(self
            .valid()
            .with_values(&values, device)
            .expect("as many values as the model has"))
    }

    /// Every float tensor (parameters and running statistics) flattened into one vector,
    /// in the model's visit order, read back asynchronously.
    pub async fn values(&self) -> Result<Vec<f32>, ReadError> {
        struct Collect(Vec<Tensor<1>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let tensor = param.val();
                let len = tensor.shape().num_elements();
                self.0.push(tensor.reshape([len]));
            }
        }
        let mut collect = Collect(Vec::new());
        self.visit(&mut collect);
        let mut values = Vec::new();
        for tensor in collect.0 {
            values.extend(read_values(tensor).await?);
        }
        Ok(values)
    }

    /// This model with its float tensors replaced by `values` (as from [`Model::values`]
    /// of a model of the same configuration), on `device`; `None` if the count differs.
    /// Clones of `self` keep their values: burn maps batch norm's running statistics in
    /// place, behind an `Arc` its clones share, so the filling starts from a copy with
    /// statistics of its own (and without autodiff).
    pub fn with_values(self, values: &[f32], device: &Device) -> Option<Model> {
        let model = self.valid();
        struct Fill<'a> {
            values: &'a [f32],
            device: &'a Device,
            short: bool,
        }
        impl ModuleMapper for Fill<'_> {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let len = param.val().shape().num_elements();
                if self.values.len() < len {
                    self.short = true;
                    return param;
                }
                let (these, rest) = self.values.split_at(len);
                self.values = rest;
                let data = TensorData::new(these.to_vec(), [len]);
                let device = self.device.clone();
                param.map(move |tensor| {
                    let dims: [usize; D] = tensor.dims();
                    Tensor::<1>::from_data(data, &device).reshape(dims)
                })
            }
        }
        let mut fill = Fill {
            values,
            device,
            short: false,
        };
        let model = model.map(&mut fill);
        (!fill.short && fill.values.is_empty()).then_some(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_model_has_the_expected_shapes_and_parameter_count() {
        let device = Device::flex();
        // Parameter counts of the reference architectures (also in the README); `deep`
        // includes its 7,008 batch-norm running statistics (2,831,296 trainable).
        let expected = [
            (ModelKind::Ffnn, 32, 50_992),
            (ModelKind::ConvTranspose, 196, 1_077),
            (ModelKind::Upsample, 196, 1_477),
            (ModelKind::Deep, 4, 2_838_304),
            (ModelKind::Vae, 2, 807_700),
        ];
        for (kind, code_size, params) in expected {
            let model = ModelConfig::new(kind).init(&device).unwrap();
            let images = Tensor::<4>::ones([3, 1, 28, 28], &device);
            let code = model.encode(images.clone());
            assert_eq!(code.dims(), [3, code_size], "{kind} code");
            let out = model.forward(images);
            assert_eq!(out.dims(), [3, 1, 28, 28], "{kind} output");
            let values = out.into_data().try_to_vec::<f32>().unwrap();
            assert!(
                values.iter().all(|v| (0.0..=1.0).contains(v)),
                "{kind}: sigmoid range"
            );
            assert_eq!(model.num_params(), params, "{kind} parameters");
        }
    }

    #[test]
    fn copy_to_keeps_every_value() {
        let device = Device::flex();
        for kind in ModelKind::ALL {
            let model = ModelConfig::new(kind).init(&device).unwrap();
            let copy = ready(model.copy_to(&device)).unwrap();
            let images = Tensor::<4>::ones([2, 1, 28, 28], &device).mul_scalar(0.4);
            let a = model.forward(images.clone()).into_data();
            let b = copy.forward(images).into_data();
            assert_eq!(a, b, "{kind}");
            assert_eq!(copy.num_params(), model.num_params());
        }
    }

    #[test]
    fn filling_a_clone_leaves_the_original_alone() {
        // `deep`'s batch norm keeps running statistics, which burn shares between clones.
        let device = Device::flex();
        let model = ModelConfig::new(ModelKind::Deep).init(&device).unwrap();
        let before = ready(model.values()).unwrap();
        let zeros = vec![0.0; before.len()];
        let filled = model.clone().with_values(&zeros, &device).unwrap();
        assert!(ready(filled.values()).unwrap() == zeros);
        assert!(
            ready(model.values()).unwrap() == before,
            "the original changed"
        );
    }

    #[test]
    fn values_must_match_the_model() {
        let device = Device::flex();
        let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
        let values = ready(model.values()).unwrap();
        assert_eq!(values.len(), model.num_params());
        let shifted: Vec<f32> = values.iter().map(|v| v + 1.0).collect();
        let moved = model.clone().with_values(&shifted, &device).unwrap();
        assert_eq!(ready(moved.values()).unwrap(), shifted);
        assert!(model.clone().with_values(&values[1..], &device).is_none());
        assert!(
            model
                .with_values(&[values.clone(), vec![0.0]].concat(), &device)
                .is_none()
        );
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.name().parse::<ModelKind>(), Ok(kind));
        }
        let err = "resnet".parse::<ModelKind>().unwrap_err();
        assert!(err.to_string().contains("unknown model 'resnet'"));
    }

    #[test]
    fn conv_code_must_be_whole_channels() {
        let config = ModelConfig {
            kind: ModelKind::Upsample,
            code_size: 50,
        };
        assert!(config.init(&Device::flex()).is_err());
    }
}
