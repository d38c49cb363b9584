//! The `features_info` of a CatBoost JSON document: which input column each float
//! and categorical feature reads, how a float split treats NaN, and the table of
//! category strings behind the hashes one-hot splits compare; and the translation
//! of one oblivious split into a binary split on those columns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{array, field, invalid, text};
use crate::core::models::trees::Split;
use crate::core::models::{RawFeatures, RawKind};
use crate::core::CoreResult;

/// Most input columns a document may declare (a flat index beyond this is refused
/// before anything per column is allocated).
const MAX_FEATURES: usize = 100_000;

/// A float feature: its column and where NaN goes.
#[derive(Debug)]
struct FloatFeature {
    /// Input column (CatBoost's `flat_feature_index`).
    column: usize,
    /// Whether NaN takes bit 0 ("x > border" false): `AsFalse` (nan_mode Min) and
    /// `AsIs` (no NaN in training; NaN > border is false); `AsTrue` (Max) takes bit 1.
    nan_bit_zero: bool,
}

/// What a document's features are, once read.
#[derive(Debug)]
pub(super) struct Features {
    /// Number of input columns (one past the largest flat index).
    pub n_features: usize,
    /// Name per column, when every column has one.
    pub names: Option<Vec<String>>,
    floats: Vec<FloatFeature>,
    /// Column of each categorical feature, by its position in `categorical_features`.
    cat_columns: Vec<usize>,
    /// Hashes each categorical feature lists in its `values` (its one-hot values).
    cat_values: Vec<BTreeSet<u32>>,
    /// Category string by hash (unsigned 32-bit), from `cat_features_hash`.
    strings: HashMap<u32, String>,
    /// Per categorical feature, its categories' codes by hash, once
    /// [`Features::settle_categories`] has seen the splits.
    codes: Vec<HashMap<u32, u32>>,
    /// The raw features, once settled.
    pub raw: Option<RawFeatures>,
}

