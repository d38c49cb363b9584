//! Raw input features: what the user sends for each feature of a deployed model,
//! a number or a category.
//!
//! Models read numeric rows. A categorical raw feature is carried in a row as its
//! category's *code*: the index of the category in the feature's list. A category
//! the model never saw gets [`RawFeatures::unseen_code`] (one past the last index),
//! which no categorical split lists, so it goes where a split sends "none of these"
//! (a one-hot encoder's all-zero columns, CatBoost's "not equal"). A missing value
//! (JSON `null`) is NaN, for numbers and categories alike.
//!
//! The model files that read categories (ONNX pipelines with string inputs, CatBoost
//! with categorical features) are compiled into models over these codes, so every
//! explainer works on raw features unchanged: one attribution per raw feature.

use serde::Serialize;

use crate::core::{CoreError, CoreResult};

/// What one raw feature holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RawKind {
    /// A number (or missing).
    Numeric,
    /// One of a list of categories, carried as its index in the list.
    Categorical {
        /// The categories the model knows, in code order (code = index).
        categories: Vec<String>,
    },
}

/// One column a deployed pipeline computes from a raw feature before its model
/// reads it: the preprocessing the model file holds, as `/weights` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncodedColumn {
    /// The raw feature it is computed from.
    pub feature: String,
    /// The steps, in order, e.g. `impute NaN → 3`, `scale (x − 5.2) × 0.4`,
    /// `one-hot = 'north'`.
    pub steps: Vec<String>,
}

/// Why a category a strict feature does not list is refused: the words every
/// refusal of [`RawFeatures::refuses`] ends with.
pub const REFUSES_UNLISTED: &str = "its encoder refuses categories it does not list (an ONNX \
    OneHotEncoder with zeros = 0, scikit-learn's handle_unknown=\"error\")";

/// The kinds of a model's raw features, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFeatures {
    kinds: Vec<RawKind>,
    /// Per feature, its category indices sorted by name (empty for a numeric one),
    /// so that [`RawFeatures::code`] is a binary search, not a scan of the list.
    by_name: Vec<Vec<u32>>,
    /// Per feature: whether the deployed model refuses a category it does not list
    /// (an ONNX OneHotEncoder with `zeros` = 0), so a request holding one is refused
    /// rather than explained as the unseen code.
    strict: Vec<bool>,
    /// The preprocessing a pipeline applies to the raw features before its model,
    /// one entry per column the model reads (empty when the file holds none).
    encoding: Vec<EncodedColumn>,
}

impl RawFeatures {
    /// Kinds in input order.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when a categorical feature lists no category, an
    /// empty name, or a name twice.
    pub fn new(kinds: Vec<RawKind>) -> CoreResult<Self> {
        let mut by_name = Vec::with_capacity(kinds.len());
        for (j, kind) in kinds.iter().enumerate() {
            let RawKind::Categorical { categories } = kind else {
                by_name.push(Vec::new());
                continue;
            };
            if categories.is_empty() {
                return Err(CoreError::InvalidModel(format!(
                    "categorical feature {j} lists no category"
                )));
            }
            if categories.len() > u32::MAX as usize {
                return Err(CoreError::InvalidModel(format!(
                    "categorical feature {j} lists more than {} categories",
                    u32::MAX
                )));
            }
            let mut sorted: Vec<u32> = (0..categories.len() as u32).collect();
            sorted.sort_unstable_by(|&a, &b| categories[a as usize].cmp(&categories[b as usize]));
            let name = |i: u32| categories[i as usize].as_str();
            if let Some(w) = sorted.windows(2).find(|w| name(w[0]) == name(w[1])) {
                return Err(CoreError::InvalidModel(format!(
                    "categorical feature {j} lists category '{}' twice",
                    name(w[0])
                )));
            }
            by_name.push(sorted);
        }
        let strict = vec![false; kinds.len()];
        Ok(RawFeatures {
            kinds,
            by_name,
            strict,
            encoding: Vec::new(),
        })
    }

    /// The same features, the categorical `feature` refusing unseen categories
    /// (see [`Self::refuses_unseen`]); a numeric or out-of-range one is left as it is.
    pub fn refusing_unseen(mut self, feature: usize) -> Self {
        if self.categories(feature).is_some() {
            self.strict[feature] = true;
        }
        self
    }

    /// These features with the preprocessing their model file applies to them.
    pub fn with_encoding(mut self, encoding: Vec<EncodedColumn>) -> Self {
        self.encoding = encoding;
        self
    }

    /// The preprocessing the model file applies, one entry per column its model
    /// reads; empty when it holds none.
    pub fn encoding(&self) -> &[EncodedColumn] {
        &self.encoding
    }

