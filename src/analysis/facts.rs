//! Upstream facts as data (`data/facts.yaml`, embedded): what each backend means for the scores
//! and what it asks of a node, and where upstream overturns the design report. Read by the
//! figures and the scores of the plan stage. Component facts are in `plan::distribution`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::keywords::TopologyId;
use crate::plan::backend_spec::{Catalog, ProgramSpec};
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

/// The corrections, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    corrections: Vec<Correction>,
}

/// What the figures and scores read: the corrections, and the backends' data.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// Backends, by kind (`data/backends.yaml`).
    pub(crate) backends: &'static BTreeMap<BackendKind, ProgramSpec>,
    /// Corrections to the design report.
    pub(crate) corrections: Vec<Correction>,
}

impl Facts {
    /// The embedded table.
    pub(crate) fn load() -> anyhow::Result<Facts> {
        let table: Table = serde_yaml::from_str(SOURCE)
            .map_err(|e| anyhow::anyhow!("data/facts.yaml is invalid: {e} (this is a bug in otelplan)"))?;
        Ok(Facts { backends: &Catalog::get()?.backends, corrections: table.corrections })
    }

    /// A backend's data.
    pub(crate) fn backend(&self, kind: BackendKind) -> anyhow::Result<&ProgramSpec> {
        self.backends.get(&kind).ok_or_else(|| {
            anyhow::anyhow!("data/backends.yaml lacks backend `{}` (this is a bug in otelplan)", kind.key())
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
