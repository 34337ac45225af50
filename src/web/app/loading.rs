//! The controller's loading transitions: the site's dataset catalog, a dataset's files,
//! weights files (pretrained or uploaded) and the choice of model and dataset.

use burn::module::Module;

use super::{
    App, Changes, DataState, Effect, Kept, LoadedData, Origin, Shown, Status, WeightsOrigin,
    WorkerState, grid_indices,
};
use crate::data::{Catalog, Dataset, TrainTest};
use crate::model::{Model, ModelKind};
use crate::web::device::{BackendKind, Checkpoint, CopyOf};
use crate::web::run::LossCurves;
use crate::weights::WeightsHeader;

impl App {
    pub(super) fn on_catalog(&mut self, result: Result<Catalog, String>) -> Vec<Effect> {
        if let Ok(catalog) = result {
            // Keep the current dataset if the site lists it, else take the site's first.
            let dataset = catalog
                .get(&self.dataset.id)
                .unwrap_or(catalog.default_dataset());
            self.dataset = dataset.clone();
            self.catalog = catalog;
        }
        self.status = Status::Info(format!("loading {}…", self.dataset.name));
        vec![
            self.load_pretrained(true),
            Effect::LoadRecords(self.dataset.clone()),
            Effect::LoadData(self.dataset.clone()),
            Effect::ListKept,
        ]
    }

    pub(super) fn choose_dataset(&mut self, id: &str) -> Vec<Effect> {
        if self.run.is_active() || id == self.dataset.id {
            return Vec::new();
        }
        let dataset = match self.catalog.get(id) {
            Ok(dataset) => dataset.clone(),
            Err(e) => return self.error(e.to_string()),
        };
        let shown = std::mem::replace(&mut self.data, DataState::Loading);
        let shown_dataset = std::mem::replace(&mut self.dataset, dataset);
        self.previous_data = match shown {
            DataState::Loaded(data) => Some((shown_dataset, data)),
            _ => None,
        };
        self.metrics = None;
        self.changes |= Changes::DATA | Changes::METRICS;
        self.status = Status::Info(format!("loading {}…", self.dataset.name));
        vec![
            self.load_pretrained(true),
            Effect::LoadRecords(self.dataset.clone()),
            Effect::LoadData(self.dataset.clone()),
        ]
    }

    pub(super) fn on_data(
        &mut self,
        dataset: &str,
        result: Result<TrainTest, String>,
    ) -> Vec<Effect> {
        if dataset != self.dataset.id {
            return Vec::new(); // another dataset was chosen meanwhile
        }
        let sets = match result {
            Ok(sets) => {
                self.previous_data = None;
                sets
            }
            // Nothing lost: the dataset shown before (if any) stays.
            Err(message) => match self.previous_data.take() {
                None => {
                    let message = format!("{}: {message}", self.dataset.name);
                    self.data = DataState::Failed(message.clone());
                    return self.error(message);
                }
                Some((dataset, data)) => {
                    let failed = std::mem::replace(&mut self.dataset, dataset);
                    self.data = DataState::Loaded(data);
                    self.changes |= Changes::DATA;
                    return self.error(format!(
                        "{}: {message} — {} stays loaded",
                        failed.name, self.dataset.name
                    ));
                }
            },
        };
        let grid = grid_indices(&sets.test);
        let worker_data = sets.clone();
        self.data = DataState::Loaded(LoadedData { sets, grid });
        self.changes |= Changes::DATA;
        // A warning or error from loading the weights meanwhile stays in view.
        if let Status::Info(_) = self.status {
            self.status = Status::Info(format!(
                "ready: {} loaded — press Start to train, or draw a digit",
                self.dataset.name
            ));
        }
        let mut effects = Vec::new();
        if !self.worker_spawned {
            self.worker_spawned = true;
            effects.push(Effect::SpawnWorker);
        } else if self.worker == WorkerState::Ready {
            effects.push(Effect::SendWorkerData(worker_data));
        }
        effects.extend(self.warm_up());
        effects
    }

