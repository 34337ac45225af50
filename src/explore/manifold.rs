//! The classic manifold picture: the decodes of a regular grid of points over a plane of
//! the code space, so that one sees how the digits change from one region to the next.

use super::Plane;

/// Where on a plane the grid lies: its centre and half-widths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    centre: [f32; 2],
    half: [f32; 2],
}

impl Extent {
    /// `±span` around the origin: for a VAE's 2-number code, whose prior is N(0, I), so that
    /// `span` counts standard deviations of the prior (2: about 95 % of it on each axis).
    pub fn prior(span: f32) -> Self {
        Self {
            centre: [0.0, 0.0],
            half: [span, span],
        }
    }

    /// The points' mean ± `span` standard deviations on each axis: for the autoencoders,
    /// whose codes follow no prior.
    pub fn of_points(points: &[[f32; 2]], span: f32) -> Result<Self, String> {
        if points.len() < 2 {
            return Err("a grid's extent needs at least 2 points".into());
        }
        let n = points.len() as f64;
        let axis = |k: usize| {
            let mean = points.iter().map(|p| f64::from(p[k])).sum::<f64>() / n;
            let variance = points
                .iter()
                .map(|p| (f64::from(p[k]) - mean).powi(2))
                .sum::<f64>()
                / n;
            (mean as f32, (variance.sqrt() as f32) * span)
        };
        let ((cx, hx), (cy, hy)) = (axis(0), axis(1));
        Ok(Self {
            centre: [cx, cy],
            half: [hx, hy],
        })
    }

    /// The `side × side` grid's points, row by row from the top (the largest y) and each row
    /// from the left, the outer ones on the extent's edges.
    pub fn grid(&self, side: usize) -> Vec<[f32; 2]> {
        let at = |k: usize, i: usize| match side {
            1 => self.centre[k],
            _ => self.centre[k] - self.half[k] + 2.0 * self.half[k] * i as f32 / (side - 1) as f32,
        };
        (0..side)
            .flat_map(|row| (0..side).map(move |col| [at(0, col), at(1, side - 1 - row)]))
            .collect()
    }
}

/// The codes at the `side × side` grid's points of `extent` on `plane`, one after another.
pub fn grid_codes(plane: &Plane, extent: Extent, side: usize) -> Vec<f32> {
    extent
        .grid(side)
        .into_iter()
        .flat_map(|point| plane.code_at(point))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_grid_spans_the_extent_from_the_top_left() {
        let grid = Extent::prior(2.0).grid(3);
        assert_eq!(grid.len(), 9);
        assert_eq!(grid[0], [-2.0, 2.0]);
        assert_eq!(grid[4], [0.0, 0.0]);
        assert_eq!(grid[8], [2.0, -2.0]);
    }

    #[test]
    fn an_extent_of_points_is_their_mean_and_spread() {
        let points = [[1.0, 10.0], [3.0, 10.0], [1.0, 14.0], [3.0, 14.0]];
        let extent = Extent::of_points(&points, 2.0).unwrap();
        assert_eq!(
            extent.grid(2),
            vec![[0.0, 16.0], [4.0, 16.0], [0.0, 8.0], [4.0, 8.0]]
        );
        assert!(Extent::of_points(&points[..1], 2.0).is_err());
    }
}
