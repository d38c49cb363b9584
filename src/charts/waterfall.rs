//! The waterfall: how one prediction is reached from the base value (the average
//! prediction over the background), one feature's attribution at a time.
//!
//! Rows are ordered by |attribution|, largest first, and each bar runs from the
//! running total before the feature to the total after it, so the last bar ends
//! at the prediction whenever the attributions add up.

use super::scale::{self, Linear};
use super::svg::{Anchor, Rect, Svg};
use super::{colours, layout};

/// What to draw.
#[derive(Debug, Clone)]
pub struct Waterfall {
    /// First line, bold.
    pub title: String,
    /// Second line: version, method, output space.
    pub subtitle: String,
    /// What the horizontal axis measures (output name and space).
    pub axis_label: String,
    /// Where the walk starts: E[f(X)], the mean prediction over the background.
    pub base_value: f64,
    /// What the base value is, as the chart writes it: `E[f(X)]`, or for a text
    /// `f(no known word)`.
    pub base_name: &'static str,
    /// Where it ends: f(x).
    pub prediction: f64,
    /// One step per feature, in any order.
    pub steps: Vec<Step>,
}

/// One feature's contribution.
#[derive(Debug, Clone)]
pub struct Step {
    /// Feature name.
    pub feature: String,
    /// The instance's value of the feature.
    pub value: f64,
    /// How the row reads.
    pub label: RowLabel,
    /// Its attribution, in axis units.
    pub delta: f64,
}

/// How a step's row is labelled.
#[derive(Debug, Clone, PartialEq)]
pub enum RowLabel {
    /// `feature = value`, the value as a number.
    Value,
    /// `feature = name`: a value that is not a number (a category's name).
    Named(String),
    /// `#k feature`: the feature is a word of a text, `k` its place among the
    /// text's known words (1 = the first).
    Word(usize),
}

