//! Fetches files from the site with byte-level progress.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

use super::dom;

/// Why a file could not be fetched.
pub fn describe(url: &str, error: JsValue) -> String {
    let message = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{error:?}"));
    format!("{url}: {message}")
}

/// Starts a GET of `url` and returns the response once its headers arrive.
pub async fn open(url: &str) -> Result<Response, String> {
    let response: Response = JsFuture::from(dom::window().fetch_with_str(url))
        .await
        .map_err(|e| describe(url, e))?
        .dyn_into()
        .map_err(|e| describe(url, e))?;
    if !response.ok() {
        return Err(format!(
            "{url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    Ok(response)
}

/// The declared size of a response, if the server sent one.
pub fn content_length(response: &Response) -> Option<f64> {
    response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
}

/// Reads the whole body, calling `progress(bytes_read_now)` after each chunk.
pub async fn read_body(
    url: &str,
    response: Response,
    mut progress: impl FnMut(usize),
) -> Result<Vec<u8>, String> {
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| describe(url, e))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(bytes);
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| describe(url, e))?
            .unchecked_into();
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        progress(value.length() as usize);
    }
}

/// Fetches a small file in one go; `Ok(None)` when the server answers 404.
pub async fn fetch_optional(url: &str) -> Result<Option<Vec<u8>>, String> {
    let response: Response = JsFuture::from(dom::window().fetch_with_str(url))
        .await
        .map_err(|e| describe(url, e))?
        .unchecked_into();
    if response.status() == 404 {
        return Ok(None);
    }
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| describe(url, e))?)
        .await
        .map_err(|e| describe(url, e))?;
    Ok(Some(Uint8Array::new(&buffer).to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn read_body_returns_every_byte_and_reports_progress() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let body = Uint8Array::from(data.as_slice());
        let response = Response::new_with_opt_buffer_source(Some(body.as_ref())).unwrap();
        let mut reported = 0;
        let bytes = read_body("memory", response, |n| reported += n)
            .await
            .unwrap();
        assert_eq!(bytes, data);
        assert_eq!(reported, data.len());
    }

    #[wasm_bindgen_test]
    async fn a_missing_file_is_none_or_a_clear_error() {
        assert_eq!(fetch_optional("no-such-file.bin").await, Ok(None));
        let error = open("no-such-file.bin").await.unwrap_err();
        assert!(error.starts_with("no-such-file.bin: HTTP 404"), "{error}");
    }
}
