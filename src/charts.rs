//! Server-side pictures as SVG: data in, a standalone SVG document out. No HTTP
//! here; `http::charts` serves these.
//!
//! # Layout
//! - [`svg`]: the writer (escaping, deterministic number printing).
//! - [`scale`]: linear axes, round ticks, number labels, text-width estimates.
//! - [`bars`]: the generic horizontal bar chart (importance, coefficients).
//! - [`waterfall`]: one prediction built up from the base value, feature by feature.
//! - [`anchor`]: an anchor's rule with its precision and coverage.
//! - [`views`]: the served pictures, built from summaries, weights, explanations and
//!   partial dependence.
//! - [`heatmap`]: a matrix on a diverging colour scale centred at zero (network
//!   layers, multi-output coefficients).
//! - [`kernels`]: a grid of small images on one diverging scale (first-layer units
//!   of a network with image inputs).
//! - [`curves`]: a function over a data range with the data's histogram behind it
//!   (activation functions over observed pre-activations), or over thin companion
//!   curves with a rug of its grid (partial dependence over ICE curves).
//! - [`network`]: the neural-network pictures, built from weights and activations.
//!
//! Charts are sized from their content (label widths, row counts), so nothing
//! overlaps however many features a model has, and the same input always gives
//! the same bytes, which is what makes ETags on pictures work.

pub mod anchor;
pub mod bars;
pub mod curves;
pub mod heatmap;
pub mod kernels;
pub mod network;
pub mod scale;
pub mod svg;
pub mod views;
pub mod waterfall;

/// The palette: shap's red for pushes up, blue for pushes down.
pub mod colours {
    /// Positive contributions and coefficients.
    pub const POSITIVE: &str = "#ff0d57";
    /// Negative contributions and coefficients.
    pub const NEGATIVE: &str = "#1e88e5";
    /// Magnitudes, which have no sign.
    pub const NEUTRAL: &str = "#4c78a8";
    /// Markers drawn over bars.
    pub const MARKER: &str = "#222222";
    /// Grid lines.
    pub const GRID: &str = "#e3e3e3";
}

/// Sizes shared by every chart, in pixels.
pub(crate) mod layout {
    use super::scale::Linear;
    use super::svg::{Anchor, Svg};

    /// Outer margin.
    pub const MARGIN: f64 = 16.0;
    /// Height of the title block.
    pub const HEADER: f64 = 52.0;
    /// Height of one bar row: 11 px labels with room between them.
    pub const ROW_H: f64 = 24.0;
    /// Height of a horizontal axis with its tick labels and title.
    pub const AXIS_H: f64 = 46.0;
    /// Width of the plotting area.
    pub const PLOT_W: f64 = 460.0;
    /// Room left and right of the plot for value labels beside bar ends.
    pub const VALUE_ROOM: f64 = 120.0;
    /// Font size of row labels.
    pub const LABEL_PX: f64 = 11.0;

    /// Title and subtitle.
    pub fn header(svg: &mut Svg, title: &str, subtitle: &str) {
        svg.text(MARGIN, 24.0, Anchor::Start, "title", title);
        svg.text(MARGIN, 41.0, Anchor::Start, "subtitle", subtitle);
    }

    /// Grid lines from `top` to `bottom` at each tick, tick labels under `bottom`,
    /// and the axis title under them.
    pub fn x_axis(svg: &mut Svg, sx: &Linear, top: f64, bottom: f64, title: &str) {
        for t in sx.ticks() {
            let x = sx.px(t);
            let colour = if t == 0.0 {
                "#999999"
            } else {
                super::colours::GRID
            };
            svg.line((x, top), (x, bottom), colour, "");
            svg.text(x, bottom + 14.0, Anchor::Middle, "tick", &sx.tick_label(t));
        }
        svg.line((sx.left, bottom), (sx.right, bottom), "#999999", "");
        let mid = (sx.left + sx.right) / 2.0;
        svg.text(mid, bottom + 32.0, Anchor::Middle, "axis", title);
    }
}
