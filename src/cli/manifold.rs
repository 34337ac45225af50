//! `mnist-ae manifold`: the decodes of a grid of codes over a plane of the code space, as a
//! PNG. For a VAE with a 2-number code the grid covers its prior, N(0, I), ±`--span`: what
//! "Generate" samples from. For any other model it covers the plane of its test codes (the
//! code itself for 2 numbers, else the two principal components), their mean ±`--span`
//! standard deviations, the other components at their mean.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{Common, Loaded};
use crate::explore::manifold::{Extent, grid_codes};
use crate::explore::{self, Plane};
use crate::model::ModelKind;

#[derive(Args, Debug)]
pub(super) struct ManifoldArgs {
    #[command(flatten)]
    common: Common,
    /// Weights file written by `mnist-ae train`.
    #[arg(long)]
    weights: PathBuf,
    /// Digits on each side of the grid.
    #[arg(long, default_value_t = 20)]
    grid: usize,
    /// Half the grid's width, in standard deviations (of the VAE's prior, or of the codes).
    #[arg(long, default_value_t = 2.0)]
    span: f32,
    /// Test images encoded to find the plane (models without a prior).
    #[arg(long, default_value_t = 10_000)]
    points: usize,
    /// Where to write the PNG.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Serialize)]
struct ManifoldReport {
    model: String,
    weights: String,
    code_size: usize,
    /// `prior` (a VAE's 2-number code) or the plane of the test codes.
    plane: String,
    grid: usize,
    span: f32,
    out: String,
}

pub(super) fn manifold(args: ManifoldArgs) -> Result<(), String> {
    if !(2..=64).contains(&args.grid) {
        return Err(format!("--grid {}: from 2 to 64 digits a side", args.grid));
    }
    if !(args.span.is_finite() && args.span > 0.0) {
        return Err(format!("--span {}: a positive number is needed", args.span));
    }
    let Loaded {
        opened,
        sets,
        model,
        header,
        ..
    } = Loaded::new(&args.common, &args.weights)?;
    let device = opened.device;
    let dim = header.model.code_size;
    if dim < 2 {
        return Err(format!(
            "a manifold needs a code of 2 or more numbers, not {dim}"
        ));
    }
    let (plane, extent, name) = if header.model.kind == ModelKind::Vae && dim == 2 {
        let axes = Plane::code_axes(&[0.0, 0.0], 2, 0, 1)?;
        (axes, Extent::prior(args.span), "prior N(0, I)".to_string())
    } else {
        let count = args.points.min(sets.test.len());
        let indices: Vec<usize> = (0..count).collect();
        let codes = pollster::block_on(explore::codes(&model, &sets.test, &indices, &device))
            .map_err(|e| e.to_string())?;
        let (plane, name) = match dim {
            2 => (Plane::code_axes(&codes, dim, 0, 1)?, "code axes 0,1"),
            _ => (Plane::principal(&codes, dim)?, "principal components"),
        };
        let points: Vec<[f32; 2]> = codes.chunks_exact(dim).map(|c| plane.project(c)).collect();
        let extent = Extent::of_points(&points, args.span)?;
        (plane, extent, format!("{name} of {count} test codes"))
    };
    let grid = grid_codes(&plane, extent, args.grid);
    let images =
        pollster::block_on(explore::decodes(&model, grid, dim)).map_err(|e| e.to_string())?;
    crate::figures::manifold(&images, args.grid, 2, &args.out)?;
    let report = ManifoldReport {
        model: header.model.kind.to_string(),
        weights: args.weights.display().to_string(),
        code_size: dim,
        plane: name,
        grid: args.grid,
        span: args.span,
        out: args.out.display().to_string(),
    };
    println!(
        "{}: {} × {} decodes over the {}, ±{} s.d.; wrote {}",
        report.model, report.grid, report.grid, report.plane, report.span, report.out
    );
    if args.common.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    }
    Ok(())
}
