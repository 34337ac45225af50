//! A plane through a set of codes, to draw them as a 2-D map and to turn a point of the
//! map back into a code: either the two directions along which the codes vary most
//! (principal components, from an exact eigen-decomposition of their covariance by
//! nalgebra's symmetric solver) or two chosen code axes.
//!
//! A point (x, y) of the plane is the code `origin + x·axis₀ + y·axis₁`: the codes' mean
//! for principal components, with the other components at their mean for chosen axes.

use nalgebra::{DMatrix, SymmetricEigen};

#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    origin: Vec<f32>,
    axes: [Vec<f32>; 2],
    /// The share of the codes' total variance along each axis.
    explained: [f64; 2],
}

impl Plane {
    /// The plane of the two principal components of `codes` (`n × dim`, row-major).
    pub fn principal(codes: &[f32], dim: usize) -> Result<Self, String> {
        let n = count(codes, dim)?;
        if dim < 2 {
            return Err(format!(
                "a plane needs codes of 2 or more numbers, not {dim}"
            ));
        }
        let mean = mean(codes, dim);
        // Cᵀ·C / n of the centred codes C, as one matrix product (nalgebra's blocked kernel).
        let centred = DMatrix::from_fn(n, dim, |i, j| {
            f64::from(codes[i * dim + j]) - f64::from(mean[j])
        });
        let covariance = centred.transpose() * &centred / n as f64;
        let total = covariance.trace();
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let axis = |k: usize| -> Vec<f32> {
            let column = eigen.eigenvectors.column(order[k]);
            // Signs are arbitrary: make each axis's largest entry positive, so that the
            // map does not flip from one fit to the next.
            let largest = column
                .iter()
                .copied()
                .fold(0f64, |a, v| match v.abs() > a.abs() {
                    true => v,
                    false => a,
                });
            let sign = if largest < 0.0 { -1.0 } else { 1.0 };
            column.iter().map(|&v| (v * sign) as f32).collect()
        };
        let share = |k: usize| match total > 0.0 {
            true => eigen.eigenvalues[order[k]].max(0.0) / total,
            false => 0.0,
        };
        Ok(Self {
            origin: mean,
            axes: [axis(0), axis(1)],
            explained: [share(0), share(1)],
        })
    }

    /// The plane of code axes `x` and `y` (the map shows those two numbers as they are);
    /// the other numbers of a code made from a point are the codes' mean.
    pub fn code_axes(codes: &[f32], dim: usize, x: usize, y: usize) -> Result<Self, String> {
        count(codes, dim)?;
        if x >= dim || y >= dim || x == y {
            return Err(format!(
                "code axes {x} and {y}: two different axes of 0–{} are needed",
                dim.saturating_sub(1)
            ));
        }
        let mut origin = mean(codes, dim);
        let variance = |axis: usize| {
            let m = f64::from(origin[axis]);
            codes
                .chunks_exact(dim)
                .map(|c| (f64::from(c[axis]) - m).powi(2))
                .sum::<f64>()
        };
        let total: f64 = (0..dim).map(variance).sum();
        let explained = match total > 0.0 {
            true => [variance(x) / total, variance(y) / total],
            false => [0.0; 2],
        };
        origin[x] = 0.0;
        origin[y] = 0.0;
        let unit = |axis: usize| (0..dim).map(|i| f32::from(u8::from(i == axis))).collect();
        Ok(Self {
            origin,
            axes: [unit(x), unit(y)],
            explained,
        })
    }

    /// Where `code` falls on the plane.
    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        self.axes.each_ref().map(|axis| {
            code.iter()
                .zip(&self.origin)
                .zip(axis)
                .map(|((&c, &o), &a)| (c - o) * a)
                .sum()
        })
    }

    /// The code at `point` of the plane.
    pub fn code_at(&self, point: [f32; 2]) -> Vec<f32> {
        let [a, b] = &self.axes;
        self.origin
            .iter()
            .zip(a.iter().zip(b))
            .map(|(&o, (&a, &b))| o + point[0] * a + point[1] * b)
            .collect()
    }

    /// The share of the codes' variance along each of the plane's axes.
    pub fn explained(&self) -> [f64; 2] {
        self.explained
    }
}

