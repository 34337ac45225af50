//! New codes for a plain autoencoder, which has no prior to sample from: a Gaussian fitted
//! to the codes of real digits (their mean and full covariance; one per class, so that "a
//! 3" can be asked for), sampled as μ + L·ε with L the covariance's Cholesky factor
//! (nalgebra) and ε standard normal (Box–Muller on a seeded generator).

use nalgebra::{DMatrix, DVector};
use rand::Rng;

#[derive(Debug, Clone)]
pub struct CodeGaussian {
    mean: DVector<f64>,
    /// Lower-triangular L with L·Lᵀ = the covariance (plus a little jitter).
    factor: DMatrix<f64>,
}

impl CodeGaussian {
    /// The Gaussian of `codes` (`n × dim`, row-major; n ≥ 2). A code number that never
    /// varies (e.g. a dead unit) gets a tiny variance, so that the factor exists.
    pub fn fit(codes: &[f32], dim: usize) -> Result<Self, String> {
        if dim == 0 || !codes.len().is_multiple_of(dim) || codes.len() / dim < 2 {
            return Err(format!(
                "a Gaussian needs 2 or more whole codes of {dim}, not {} numbers",
                codes.len()
            ));
        }
        let n = codes.len() / dim;
        let rows = DMatrix::from_row_iterator(n, dim, codes.iter().map(|&v| f64::from(v)));
        let mean = rows.row_mean().transpose();
        let centred = DMatrix::from_fn(n, dim, |i, j| rows[(i, j)] - mean[j]);
        let mut covariance = centred.transpose() * &centred / (n - 1) as f64;
        let scale = (covariance.trace() / dim as f64).max(1e-12);
        for i in 0..dim {
            covariance[(i, i)] += 1e-6 * scale;
        }
        let factor = covariance
            .cholesky()
            .ok_or("the codes' covariance is not positive definite")?
            .unpack();
        Ok(Self { mean, factor })
    }

    /// `count` codes drawn from the Gaussian (`count × dim` numbers).
    pub fn sample(&self, count: usize, rng: &mut impl Rng) -> Vec<f32> {
        let dim = self.mean.len();
        let mut out = Vec::with_capacity(count * dim);
        for _ in 0..count {
            let noise = DVector::from_iterator(dim, (0..dim).map(|_| standard_normal(rng)));
            let code = &self.mean + &self.factor * noise;
            out.extend(code.iter().map(|&v| v as f32));
        }
        out
    }

    /// The fitted mean.
    pub fn mean(&self) -> Vec<f32> {
        self.mean.iter().map(|&v| v as f32).collect()
    }
}

/// One Gaussian per label 0..`classes` (`None` for a label with fewer than two codes).
pub fn per_class(
    codes: &[f32],
    dim: usize,
    labels: &[u8],
    classes: usize,
) -> Vec<Option<CodeGaussian>> {
    (0..classes)
        .map(|class| {
            let members: Vec<f32> = codes
                .chunks_exact(dim)
                .zip(labels)
                .filter(|&(_, &label)| usize::from(label) == class)
                .flat_map(|(code, _)| code.iter().copied())
                .collect();
            CodeGaussian::fit(&members, dim).ok()
        })
        .collect()
}

/// `count × dim` draws from N(0, I): new codes for a VAE, whose prior that is.
pub fn prior(count: usize, dim: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..count * dim)
        .map(|_| standard_normal(rng) as f32)
        .collect()
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    // 53 random bits each: u in (0, 1], so that its logarithm stays finite; v in [0, 1).
    let unit = |bits: u64| (bits >> 11) as f64 / (1u64 << 53) as f64;
    let u = 1.0 - unit(rng.next_u64());
    let v = unit(rng.next_u64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Mean and covariance of `codes` (n × 2).
    fn moments(codes: &[f32]) -> ([f64; 2], [[f64; 2]; 2]) {
        let n = (codes.len() / 2) as f64;
        let mut mean = [0.0; 2];
        for pair in codes.chunks_exact(2) {
            mean[0] += f64::from(pair[0]) / n;
            mean[1] += f64::from(pair[1]) / n;
        }
        let mut cov = [[0.0; 2]; 2];
        for pair in codes.chunks_exact(2) {
            let d = [f64::from(pair[0]) - mean[0], f64::from(pair[1]) - mean[1]];
            for i in 0..2 {
                for j in 0..2 {
                    cov[i][j] += d[i] * d[j] / n;
                }
            }
        }
        (mean, cov)
    }

    #[test]
    fn samples_have_the_fitted_mean_and_covariance() {
        // Codes from a known correlated Gaussian: mean (1, −2), covariance [[4, 1.8], [1.8, 1]].
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let codes: Vec<f32> = (0..20_000)
            .flat_map(|_| {
                let (a, b) = (standard_normal(&mut rng), standard_normal(&mut rng));
                [
                    (1.0 + 2.0 * a) as f32,
                    (-2.0 + 0.9 * a + (0.19f64).sqrt() * b) as f32,
                ]
            })
            .collect();
        let gaussian = CodeGaussian::fit(&codes, 2).unwrap();
        let samples = gaussian.sample(20_000, &mut rng);
        let (mean, cov) = moments(&samples);
        assert!(
            (mean[0] - 1.0).abs() < 0.05 && (mean[1] + 2.0).abs() < 0.05,
            "{mean:?}"
        );
        for (got, want) in [(cov[0][0], 4.0), (cov[0][1], 1.8), (cov[1][1], 1.0)] {
            assert!((got - want).abs() < 0.1 * want, "{cov:?}");
        }
    }

    #[test]
    fn prior_draws_are_standard_normal() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let (mean, cov) = moments(&prior(20_000, 2, &mut rng));
        assert!(mean.iter().all(|m| m.abs() < 0.03), "{mean:?}");
        assert!(
            (cov[0][0] - 1.0).abs() < 0.05 && cov[0][1].abs() < 0.03,
            "{cov:?}"
        );
    }

    #[test]
    fn each_class_gets_its_own_and_constant_codes_still_fit() {
        let codes = [0.0, 0.0, 0.2, 0.0, 10.0, 5.0, 10.4, 5.0, 7.0, 7.0];
        let gaussians = per_class(&codes, 2, &[0, 0, 1, 1, 2], 4);
        let means: Vec<Option<Vec<f32>>> = gaussians
            .iter()
            .map(|g| g.as_ref().map(CodeGaussian::mean))
            .collect();
        assert_eq!(
            means,
            [Some(vec![0.1, 0.0]), Some(vec![10.2, 5.0]), None, None]
        );
        // The second number never varies within a class: the jitter keeps the factor real.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let drawn = gaussians[1].as_ref().unwrap().sample(100, &mut rng);
        assert!(drawn.iter().all(|v| v.is_finite()));
        assert!(
            CodeGaussian::fit(&[1.0, 2.0], 2)
                .unwrap_err()
                .contains("2 or more")
        );
    }
}
