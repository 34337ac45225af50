//! The test metrics table, filled when a measurement finishes (emptied when it is stale);
//! a denoising measurement adds the corrupted inputs' own figures.

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
        let mut rows = format!(
            "<tr><td>{kind}</td><td>{}</td><td>{:.5}</td><td>{:.2} dB</td><td>{:.4}</td><td>{:.3}</td></tr>",
            m.images, m.mse, m.psnr_db, m.ssim, m.l2_per_image
        );
        // A denoising measurement: what the model was given, against the clean digits.
        if let (Some(psnr), Some(ssim)) = (m.input_psnr_db, m.input_ssim) {
            rows.push_str(&format!(
                "<tr class=\"inputs\"><td>corrupted inputs</td><td>{}</td><td></td><td>{psnr:.2} dB</td><td>{ssim:.4}</td><td></td></tr>",
                m.images
            ));
            dom::set_attr(&table, "data-input-psnr", &format!("{psnr:.3}"));
        } else {
            let _ = table.remove_attribute("data-input-psnr");
        }
        body.set_inner_html(&rows);
        dom::set_attr(&table, "data-mse", &format!("{:.6}", m.mse));
    }
}
