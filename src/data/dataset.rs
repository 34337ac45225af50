//! The datasets the lab knows, as data: `static/datasets.json`. The page fetches that file
//! from the site and this library embeds it for the CLI, so adding a dataset of 28×28 grey
//! images in ten classes is one more entry there, not code.
//!
//! An entry: `id` (command line, weights headers), `name` and `description` (for people),
//! `dir` (its four IDX files: `static/<dir>/` in the repository, `<dir>/` on the site),
//! `files` (their names), `weights_dir` (the pretrained `<model>.bin` files), `labels` (the ten
//! class names), and for `scripts/fetch-data.py`: `sha256` (of each file's *decompressed*
//! content, which is what identifies the data whatever gzip made the file) and `sources`
//! (`shared`: a folder of `../shared/` beside the repository; `system`: a folder a system
//! package installs, e.g. Debian's `dataset-fashion-mnist`; `mirrors`: base URLs).

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// How many classes a dataset has: the IDX reader accepts labels 0–9.
const CLASSES: usize = 10;
/// The id of the dataset made of a person's own files.
pub const UPLOADED_ID: &str = "your-files";

/// One dataset: where its files are and what its classes are called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub description: String,
    pub dir: String,
    pub files: PerFile,
    pub weights_dir: String,
    pub labels: Vec<String>,
    pub sha256: PerFile,
    pub sources: Sources,
    /// Pretrained weights beyond the reference ones, offered by name.
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// Pretrained weights of one model trained with a technique (e.g. a denoiser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// The model kind's name, e.g. `upsample`.
    pub model: String,
    /// What a person picks, e.g. "denoising (Gaussian σ 0.3)".
    pub name: String,
    /// The weights file, relative to the site's root (and the repository).
    pub file: String,
    /// The corruption it was trained to remove (`NAME:STRENGTH`, as the CLI's `--noise`):
    /// the page shows it in the grid when these weights load.
    #[serde(default)]
    pub noise: Option<String>,
}

/// One value for each of a dataset's four files (its name, or its checksum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerFile {
    pub train_images: String,
    pub train_labels: String,
    pub test_images: String,
    pub test_labels: String,
}

impl PerFile {
    /// Train images, train labels, test images, test labels.
    pub fn as_array(&self) -> [&str; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}

/// Where `scripts/fetch-data.py` gets the files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources {
    #[serde(default)]
    pub shared: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub mirrors: Vec<String>,
}

impl Dataset {
    /// The entry for IDX files a person uploaded (`files`, by name): not in the catalog,
    /// no files on the site, classes named by their numbers; the site's MNIST weights are
    /// offered (with a warning, as for any other dataset's).
    pub fn uploaded(files: &[String], train: usize, test: usize) -> Self {
        let none = || PerFile {
            train_images: String::new(),
            train_labels: String::new(),
            test_images: String::new(),
            test_labels: String::new(),
        };
        Self {
            id: UPLOADED_ID.into(),
            name: "Your files".into(),
            description: format!(
                "{train} training and {test} test images from {}",
                files.join(", ")
            ),
            dir: String::new(),
            files: none(),
            weights_dir: "weights".into(),
            labels: (0..CLASSES).map(|c| format!("class {c}")).collect(),
            sha256: none(),
            sources: Sources::default(),
            variants: Vec::new(),
        }
    }

    /// The four file names: train images, train labels, test images, test labels.
    pub fn file_names(&self) -> [&str; 4] {
        self.files.as_array()
    }

    /// Where the page fetches `name`, relative to the site's root.
    pub fn file_url(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// The pretrained weights of `model_name`, relative to the site's root (and to the
    /// repository, where the CLI reads them).
    pub fn weights_file(&self, model_name: &str) -> String {
        format!("{}/{model_name}.bin", self.weights_dir)
    }

    fn validate(&self) -> Result<(), DatasetError> {
        let invalid = |problem: String| {
            Err(DatasetError::Invalid {
                id: self.id.clone(),
                problem,
            })
        };
        if self.id.is_empty() {
            return invalid("the id is empty".into());
        }
        for variant in &self.variants {
            if let Some(noise) = &variant.noise
                && let Err(e) = noise.parse::<crate::data::Corruption>()
            {
                return invalid(format!("variant '{}': {e}", variant.name));
            }
        }
        if self.labels.len() != CLASSES {
            return invalid(format!(
                "{} labels, expected {CLASSES} (one per class 0–9)",
                self.labels.len()
            ));
        }
        let named = [
            ("dir", self.dir.as_str()),
            ("weights_dir", &self.weights_dir),
        ];
        let files = ["train_images", "train_labels", "test_images", "test_labels"];
        let names = files.into_iter().zip(self.file_names());
        if let Some((key, _)) = named.into_iter().chain(names).find(|(_, v)| v.is_empty()) {
            return invalid(format!("{key} is empty"));
        }
        let is_sha256 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if let Some((key, _)) = files
            .into_iter()
            .zip(self.sha256.as_array())
            .find(|(_, sum)| !is_sha256(sum))
        {
            return invalid(format!("sha256.{key} is not 64 hex digits"));
        }
        Ok(())
    }
}

/// The list of datasets; never empty, ids unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    datasets: Vec<Dataset>,
}