/// The number of codes, checked.
fn count(codes: &[f32], dim: usize) -> Result<usize, String> {
    if dim == 0 || codes.is_empty() || !codes.len().is_multiple_of(dim) {
        return Err(format!(
            "{} numbers are not whole codes of {dim}",
            codes.len()
        ));
    }
    Ok(codes.len() / dim)
}

fn mean(codes: &[f32], dim: usize) -> Vec<f32> {
    let mut sum = vec![0f64; dim];
    for code in codes.chunks_exact(dim) {
        for (s, &v) in sum.iter_mut().zip(code) {
            *s += f64::from(v);
        }
    }
    let n = (codes.len() / dim) as f64;
    sum.into_iter().map(|s| (s / n) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Codes in 3-D spread along three known orthonormal directions (variances 4, 0.5 and
    /// 0.01) around a known centre.
    fn spread_codes() -> (Vec<f32>, [[f32; 3]; 2]) {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let (u, v, w) = ([s, s, 0.0], [-s, s, 0.0], [0.0, 0.0, 1.0]);
        let centre = [1.0, -2.0, 0.5];
        // Every combination of the three amounts: uncorrelated along u, v and w.
        let mut codes = Vec::new();
        for i in -3..=3 {
            for j in -2..=2 {
                for c in [-0.1, 0.1] {
                    let (a, b) = (i as f32, j as f32 * 0.5);
                    for d in 0..3 {
                        codes.push(centre[d] + a * u[d] + b * v[d] + c * w[d]);
                    }
                }
            }
        }
        (codes, [u, v])
    }

    #[test]
    fn principal_axes_follow_the_largest_spread() {
        let (codes, [u, v]) = spread_codes();
        let plane = Plane::principal(&codes, 3).unwrap();
        for (axis, expected) in plane.axes.iter().zip([u, v]) {
            let dot: f32 = axis.iter().zip(expected).map(|(a, e)| a * e).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-3, "{axis:?} vs {expected:?}");
        }
        let [first, second] = plane.explained();
        assert!(
            first > 0.85 && second > 0.05 && first + second > 0.99,
            "{first} {second}"
        );
        // A point of the plane maps to a code and back to the same point.
        let code = plane.code_at([1.5, -0.25]);
        let [x, y] = plane.project(&code);
        assert!((x - 1.5).abs() < 1e-4 && (y + 0.25).abs() < 1e-4);
        // The mean code is the plane's centre.
        let [x, y] = plane.project(&plane.code_at([0.0, 0.0]));
        assert!(x.abs() < 1e-5 && y.abs() < 1e-5);
    }

    #[test]
    fn code_axes_show_codes_as_they_are() {
        let codes = [1.0, 10.0, 100.0, 3.0, 30.0, 300.0];
        let plane = Plane::code_axes(&codes, 3, 2, 0).unwrap();
        assert_eq!(plane.project(&codes[3..]), [300.0, 3.0]);
        // The third number (axis 1) is at its mean, 20.
        assert_eq!(plane.code_at([5.0, 6.0]), vec![6.0, 20.0, 5.0]);
    }

    #[test]
    fn bad_shapes_are_refused_with_a_reason() {
        assert!(
            Plane::principal(&[1.0; 5], 2)
                .unwrap_err()
                .contains("not whole codes")
        );
        assert!(
            Plane::principal(&[1.0; 4], 1)
                .unwrap_err()
                .contains("2 or more")
        );
        assert!(
            Plane::code_axes(&[1.0; 4], 2, 1, 1)
                .unwrap_err()
                .contains("two different")
        );
        assert!(
            Plane::code_axes(&[1.0; 4], 2, 0, 2)
                .unwrap_err()
                .contains("0–1")
        );
        // Identical codes: a plane with no variance, not a NaN.
        let flat = Plane::principal(&[0.5; 8], 4).unwrap();
        assert_eq!(flat.explained(), [0.0, 0.0]);
        assert!(flat.project(&[0.5; 4]).iter().all(|v| v.is_finite()));
    }
}
