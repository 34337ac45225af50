//! The offer of the weights an earlier visit kept in this browser: a "Restore" button per
//! model, saying how far it was trained, on what and when (the page wires the buttons).

use wasm_bindgen::JsValue;
use web_sys::HtmlElement;

use super::View;
use crate::web::app::{App, Changes, Kept};
use crate::web::dom;

pub struct KeptOffer;

impl View for KeptOffer {
    fn redraw(&mut self, app: &App, _: Changes) {
        dom::get::<HtmlElement>("kept").set_hidden(app.kept.is_empty());
        let list: HtmlElement = dom::get("kept-list");
        list.set_inner_html("");
        for kept in &app.kept {
            let button = dom::document()
                .create_element("button")
                .expect("a button");
            dom::set_attr(&button, "data-model", kept.kind.name());
            button.set_text_content(Some(&describe(app, kept)));
            let _ = list.append_child(&button);
        }
    }
}

/// "Restore ffnn (3 epochs on MNIST, 30/11/2026, 02:41:12)".
fn describe(app: &App, kept: &Kept) -> String {
    let dataset = app
        .catalog
        .get(&kept.dataset)
        .map_or(kept.dataset.as_str(), |d| d.name.as_str());
    let when = js_sys::Date::new(&JsValue::from(kept.saved_ms))
        .to_locale_string("en-GB", &JsValue::UNDEFINED);
    let epochs = match kept.epochs {
        1 => "1 epoch".to_string(),
        n => format!("{n} epochs"),
    };
    format!("Restore {} ({epochs} on {dataset}, {when})", kept.kind)
}
