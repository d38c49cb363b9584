//! Feature groups: sets of features that explainers treat as one player, e.g. the
//! one-hot columns of a category, or features too correlated to part fairly.
//! Attributions then come one per group, in the order the groups are given.

use crate::core::{CoreError, CoreResult};

/// A partition of the features into groups that act as single players.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureGroups {
    /// Feature indices of each group, in the order attributions are reported.
    groups: Vec<Vec<usize>>,
}

impl FeatureGroups {
    /// One group per feature, in feature order.
    pub fn singletons(n_features: usize) -> Self {
        FeatureGroups {
            groups: (0..n_features).map(|j| vec![j]).collect(),
        }
    }

    /// Groups that must cover each of the `n_features` features exactly once.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for an empty group, an index out of range, or a
    /// feature in no group or in two.
    pub fn new(groups: Vec<Vec<usize>>, n_features: usize) -> CoreResult<Self> {
        let mut seen = vec![false; n_features];
        for (g, members) in groups.iter().enumerate() {
            if members.is_empty() {
                return Err(CoreError::InvalidArgument(format!("group {g} is empty")));
            }
            for &j in members {
                if j >= n_features {
                    return Err(CoreError::InvalidArgument(format!(
                        "group {g} names feature {j}; the model has {n_features} features"
                    )));
                }
                if std::mem::replace(&mut seen[j], true) {
                    return Err(CoreError::InvalidArgument(format!(
                        "feature {j} is in more than one group"
                    )));
                }
            }
        }
        if let Some(j) = seen.iter().position(|&s| !s) {
            return Err(CoreError::InvalidArgument(format!(
                "feature {j} is in no group; groups must cover every feature"
            )));
        }
        Ok(FeatureGroups { groups })
    }

    /// Number of groups (players).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups (only for a model without features).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Feature indices of group `g`.
    pub fn members(&self, g: usize) -> &[usize] {
        &self.groups[g]
    }

    /// Whether every group is one feature, in feature order.
    pub fn is_singletons(&self) -> bool {
        self.groups
            .iter()
            .enumerate()
            .all(|(g, m)| m.len() == 1 && m[0] == g)
    }

    /// Per-group sums of per-feature attributions. For additive methods (linear
    /// SHAP, exact Shapley values) this is what a group's attribution means.
    pub fn sum(&self, per_feature: &[f64]) -> Vec<f64> {
        self.groups
            .iter()
            .map(|m| m.iter().map(|&j| per_feature[j]).sum())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_must_partition_the_features() {
        assert!(FeatureGroups::new(vec![vec![0, 2], vec![1]], 3).is_ok());
        for bad in [
            vec![vec![0], vec![1]],
            vec![vec![0, 1], vec![1, 2]],
            vec![vec![0, 1, 2], vec![]],
            vec![vec![0, 1, 3]],
        ] {
            assert!(matches!(
                FeatureGroups::new(bad, 3),
                Err(CoreError::InvalidArgument(_))
            ));
        }
    }
}
