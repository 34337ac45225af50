//! What the site's manifest says of its pretrained weights: the run that made each file (its
//! per-epoch history) and its test figures. Shown with the weights at once, so that loading
//! them fills the chart and the metrics table without a measurement in the page.

use serde::Deserialize;

use super::{App, Changes, Effect, Origin};
use crate::metrics::Metrics;
use crate::training::EpochRecord;
use crate::web::run::LossCurves;

/// One pretrained file's entry in `<weights_dir>/manifest.json` (the fields the page shows).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub model: String,
    pub epochs: usize,
    pub history: Vec<EpochRecord>,
    pub test: TestFigures,
}

/// The file's figures on the whole test set, as `mnist-ae eval` measured them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TestFigures {
    pub test_mse: f64,
    pub psnr_db: f64,
    pub ssim: f64,
    pub l2_per_image: f64,
    pub test_images: usize,
}

/// A manifest's models.
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>, String> {
    #[derive(Deserialize)]
    struct Manifest {
        models: Vec<Record>,
    }
    serde_json::from_slice::<Manifest>(bytes)
        .map(|manifest| manifest.models)
        .map_err(|e| format!("the weights manifest is not readable ({e})"))
}

impl App {
    /// The dataset's records arrived (none: a site without a manifest, or a person's own
    /// data); the shown model's are drawn if it is the pretrained file.
    pub(super) fn on_records(
        &mut self,
        dataset: &str,
        result: Result<Vec<Record>, String>,
    ) -> Vec<Effect> {
        if dataset != self.dataset.id {
            return Vec::new();
        }
        // Without records the page only lacks a picture it can make itself by training or
        // evaluating: nothing to report.
        self.records = result.unwrap_or_default();
        self.show_record();
        Vec::new()
    }

    /// When the shown model is the dataset's pretrained file: the chart shows the run that
    /// made it and the table its test figures.
    pub(super) fn show_record(&mut self) {
        let kind = self.model.config.kind;
        let pretrained = self.dataset.weights_file(kind.name());
        let shown =
            matches!(&self.model.origin, Origin::Loaded { source, .. } if *source == pretrained);
        let Some(record) = self.records.iter().find(|r| r.model == kind.name()) else {
            return;
        };
        if !shown || self.run.is_active() {
            return;
        }
        let points = |value: fn(&EpochRecord) -> f64| {
            record
                .history
                .iter()
                .map(|r| (r.epoch as f64, value(r)))
                .collect()
        };
        self.curves = LossCurves {
            train: points(|r| r.train_mse),
            validation: points(|r| r.val_mse),
            ..LossCurves::default()
        };
        self.chart_epochs = record.epochs;
        let test = &record.test;
        self.metrics = Some((
            kind,
            Metrics {
                mse: test.test_mse,
                psnr_db: test.psnr_db,
                ssim: test.ssim,
                l2_per_image: test.l2_per_image,
                images: test.test_images,
                input_psnr_db: None,
                input_ssim: None,
            },
        ));
        self.changes |= Changes::CURVES | Changes::METRICS;
    }
}