/// What is wrong with a catalog, or with a dataset asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    #[error("the dataset catalog is unreadable: {0}")]
    Unreadable(String),
    #[error("the dataset catalog lists no dataset")]
    Empty,
    #[error("dataset '{id}' in the catalog: {problem}")]
    Invalid { id: String, problem: String },
    #[error("unknown dataset '{id}' (known: {known})")]
    Unknown { id: String, known: String },
}

impl Catalog {
    /// `static/datasets.json` as built into this binary (its unit test keeps it valid).
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Catalog::parse(include_str!("../../static/datasets.json"))
                .unwrap_or_else(|e| panic!("static/datasets.json: {e}"))
        })
    }

    /// Reads and checks a catalog (the text of `datasets.json`).
    pub fn parse(json: &str) -> Result<Catalog, DatasetError> {
        let catalog: Catalog =
            serde_json::from_str(json).map_err(|e| DatasetError::Unreadable(e.to_string()))?;
        if catalog.datasets.is_empty() {
            return Err(DatasetError::Empty);
        }
        let mut ids = HashSet::new();
        for dataset in &catalog.datasets {
            dataset.validate()?;
            if !ids.insert(dataset.id.as_str()) {
                return Err(DatasetError::Invalid {
                    id: dataset.id.clone(),
                    problem: "listed twice".into(),
                });
            }
        }
        Ok(catalog)
    }

    /// Every dataset, the default first.
    pub fn datasets(&self) -> &[Dataset] {
        &self.datasets
    }

    /// The dataset called `id`; the error lists the known ones.
    pub fn get(&self, id: &str) -> Result<&Dataset, DatasetError> {
        self.datasets
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| DatasetError::Unknown {
                id: id.into(),
                known: self.ids().join(", "),
            })
    }

    /// The first dataset listed.
    pub fn default_dataset(&self) -> &Dataset {
        &self.datasets[0]
    }

    fn ids(&self) -> Vec<&str> {
        self.datasets.iter().map(|d| d.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_builtin_catalog_has_mnist_first() {
        let catalog = Catalog::builtin();
        let mnist = catalog.get("mnist").unwrap();
        assert_eq!(catalog.default_dataset(), mnist);
        assert_eq!(mnist.labels.len(), 10);
        assert_eq!(
            mnist.file_names(),
            [
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
            ]
        );
        assert_eq!(
            mnist.file_url(mnist.file_names()[0]),
            "mnist/train-images-idx3-ubyte.gz"
        );
        assert_eq!(mnist.weights_file("ffnn"), "weights/ffnn.bin");
    }

    #[test]
    fn an_unknown_id_lists_the_known_ones() {
        let err = Catalog::builtin().get("cifar").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown dataset 'cifar' (known: mnist, fashion-mnist)"
        );
    }

    /// The builtin catalog's text with `change` applied to its JSON.
    fn changed(change: impl FnOnce(&mut serde_json::Value)) -> Result<Catalog, DatasetError> {
        let mut json: serde_json::Value =
            serde_json::from_str(include_str!("../../static/datasets.json")).unwrap();
        change(&mut json);
        Catalog::parse(&json.to_string())
    }

    #[test]
    fn bad_catalogs_are_refused_with_the_reason() {
        let message = |change: fn(&mut serde_json::Value)| changed(change).unwrap_err().to_string();
        assert_eq!(
            message(|j| j["datasets"] = serde_json::json!([])),
            "the dataset catalog lists no dataset"
        );
        assert_eq!(
            message(|j| {
                let first = j["datasets"][0].clone();
                j["datasets"].as_array_mut().unwrap().push(first);
            }),
            "dataset 'mnist' in the catalog: listed twice"
        );
        assert_eq!(
            message(|j| {
                j["datasets"][0]["labels"].as_array_mut().unwrap().pop();
            }),
            "dataset 'mnist' in the catalog: 9 labels, expected 10 (one per class 0–9)"
        );
        assert_eq!(
            message(|j| j["datasets"][0]["files"]["test_labels"] = "".into()),
            "dataset 'mnist' in the catalog: test_labels is empty"
        );
        assert_eq!(
            message(|j| j["datasets"][0]["sha256"]["train_images"] = "abc".into()),
            "dataset 'mnist' in the catalog: sha256.train_images is not 64 hex digits"
        );
        assert!(
            message(|j| j["datasets"][0]["id"] = 7.into())
                .starts_with("the dataset catalog is unreadable")
        );
        assert!(Catalog::parse("not json").is_err());
        assert!(changed(|_| {}).is_ok());
    }
}
