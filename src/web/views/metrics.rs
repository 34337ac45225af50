//! The test metrics table, filled when a measurement finishes (emptied when it is stale).

use web_sys::HtmlElement;

use super::View;
use crate::web::app::{App, Changes};
use crate::web::dom;

pub struct MetricsTable;

impl View for MetricsTable {
    fn redraw(&mut self, app: &App, _: Changes) {
        let body: HtmlElement = dom::get("metrics-body");
        let table: HtmlElement = dom::get("metrics");
        let Some((kind, m)) = &app.metrics else {
            body.set_inner_html("");
            let _ = table.remove_attribute("data-mse");
            return;
        };
        body.set_inner_html(&format!(
            "<tr><td>{kind}</td><td>{}</td><td>{:.5}</td><td>{:.2} dB</td><td>{:.4}</td><td>{:.3}</td></tr>",
            m.images, m.mse, m.psnr_db, m.ssim, m.l2_per_image
        ));
        dom::set_attr(&table, "data-mse", &format!("{:.6}", m.mse));
    }
}
