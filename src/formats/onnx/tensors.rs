//! Constant operands of the network's nodes: initializers read as matrices and
//! vectors.

use std::collections::HashMap;

use ndarray::{Array1, Array2};

use super::graph::{Node, Tensor};
use super::invalid;
use crate::core::CoreResult;

pub(super) fn constant<'a>(
    node: &Node,
    k: usize,
    inits: &'a HashMap<String, Tensor>,
) -> CoreResult<&'a Tensor> {
    let name = node
        .inputs
        .get(k)
        .ok_or_else(|| invalid(format!("{} needs input {k}", node.op)))?;
    inits.get(name).ok_or_else(|| {
        invalid(format!(
            "{} operand '{name}' is not a constant (initializer)",
            node.op
        ))
    })
}

pub(super) fn matrix(t: &Tensor, op: &str) -> CoreResult<Array2<f64>> {
    let [r, c] = t.dims.as_slice() else {
        return Err(invalid(format!(
            "{op} weights must be a matrix, got dims {:?}",
            t.dims
        )));
    };
    let (r, c) = (usize::try_from(*r), usize::try_from(*c));
    let (Ok(r), Ok(c)) = (r, c) else {
        return Err(invalid(format!("{op} weights too large")));
    };
    Array2::from_shape_vec((r, c), t.data.clone()).map_err(|_| {
        invalid(format!(
            "{op} weights: {} values for a {r}×{c} matrix",
            t.data.len()
        ))
    })
}

pub(super) fn vector(t: &Tensor, n: usize, op: &str) -> CoreResult<Array1<f64>> {
    let ok_dims = t.dims.iter().filter(|&&d| d != 1).count() <= 1;
    match t.data.len() {
        len if len == n && ok_dims => Ok(Array1::from(t.data.clone())),
        1 => Ok(Array1::from_elem(n, t.data[0])),
        len => Err(invalid(format!("{op} bias has {len} values for {n} units"))),
    }
}
