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

/// Main-thread time `read_body` may take before it lets other tasks run, in milliseconds.
const TASK_BUDGET_MS: f64 = 8.0;

/// The most bytes `read_body` hands on at once: a network chunk can be a megabyte or more
/// (from a local server), and inflating that much in one go takes 50–150 ms of wasm.
const PIECE_BYTES: usize = 64 * 1024;

/// Streams the body to `on_chunk`, piece by piece (at most [`PIECE_BYTES`]) as it arrives;
/// `on_chunk` may refuse the data with a message. Yields to the page whenever it has worked
/// for [`TASK_BUDGET_MS`], so a large download processed on arrival (e.g. inflated) never
/// makes one long task.
pub async fn read_body(
    url: &str,
    response: Response,
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let Some(body) = response.body() else {
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut task_start = dom::now();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| describe(url, e))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(());
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| describe(url, e))?
            .unchecked_into();
        for piece in value.to_vec().chunks(PIECE_BYTES) {
            on_chunk(piece)?;
            if dom::now() - task_start > TASK_BUDGET_MS {
                dom::yield_task().await;
                task_start = dom::now();
            }
        }
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

    fn response(data: &[u8]) -> Response {
        let body = Uint8Array::from(data);
        Response::new_with_opt_buffer_source(Some(body.as_ref())).unwrap()
    }

    #[wasm_bindgen_test]
    async fn read_body_streams_every_byte_and_stops_on_a_refusal() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut bytes = Vec::new();
        let mut largest = 0;
        read_body("memory", response(&data), |chunk| {
            bytes.extend_from_slice(chunk);
            largest = largest.max(chunk.len());
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(bytes, data);
        // However the browser cuts the stream, no piece is handed on whole if it is large.
        assert!(largest <= PIECE_BYTES, "a piece of {largest} bytes");

        let refused = read_body("memory", response(&data), |_| Err("no thanks".into())).await;
        assert_eq!(refused, Err("no thanks".to_string()));
    }

    #[wasm_bindgen_test]
    async fn a_missing_file_is_none_or_a_clear_error() {
        assert_eq!(fetch_optional("no-such-file.bin").await, Ok(None));
        let error = open("no-such-file.bin").await.unwrap_err();
        assert!(error.starts_with("no-such-file.bin: HTTP 404"), "{error}");
    }
}
