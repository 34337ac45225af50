//! The malformed-input corpus (`tests/corpus/`, made by `tests/corpus/make.py`): every file
//! is refused with an error that names it and says what is wrong, through the same code the
//! page runs for a fetched dataset, an uploaded one and uploaded weights. The e2e test
//! "Malformed input" feeds the same files to the page itself.
#![cfg(not(target_family = "wasm"))]

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use mnist_ae::data::{Catalog, TrainTest, upload};
use mnist_ae::model::ModelKind;
use mnist_ae::weights;
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn cases() -> Vec<Value> {
    let json: Value = serde_json::from_slice(&read("cases.json")).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn text(case: &Value, key: &str) -> String {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no {key}"))
        .to_string()
}

fn assert_names_file_and_fault(message: &str, case: &Value) {
    let (file, fault) = (text(case, "file"), text(case, "fault"));
    assert!(
        message.contains(&file),
        "{file}: the message does not name it: {message}"
    );
    assert!(
        message.contains(&fault),
        "{file}: expected '{fault}' in: {message}"
    );
}

#[test]
fn the_corpus_has_every_kind_of_fault_the_issue_lists() {
    let cases = cases();
    let kinds = |kind: &str| cases.iter().filter(|c| c["kind"] == kind).count();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    assert!(kinds("idx") >= 14 && kinds("weights") >= 6);
}

/// Fetched: each case is a dataset of the corpus's catalog with the broken file in one of
/// its four places, read as the page reads a site's dataset.
#[test]
fn each_broken_dataset_file_is_named_with_its_fault() {
    let catalog = Catalog::parse(std::str::from_utf8(&read("datasets.json")).unwrap()).unwrap();
    for case in cases().iter().filter(|c| c["kind"] == "idx") {
        let dataset = catalog.get(&text(case, "dataset")).unwrap();
        let error = TrainTest::load_dir(dataset, &corpus()).expect_err(&text(case, "file"));
        assert_names_file_and_fault(&error.to_string(), case);
    }
}

/// Uploaded: each broken file with a good file of the other kind (images with labels).
#[test]
fn each_broken_upload_is_named_with_its_fault() {
    for case in cases()
        .iter()
        .filter(|c| c["kind"] == "idx" && c["upload"] == true)
    {
        let partner = match text(case, "what").as_str() {
            "images" => "good-labels-idx1-ubyte.gz",
            _ => "good-images-idx3-ubyte.gz",
        };
        let file = text(case, "file");
        let files = vec![(file.clone(), read(&file)), (partner.into(), read(partner))];
        let error = upload::from_files(files).expect_err(&file);
        assert_names_file_and_fault(&error, case);
    }
}

/// Weights: each file, given for the model the page shows, is refused with its fault (the
/// page puts the file's name in front of the message).
#[test]
fn each_broken_weights_file_says_what_is_wrong() {
    let device = Device::flex();
    for case in cases().iter().filter(|c| c["kind"] == "weights") {
        let kind: ModelKind = text(case, "model").parse().unwrap();
        let file = text(case, "file");
        let error = weights::from_bytes_for(&read(&file), kind, &device).expect_err(&file);
        let fault = text(case, "fault");
        assert!(
            error.to_string().contains(&fault),
            "{file}: expected '{fault}' in: {error}"
        );
    }
}
