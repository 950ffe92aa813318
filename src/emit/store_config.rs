//! Emit stage: the configuration files of deployed stores, from the plan's `StoreConfig`s —
//! `prometheus.yml`, Loki's file. Built as data and serialised; the files are the same for both targets
//! (nothing in them depends on where the store runs).

use serde_yaml::Value;

use crate::emit::yaml::{document, map, n, s, strings};
use crate::plan::store_config::{LokiConfig, PrometheusConfig, StoreConfig};
use crate::plan::Plan;

fn prometheus(c: &PrometheusConfig) -> String {
    // No scrape jobs: metrics arrive over OTLP. Retention lives in the file: Prometheus 3.14
    // deprecates the `--storage.tsdb.retention.*` flags for `storage.tsdb.retention`.
    // https://github.com/prometheus/prometheus/blob/v3.14.0/docs/configuration/configuration.md
    let value = map([
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
    ]);
    document(&value)
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

/// The file of one store's configuration.
pub(crate) fn render(config: &StoreConfig) -> String {
    match config {
        StoreConfig::Prometheus(c) => prometheus(c),
        StoreConfig::Loki(c) => loki(c),
    }
}

/// Every deployed store's configuration: its path in the tree (under `kubernetes/` too) and text.
pub(crate) fn files(plan: &Plan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for w in &plan.workloads {
        let crate::plan::workload::WorkloadKind::Backend(kind) = w.kind else { continue };
        let (Some(path), Some(config)) = (&w.config_file, plan.deployment.store_configs.get(&kind)) else { continue };
        out.push((path.clone(), render(config)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    #[test]
    fn loki_applies_retention_and_reports_nothing() {
        let plan = plan(DKP, TopologyId::parse("C").unwrap());
        let files = files(&plan);
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
        let files = files(&plan);
        let (path, text) = files.iter().find(|(p, _)| p.ends_with("prometheus.yml")).unwrap();
        assert_eq!(path, "prometheus/prometheus.yml");
        let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(doc["storage"]["tsdb"]["retention"]["time"], "15d");
        assert_eq!(doc["storage"]["tsdb"]["retention"]["size"], "8192MB");
        assert_eq!(doc["storage"]["tsdb"]["out_of_order_time_window"], "30m");
        assert_eq!(doc["otlp"]["promote_resource_attributes"][0], "service.instance.id");
    }
}