impl Features {
    /// Read `features_info`.
    pub fn read(info: &Value) -> CoreResult<Self> {
        for key in ["text_features", "embedding_features"] {
            if info
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                return Err(invalid(format!(
                    "features_info.{key}: text and embedding features are not supported"
                )));
            }
        }
        let empty = Vec::new();
        // Absent and null (what a model without categories writes) both mean none.
        let list = |key: &str| match info.get(key) {
            Some(Value::Null) | None => Ok(&empty),
            Some(v) => array(v, key),
        };
        let (float_list, cat_list) = (list("float_features")?, list("categorical_features")?);
        let mut names: BTreeMap<usize, String> = BTreeMap::new();
        let mut columns = BTreeSet::new();
        let mut column_of = |f: &Value, what: &str, pos: usize| -> CoreResult<usize> {
            let at = format!("features_info.{what}[{pos}]");
            if let Some(i) = f.get("feature_index") {
                if i.as_u64() != Some(pos as u64) {
                    return Err(invalid(format!("{at}.feature_index is not {pos}")));
                }
            }
            let column = field(f, "flat_feature_index", &at)?
                .as_u64()
                .and_then(|c| usize::try_from(c).ok())
                .filter(|&c| c < MAX_FEATURES)
                .ok_or_else(|| {
                    invalid(format!(
                        "{at}.flat_feature_index must be an integer below {MAX_FEATURES}"
                    ))
                })?;
            if !columns.insert(column) {
                return Err(invalid(format!(
                    "{at}: flat_feature_index {column} is used twice"
                )));
            }
            let name = ["feature_id", "feature_name"]
                .iter()
                .find_map(|k| f.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()));
            if let Some(name) = name {
                names.insert(column, name.to_string());
            }
            Ok(column)
        };
        let mut floats = Vec::with_capacity(float_list.len());
        for (pos, f) in float_list.iter().enumerate() {
            let column = column_of(f, "float_features", pos)?;
            let nan_bit_zero = match f.get("nan_value_treatment").and_then(Value::as_str) {
                None | Some("AsIs" | "AsFalse") => true,
                Some("AsTrue") => false,
                Some(other) => {
                    return Err(invalid(format!(
                        "features_info.float_features[{pos}].nan_value_treatment '{other}' \
                         is not AsIs, AsFalse or AsTrue"
                    )))
                }
            };
            floats.push(FloatFeature {
                column,
                nan_bit_zero,
            });
        }
        let mut cat_columns = Vec::with_capacity(cat_list.len());
        let mut cat_values = Vec::with_capacity(cat_list.len());
        for (pos, f) in cat_list.iter().enumerate() {
            cat_columns.push(column_of(f, "categorical_features", pos)?);
            let at = format!("features_info.categorical_features[{pos}].values");
            let values = match f.get("values") {
                Some(v) => array(v, &at)?
                    .iter()
                    .map(|h| hash_of(h, &at))
                    .collect::<CoreResult<BTreeSet<u32>>>()?,
                None => BTreeSet::new(),
            };
            cat_values.push(values);
        }
        let n_features = columns.last().map_or(0, |c| c + 1);
        let names = (names.len() == n_features).then(|| names.into_values().collect());
        let mut strings = HashMap::new();
        for (i, entry) in list("cat_features_hash")?.iter().enumerate() {
            let at = format!("cat_features_hash[{i}]");
            let hash = hash_of(field(entry, "hash", &at)?, &format!("{at}.hash"))?;
            let value = text(field(entry, "value", &at)?, &format!("{at}.value"))?;
            strings.insert(hash, value.to_string());
        }
        Ok(Features {
            n_features,
            names,
            floats,
            codes: vec![HashMap::new(); cat_columns.len()],
            cat_columns,
            cat_values,
            strings,
            raw: None,
        })
    }

    /// The name of categorical feature `cat`, for messages.
    fn cat_name(&self, cat: usize) -> String {
        let column = self.cat_columns.get(cat).copied();
        match (&self.names, column) {
            (Some(names), Some(c)) => format!("'{}'", names[c]),
            (None, Some(c)) => format!("in column {c}"),
            _ => format!("#{cat}"),
        }
    }

    /// Fix each categorical feature's categories from the one-hot values `tested` by
    /// the splits (per feature: the hashes compared) and those the feature lists in
    /// `values`, and build the raw features.
    ///
    /// CatBoost's table of strings is shared by all categorical features and does not
    /// say which feature a string came from, so a feature lists the strings of its
    /// one-hot values, sorted (every other string is unseen: CatBoost's "not equal" as
    /// well); a feature with none lists the whole table (it changes no prediction).
    pub fn settle_categories(&mut self, tested: &[BTreeSet<u32>]) -> CoreResult<()> {
        if self.cat_columns.is_empty() {
            return Ok(());
        }
        let mut kinds = vec![RawKind::Numeric; self.n_features];
        for (cat, &column) in self.cat_columns.iter().enumerate() {
            let own: BTreeSet<u32> = tested[cat].union(&self.cat_values[cat]).copied().collect();
            let hashes: Vec<u32> = if own.is_empty() {
                self.strings.keys().copied().collect()
            } else {
                own.into_iter().collect()
            };
            if hashes.is_empty() {
                return Err(invalid(format!(
                    "categorical feature {} has no category strings: the document has no \
                     cat_features_hash; save it with save_model(path, format=\"json\", pool=pool)",
                    self.cat_name(cat)
                )));
            }
            let mut named: Vec<(String, u32)> = Vec::with_capacity(hashes.len());
            for hash in hashes {
                let string = self.strings.get(&hash).ok_or_else(|| {
                    invalid(format!(
                        "categorical feature {} has the one-hot value of hash {hash}, which \
                         cat_features_hash does not list; save the model with \
                         save_model(path, format=\"json\", pool=pool)",
                        self.cat_name(cat)
                    ))
                })?;
                named.push((string.clone(), hash));
            }
            named.sort();
            self.codes[cat] = named
                .iter()
                .enumerate()
                .map(|(code, (_, hash))| (*hash, code as u32))
                .collect();
            kinds[column] = RawKind::Categorical {
                categories: named.into_iter().map(|(s, _)| s).collect(),
            };
        }
        self.raw = Some(RawFeatures::new(kinds)?);
        Ok(())
    }

    /// Number of categorical features.
    pub fn cat_count(&self) -> usize {
        self.cat_columns.len()
    }

    /// The input column of categorical feature `cat` (an index one_hot_of gave).
    pub fn cat_column(&self, cat: usize) -> usize {
        self.cat_columns[cat]
    }

    /// The categorical feature a one-hot split reads and the hash it compares.
    pub fn one_hot_of(&self, split: &Value) -> CoreResult<(usize, u32)> {
        let cat = index(split, "cat_feature_index", self.cat_columns.len())?;
        Ok((
            cat,
            hash_of(field(split, "value", "split")?, "split value")?,
        ))
    }

    /// A float split as (column, split, NaN goes left): bit 1 (right) when
    /// `(x as f32) > border`, CatBoost's float32 comparison, which is `(x as f32) <
    /// next float32 above border` for the left side.
    pub fn float_split(&self, split: &Value) -> CoreResult<(usize, Split, bool)> {
        let f = &self.floats[index(split, "float_feature_index", self.floats.len())?];
        let border = field(split, "border", "split")?
            .as_f64()
            .filter(|b| b.is_finite() && (b.abs() as f32).is_finite())
            .ok_or_else(|| invalid("a split's border must be a finite float32".into()))?;
        let threshold = next_f32_up(border as f32);
        Ok((f.column, Split::LessThanF32 { threshold }, f.nan_bit_zero))
    }

    /// A one-hot split as (column, split, NaN goes left): bit 1 (right) when the
    /// category is the one tested; an unseen category or a missing one (NaN) is
    /// "not equal", bit 0.
    pub fn one_hot_split(&self, cat: usize, hash: u32) -> CoreResult<(usize, Split)> {
        let code = self
            .codes
            .get(cat)
            .and_then(|c| c.get(&hash))
            .ok_or_else(|| {
                invalid(format!(
                    "categorical feature {} has no category of hash {hash}",
                    self.cat_name(cat)
                ))
            })?;
        Ok((
            self.cat_columns[cat],
            Split::Categories {
                categories: vec![*code],
                listed_go_left: false,
            },
        ))
    }

    /// The names of the categorical features a CTR split combines, for messages.
    pub fn ctr_feature_names(&self, ctr: &Value) -> Vec<String> {
        let elements = ctr.get("elements").and_then(Value::as_array);
        elements
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("cat_feature_index").and_then(Value::as_u64))
            .map(|c| self.cat_name(c as usize))
            .collect()
    }
}

