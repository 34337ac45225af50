//! The IDX reader on any bytes: both parsers on the whole buffer, and the inflater fed in
//! pieces (cut where the input's first byte says), which must agree with the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mnist_ae::data::{Inflater, MAX_INFLATED_BYTES, idx};

fuzz_target!(|input: &[u8]| {
    let Some((&piece, bytes)) = input.split_first() else {
        return;
    };
    let _ = idx::parse_images("f", bytes.to_vec());
    let _ = idx::parse_labels("f", bytes.to_vec());
    let whole = idx::decompress("f", bytes.to_vec(), MAX_INFLATED_BYTES);
    let mut inflater = Inflater::new("f", MAX_INFLATED_BYTES);
    let pieces = bytes
        .chunks(usize::from(piece).max(1))
        .try_for_each(|chunk| inflater.write(chunk))
        .and_then(|()| inflater.finish());
    match (whole, pieces) {
        (Ok(whole), Ok(pieces)) => assert_eq!(whole, pieces),
        (whole, pieces) => assert_eq!(whole.is_ok(), pieces.is_ok(), "{whole:?} vs {pieces:?}"),
    }
});