    /// Whether the model refuses a category `feature` does not list: a value with
    /// the unseen code has no answer from the deployed model.
    pub fn refuses_unseen(&self, feature: usize) -> bool {
        self.strict.get(feature).copied().unwrap_or(false)
    }

    /// Whether `x`, a code or NaN, is a value of `feature` the deployed model has no
    /// answer for: the unseen code or a missing value of a feature that
    /// [refuses unseen categories](Self::refuses_unseen).
    pub fn refuses(&self, feature: usize, x: f64) -> bool {
        self.refuses_unseen(feature) && (x.is_nan() || Some(x) == self.unseen_code(feature))
    }

    /// Number of raw features.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The kinds, in input order.
    pub fn kinds(&self) -> &[RawKind] {
        &self.kinds
    }

    /// Whether any feature is categorical.
    pub fn has_categories(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| matches!(k, RawKind::Categorical { .. }))
    }

    /// The categories of `feature`, `None` for a numeric one (or out of range).
    pub fn categories(&self, feature: usize) -> Option<&[String]> {
        match self.kinds.get(feature) {
            Some(RawKind::Categorical { categories }) => Some(categories),
            _ => None,
        }
    }

    /// The code of `category` for a categorical `feature`: its index, or
    /// [`Self::unseen_code`] for a category the model does not list. `None` when
    /// the feature is numeric.
    pub fn code(&self, feature: usize, category: &str) -> Option<f64> {
        let categories = self.categories(feature)?;
        let found = self.by_name[feature]
            .binary_search_by(|&i| categories[i as usize].as_str().cmp(category))
            .map_or(categories.len(), |k| self.by_name[feature][k] as usize);
        Some(found as f64)
    }

    /// The code every unlisted category of a categorical `feature` gets (one past
    /// the last index); `None` when the feature is numeric.
    pub fn unseen_code(&self, feature: usize) -> Option<f64> {
        self.categories(feature).map(|c| c.len() as f64)
    }

    /// The category a code stands for: `None` for a numeric feature, NaN, the
    /// unseen code, or a value that is no code.
    pub fn category(&self, feature: usize, code: f64) -> Option<&str> {
        let categories = self.categories(feature)?;
        if code.is_nan() || code < 0.0 || code.fract() != 0.0 {
            return None;
        }
        categories.get(code as usize).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RawFeatures {
        RawFeatures::new(vec![
            RawKind::Numeric,
            RawKind::Categorical {
                categories: vec!["north".into(), "south".into()],
            },
        ])
        .unwrap()
    }

    #[test]
    fn codes_are_indices_and_unseen_is_one_past_the_end() {
        let raw = sample();
        assert_eq!(raw.code(1, "south"), Some(1.0));
        assert_eq!(raw.code(1, "east"), Some(2.0));
        assert_eq!(raw.unseen_code(1), Some(2.0));
        assert_eq!(raw.code(0, "north"), None);
        assert_eq!(raw.category(1, 0.0), Some("north"));
        assert_eq!(raw.category(1, 2.0), None);
        assert_eq!(raw.category(1, f64::NAN), None);
        assert!(raw.has_categories());
        assert!(!raw.refuses_unseen(1));
        let strict = raw.refusing_unseen(1).refusing_unseen(0);
        assert!(strict.refuses_unseen(1) && !strict.refuses_unseen(0));
        assert!(strict.refuses(1, 2.0) && strict.refuses(1, f64::NAN) && !strict.refuses(1, 1.0));
        assert!(
            !strict.refuses(0, f64::NAN),
            "a numeric feature may be missing"
        );
    }

    #[test]
    fn codes_of_a_long_unsorted_list_are_found_by_name() {
        // Names in no particular order: the code is the index in the list as given.
        let names: Vec<String> = (0..1000)
            .map(|i| format!("c{}", (i * 617) % 1000))
            .collect();
        let raw = RawFeatures::new(vec![RawKind::Categorical {
            categories: names.clone(),
        }])
        .unwrap();
        for (i, name) in names.iter().enumerate() {
            assert_eq!(raw.code(0, name), Some(i as f64));
        }
        assert_eq!(raw.code(0, "c1000"), Some(1000.0));
        assert_eq!(raw.code(0, ""), Some(1000.0));
    }

    #[test]
    fn duplicate_or_empty_category_lists_are_refused() {
        let twice = RawFeatures::new(vec![RawKind::Categorical {
            categories: vec!["a".into(), "a".into()],
        }]);
        assert!(matches!(twice, Err(CoreError::InvalidModel(m)) if m.contains("'a' twice")));
        let none = RawFeatures::new(vec![RawKind::Categorical { categories: vec![] }]);
        assert!(none.is_err());
    }
}
