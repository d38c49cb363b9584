//! The Open Inference Protocol's tensors: request and answer bodies, and the
//! conversion of input tensors to the `instances` rows the other routes take.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::instances::Instances;

/// An element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Datatype {
    /// 64-bit floats.
    Fp64,
    /// 32-bit floats (read as 64-bit).
    Fp32,
    /// 64-bit integers.
    Int64,
    /// Strings (categories).
    Bytes,
}

/// An input tensor: `shape` `[rows, features]` in feature order, or `[rows]` for one
/// feature named by `name`; `data` row-major (nested arrays are flattened).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputTensor {
    /// `input` (any name) for a `[rows, features]` tensor, else a feature's name.
    pub name: String,
    /// `[rows, features]` or `[rows]`.
    pub shape: Vec<usize>,
    /// Element type.
    pub datatype: Datatype,
    /// Tensor parameters (accepted, unused).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// The elements, row-major: numbers, or strings for `BYTES` (null for a missing
    /// value in either).
    #[schema(value_type = Vec<Value>)]
    pub data: Vec<Value>,
}

/// An output a request asks for, by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedOutput {
    /// Output name.
    pub name: String,
    /// Output parameters (accepted, unused).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
}

/// An inference (or explanation) request in the tensor format.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    /// Echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    /// `infer`: `output_space`. `explain`: the fields of an explain request
    /// (`method`, `output`, `outputs`, `output_space`, `n_samples`, `seed`, …).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
    /// One `[rows, features]` tensor, or one `[rows]` tensor per feature.
    pub inputs: Vec<InputTensor>,
    /// Outputs to answer (default: all).
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
}

/// An output tensor.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputTensor {
    /// Output name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Always `FP64`.
    pub datatype: Datatype,
    /// The elements, row-major.
    pub data: Vec<f64>,
}

/// An inference (or explanation) answer in the tensor format.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferResponse {
    /// Model name.
    pub model_name: String,
    /// Model version that answered.
    pub model_version: String,
    /// The request's `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the numbers are: output names, feature names, method, space.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// The output tensors.
    pub outputs: Vec<OutputTensor>,
}

impl OutputTensor {
    /// An FP64 tensor; `data` must hold the product of `shape`.
    pub fn new(name: &str, shape: Vec<usize>, data: Vec<f64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        OutputTensor {
            name: name.to_string(),
            shape,
            datatype: Datatype::Fp64,
            data,
        }
    }
}

/// Keep the outputs a request names (all when it names none).
///
/// # Errors
/// [`ApiError::InvalidInput`] naming an output the answer does not have.
pub fn select(
    outputs: Vec<OutputTensor>,
    wanted: Option<&[RequestedOutput]>,
) -> Result<Vec<OutputTensor>, ApiError> {
    let Some(wanted) = wanted else {
        return Ok(outputs);
    };
    let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
    if let Some(unknown) = wanted.iter().find(|w| !names.contains(&w.name.as_str())) {
        return Err(ApiError::InvalidInput(format!(
            "outputs: no output '{}' (outputs: {})",
            unknown.name,
            names.join(", ")
        )));
    }
    Ok(outputs
        .into_iter()
        .filter(|o| wanted.iter().any(|w| w.name == o.name))
        .collect())
}

/// The input tensors as `instances`: rows in feature order for one [rows, features]
/// tensor, rows keyed by feature name for [rows] tensors (one per feature).
///
/// # Errors
/// [`ApiError::InvalidInput`] naming the input whose shape, datatype or data length
/// does not fit.
pub fn to_instances(inputs: &[InputTensor]) -> Result<Instances, ApiError> {
    let text = serde_json::to_string(&to_rows(inputs)?).map_err(|e| invalid(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))
}

/// The rows of [`to_instances`], as JSON values.
///
/// # Errors
/// As [`to_instances`].
pub fn to_rows(inputs: &[InputTensor]) -> Result<Vec<Value>, ApiError> {
    Ok(match inputs {
        [] => {
            return Err(invalid(
                "inputs: at least one input tensor is needed".into(),
            ))
        }
        [one] if one.shape.len() == 2 => {
            let data = elements(one)?;
            let width = one.shape[1].max(1);
            data.chunks(width)
                .map(|row| Value::Array(row.to_vec()))
                .collect()
        }
        many => {
            // Every input checked (its data as long as its shape says) before rows
            // are allocated: the row count is then bounded by the body.
            let columns = many
                .iter()
                .map(|input| Ok((input, elements(input)?)))
                .collect::<Result<Vec<_>, ApiError>>()?;
            let rows = many[0].shape[0];
            let mut objects = vec![Map::new(); rows];
            for (input, data) in columns {
                if input.shape.len() != 1 && input.shape.get(1) != Some(&1) {
                    return Err(invalid(format!(
                        "inputs '{}': shape {:?}: with several inputs, each is one feature of shape [rows]",
                        input.name, input.shape
                    )));
                }
                if input.shape[0] != rows {
                    return Err(invalid(format!(
                        "inputs '{}': {} rows, but input '{}' has {rows}",
                        input.name, input.shape[0], many[0].name
                    )));
                }
                for (object, value) in objects.iter_mut().zip(data) {
                    object.insert(input.name.clone(), value);
                }
            }
            objects.into_iter().map(Value::Object).collect()
        }
    })
}

/// An input's elements, flattened, checked against its shape and datatype.
fn elements(input: &InputTensor) -> Result<Vec<Value>, ApiError> {
    let name = &input.name;
    if input.shape.is_empty() || input.shape.len() > 2 {
        return Err(invalid(format!(
            "inputs '{name}': shape {:?}: expected [rows, features] or [rows]",
            input.shape
        )));
    }
    let mut data = Vec::new();
    flatten(&input.data, &mut data);
    let expected = input
        .shape
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(*d));
    if expected != Some(data.len()) {
        let needs = expected.map_or("more than fit in memory".to_string(), |n| n.to_string());
        return Err(invalid(format!(
            "inputs '{name}': data holds {} elements, shape {:?} needs {needs}",
            data.len(),
            input.shape
        )));
    }
    if let Some((i, value)) = data
        .iter()
        .enumerate()
        .find(|(_, v)| !fits(input.datatype, v))
    {
        return Err(invalid(format!(
            "inputs '{name}': data[{i}] = {value} is not {}",
            match input.datatype {
                Datatype::Fp64 | Datatype::Fp32 => "a number (FP32/FP64)",
                Datatype::Int64 => "an integer (INT64)",
                Datatype::Bytes => "a string or null (BYTES)",
            }
        )));
    }
    Ok(data)
}

/// Whether a value is an element of the datatype (null: a missing number or
/// category).
fn fits(datatype: Datatype, value: &Value) -> bool {
    match datatype {
        Datatype::Fp64 | Datatype::Fp32 => value.is_number() || value.is_null(),
        Datatype::Int64 => value.is_i64() || value.is_u64(),
        Datatype::Bytes => value.is_string() || value.is_null(),
    }
}

/// Row-major flattening of nested arrays.
fn flatten(values: &[Value], out: &mut Vec<Value>) {
    for value in values {
        match value {
            Value::Array(inner) => flatten(inner, out),
            other => out.push(other.clone()),
        }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidInput(message)
}
