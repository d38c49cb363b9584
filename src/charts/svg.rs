//! A small SVG writer: elements appended to a string, every attribute and text
//! escaped, every coordinate printed with two decimals so the same input always
//! gives the same bytes.

use std::fmt::Write;

/// Text anchoring, SVG's `text-anchor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The text starts at x.
    Start,
    /// The text is centred on x.
    Middle,
    /// The text ends at x.
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// Escape text for use in XML content or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids are dropped rather than emitted.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate or length, two decimals, never `-0.00`.
pub fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    if s == "-0.00" {
        "0.00".into()
    } else {
        s
    }
}

/// An SVG document under construction.
#[derive(Debug)]
pub struct Svg {
    body: String,
    width: f64,
    height: f64,
}

impl Svg {
    /// An empty picture of `width` × `height` pixels.
    pub fn new(width: f64, height: f64) -> Self {
        Svg {
            body: String::new(),
            width,
            height,
        }
    }

    /// Append raw markup the caller has built from escaped parts (gradients, groups).
    pub fn raw(&mut self, markup: &str) {
        self.body.push_str(markup);
        self.body.push('\n');
    }

    /// A rectangle. `attrs` are extra (name, value) pairs, escaped here; `title`
    /// becomes a tooltip.
    pub fn rect(&mut self, r: Rect, attrs: &[(&str, String)], title: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}""#,
            num(r.x),
            num(r.y),
            num(r.width.max(0.0)),
            num(r.height.max(0.0)),
            escape(r.fill)
        );
        for (name, value) in attrs {
            let _ = write!(self.body, r#" {name}="{}""#, escape(value));
        }
        match title {
            Some(t) => {
                let _ = writeln!(self.body, "><title>{}</title></rect>", escape(t));
            }
            None => self.body.push_str("/>\n"),
        }
    }

    /// A straight line.
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str, extra: &str) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"{}{extra}/>"#,
            num(from.0),
            num(from.1),
            num(to.0),
            num(to.1),
            escape(stroke),
            if extra.is_empty() { "" } else { " " },
        );
    }

    /// A line of text at (x, y) (y is the baseline).
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, class: &str, content: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="{}" class="{}">{}</text>"#,
            num(x),
            num(y),
            anchor.as_str(),
            escape(class),
            escape(content)
        );
    }

    /// A line of text carrying extra (name, value) attributes, escaped here, so a
    /// test can read the number a sentence states.
    pub fn text_with(
        &mut self,
        at: (f64, f64),
        class: &str,
        attrs: &[(&str, String)],
        content: &str,
    ) {
        let _ = write!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="start" class="{}""#,
            num(at.0),
            num(at.1),
            escape(class)
        );
        for (name, value) in attrs {
            let _ = write!(self.body, r#" {name}="{}""#, escape(value));
        }
        let _ = writeln!(self.body, ">{}</text>", escape(content));
    }

    /// An open polyline through `points`, unfilled. `attrs` as for [`Svg::rect`].
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, attrs: &[(&str, String)]) {
        let list: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
            .collect();
        let _ = write!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke="{}""#,
            list.join(" "),
            escape(stroke)
        );
        for (name, value) in attrs {
            let _ = write!(self.body, r#" {name}="{}""#, escape(value));
        }
        self.body.push_str("/>\n");
    }

    /// A filled circle of radius `r` centred at `centre`. `attrs` and `title` as
    /// for [`Svg::rect`].
    pub fn circle(
        &mut self,
        centre: (f64, f64),
        r: f64,
        fill: &str,
        attrs: &[(&str, String)],
        title: Option<&str>,
    ) {
        let _ = write!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{}""#,
            num(centre.0),
            num(centre.1),
            num(r.max(0.0)),
            escape(fill)
        );
        for (name, value) in attrs {
            let _ = write!(self.body, r#" {name}="{}""#, escape(value));
        }
        match title {
            Some(t) => {
                let _ = writeln!(self.body, "><title>{}</title></circle>", escape(t));
            }
            None => self.body.push_str("/>\n"),
        }
    }

    /// Text rotated by `degrees` around its anchor point.
    pub fn text_rotated(&mut self, at: (f64, f64), degrees: f64, anchor: Anchor, content: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x}" y="{y}" text-anchor="{}" class="tick" transform="rotate({} {x} {y})">{}</text>"#,
            anchor.as_str(),
            num(degrees),
            escape(content),
            x = num(at.0),
            y = num(at.1),
        );
    }

    /// The finished document, with a shared style sheet and an accessible title.
    pub fn finish(self, title: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"Helvetica, Arial, sans-serif\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n\
             <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n{}</svg>\n",
            escape(title),
            self.body,
            w = num(self.width),
            h = num(self.height),
        )
    }
}

/// Text classes used by every chart.
const STYLE: &str = ".title{font-size:15px;font-weight:bold;fill:#222}\
.subtitle{font-size:11px;fill:#555}.label{font-size:11px;fill:#222}\
.tick{font-size:10px;fill:#555}\
.value{font-size:10px;fill:#333;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
.axis{font-size:11px;fill:#333}.note{font-size:11px;fill:#444}";

/// A filled rectangle.
#[derive(Debug, Clone, Copy)]
pub struct Rect<'a> {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width (negative is clamped to 0).
    pub width: f64,
    /// Height (negative is clamped to 0).
    pub height: f64,
    /// Fill colour.
    pub fill: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("bell\u{7}"), "bell");
        assert_eq!(num(-0.001), "0.00");
        assert_eq!(num(12.5), "12.50");
    }
}
