//! Emit stage: the configuration files of deployed stores, from the plan's `StoreConfig`s —
//! `prometheus.yml`, Loki's and Jaeger's files. Built as data and serialised; the files are the same for both targets
//! (nothing in them depends on where the store runs).

use serde_json::json;
use serde_yaml::Value;

use crate::emit::yaml::{document, map, n, s, strings};
use crate::plan::store_config::{JaegerConfig, LokiConfig, PrometheusConfig, StoreConfig};
use crate::plan::Plan;

fn prometheus(c: &PrometheusConfig) -> String {
    // No scrape jobs: metrics arrive over OTLP. Retention lives in the file: Prometheus 3.14
    // deprecates the `--storage.tsdb.retention.*` flags for `storage.tsdb.retention`.
    // https://github.com/prometheus/prometheus/blob/v3.14.0/docs/configuration/configuration.md
    let mut entries = vec![
        ("otlp", map([("promote_resource_attributes", strings(c.promote_resource_attributes.iter().cloned()))])),
        (
            "storage",
            map([(
                "tsdb",
                map([
                    ("out_of_order_time_window", s(c.out_of_order_time_window.clone())),
                    (
                        "retention",
                        map([
                            ("time", s(format!("{}d", c.retention_days))),
                            // Prometheus's units are powers of two: its `MB` is a MiB.
                            ("size", s(format!("{}MB", c.retention_size_mib))),
                        ]),
                    ),
                ]),
            )]),
        ),
    ];
    if let Some(file) = &c.rule_file {
        // otelplan's alerts on the collectors' own metrics (`alerts/` in the tree).
        entries.push(("rule_files", strings([file.clone()])));
    }
    document(&map(entries))
}

fn loki(c: &LokiConfig) -> String {
    let dir = &c.data_dir;
    let value = map([
        // One tenant: the `X-Scope-OrgID` a stack may send is accepted and not required.
        ("auth_enabled", Value::Bool(false)),
        ("server", map([("http_listen_port", n(c.http_port))])),
        (
            "common",
            map([
                ("instance_addr", s("127.0.0.1")),
                ("path_prefix", s(dir.clone())),
                (
                    "storage",
                    map([(
                        "filesystem",
                        map([
                            ("chunks_directory", s(format!("{dir}/chunks"))),
                            ("rules_directory", s(format!("{dir}/rules"))),
                        ]),
                    )]),
                ),
                ("replication_factor", n(1u32)),
                ("ring", map([("kvstore", map([("store", s("inmemory"))]))])),
            ]),
        ),
        (
            "schema_config",
            map([(
                "configs",
                Value::Sequence(vec![map([
                    ("from", s(c.spec.schema_from.clone())),
                    ("store", s("tsdb")),
                    ("object_store", s("filesystem")),
                    ("schema", s("v13")),
                    ("index", map([("prefix", s("index_")), ("period", s("24h"))])),
                ])]),
            )]),
        ),
        (
            "compactor",
            map([
                ("working_directory", s(format!("{dir}/compactor"))),
                ("compaction_interval", s(c.spec.compaction_interval.clone())),
                ("retention_enabled", Value::Bool(true)),
                ("retention_delete_delay", s(c.spec.retention_delete_delay.clone())),
                ("delete_request_store", s("filesystem")),
            ]),
        ),
        ("limits_config", map([("retention_period", s(format!("{}h", c.retention_hours)))])),
        ("analytics", map([("reporting_enabled", Value::Bool(c.spec.reporting_enabled))])),
    ]);
    document(&value)
}

