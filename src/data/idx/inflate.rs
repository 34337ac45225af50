//! Decompression of IDX files as they arrive, bounded by what their header declares: a gzip
//! bomb stops at its first byte too many.

use std::io::Write;

use super::{GZIP_MAGIC, IMAGE_SIDE, IdxError, MAX_ITEMS, TYPE_U8};

/// Decompresses `bytes` when they are gzip, otherwise returns them unchanged (not copied:
/// the page hands over files it inflated as they downloaded).
///
/// `limit` bounds the decompressed size, so a gzip bomb cannot exhaust memory.
pub fn decompress(file: &str, bytes: Vec<u8>, limit: usize) -> Result<Vec<u8>, IdxError> {
    if bytes.is_empty() {
        return Err(IdxError::Empty { file: file.into() });
    }
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut inflater = Inflater::new(file, limit);
    inflater.write(&bytes)?;
    inflater.finish()
}

/// [`decompress`] a piece at a time, as a download arrives (the browser inflates the 47 MB
/// training set between its network chunks instead of in one long task).
pub struct Inflater {
    file: String,
    limit: usize,
    state: Inflate,
}

enum Inflate {
    /// Fewer than two bytes seen: gzip or not is still open.
    Start(Vec<u8>),
    Gzip(Box<flate2::write::GzDecoder<Bounded>>),
    Raw(Vec<u8>),
}

/// The inflated bytes, which may not grow past `limit` nor past what the IDX header at their
/// start declares: a gzip bomb behind a valid header stops at the first byte too many, and one
/// behind a header the parser refuses anyway stops at the header.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
    /// What the header allows, once it is in.
    cap: Option<Cap>,
    /// Set when a write went past the header's declared size.
    past_header: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cap {
    /// A header of `header` bytes declaring `data` bytes after it: more is an error.
    Declared { header: usize, data: usize },
    /// A header the parser refuses (of this many bytes): it is kept, so that the parser can
    /// say what is wrong, and the rest is dropped.
    HeaderOnly(usize),
}

/// What an IDX header at the start of `prefix` allows; `None` until enough of it is in. A
/// header that no parser here accepts (bad magic, type or rank, too many items, images not
/// 28×28) allows nothing after it.
fn cap_of(prefix: &[u8]) -> Option<Cap> {
    if prefix.len() < 4 {
        return None;
    }
    let rank = usize::from(prefix[3]);
    if prefix[0] != 0 || prefix[1] != 0 || prefix[2] != TYPE_U8 || !matches!(rank, 1 | 3) {
        return Some(Cap::HeaderOnly(4));
    }
    let header = 4 + 4 * rank;
    if prefix.len() < header {
        return None;
    }
    let dims: Vec<usize> = prefix[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    if dims[0] > MAX_ITEMS || (rank == 3 && dims[1..] != [IMAGE_SIDE, IMAGE_SIDE]) {
        return Some(Cap::HeaderOnly(header));
    }
    Some(Cap::Declared {
        header,
        data: dims.iter().product(),
    })
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let Some(cap) = self.cap else {
            // The header first (at most 16 bytes, and 16 always decide the cap).
            let take = data.len().min(16 - self.bytes.len());
            self.bytes.extend_from_slice(&data[..take]);
            self.cap = cap_of(&self.bytes);
            if let Some(Cap::HeaderOnly(header)) = self.cap {
                self.bytes.truncate(header); // whether the rest comes in this write or later
            }
            return Ok(take);
        };
        let room = match cap {
            Cap::Declared { header, data } => header + data,
            Cap::HeaderOnly(header) => {
                self.bytes.truncate(header);
                return Ok(data.len()); // dropped: the parser refuses the header
            }
        };
        if self.bytes.len() + data.len() > room.min(self.limit) {
            self.past_header = room <= self.limit;
            return Err(std::io::Error::other(format!(
                "inflates to more than {} bytes",
                room.min(self.limit)
            )));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Inflater {
    /// For `file`, whose decompressed content may not exceed `limit` bytes.
    pub fn new(file: &str, limit: usize) -> Self {
        Self {
            file: file.into(),
            limit,
            state: Inflate::Start(Vec::new()),
        }
    }

    /// Takes the next piece of the file.
    pub fn write(&mut self, piece: &[u8]) -> Result<(), IdxError> {
        if let Inflate::Start(seen) = &mut self.state {
            seen.extend_from_slice(piece);
            if seen.len() < GZIP_MAGIC.len() {
                return Ok(());
            }
            let seen = std::mem::take(seen);
            self.state = if seen.starts_with(&GZIP_MAGIC) {
                let out = Bounded {
                    bytes: Vec::new(),
                    limit: self.limit,
                    cap: None,
                    past_header: false,
                };
                Inflate::Gzip(Box::new(flate2::write::GzDecoder::new(out)))
            } else {
                Inflate::Raw(Vec::new())
            };
            return self.write(&seen);
        }
        match &mut self.state {
            Inflate::Gzip(decoder) => decoder
                .write_all(piece)
                .map_err(|e| inflate_error(&self.file, decoder.get_ref(), e)),
            Inflate::Raw(bytes) => {
                bytes.extend_from_slice(piece);
                Ok(())
            }
            Inflate::Start(_) => unreachable!("decided above"),
        }
    }

    /// The whole decompressed content, once every piece is in.
    pub fn finish(self) -> Result<Vec<u8>, IdxError> {
        match self.state {
            Inflate::Start(seen) if seen.is_empty() => Err(IdxError::Empty { file: self.file }),
            Inflate::Start(seen) | Inflate::Raw(seen) => Ok(seen),
            Inflate::Gzip(mut decoder) => match decoder.try_finish() {
                Ok(()) => Ok(std::mem::take(&mut decoder.get_mut().bytes)),
                Err(e) => Err(inflate_error(&self.file, decoder.get_ref(), e)),
            },
        }
    }
}

/// What a failed inflation of `file` means: more than its header declares, or a bad stream.
fn inflate_error(file: &str, out: &Bounded, error: std::io::Error) -> IdxError {
    match (out.past_header, out.cap) {
        (true, Some(Cap::Declared { data, .. })) => IdxError::InflatesPastHeader {
            file: file.into(),
            declared: data,
        },
        _ => gzip_error(file, error),
    }
}

fn gzip_error(file: &str, error: std::io::Error) -> IdxError {
    IdxError::Gzip {
        file: file.into(),
        reason: error.to_string(),
    }
}
