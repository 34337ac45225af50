//! Reader for the IDX files MNIST ships in (gzip-compressed or raw).
//!
//! The reader never trusts the header: it checks the magic number, element type,
//! dimensionality, 28×28 image size and exact length, and refuses absurd sizes
//! before allocating. Every failure is an [`IdxError`] that names the file.

use thiserror::Error;

mod inflate;
pub use inflate::{Inflater, decompress};

/// Side length of an MNIST image.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// The largest number of items an IDX file may declare (10× MNIST's 60,000).
pub const MAX_ITEMS: usize = 600_000;
/// The largest decompressed IDX file accepted: an image file of [`MAX_ITEMS`] images.
pub const MAX_INFLATED_BYTES: usize = 16 + MAX_ITEMS * IMAGE_PIXELS;

const TYPE_U8: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What can be wrong with an IDX file.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdxError {
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error("{file}: not a valid gzip stream ({reason})")]
    Gzip { file: String, reason: String },
    #[error("{file}: {len} bytes is too short for an IDX header")]
    ShortHeader { file: String, len: usize },
    #[error(
        "{file}: bad magic number {found:#010x} (an IDX file starts with 0x0000 and a type byte)"
    )]
    BadMagic { file: String, found: u32 },
    /// Another kind of file altogether, e.g. a server's error page sent with status 200.
    #[error("{file}: this is {looks_like}, not an IDX file")]
    NotIdx {
        file: String,
        looks_like: &'static str,
    },
    #[error("{file}: element type {found:#04x} is not unsigned bytes (0x08)")]
    WrongType { file: String, found: u8 },
    /// An image file where labels belong, or the other way round.
    #[error("{file}: this is {found}, where {expected} belong (swapped?)")]
    Swapped {
        file: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{file}: {found} dimensions, expected {expected} ({what})")]
    WrongRank {
        file: String,
        found: u8,
        expected: u8,
        what: &'static str,
    },
    #[error("{file}: images are {rows}×{cols}, expected 28×28")]
    WrongImageSize { file: String, rows: u32, cols: u32 },
    #[error("{file}: declares {count} items, more than the {MAX_ITEMS} this reader accepts")]
    TooManyItems { file: String, count: u64 },
    #[error("{file}: truncated: {found} data bytes, header declares {expected}")]
    Truncated {
        file: String,
        expected: usize,
        found: usize,
    },
    #[error("{file}: {extra} unexpected bytes after the declared data")]
    TrailingBytes { file: String, extra: usize },
    #[error(
        "{file}: inflates past the {declared} data bytes its header declares (inflating stopped there)"
    )]
    InflatesPastHeader { file: String, declared: usize },
    #[error("{file}: label {label} at index {index} is outside 0–9")]
    LabelOutOfRange {
        file: String,
        index: usize,
        label: u8,
    },
    #[error("{file}: {labels} labels for {images} images")]
    CountMismatch {
        file: String,
        labels: usize,
        images: usize,
    },
}

/// Parses an IDX image file (`0x00000803`, N×28×28 bytes) into N×784 pixels, in place.
pub fn parse_images(file: &str, bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    let mut raw = decompress(file, bytes, MAX_INFLATED_BYTES)?;
    let dims = header(file, &raw, 3, "count, rows, columns")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
        return Err(IdxError::WrongImageSize {
            file: file.into(),
            rows,
            cols,
        });
    }
    body(file, &raw, 16, count, IMAGE_PIXELS)?;
    // The header dropped in place: the 47 MB training set is not copied again.
    raw.drain(..16);
    Ok(raw)
}

/// Parses an IDX label file (`0x00000801`, N bytes) and checks every label is 0–9.
pub fn parse_labels(file: &str, bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    let mut raw = decompress(file, bytes, 8 + MAX_ITEMS)?;
    let dims = header(file, &raw, 1, "count")?;
    let body = body(file, &raw, 8, dims[0], 1)?;
    if let Some(index) = body.iter().position(|&label| label > 9) {
        return Err(IdxError::LabelOutOfRange {
            file: file.into(),
            index,
            label: body[index],
        });
    }
    raw.drain(..8);
    Ok(raw)
}

