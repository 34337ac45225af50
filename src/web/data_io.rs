//! Datasets in the page: the site's catalog (`datasets.json`) and a dataset's four IDX
//! files, inflated piece by piece as they download, with a byte-level progress bar.

use web_sys::HtmlElement;

use super::{dom, loader};
use crate::data::{Catalog, Dataset, Inflater, MAX_INFLATED_BYTES, TrainTest, upload};

/// The datasets this site has, from its `datasets.json`.
pub async fn load_catalog() -> Result<Catalog, String> {
    let bytes = loader::fetch_optional("datasets.json")
        .await?
        .ok_or("datasets.json: the site has no dataset catalog")?;
    let text = String::from_utf8(bytes).map_err(|_| "datasets.json: not UTF-8 text")?;
    Catalog::parse(&text).map_err(|e| format!("datasets.json: {e}"))
}

/// Fetches and parses `dataset`'s files; the error names the file and the fault (the
/// controller puts the dataset's name in front).
pub async fn load(dataset: &Dataset) -> Result<TrainTest, String> {
    let names = dataset.file_names();
    let mut responses = Vec::new();
    for name in names {
        let url = dataset.file_url(name);
        responses.push((url.clone(), loader::open(&url).await?));
    }
    let total: f64 = responses
        .iter()
        .map(|(_, r)| loader::content_length(r).unwrap_or(0.0))
        .sum();
    let progress: HtmlElement = dom::get("data-progress");
    dom::set_text("data-progress-label", &dataset.name);
    let mut loaded = 0usize;
    let mut files = Vec::new();
    for (name, (url, response)) in names.iter().zip(responses) {
        // Inflated as it arrives, between network chunks (no long task at the end).
        let mut inflater = Inflater::new(name, MAX_INFLATED_BYTES);
        loader::read_body(&url, response, |chunk| {
            inflater
                .write(chunk)
                .map_err(|e| e.to_string())?;
            loaded += chunk.len();
            show_progress(&progress, loaded as f64, total);
            Ok(())
        })
        .await?;
        files.push(
            inflater
                .finish()
                .map_err(|e| e.to_string())?,
        );
    }
    dom::set_attr(&progress, "value", "1");
    dom::next_frame().await;
    let files: [Vec<u8>; 4] = files.try_into().expect("one per file name");
    TrainTest::from_files(dataset, files).map_err(|e| e.to_string())
}

/// A person's own IDX files (picked or dropped), read and sorted out.
pub async fn read_uploads(files: Vec<web_sys::File>) -> Result<(Dataset, TrainTest), String> {
    let mut named = Vec::new();
    for file in files {
        let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
            .await
            .map_err(|e| loader::describe(&file.name(), e))?;
        named.push((file.name(), js_sys::Uint8Array::new(&buffer).to_vec()));
    }
    upload::from_files(named)
}

fn show_progress(progress: &HtmlElement, loaded: f64, total: f64) {
    let text = if total > 0.0 {
        dom::set_attr(progress, "value", &format!("{:.4}", loaded / total));
        format!("{:.1} / {:.1} MB", loaded / 1e6, total / 1e6)
    } else {
        // The server sent no Content-Length (e.g. compressed on the fly).
        format!("{:.1} MB", loaded / 1e6)
    };
    dom::set_text("data-progress-text", &text);
}
