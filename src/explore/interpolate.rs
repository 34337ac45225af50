//! What lies between two digits: `steps` evenly spaced points on the straight line from
//! one vector to another, both ends included. For two codes the decodes of the points make
//! the interpolation strip; for two images the points themselves are the pixel-space
//! cross-fade shown beneath it for comparison.

/// The points `(1 − t)·from + t·to` for t = 0, 1/(steps − 1), …, 1, one after another
/// (`steps × from.len()` numbers).
pub fn strip(from: &[f32], to: &[f32], steps: usize) -> Result<Vec<f32>, String> {
    if from.len() != to.len() {
        return Err(format!(
            "cannot go from {} numbers to {}",
            from.len(),
            to.len()
        ));
    }
    if steps < 2 {
        return Err(format!("a strip needs at least 2 steps, not {steps}"));
    }
    let last = (steps - 1) as f32;
    Ok((0..steps)
        .flat_map(|i| {
            let t = i as f32 / last;
            from.iter().zip(to).map(move |(&a, &b)| a + t * (b - a))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_strips_ends_decode_to_the_two_digits_decodes() {
        use burn::tensor::{Device, Tensor, TensorData};

        use crate::model::{ModelConfig, ModelKind};
        let device = Device::flex();
        let model = ModelConfig::new(ModelKind::Ffnn).init(&device).unwrap();
        let images: Vec<f32> = (0..2 * 784)
            .map(|i| ((i * 31) % 17) as f32 / 16.0)
            .collect();
        let images = Tensor::<4>::from_data(TensorData::new(images, [2, 1, 28, 28]), &device);
        let codes = model
            .encode(images)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let (from, to) = codes.split_at(32);
        let decode = |codes: Vec<f32>| {
            let n = codes.len() / 32;
            let codes = Tensor::<2>::from_data(TensorData::new(codes, [n, 32]), &device);
            model.decode(codes).into_data().try_to_vec::<f32>().unwrap()
        };
        let strip = decode(strip(from, to, 10).unwrap());
        let ends = decode(codes.clone());
        // Equal up to rounding: a batch of 10 and one of 2 may sum in another order.
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&strip[..784], &ends[..784]));
        assert!(close(&strip[9 * 784..], &ends[784..]));
        // …and the middle is neither end.
        assert!(!close(&strip[4 * 784..5 * 784], &ends[..784]));
    }

    #[test]
    fn the_strip_runs_evenly_from_one_end_to_the_other() {
        let points = strip(&[0.0, 10.0], &[4.0, 2.0], 5).unwrap();
        assert_eq!(points, [0.0, 10.0, 1.0, 8.0, 2.0, 6.0, 3.0, 4.0, 4.0, 2.0]);
        assert!(
            strip(&[0.0], &[1.0, 2.0], 3)
                .unwrap_err()
                .contains("from 1 numbers to 2")
        );
        assert!(
            strip(&[0.0], &[1.0], 1)
                .unwrap_err()
                .contains("at least 2 steps")
        );
    }
}