/// Checks magic, element type and rank; returns the dimensions.
fn header(file: &str, raw: &[u8], rank: u8, what: &'static str) -> Result<Vec<u32>, IdxError> {
    let header_len = 4 + 4 * rank as usize;
    if raw.len() < 4 {
        return Err(IdxError::ShortHeader {
            file: file.into(),
            len: raw.len(),
        });
    }
    let magic = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if raw[0] != 0 || raw[1] != 0 {
        if let Some(looks_like) = crate::sniff::looks_like(raw) {
            return Err(IdxError::NotIdx {
                file: file.into(),
                looks_like,
            });
        }
        return Err(IdxError::BadMagic {
            file: file.into(),
            found: magic,
        });
    }
    if raw[2] != TYPE_U8 {
        return Err(IdxError::WrongType {
            file: file.into(),
            found: raw[2],
        });
    }
    let kind_of_rank = |rank| match rank {
        1 => Some(("a label file", "labels")),
        3 => Some(("an image file", "images")),
        _ => None,
    };
    if let (Some((found, _)), Some((_, expected))) = (kind_of_rank(raw[3]), kind_of_rank(rank))
        && raw[3] != rank
    {
        return Err(IdxError::Swapped {
            file: file.into(),
            found,
            expected,
        });
    }
    if raw[3] != rank {
        return Err(IdxError::WrongRank {
            file: file.into(),
            found: raw[3],
            expected: rank,
            what,
        });
    }
    if raw.len() < header_len {
        return Err(IdxError::ShortHeader {
            file: file.into(),
            len: raw.len(),
        });
    }
    Ok(raw[4..header_len]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Returns the data after the header once its length is exactly `count × item_len`.
fn body<'a>(
    file: &str,
    raw: &'a [u8],
    header_len: usize,
    count: u32,
    item_len: usize,
) -> Result<&'a [u8], IdxError> {
    if count as usize > MAX_ITEMS {
        return Err(IdxError::TooManyItems {
            file: file.into(),
            count: count.into(),
        });
    }
    let expected = count as usize * item_len;
    let found = raw.len() - header_len;
    if found < expected {
        return Err(IdxError::Truncated {
            file: file.into(),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            file: file.into(),
            extra: found - expected,
        });
    }
    Ok(&raw[header_len..])
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn idx(type_byte: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, type_byte, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn images(n: u32) -> Vec<u8> {
        idx(8, &[n, 28, 28], &vec![7; n as usize * IMAGE_PIXELS])
    }

    #[test]
    fn parses_raw_and_gzip_images() {
        let raw = images(3);
        assert_eq!(
            parse_images("t", raw.clone()).unwrap().len(),
            3 * IMAGE_PIXELS
        );
        assert_eq!(
            parse_images("t", gzip(&raw)).unwrap(),
            vec![7; 3 * IMAGE_PIXELS]
        );
    }

    #[test]
    fn parses_labels() {
        let raw = idx(8, &[4], &[0, 9, 3, 5]);
        assert_eq!(parse_labels("l", gzip(&raw)).unwrap(), vec![0, 9, 3, 5]);
    }

    #[test]
    fn rejects_empty() {
        assert!(matches!(
            parse_images("t", Vec::new()),
            Err(IdxError::Empty { .. })
        ));
    }

    #[test]
    fn rejects_bad_magic() {
        let mut raw = images(1);
        raw[0] = 0x12;
        assert!(matches!(
            parse_images("t", raw.clone()),
            Err(IdxError::BadMagic { .. })
        ));
    }

    #[test]
    fn rejects_wrong_element_type() {
        let raw = idx(0x0D, &[1, 28, 28], &[0; IMAGE_PIXELS * 4]);
        assert!(matches!(
            parse_images("t", raw.clone()),
            Err(IdxError::WrongType { found: 0x0D, .. })
        ));
    }

    #[test]
    fn rejects_wrong_rank() {
        let flat = idx(8, &[2, 784], &[0; 2 * 784]);
        let err = parse_images("t", flat).unwrap_err();
        assert!(matches!(
            err,
            IdxError::WrongRank {
                found: 2,
                expected: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("2 dimensions, expected 3"));
        // A label file given where images are expected, and images where labels are.
        let labels = idx(8, &[2], &[1, 2]);
        assert_eq!(
            parse_images("t", labels).unwrap_err().to_string(),
            "t: this is a label file, where images belong (swapped?)"
        );
        let images = idx(8, &[1, 28, 28], &[0; IMAGE_PIXELS]);
        assert_eq!(
            parse_labels("t", images).unwrap_err().to_string(),
            "t: this is an image file, where labels belong (swapped?)"
        );
    }

    #[test]
    fn rejects_wrong_image_size() {
        let raw = idx(8, &[1, 32, 32], &[0; 32 * 32]);
        assert!(matches!(
            parse_images("t", raw.clone()),
            Err(IdxError::WrongImageSize {
                rows: 32,
                cols: 32,
                ..
            })
        ));
    }

    #[test]
    fn rejects_truncated_data_and_header() {
        let raw = images(2);
        let cut = &raw[..raw.len() - 1];
        assert!(matches!(
            parse_images("t", cut.to_vec()),
            Err(IdxError::Truncated { .. })
        ));
        assert!(matches!(
            parse_images("t", raw[..9].to_vec()),
            Err(IdxError::ShortHeader { .. })
        ));
        // A gzip stream cut in the middle is a gzip error, not a panic.
        let gz = gzip(&raw);
        assert!(matches!(
            parse_images("t", gz[..gz.len() / 2].to_vec()),
            Err(IdxError::Gzip { .. })
        ));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut raw = images(1);
        raw.push(0);
        assert!(matches!(
            parse_images("t", raw.clone()),
            Err(IdxError::TrailingBytes { extra: 1, .. })
        ));
    }

    #[test]
    fn rejects_labels_out_of_range() {
        let raw = idx(8, &[3], &[1, 10, 2]);
        let err = parse_labels("l", raw.clone()).unwrap_err();
        assert_eq!(
            err,
            IdxError::LabelOutOfRange {
                file: "l".into(),
                index: 1,
                label: 10
            }
        );
    }

    #[test]
    fn rejects_huge_declared_size_before_allocating() {
        let raw = idx(8, &[u32::MAX, 28, 28], &[]);
        assert!(matches!(
            parse_images("t", raw.clone()),
            Err(IdxError::TooManyItems { .. })
        ));
    }

    #[test]
    fn non_gzip_garbage_is_a_header_error() {
        let err = parse_images("t", vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]).unwrap_err();
        assert!(matches!(err, IdxError::BadMagic { .. }), "{err}");
        // Text, e.g. a server's error page, is named as such.
        let err = parse_images("t", b"hello, this is not an idx file".to_vec()).unwrap_err();
        assert_eq!(err.to_string(), "t: this is text, not an IDX file");
    }

    #[test]
    fn corrupt_gzip_body_is_reported() {
        let mut gz = gzip(&images(1));
        let mid = gz.len() / 2;
        gz[mid] ^= 0xff;
        gz[mid + 1] ^= 0xff;
        assert!(parse_images("t", gz.clone()).is_err());
    }

    #[test]
    fn inflating_piece_by_piece_gives_the_same_bytes() {
        let raw = images(5);
        for file in [gzip(&raw), raw.clone()] {
            for piece in [1, 7, 4096] {
                let mut inflater = Inflater::new("t", raw.len());
                for chunk in file.chunks(piece) {
                    inflater.write(chunk).unwrap();
                }
                assert_eq!(inflater.finish().unwrap(), raw, "pieces of {piece}");
            }
        }
    }

    /// A gzip bomb: `header`, then `zeros` bytes of zeros.
    fn bomb(header: &[u8], zeros: usize) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(header).unwrap();
        let block = vec![0u8; 1 << 20];
        for _ in 0..zeros >> 20 {
            encoder.write_all(&block).unwrap();
        }
        encoder.finish().unwrap()
    }

    #[test]
    fn a_gzip_bomb_stops_one_byte_past_what_its_header_declares() {
        // 10,000 images declared (7.84 MB), 100 MB inflated: refused at the first piece that
        // inflates past the declared size, not at the reader's 470 MB cap.
        let gz = bomb(&idx(8, &[10_000, 28, 28], &[]), 100 << 20);
        let mut inflater = Inflater::new("bomb.gz", MAX_INFLATED_BYTES);
        let pieces: Vec<&[u8]> = gz.chunks(16 << 10).collect();
        let failed = pieces
            .iter()
            .position(|piece| inflater.write(piece).is_err())
            .expect("the bomb is refused");
        // The declared data is 7 % of what the file inflates to.
        assert!(
            failed < pieces.len() / 10,
            "refused only at piece {failed} of {}",
            pieces.len()
        );
        let err = parse_images("bomb.gz", gz).unwrap_err();
        assert_eq!(
            err,
            IdxError::InflatesPastHeader {
                file: "bomb.gz".into(),
                declared: 10_000 * IMAGE_PIXELS
            }
        );
        assert!(
            err.to_string()
                .starts_with("bomb.gz: inflates past the 7840000 data bytes")
        );
    }

    #[test]
    fn a_gzip_bomb_behind_a_refused_header_keeps_only_the_header() {
        // The parser's own message, after inflating (and dropping) the rest.
        let bad_magic = bomb(b"\x01\x02\x08\x03", 20 << 20);
        assert!(matches!(
            parse_images("t", bad_magic),
            Err(IdxError::BadMagic { .. })
        ));
        let too_many = bomb(&idx(8, &[u32::MAX, 28, 28], &[]), 20 << 20);
        assert!(matches!(
            parse_images("t", too_many),
            Err(IdxError::TooManyItems { .. })
        ));
        let huge_images = bomb(&idx(8, &[10, 60_000, 60_000], &[]), 20 << 20);
        assert!(matches!(
            parse_images("t", huge_images),
            Err(IdxError::WrongImageSize { .. })
        ));
    }

    #[test]
    fn truncated_gzip_and_oversized_content_are_refused() {
        let gz = gzip(&images(2));
        let mut inflater = Inflater::new("t", usize::MAX);
        inflater.write(&gz[..gz.len() - 4]).unwrap();
        let err = inflater.finish().unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err}");

        let err = decompress("t", gz, 100).unwrap_err();
        assert!(err.to_string().contains("more than 100 bytes"), "{err}");
        assert!(matches!(
            Inflater::new("t", 10).finish(),
            Err(IdxError::Empty { .. })
        ));
    }
}
