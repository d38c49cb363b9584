//! The pictures the service serves, built from the same values its JSON routes
//! answer with: a [`GlobalSummary`] for importance, a [`WeightsView`] for
//! coefficients, an explanation for the waterfall, a [`DependenceView`] for partial
//! dependence. Each maps its data onto one of the generic charts and leaves all
//! drawing to them.

use super::bars::{self, Bar, BarChart, BarPanel};
use super::curves::{self, CurveChart, CurvePanel, Note};
use super::scale;
use crate::analysis::DependenceView;
use crate::summary::{GlobalSummary, WeightsView};

mod explanations;

pub use explanations::{
    category_label, explanation, text_explanation, Explained, ExplainedRow, ExplainedText,
};

/// How coefficients are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoefficientScale {
    /// As fitted: change of the output per unit of the feature.
    Raw,
    /// Times the feature's background standard deviation: change of the output per
    /// standard deviation, comparable across features.
    Standardized,
}

/// Why a picture cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The model has no parameters of the kind the picture shows.
    #[error("{0}")]
    NotApplicable(String),
}

/// The unit of a model's raw output, for axis titles.
fn raw_unit(kind: &str, output: &str) -> String {
    match kind {
        "logistic" => format!("log-odds of {output}"),
        _ => output.to_string(),
    }
}

/// What an output is measured in, for an axis: its probability in `probability`
/// space, else its raw unit.
fn output_unit(output_space: &str, kind: &str, output: &str) -> String {
    match output_space {
        "probability" => format!("probability of {output}"),
        _ => raw_unit(kind, output),
    }
}

/// Global importance: one bar per feature (mean |attribution| over the background),
/// most important first, the signed mean attribution as a marker; at most `top`
/// features when given.
pub fn global_importance(summary: &GlobalSummary, top: Option<usize>) -> String {
    let n = summary.features.len();
    let shown = top.unwrap_or(n).min(n);
    let unit = match summary.outputs.as_slice() {
        [one] => raw_unit(&summary.kind, one),
        _ => format!(
            "{}, averaged over {} outputs",
            raw_unit(&summary.kind, "each class"),
            summary.outputs.len()
        ),
    };
    let which = if shown < n {
        format!("top {shown} of {n} features")
    } else {
        format!("{n} features")
    };
    let chart = BarChart {
        title: format!("Global importance: {} v{}", summary.model, summary.version),
        subtitle: format!(
            "mean |attribution| ({}) over {} background rows; {which}",
            summary.method, summary.rows
        ),
        panels: vec![BarPanel {
            heading: String::new(),
            axis_label: format!("mean |attribution| ({unit})"),
            bars: summary.features[..shown]
                .iter()
                .map(|f| Bar {
                    label: f.name.clone(),
                    value: f.importance,
                    marker: Some(f.mean_attribution),
                })
                .collect(),
            by_sign: false,
            marker_legend: Some("mean attribution (signed)".into()),
        }],
    };
    bars::render(&chart)
}

/// Coefficients of a linear or logistic model, one panel per output (or only
/// `output`), in feature order.
///
/// # Errors
/// [`ViewError::NotApplicable`] for models without coefficients, or standardized
/// coefficients of a model without background statistics.
pub fn coefficients(
    weights: &WeightsView,
    scale: CoefficientScale,
    output: Option<usize>,
) -> Result<String, ViewError> {
    let linear = weights.linear.as_ref().ok_or_else(|| {
        ViewError::NotApplicable(format!(
            "a {} model has no coefficients to draw",
            weights.kind
        ))
    })?;
    let stds: Vec<f64> = match scale {
        CoefficientScale::Raw => vec![1.0; weights.feature_names.len()],
        CoefficientScale::Standardized => {
            let background = weights.background.as_ref().ok_or_else(|| {
                ViewError::NotApplicable(
                    "standardized coefficients need the background's standard deviations, \
                     and this model has no background; use scale=raw"
                        .into(),
                )
            })?;
            background
                .features
                .iter()
                .map(|f| f.std.unwrap_or(f64::NAN))
                .collect()
        }
    };
    let outputs: Vec<usize> = match output {
        Some(k) => vec![k],
        None => (0..weights.output_names.len()).collect(),
    };
    let panels = outputs
        .into_iter()
        .map(|k| {
            let name = &weights.output_names[k];
            let unit = raw_unit(&weights.kind, name);
            let axis_label = match scale {
                CoefficientScale::Raw => format!("coefficient ({unit} per unit of the feature)"),
                CoefficientScale::Standardized => {
                    format!("coefficient × std ({unit} per standard deviation)")
                }
            };
            BarPanel {
                heading: format!(
                    "output: {name} (intercept {})",
                    scale::label(linear.intercepts[k])
                ),
                axis_label,
                bars: linear
                    .coefficients
                    .iter()
                    .zip(&stds)
                    .map(|(c, s)| Bar {
                        label: c.feature.clone(),
                        value: c.values[k] * s,
                        marker: None,
                    })
                    .collect(),
                by_sign: true,
                marker_legend: None,
            }
        })
        .collect();
    let what = match scale {
        CoefficientScale::Raw => "raw",
        CoefficientScale::Standardized => "standardized",
    };
    let chart = BarChart {
        title: format!("Coefficients: {} v{}", weights.model, weights.version),
        subtitle: format!(
            "{} model; {what} coefficients, in feature order",
            weights.kind
        ),
        panels,
    };
    Ok(bars::render(&chart))
}

