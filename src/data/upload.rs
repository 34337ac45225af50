//! Your own data: IDX files a person hands the page (file picker or drag and drop), sorted
//! out by their content rather than their names. Four files are the training and test
//! images and labels (the larger image file trains); two are images and labels, of which
//! the last seventh becomes the test set (MNIST's 10,000 of 70,000). Every fault is the
//! reader's typed error, naming the file.

use std::sync::Arc;

use super::idx::{self, IdxError};
use super::{Dataset, ImageSet, MAX_INFLATED_BYTES, TrainTest};

/// The share of a two-file upload kept for the test set: one in seven.
const TEST_SHARE: usize = 7;

/// What one file holds, by its first bytes.
enum Kind {
    Images { count: u32 },
    Labels { count: u32 },
}

/// Parses the `files` (name, bytes) into training and test sets, and a dataset entry that
/// describes them.
pub fn from_files(files: Vec<(String, Vec<u8>)>) -> Result<(Dataset, TrainTest), String> {
    if files.len() != 2 && files.len() != 4 {
        return Err(format!(
            "{} files given: give two IDX files (images and labels) or four (training and test images and labels)",
            files.len()
        ));
    }
    let names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (name, bytes) in files {
        let raw = idx::decompress(&name, bytes, MAX_INFLATED_BYTES).map_err(|e| e.to_string())?;
        match kind(&name, &raw)? {
            Kind::Images { count } => images.push((name, raw, count)),
            Kind::Labels { count } => labels.push((name, raw, count)),
        }
    }
    if images.len() != labels.len() {
        return Err(format!(
            "{} image files and {} label files: each image file needs its label file",
            images.len(),
            labels.len()
        ));
    }
    let sets = if images.len() == 1 {
        let (set, _) = parse(images.pop(), labels.pop())?;
        split(set)?
    } else {
        // The larger image file trains; each takes the label file of its own count.
        images.sort_by_key(|(_, _, count)| std::cmp::Reverse(*count));
        labels.sort_by_key(|(_, _, count)| std::cmp::Reverse(*count));
        let (train, test) = (images.remove(0), images.remove(0));
        let (train_labels, test_labels) = (labels.remove(0), labels.remove(0));
        TrainTest {
            train: Arc::new(parse(Some(train), Some(train_labels))?.0),
            test: Arc::new(parse(Some(test), Some(test_labels))?.0),
        }
    };
    let dataset = Dataset::uploaded(&names, sets.train.len(), sets.test.len());
    Ok((dataset, sets))
}

/// An image file (`0x00000803`) or a label file (`0x00000801`), from its header.
fn kind(name: &str, raw: &[u8]) -> Result<Kind, String> {
    let count = || -> Result<u32, String> {
        let bytes = raw.get(4..8).ok_or_else(|| {
            IdxError::ShortHeader {
                file: name.into(),
                len: raw.len(),
            }
            .to_string()
        })?;
        Ok(u32::from_be_bytes(bytes.try_into().expect("four bytes")))
    };
    match raw.get(..4) {
        Some([0, 0, 8, 3]) => Ok(Kind::Images { count: count()? }),
        Some([0, 0, 8, 1]) => Ok(Kind::Labels { count: count()? }),
        // Anything else: the image reader says what is wrong with it.
        _ => Err(idx::parse_images(name, raw.to_vec())
            .err()
            .map_or_else(|| format!("{name}: not an IDX file"), |e| e.to_string())),
    }
}

type Named = (String, Vec<u8>, u32);

/// An image file and its label file as one set.
fn parse(images: Option<Named>, labels: Option<Named>) -> Result<(ImageSet, String), String> {
    let ((images_name, images, _), (labels_name, labels, _)) =
        images.zip(labels).expect("paired by the caller");
    let set = ImageSet::from_idx(&images_name, images, &labels_name, labels)
        .map_err(|e| e.to_string())?;
    Ok((set, images_name))
}

/// The last seventh of `set` as the test set.
fn split(set: ImageSet) -> Result<TrainTest, String> {
    let count = set.len();
    if count < 2 {
        return Err(format!(
            "{count} image: at least two are needed, one to train on and one to test"
        ));
    }
    let test = (count / TEST_SHARE).max(1);
    let cut = count - test;
    let part = |range: std::ops::Range<usize>| {
        let pixels = set.pixels()
            [range.start * super::IMAGE_PIXELS..range.end * super::IMAGE_PIXELS]
            .to_vec();
        let labels = set.labels()[range].to_vec();
        Arc::new(ImageSet::new(pixels, labels).expect("a part of a valid set"))
    };
    Ok(TrainTest {
        train: part(0..cut),
        test: part(cut..count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn idx(magic: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, magic];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    fn images(n: u32) -> Vec<u8> {
        idx(3, &[n, 28, 28], &vec![9; n as usize * IMAGE_PIXELS])
    }

    fn labels(n: u32) -> Vec<u8> {
        idx(1, &[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
    }

    fn named(files: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|(n, b)| (n.to_string(), b.clone()))
            .collect()
    }

    #[test]
    fn four_files_pair_by_count_whatever_their_order_and_names() {
        let files = named(&[
            ("b.idx", labels(3)),
            ("a.idx", images(3)),
            ("c.idx", images(12)),
            ("d.idx", labels(12)),
        ]);
        let (dataset, sets) = from_files(files).unwrap();
        assert_eq!((sets.train.len(), sets.test.len()), (12, 3));
        assert_eq!(dataset.id, "your-files");
        assert_eq!(dataset.labels.len(), 10);
        assert!(
            dataset
                .description
                .contains("12 training and 3 test images"),
            "{}",
            dataset.description
        );
    }

    #[test]
    fn two_files_keep_the_last_seventh_for_testing() {
        let (_, sets) = from_files(named(&[("x", images(70)), ("y", labels(70))])).unwrap();
        assert_eq!((sets.train.len(), sets.test.len()), (60, 10));
        assert_eq!(sets.test.label(0), (60 % 10) as u8);
    }

    #[test]
    fn faults_name_the_file_and_what_is_wrong() {
        let error = |files: &[(&str, Vec<u8>)]| from_files(named(files)).unwrap_err();
        assert!(error(&[("one.idx", images(3))]).starts_with("1 files given"));
        let big = idx(3, &[2, 32, 32], &vec![0; 2 * 32 * 32]);
        assert!(error(&[("big.idx", big), ("l.idx", labels(2))]).contains("big.idx"));
        let swapped = error(&[("i.idx", images(2)), ("i2.idx", images(2))]);
        assert!(
            swapped.contains("2 image files and 0 label files"),
            "{swapped}"
        );
        let mismatch = error(&[("i.idx", images(3)), ("l.idx", labels(4))]);
        assert!(
            mismatch.contains("l.idx") && mismatch.contains("4 labels for 3 images"),
            "{mismatch}"
        );
        let text = error(&[
            ("page.html", b"<!doctype html><p>404</p>".to_vec()),
            ("l", labels(2)),
        ]);
        assert!(text.starts_with("page.html:"), "{text}");
        let eleven = idx(1, &[2], &[3, 11]);
        assert!(error(&[("i", images(2)), ("bad-labels", eleven)]).contains("label 11"));
        let mut cut = images(3);
        cut.truncate(cut.len() - 10);
        assert!(error(&[("cut.idx", cut), ("l", labels(3))]).contains("cut.idx"));
        assert!(error(&[("i", images(1)), ("l", labels(1))]).contains("at least two"));
    }
}
