//! A function drawn over a data range with the density of the data shaded behind
//! it: one panel per curve. Made for a network layer's activation function over the
//! pre-activations it really sees, so the reader can tell whether a ReLU works in
//! its linear part or is mostly off, whether a sigmoid or tanh sits in its flat tails.
//!
//! A panel may also carry thin companion curves under the main one and a rug of
//! ticks along its bottom edge: a partial dependence curve over the ICE curves it
//! averages, with the grid it was computed on.

use super::scale::{self, Linear};
use super::svg::{num, Anchor, Rect, Svg};
use super::{colours, layout};

/// A chart of stacked panels.
#[derive(Debug, Clone)]
pub struct CurveChart {
    /// First line, bold.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// Panels, top to bottom.
    pub panels: Vec<CurvePanel>,
}

/// One curve with its data's histogram.
#[derive(Debug, Clone)]
pub struct CurvePanel {
    /// Heading above the panel.
    pub heading: String,
    /// Legend lines under the heading; each may carry (name, value) attributes for
    /// the number it states (`class="note"`).
    pub notes: Vec<Note>,
    /// Horizontal axis title.
    pub x_label: String,
    /// Vertical axis title.
    pub y_label: String,
    /// Curve abscissae, ascending; the first and last are the plotted x range.
    pub x: Vec<f64>,
    /// Curve ordinates, one per `x`.
    pub y: Vec<f64>,
    /// Histogram bin edges over the same range, one more than `counts`.
    pub edges: Vec<f64>,
    /// Values per bin.
    pub counts: Vec<usize>,
    /// x positions worth marking with a dashed line (a ReLU's kink, saturation
    /// thresholds); those outside the range are left out.
    pub marks: Vec<f64>,
    /// Thin curves drawn under the main one, each with one ordinate per `x` (the
    /// ICE curves a partial dependence averages). The y axis covers them too.
    pub thin: Vec<Vec<f64>>,
    /// x positions ticked along the bottom edge of the plot (a rug: the grid the
    /// curve was computed on); those outside the range are left out.
    pub rug: Vec<f64>,
    /// Whether each point of the main curve gets a dot: for curves computed at a
    /// few points, where the line between them is only a guide.
    pub dots: bool,
    /// Names of the `x` values when they stand for categories (one per `x`): the
    /// axis then labels each by name instead of numeric ticks. Empty for numbers.
    pub x_names: Vec<String>,
}

