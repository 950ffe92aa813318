//! The `load` section (parse stage): the peak telemetry rates of the whole stack and how long a
//! store may be away without loss; otelplan sizes the deployment from them.

use schemars::JsonSchema;

use crate::diagnostic::Diagnostics;
use crate::model::node::Node;
use crate::model::reader::{integer, MapView};
use crate::span::Spanned;

/// Declared load.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Load {
    /// Peak spans per second, the whole stack.
    pub(crate) spans_per_second: Option<Spanned<u64>>,
    /// Peak log records per second, the whole stack.
    pub(crate) log_records_per_second: Option<Spanned<u64>>,
    /// Peak metric data points per second, the whole stack.
    pub(crate) metric_points_per_second: Option<Spanned<u64>>,
    /// How many minutes a store may be away without loss (default 60).
    #[schemars(extend("default" = 60))]
    pub(crate) outage_minutes: Option<Spanned<u64>>,
}

/// The largest rate the format takes: far beyond one stack's telemetry, but it keeps the
/// arithmetic well inside its integers.
const MAX_RATE: u64 = 100_000_000;

/// `outage_minutes` when the file does not say.
pub(crate) const DEFAULT_OUTAGE_MINUTES: u64 = 60;

impl Load {
    /// The rates by signal (absent: none of it) and the outage, defaulted.
    pub(crate) fn resolve(&self) -> crate::plan::capacity::DeclaredLoad {
        use crate::model::keywords::Signal;
        let rate = |f: &Option<Spanned<u64>>| f.as_ref().map_or(0, |v| v.value);
        crate::plan::capacity::DeclaredLoad {
            per_second: [
                (Signal::Traces, rate(&self.spans_per_second)),
                (Signal::Logs, rate(&self.log_records_per_second)),
                (Signal::Metrics, rate(&self.metric_points_per_second)),
            ]
            .into_iter()
            .collect(),
            outage_minutes: self.outage_minutes.as_ref().map_or(DEFAULT_OUTAGE_MINUTES, |v| v.value),
        }
    }

    /// Read `load`.
    pub(crate) fn read(node: &Node, d: &mut Diagnostics) -> Option<Load> {
        let keys = ["spans_per_second", "log_records_per_second", "metric_points_per_second", "outage_minutes"];
        let m = MapView::open(node, "load", &keys, d)?;
        let rate = |key: &str, d: &mut Diagnostics| m.get(key).and_then(|n| integer(n, &m.child(key), 0, MAX_RATE, d));
        Some(Load {
            spans_per_second: rate("spans_per_second", d),
            log_records_per_second: rate("log_records_per_second", d),
            metric_points_per_second: rate("metric_points_per_second", d),
            outage_minutes: m.get("outage_minutes").and_then(|n| integer(n, &m.child("outage_minutes"), 0, 10_080, d)),
        })
    }
}
