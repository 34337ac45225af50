//! What a file that is not the one expected most likely is, from its first bytes: a web
//! server's error page where an IDX file should be, a picture picked instead of weights.
//! Used only to word error messages.

/// "a PNG image", "a web page (HTML)", …; `None` when the bytes say nothing recognisable.
pub fn looks_like(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 7] = [
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1f\x8b", "a gzip file"),
        (b"MNISTAE\0", "a weights file of this lab"),
    ];
    if let Some((_, name)) = SIGNATURES.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return Some(name);
    }
    let start = bytes.get(..bytes.len().min(512))?;
    let text = match std::str::from_utf8(start) {
        Ok(text) => text,
        // Cut in the middle of a character by the 512-byte window: the part before it.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&start[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    let text = text.trim_start_matches('\u{feff}');
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        Some("a web page (HTML)")
    } else if lower.starts_with('{') || lower.starts_with('[') {
        Some("JSON text")
    } else if !text.is_empty() && text.chars().all(|c| !c.is_control() || c.is_whitespace()) {
        Some("text")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like;

    #[test]
    fn names_common_files_and_nothing_else() {
        assert_eq!(
            looks_like(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("a PNG image")
        );
        assert_eq!(
            looks_like(b"\n<!DOCTYPE html>\n<html><body>404</body></html>"),
            Some("a web page (HTML)")
        );
        assert_eq!(looks_like(b"<HTML><BODY>"), Some("a web page (HTML)"));
        assert_eq!(looks_like(b"{\"datasets\": []}"), Some("JSON text"));
        assert_eq!(looks_like(b"these are my digits"), Some("text"));
        // An IDX header, random bytes and nothing at all are not recognised.
        assert_eq!(looks_like(b"\0\0\x08\x03\0\0\0\x02"), None);
        assert_eq!(looks_like(&[0x12, 0x34, 0x08, 0x03, 0xfe]), None);
        assert_eq!(looks_like(b""), None);
        assert_eq!(looks_like(b"\xff\xfe\x00garbage"), None);
        // Text whose 512-byte window ends inside a character is still text.
        assert_eq!(looks_like("é".repeat(300).as_bytes()), Some("text"));
    }
}
