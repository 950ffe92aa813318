//! Plan stage: the configuration otelplan writes for each deployed store — what Prometheus
//! promotes to labels, how long every store keeps data and how it deletes the rest — decided
//! from `data/backends.yaml` (`store_configs`, each store's `data.retention`) and the volume size
//! `plan::sizing` gives it. `emit::store_config` writes the files.

use serde::{Deserialize, Serialize};

use crate::model::keywords::Signal;
use crate::plan::backend_spec::Catalog;
use crate::plan::sizing;
use crate::topology::BackendKind;

/// `store_configs.prometheus` in `data/backends.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrometheusSpec {
    /// Resource attributes made labels of every sample.
    pub(crate) promote_resource_attributes: Vec<String>,
    /// How far behind the newest sample an out-of-order one is still taken (`30m`).
    pub(crate) out_of_order_time_window: String,
    /// Where it reads otelplan's alert rules, in the container.
    pub(crate) rule_file: String,
}

/// Where otelplan writes the Prometheus alert rules on the collectors' own metrics, in the tree.
pub(crate) const PROMETHEUS_RULES: &str = "alerts/prometheus-rules.yaml";

/// `store_configs.loki` in `data/backends.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LokiSpec {
    /// How often the compactor compacts and applies retention (`10m`).
    pub(crate) compaction_interval: String,
    /// How long marked chunks wait before they are deleted (`2h`).
    pub(crate) retention_delete_delay: String,
    /// The first day of the storage schema.
    pub(crate) schema_from: String,
    /// Whether Loki reports usage to Grafana Labs.
    pub(crate) reporting_enabled: bool,
}

/// `store_configs.jaeger` in `data/backends.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JaegerSpec {
    /// The name of its one trace store (the `jaeger_storage` backend).
    pub(crate) store: String,
}

/// `store_configs` in `data/backends.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreSpecs {
    /// Prometheus.
    pub(crate) prometheus: PrometheusSpec,
    /// Jaeger.
    pub(crate) jaeger: JaegerSpec,
    /// Loki.
    pub(crate) loki: LokiSpec,
}

/// Prometheus's `prometheus.yml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PrometheusConfig {
    /// Resource attributes promoted to labels.
    pub(crate) promote_resource_attributes: Vec<String>,
    /// The out-of-order window.
    pub(crate) out_of_order_time_window: String,
    /// Days samples are kept.
    pub(crate) retention_days: u32,
    /// Size-based retention, MiB: below the volume, so blocks are deleted before it fills.
    pub(crate) retention_size_mib: u64,
    /// The alert rules it loads (a path in the container), when the collectors' own metrics
    /// land in it.
    pub(crate) rule_file: Option<String>,
}

/// Loki's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LokiConfig {
    /// Where it keeps its data (the volume).
    pub(crate) data_dir: String,
    /// Its HTTP port.
    pub(crate) http_port: u16,
    /// Hours logs are kept (`limits_config.retention_period`).
    pub(crate) retention_hours: u32,
    /// The compactor's settings and the schema's first day, from the data.
    pub(crate) spec: LokiSpec,
}

/// Jaeger's configuration file: OTLP in, one Badger store on the volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct JaegerConfig {
    /// The store's name.
    pub(crate) store: String,
    /// Badger's directory (the volume): keys and values below it.
    pub(crate) data_dir: String,
    /// Hours spans are kept (Badger's `ttl.spans`).
    pub(crate) retention_hours: u32,
    /// OTLP/gRPC port.
    pub(crate) otlp_grpc_port: u16,
    /// OTLP/HTTP port.
    pub(crate) otlp_http_port: u16,
    /// The query API and UI's port.
    pub(crate) query_port: u16,
}

/// The configuration of a deployed store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum StoreConfig {
    /// Jaeger's file.
    Jaeger(JaegerConfig),
    /// `prometheus.yml`.
    Prometheus(PrometheusConfig),
    /// Loki's file.
    Loki(LokiConfig),
}

fn retention_days(catalog: &Catalog, kind: BackendKind, signal: Signal) -> anyhow::Result<(u32, u32)> {
    let spec = catalog.backend(kind);
    let data = spec.data.as_ref().ok_or_else(|| {
        anyhow::anyhow!("data/backends.yaml gives `{}` no data directory (this is a bug in otelplan)", kind.key())
    })?;
    let days = data.retention.days(signal).ok_or_else(|| {
        anyhow::anyhow!(
            "data/backends.yaml gives `{}` no {} retention (this is a bug in otelplan)",
            kind.key(),
            signal.as_str()
        )
    })?;
    Ok((days, sizing::store_volume_gib(&data.retention)))
}

