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

#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative counts per bucket of [`BUCKETS`].
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (route, method, status) → requests answered.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (route, method) → latency histogram.
    latency: BTreeMap<(String, String), Histogram>,
    /// (model, method) → rows explained.
    explanations: BTreeMap<(String, String), u64>,
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Record one answered request. `route` is the matched route template, so that
    /// model names do not explode the label set.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut inner = self.lock();
        *inner
            .requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        let h = inner
            .latency
            .entry((route.to_string(), method.to_string()))
            .or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
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
        *self
            .lock()
            .explanations
            .entry((model.to_string(), method.to_string()))
            .or_default() += rows as u64;
    }

    /// The exposition text, with the current number of loaded models.
    pub fn render(&self, models_loaded: usize) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP explaind_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE explaind_http_requests_total counter\n");
        for ((route, method, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "explaind_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str(
            "# HELP explaind_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE explaind_http_request_duration_seconds histogram\n");
        for ((route, method), h) in &inner.latency {
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
                h.sum
            );
            let _ = writeln!(
                out,
                "explaind_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP explaind_explanations_total Rows explained, by model and method.\n");
        out.push_str("# TYPE explaind_explanations_total counter\n");
        for ((model, method), n) in &inner.explanations {
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
}
