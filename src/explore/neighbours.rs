//! How well codes keep the classes apart: the share of codes whose label is the majority
//! label of their k nearest other codes (leave-one-out k-NN accuracy, Euclidean).

/// Leave-one-out k-nearest-neighbour label accuracy of `codes` (`labels.len() × dim`,
/// row-major). A tie between labels goes to the one whose member is nearest.
pub fn knn_accuracy(codes: &[f32], dim: usize, labels: &[u8], k: usize) -> Result<f64, String> {
    let n = labels.len();
    Ok(knn_correct(codes, dim, labels, k, 0..n)? as f64 / n as f64)
}

/// How many of the codes at `queries` get their own label from their k nearest other codes
/// (as [`knn_accuracy`] counts them): a part of the whole count, so that a page can spread
/// the work over several tasks.
pub fn knn_correct(
    codes: &[f32],
    dim: usize,
    labels: &[u8],
    k: usize,
    queries: std::ops::Range<usize>,
) -> Result<usize, String> {
    let n = labels.len();
    if dim == 0 || codes.len() != n * dim {
        return Err(format!(
            "{} numbers are not {n} codes of {dim}",
            codes.len()
        ));
    }
    if k == 0 || k >= n {
        return Err(format!("k = {k} needs 1 ≤ k < {n} (the number of codes)"));
    }
    let mut correct = 0usize;
    // The k nearest so far as (squared distance, label), nearest first.
    let mut nearest: Vec<(f32, u8)> = Vec::with_capacity(k + 1);
    for i in queries.start..queries.end.min(n) {
        let code = &codes[i * dim..(i + 1) * dim];
        nearest.clear();
        for (j, other) in codes.chunks_exact(dim).enumerate() {
            if i == j {
                continue;
            }
            let distance: f32 = code.iter().zip(other).map(|(a, b)| (a - b) * (a - b)).sum();
            if nearest.len() == k && distance >= nearest[k - 1].0 {
                continue;
            }
            let at = nearest.partition_point(|&(d, _)| d <= distance);
            nearest.insert(at, (distance, labels[j]));
            nearest.truncate(k);
        }
        let mut votes = [0usize; 256];
        for &(_, label) in &nearest {
            votes[usize::from(label)] += 1;
        }
        let most = votes.iter().copied().max().unwrap_or(0);
        // Nearest first: the first neighbour whose label has the most votes wins the tie.
        let predicted = nearest
            .iter()
            .find(|&&(_, label)| votes[usize::from(label)] == most)
            .map(|&(_, label)| label);
        correct += usize::from(predicted == Some(labels[i]));
    }
    Ok(correct)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn counts_over_parts_add_up_to_the_whole() {
        let codes: Vec<f32> = (0..60).map(|i| ((i * 37) % 11) as f32).collect();
        let labels: Vec<u8> = (0..30).map(|i| (i % 3) as u8).collect();
        let whole = knn_correct(&codes, 2, &labels, 3, 0..30).unwrap();
        let parts: usize = [0..7, 7..20, 20..30]
            .into_iter()
            .map(|part| knn_correct(&codes, 2, &labels, 3, part).unwrap())
            .sum();
        assert_eq!(parts, whole);
        assert_eq!(
            knn_accuracy(&codes, 2, &labels, 3).unwrap(),
            whole as f64 / 30.0
        );
    }

    #[test]
    fn separated_classes_score_one_and_mixed_ones_less() {
        // Two clusters on a line, far apart: every neighbour shares the label.
        let codes: Vec<f32> = (0..10)
            .map(|i| if i < 5 { i as f32 } else { 100.0 + i as f32 })
            .collect();
        let labels: Vec<u8> = (0..10).map(|i| u8::from(i >= 5)).collect();
        assert_eq!(knn_accuracy(&codes, 1, &labels, 3).unwrap(), 1.0);
        // Alternating labels along the line: each point's two nearest have the other label.
        let alternating: Vec<u8> = (0..10).map(|i| (i % 2) as u8).collect();
        let line: Vec<f32> = (0..10).map(|i| i as f32).collect();
        assert_eq!(knn_accuracy(&line, 1, &alternating, 2).unwrap(), 0.0);
        // 2-D codes: the point itself is never its own neighbour.
        let pairs = [0.0, 0.0, 0.0, 0.1, 5.0, 5.0, 5.0, 5.1];
        assert_eq!(knn_accuracy(&pairs, 2, &[7, 7, 3, 3], 1).unwrap(), 1.0);
    }

    #[test]
    fn ties_go_to_the_nearest_label() {
        // Point 0's two neighbours: label 1 at distance 1, label 2 at distance 2.
        let codes = [0.0, 1.0, -2.0];
        let accuracy = knn_accuracy(&codes, 1, &[1, 1, 2], 2).unwrap();
        // Point 0 → 1 (right); point 1 → its neighbours 0 (label 1) and 2: 1 (right);
        // point 2 → 0 (label 1) and 1 (label 1): wrong.
        assert!((accuracy - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_shapes_and_k_are_refused() {
        assert!(
            knn_accuracy(&[0.0; 5], 2, &[0, 1], 1)
                .unwrap_err()
                .contains("not 2 codes")
        );
        assert!(
            knn_accuracy(&[0.0; 4], 2, &[0, 1], 2)
                .unwrap_err()
                .contains("1 ≤ k < 2")
        );
    }
}
