//! The generic horizontal bar chart: one or more panels of labelled bars drawn from
//! zero, each with its own axis, an optional marker per bar. Global importance and
//! coefficients use it today; tree and network importances can feed it the same way.

use super::scale::{self, Linear};
use super::svg::{Anchor, Rect, Svg};
use super::{colours, layout};

/// A chart of one or more stacked panels.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// First line, bold.
    pub title: String,
    /// Second line: provenance (version, rows, method).
    pub subtitle: String,
    /// Panels, drawn top to bottom.
    pub panels: Vec<BarPanel>,
}

/// One panel: bars sharing an axis.
#[derive(Debug, Clone)]
pub struct BarPanel {
    /// Panel heading, empty for none.
    pub heading: String,
    /// What the horizontal axis measures, with its unit.
    pub axis_label: String,
    /// Bars, drawn top to bottom in this order.
    pub bars: Vec<Bar>,
    /// Colour bars by sign (positive and negative differ); otherwise one colour.
    pub by_sign: bool,
    /// Legend text for the markers, when bars carry them.
    pub marker_legend: Option<String>,
}

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Row label (a feature name).
    pub label: String,
    /// Length, from zero, in axis units.
    pub value: f64,
    /// A second value drawn as a tick on the same row.
    pub marker: Option<f64>,
}

/// Render the chart as a standalone SVG document.
///
/// Every bar is a `<rect class="bar">` whose width is exactly
/// `|value| × pixels-per-unit` of its panel, with `data-label` and `data-value`
/// attributes; markers are `<line class="marker">` with `data-value`.
pub fn render(chart: &BarChart) -> String {
    let labels = chart.panels.iter().flat_map(|p| p.bars.iter());
    let label_w = labels
        .map(|b| scale::text_width(&b.label, layout::LABEL_PX))
        .fold(60.0, f64::max);
    let left = layout::MARGIN + label_w + 10.0;
    let plot_w = layout::PLOT_W;
    let width = left + plot_w + layout::VALUE_ROOM + layout::MARGIN;
    let title_w =
        scale::text_width(&chart.title, 15.0).max(scale::text_width(&chart.subtitle, 11.0));
    let width = width.max(title_w + 2.0 * layout::MARGIN);
    let mut y = layout::HEADER;
    let mut parts = Vec::new();
    for panel in &chart.panels {
        parts.push((y, panel));
        y += panel_height(panel);
    }
    let mut svg = Svg::new(width.round(), (y + layout::MARGIN).round());
    layout::header(&mut svg, &chart.title, &chart.subtitle);
    for (top, panel) in parts {
        draw_panel(
            &mut svg,
            panel,
            top,
            left + layout::VALUE_ROOM / 2.0,
            plot_w,
        );
    }
    svg.finish(&chart.title)
}

fn panel_height(panel: &BarPanel) -> f64 {
    let heading = if panel.heading.is_empty() { 0.0 } else { 22.0 };
    let legend = if panel.marker_legend.is_some() {
        18.0
    } else {
        0.0
    };
    heading + legend + panel.bars.len() as f64 * layout::ROW_H + layout::AXIS_H
}

fn draw_panel(svg: &mut Svg, panel: &BarPanel, top: f64, left: f64, plot_w: f64) {
    let mut y = top;
    if !panel.heading.is_empty() {
        svg.text(
            layout::MARGIN,
            y + 15.0,
            Anchor::Start,
            "axis",
            &panel.heading,
        );
        y += 22.0;
    }
    if let Some(legend) = &panel.marker_legend {
        svg.line(
            (left, y + 6.0),
            (left, y + 16.0),
            colours::MARKER,
            r#"stroke-width="2""#,
        );
        svg.text(left + 6.0, y + 15.0, Anchor::Start, "tick", legend);
        y += 18.0;
    }
    let values: Vec<f64> = panel
        .bars
        .iter()
        .flat_map(|b| std::iter::once(b.value).chain(b.marker))
        .collect();
    let sx = Linear::covering(&values, true, left, left + plot_w);
    let rows_h = panel.bars.len() as f64 * layout::ROW_H;
    layout::x_axis(svg, &sx, y, y + rows_h, &panel.axis_label);
    let zero = sx.px(0.0);
    for (i, bar) in panel.bars.iter().enumerate() {
        let row = y + i as f64 * layout::ROW_H;
        let mid = row + layout::ROW_H / 2.0;
        svg.text(
            left - layout::VALUE_ROOM / 2.0 - 10.0,
            mid + 4.0,
            Anchor::End,
            "label",
            &bar.label,
        );
        let len = bar.value.abs() * sx.pixels_per_unit();
        let x = if bar.value < 0.0 { zero - len } else { zero };
        let fill = if panel.by_sign && bar.value < 0.0 {
            colours::NEGATIVE
        } else if panel.by_sign {
            colours::POSITIVE
        } else {
            colours::NEUTRAL
        };
        let rect = Rect {
            x,
            y: row + 4.0,
            width: len,
            height: layout::ROW_H - 8.0,
            fill,
        };
        let attrs = [
            ("class", "bar".to_string()),
            ("data-label", bar.label.clone()),
            ("data-value", format!("{}", bar.value)),
        ];
        let tip = format!("{}: {}", bar.label, scale::label(bar.value));
        svg.rect(rect, &attrs, Some(&tip));
        let (tx, anchor) = if bar.value < 0.0 {
            (x - 4.0, Anchor::End)
        } else {
            (x + len + 4.0, Anchor::Start)
        };
        svg.text(tx, mid + 3.5, anchor, "value", &scale::label(bar.value));
        if let Some(m) = bar.marker {
            let mx = sx.px(m);
            svg.line(
                (mx, row + 1.0),
                (mx, row + layout::ROW_H - 1.0),
                colours::MARKER,
                &format!(r#"stroke-width="2" class="marker" data-value="{m}""#),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(n: usize) -> BarChart {
        BarChart {
            title: "t <&>".into(),
            subtitle: "s".into(),
            panels: vec![BarPanel {
                heading: "h".into(),
                axis_label: "units".into(),
                bars: (0..n)
                    .map(|i| Bar {
                        label: format!("feature_{i}"),
                        value: i as f64 - 3.0,
                        marker: Some(0.5),
                    })
                    .collect(),
                by_sign: true,
                marker_legend: Some("mean".into()),
            }],
        }
    }

    #[test]
    fn bar_widths_are_proportional_to_values_and_rows_do_not_overlap() {
        let svg = render(&chart(20));
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let bars: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("bar"))
            .collect();
        assert_eq!(bars.len(), 20);
        let f = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        // width = |value| × pixels per unit, the same factor for every bar.
        let k = f(&bars[0], "width") / 3.0;
        for (i, b) in bars.iter().enumerate() {
            let v = i as f64 - 3.0;
            assert!((f(b, "width") - v.abs() * k).abs() < 0.02, "bar {i}");
        }
        for pair in bars.windows(2) {
            assert!(f(&pair[0], "y") + f(&pair[0], "height") < f(&pair[1], "y"));
        }
        assert!(svg.contains("t &lt;&amp;&gt;"));
    }

    #[test]
    fn the_same_data_gives_the_same_bytes() {
        assert_eq!(render(&chart(5)), render(&chart(5)));
    }
}
