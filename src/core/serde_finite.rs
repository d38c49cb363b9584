//! Find a non-finite number anywhere in a serialisable value.
//!
//! JSON has no NaN or infinity, and serde_json writes them as `null` without a
//! word, so a number the schema promises can silently turn into `null`. The
//! explain, predict and registration paths check their own numbers where they can
//! name the instance and the feature ([`crate::core::explain::finite`]); this walk
//! is the last line behind them: it visits a value as a serialiser would, writes
//! nothing, and stops at the first non-finite `f32` or `f64`, saying where it is
//! (`explanations[0].attributions[3]`).

use std::fmt;

use serde::ser::{self, Serialize};

use crate::core::{CoreError, CoreResult};

/// The path of the first non-finite number in `value`, or `None` when every
/// number is finite (or the value cannot be serialised at all, which the
/// serialiser that follows will report itself).
pub fn find_non_finite<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut walk = Walk { path: Vec::new() };
    match value.serialize(&mut walk) {
        Err(Stop::Found(path)) => Some(if path.is_empty() {
            "the value".into()
        } else {
            path
        }),
        Ok(()) | Err(Stop::Other) => None,
    }
}

/// [`find_non_finite`] as an error for answers computed from data: `what` names
/// the answer ("the result").
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the path of the first non-finite number.
pub fn check<T: Serialize + ?Sized>(value: &T, what: &str) -> CoreResult<()> {
    match find_non_finite(value) {
        None => Ok(()),
        Some(path) => Err(CoreError::InvalidArgument(format!(
            "{what}: {path} is not a finite number (overflow: the model's outputs on this \
             data leave f64's range); use data nearer the range the model was fitted on"
        ))),
    }
}

/// Where the walk is: field names and sequence indices.
enum Step {
    Field(&'static str),
    Index(usize),
    Key,
}

struct Walk {
    path: Vec<Step>,
}

impl Walk {
    fn here(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Field(f) if out.is_empty() => out.push_str(f),
                Step::Field(f) => {
                    out.push('.');
                    out.push_str(f);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
                Step::Key => out.push_str("[key]"),
            }
        }
        out
    }

    fn number(&self, v: f64) -> Result<(), Stop> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(Stop::Found(self.here()))
        }
    }

    fn visit<T: Serialize + ?Sized>(&mut self, step: Step, value: &T) -> Result<(), Stop> {
        self.path.push(step);
        let result = value.serialize(&mut *self);
        self.path.pop();
        result
    }

    fn next(&mut self) {
        if let Some(Step::Index(i)) = self.path.last_mut() {
            *i += 1;
        }
    }
}

/// Why the walk stopped.
#[derive(Debug)]
enum Stop {
    Found(String),
    Other,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Found(path) => write!(f, "non-finite number at {path}"),
            Stop::Other => f.write_str("not serialisable"),
        }
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop::Other
    }
}

macro_rules! ignore {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, _: $t) -> Result<(), Stop> { Ok(()) })*
    };
}

impl ser::Serializer for &mut Walk {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    ignore!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8], serialize_unit_struct: &'static str);

    fn serialize_f32(self, v: f32) -> Result<(), Stop> {
        self.number(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Stop> {
        self.number(v)
    }
    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.visit(Step::Field(variant), value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Stop> {
        self.path.push(Step::Index(0));
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Stop> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Stop> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Self, Stop> {
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Stop> {
        self.path.push(Step::Key);
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Stop> {
        Ok(self)
    }
}

macro_rules! sequence {
    ($($tr:ident :: $method:ident),*) => {$(
        impl ser::$tr for &mut Walk {
            type Ok = ();
            type Error = Stop;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
                value.serialize(&mut **self)?;
                self.next();
                Ok(())
            }
            fn end(self) -> Result<(), Stop> {
                self.path.pop();
                Ok(())
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for &mut Walk {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Stop> {
        self.path.pop();
        Ok(())
    }
}

macro_rules! fields {
    ($($tr:ident),*) => {$(
        impl ser::$tr for &mut Walk {
            type Ok = ();
            type Error = Stop;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Stop> {
                self.visit(Step::Field(key), value)
            }
            fn end(self) -> Result<(), Stop> {
                Ok(())
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Row {
        name: &'static str,
        values: Vec<f64>,
        maybe: Option<f64>,
        nested: Vec<Vec<f32>>,
        by_key: BTreeMap<String, f64>,
    }

    fn row() -> Row {
        Row {
            name: "a",
            values: vec![1.0, 2.0],
            maybe: None,
            nested: vec![vec![1.0], vec![2.0, 3.0]],
            by_key: BTreeMap::from([("k".to_string(), 1.0)]),
        }
    }

    #[test]
    fn finite_values_pass_and_the_first_non_finite_is_located() {
        assert_eq!(find_non_finite(&row()), None);
        assert_eq!(find_non_finite(&vec![row(), row()]), None);
        let mut r = row();
        r.values[1] = f64::NAN;
        assert_eq!(
            find_non_finite(&vec![row(), r]).as_deref(),
            Some("[1].values[1]")
        );
        let mut r = row();
        r.nested[1][1] = f32::INFINITY;
        assert_eq!(find_non_finite(&r).as_deref(), Some("nested[1][1]"));
        let mut r = row();
        r.maybe = Some(f64::NEG_INFINITY);
        assert_eq!(find_non_finite(&r).as_deref(), Some("maybe"));
        let mut r = row();
        r.by_key.insert("z".into(), f64::NAN);
        assert_eq!(find_non_finite(&r).as_deref(), Some("by_key[key]"));
        assert_eq!(find_non_finite(&f64::NAN).as_deref(), Some("the value"));
    }
}
