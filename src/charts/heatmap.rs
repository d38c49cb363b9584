//! The generic heat map: a matrix of values on a diverging colour scale centred at
//! zero (blue below, white at zero, red above), rows and columns labelled, with a
//! colour legend. Made for neural-network weight matrices (units × inputs) and
//! multi-output coefficient tables.

use super::layout;
use super::scale;
use super::svg::{num, Anchor, Rect, Svg};

/// What to draw.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// First line, bold.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// One label per row, top to bottom.
    pub row_labels: Vec<String>,
    /// One label per column, left to right.
    pub col_labels: Vec<String>,
    /// What the rows are (axis title on the left).
    pub row_title: String,
    /// What the columns are (axis title on top).
    pub col_title: String,
    /// What the colours measure, with the unit (legend title).
    pub value_label: String,
    /// `values[r][c]`; rows must match `row_labels`, columns `col_labels`.
    pub values: Vec<Vec<f64>>,
}

/// Side of one cell in pixels.
const CELL: f64 = 26.0;

/// The colour of `v` on a scale running from `-max_abs` (blue) through 0 (white)
/// to `max_abs` (red), as `#rrggbb`. Non-finite values are grey.
pub fn diverging(v: f64, max_abs: f64) -> String {
    if !v.is_finite() {
        return "#bbbbbb".into();
    }
    let t = if max_abs > 0.0 {
        (v / max_abs).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, t) = if t < 0.0 {
        ((33, 102, 172), -t)
    } else {
        ((178, 24, 43), t)
    };
    let mix = |e: u8| (255.0 + (f64::from(e) - 255.0) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(end.0), mix(end.1), mix(end.2))
}

/// Render the heat map as a standalone SVG document.
///
/// Every cell is a `<rect class="cell">` with `data-row`, `data-col` and
/// `data-value`.
pub fn render(map: &Heatmap) -> String {
    let row_w = map
        .row_labels
        .iter()
        .map(|l| scale::text_width(l, layout::LABEL_PX))
        .fold(30.0, f64::max);
    let col_h = map
        .col_labels
        .iter()
        .map(|l| scale::text_width(l, layout::LABEL_PX))
        .fold(30.0, f64::max);
    let max_abs = map
        .values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let left = layout::MARGIN + 20.0 + row_w + 8.0;
    let top = layout::HEADER + 20.0 + col_h + 8.0;
    let grid_w = map.col_labels.len() as f64 * CELL;
    let grid_h = map.row_labels.len() as f64 * CELL;
    let legend_top = top + grid_h + 20.0;
    let title_w = scale::text_width(&map.title, 15.0).max(scale::text_width(&map.subtitle, 11.0));
    let width = (left + grid_w.max(220.0) + layout::MARGIN).max(title_w + 2.0 * layout::MARGIN);
    let mut svg = Svg::new(width.round(), (legend_top + 60.0 + layout::MARGIN).round());
    layout::header(&mut svg, &map.title, &map.subtitle);

    svg.text(
        left + grid_w / 2.0,
        layout::HEADER + 14.0,
        Anchor::Middle,
        "axis",
        &map.col_title,
    );
    for (c, label) in map.col_labels.iter().enumerate() {
        let x = left + (c as f64 + 0.5) * CELL + 4.0;
        svg.text_rotated((x, top - 6.0), -90.0, Anchor::Start, label);
    }
    let mid_y = top + grid_h / 2.0;
    svg.text_rotated(
        (layout::MARGIN + 12.0, mid_y),
        -90.0,
        Anchor::Middle,
        &map.row_title,
    );
    for (r, label) in map.row_labels.iter().enumerate() {
        let y = top + (r as f64 + 0.5) * CELL + 4.0;
        svg.text(left - 6.0, y, Anchor::End, "label", label);
        for (c, col) in map.col_labels.iter().enumerate() {
            let v = map
                .values
                .get(r)
                .and_then(|row| row.get(c))
                .copied()
                .unwrap_or(f64::NAN);
            let fill = diverging(v, max_abs);
            let rect = Rect {
                x: left + c as f64 * CELL,
                y: top + r as f64 * CELL,
                width: CELL - 1.0,
                height: CELL - 1.0,
                fill: &fill,
            };
            let attrs = [
                ("class", "cell".to_string()),
                ("data-row", label.clone()),
                ("data-col", col.clone()),
                ("data-value", format!("{v}")),
            ];
            svg.rect(
                rect,
                &attrs,
                Some(&format!("{label} × {col}: {}", scale::label(v))),
            );
        }
    }
    legend(&mut svg, left, legend_top, max_abs, &map.value_label);
    svg.finish(&map.title)
}

