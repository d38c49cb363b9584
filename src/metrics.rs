//! Prometheus metrics, kept in memory and rendered in the text exposition format.
//!
//! A plain `std::sync::Mutex` guards the counters: it is held for a map update or a
//! render, never across an `.await`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the request latency histogram buckets.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug)]
struct Histogram {
    /// Cumulative counts per bucket of [`BUCKETS`].
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: [0; BUCKETS.len()],
            sum: 0.0,
            count: 0,
        }
    }
}

/// What is kept per (route, method): answers by status and the latency histogram.
#[derive(Debug, Default)]
struct RouteStats {
    /// Status → requests answered.
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

/// Maps nested by label, so that a request whose labels were seen before is counted
/// by looking its labels up as borrowed `&str`s: no allocation per request, only on
/// the first request of each label set. Sorted maps keep the exposition in label order.
#[derive(Debug, Default)]
struct Inner {
    /// route → method → answers and latency.
    requests: BTreeMap<String, BTreeMap<String, RouteStats>>,
    /// model → method → rows explained.
    explanations: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The entry of `key` in `map`, allocating the key only when it is new.
fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Record one answered request. `route` is the matched route template (or one
    /// label for every unmatched path), so that model names do not explode the label
    /// set; `method` is counted under [`method_label`], so that made-up methods do not
    /// either.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut inner = self.lock();
        let stats = slot(slot(&mut inner.requests, route), method_label(method));
        *stats.statuses.entry(status).or_default() += 1;
        let h = &mut stats.latency;
        for (count, bound) in h.counts.iter_mut().zip(BUCKETS) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Record `rows` explanations computed for a model with a method.
    pub fn count_explanations(&self, model: &str, method: &str, rows: usize) {
        let mut inner = self.lock();
        *slot(slot(&mut inner.explanations, model), method) += rows as u64;
    }

    /// The exposition text, with the current number of loaded models.
    pub fn render(&self, models_loaded: usize) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP explaind_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE explaind_http_requests_total counter\n");
        for (route, method, stats) in by_route(&inner) {
            for (status, n) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "explaind_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape(route),
                    escape(method)
                );
            }
        }
        out.push_str(
            "# HELP explaind_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE explaind_http_request_duration_seconds histogram\n");
        for (route, method, stats) in by_route(&inner) {
            let h = &stats.latency;
            let labels = format!("route=\"{}\",method=\"{}\"", escape(route), escape(method));
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "explaind_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "explaind_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "explaind_http_request_duration_seconds_sum{{{labels}}} {}",
                Sample(h.sum)
            );
            let _ = writeln!(
                out,
                "explaind_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP explaind_explanations_total Rows explained, by model and method.\n");
        out.push_str("# TYPE explaind_explanations_total counter\n");
        let explained = inner
            .explanations
            .iter()
            .flat_map(|(model, m)| m.iter().map(move |(method, n)| (model, method, n)));
        for (model, method, n) in explained {
            let _ = writeln!(
                out,
                "explaind_explanations_total{{model=\"{}\",method=\"{}\"}} {n}",
                escape(model),
                escape(method)
            );
        }
        out.push_str("# HELP explaind_models_loaded Models currently registered.\n");
        out.push_str("# TYPE explaind_models_loaded gauge\n");
        let _ = writeln!(out, "explaind_models_loaded {models_loaded}");
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The methods of RFC 9110 and PATCH (RFC 5789), counted under their own names.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The `method` label of a request: a standard method's name, `other` for any other
/// token a client sends (each would otherwise become a series of its own, and
/// `/healthz` answers anyone).
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// (route, method, stats) in label order.
fn by_route(inner: &Inner) -> impl Iterator<Item = (&String, &String, &RouteStats)> {
    inner
        .requests
        .iter()
        .flat_map(|(route, m)| m.iter().map(move |(method, s)| (route, method, s)))
}

/// A sample value as the exposition format writes it: `+Inf`, `-Inf` and `NaN` for
/// the values that are not finite (Rust writes `inf`, which Prometheus does not
/// read), the shortest decimal otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Sample(pub f64);

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

/// Escape a label value as the exposition format requires.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_request("/x", "GET", 200, 0.002);
        m.observe_request("/x", "GET", 200, 0.2);
        let text = m.render(0);
        assert!(text.contains("le=\"0.001\"} 0"));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"0.25\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains(
            "explaind_http_requests_total{route=\"/x\",method=\"GET\",status=\"200\"} 2"
        ));
    }

    #[test]
    fn samples_that_are_not_finite_are_written_as_prometheus_reads_them() {
        let text = |v: f64| Sample(v).to_string();
        assert_eq!(text(f64::INFINITY), "+Inf");
        assert_eq!(text(f64::NEG_INFINITY), "-Inf");
        assert_eq!(text(f64::NAN), "NaN");
        assert_eq!(text(0.25), "0.25");
        assert_eq!(text(-3.0), "-3");
    }

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("ZZMETH1"), "other");
        // Methods are case-sensitive (RFC 9110 §9.1): `get` is not GET.
        assert_eq!(method_label("get"), "other");
    }
}
