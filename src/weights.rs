//! Weights files: a small self-describing header followed by burn's record (burnpack).
//!
//! Layout: `MNISTAE\0` magic, format version (u32 LE), header length (u32 LE), a JSON
//! [`WeightsHeader`], payload length (u64 LE), payload CRC-32 (u32 LE), and the payload.
//! Loading checks each part, so a file for another model, a truncated or corrupted file,
//! or one from an unknown format version gives a clear [`WeightsError`].

use burn::module::{Module, ModuleMapper, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::{Model, ModelConfig, ModelKind};

const MAGIC: &[u8; 8] = b"MNISTAE\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MAX_HEADER: usize = 64 * 1024;

/// How the tensors are stored (they are always loaded as `f32`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// Half precision: half the size, for large models.
    F16,
}

/// What a weights file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsHeader {
    pub model: ModelConfig,
    /// Completed training epochs, for information.
    pub epochs: usize,
    #[serde(default)]
    pub precision: Precision,
    /// The id of the dataset the weights were trained on (any model runs on any dataset,
    /// so a mismatch is worth a warning, not a refusal).
    #[serde(default = "trained_before_datasets")]
    pub dataset: String,
}

/// Files written before the header named a dataset were all trained on MNIST.
fn trained_before_datasets() -> String {
    "mnist".into()
}

/// What can be wrong with a weights file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WeightsError {
    #[error("the file is empty")]
    Empty,
    /// The reason says what the file looks like instead, when that can be told.
    #[error("not a weights file of this lab ({0})")]
    NotWeights(String),
    #[error(
        "weights format version {found} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnknownVersion { found: u32 },
    #[error("the weights file is truncated ({0})")]
    Truncated(&'static str),
    #[error(
        "the weights file is truncated or damaged: its header declares {declared} bytes of weights, {found} follow"
    )]
    PayloadCut { declared: u64, found: usize },
    #[error("the weights file has {0} unexpected bytes at the end")]
    TrailingBytes(usize),
    #[error("the weights file's header is unreadable: {0}")]
    BadHeader(String),
    #[error("the weights file is corrupted (checksum mismatch)")]
    Corrupted,
    #[error("these weights are for the '{found}' model, not '{expected}'")]
    WrongModel {
        expected: ModelKind,
        found: ModelKind,
    },
    #[error("the weights do not fit the '{model}' model: {reason}")]
    Mismatch { model: ModelKind, reason: String },
}

