//! An anchor as a picture: its rule, one condition per row ("IF … AND …"), the
//! answer it keeps ("THEN …"), and two bars on a 0–1 scale: precision (with its
//! lower confidence bound marked) and coverage.

use super::colours;
use super::layout;
use super::scale::{self, Linear};
use super::svg::{Anchor, Rect, Svg};

/// What the picture shows.
#[derive(Debug, Clone)]
pub struct AnchorChart {
    /// First line.
    pub title: String,
    /// Second line (method, samples).
    pub subtitle: String,
    /// The rule's conditions, in feature order (empty: any values).
    pub conditions: Vec<ConditionRow>,
    /// The answer the rule keeps.
    pub answer: String,
    /// Share of perturbed rows with the same answer.
    pub precision: f64,
    /// Its lower confidence bound.
    pub lower_bound: f64,
    /// Whether the bound reached what was asked.
    pub precision_met: bool,
    /// Share of background rows that meet the rule.
    pub coverage: f64,
}

/// One condition.
#[derive(Debug, Clone)]
pub struct ConditionRow {
    /// The feature's name.
    pub feature: String,
    /// The condition as text.
    pub text: String,
    /// The instance's own value, as text.
    pub value: String,
}

/// Width of the bars' scale.
const BAR_W: f64 = 300.0;

/// Render the anchor as a standalone SVG document. Each condition is a
/// `<rect class="condition">` with `data-feature`; the bars are
/// `<rect class="precision">` and `<rect class="coverage">` with `data-value`.
pub fn render(chart: &AnchorChart) -> String {
    let lines: Vec<String> = if chart.conditions.is_empty() {
        vec!["IF any values".to_string()]
    } else {
        chart
            .conditions
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} {}", if i == 0 { "IF" } else { "AND" }, c.text))
            .collect()
    };
    let then = format!("THEN {}", chart.answer);
    let text_w = lines
        .iter()
        .chain(std::iter::once(&then))
        .map(|l| scale::text_width(l, 13.0))
        .fold(0.0, f64::max);
    let value_w = chart
        .conditions
        .iter()
        .map(|c| scale::text_width(&format!("(this instance: {})", c.value), layout::LABEL_PX))
        .fold(0.0, f64::max);
    let title_w =
        scale::text_width(&chart.title, 15.0).max(scale::text_width(&chart.subtitle, 11.0));
    let rule_w = text_w + 24.0 + value_w;
    let bars_w = 90.0 + BAR_W + layout::VALUE_ROOM;
    let width = (rule_w.max(bars_w).max(title_w) + 2.0 * layout::MARGIN).round();
    let row_h = layout::ROW_H + 4.0;
    let top = layout::HEADER;
    let rule_bottom = top + (lines.len() + 1) as f64 * row_h;
    let bars_top = rule_bottom + 16.0;
    let bottom = bars_top + 2.0 * layout::ROW_H;
    let mut svg = Svg::new(width, (bottom + layout::AXIS_H + layout::MARGIN).round());
    layout::header(&mut svg, &chart.title, &chart.subtitle);

    let x = layout::MARGIN;
    for (i, line) in lines.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let condition = chart.conditions.get(i);
        let attrs: Vec<(&str, String)> = match condition {
            Some(c) => vec![
                ("class", "condition".into()),
                ("data-feature", c.feature.clone()),
            ],
            None => vec![("class", "any".into())],
        };
        let rect = Rect {
            x,
            y: y + 2.0,
            width: text_w + 16.0,
            height: row_h - 6.0,
            fill: "#eef3f8",
        };
        svg.rect(rect, &attrs, Some(line));
        let at = (x + 8.0, y + row_h / 2.0 + 4.0);
        svg.text_with(at, "label", &[("font-size", "13px".into())], line);
        if let Some(c) = condition {
            let note = format!("(this instance: {})", c.value);
            svg.text(
                x + text_w + 24.0,
                y + row_h / 2.0 + 4.0,
                Anchor::Start,
                "note",
                &note,
            );
        }
    }
    let y = top + lines.len() as f64 * row_h;
    let rect = Rect {
        x,
        y: y + 2.0,
        width: text_w + 16.0,
        height: row_h - 6.0,
        fill: "#fdeaf0",
    };
    svg.rect(rect, &[("class", "answer".into())], Some(&then));
    let at = (x + 8.0, y + row_h / 2.0 + 4.0);
    svg.text_with(at, "label", &[("font-weight", "bold".into())], &then);

    let left = layout::MARGIN + 90.0;
    let sx = Linear::covering(&[0.0, 1.0], true, left, left + BAR_W);
    layout::x_axis(&mut svg, &sx, bars_top, bottom, "share (0 to 1)");
    let bar = |svg: &mut Svg, row: usize, class: &str, label: &str, v: f64, fill: &str| {
        let y = bars_top + row as f64 * layout::ROW_H;
        svg.text(
            left - 8.0,
            y + layout::ROW_H / 2.0 + 4.0,
            Anchor::End,
            "label",
            label,
        );
        let attrs = [("class", class.to_string()), ("data-value", format!("{v}"))];
        let rect = Rect {
            x: left,
            y: y + 4.0,
            width: sx.px(v) - left,
            height: layout::ROW_H - 8.0,
            fill,
        };
        svg.rect(rect, &attrs, Some(&format!("{label}: {}", scale::label(v))));
        svg.text(
            sx.px(v) + 4.0,
            y + layout::ROW_H / 2.0 + 3.5,
            Anchor::Start,
            "value",
            &scale::label(v),
        );
    };
    let fill = if chart.precision_met {
        colours::NEUTRAL
    } else {
        "#999999"
    };
    bar(&mut svg, 0, "precision", "precision", chart.precision, fill);
    bar(
        &mut svg,
        1,
        "coverage",
        "coverage",
        chart.coverage,
        colours::NEUTRAL,
    );
    let lb = sx.px(chart.lower_bound);
    svg.line(
        (lb, bars_top + 2.0),
        (lb, bars_top + layout::ROW_H - 2.0),
        colours::MARKER,
        &format!(
            r#"stroke-width="2" class="lower-bound" data-value="{}""#,
            chart.lower_bound
        ),
    );
    svg.finish(&chart.title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_bars_carry_their_values() {
        let chart = AnchorChart {
            title: "Anchor".into(),
            subtitle: "s".into(),
            conditions: vec![ConditionRow {
                feature: "a & b".into(),
                text: "a & b > 2".into(),
                value: "3".into(),
            }],
            answer: "yes".into(),
            precision: 0.98,
            lower_bound: 0.96,
            precision_met: true,
            coverage: 0.25,
        };
        let svg = render(&chart);
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let find = |class: &str| {
            doc.descendants()
                .find(|n| n.attribute("class") == Some(class))
                .unwrap()
        };
        assert_eq!(find("condition").attribute("data-feature"), Some("a & b"));
        let width = |class: &str| {
            find(class)
                .attribute("width")
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        // Bar widths in the ratio of the shares.
        approx::assert_abs_diff_eq!(
            width("precision") / width("coverage"),
            0.98 / 0.25,
            epsilon = 0.01
        );
        assert!(svg.contains("IF a &amp; b &gt; 2") && svg.contains("THEN yes"));
    }
}
