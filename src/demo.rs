//! The worked example: a least-squares regression of house prices, fitted at start
//! from the data embedded in the binary, so a fresh machine needs no set-up.
//!
//! Data: sale prices of 546 houses in Windsor, Ontario, 1987 (Anglin and Gençay
//! 1996, Journal of Applied Econometrics 11, 633-648; `HousePrices` in R's AER
//! package). See `data/README.md`.

use ndarray::Array2;

use crate::core::models::linear::fit_least_squares;
use crate::core::{CoreError, CoreResult};
use crate::spec::values::RawValue;
use crate::spec::ModelSpec;

/// Name the demo model is registered under.
pub const NAME: &str = "house-prices";

/// The CSV, embedded at compile time.
pub const CSV: &str = include_str!("../data/house_prices.csv");

/// A parsed numeric CSV: header names and rows.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names from the header line.
    pub columns: Vec<String>,
    /// One vector per data line, in column order.
    pub rows: Vec<Vec<f64>>,
}

/// Parse a headed, comma-separated file of numbers.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the line that is not numeric or has the
/// wrong number of fields.
pub fn parse_csv(text: &str) -> CoreResult<Table> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .ok_or_else(|| CoreError::InvalidArgument("empty CSV".into()))?;
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let row: Result<Vec<f64>, _> = line.split(',').map(|v| v.trim().parse::<f64>()).collect();
        let row = row.map_err(|e| CoreError::InvalidArgument(format!("line {}: {e}", i + 2)))?;
        if row.len() != columns.len() {
            return Err(CoreError::InvalidArgument(format!(
                "line {}: {} fields, header has {}",
                i + 2,
                row.len(),
                columns.len()
            )));
        }
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// Fit the house-price model and describe it as a registration document, with the
/// training rows as its background.
///
/// # Errors
/// Only if the embedded data were broken.
pub fn house_prices_spec() -> CoreResult<ModelSpec> {
    let table = parse_csv(CSV)?;
    let target = 0; // the first column, "price"
    let feature_names: Vec<String> = table.columns[1..].to_vec();
    let features: Vec<Vec<f64>> = table.rows.iter().map(|r| r[1..].to_vec()).collect();
    let y: Vec<f64> = table.rows.iter().map(|r| r[target]).collect();
    let x = Array2::from_shape_vec(
        (features.len(), feature_names.len()),
        features.iter().flatten().copied().collect(),
    )
    .map_err(|e| CoreError::InvalidArgument(e.to_string()))?;
    let (coefficients, intercept) = fit_least_squares(x.view(), &y)?;
    Ok(ModelSpec {
        kind: "linear".into(),
        feature_names,
        output_names: Some(vec![table.columns[target].clone()]),
        model: None,
        params: serde_json::json!({
            "coefficients": coefficients.to_vec(),
            "intercept": intercept,
        }),
        background: Some(
            features
                .into_iter()
                .map(|r| r.into_iter().map(RawValue::Number).collect())
                .collect(),
        ),
        description: Some(
            "Least-squares regression of sale price (CAD) on lot size, rooms and location; \
             Windsor, Ontario, 1987 (Anglin and Gencay 1996)"
                .into(),
        ),
        groups: None,
        background_summary: None,
    })
}
