//! Instances as clients send them: arrays of values in feature order, or objects
//! keyed by feature name; `null` means a missing value. A model with categorical
//! raw features (see [`crate::core::models::raw`]) takes a string for each of them,
//! written into the row as the category's code.
//!
//! Why two steps: the body is parsed before the model is known (its name may be in
//! the body), and building a `serde_json::Value` per instance costs an allocation per
//! key and per map node. So the body keeps each instance as its JSON text
//! ([`Instances`]), and [`to_matrix`] parses that text once more, with the model's
//! feature names at hand, straight into the matrix: keys are borrowed from the
//! text and looked up, values written in place.

use std::collections::HashMap;
use std::fmt;

use ndarray::Array2;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use crate::core::models::raw::REFUSES_UNLISTED;
use crate::core::models::{HostedModel, RawFeatures};
use crate::spec::BuiltModel;

mod cells;

use cells::{CellSeed, Key};

/// The `instances` of a request body, each kept as its (syntax-checked) JSON text
/// until the model is known.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Instances(Vec<Box<RawValue>>);

impl Instances {
    /// How many instances the body holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the body holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<serde_json::Value>> for Instances {
    /// Instances built in code (tests, fuzz targets) rather than parsed from a body.
    fn from(values: Vec<serde_json::Value>) -> Self {
        Instances(
            values
                .iter()
                .map(|v| serde_json::value::to_raw_value(v).expect("a Value always serialises"))
                .collect(),
        )
    }
}

/// Turn request instances into a checked (rows, features) matrix.
///
/// # Errors
/// An [`ApiError`] naming the instance and feature at fault: empty or too many
/// instances, wrong length, unknown or missing feature name, a value that is not a
/// number (a category for a categorical feature), or a `null` for a model that
/// cannot take missing values.
pub fn to_matrix(
    instances: &Instances,
    model: &BuiltModel,
    max_instances: usize,
) -> Result<Array2<f64>, ApiError> {
    if instances.is_empty() {
        return Err(invalid("instances must hold at least one instance".into()));
    }
    if instances.len() > max_instances {
        return Err(invalid(format!(
            "{} instances in one request; at most {max_instances} are accepted",
            instances.len()
        )));
    }
    let width = model.feature_names.len();
    let mut row = RowSeed {
        names: &model.feature_names,
        raw: model.model.raw_features(),
        index: None,
        model: &model.model,
        row: 0,
        data: Vec::with_capacity(instances.len() * width),
        cells: Vec::new(),
        next: 0,
    };
    for (i, raw) in instances.0.iter().enumerate() {
        row.row = i;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        (&mut row)
            .deserialize(&mut de)
            // The body parsed, so only what skipping over a value leaves unchecked gets
            // here (a number beyond f64's range, say): worded as axum's parse errors
            // are, with line and column counted within the instance.
            .map_err(|e| {
                ApiError::BadJson(format!(
                    "Failed to parse the request body as JSON: instances[{i}]: {e}"
                ))
            })?
            .map_err(invalid)?;
    }
    Ok(Array2::from_shape_vec((instances.len(), width), row.data)
        .expect("every row has `width` values"))
}

/// One JSON value where a feature value is expected.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Number(f64),
    Null,
    /// A string read for a categorical feature: its category's code.
    Code(f64),
    /// Anything else, by kind ("a string", …).
    Other(&'static str),
}

impl Cell {
    /// What the value is, for messages.
    fn kind(self) -> &'static str {
        match self {
            Cell::Number(_) => "a number",
            Cell::Null => "null",
            Cell::Code(_) => "a string",
            Cell::Other(kind) => kind,
        }
    }
}

/// Parses one instance, appending its values to `data`; the outer `Result` is the
/// JSON parser's, the inner one the instance's own fault, as a message.
struct RowSeed<'m> {
    names: &'m [String],
    /// The model's raw features when some are categorical; `None` keeps the
    /// all-numeric path as it was.
    raw: Option<&'m RawFeatures>,
    /// Feature name → column, built on the first object instance of a wide model.
    index: Option<HashMap<&'m str, usize>>,
    /// The model, which says which features may be missing.
    model: &'m HostedModel,
    /// Which instance (for messages).
    row: usize,
    /// The matrix, row-major.
    data: Vec<f64>,
    /// One slot per feature for the object being read (reused across rows).
    cells: Vec<Option<Cell>>,
    /// The column after the last name found in this object.
    next: usize,
}

/// Models up to this wide look feature names up by scanning them.
const SCAN_WIDTH: usize = 32;

