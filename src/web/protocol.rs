//! The messages between the page and its training worker.
//!
//! Each message is a serde enum whose variants own their payloads. Bulk data (images,
//! weights) does not go through serde: it travels beside the message as typed arrays whose
//! buffers are transferred, not copied. An envelope is `{ message, arrays: [...] }`; each
//! variant says which arrays it carries ([`Message::take_arrays`]) and checks them on
//! arrival ([`Message::put_arrays`]): a missing or mis-sized array is an error with a
//! message, never an empty vector.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::device::BackendKind;
use crate::data::{Corruption, IMAGE_PIXELS};
use crate::metrics::Metrics;
use crate::model::{ModelConfig, ModelKind};
use crate::training::{Progress, TrainConfig};

/// How often the worker says it is alive ([`FromWorker::Alive`]), in milliseconds.
pub const HEARTBEAT_MS: i32 = 1000;

/// What a set of images sent to the worker is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Training,
    Test,
}

/// From the page to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Images (N×784 pixels) and their N labels, to train on or to measure with.
    Data {
        role: Role,
        #[serde(skip)]
        pixels: Vec<u8>,
        #[serde(skip)]
        labels: Vec<u8>,
    },
    /// Train run `id` from fresh weights on `backend`; report reconstructions of the `grid`
    /// digits (N×784 pixels) with the weights.
    Start {
        id: u64,
        backend: BackendKind,
        config: TrainConfig,
        validation_batch: usize,
        /// The dataset's id: the worker keeps the run's weights in the browser at the end of
        /// each epoch (serialising `deep` takes a 50 ms task: not the page's).
        dataset: String,
        #[serde(skip)]
        grid: Vec<u8>,
    },
    Pause {
        id: u64,
    },
    Resume {
        id: u64,
    },
    /// Drop whatever run the worker has.
    Stop,
    /// Run one throwaway training step of a `kind` model at `batch_size` on the worker's
    /// WebGPU device, so that it compiles the kernels before a run needs them.
    WarmUp {
        kind: ModelKind,
        batch_size: usize,
    },
    /// Measure a `config` model with these weights (in `Model::values` order) on the first
    /// `count` test images, corrupted by `noise` if any, on `backend`.
    Evaluate {
        backend: BackendKind,
        config: ModelConfig,
        count: usize,
        noise: Option<Corruption>,
        #[serde(skip)]
        values: Vec<f32>,
    },
}

/// From the worker to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker is up and reads messages; `webgpu`: its own WebGPU adapter (described),
    /// or why it has none.
    Ready { webgpu: Result<String, String> },
    /// The worker's WebGPU device is gone; a run on it goes on on the CPU from its last
    /// weights (those of `step`, the last sent).
    GpuLost { reason: String, step: Option<usize> },
    /// Where run `id` is, after each read-back.
    Progress { id: u64, progress: Progress },
    /// The worker is alive: sent every [`HEARTBEAT_MS`] (and before each progress report),
    /// with its wasm memory in bytes (a long session's growth shows in it). A worker that
    /// says nothing for long is taken as gone.
    Alive { memory_bytes: usize },
    /// Run `id`'s weights (in `Model::values` order) and their reconstructions of the grid's
    /// digits (N×784 in [0, 1]); sent before the [`FromWorker::Progress`] they belong to.
    Weights {
        id: u64,
        #[serde(skip)]
        values: Vec<f32>,
        #[serde(skip)]
        reconstructions: Vec<f32>,
    },
    /// Run `id` stopped on this error.
    Failed { id: u64, message: String },
    /// The browser refused to keep run weights (storage full or turned off).
    NotKept { reason: String },
    /// How far a measurement on the test set is.
    Evaluating { done: usize, count: usize },
    /// The test metrics [`ToWorker::Evaluate`] asked for, or why there are none.
    Evaluated(Result<Metrics, String>),
    /// The worker could not read a message from the page.
    Refused { message: String },
}

/// One typed array beside a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

/// A message whose bulk data travels beside it as typed arrays.
pub trait Message: Serialize + DeserializeOwned {
    /// Moves the bulk data out, in the order [`Message::put_arrays`] expects it.
    fn take_arrays(&mut self) -> Vec<Array>;
    /// Puts the bulk data back after the message arrived, checking each array.
    fn put_arrays(&mut self, arrays: Vec<Array>) -> Result<(), String>;
}