    /// A person's own files: they become the dataset, the model stays as it is (the site
    /// has no weights for them). Bad files leave the current dataset in place.
    pub(super) fn on_upload(
        &mut self,
        result: Result<(Dataset, TrainTest), String>,
    ) -> Vec<Effect> {
        if self.run.is_active() {
            return self.error("a run is going: reset it before changing the data".into());
        }
        let (dataset, sets) = match result {
            Ok(uploaded) => uploaded,
            Err(message) => {
                return self.error(format!("{message} — the current dataset is unchanged"));
            }
        };
        self.dataset = dataset;
        self.metrics = None;
        self.records = Vec::new(); // a person's own data has no pretrained weights
        self.changes |= Changes::METRICS;
        self.status = Status::Info(format!("loaded your files: {}", self.dataset.description));
        let id = self.dataset.id.clone();
        self.on_data(&id, Ok(sets))
    }

    pub(super) fn on_weights(
        &mut self,
        origin: WeightsOrigin,
        result: Result<Option<(Model, WeightsHeader)>, String>,
    ) -> Vec<Effect> {
        let (source, quiet) = match &origin {
            WeightsOrigin::Pretrained { url, quiet } => (url.clone(), *quiet),
            WeightsOrigin::Upload { name } => (name.clone(), false),
            WeightsOrigin::Kept { .. } => ("kept in this browser".into(), false),
        };
        let (model, header) = match result {
            Ok(Some(loaded)) => loaded,
            Ok(None) if quiet => return Vec::new(),
            Ok(None) => {
                let kind = self.model.config.kind;
                return self.error(format!("no pretrained weights for {kind} on this site"));
            }
            Err(message) => return self.refuse_weights(&origin, &message),
        };
        if self.run.is_active() {
            return match quiet {
                true => Vec::new(),
                false => self.refuse_weights(&origin, "a run is going: reset it first"),
            };
        }
        let mut effects = Vec::new();
        if let WeightsOrigin::Kept { kind } = origin {
            // Restoring another model's weights shows that model.
            self.drop_from_offer(kind);
            if kind != self.model.config.kind {
                effects.extend(self.show_kind(kind));
            }
        }
        // A pretrained file asked for before another model was chosen arrives too late to
        // matter.
        if header.model.kind != self.model.config.kind {
            return effects;
        }
        let shown = if self.backend.kind == BackendKind::WebGpu {
            let on_gpu = model.clone().fork(&self.backend.device);
            self.cpu_copy = Some(Checkpoint {
                model,
                of: CopyOf::Loaded,
            });
            on_gpu
        } else {
            self.cpu_copy = None;
            model
        };
        self.model.config = header.model;
        let origin_of_model = Origin::Loaded {
            source: source.clone(),
            epochs: header.epochs,
            dataset: header.dataset.clone(),
        };
        self.set_model(shown, origin_of_model);
        self.show_record();
        // A denoiser's weights: the grid shows the corruption it removes.
        let variant = self.dataset.variants.iter().find(|v| v.file == source);
        if let Some(noise) = variant.and_then(|v| v.noise.as_deref()?.parse().ok()) {
            self.noise = Some(noise);
            self.changes |= Changes::NOISE;
        }
        let loaded = match origin {
            WeightsOrigin::Pretrained { .. } => {
                format!("loaded pretrained {} weights", header.model.kind)
            }
            WeightsOrigin::Upload { name } => format!("loaded weights from {name}"),
            WeightsOrigin::Kept { kind } => format!(
                "restored the {kind} weights kept in this browser ({} epochs)",
                header.epochs
            ),
        };
        let status = if header.dataset == self.dataset.id {
            Status::Info(loaded)
        } else {
            Status::Warning(format!(
                "{loaded}, trained on {}, not {}",
                header.dataset, self.dataset.id
            ))
        };
        // A file loaded unasked (at start, or with a model chosen) leaves a warning or an
        // error in view, e.g. kept weights found damaged.
        let routine = quiet && matches!(status, Status::Info(_));
        if !routine || matches!(self.status, Status::Info(_)) {
            self.status = status;
        }
        effects.extend(self.warm_up());
        effects
    }

