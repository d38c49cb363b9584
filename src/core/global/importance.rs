//! Mean-|φ| importance: the average magnitude of each feature's attribution over a
//! data set, the summary shap's bar plot draws.

use crate::core::explain::Explanation;

/// One feature's importance over a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureImportance {
    /// Mean |φ| over rows, averaged over the outputs summarised.
    pub importance: f64,
    /// Mean φ over rows, averaged over outputs: its sign says which way the feature
    /// pushes on average (near zero for interventional SHAP over its own background).
    pub mean_attribution: f64,
    /// Mean |φ| for each output summarised, in output order.
    pub by_output: Vec<f64>,
}

/// Summarise attributions: `per_output[k]` holds one explanation per row for output k.
/// Returns one entry per feature, in feature order; an empty input gives zeros.
pub fn mean_abs(per_output: &[Vec<Explanation>], n_features: usize) -> Vec<FeatureImportance> {
    let n_outputs = per_output.len().max(1) as f64;
    (0..n_features)
        .map(|j| {
            let mut by_output = Vec::with_capacity(per_output.len());
            let mut signed = 0.0;
            for rows in per_output {
                let n = rows.len().max(1) as f64;
                by_output.push(rows.iter().map(|e| e.attributions[j].abs()).sum::<f64>() / n);
                signed += rows.iter().map(|e| e.attributions[j]).sum::<f64>() / n;
            }
            FeatureImportance {
                importance: by_output.iter().sum::<f64>() / n_outputs,
                mean_attribution: signed / n_outputs,
                by_output,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_magnitudes_not_signs() {
        // Attributions +2 and −2 on feature 0: importance 2, mean attribution 0.
        let rows = vec![
            Explanation::new(0, 0.0, 0.0, vec![2.0, 1.0]),
            Explanation::new(0, 0.0, 0.0, vec![-2.0, 0.0]),
        ];
        let imp = mean_abs(&[rows], 2);
        assert_eq!(imp[0].importance, 2.0);
        assert_eq!(imp[0].mean_attribution, 0.0);
        assert_eq!(imp[1].importance, 0.5);
    }
}
