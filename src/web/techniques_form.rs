//! The training techniques' part of the settings form: reading it into [`Techniques`]
//! (each bad value named with its field) and telling the controller which corruption the
//! grid and the sketch pad should show.

use web_sys::{Event, HtmlInputElement, HtmlSelectElement};

use super::app::Msg;
use super::dom;
use crate::data::{Augmentation, Corruption};
use crate::training::device_noise::NoisePlace;
use crate::training::early_stop::EarlyStop;
use crate::training::loss::Loss;
use crate::model::ModelKind;
use crate::training::techniques::{KlWeight, Techniques};

/// The form's fields: disabled while a run trains.
pub const FIELDS: [&str; 12] = [
    "noise",
    "noise-strength",
    "augment-shift",
    "augment-rotate",
    "augment-scale",
    "early-stop",
    "patience",
    "loss",
    "ssim-alpha",
    "weight-decay",
    "l1-code",
    "kl-weight",
];

fn value(id: &str) -> String {
    dom::get::<HtmlInputElement>(id).value().trim().to_string()
}

fn number(id: &str, label: &str) -> Result<f64, String> {
    value(id)
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{label}: '{}' is not a number", value(id)))
}

/// The corruption the form selects, or `None` (no noise, or a strength out of range).
pub fn noise() -> Result<Option<Corruption>, String> {
    let name = dom::get::<HtmlSelectElement>("noise").value();
    if name == "none" {
        return Ok(None);
    }
    let strength = number("noise-strength", "noise strength")?;
    Corruption::new(&name, strength as f32)
        .map(Some)
        .map_err(|e| format!("noise: {e}"))
}

/// The form's techniques for a model of `kind`, checked; the message names the field at fault.
pub fn read(kind: ModelKind) -> Result<Techniques, String> {
    let augment = Augmentation {
        shift: number("augment-shift", "shift")? as f32,
        rotate: number("augment-rotate", "rotation")? as f32,
        scale: number("augment-scale", "scale")? as f32,
    };
    augment.validate()?;
    let early_stop = match dom::get::<HtmlInputElement>("early-stop").checked() {
        true => {
            let patience = value("patience")
                .parse::<usize>()
                .ok()
                .filter(|&p| p >= 1)
                .ok_or("patience: early stopping needs a whole number of epochs ≥ 1")?;
            Some(EarlyStop {
                patience,
                min_delta: 0.0,
            })
        }
        false => None,
    };
    let loss = match dom::get::<HtmlSelectElement>("loss").value().as_str() {
        "mse" => Loss::Mse,
        "bce" => Loss::Bce,
        "mse+ssim" => Loss::MseSsim {
            alpha: number("ssim-alpha", "SSIM weight α")? as f32,
        },
        _ => Loss::default_for(kind),
    };
    // The KL weight is the VAE's alone; the other models ignore the field.
    let kl_weight = match kind {
        ModelKind::Vae => KlWeight(number("kl-weight", "KL weight")?),
        _ => KlWeight::default(),
    };
    let techniques = Techniques {
        noise: noise()?,
        noise_on: NoisePlace::Host,
        augment,
        early_stop,
        loss,
        weight_decay: number("weight-decay", "weight decay")?,
        l1_code: number("l1-code", "L1 code penalty")?,
        kl_weight,
    };
    techniques.validate()?;
    Ok(techniques)
}

/// Puts `noise` (the corruption the page shows, e.g. a loaded denoiser's) into the form,
/// when the form says otherwise.
pub fn show_noise(noise: Option<Corruption>) {
    let Some(noise) = noise else {
        return;
    };
    if self::noise().ok().flatten() == Some(noise) {
        return;
    }
    dom::get::<HtmlSelectElement>("noise").set_value(noise.name());
    let strength = noise.strength().to_string();
    dom::get::<HtmlInputElement>("noise-strength").set_value(&strength);
    dom::set_text("noise-strength-value", &strength);
}

/// Shows the strength next to its slider, and tells the controller the corruption to show.
pub fn wire(dispatch: fn(Msg)) {
    let changed = move |_: Event| {
        dom::set_text("noise-strength-value", &value("noise-strength"));
        // A bad strength shows no corruption; starting a run says what is wrong.
        dispatch(Msg::ChooseNoise(noise().ok().flatten()));
    };
    dom::on("noise", "change", changed);
    dom::on("noise-strength", "input", changed);
}