    fn refuse_weights(&mut self, origin: &WeightsOrigin, message: &str) -> Vec<Effect> {
        match origin {
            WeightsOrigin::Pretrained { url, .. } => self.error(format!("{url}: {message}")),
            WeightsOrigin::Upload { name } => self.error(format!(
                "{name}: {message} — the current model is unchanged"
            )),
            WeightsOrigin::Kept { kind } => {
                let kind = *kind;
                self.drop_from_offer(kind);
                self.error(Kept::discarded(kind.name(), message));
                vec![Effect::ForgetKept(vec![kind])]
            }
        }
    }

    /// Shows a fresh `kind` model in place of the shown one (which goes on the shelf unless
    /// fresh), for weights of that kind about to arrive; the other model's curves and test
    /// figures go.
    fn show_kind(&mut self, kind: ModelKind) -> Vec<Effect> {
        self.take_from_shelf(kind);
        self.shelve_shown();
        self.fresh_model(kind);
        self.curves = LossCurves::default();
        self.metrics = None;
        self.changes |= Changes::CURVES | Changes::METRICS;
        self.batch_size = kind.default_batch_size();
        vec![Effect::SuggestBatchSize(self.batch_size)]
    }

    /// Shows a model of `kind`: the weights it had this session if it is on the shelf and
    /// can come to the current device now, else fresh ones and the pretrained file. The
    /// model shown before goes on the shelf unless it is fresh.
    pub(super) fn choose_model(&mut self, kind: ModelKind) -> Vec<Effect> {
        if self.run.is_active() {
            return Vec::new();
        }
        let kept = match kind == self.model.config.kind {
            true => None, // the same model again: fresh weights and the pretrained file
            false => {
                let kept = self.take_from_shelf(kind);
                self.shelve_shown();
                kept
            }
        };
        self.batch_size = kind.default_batch_size();
        let mut effects = vec![Effect::SuggestBatchSize(self.batch_size)];
        match kept {
            Some(shown) => {
                self.status = Status::Info(format!(
                    "{kind}: the weights it had this session ({}), kept in memory",
                    shown.origin.describe()
                ));
                self.model.config = shown.config;
                let model = shown.model.on(&self.backend.device);
                self.set_model(model, shown.origin);
                self.cpu_copy = None;
            }
            None => {
                self.fresh_model(kind);
                effects.push(self.load_pretrained(true));
            }
        }
        effects.extend(self.warm_up());
        effects
    }

    /// Puts the shown model on the shelf (in place of an older one of its kind), unless it is
    /// fresh.
    fn shelve_shown(&mut self) {
        if self.model.origin == Origin::Fresh {
            return;
        }
        let kind = self.model.config.kind;
        self.shelf.retain(|kept| kept.config.kind != kind);
        self.shelf.push(self.model.clone());
        self.changes |= Changes::SHELF;
    }

    /// The shelved model of `kind`, taken off the shelf if it can move to the current device
    /// now: any model can go up to WebGPU, but one on WebGPU comes back only by an
    /// asynchronous read, so it stays shelved for the comparison (which reads it so).
    fn take_from_shelf(&mut self, kind: ModelKind) -> Option<Shown> {
        let at = self.shelf.iter().position(|kept| {
            kept.config.kind == kind
                && (kept.model.device() == self.backend.device
                    || self.backend.kind == BackendKind::WebGpu)
        })?;
        self.changes |= Changes::SHELF;
        Some(self.shelf.remove(at))
    }
}