impl Message for ToWorker {
    fn take_arrays(&mut self) -> Vec<Array> {
        match self {
            Self::Data { pixels, labels, .. } => vec![
                Array::Bytes(std::mem::take(pixels)),
                Array::Bytes(std::mem::take(labels)),
            ],
            Self::Start { grid, .. } => vec![Array::Bytes(std::mem::take(grid))],
            Self::Evaluate { values, .. } => vec![Array::Floats(std::mem::take(values))],
            Self::Pause { .. } | Self::Resume { .. } | Self::Stop | Self::WarmUp { .. } => {
                Vec::new()
            }
        }
    }

    fn put_arrays(&mut self, arrays: Vec<Array>) -> Result<(), String> {
        match self {
            Self::Data { pixels, labels, .. } => {
                let [pixels_in, labels_in] = exactly::<u8, 2>("Data", arrays)?;
                if pixels_in.len() != labels_in.len() * IMAGE_PIXELS {
                    return Err(format!(
                        "Data: {} pixels do not make {} images of {IMAGE_PIXELS}",
                        pixels_in.len(),
                        labels_in.len()
                    ));
                }
                (*pixels, *labels) = (pixels_in, labels_in);
            }
            Self::Start { grid, .. } => {
                let [grid_in] = exactly::<u8, 1>("Start", arrays)?;
                *grid = whole_images("Start's grid", grid_in)?;
            }
            Self::Evaluate { values, .. } => {
                let [values_in] = exactly::<f32, 1>("Evaluate", arrays)?;
                if values_in.is_empty() {
                    return Err("Evaluate: no weights".into());
                }
                *values = values_in;
            }
            Self::Pause { .. } | Self::Resume { .. } | Self::Stop | Self::WarmUp { .. } => {
                exactly::<u8, 0>("a control message", arrays)?;
            }
        }
        Ok(())
    }
}

impl Message for FromWorker {
    fn take_arrays(&mut self) -> Vec<Array> {
        match self {
            Self::Weights {
                values,
                reconstructions,
                ..
            } => vec![
                Array::Floats(std::mem::take(values)),
                Array::Floats(std::mem::take(reconstructions)),
            ],
            _ => Vec::new(),
        }
    }

    fn put_arrays(&mut self, arrays: Vec<Array>) -> Result<(), String> {
        match self {
            Self::Weights {
                values,
                reconstructions,
                ..
            } => {
                let [values_in, reconstructions_in] = exactly::<f32, 2>("Weights", arrays)?;
                if values_in.is_empty() {
                    return Err("Weights: no values".into());
                }
                *values = values_in;
                *reconstructions = whole_images("Weights' reconstructions", reconstructions_in)?;
            }
            _ => {
                exactly::<f32, 0>("this message", arrays)?;
            }
        }
        Ok(())
    }
}

/// The element types of the typed arrays beside messages.
trait Element: Sized {
    /// The JavaScript type, for error messages.
    const JS: &'static str;
    fn from_array(array: Array) -> Option<Vec<Self>>;
}

/// `Element` for the type of one `Array` variant.
macro_rules! element {
    ($type:ty, $variant:ident, $js:literal) => {
        impl Element for $type {
            const JS: &'static str = $js;
            fn from_array(array: Array) -> Option<Vec<Self>> {
                match array {
                    Array::$variant(values) => Some(values),
                    _ => None,
                }
            }
        }
    };
}

element!(u8, Bytes, "Uint8Array");
element!(f32, Floats, "Float32Array");

/// Exactly `N` arrays of `T`.
fn exactly<T: Element, const N: usize>(
    what: &str,
    arrays: Vec<Array>,
) -> Result<[Vec<T>; N], String> {
    let found = arrays.len();
    let arrays = arrays
        .into_iter()
        .map(|array| {
            T::from_array(array).ok_or_else(|| format!("{what}: an array that is not a {}", T::JS))
        })
        .collect::<Result<Vec<_>, _>>()?;
    arrays
        .try_into()
        .map_err(|_| format!("{what} carries {found} arrays, expected {N}"))
}

