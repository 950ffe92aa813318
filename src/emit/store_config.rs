//! Emit stage: the configuration files of deployed stores, from the plan's `StoreConfig`s —
//! `prometheus.yml`. Built as data and serialised; the files are the same for both targets
//! (nothing in them depends on where the store runs).

use crate::emit::yaml::{document, map, s, strings};
use crate::plan::store_config::{PrometheusConfig, StoreConfig};
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

/// The file of one store's configuration.
pub(crate) fn render(config: &StoreConfig) -> String {
    match config {
        StoreConfig::Prometheus(c) => prometheus(c),
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