/// Jaeger's configuration, as JSON (which its collector-style loader reads as YAML). It names
/// components of Jaeger's distribution, which a checker for the contrib distribution would take
/// for unknown ones; `tests/live/validate.sh` validates it with the real Jaeger.
fn jaeger(c: &JaegerConfig) -> anyhow::Result<String> {
    let dir = &c.data_dir;
    let value = json!({
        "receivers": { "otlp": { "protocols": {
            "grpc": { "endpoint": format!("0.0.0.0:{}", c.otlp_grpc_port) },
            "http": { "endpoint": format!("0.0.0.0:{}", c.otlp_http_port) },
        } } },
        "processors": { "batch": {} },
        "exporters": { "jaeger_storage_exporter": { "trace_storage": c.store } },
        "extensions": {
            "jaeger_storage": { "backends": { c.store.as_str(): { "badger": {
                "ephemeral": false,
                "directories": { "keys": format!("{dir}/keys"), "values": format!("{dir}/values") },
                "ttl": { "spans": format!("{}h", c.retention_hours) },
            } } } },
            "jaeger_query": {
                "storage": { "traces": c.store },
                "http": { "endpoint": format!("0.0.0.0:{}", c.query_port) },
            },
        },
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": { "traces": {
                "receivers": ["otlp"],
                "processors": ["batch"],
                "exporters": ["jaeger_storage_exporter"],
            } },
            "telemetry": { "resource": { "service.name": "jaeger" } },
        },
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// The file of one store's configuration.
pub(crate) fn render(config: &StoreConfig) -> anyhow::Result<String> {
    Ok(match config {
        StoreConfig::Prometheus(c) => prometheus(c),
        StoreConfig::Loki(c) => loki(c),
        StoreConfig::Jaeger(c) => jaeger(c)?,
    })
}

/// Every deployed store's configuration: its path in the tree (under `kubernetes/` too) and text.
pub(crate) fn files(plan: &Plan) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for w in &plan.workloads {
        let crate::plan::workload::WorkloadKind::Backend(kind) = w.kind else { continue };
        let (Some(path), Some(config)) = (&w.config_file, plan.deployment.store_configs.get(&kind)) else { continue };
        out.push((path.clone(), render(config)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    #[test]
    fn jaeger_stores_in_badger_on_its_volume() {
        let plan = plan(DKP, TopologyId::parse("C").unwrap());
        let files = files(&plan).unwrap();
        let (path, text) = files.iter().find(|(p, _)| p.starts_with("jaeger/")).unwrap();
        assert_eq!(path, "jaeger/config.json");
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let badger = &doc["extensions"]["jaeger_storage"]["backends"]["traces"]["badger"];
        assert_eq!(badger["ephemeral"], false);
        assert_eq!(badger["directories"]["keys"], "/badger/keys");
        assert_eq!(badger["ttl"]["spans"], "168h");
        assert_eq!(doc["exporters"]["jaeger_storage_exporter"]["trace_storage"], "traces");
        assert_eq!(doc["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4317");
    }

    #[test]
    fn loki_applies_retention_and_reports_nothing() {
        let plan = plan(DKP, TopologyId::parse("C").unwrap());
        let files = files(&plan).unwrap();
        let (path, text) = files.iter().find(|(p, _)| p.starts_with("loki/")).unwrap();
        assert_eq!(path, "loki/loki.yaml");
        let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(doc["compactor"]["retention_enabled"], true);
        assert_eq!(doc["compactor"]["delete_request_store"], "filesystem");
        assert_eq!(doc["limits_config"]["retention_period"], "168h");
        assert_eq!(doc["analytics"]["reporting_enabled"], false);
        assert_eq!(doc["schema_config"]["configs"][0]["from"], "2020-10-24");
        assert_eq!(doc["common"]["path_prefix"], "/loki");
    }

    #[test]
    fn prometheus_yml_reads_back() {
        let plan = plan(DKP, TopologyId::parse("C").unwrap());
        let files = files(&plan).unwrap();
        let (path, text) = files.iter().find(|(p, _)| p.ends_with("prometheus.yml")).unwrap();
        assert_eq!(path, "prometheus/prometheus.yml");
        let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(doc["storage"]["tsdb"]["retention"]["time"], "15d");
        assert_eq!(doc["storage"]["tsdb"]["retention"]["size"], "8192MB");
        assert_eq!(doc["storage"]["tsdb"]["out_of_order_time_window"], "30m");
        assert_eq!(doc["otlp"]["promote_resource_attributes"][0], "service.instance.id");
    }
}