fn whole_images<T>(what: &str, values: Vec<T>) -> Result<Vec<T>, String> {
    if values.len().is_multiple_of(IMAGE_PIXELS) {
        Ok(values)
    } else {
        Err(format!(
            "{what} has {} values, not a whole number of {IMAGE_PIXELS}-pixel images",
            values.len()
        ))
    }
}

/// The envelopes as JavaScript objects, posted with their buffers transferred.
#[cfg(target_family = "wasm")]
pub mod envelope {
    use js_sys::{Float32Array, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue};

    use super::{Array, Message};

    const MESSAGE: &str = "message";
    const ARRAYS: &str = "arrays";

    /// `{ message, arrays }` and the list of buffers to transfer.
    pub fn encode<M: Message>(mut message: M) -> (JsValue, js_sys::Array) {
        let arrays = message.take_arrays().into_iter().map(|array| match array {
            Array::Bytes(bytes) => Uint8Array::from(bytes.as_slice()).into(),
            Array::Floats(floats) => Float32Array::from(floats.as_slice()).into(),
        });
        wrap(&message, arrays)
    }

    /// Like [`encode`], for a `message` whose arrays were copied out beforehand (in the
    /// order [`Message::put_arrays`] expects), e.g. piece by piece over several tasks.
    pub fn wrap<M: Message>(
        message: &M,
        typed_arrays: impl IntoIterator<Item = JsValue>,
    ) -> (JsValue, js_sys::Array) {
        let envelope = js_sys::Object::new();
        let head = serde_wasm_bindgen::to_value(message).expect("messages are plain data");
        Reflect::set(&envelope, &MESSAGE.into(), &head).expect("a plain object");
        let (list, transfer) = (js_sys::Array::new(), js_sys::Array::new());
        for typed in typed_arrays {
            transfer.push(&Reflect::get(&typed, &"buffer".into()).expect("a typed array"));
            list.push(&typed);
        }
        Reflect::set(&envelope, &ARRAYS.into(), &list).expect("a plain object");
        (envelope.into(), transfer)
    }

