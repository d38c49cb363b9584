//! The encoders of a front: OneHotEncoder and LabelEncoder, which turn a string
//! column into numbers (and note the strings they list as the raw feature's
//! categories).

use std::sync::Arc;

use super::ops::{floats, int};
use super::steps::{Key, Labels, Step, Val, FLOAT, INT64, STRING};
use super::{Column, Raw, Sym, MAX_COLUMNS};
use crate::formats::onnx::graph::{Attr, Node};

/// Record `keys` as categories of the raw string feature `col` reads directly.
fn note_categories(col: &Column, elem: u64, keys: &[Arc<str>], raws: &mut [Raw]) {
    if elem == STRING && col.steps.is_empty() {
        let raw = &mut raws[col.raw];
        for k in keys {
            if !raw.categories.contains(k) {
                raw.categories.push(k.clone());
            }
        }
    }
}

fn strings(node: &Node, name: &str) -> Option<Vec<Arc<str>>> {
    match node.attrs.get(name) {
        Some(Attr::Strings(v)) => Some(v.iter().map(|s| Arc::from(s.as_str())).collect()),
        _ => None,
    }
}

fn ints<'a>(node: &'a Node, name: &str) -> Option<&'a [i64]> {
    match node.attrs.get(name) {
        Some(Attr::Ints(v)) => Some(v),
        _ => None,
    }
}

pub(super) fn one_hot(node: &Node, x: &Sym, raws: &mut [Raw]) -> Result<Sym, String> {
    let [col] = x.cols.as_slice() else {
        return Err(format!(
            "a OneHotEncoder over {} columns; one is read",
            x.cols.len()
        ));
    };
    if int(node, "zeros", 1) == 0 {
        // onnxruntime fails on a category the encoder does not list: requests that
        // hold one are refused, which needs the encoder to read the raw strings.
        if x.elem != STRING || !col.steps.is_empty() {
            return Err(
                "zeros = 0 (an unseen value is an error) on a derived column; \
                        export the encoder with handle_unknown=\"ignore\""
                    .into(),
            );
        }
        raws[col.raw].strict = true;
    }
    let keys: Vec<Key> = match (
        x.elem,
        strings(node, "cats_strings"),
        ints(node, "cats_int64s"),
    ) {
        (STRING, Some(cats), _) => {
            note_categories(col, x.elem, &cats, raws);
            cats.into_iter().map(Key::Str).collect()
        }
        (e, _, Some(cats)) if e != STRING => cats.iter().map(|&c| Key::Int(c)).collect(),
        _ => return Err("cats_strings (string input) or cats_int64s is missing".into()),
    };
    if keys.len() > MAX_COLUMNS {
        return Err(format!("{} categories, beyond {MAX_COLUMNS}", keys.len()));
    }
    let cols = keys
        .into_iter()
        .map(|k| Column {
            raw: col.raw,
            steps: col.steps.iter().cloned().chain([Step::OneHot(k)]).collect(),
        })
        .collect();
    Ok(Sym { cols, elem: FLOAT })
}

pub(super) fn label_encoder(node: &Node, x: &Sym, raws: &mut [Raw]) -> Result<Sym, String> {
    let keys: Vec<Key> = match (
        x.elem,
        strings(node, "keys_strings"),
        ints(node, "keys_int64s"),
    ) {
        (STRING, Some(k), _) => {
            for col in &x.cols {
                note_categories(col, x.elem, &k, raws);
            }
            k.into_iter().map(Key::Str).collect()
        }
        (e, _, Some(k)) if e != STRING => k.iter().map(|&k| Key::Int(k)).collect(),
        _ => return Err("keys_strings (string input) or keys_int64s is missing".into()),
    };
    let (vals, default, elem): (Vec<Val>, Val, u64) = if let Some(v) = ints(node, "values_int64s") {
        let d = int(node, "default_int64", -1);
        (
            v.iter().map(|&i| Val::Num(i as f64)).collect(),
            Val::Num(d as f64),
            INT64,
        )
    } else if let Some(v) = floats(node, "values_floats") {
        let d = match node.attrs.get("default_float") {
            Some(Attr::Float(f)) => *f,
            _ => -0.0,
        };
        (v.iter().map(|&f| Val::Num(f)).collect(), Val::Num(d), FLOAT)
    } else if let Some(v) = strings(node, "values_strings") {
        let d = match node.attrs.get("default_string") {
            Some(Attr::Str(s)) => s.clone(),
            _ => "_Unused".to_string(),
        };
        let vals = v.into_iter().map(|s| Val::Str(Some(s))).collect();
        (vals, Val::Str(Some(Arc::from(d.as_str()))), STRING)
    } else {
        return Err("values_int64s, values_floats or values_strings is missing \
                    (the opset-4 keys_tensor form is not read)"
            .into());
    };
    if keys.len() != vals.len() {
        return Err(format!("{} keys for {} values", keys.len(), vals.len()));
    }
    let labels = Arc::new(Labels {
        map: keys.into_iter().zip(vals).collect(),
        default,
    });
    let cols = x
        .cols
        .iter()
        .map(|c| Column {
            raw: c.raw,
            steps: c
                .steps
                .iter()
                .cloned()
                .chain([Step::Label(labels.clone())])
                .collect(),
        })
        .collect();
    Ok(Sym { cols, elem })
}