/// A tree ensemble's own importance, two panels: total gain and number of splits
/// per feature, most important (by gain) first.
///
/// `splits[j]` and `gains[j]` belong to `weights.feature_names[j]`.
pub fn tree_importance(weights: &WeightsView, splits: &[usize], gains: &[f64]) -> String {
    let mut order: Vec<usize> = (0..weights.feature_names.len()).collect();
    order.sort_by(|&a, &b| {
        gains[b]
            .total_cmp(&gains[a])
            .then(splits[b].cmp(&splits[a]))
    });
    let panel = |heading: &str, axis_label: &str, value: &dyn Fn(usize) -> f64| BarPanel {
        heading: heading.to_string(),
        axis_label: axis_label.to_string(),
        bars: order
            .iter()
            .map(|&j| Bar {
                label: weights.feature_names[j].clone(),
                value: value(j),
                marker: None,
            })
            .collect(),
        by_sign: false,
        marker_legend: None,
    };
    let trees = weights.trees.as_ref().map_or(0, |t| t.total);
    bars::render(&BarChart {
        title: format!("{} v{}: split importance", weights.model, weights.version),
        subtitle: format!(
            "{} model, {trees} trees; the library's own statistics",
            weights.kind
        ),
        panels: vec![
            panel(
                "gain",
                "total loss reduction of the feature's splits",
                &|j| gains[j],
            ),
            panel("split count", "number of splits on the feature", &|j| {
                splits[j] as f64
            }),
        ],
    })
}

/// A CatBoost model's own importance, PredictionValuesChange in percent of the
/// total per feature, most important first: what its JSON document allows (it
/// stores no split gains).
///
/// `change[j]` belongs to `weights.feature_names[j]`.
pub fn catboost_importance(weights: &WeightsView, change: &[f64]) -> String {
    let mut order: Vec<usize> = (0..weights.feature_names.len()).collect();
    order.sort_by(|&a, &b| change[b].total_cmp(&change[a]));
    let trees = weights.trees.as_ref().map_or(0, |t| t.total);
    bars::render(&BarChart {
        title: format!(
            "{} v{}: PredictionValuesChange",
            weights.model, weights.version
        ),
        subtitle: format!(
            "{} model, {trees} trees; CatBoost's default importance, from the leaf values \
             and weights (the document stores no split gains)",
            weights.kind
        ),
        panels: vec![BarPanel {
            heading: "prediction values change".to_string(),
            axis_label: "percent of the total".to_string(),
            bars: order
                .iter()
                .map(|&j| Bar {
                    label: weights.feature_names[j].clone(),
                    value: change[j],
                    marker: None,
                })
                .collect(),
            by_sign: false,
            marker_legend: None,
        }],
    })
}

/// Partial dependence of one feature, one panel per output: the partial
/// dependence bold (with a dot at each grid value) over the thin ICE curves it
/// averages, the grid as a rug along the x axis. `kind` is the model's, for the
/// unit of raw outputs.
pub fn dependence(view: &DependenceView, kind: &str) -> String {
    let head = &view.head;
    let feature = &view.feature;
    let rows = match &head.dataset {
        Some(d) => format!("{} rows of data set '{d}'", head.rows),
        None => format!("{} background rows", head.rows),
    };
    let points = view.grid.len();
    let panels = view
        .outputs
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let unit = output_unit(&view.output_space, kind, &o.output);
            CurvePanel {
                heading: format!("output: {}", o.output),
                // The legend is the same for every output: said once, on top.
                notes: if k > 0 {
                    Vec::new()
                } else {
                    vec![
                        Note {
                            text: format!(
                                "bold: partial dependence, the mean prediction over the {} rows",
                                head.rows
                            ),
                            attrs: vec![("data-rows", head.rows.to_string())],
                        },
                        Note {
                            text: format!(
                                "thin: {} ICE curves, each one row with only {feature} changed",
                                o.ice.len()
                            ),
                            attrs: vec![("data-ice", o.ice.len().to_string())],
                        },
                        Note {
                            text: match points {
                                1 => format!(
                                    "{feature} has one value in the data: the tick along the \
                                     bottom, nothing to vary"
                                ),
                                _ if view.categories.is_some() => {
                                    format!("{feature}: each of its {points} categories")
                                }
                                _ => format!("ticks along the bottom: the {points} grid values"),
                            },
                            attrs: vec![("data-grid", points.to_string())],
                        },
                    ]
                },
                x_label: format!("{feature} (the value every row is set to)"),
                y_label: format!("prediction ({unit})"),
                x: view.grid.clone(),
                y: o.average.clone(),
                edges: Vec::new(),
                counts: Vec::new(),
                marks: Vec::new(),
                thin: o.ice.clone(),
                rug: view.grid.clone(),
                dots: true,
                x_names: view.categories.clone().unwrap_or_default(),
            }
        })
        .collect();
    curves::render(&CurveChart {
        title: format!(
            "Partial dependence: {} v{}, feature {feature}",
            head.model, head.version
        ),
        subtitle: format!(
            "{rows}, {feature} set to each of {points} grid value{}; {} space",
            if points == 1 { "" } else { "s" },
            view.output_space
        ),
        panels,
    })
}
