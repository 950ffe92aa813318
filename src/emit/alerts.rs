//! Emit stage: alert rules on the collectors' own metrics (`plan/pass/self_telemetry.rs` sends
//! them to the metrics store) for data loss and backlog — a Prometheus rule file when the
//! metrics land in Prometheus, and the equivalent ES|QL queries when they land in
//! Elasticsearch.

use std::fmt::Write as _;

use serde_yaml::Value;

use crate::emit::yaml::{document, map, s, HEADER};
use crate::emit::OutputTree;
use crate::plan::Plan;
use crate::topology::BackendKind;

use crate::plan::store_config::PROMETHEUS_RULES;
/// Where the Elasticsearch queries go.
pub(crate) const ELASTICSEARCH_QUERIES: &str = "alerts/README.md";

/// One alert: name, what it means, a `PromQL` expression, how long it must hold, severity.
struct Alert {
    name: &'static str,
    summary: &'static str,
    promql: Promql,
    /// ES|QL after `FROM … | WHERE @timestamp > NOW() - 5 minutes`; `{m}` is the prefix of a
    /// metric field, `{svc}` the service name field.
    esql: &'static str,
    hold: &'static str,
    severity: &'static str,
}

/// The collector metrics (as Prometheus names them from OTLP: counters end in `_total`, a
/// resource's `service.name` becomes `job`) that say telemetry is being lost or piling up.
const ALERTS: [Alert; 4] = [
    Alert {
        name: "OtelCollectorExportFailing",
        summary: "a collector fails to send telemetry it has given up retrying: it is lost",
        promql: Promql::Counters { family: "otelcol_exporter_send_failed", by: "job, exporter" },
        esql: "| STATS lost = MAX({m}otelcol_exporter_send_failed_spans) - MIN({m}otelcol_exporter_send_failed_spans) BY {svc}\n| WHERE lost > 0",
        hold: "5m",
        severity: "critical",
    },
    Alert {
        name: "OtelCollectorQueueFull",
        summary: "a collector's queue is full and refuses new telemetry",
        promql: Promql::Counters { family: "otelcol_exporter_enqueue_failed", by: "job, exporter" },
        esql: "| STATS refused = MAX({m}otelcol_exporter_enqueue_failed_spans) - MIN({m}otelcol_exporter_enqueue_failed_spans) BY {svc}\n| WHERE refused > 0",
        hold: "5m",
        severity: "critical",
    },
    Alert {
        name: "OtelCollectorBacklog",
        summary: "a collector's queue is more than half full: its store is slow or away",
        promql: Promql::Expr("max by (job, exporter) (otelcol_exporter_queue_size / otelcol_exporter_queue_capacity) > 0.5"),
        esql: "| EVAL used = {m}otelcol_exporter_queue_size / {m}otelcol_exporter_queue_capacity\n| STATS used = MAX(used) BY {svc}\n| WHERE used > 0.5",
        hold: "15m",
        severity: "warning",
    },
    Alert {
        name: "OtelCollectorRefusing",
        summary: "a collector refuses telemetry from its senders (memory limit or full queue)",
        promql: Promql::Counters { family: "otelcol_receiver_refused", by: "job, receiver" },
        esql: "| STATS refused = MAX({m}otelcol_receiver_refused_spans) - MIN({m}otelcol_receiver_refused_spans) BY {svc}\n| WHERE refused > 0",
        hold: "5m",
        severity: "warning",
    },
];

