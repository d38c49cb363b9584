//! A counterfactual as a picture: the instance beside the changed instance, one row
//! per feature, the changed features highlighted, with the prediction before and
//! after and the cost in the subtitle.

use super::layout::{header, LABEL_PX, MARGIN, ROW_H};
use super::scale::text_width;
use super::svg::{Anchor, Rect, Svg};

/// Tint behind a changed feature's row.
const CHANGED_FILL: &str = "#ffe3ec";

/// What the picture shows, already formatted by the caller.
#[derive(Debug, Clone)]
pub struct CounterfactualView<'a> {
    /// Model name.
    pub model: &'a str,
    /// Model version.
    pub version: u64,
    /// The solver's name.
    pub method: &'a str,
    /// One per feature.
    pub feature_names: &'a [String],
    /// The instance's values, one per feature.
    pub instance: &'a [String],
    /// The counterfactual's values, one per feature; `None` when none was found.
    pub counterfactual: Option<&'a [String]>,
    /// The prediction on the instance and on the counterfactual.
    pub predictions: (&'a str, &'a str),
    /// The counterfactual's cost.
    pub cost: f64,
    /// Whether the cost is proved minimal.
    pub optimal: bool,
}

/// The SVG document.
pub fn counterfactual(v: &CounterfactualView<'_>) -> String {
    let rows = v.feature_names.len();
    let label_w = column_width(v.feature_names, "feature");
    let value_w = column_width(v.instance, "instance").max(
        v.counterfactual
            .map_or(0.0, |c| column_width(c, "counterfactual")),
    );
    let top = super::layout::HEADER + ROW_H;
    let title = format!("What would change the answer: {} v{}", v.model, v.version);
    let subtitle = match v.counterfactual {
        Some(_) => format!(
            "prediction {} → {}; cost {} ({}); {}",
            v.predictions.0,
            v.predictions.1,
            short(v.cost),
            if v.optimal {
                "proved minimal"
            } else {
                "not proved minimal"
            },
            v.method
        ),
        None => format!(
            "prediction {}: no counterfactual within the constraints; {}",
            v.predictions.0, v.method
        ),
    };
    let width = (2.0 * MARGIN + label_w + 2.0 * value_w + 24.0)
        .max(2.0 * MARGIN + text_width(&title, 15.0))
        .max(2.0 * MARGIN + text_width(&subtitle, LABEL_PX))
        .max(420.0);
    let height = top + ROW_H * rows as f64 + MARGIN + 18.0;
    let mut svg = Svg::new(width, height);
    header(&mut svg, &title, &subtitle);
    let x_label = MARGIN;
    let x_instance = MARGIN + label_w + 12.0;
    let x_cf = x_instance + value_w + 12.0;
    let head_y = top - 8.0;
    svg.text(x_label, head_y, Anchor::Start, "axis", "feature");
    svg.text(x_instance, head_y, Anchor::Start, "axis", "instance");
    if v.counterfactual.is_some() {
        svg.text(x_cf, head_y, Anchor::Start, "axis", "counterfactual");
    }
    for j in 0..rows {
        let y = top + ROW_H * j as f64;
        let after = v.counterfactual.map(|c| c[j].as_str());
        let changed = after.is_some_and(|a| a != v.instance[j]);
        if changed {
            svg.rect(
                Rect {
                    x: MARGIN - 4.0,
                    y: y + 2.0,
                    width: width - 2.0 * MARGIN + 8.0,
                    height: ROW_H - 4.0,
                    fill: CHANGED_FILL,
                },
                &[("data-changed", v.feature_names[j].clone())],
                Some(&format!(
                    "{}: {} → {}",
                    v.feature_names[j],
                    v.instance[j],
                    after.unwrap_or("")
                )),
            );
        }
        let base = y + ROW_H / 2.0 + 4.0;
        svg.text(x_label, base, Anchor::Start, "label", &v.feature_names[j]);
        svg.text(x_instance, base, Anchor::Start, "label", &v.instance[j]);
        if let Some(a) = after {
            let class = if changed { "title" } else { "label" };
            svg.text(x_cf, base, Anchor::Start, class, a);
        }
    }
    svg.text(
        MARGIN,
        height - MARGIN,
        Anchor::Start,
        "tick",
        "highlighted: the features the counterfactual changes",
    );
    svg.finish(&title)
}

fn column_width(values: &[String], head: &str) -> f64 {
    values
        .iter()
        .map(|s| text_width(s, LABEL_PX))
        .fold(text_width(head, LABEL_PX), f64::max)
}

/// A number with four decimals at most, trailing zeros dropped.
fn short(v: f64) -> String {
    format!("{:.4}", v)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_rows_are_highlighted_and_unchanged_ones_are_not() {
        let names = vec!["age".to_string(), "income".to_string()];
        let before = vec!["40".to_string(), "30000".to_string()];
        let after = vec!["40".to_string(), "42000".to_string()];
        let svg = counterfactual(&CounterfactualView {
            model: "loans",
            version: 2,
            method: "linear_exact",
            feature_names: &names,
            instance: &before,
            counterfactual: Some(&after),
            predictions: ("0.31", "0.5"),
            cost: 1.25,
            optimal: true,
        });
        assert_eq!(svg.matches("data-changed").count(), 1);
        assert!(svg.contains(r#"data-changed="income""#));
        assert!(svg.contains("proved minimal"));
        assert!(svg.contains("0.31 → 0.5"));
    }
}
