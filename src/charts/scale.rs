//! Axes: a linear map from data to pixels with round tick values, number labels,
//! and a text-width estimate used to size charts from their labels.

/// Maps a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Linear {
    /// Data value at the left pixel.
    pub lo: f64,
    /// Data value at the right pixel.
    pub hi: f64,
    /// Left pixel.
    pub left: f64,
    /// Right pixel.
    pub right: f64,
}

impl Linear {
    /// A scale covering every value in `values` (and zero when `with_zero`),
    /// widened to round tick boundaries.
    pub fn covering(values: &[f64], with_zero: bool, left: f64, right: f64) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if with_zero || lo > hi {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        // Rounding noise (a mean attribution of 1e-12 beside importances in the
        // thousands) must not stretch the axis below zero by a whole tick step.
        let span = hi - lo;
        if lo < 0.0 && -lo < span * 1e-9 {
            lo = 0.0;
        }
        if hi > 0.0 && hi < span * 1e-9 {
            hi = 0.0;
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let step = nice_step(hi - lo);
        Linear {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            left,
            right,
        }
    }

    /// Pixel position of a data value.
    pub fn px(&self, v: f64) -> f64 {
        self.left + (v - self.lo) / (self.hi - self.lo) * (self.right - self.left)
    }

    /// Pixels per data unit: a bar of value v is `|v| * pixels_per_unit()` long.
    pub fn pixels_per_unit(&self) -> f64 {
        (self.right - self.left) / (self.hi - self.lo)
    }

    /// The label of tick `t`: printed with the decimals the tick step needs, so
    /// an axis reads 0, 0.2, 0.4 and 2, 4, 6 rather than 0, 0.200, 0.400 and
    /// 2.00, 4.00, 6.00. Very large or very small steps fall back to [`label`].
    pub fn tick_label(&self, t: f64) -> String {
        let step = nice_step(self.hi - self.lo);
        if !t.is_finite() || !step.is_finite() || t.abs() >= 1e6 || step < 1e-4 {
            return label(t);
        }
        // Ticks are multiples of the step; rounding noise (0.30000000000000004)
        // is printed away.
        let decimals = if step >= 1.0 {
            0
        } else {
            (-step.log10()).ceil() as usize
        };
        let a = t.abs();
        let body = if decimals == 0 {
            thousands(a.round() as u64)
        } else {
            format!("{a:.decimals$}")
        };
        if body.chars().all(|c| matches!(c, '0' | '.' | ',')) {
            "0".into()
        } else if t < 0.0 {
            format!("\u{2212}{body}")
        } else {
            body
        }
    }

    /// Round tick values inside the domain, about five of them.
    pub fn ticks(&self) -> Vec<f64> {
        let step = nice_step(self.hi - self.lo);
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|i| i as f64 * step).collect()
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about five intervals over `span`.
fn nice_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let factor = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// A number as people read it on a chart: thousands separators for large values,
/// about three significant digits for small ones, a true minus sign.
pub fn label(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    let body = if a == 0.0 || a < 5e-13 {
        return "0".into();
    } else if a >= 1e6 {
        format!("{a:.3e}")
    } else if a >= 100.0 {
        thousands(a.round() as u64)
    } else if a >= 10.0 {
        format!("{a:.1}")
    } else if a >= 1.0 {
        format!("{a:.2}")
    } else if a >= 0.001 {
        format!("{a:.3}")
    } else {
        format!("{a:.2e}")
    };
    if v < 0.0 {
        format!("\u{2212}{body}")
    } else {
        body
    }
}

/// `label` with an explicit sign, for contributions.
pub fn signed(v: f64) -> String {
    let l = label(v);
    if v > 0.0 && l != "0" {
        format!("+{l}")
    } else {
        l
    }
}

/// A feature value: integers (counts, 0/1 flags) exactly, with thousands
/// separators; anything else as [`label`].
pub fn value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        let body = thousands(v.abs() as u64);
        if v < 0.0 {
            format!("\u{2212}{body}")
        } else {
            body
        }
    } else {
        label(v)
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Estimated width in pixels of `text` at `font_px` in a sans-serif font: generous,
/// so labels sized with it never run into their neighbours.
pub fn text_width(text: &str, font_px: f64) -> f64 {
    text.chars().count() as f64 * font_px * 0.62
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_cover_the_data_with_round_ticks() {
        let s = Linear::covering(&[3.0, 97.0], true, 0.0, 100.0);
        assert_eq!((s.lo, s.hi), (0.0, 100.0));
        assert_eq!(s.ticks(), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert!((s.px(50.0) - 50.0).abs() < 1e-12);
        let s = Linear::covering(&[-4096.0, 3545.0], false, 0.0, 1.0);
        assert!(s.lo <= -4096.0 && s.hi >= 3545.0);
        let noise = Linear::covering(&[-4.9e-12, 6031.0], true, 0.0, 1.0);
        assert_eq!(noise.lo, 0.0, "rounding noise does not add a negative tick");
        let flat = Linear::covering(&[5.0, 5.0], false, 0.0, 1.0);
        assert!(flat.lo < 5.0 && flat.hi > 5.0);
    }

    #[test]
    fn tick_labels_carry_the_decimals_of_their_step() {
        let tick_labels =
            |s: Linear| -> Vec<String> { s.ticks().into_iter().map(|t| s.tick_label(t)).collect() };
        let p = Linear::covering(&[0.02, 0.93], false, 0.0, 1.0);
        assert_eq!(tick_labels(p), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let x = Linear::covering(&[1.4, 6.6], false, 0.0, 1.0);
        assert_eq!(tick_labels(x), ["0", "2", "4", "6", "8"]);
        let signed = Linear::covering(&[-0.3, 0.2], false, 0.0, 1.0);
        assert_eq!(
            tick_labels(signed),
            [
                "\u{2212}0.3",
                "\u{2212}0.2",
                "\u{2212}0.1",
                "0",
                "0.1",
                "0.2"
            ]
        );
        let money = Linear::covering(&[20_000.0, 120_000.0], false, 0.0, 1.0);
        assert_eq!(tick_labels(money)[1], "40,000");
        let tiny = Linear::covering(&[0.0, 2e-6], false, 0.0, 1.0);
        assert_eq!(tiny.tick_label(1e-6), label(1e-6));
    }

    #[test]
    fn labels_read_well() {
        assert_eq!(label(6031.28), "6,031");
        assert_eq!(label(-4095.87), "\u{2212}4,096");
        assert_eq!(signed(3545.0), "+3,545");
        assert_eq!(label(0.18139), "0.181");
        assert_eq!(label(-4.9e-14), "0");
        assert_eq!(label(12.34), "12.3");
        assert_eq!(value(1.0), "1");
        assert_eq!(value(-5850.0), "\u{2212}5,850");
        assert_eq!(value(2.5), "2.50");
    }
}