    /// The typed message of an envelope, with its arrays checked.
    pub fn decode<M: Message>(envelope: &JsValue) -> Result<M, String> {
        let head = Reflect::get(envelope, &MESSAGE.into()).map_err(|e| format!("{e:?}"))?;
        let mut message: M =
            serde_wasm_bindgen::from_value(head).map_err(|e| format!("unreadable message: {e}"))?;
        let list = Reflect::get(envelope, &ARRAYS.into())
            .ok()
            .and_then(|v| v.dyn_into::<js_sys::Array>().ok())
            .ok_or("a message without its arrays")?;
        let arrays = list
            .iter()
            .map(|value| {
                if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
                    Ok(Array::Bytes(bytes.to_vec()))
                } else if let Some(floats) = value.dyn_ref::<Float32Array>() {
                    Ok(Array::Floats(floats.to_vec()))
                } else {
                    Err("an array of a type no message carries".to_string())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        message.put_arrays(arrays)?;
        Ok(message)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::data::IMAGE_PIXELS;
        use crate::web::protocol::{FromWorker, ToWorker};
        use wasm_bindgen_test::wasm_bindgen_test;

        #[wasm_bindgen_test]
        fn envelopes_carry_typed_arrays_and_transfer_their_buffers() {
            let weights = FromWorker::Weights {
                id: 7,
                values: vec![1.5, -2.0],
                reconstructions: vec![0.25; IMAGE_PIXELS],
            };
            let (envelope, transfer) = encode(weights.clone());
            assert_eq!(transfer.length(), 2);
            assert_eq!(decode::<FromWorker>(&envelope), Ok(weights));
            // A message of the other direction does not read as this one.
            assert!(decode::<ToWorker>(&envelope).is_err());
            let metrics = crate::metrics::Metrics {
                mse: 0.01,
                psnr_db: 20.0,
                ssim: 0.8,
                l2_per_image: 2.5,
                images: 100,
                input_psnr_db: None,
                input_ssim: None,
            };
            for result in [Ok(metrics), Err("no test images".to_string())] {
                let (envelope, _) = encode(FromWorker::Evaluated(result.clone()));
                assert_eq!(
                    decode::<FromWorker>(&envelope),
                    Ok(FromWorker::Evaluated(result))
                );
            }
            // A control message carries no arrays.
            let warm_up = ToWorker::WarmUp {
                kind: crate::model::ModelKind::Deep,
                batch_size: 64,
            };
            let (envelope, transfer) = encode(warm_up.clone());
            assert_eq!(transfer.length(), 0);
            assert_eq!(decode::<ToWorker>(&envelope), Ok(warm_up));
        }

        #[wasm_bindgen_test]
        fn an_envelope_missing_its_arrays_is_refused_with_a_reason() {
            let (envelope, _) = encode(ToWorker::Start {
                id: 1,
                backend: crate::web::device::BackendKind::Cpu,
                config: crate::training::TrainConfig::new(crate::model::ModelKind::Ffnn),
                validation_batch: 16,
                dataset: "mnist".into(),
                grid: vec![0; IMAGE_PIXELS],
            });
            Reflect::set(&envelope, &ARRAYS.into(), &js_sys::Array::new()).unwrap();
            let error = decode::<ToWorker>(&envelope).unwrap_err();
            assert_eq!(error, "Start carries 0 arrays, expected 1");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn round_trip<M: Message + Clone>(message: &M) -> Result<M, String> {
        let mut sent = message.clone();
        let arrays = sent.take_arrays();
        sent.put_arrays(arrays)?;
        Ok(sent)
    }

    #[test]
    fn each_message_keeps_its_arrays() {
        let start = ToWorker::Start {
            id: 3,
            backend: BackendKind::WebGpu,
            config: TrainConfig::new(ModelKind::Deep),
            validation_batch: 32,
            dataset: "fashion-mnist".into(),
            grid: vec![7; 2 * IMAGE_PIXELS],
        };
        assert_eq!(round_trip(&start), Ok(start));
        let data = ToWorker::Data {
            role: Role::Test,
            pixels: vec![1; 3 * IMAGE_PIXELS],
            labels: vec![0, 1, 2],
        };
        assert_eq!(round_trip(&data), Ok(data));
        let evaluate = ToWorker::Evaluate {
            backend: BackendKind::Cpu,
            config: ModelConfig::new(ModelKind::Upsample),
            count: 100,
            noise: Some(Corruption::Mask { fraction: 0.25 }),
            values: vec![0.5; 9],
        };
        assert_eq!(round_trip(&evaluate), Ok(evaluate));
        let weights = FromWorker::Weights {
            id: 1,
            values: vec![0.5, -1.0],
            reconstructions: vec![0.25; IMAGE_PIXELS],
        };
        assert_eq!(round_trip(&weights), Ok(weights));
    }

    #[test]
    fn missing_or_mis_sized_arrays_are_errors() {
        let mut data = ToWorker::Data {
            role: Role::Training,
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        let error = data
            .put_arrays(vec![Array::Bytes(vec![0; 10])])
            .unwrap_err();
        assert_eq!(error, "Data carries 1 arrays, expected 2");
        let error = data
            .put_arrays(vec![
                Array::Bytes(vec![0; IMAGE_PIXELS + 1]),
                Array::Bytes(vec![0]),
            ])
            .unwrap_err();
        assert!(error.contains("do not make 1 images"), "{error}");

        let mut weights = FromWorker::Weights {
            id: 1,
            values: Vec::new(),
            reconstructions: Vec::new(),
        };
        let error = weights
            .put_arrays(vec![Array::Floats(vec![1.0]), Array::Floats(vec![0.0; 5])])
            .unwrap_err();
        assert!(error.contains("not a whole number"), "{error}");
        let error = weights
            .put_arrays(vec![Array::Floats(vec![1.0]), Array::Bytes(vec![0])])
            .unwrap_err();
        assert!(error.contains("not a Float32Array"), "{error}");
        let error = ToWorker::Stop
            .put_arrays(vec![Array::Bytes(vec![1])])
            .unwrap_err();
        assert!(error.contains("expected 0"), "{error}");
        let mut evaluate = ToWorker::Evaluate {
            backend: BackendKind::Cpu,
            config: ModelConfig::new(ModelKind::Ffnn),
            count: 10,
            noise: None,
            values: Vec::new(),
        };
        let error = evaluate
            .put_arrays(vec![Array::Floats(Vec::new())])
            .unwrap_err();
        assert_eq!(error, "Evaluate: no weights");
    }
}
