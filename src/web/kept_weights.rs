//! Weights kept in this browser across visits: one IndexedDB entry per model kind, keyed by
//! its name, holding the weights file (`weights::to_bytes`, with its checksum) and when it
//! was kept. Each entry is checked as a weights file when read; a damaged one is deleted.

use idb::{Database, DatabaseEvent, Factory, ObjectStoreParams, TransactionMode};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::app::Kept;
use super::{device, weights_io};
use crate::model::{Model, ModelKind};
use crate::weights::{self, WeightsHeader};

const DATABASE: &str = "mnist-ae";
const STORE: &str = "weights";

fn describe(error: idb::Error) -> String {
    error.to_string()
}

async fn open() -> Result<Database, String> {
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

/// Keeps `model` as the entry of its kind (replacing the one before).
pub async fn keep(model: &Model, header: &WeightsHeader) -> Result<(), String> {
    let model = model
        .copy_to(&device::cpu().device)
        .await
        .map_err(|e| format!("could not read the weights: {e}"))?;
    let bytes = weights::to_bytes(&model, header).map_err(|e| e.to_string())?;
    let entry = Object::new();
    let set = |key: &str, value: &JsValue| Reflect::set(&entry, &key.into(), value);
    set("saved", &js_sys::Date::now().into()).map_err(|_| "could not build the entry")?;
    set("bytes", &Uint8Array::from(bytes.as_slice())).map_err(|_| "could not build the entry")?;
    let database = open().await?;
    let transaction = database
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    let key = JsValue::from(header.model.kind.name());
    store.put(&entry, Some(&key)).map_err(describe)?.await.map_err(describe)?;
    transaction.await.map_err(describe)?;
    database.close();
    Ok(())
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
    let database = open().await?;
    let transaction = database
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    let keys = store
        .get_all_keys(None, None)
        .map_err(describe)?
        .await
        .map_err(describe)?;
    let (mut kept, mut discarded) = (Vec::new(), Vec::new());
    for key in keys {
        let name = key.as_string().unwrap_or_else(|| format!("{key:?}"));
        let value = store.get(key.clone()).map_err(describe)?.await.map_err(describe)?;
        let checked = value
            .ok_or_else(|| "it is empty".to_string())
            .and_then(|value| entry_parts(&value))
            .and_then(|(bytes, saved_ms)| {
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
            });
        match checked {
            Ok(entry) => kept.push(entry),
            Err(reason) => {
                discarded.push(format!(
                    "the {name} weights kept in this browser are damaged ({reason}); they were discarded"
                ));
                store.delete(key).map_err(describe)?.await.map_err(describe)?;
            }
        }
    }
    transaction.await.map_err(describe)?;
    database.close();
    kept.sort_by_key(|entry| entry.kind.name());
    Ok((kept, discarded))
}

/// The kept weights of `kind`, parsed for that model.
pub async fn read(kind: ModelKind) -> Result<Option<weights_io::Parsed>, String> {
    let database = open().await?;
    let transaction = database
        .transaction(&[STORE], TransactionMode::ReadOnly)
        .map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    let value = store
        .get(JsValue::from(kind.name()))
        .map_err(describe)?
        .await
        .map_err(describe)?;
    transaction.await.map_err(describe)?;
    database.close();
    let value = value.ok_or("it is gone")?;
    let (bytes, _) = entry_parts(&value)?;
    weights_io::parse(&bytes, kind).map(Some)
}

/// Deletes the entries of `kinds`.
pub async fn forget(kinds: &[ModelKind]) -> Result<(), String> {
    let database = open().await?;
    let transaction = database
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    for kind in kinds {
        let key = JsValue::from(kind.name());
        store.delete(key).map_err(describe)?.await.map_err(describe)?;
    }
    transaction.await.map_err(describe)?;
    database.close();
    Ok(())
}