impl<'m> RowSeed<'m> {
    /// The column of a feature name. Clients mostly send names in feature order, so
    /// the name after the last one found is tried first.
    fn column(&mut self, key: &str) -> Option<usize> {
        let names = self.names;
        if names.get(self.next).is_some_and(|n| n == key) {
            self.next += 1;
            return Some(self.next - 1);
        }
        let found = if names.len() <= SCAN_WIDTH {
            names.iter().position(|n| n == key)
        } else {
            self.index
                .get_or_insert_with(|| {
                    names
                        .iter()
                        .enumerate()
                        .map(|(j, n)| (n.as_str(), j))
                        .collect()
                })
                .get(key)
                .copied()
        };
        if let Some(j) = found {
            self.next = j + 1;
        }
        found
    }

    /// The categories of column `j` when it is categorical.
    #[inline]
    fn categories(&self, j: usize) -> Option<&'m [String]> {
        self.raw.and_then(|raw| raw.categories(j))
    }

    /// How a value of column `j` is read (see [`CellSeed`]).
    #[inline]
    fn seed(&self, j: usize) -> CellSeed<'m> {
        CellSeed {
            categorical: self
                .raw
                .filter(|raw| raw.categories(j).is_some())
                .map(|raw| (raw, j)),
        }
    }

    /// The value of `cell` for column `j`.
    fn number(&self, cell: Cell, j: usize) -> Result<f64, String> {
        let row = self.row;
        let feature = &self.names[j];
        match cell {
            Cell::Number(x) if x.is_finite() && self.categories(j).is_none() => Ok(x),
            Cell::Code(x) if self.raw.is_some_and(|r| r.refuses(j, x)) => Err(format!(
                "instance {row}, feature '{feature}': a category the model does not list; {REFUSES_UNLISTED}"
            )),
            Cell::Null if self.raw.is_some_and(|r| r.refuses(j, f64::NAN)) => {
                Err(format!("instance {row}, feature '{feature}': a missing category; {REFUSES_UNLISTED}"))
            }
            Cell::Code(code) => Ok(code),
            Cell::Null if self.model.accepts_missing(j) => Ok(f64::NAN),
            Cell::Null => Err(format!(
                "instance {row}, feature '{feature}': missing value (null); this model needs every feature"
            )),
            _ if self.categories(j).is_some() => Err(format!(
                "instance {row}, feature '{feature}': expected a category (a string), got {}",
                cell.kind()
            )),
            Cell::Number(_) => Err(format!(
                "instance {row}, feature '{feature}': not a finite number"
            )),
            _ => Err(format!(
                "instance {row}, feature '{feature}': expected a number, got {}",
                cell.kind()
            )),
        }
    }

    fn not_a_row(&self) -> Result<(), String> {
        Err(format!(
            "instance {}: expected an array of {} values or an object keyed by feature name",
            self.row,
            self.names.len()
        ))
    }
}

impl<'de> DeserializeSeed<'de> for &mut RowSeed<'_> {
    type Value = Result<(), String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut RowSeed<'_> {
    type Value = Result<(), String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of feature values or an object keyed by feature name")
    }

    /// Values in feature order. As with whole rows, a wrong length is reported before
    /// a bad value, and the first bad value before later ones.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let width = self.names.len();
        let mut n = 0;
        let mut fault = None;
        while n < width {
            let Some(cell) = seq.next_element_seed(self.seed(n))? else {
                break;
            };
            match self.number(cell, n) {
                Ok(x) => self.data.push(x),
                Err(e) => {
                    fault.get_or_insert(e);
                }
            }
            n += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        if n != width {
            return Ok(Err(format!(
                "instance {}: expected {width} feature values, got {n}",
                self.row
            )));
        }
        Ok(fault.map_or(Ok(()), Err))
    }

    /// Values by name. Checked as a parsed map would be: an unknown name first (the
    /// smallest, as keys of a sorted map), then the features in order, each missing or
    /// not a number; a repeated key keeps its last value.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let width = self.names.len();
        self.cells.clear();
        self.cells.resize(width, None);
        self.next = 0;
        let mut unknown: Option<String> = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let column = self.column(&key);
            let seed = match column {
                Some(j) => self.seed(j),
                None => CellSeed { categorical: None },
            };
            let cell = map.next_value_seed(seed)?;
            match column {
                Some(j) => self.cells[j] = Some(cell),
                None if unknown.as_deref().is_some_and(|u| u <= key.as_ref()) => {}
                None => unknown = Some(key.into_owned()),
            }
        }
        if let Some(unknown) = unknown {
            return Ok(Err(format!(
                "instance {}: unknown feature '{unknown}'",
                self.row
            )));
        }
        for j in 0..width {
            let name = &self.names[j];
            let Some(cell) = self.cells[j] else {
                return Ok(Err(format!(
                    "instance {}: missing feature '{name}'",
                    self.row
                )));
            };
            match self.number(cell, j) {
                Ok(x) => self.data.push(x),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.not_a_row())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(self.not_a_row())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(self.not_a_row())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(self.not_a_row())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(self.not_a_row())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.not_a_row())
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidInput(message)
}

#[cfg(test)]
mod tests;
