//! `mnist-ae latent`: where a model puts the test digits in its code space. Encodes the
//! first N test images, lays their codes on a plane (the two principal components, or two
//! chosen code axes; a 2-number code as it is), measures how well the codes and the map
//! keep the classes apart (leave-one-out k-NN label accuracy) and can draw the map.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::{Common, Loaded};
use crate::explore::{self, Plane, knn_accuracy};

#[derive(Args, Debug)]
pub(super) struct LatentArgs {
    #[command(flatten)]
    common: Common,
    /// Weights file written by `mnist-ae train`.
    #[arg(long)]
    weights: PathBuf,
    /// How many test images (the first ones) to encode.
    #[arg(long, default_value_t = 10_000)]
    points: usize,
    /// Draw code axes X,Y instead of the principal components (e.g. 0,1).
    #[arg(long, value_parser = parse_axes)]
    axes: Option<(usize, usize)>,
    /// Neighbours that vote on a code's label.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Write the map as a PNG here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct LatentReport {
    model: String,
    dataset: String,
    weights: String,
    points: usize,
    code_size: usize,
    /// `principal components` or `code axes X,Y`.
    plane: String,
    /// The share of the codes' variance along each of the map's axes.
    explained: [f64; 2],
    k: usize,
    /// Leave-one-out k-NN label accuracy of the codes themselves, and of their map.
    knn_accuracy_code: f64,
    knn_accuracy_map: f64,
    seconds: f64,
}

pub(super) fn latent(args: LatentArgs) -> Result<(), String> {
    let Loaded {
        opened,
        dataset,
        sets,
        model,
        header,
    } = Loaded::new(&args.common, &args.weights)?;
    let device = opened.device;
    let started = Instant::now();
    let count = args.points.min(sets.test.len());
    if count < 2 {
        return Err(format!(
            "--points {}: at least 2 test images are needed",
            args.points
        ));
    }
    let indices: Vec<usize> = (0..count).collect();
    let codes = pollster::block_on(explore::codes(&model, &sets.test, &indices, &device))
        .map_err(|e| e.to_string())?;
    let dim = header.model.code_size;
    let (plane, name) = match args.axes {
        Some((x, y)) => (
            Plane::code_axes(&codes, dim, x, y)?,
            format!("code axes {x},{y}"),
        ),
        None if dim == 2 => (Plane::code_axes(&codes, dim, 0, 1)?, "code axes 0,1".into()),
        None => (
            Plane::principal(&codes, dim)?,
            "principal components".into(),
        ),
    };
    let points: Vec<[f32; 2]> = codes.chunks_exact(dim).map(|c| plane.project(c)).collect();
    let labels = &sets.test.labels()[..count];
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    let report = LatentReport {
        model: header.model.kind.to_string(),
        dataset: dataset.id.clone(),
        weights: args.weights.display().to_string(),
        points: count,
        code_size: dim,
        plane: name,
        explained: plane.explained(),
        k: args.k,
        knn_accuracy_code: knn_accuracy(&codes, dim, labels, args.k)?,
        knn_accuracy_map: knn_accuracy(&flat, 2, labels, args.k)?,
        seconds: started.elapsed().as_secs_f64(),
    };
    if let Some(out) = &args.out {
        let title = format!(
            "{} on {}: {} test codes of {dim}, {}",
            report.model, dataset.name, count, report.plane
        );
        crate::figures::latent_map(&points, labels, &dataset.labels, &title, out)?;
    }
    let [first, second] = report.explained;
    println!(
        "{} ({} test codes of {dim}): {}, {:.1} % + {:.1} % of the variance; {}-NN label accuracy {:.3} on the codes, {:.3} on the map{}",
        report.model,
        count,
        report.plane,
        first * 100.0,
        second * 100.0,
        report.k,
        report.knn_accuracy_code,
        report.knn_accuracy_map,
        args.out
            .as_ref()
            .map(|o| format!("; wrote {}", o.display()))
            .unwrap_or_default()
    );
    if args.common.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    }
    Ok(())
}

fn parse_axes(text: &str) -> Result<(usize, usize), String> {
    let parse = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("axes '{text}' are not two numbers X,Y (e.g. 0,1)"))
    };
    let (x, y) = text
        .split_once(',')
        .ok_or_else(|| format!("axes '{text}' are not two numbers X,Y (e.g. 0,1)"))?;
    Ok((parse(x)?, parse(y)?))
}