/// Render the waterfall as a standalone SVG document.
///
/// Every step is a `<rect class="step">` with `data-feature`, `data-value` and
/// `data-delta`, whose width is `|delta| × pixels-per-unit`.
pub fn render(chart: &Waterfall) -> String {
    let mut steps: Vec<&Step> = chart.steps.iter().collect();
    steps.sort_by(|a, b| b.delta.abs().total_cmp(&a.delta.abs()));
    let row_label = |s: &Step| match &s.label {
        RowLabel::Named(label) => format!("{} = {label}", s.feature),
        RowLabel::Value => format!("{} = {}", s.feature, scale::value(s.value)),
        RowLabel::Word(k) => format!("#{k} {}", s.feature),
    };
    let label_w = steps
        .iter()
        .map(|s| scale::text_width(&row_label(s), layout::LABEL_PX))
        .fold(
            scale::text_width("prediction f(x)", layout::LABEL_PX).max(scale::text_width(
                &format!("base value {}", chart.base_name),
                layout::LABEL_PX,
            )),
            f64::max,
        );
    let left = layout::MARGIN + label_w + 10.0 + layout::VALUE_ROOM / 2.0;
    let plot_w = layout::PLOT_W;
    let title_w =
        scale::text_width(&chart.title, 15.0).max(scale::text_width(&chart.subtitle, 11.0));
    let width = (left + plot_w + layout::VALUE_ROOM / 2.0 + layout::MARGIN)
        .max(title_w + 2.0 * layout::MARGIN);
    let rows = steps.len() + 2;
    let top = layout::HEADER;
    let bottom = top + rows as f64 * layout::ROW_H;
    let mut svg = Svg::new(
        width.round(),
        (bottom + layout::AXIS_H + layout::MARGIN).round(),
    );
    layout::header(&mut svg, &chart.title, &chart.subtitle);

    let mut totals = vec![chart.base_value, chart.prediction];
    let mut running = chart.base_value;
    for s in &steps {
        running += s.delta;
        totals.push(running);
    }
    let sx = Linear::covering(&totals, false, left, left + plot_w);
    layout::x_axis(&mut svg, &sx, top, bottom, &chart.axis_label);
    let label_x = left - layout::VALUE_ROOM / 2.0 - 10.0;

    let base_mid = top + layout::ROW_H / 2.0;
    svg.text(
        label_x,
        base_mid + 4.0,
        Anchor::End,
        "label",
        &format!("base value {}", chart.base_name),
    );
    end_marker(&mut svg, &sx, chart.base_value, top, bottom, "base");

    let mut running = chart.base_value;
    for (i, s) in steps.iter().enumerate() {
        let row = top + (i + 1) as f64 * layout::ROW_H;
        let mid = row + layout::ROW_H / 2.0;
        svg.text(label_x, mid + 4.0, Anchor::End, "label", &row_label(s));
        let (from, to) = (running, running + s.delta);
        let len = s.delta.abs() * sx.pixels_per_unit();
        let x = sx.px(from.min(to));
        let fill = if s.delta < 0.0 {
            colours::NEGATIVE
        } else {
            colours::POSITIVE
        };
        let attrs = [
            ("class", "step".to_string()),
            ("data-feature", s.feature.clone()),
            ("data-value", format!("{}", s.value)),
            ("data-delta", format!("{}", s.delta)),
        ];
        let tip = format!("{}: {}", row_label(s), scale::signed(s.delta));
        let rect = Rect {
            x,
            y: row + 4.0,
            width: len,
            height: layout::ROW_H - 8.0,
            fill,
        };
        svg.rect(rect, &attrs, Some(&tip));
        let (tx, anchor) = if s.delta < 0.0 {
            (x - 4.0, Anchor::End)
        } else {
            (x + len + 4.0, Anchor::Start)
        };
        svg.text(tx, mid + 3.5, anchor, "value", &scale::signed(s.delta));
        running = to;
    }
    let last = top + (rows - 1) as f64 * layout::ROW_H;
    svg.text(
        label_x,
        last + layout::ROW_H / 2.0 + 4.0,
        Anchor::End,
        "label",
        "prediction f(x)",
    );
    end_marker(&mut svg, &sx, chart.prediction, top, bottom, "prediction");
    let px = sx.px(chart.prediction);
    let text = format!("f(x) = {}", scale::label(chart.prediction));
    svg.text(
        px + 4.0,
        last + layout::ROW_H / 2.0 + 3.5,
        Anchor::Start,
        "value",
        &text,
    );
    let bx = sx.px(chart.base_value);
    let text = format!("{} = {}", chart.base_name, scale::label(chart.base_value));
    svg.text(bx + 4.0, base_mid + 3.5, Anchor::Start, "value", &text);
    svg.finish(&chart.title)
}

/// A dashed vertical line through the whole plot at a total.
fn end_marker(svg: &mut Svg, sx: &Linear, v: f64, top: f64, bottom: f64, class: &str) {
    svg.line(
        (sx.px(v), top),
        (sx.px(v), bottom),
        "#555555",
        &format!(r#"stroke-dasharray="4 3" class="{class}" data-value="{v}""#),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_chain_from_the_base_value_to_the_prediction() {
        let chart = Waterfall {
            title: "w".into(),
            subtitle: "s".into(),
            axis_label: "price".into(),
            base_value: 100.0,
            base_name: "E[f(X)]",
            prediction: 130.0,
            steps: vec![
                Step {
                    feature: "a".into(),
                    value: 1.0,
                    label: RowLabel::Value,
                    delta: 50.0,
                },
                Step {
                    feature: "b & c".into(),
                    value: -2.0,
                    label: RowLabel::Value,
                    delta: -20.0,
                },
            ],
        };
        let svg = render(&chart);
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let steps: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("step"))
            .collect();
        assert_eq!(steps.len(), 2);
        let f = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        // Largest first; widths in the ratio of the attributions (50 : 20).
        assert_eq!(steps[0].attribute("data-feature"), Some("a"));
        assert_eq!(steps[1].attribute("data-feature"), Some("b & c"));
        assert!((f(&steps[0], "width") / f(&steps[1], "width") - 2.5).abs() < 1e-3);
        // The second step starts where the first ended minus its own length: the
        // bar for -20 spans [130, 150].
        let end_first = f(&steps[0], "x") + f(&steps[0], "width");
        assert!((end_first - (f(&steps[1], "x") + f(&steps[1], "width"))).abs() < 0.02);
        assert!(svg.contains("b &amp; c = \u{2212}2"));
    }
}