/// `key` of `split` as an index below `len`.
fn index(split: &Value, key: &str, len: usize) -> CoreResult<usize> {
    field(split, key, "split")?
        .as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .filter(|&i| i < len)
        .ok_or_else(|| {
            invalid(format!(
                "a split's {key} must be an index below {len} (the features the document lists)"
            ))
        })
}

/// A category hash, stored unsigned (the table) or as a signed 32-bit integer (the
/// splits): the same 32 bits.
fn hash_of(v: &Value, what: &str) -> CoreResult<u32> {
    v.as_i64()
        .and_then(|h| {
            u32::try_from(h)
                .ok()
                .or_else(|| i32::try_from(h).ok().map(|h| h as u32))
        })
        .ok_or_else(|| invalid(format!("{what} must be a 32-bit integer")))
}

/// The smallest float32 above `b` (finite `b`).
fn next_f32_up(b: f32) -> f32 {
    if b == 0.0 {
        f32::from_bits(1)
    } else if b > 0.0 {
        f32::from_bits(b.to_bits() + 1)
    } else {
        f32::from_bits(b.to_bits() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_float32_is_the_first_that_compares_above() {
        for b in [0.0f32, -0.0, 1.5, -1.5, 1e-40, -1e-40, 3.0e38] {
            let up = next_f32_up(b);
            assert!(up > b, "{b}");
            // Adjacent: the midpoint rounds to one of the two, nothing lies between.
            let mid = ((f64::from(b) + f64::from(up)) / 2.0) as f32;
            assert!(mid == b || mid == up, "{b}");
        }
        assert_eq!(
            hash_of(&serde_json::json!(-784473192), "h").unwrap(),
            3510494104
        );
        assert_eq!(
            hash_of(&serde_json::json!(3510494104u64), "h").unwrap(),
            3510494104
        );
        assert!(hash_of(&serde_json::json!(1u64 << 33), "h").is_err());
    }
}
