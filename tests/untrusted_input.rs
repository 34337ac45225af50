//! Property tests of the lab's entry points for untrusted bytes: the IDX reader (whole files
//! and piece by piece) and the weights loader. Any byte string gives `Ok` or a typed error,
//! never a panic, and never allocates more than a bound derived from its length (a header
//! that declares a huge size allocates nothing before the bytes are there); real files cut
//! short or with a bit flipped give an error naming the file, or (where the flip lands in
//! bytes no check covers) exactly the original content. The fuzz targets in `fuzz/` run the
//! same entry points for longer.
#![cfg(not(target_family = "wasm"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use burn::tensor::Device;
use mnist_ae::data::{Inflater, MAX_INFLATED_BYTES, idx};
use mnist_ae::model::ModelKind;
use mnist_ae::weights;
use proptest::prelude::*;

/// Counts each thread's live and peak heap bytes, so that a test measures its own
/// allocations while other tests run in other threads.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + layout.size());
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most heap `run` holds at once beyond what was live before it.
fn peak_of<T>(run: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.get();
    PEAK.set(before);
    let out = run();
    (out, PEAK.get() - before)
}

/// What inflating needs whatever the input: the decoder's state and window, the header.
const INFLATE_OVERHEAD: usize = 256 << 10;
/// Deflate's best ratio (258-byte matches in about 2 bits) is about 1,032 to 1.
const DEFLATE_RATIO: usize = 1100;