/// The configuration otelplan writes for a deployed `kind`, if it writes one; `alerts`: whether
/// the collectors' own metrics, which otelplan's alert rules read, land in it.
pub(crate) fn plan(catalog: &Catalog, kind: BackendKind, alerts: bool) -> anyhow::Result<Option<StoreConfig>> {
    let specs = &catalog.store_configs;
    Ok(match kind {
        BackendKind::Prometheus => {
            let (days, volume_gib) = retention_days(catalog, kind, Signal::Metrics)?;
            Some(StoreConfig::Prometheus(PrometheusConfig {
                promote_resource_attributes: specs.prometheus.promote_resource_attributes.clone(),
                out_of_order_time_window: specs.prometheus.out_of_order_time_window.clone(),
                retention_days: days,
                retention_size_mib: sizing::retention_size_mib(volume_gib),
                rule_file: alerts.then(|| specs.prometheus.rule_file.clone()),
            }))
        }
        BackendKind::Loki => {
            let (days, _) = retention_days(catalog, kind, Signal::Logs)?;
            let spec = catalog.backend(kind);
            Some(StoreConfig::Loki(LokiConfig {
                data_dir: spec.data.as_ref().map(|d| d.path.clone()).unwrap_or_default(),
                http_port: spec.port("http").unwrap_or(3100),
                retention_hours: days * 24,
                spec: specs.loki.clone(),
            }))
        }
        BackendKind::Jaeger => {
            let (days, _) = retention_days(catalog, kind, Signal::Traces)?;
            let spec = catalog.backend(kind);
            let port = |name: &str| {
                spec.port(name).ok_or_else(|| {
                    anyhow::anyhow!("data/backends.yaml gives Jaeger no port `{name}` (this is a bug in otelplan)")
                })
            };
            Some(StoreConfig::Jaeger(JaegerConfig {
                store: specs.jaeger.store.clone(),
                data_dir: spec.data.as_ref().map(|d| d.path.clone()).unwrap_or_default(),
                retention_hours: days * 24,
                otlp_grpc_port: port("otlp-grpc")?,
                otlp_http_port: port("otlp-http")?,
                query_port: port("ui")?,
            }))
        }
        BackendKind::ApmServer | BackendKind::Elasticsearch => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaeger_keeps_traces_on_its_volume_for_their_retention() {
        let c = Catalog::get().unwrap();
        let Some(StoreConfig::Jaeger(j)) = plan(c, BackendKind::Jaeger, false).unwrap() else {
            panic!("Jaeger gets a configuration")
        };
        assert_eq!(j.data_dir, c.backend(BackendKind::Jaeger).data.as_ref().unwrap().path);
        assert_eq!(j.retention_hours, 7 * 24);
        assert_eq!((j.otlp_grpc_port, j.otlp_http_port, j.query_port), (4317, 4318, 16686));
    }

    #[test]
    fn loki_deletes_logs_after_its_retention() {
        let c = Catalog::get().unwrap();
        let Some(StoreConfig::Loki(l)) = plan(c, BackendKind::Loki, false).unwrap() else {
            panic!("Loki gets a configuration")
        };
        assert_eq!(l.retention_hours, 7 * 24);
        assert!(!l.spec.reporting_enabled);
        assert_eq!(l.data_dir, "/loki");
    }

    #[test]
    fn prometheus_keeps_what_its_volume_holds_and_promotes_identity() {
        let c = Catalog::get().unwrap();
        let Some(StoreConfig::Prometheus(p)) = plan(c, BackendKind::Prometheus, true).unwrap() else {
            panic!("Prometheus gets a configuration")
        };
        let volume = sizing::store_volume_gib(&c.backend(BackendKind::Prometheus).data.as_ref().unwrap().retention);
        assert!(p.retention_size_mib < u64::from(volume) * 1024, "deleted before the volume fills");
        assert_eq!((p.retention_days, p.retention_size_mib), (15, 8192));
        for attribute in ["service.instance.id", "deployment.environment.name", "k8s.namespace.name", "k8s.pod.name"] {
            assert!(p.promote_resource_attributes.iter().any(|a| a == attribute), "{attribute}");
        }
        assert_eq!(p.out_of_order_time_window, "30m");
        assert_eq!(p.rule_file.as_deref(), Some("/etc/prometheus/rules/otelplan.yaml"), "it loads the alerts");
        let Some(StoreConfig::Prometheus(p)) = plan(c, BackendKind::Prometheus, false).unwrap() else { panic!() };
        assert_eq!(p.rule_file, None, "no rules where the collectors' own metrics do not land");
    }
}
