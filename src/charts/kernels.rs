//! A grid of small images on one diverging colour scale: each first-layer unit of a
//! network with image inputs, its incoming weights laid out in the input's shape
//! (the "receptive field" pictures of scikit-learn's MNIST MLP example). Every image
//! shares the scale, so a darker pixel is a larger weight wherever it is.

use super::heatmap::{self, diverging};
use super::layout;
use super::scale;
use super::svg::{Anchor, Rect, Svg};

/// What to draw.
#[derive(Debug, Clone)]
pub struct ImageGrid {
    /// First line, bold.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// What the colours measure (legend title).
    pub value_label: String,
    /// The images, drawn left to right, top to bottom.
    pub images: Vec<Image>,
}

/// One image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Caption under the image.
    pub label: String,
    /// `pixels[r][c]`, rows top to bottom; rows may not be ragged.
    pub pixels: Vec<Vec<f64>>,
}

/// Width of the grid area the images are wrapped into.
const GRID_W: f64 = 560.0;
/// Room between images.
const GAP: f64 = 14.0;
/// Room under an image for its caption.
const CAPTION: f64 = 18.0;

/// Render the grid as a standalone SVG document.
///
/// Every pixel is a `<rect class="pixel">` with `data-image` (the image's index),
/// `data-row`, `data-col` and `data-value`; each image's caption is a
/// `<text class="label">`.
pub fn render(grid: &ImageGrid) -> String {
    let (rows, cols) = grid
        .images
        .iter()
        .map(|i| (i.pixels.len(), i.pixels.first().map_or(0, Vec::len)))
        .fold((1, 1), |(r, c), (ir, ic)| (r.max(ir), c.max(ic)));
    // About 80 pixels an image, 2 to 12 a pixel.
    let px = (80.0 / rows.max(cols) as f64).clamp(2.0, 12.0).floor();
    let (img_w, img_h) = (cols as f64 * px, rows as f64 * px);
    let per_row = (((GRID_W + GAP) / (img_w + GAP)).floor() as usize).max(1);
    let lines = grid.images.len().div_ceil(per_row).max(1);
    let max_abs = grid
        .images
        .iter()
        .flat_map(|i| i.pixels.iter().flatten())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let left = layout::MARGIN;
    let top = layout::HEADER + 8.0;
    let legend_top = top + lines as f64 * (img_h + CAPTION + GAP) + 4.0;
    let used_w = per_row.min(grid.images.len().max(1)) as f64 * (img_w + GAP) - GAP;
    let title_w = scale::text_width(&grid.title, 15.0).max(scale::text_width(&grid.subtitle, 11.0));
    let width = (left + used_w.max(220.0) + layout::MARGIN).max(title_w + 2.0 * layout::MARGIN);
    let mut svg = Svg::new(width.round(), (legend_top + 60.0 + layout::MARGIN).round());
    layout::header(&mut svg, &grid.title, &grid.subtitle);
    for (k, image) in grid.images.iter().enumerate() {
        let x0 = left + (k % per_row) as f64 * (img_w + GAP);
        let y0 = top + (k / per_row) as f64 * (img_h + CAPTION + GAP);
        for (r, row) in image.pixels.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let fill = diverging(v, max_abs);
                let rect = Rect {
                    x: x0 + c as f64 * px,
                    y: y0 + r as f64 * px,
                    width: px,
                    height: px,
                    fill: &fill,
                };
                let attrs = [
                    ("class", "pixel".to_string()),
                    ("data-image", k.to_string()),
                    ("data-row", r.to_string()),
                    ("data-col", c.to_string()),
                    ("data-value", format!("{v}")),
                ];
                svg.rect(rect, &attrs, None);
            }
        }
        svg.raw(&format!(
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999999" stroke-width="0.5"/>"##,
            super::svg::num(x0),
            super::svg::num(y0),
            super::svg::num(img_w),
            super::svg::num(img_h)
        ));
        svg.text(
            x0 + img_w / 2.0,
            y0 + img_h + 13.0,
            Anchor::Middle,
            "label",
            &image.label,
        );
    }
    heatmap::legend(&mut svg, left, legend_top, max_abs, &grid.value_label);
    svg.finish(&grid.title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_share_one_scale_and_wrap_into_rows() {
        let grid = ImageGrid {
            title: "kernels".into(),
            subtitle: "s".into(),
            value_label: "weight".into(),
            images: (0..20)
                .map(|k| Image {
                    label: format!("unit {k}"),
                    pixels: vec![vec![k as f64, 0.0], vec![-(k as f64), 1.0]],
                })
                .collect(),
        };
        let svg = render(&grid);
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let pixels: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("pixel"))
            .collect();
        assert_eq!(pixels.len(), 80);
        // The largest |w| over all images (19) takes the extremes of the scale.
        let fill = |image: &str, r: &str, c: &str| {
            pixels
                .iter()
                .find(|n| {
                    n.attribute("data-image") == Some(image)
                        && n.attribute("data-row") == Some(r)
                        && n.attribute("data-col") == Some(c)
                })
                .and_then(|n| n.attribute("fill"))
                .unwrap()
        };
        assert_eq!(fill("19", "0", "0"), "#b2182b");
        assert_eq!(fill("19", "1", "0"), "#2166ac");
        assert_eq!(fill("3", "0", "1"), "#ffffff");
        // 2×2 images at 12 px: 15 fit in a row, so the 20th starts a second row.
        let y = |i: &str| {
            pixels
                .iter()
                .find(|n| n.attribute("data-image") == Some(i))
                .and_then(|n| n.attribute("y"))
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        assert!(y("19") > y("14") && y("14") == y("0"));
        assert_eq!(svg, render(&grid), "deterministic");
    }
}