/// An IDX header of `rank` dimensions `dims`, then `body`.
fn idx_file(type_byte: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, type_byte, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Bytes that look like IDX files: a header with any dimensions (often huge) and a short
/// body, raw or gzip; or any bytes at all.
fn idx_like() -> impl Strategy<Value = Vec<u8>> {
    let header = (
        prop_oneof![Just(8u8), any::<u8>()],
        prop::collection::vec(prop_oneof![Just(28u32), 0u32..20, any::<u32>()], 0..5),
        prop::collection::vec(any::<u8>(), 0..3000),
        any::<bool>(),
    )
        .prop_map(|(type_byte, dims, body, zipped)| {
            let file = idx_file(type_byte, &dims, &body);
            if zipped { gzip(&file) } else { file }
        });
    prop_oneof![header, prop::collection::vec(any::<u8>(), 0..4096)]
}

/// Both parsers on `bytes`, each within the bound for their length.
fn parse_within_bounds(bytes: &[u8]) -> Result<(), TestCaseError> {
    let bound = INFLATE_OVERHEAD + DEFLATE_RATIO * bytes.len();
    let (_, peak) = peak_of(|| idx::parse_images("f.idx", bytes.to_vec()));
    prop_assert!(peak <= bound, "images: {peak} bytes for {} in", bytes.len());
    let (_, peak) = peak_of(|| idx::parse_labels("f.idx", bytes.to_vec()));
    prop_assert!(peak <= bound, "labels: {peak} bytes for {} in", bytes.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn idx_parsers_return_ok_or_a_typed_error_within_a_bounded_allocation(bytes in idx_like()) {
        parse_within_bounds(&bytes)?;
    }

    #[test]
    fn inflating_in_any_pieces_equals_inflating_whole(bytes in idx_like(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let whole = idx::decompress("f", bytes.clone(), MAX_INFLATED_BYTES);
        let mut inflater = Inflater::new("f", MAX_INFLATED_BYTES);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        let mut pieces = Ok(());
        for end in cuts.into_iter().chain([bytes.len()]) {
            pieces = pieces.and_then(|()| inflater.write(&bytes[start..end]));
            start = end;
        }
        let pieces = pieces.and_then(|()| inflater.finish());
        prop_assert_eq!(whole.is_ok(), pieces.is_ok(), "{:?} vs {:?}", whole.as_ref().err(), pieces.as_ref().err());
        if let (Ok(whole), Ok(pieces)) = (whole, pieces) {
            prop_assert_eq!(whole, pieces);
        }
    }

    #[test]
    fn weights_loaders_return_ok_or_a_typed_error(bytes in prop::collection::vec(any::<u8>(), 0..2048), prefix in any::<bool>()) {
        // Half the cases start like a weights file, to get past the signature and version.
        let bytes = match prefix {
            true => [b"MNISTAE\0\x01\0\0\0".as_slice(), &bytes].concat(),
            false => bytes,
        };
        let device = Device::flex();
        let (_, peak) = peak_of(|| weights::from_bytes(&bytes, &device).map(|_| ()));
        prop_assert!(peak <= INFLATE_OVERHEAD + 4 * bytes.len(), "{peak} bytes for {} in", bytes.len());
        for kind in ModelKind::ALL {
            let _ = weights::from_bytes_for(&bytes, kind, &device);
        }
    }
}

mod real_files {
    use super::*;

    /// `file` cut before byte `at`, or with bit `bit` of that byte flipped.
    fn damaged(file: &[u8], at: usize, bit: u8, cut: bool) -> Vec<u8> {
        let mut out = file.to_vec();
        match cut {
            true => out.truncate(at),
            false => out[at] ^= 1 << bit,
        }
        out
    }

    fn read(path: &str) -> Vec<u8> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::read(root.join(path))
            .unwrap_or_else(|e| panic!("{path}: {e} (run scripts/fetch-data.py)"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// MNIST's test labels (gzip) cut anywhere, or with any bit flipped: an error that
        /// names the file, or (a flip in the gzip header's time stamp or flags, or in the
        /// last byte's padding bits) the very same labels.
        #[test]
        fn mnist_labels_cut_or_flipped(at in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<bool>()) {
            let file = read("static/mnist/t10k-labels-idx1-ubyte.gz");
            let original = idx::parse_labels("t10k-labels", file.clone()).unwrap();
            let at = at.index(file.len());
            let damaged = damaged(&file, at, bit, cut);
            match idx::parse_labels("t10k-labels", damaged) {
                Err(e) => prop_assert!(e.to_string().starts_with("t10k-labels: "), "{e}"),
                Ok(labels) => prop_assert!(!cut && labels == original, "a damaged file read as other labels"),
            }
        }

        /// Shipped weights cut anywhere, or with any bit flipped: an error, or (a flip in
        /// the header's informational fields) the very same weights.
        #[test]
        fn shipped_weights_cut_or_flipped(at in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<bool>()) {
            let file = read("weights/ffnn.bin");
            let device = Device::flex();
            let at = at.index(file.len());
            let damaged = damaged(&file, at, bit, cut);
            if let Ok((model, _)) = weights::from_bytes_for(&damaged, ModelKind::Ffnn, &device) {
                prop_assert!(!cut, "a truncated file loaded");
                let (original, _) = weights::from_bytes(&file, &device).unwrap();
                let values = |m: &mnist_ae::model::Model| pollster::block_on(m.values()).unwrap();
                prop_assert!(values(&model) == values(&original), "a damaged file loaded other weights");
            }
        }
    }

    /// A header declaring 10^12 parameters' worth of payload, and MNIST's image header
    /// declaring 600,000 images in front of 10 bytes, allocate nothing of what they declare.
    #[test]
    fn huge_declared_sizes_allocate_nothing_before_the_bytes_are_there() {
        let mut file = read("weights/ffnn.bin");
        let header_len = u32::from_le_bytes(file[12..16].try_into().unwrap()) as usize;
        let payload_len = 16 + header_len;
        file[payload_len..payload_len + 8].copy_from_slice(&(4_000_000_000_000u64).to_le_bytes());
        let device = Device::flex();
        let (result, peak) = peak_of(|| weights::from_bytes(&file, &device).map(|_| ()));
        assert!(
            matches!(
                result,
                Err(weights::WeightsError::PayloadCut {
                    declared: 4_000_000_000_000,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(peak < 64 << 10, "{peak} bytes");

        for images in [
            idx_file(8, &[600_000, 28, 28], &[0; 10]),
            gzip(&idx_file(8, &[600_000, 28, 28], &[0; 10])),
        ] {
            let (result, peak) = peak_of(|| idx::parse_images("big", images.clone()));
            assert!(
                matches!(result, Err(idx::IdxError::Truncated { .. })),
                "{result:?}"
            );
            assert!(peak < INFLATE_OVERHEAD, "{peak} bytes");
        }
    }
}