/// Serialises `model` (any device, autodiff or not) with its header.
pub fn to_bytes(model: &Model, header: &WeightsHeader) -> Result<Vec<u8>, WeightsError> {
    let json = serde_json::to_vec(header).map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    let model = match header.precision {
        Precision::F32 => model.valid(),
        Precision::F16 => model.valid().map(&mut CastTo(DType::F16)),
    };
    let payload = model
        .into_record()
        .into_bytes()
        .map_err(|e| WeightsError::Mismatch {
            model: header.model.kind,
            reason: e.to_string(),
        })?;
    let mut out = Vec::with_capacity(32 + json.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Reads the header and checks the file is whole, without building a model.
pub fn read_header(bytes: &[u8]) -> Result<(WeightsHeader, &[u8]), WeightsError> {
    if bytes.is_empty() {
        return Err(WeightsError::Empty);
    }
    let mut reader = Reader(bytes);
    if !bytes.starts_with(MAGIC) {
        let reason = match crate::sniff::looks_like(bytes) {
            Some(other) => format!("it is {other}"),
            None => "it does not start with the MNISTAE signature".into(),
        };
        return Err(WeightsError::NotWeights(reason));
    }
    reader.take(MAGIC.len(), "signature")?;
    let version = reader.u32("version")?;
    if version != FORMAT_VERSION {
        return Err(WeightsError::UnknownVersion { found: version });
    }
    let header_len = reader.u32("header length")? as usize;
    if header_len > MAX_HEADER {
        return Err(WeightsError::BadHeader(format!(
            "{header_len} bytes is too long"
        )));
    }
    let header: WeightsHeader = serde_json::from_slice(reader.take(header_len, "header")?)
        .map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    header
        .model
        .validate()
        .map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    let payload_len = reader.u64("payload length")?;
    let checksum = reader.u32("checksum")?;
    let payload = reader
        .take(
            usize::try_from(payload_len).unwrap_or(usize::MAX),
            "weights",
        )
        .map_err(|_| WeightsError::PayloadCut {
            declared: payload_len,
            found: reader.0.len(),
        })?;
    if !reader.0.is_empty() {
        return Err(WeightsError::TrailingBytes(reader.0.len()));
    }
    if crc32fast::hash(payload) != checksum {
        return Err(WeightsError::Corrupted);
    }
    Ok((header, payload))
}

/// Builds the model a file describes, with its weights, on `device`.
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<(Model, WeightsHeader), WeightsError> {
    let (header, payload) = read_header(bytes)?;
    build(header, payload, device)
}

/// Like [`from_bytes`], but refuses a file made for another kind of model.
pub fn from_bytes_for(
    bytes: &[u8],
    expected: ModelKind,
    device: &Device,
) -> Result<(Model, WeightsHeader), WeightsError> {
    let (header, payload) = read_header(bytes)?;
    if header.model.kind != expected {
        return Err(WeightsError::WrongModel {
            expected,
            found: header.model.kind,
        });
    }
    build(header, payload, device)
}

/// The model `header` describes with the weights of `payload` (a checked burnpack record).
fn build(
    header: WeightsHeader,
    payload: &[u8],
    device: &Device,
) -> Result<(Model, WeightsHeader), WeightsError> {
    let kind = header.model.kind;
    let mismatch = |reason: String| WeightsError::Mismatch {
        model: kind,
        reason,
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(payload.to_vec()))
        .map_err(|e| mismatch(e.to_string()))?;
    let model = header
        .model
        .init(device)
        .map_err(|e| mismatch(e.to_string()))?
        .try_load_record(record.cast_to_module_dtype())
        .map_err(|e| mismatch(e.to_string()))?;
    Ok((model, header))
}

/// Casts every float tensor of a module.
struct CastTo(DType);

impl ModuleMapper for CastTo {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(move |tensor| tensor.cast(dtype))
    }
}

/// A cursor over the file that reports which part was cut short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WeightsError> {
        if self.0.len() < n {
            return Err(WeightsError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WeightsError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, WeightsError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    use crate::model::ModelKind;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Every float tensor of the model (parameters and running statistics), in order.
    fn tensors(model: &Model) -> Vec<Vec<f32>> {
        struct Collect(Vec<Vec<f32>>);
        impl burn::module::ModuleVisitor for Collect {
            fn visit_float<const D: usize>(
                &mut self,
                param: &burn::module::Param<burn::tensor::Tensor<D>>,
            ) {
                self.0
                    .push(param.val().into_data().try_to_vec::<f32>().unwrap());
            }
        }
        let mut collect = Collect(Vec::new());
        model.visit(&mut collect);
        collect.0
    }

    fn header(kind: ModelKind) -> WeightsHeader {
        WeightsHeader {
            model: ModelConfig::new(kind),
            epochs: 3,
            precision: Precision::F32,
            dataset: "mnist".into(),
        }
    }

    #[test]
    fn round_trip_is_bit_exact_for_every_model() {
        let device = Device::flex();
        for kind in ModelKind::ALL {
            let model = ModelConfig::new(kind).init(&device).unwrap();
            let bytes = to_bytes(&model, &header(kind)).unwrap();
            let (loaded, read) = from_bytes_for(&bytes, kind, &device).unwrap();
            assert_eq!(read, header(kind));
            let (a, b) = (tensors(&loaded), tensors(&model));
            assert!(
                a == b && !a.is_empty(),
                "{kind}: tensors differ after the round trip"
            );
            // Same weights ⇒ same output, bit for bit.
            let x = burn::tensor::Tensor::<4>::ones([2, 1, 28, 28], &device).mul_scalar(0.3);
            let out_a = model
                .valid()
                .forward(x.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let out_b = loaded
                .valid()
                .forward(x)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            assert_eq!(out_a, out_b, "{kind}");
        }
    }

    #[test]
    fn wrong_model_truncation_version_and_corruption_are_refused() {
        let device = Device::flex();
        let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
        let bytes = to_bytes(&model, &header(ModelKind::Ffnn)).unwrap();

        let err = from_bytes_for(&bytes, ModelKind::Deep, &device).unwrap_err();
        assert_eq!(
            err.to_string(),
            "these weights are for the 'ffnn' model, not 'deep'"
        );

        assert_eq!(from_bytes(&[], &device).unwrap_err(), WeightsError::Empty);
        for cut in [5, 14, 40] {
            let err = from_bytes(&bytes[..cut], &device).unwrap_err();
            assert!(
                matches!(
                    err,
                    WeightsError::Truncated(_) | WeightsError::NotWeights(_)
                ),
                "cut {cut}: {err}"
            );
        }
        let cut = bytes.len() - 1;
        let err = from_bytes(&bytes[..cut], &device).unwrap_err();
        assert!(
            matches!(err, WeightsError::PayloadCut { declared, found } if found as u64 + 1 == declared),
            "{err}"
        );

        let mut newer = bytes.clone();
        newer[8] = 9;
        assert_eq!(
            from_bytes(&newer, &device).unwrap_err(),
            WeightsError::UnknownVersion { found: 9 }
        );

        let mut flipped = bytes.clone();
        let last = flipped.len() - 10;
        flipped[last] ^= 0x55;
        assert_eq!(
            from_bytes(&flipped, &device).unwrap_err(),
            WeightsError::Corrupted
        );

        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            from_bytes(&longer, &device).unwrap_err(),
            WeightsError::TrailingBytes(1)
        );

        assert_eq!(
            from_bytes(b"PK\x03\x04 a zip file", &device)
                .unwrap_err()
                .to_string(),
            "not a weights file of this lab (it is a ZIP archive)"
        );
        assert_eq!(
            from_bytes(&[0xde, 0xad, 0xbe, 0xef], &device)
                .unwrap_err()
                .to_string(),
            "not a weights file of this lab (it does not start with the MNISTAE signature)"
        );
    }

    #[test]
    fn half_precision_halves_the_size_and_stays_close() {
        let device = Device::flex();
        let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
        let mut half = header(ModelKind::Ffnn);
        half.precision = Precision::F16;
        let full_bytes = to_bytes(&model, &header(ModelKind::Ffnn)).unwrap();
        let half_bytes = to_bytes(&model, &half).unwrap();
        assert!(
            half_bytes.len() < full_bytes.len() * 6 / 10,
            "{} vs {}",
            half_bytes.len(),
            full_bytes.len()
        );
        let (loaded, read) = from_bytes(&half_bytes, &device).unwrap();
        assert_eq!(read.precision, Precision::F16);
        for (a, b) in tensors(&model)
            .iter()
            .flatten()
            .zip(tensors(&loaded).iter().flatten())
        {
            assert!((a - b).abs() <= a.abs() * 1e-3 + 1e-6, "{a} vs {b}");
        }
        assert_eq!(
            loaded
                .valid()
                .forward(Tensor::<4>::ones([1, 1, 28, 28], &device))
                .dtype(),
            DType::F32
        );
    }

    #[test]
    fn headers_written_before_datasets_read_as_mnist() {
        // The header of the shipped weights/ffnn.bin.
        let old = r#"{"model":{"kind":"ffnn","code_size":32},"epochs":20}"#;
        let header: WeightsHeader = serde_json::from_str(old).unwrap();
        assert_eq!(header.dataset, "mnist");
    }

    #[test]
    fn header_for_another_architecture_is_a_mismatch() {
        // A valid file whose header claims a different code size than its tensors.
        let device = Device::flex();
        let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
        let mut lying = header(ModelKind::Ffnn);
        lying.model.code_size = 16;
        let bytes = to_bytes(&model, &lying).unwrap();
        assert!(matches!(
            from_bytes(&bytes, &device),
            Err(WeightsError::Mismatch { .. })
        ));
    }
}
