//! The weights loader on any bytes, for every model kind. Half the inputs are a payload
//! behind a real header with a correct checksum, so that burn's record reader and the
//! model's loading see them (a random file almost never passes the checksum).
#![no_main]

use burn::tensor::Device;
use libfuzzer_sys::fuzz_target;
use mnist_ae::model::ModelKind;
use mnist_ae::weights;

/// `payload` behind the header of the shipped `kind` file, with the checksum it needs.
fn behind_header(kind: ModelKind, payload: &[u8]) -> Vec<u8> {
    let header = serde_json::json!({
        "model": { "kind": kind.name(), "code_size": kind.default_code_size() },
        "epochs": 1,
        "precision": "f32",
        "dataset": "mnist",
    });
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = b"MNISTAE\0".to_vec();
    out.extend_from_slice(&weights::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, bytes)) = input.split_first() else {
        return;
    };
    let device = Device::flex();
    let file = match mode % 2 {
        0 => bytes.to_vec(),
        _ => behind_header(ModelKind::ALL[usize::from(mode / 2) % ModelKind::ALL.len()], bytes),
    };
    let _ = weights::from_bytes(&file, &device);
    for kind in ModelKind::ALL {
        let _ = weights::from_bytes_for(&file, kind, &device);
    }
});