/// One legend line.
#[derive(Debug, Clone)]
pub struct Note {
    /// The sentence.
    pub text: String,
    /// Attributes carrying its numbers, e.g. `("data-count", "2")`.
    pub attrs: Vec<(&'static str, String)>,
}

/// Height of a plot area.
const PLOT_H: f64 = 170.0;
/// Room left of the plot for tick labels and the vertical axis title.
const Y_AXIS_W: f64 = 64.0;
/// Height of one legend line.
const NOTE_H: f64 = 16.0;
/// Fill of the density bars.
const DENSITY: &str = "#c6dbef";
/// Stroke of the thin curves: light enough for the main curve to stand out over
/// a hundred of them.
const THIN: &str = "#7a9cc6";
/// Length of a rug tick.
const RUG_H: f64 = 7.0;

/// Render the chart as a standalone SVG document.
///
/// Per panel: a `<rect class="plot">` bounding the plot area with `data-x-min`,
/// `data-x-max`, `data-y-min`, `data-y-max` (the data values at its edges, so a
/// pixel maps back to data); the histogram as `<rect class="density">` with
/// `data-count`, heights `count / max count × plot height`; the thin curves as
/// `<polyline class="thin">`, then the curve as one `<polyline class="curve">`
/// (dots on it as `<circle class="point">` with `data-x` and `data-y`); the rug as
/// `<line class="rug">` with `data-x`.
pub fn render(chart: &CurveChart) -> String {
    let left = layout::MARGIN + Y_AXIS_W;
    let title_w =
        scale::text_width(&chart.title, 15.0).max(scale::text_width(&chart.subtitle, 11.0));
    let notes_w = chart
        .panels
        .iter()
        .flat_map(|p| p.notes.iter())
        .map(|n| layout::MARGIN + scale::text_width(&n.text, 11.0))
        .fold(0.0, f64::max);
    let width = (left + layout::PLOT_W + 2.0 * layout::MARGIN)
        .max(title_w + 2.0 * layout::MARGIN)
        .max(notes_w + layout::MARGIN);
    let mut y = layout::HEADER;
    let mut tops = Vec::new();
    for panel in &chart.panels {
        tops.push(y);
        y += panel_height(panel);
    }
    let mut svg = Svg::new(width.round(), (y + layout::MARGIN).round());
    layout::header(&mut svg, &chart.title, &chart.subtitle);
    for (panel, top) in chart.panels.iter().zip(tops) {
        draw_panel(&mut svg, panel, top, left);
    }
    svg.finish(&chart.title)
}

fn panel_height(panel: &CurvePanel) -> f64 {
    22.0 + panel.notes.len() as f64 * NOTE_H + 8.0 + PLOT_H + layout::AXIS_H + 10.0
}

fn draw_panel(svg: &mut Svg, panel: &CurvePanel, top: f64, left: f64) {
    svg.text(
        layout::MARGIN,
        top + 15.0,
        Anchor::Start,
        "axis",
        &panel.heading,
    );
    let mut y = top + 22.0;
    for note in &panel.notes {
        let mut attrs = note.attrs.clone();
        attrs.retain(|(name, _)| *name != "class");
        svg.text_with((layout::MARGIN, y + 12.0), "note", &attrs, &note.text);
        y += NOTE_H;
    }
    let (plot_top, plot_bottom) = (y + 8.0, y + 8.0 + PLOT_H);
    let right = left + layout::PLOT_W;
    let (x_min, x_max) = match (panel.x.first(), panel.x.last()) {
        (Some(&a), Some(&b)) if b > a => (a, b),
        (Some(&a), _) => (a - 1.0, a + 1.0),
        _ => (-1.0, 1.0),
    };
    // The x range is exactly the data's, not widened to round ticks: the picture
    // shows where the layer works and nothing beyond.
    let sx = Linear {
        lo: x_min,
        hi: x_max,
        left,
        right,
    };
    let all_y: Vec<f64> = panel
        .y
        .iter()
        .chain(panel.thin.iter().flatten())
        .copied()
        .collect();
    let sy = Linear::covering(&all_y, false, plot_bottom, plot_top);
    svg.rect(
        Rect {
            x: left,
            y: plot_top,
            width: layout::PLOT_W,
            height: PLOT_H,
            fill: "#ffffff",
        },
        &[
            ("class", "plot".into()),
            ("stroke", "#cccccc".into()),
            ("data-x-min", format!("{x_min}")),
            ("data-x-max", format!("{x_max}")),
            ("data-y-min", format!("{}", sy.lo)),
            ("data-y-max", format!("{}", sy.hi)),
        ],
        None,
    );
    if panel.x_names.is_empty() {
        layout::x_axis(svg, &sx, plot_top, plot_bottom, &panel.x_label);
    } else {
        category_axis(svg, &sx, panel, plot_top, plot_bottom);
    }
    y_axis(svg, &sy, left, right, &panel.y_label);
    let max_count = panel.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    for (i, &count) in panel.counts.iter().enumerate() {
        let (Some(&a), Some(&b)) = (panel.edges.get(i), panel.edges.get(i + 1)) else {
            continue;
        };
        let h = count as f64 / max_count * PLOT_H;
        svg.rect(
            Rect {
                x: sx.px(a),
                y: plot_bottom - h,
                width: sx.px(b) - sx.px(a),
                height: h,
                fill: DENSITY,
            },
            &[
                ("class", "density".into()),
                ("data-count", count.to_string()),
                ("data-from", format!("{a}")),
                ("data-to", format!("{b}")),
            ],
            Some(&format!(
                "{} to {}: {count}",
                scale::label(a),
                scale::label(b)
            )),
        );
    }
    let in_range = |v: &&f64| (x_min..=x_max).contains(*v);
    for &m in panel.marks.iter().filter(in_range) {
        let x = sx.px(m);
        svg.line(
            (x, plot_top),
            (x, plot_bottom),
            "#888888",
            &format!(r#"stroke-dasharray="4 3" class="mark" data-x="{m}""#),
        );
    }
    for &r in panel.rug.iter().filter(in_range) {
        let x = sx.px(r);
        svg.line(
            (x, plot_bottom),
            (x, plot_bottom - RUG_H),
            "#555555",
            &format!(r#"class="rug" data-x="{r}""#),
        );
    }
    let path = |ys: &[f64]| -> Vec<(f64, f64)> {
        panel
            .x
            .iter()
            .zip(ys)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(&a, &b)| (sx.px(a), sy.px(b)))
            .collect()
    };
    for thin in &panel.thin {
        svg.polyline(
            &path(thin),
            THIN,
            &[
                ("class", "thin".into()),
                ("stroke-width", "1".into()),
                ("stroke-opacity", "0.6".into()),
            ],
        );
    }
    svg.polyline(
        &path(&panel.y),
        colours::MARKER,
        &[("class", "curve".into()), ("stroke-width", "2".into())],
    );
    if panel.dots {
        for (&a, &b) in panel.x.iter().zip(&panel.y) {
            if !(a.is_finite() && b.is_finite()) {
                continue;
            }
            svg.circle(
                (sx.px(a), sy.px(b)),
                3.0,
                colours::MARKER,
                &[
                    ("class", "point".into()),
                    ("data-x", format!("{a}")),
                    ("data-y", format!("{b}")),
                ],
                Some(&match panel.x.iter().position(|&v| v == a) {
                    Some(i) if i < panel.x_names.len() => {
                        format!("{}: {}", panel.x_names[i], scale::label(b))
                    }
                    _ => format!("{}: {}", scale::value(a), scale::label(b)),
                }),
            );
        }
    }
}

/// The x axis of categories: a grid line and the name under each `x`, the title.
fn category_axis(svg: &mut Svg, sx: &Linear, panel: &CurvePanel, top: f64, bottom: f64) {
    for (&x, name) in panel.x.iter().zip(&panel.x_names) {
        let px = sx.px(x);
        svg.line((px, top), (px, bottom), colours::GRID, "");
        svg.text(px, bottom + 14.0, Anchor::Middle, "tick category", name);
    }
    svg.line((sx.left, bottom), (sx.right, bottom), "#999999", "");
    let mid = (sx.left + sx.right) / 2.0;
    svg.text(mid, bottom + 32.0, Anchor::Middle, "axis", &panel.x_label);
}

/// Tick labels left of the plot, grid lines across it, the title turned upright.
fn y_axis(svg: &mut Svg, sy: &Linear, left: f64, right: f64, title: &str) {
    for t in sy.ticks() {
        let y = sy.px(t);
        svg.line((left, y), (right, y), colours::GRID, "");
        svg.text(left - 6.0, y + 3.5, Anchor::End, "tick", &sy.tick_label(t));
    }
    let mid = (sy.left + sy.right) / 2.0;
    svg.raw(&format!(
        r#"<text x="{x}" y="{y}" text-anchor="middle" class="axis" transform="rotate(-90 {x} {y})">{}</text>"#,
        super::svg::escape(title),
        x = num(layout::MARGIN + 10.0),
        y = num(mid),
    ));
}

#[cfg(test)]
mod tests;