/// A rule's `PromQL`.
enum Promql {
    /// Written as is.
    Expr(&'static str),
    /// A counter the collector keeps per signal (`<family>_spans_total`, `…_metric_points_total`,
    /// `…_log_records_total`) rising for any signal. Each signal is summed on its own and the
    /// terms joined with `or`: one `rate` over a `__name__` regex drops the names, so once two
    /// signals' counters share their labels (a component losing data on two signals, exactly when
    /// the alert matters) Prometheus fails the rule ("vector cannot contain metrics with the same
    /// labelset"; seen with Prometheus 3.16 in the live harness).
    Counters { family: &'static str, by: &'static str },
}

/// The per-signal counters' suffixes, as Prometheus names them from OTLP.
const SIGNAL_COUNTERS: [&str; 3] = ["spans", "metric_points", "log_records"];

impl Promql {
    fn text(&self) -> String {
        match self {
            Promql::Expr(e) => (*e).to_string(),
            Promql::Counters { family, by } => SIGNAL_COUNTERS
                .iter()
                .map(|signal| format!("sum by ({by}) (rate({family}_{signal}_total[5m])) > 0"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

fn prometheus_rules() -> String {
    let rules: Vec<Value> = ALERTS
        .iter()
        .map(|a| {
            map([
                ("alert", s(a.name)),
                ("expr", s(a.promql.text())),
                ("for", s(a.hold)),
                ("labels", map([("severity", s(a.severity))])),
                ("annotations", map([("summary", s(a.summary))])),
            ])
        })
        .collect();
    document(&map([(
        "groups",
        Value::Sequence(vec![map([("name", s("otelplan-collectors")), ("rules", Value::Sequence(rules))])]),
    )]))
}

fn elasticsearch_queries(plan: &Plan, via_apm_server: bool) -> String {
    let index = if via_apm_server { "metrics-apm.app.*" } else { "metrics-*.otel-*" };
    let prefix = if via_apm_server { "" } else { "metrics." };
    let service = if via_apm_server { "service.name" } else { "resource.attributes.service.name" };
    let mut out = format!(
        "<!-- {HEADER} -->\n# Alerts on the collectors of `{}`\n\n\
         Every collector sends its own metrics to Elasticsearch ({}). Create a Kibana rule (Stack\n\
         Management → Rules → Elasticsearch query, ES|QL) for each query below; each returns rows\n\
         only while its condition holds. Run them every minute over the last five.\n\n",
        plan.stack_name,
        if via_apm_server { "through APM Server" } else { "through the gateway's exporter" }
    );
    for a in &ALERTS {
        let body = a.esql.replace("{m}", prefix).replace("{svc}", service);
        let _ = write!(
            out,
            "## {} ({})\n\n{}.\n\n```esql\nFROM {index}\n| WHERE @timestamp > NOW() - 5 minutes\n{body}\n```\n\n",
            a.name, a.severity, a.summary
        );
    }
    out.push_str(
        "The queries name the span counters; the same metrics exist for log records\n\
         (`…_log_records`) and metric points (`…_metric_points`).\n",
    );
    out
}

/// The alert files for the plan's metrics store.
pub(crate) fn emit(plan: &Plan, tree: &mut OutputTree) {
    match plan.deployment.alerts {
        Some(BackendKind::Prometheus) => {
            tree.insert(PROMETHEUS_RULES.to_string(), prometheus_rules());
        }
        Some(BackendKind::ApmServer) => {
            tree.insert(ELASTICSEARCH_QUERIES.to_string(), elasticsearch_queries(plan, true));
        }
        Some(BackendKind::Elasticsearch) => {
            tree.insert(ELASTICSEARCH_QUERIES.to_string(), elasticsearch_queries(plan, false));
        }
        Some(BackendKind::Jaeger | BackendKind::Loki) | None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rate is taken over one metric: a `__name__` regex under `rate` fails evaluation as
    /// soon as two signals' counters share their labels.
    #[test]
    fn each_rate_reads_one_metric() {
        for alert in &ALERTS {
            let expr = alert.promql.text();
            assert!(!expr.contains("__name__"), "{}: {expr}", alert.name);
            for term in expr.split(" or ") {
                assert_eq!(term.matches("rate(").count(), term.matches("_total[5m])").count(), "{term}");
            }
            if let Promql::Counters { family, .. } = alert.promql {
                for signal in SIGNAL_COUNTERS {
                    assert!(expr.contains(&format!("rate({family}_{signal}_total[5m])")), "{expr}");
                }
            }
        }
    }
}