/// A 200-pixel gradient bar from −max to +max with its three values, `title`
/// under it; 60 pixels tall. Shared with the kernel grid, which uses the same scale.
pub(crate) fn legend(svg: &mut Svg, left: f64, top: f64, max_abs: f64, title: &str) {
    let stops: String = [-1.0, -0.5, 0.0, 0.5, 1.0]
        .iter()
        .map(|t| {
            format!(
                r#"<stop offset="{}" stop-color="{}"/>"#,
                num((t + 1.0) / 2.0),
                diverging(*t, 1.0)
            )
        })
        .collect();
    svg.raw(&format!(
        r#"<defs><linearGradient id="diverging" x1="0" x2="1" y1="0" y2="0">{stops}</linearGradient></defs>"#
    ));
    svg.raw(&format!(
        r##"<rect x="{}" y="{}" width="200" height="10" fill="url(#diverging)" stroke="#999999" stroke-width="0.5" class="legend"/>"##,
        num(left),
        num(top)
    ));
    let y = top + 23.0;
    svg.text(left, y, Anchor::Start, "tick", &scale::label(-max_abs));
    svg.text(left + 100.0, y, Anchor::Middle, "tick", "0");
    svg.text(left + 200.0, y, Anchor::End, "tick", &scale::label(max_abs));
    svg.text(left + 100.0, y + 17.0, Anchor::Middle, "axis", title);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_scale_diverges_at_zero() {
        assert_eq!(diverging(0.0, 3.0), "#ffffff");
        assert_eq!(diverging(3.0, 3.0), "#b2182b");
        assert_eq!(diverging(-3.0, 3.0), "#2166ac");
        assert_eq!(diverging(-9.0, 3.0), "#2166ac", "clamped");
        // Equal magnitudes get equal intensity on either side.
        let (pos, neg) = (diverging(1.5, 3.0), diverging(-1.5, 3.0));
        assert_ne!(pos, neg);
        assert_eq!(diverging(f64::NAN, 1.0), "#bbbbbb");
    }

    #[test]
    fn a_layer_renders_as_labelled_valid_svg() {
        let map = Heatmap {
            title: "layer 1".into(),
            subtitle: "weights".into(),
            row_labels: (0..4).map(|i| format!("unit {i}")).collect(),
            col_labels: vec!["x<1>".into(), "lotsize".into(), "bedrooms".into()],
            row_title: "hidden units".into(),
            col_title: "inputs".into(),
            value_label: "weight".into(),
            values: (0..4)
                .map(|r| {
                    (0..3)
                        .map(|c| (r as f64 - 1.5) * (c as f64 + 1.0))
                        .collect()
                })
                .collect(),
        };
        let svg = render(&map);
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let cells: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("cell"))
            .collect();
        assert_eq!(cells.len(), 12);
        let hottest = cells
            .iter()
            .find(|n| n.attribute("data-value") == Some("4.5"))
            .unwrap();
        assert_eq!(hottest.attribute("fill"), Some("#b2182b"));
        assert_eq!(hottest.attribute("data-col"), Some("bedrooms"));
        let texts: Vec<_> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"x<1>") && texts.contains(&"hidden units"));
        assert_eq!(svg, render(&map), "deterministic");
    }
}
