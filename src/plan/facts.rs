//! Upstream facts as data (`data/facts.yaml`, embedded): what each backend means for the scores
//! and what it asks of a node, and where upstream overturns the design report. Read by the
//! figures and the scores of the plan stage. Component facts are in `plan::distribution`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::keywords::TopologyId;
use crate::topology::BackendKind;

const SOURCE: &str = include_str!("../../data/facts.yaml");

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
    }
}
