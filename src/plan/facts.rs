//! Upstream facts as data (`data/facts.yaml`, embedded): the stability and deprecations of the
//! collector components otelplan writes, what each backend means for the scores and what it
//! asks of a node, and where upstream overturns the design report. Read by the figures and
//! the scores of the plan stage.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::keywords::TopologyId;
use crate::topology::BackendKind;

const SOURCE: &str = include_str!("../../data/facts.yaml");

/// A component's maturity as the collector's metadata states it, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stability {
    /// Scheduled for removal.
    Deprecated,
    /// No active code owners.
    Unmaintained,
    /// Not ready for production; may change or go away.
    Development,
    /// Usable, configuration may still change.
    Alpha,
    /// Configuration changes are rare and announced.
    Beta,
    /// Covered by the collector's stability guarantees.
    Stable,
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stability::Deprecated => "deprecated",
            Stability::Unmaintained => "unmaintained",
            Stability::Development => "development",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
        })
    }
}

/// The class of a collector component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ComponentClass {
    /// Takes data in.
    Receiver,
    /// Transforms data in a pipeline.
    Processor,
    /// Sends data out.
    Exporter,
    /// Serves the collector itself (health, storage).
    Extension,
}

impl fmt::Display for ComponentClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentClass::Receiver => "receiver",
            ComponentClass::Processor => "processor",
            ComponentClass::Exporter => "exporter",
            ComponentClass::Extension => "extension",
        })
    }
}

/// One component of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ComponentFacts {
    /// Its class.
    pub(crate) class: ComponentClass,
    /// Its type in the pinned collector.
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// Stability per signal (`traces`, `metrics`, `logs`; `extension` for extensions).
    pub(crate) stability: BTreeMap<String, Stability>,
    /// Old type names that still work but are deprecated.
    #[serde(default)]
    pub(crate) deprecated_aliases: Vec<String>,
}

/// CPU and memory, per replica or in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resources {
    /// CPU in millicores.
    pub(crate) cpu_millicores: u32,
    /// Memory in MiB.
    pub(crate) memory_mib: u32,
}

/// What a backend means for the scores.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendFacts {
    /// Its product name.
    pub(crate) title: String,
    /// `false` when upstream no longer recommends sending OTLP to it.
    #[serde(default = "yes")]
    pub(crate) otlp_intake_recommended: bool,
    /// Whether it computes the aggregated metrics Kibana's APM UI needs.
    #[serde(default)]
    pub(crate) apm_aggregations: bool,
    /// What one replica requests.
    pub(crate) resources: Resources,
}

fn yes() -> bool {
    true
}

/// Where current upstream facts overturn the design report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Correction {
    /// The topologies it concerns.
    pub(crate) topologies: Vec<TopologyId>,
    /// What the report says.
    pub(crate) report: String,
    /// What holds today.
    pub(crate) upstream: String,
    /// Links to the upstream sources.
    pub(crate) sources: Vec<String>,
}

/// The whole table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Facts {
    /// The collector release the component facts describe.
    pub(crate) collector_version: String,
    /// Components otelplan writes.
    pub(crate) components: Vec<ComponentFacts>,
    /// Backends, by kind.
    pub(crate) backends: BTreeMap<BackendKind, BackendFacts>,
    /// CPU per replica of each collector role (`gateway`, `scraper`, `file-agent`, `node-agent`).
    pub(crate) collector_cpu_millicores: BTreeMap<String, u32>,
    /// Corrections to the design report.
    pub(crate) corrections: Vec<Correction>,
}

impl Facts {
    /// The embedded table.
    pub(crate) fn load() -> anyhow::Result<Facts> {
        serde_yaml::from_str(SOURCE)
            .map_err(|e| anyhow::anyhow!("data/facts.yaml is invalid: {e} (this is a bug in otelplan)"))
    }

    /// The component of `class` that is written as `type_name`: its facts and whether that
    /// name is a deprecated alias.
    pub(crate) fn component(&self, class: ComponentClass, type_name: &str) -> Option<(&ComponentFacts, bool)> {
        self.components.iter().filter(|c| c.class == class).find_map(|c| {
            if c.type_name == type_name {
                Some((c, false))
            } else if c.deprecated_aliases.iter().any(|a| a == type_name) {
                Some((c, true))
            } else {
                None
            }
        })
    }

    /// A backend's facts.
    pub(crate) fn backend(&self, kind: BackendKind) -> anyhow::Result<&BackendFacts> {
        self.backends.get(&kind).ok_or_else(|| {
            anyhow::anyhow!("data/facts.yaml lacks backend `{}` (this is a bug in otelplan)", kind.key())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::component_names::type_name;
    use crate::model::version::CollectorVersion;
    use crate::plan::collector::ComponentKind as K;

    #[test]
    fn the_table_loads_and_covers_every_backend() {
        let facts = Facts::load().unwrap();
        for kind in [
            BackendKind::ApmServer,
            BackendKind::Elasticsearch,
            BackendKind::Jaeger,
            BackendKind::Prometheus,
            BackendKind::Loki,
        ] {
            assert!(facts.backend(kind).is_ok(), "{kind:?}");
        }
        assert_eq!(facts.collector_version, "0.159.0");
    }

    #[test]
    fn every_component_otelplan_writes_is_in_the_table() {
        let facts = Facts::load().unwrap();
        let kinds = [
            (K::OtlpReceiver, ComponentClass::Receiver),
            (K::PostgresqlReceiver, ComponentClass::Receiver),
            (K::RedisReceiver, ComponentClass::Receiver),
            (K::ElasticsearchReceiver, ComponentClass::Receiver),
            (K::KafkaMetricsReceiver, ComponentClass::Receiver),
            (K::FileLogReceiver, ComponentClass::Receiver),
            (K::MemoryLimiterProcessor, ComponentClass::Processor),
            (K::ResourceProcessor, ComponentClass::Processor),
            (K::K8sAttributesProcessor, ComponentClass::Processor),
            (K::OtlpGrpcExporter, ComponentClass::Exporter),
            (K::OtlpHttpExporter, ComponentClass::Exporter),
            (K::ElasticsearchExporter, ComponentClass::Exporter),
            (K::HealthCheckExtension, ComponentClass::Extension),
            (K::FileStorageExtension, ComponentClass::Extension),
        ];
        for (kind, class) in kinds {
            let (_, deprecated) = facts.component(class, type_name(kind, CollectorVersion(0, 159, 0))).unwrap();
            assert!(!deprecated, "{kind:?}");
            assert!(facts.component(class, type_name(kind, CollectorVersion(0, 130, 0))).is_some(), "{kind:?}");
        }
    }

    #[test]
    fn the_elasticsearch_exporter_is_not_deprecated() {
        let facts = Facts::load().unwrap();
        let (es, deprecated) = facts.component(ComponentClass::Exporter, "elasticsearch").unwrap();
        assert!(!deprecated);
        assert_eq!(es.stability.get("metrics"), Some(&Stability::Development));
        assert_eq!(es.stability.get("traces"), Some(&Stability::Beta));
        assert_eq!(facts.component(ComponentClass::Exporter, "otlphttp").map(|(_, d)| d), Some(true));
    }
}
