//! Weights kept in this browser across visits: one IndexedDB entry per model kind, keyed by
//! its name, holding the weights file (`weights::to_bytes`, with its checksum) and when it
//! was kept. Each entry is checked as a weights file when read; a damaged one is deleted.

use idb::{
    Database, DatabaseEvent, Factory, ObjectStore, ObjectStoreParams, TransactionFuture,
    TransactionMode, TransactionResult,
};
use std::future::IntoFuture;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::app::Kept;
use super::weights_io;
use crate::model::{Model, ModelKind};
use crate::weights::{self, WeightsHeader};

const DATABASE: &str = "mnist-ae";
const STORE: &str = "weights";

fn describe(error: idb::Error) -> String {
    error.to_string()
}

async fn open_database() -> Result<Database, String> {
    let factory = Factory::new().map_err(describe)?;
    let mut request = factory.open(DATABASE, Some(1)).map_err(describe)?;
    request.on_upgrade_needed(|event| {
        if let Ok(database) = event.database()
            && !database.store_names().iter().any(|name| name == STORE)
        {
            let _ = database.create_object_store(STORE, ObjectStoreParams::new());
        }
    });
    request.await.map_err(describe)
}

/// The store of kept weights in a new transaction, with what ends it ([`finish`]).
async fn open(mode: TransactionMode) -> Result<(ObjectStore, Ending), String> {
    let database = open_database().await?;
    let transaction = database.transaction(&[STORE], mode).map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    // Listening for its end from the start: no event of it can come before.
    Ok((store, (database, transaction.into_future())))
}

/// A transaction's database and the future of its end.
type Ending = (Database, TransactionFuture);

/// Waits for the transaction to end; an aborted one is an error.
async fn finish((database, done): Ending) -> Result<(), String> {
    let result = done.await.map_err(describe);
    database.close();
    match result? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err("the browser aborted the transaction".into()),
    }
}

/// Keeps `model` as the entry of its kind (replacing the one before).
pub async fn keep(model: &Model, header: &WeightsHeader) -> Result<(), String> {
    let bytes = weights_io::to_bytes(model, header).await?;
    let entry = Object::new();
    let set = |key: &str, value: &JsValue| Reflect::set(&entry, &key.into(), value);
    set("saved", &js_sys::Date::now().into()).map_err(|_| "could not build the entry")?;
    set("bytes", &Uint8Array::from(bytes.as_slice())).map_err(|_| "could not build the entry")?;
    let (store, ending) = open(TransactionMode::ReadWrite).await?;
    let key = JsValue::from(header.model.kind.name());
    store.put(&entry, Some(&key)).map_err(describe)?;
    finish(ending).await
}

/// An entry's weights file and when it was kept, or what is wrong with it.
fn entry_parts(value: &JsValue) -> Result<(Vec<u8>, f64), String> {
    let saved = Reflect::get(value, &"saved".into())
        .ok()
        .and_then(|v| v.as_f64())
        .ok_or("it has no date")?;
    let bytes = Reflect::get(value, &"bytes".into())
        .ok()
        .and_then(|v| v.dyn_into::<Uint8Array>().ok())
        .ok_or("it holds no weights file")?;
    Ok((bytes.to_vec(), saved))
}

/// What the browser keeps, each entry checked as a weights file (without building the
/// model); the damaged ones are deleted, and why is returned for each.
pub async fn list() -> Result<(Vec<Kept>, Vec<String>), String> {
    let (store, ending) = open(TransactionMode::ReadOnly).await?;
    // Both asked for before either is awaited: a transaction takes no new request once the
    // task that handled its last result has ended.
    let keys = store.get_all_keys(None, None).map_err(describe)?.into_future();
    let values = store.get_all(None, None).map_err(describe)?.into_future();
    let (keys, values) = (keys.await.map_err(describe)?, values.await.map_err(describe)?);
    finish(ending).await?;
    let (mut kept, mut discarded, mut damaged) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in keys.into_iter().zip(values) {
        let name = key.as_string().unwrap_or_else(|| format!("{key:?}"));
        match check(&name, &value) {
            Ok(entry) => kept.push(entry),
            Err(reason) => {
                discarded.push(Kept::discarded(&name, &reason));
                damaged.push(key);
            }
        }
    }
    if !damaged.is_empty() {
        delete(damaged).await?;
    }
    kept.sort_by_key(|entry| entry.kind.name());
    Ok((kept, discarded))
}

/// The entry kept under `name`, if it is a whole weights file of that model.
fn check(name: &str, value: &JsValue) -> Result<Kept, String> {
    let (bytes, saved_ms) = entry_parts(value)?;
    let kind: ModelKind = name.parse().map_err(|_| "no such model".to_string())?;
    let (header, _) = weights::read_header(&bytes).map_err(|e| e.to_string())?;
    match header.model.kind == kind {
        true => Ok(Kept {
            kind,
            epochs: header.epochs,
            dataset: header.dataset,
            saved_ms,
        }),
        false => Err(format!("it holds {} weights", header.model.kind)),
    }
}

/// The kept weights of `kind`, parsed for that model.
pub async fn read(kind: ModelKind) -> Result<Option<weights_io::Parsed>, String> {
    let (store, ending) = open(TransactionMode::ReadOnly).await?;
    let value = store
        .get(JsValue::from(kind.name()))
        .map_err(describe)?
        .await
        .map_err(describe)?;
    finish(ending).await?;
    let value = value.ok_or("it is gone")?;
    let (bytes, _) = entry_parts(&value)?;
    weights_io::parse(&bytes, kind).map(Some)
}

/// Deletes the entries of `kinds`.
pub async fn forget(kinds: &[ModelKind]) -> Result<(), String> {
    delete(kinds.iter().map(|kind| JsValue::from(kind.name())).collect()).await
}

async fn delete(keys: Vec<JsValue>) -> Result<(), String> {
    let (store, ending) = open(TransactionMode::ReadWrite).await?;
    // All asked for at once (see `list`); the transaction ends when they are done.
    for key in keys {
        store.delete(key).map_err(describe)?;
    }
    finish(ending).await
}
