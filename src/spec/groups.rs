//! Feature groups a model declares at registration (`"groups"` in the
//! [`ModelSpec`](super::ModelSpec)): named sets of features, e.g. the one-hot
//! columns of one categorical variable, reported as one attribution.
//!
//! Every feature is in at most one declared group; a feature in none forms a group
//! of its own, named after it. Groups are reported in input order: each at the
//! place of its first feature.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

use crate::core::explain::groups::FeatureGroups;
use crate::core::{CoreError, CoreResult};

/// A model's feature groups, validated against its feature names.
#[derive(Debug, Clone)]
pub struct ModelGroups {
    /// One name per group, in report order.
    pub names: Vec<String>,
    /// The feature indices of each group, in the same order.
    pub groups: FeatureGroups,
}

/// One group, as `GET /models/{name}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupInfo {
    /// Group name (a feature's own name for a feature in no declared group).
    pub name: String,
    /// Its features, in input order.
    pub features: Vec<String>,
}

impl ModelGroups {
    /// Check the declared groups against the feature names and complete them with
    /// singleton groups.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] for no group, an empty group or name, an unknown
    /// feature, a feature in two groups (or twice in one), or a group named like a
    /// feature outside it.
    pub fn new(declared: &BTreeMap<String, Vec<String>>, features: &[String]) -> CoreResult<Self> {
        let bad = |m: String| Err(CoreError::InvalidModel(format!("groups: {m}")));
        if declared.is_empty() {
            return bad("declare at least one group, or leave `groups` out".into());
        }
        let index: HashMap<&str, usize> = features
            .iter()
            .enumerate()
            .map(|(j, n)| (n.as_str(), j))
            .collect();
        let mut owner: Vec<Option<&str>> = vec![None; features.len()];
        for (name, members) in declared {
            if name.trim().is_empty() {
                return bad("group names must not be empty".into());
            }
            if members.is_empty() {
                return bad(format!("group '{name}' has no features"));
            }
            for m in members {
                let Some(&j) = index.get(m.as_str()) else {
                    return bad(format!("group '{name}' names unknown feature '{m}'"));
                };
                if let Some(other) = owner[j].replace(name) {
                    return bad(format!(
                        "feature '{m}' is in group '{other}' and in group '{name}'; each feature may be in one group"
                    ));
                }
            }
        }
        for name in declared.keys() {
            if let Some(&j) = index.get(name.as_str()) {
                if owner[j] != Some(name.as_str()) {
                    return bad(format!(
                        "group '{name}' has the name of feature '{name}', which is not in it"
                    ));
                }
            }
        }
        let mut names = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut placed: HashMap<&str, usize> = HashMap::new();
        for (j, feature) in features.iter().enumerate() {
            match owner[j] {
                None => {
                    names.push(feature.clone());
                    groups.push(vec![j]);
                }
                Some(g) => match placed.get(g) {
                    Some(&at) => groups[at].push(j),
                    None => {
                        placed.insert(g, groups.len());
                        names.push(g.to_string());
                        groups.push(vec![j]);
                    }
                },
            }
        }
        let groups = FeatureGroups::new(groups, features.len())
            .map_err(|e| CoreError::InvalidModel(format!("groups: {e}")))?;
        Ok(ModelGroups { names, groups })
    }

    /// The groups with their feature names, in report order.
    pub fn info(&self, features: &[String]) -> Vec<GroupInfo> {
        self.names
            .iter()
            .enumerate()
            .map(|(g, name)| GroupInfo {
                name: name.clone(),
                features: self
                    .groups
                    .members(g)
                    .iter()
                    .map(|&j| features[j].clone())
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn declared(v: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        v.iter().map(|(g, m)| (g.to_string(), names(m))).collect()
    }

    #[test]
    fn ungrouped_features_become_singletons_in_input_order() {
        let features = names(&["a", "b", "c", "d"]);
        let g = ModelGroups::new(&declared(&[("bd", &["d", "b"])]), &features).unwrap();
        assert_eq!(g.names, names(&["a", "bd", "c"]));
        assert_eq!(g.groups.members(1), &[1, 3]);
        assert_eq!(g.groups.sum(&[1.0, 2.0, 4.0, 8.0]), vec![1.0, 10.0, 4.0]);
        assert_eq!(g.info(&features)[1].features, names(&["b", "d"]));
    }

    #[test]
    fn bad_groups_are_refused_with_the_reason() {
        let features = names(&["a", "b", "c"]);
        for (bad, says) in [
            (declared(&[]), "at least one"),
            (declared(&[("g", &[])]), "no features"),
            (declared(&[("g", &["zz"])]), "unknown feature 'zz'"),
            (
                declared(&[("g", &["a"]), ("h", &["a", "b"])]),
                "in group 'g' and in group 'h'",
            ),
            (
                declared(&[("g", &["a", "a"])]),
                "in group 'g' and in group 'g'",
            ),
            (declared(&[("c", &["a", "b"])]), "name of feature 'c'"),
        ] {
            let err = ModelGroups::new(&bad, &features).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        // A group may carry the name of one of its own features.
        assert!(ModelGroups::new(&declared(&[("a", &["a", "b"])]), &features).is_ok());
    }
}
