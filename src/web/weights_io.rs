//! Weights files in the page: the site's pretrained files, uploads and downloads. Files are
//! parsed on the CPU; the controller puts the model on the page's backend.

use wasm_bindgen::JsCast;

use super::{device, dom, loader};
use crate::model::{Model, ModelKind};
use crate::weights::{self, WeightsHeader};

/// A parsed weights file: the model on the CPU and what the file says of itself.
pub type Parsed = (Model, WeightsHeader);

pub fn parse(bytes: &[u8], kind: ModelKind) -> Result<Parsed, String> {
    weights::from_bytes_for(bytes, kind, &device::cpu().device).map_err(|e| e.to_string())
}

/// The site's weights file at `url` for a `kind` model; `Ok(None)` if the site has none.
pub async fn fetch(url: &str, kind: ModelKind) -> Result<Option<Parsed>, String> {
    match loader::fetch_optional(url).await? {
        Some(bytes) => parse(&bytes, kind).map(Some),
        None => Ok(None),
    }
}

/// A file the person chose, for a `kind` model.
pub async fn read_upload(file: &web_sys::File, kind: ModelKind) -> Result<Option<Parsed>, String> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| loader::describe(&file.name(), e))?;
    parse(&js_sys::Uint8Array::new(&buffer).to_vec(), kind).map(Some)
}

/// `model` as a weights file with `header`.
pub async fn to_bytes(model: &Model, header: &WeightsHeader) -> Result<Vec<u8>, String> {
    // Serialising reads the tensors synchronously: do it on a CPU copy.
    let model = model
        .copy_to(&device::cpu().device)
        .await
        .map_err(|e| format!("could not read the weights: {e}"))?;
    weights::to_bytes(&model, header).map_err(|e| e.to_string())
}

/// Saves `model` as `<kind>.bin` through the browser's download.
pub async fn download(model: &Model, header: &WeightsHeader) -> Result<(), String> {
    let bytes = to_bytes(model, header).await?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts)
        .map_err(|_| "could not package the weights")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|_| "could not package the weights")?;
    let link: web_sys::HtmlAnchorElement = dom::document()
        .create_element("a")
        .expect("an anchor")
        .unchecked_into();
    link.set_href(&url);
    link.set_download(&format!("{}.bin", header.model.kind));
    link.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
