//! The worker's message decoder on any bytes: the message (up to the first newline) as
//! JSON, through the same derived serde decoder serde-wasm-bindgen drives in the page, and
//! its typed arrays (the rest, cut into byte and float arrays) checked by `put_arrays`.
//! A message that passes is then acted on as the worker would, without a browser: a run
//! starts (one batch on two images) and weights are measured.
#![no_main]

use std::sync::Arc;

use burn::tensor::Device;
use libfuzzer_sys::fuzz_target;
use mnist_ae::data::{IMAGE_PIXELS, ImageSet};
use mnist_ae::fuzzing::{Array, FromWorker, Message, ToWorker};
use mnist_ae::training::Trainer;

/// The rest of the input as arrays: each a kind byte, a length byte, then its data.
fn arrays(mut rest: &[u8]) -> Vec<Array> {
    let mut arrays = Vec::new();
    while let [kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (data, tail) = tail.split_at(len);
        arrays.push(match kind % 2 {
            // Byte arrays of whole images are the common case: the length counts images.
            0 => Array::Bytes(data.iter().cycle().take(len * IMAGE_PIXELS).copied().collect()),
            _ => Array::Floats(data.iter().map(|&b| f32::from(b) / 255.0).collect()),
        });
        rest = tail;
    }
    arrays
}

fuzz_target!(|input: &[u8]| {
    let (head, rest) = match input.iter().position(|&b| b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[][..]),
    };
    if let Ok(mut message) = serde_json::from_slice::<FromWorker>(head) {
        let _ = message.put_arrays(arrays(rest));
    }
    let Ok(mut message) = serde_json::from_slice::<ToWorker>(head) else {
        return;
    };
    if message.put_arrays(arrays(rest)).is_err() {
        return;
    }
    let device = Device::flex();
    match message {
        ToWorker::Start { config, .. } => {
            let data = Arc::new(ImageSet::new(vec![0; 2 * IMAGE_PIXELS], vec![0, 1]).unwrap());
            if let Ok(mut trainer) = Trainer::new(config, data, device) {
                let _ = pollster::block_on(trainer.advance(|_| false));
            }
        }
        ToWorker::Evaluate { config, values, .. } => {
            if let Ok(model) = config.init(&device) {
                let _ = model.with_values(&values, &device);
            }
        }
        _ => {}
    }
});
