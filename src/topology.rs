//! Topologies as data: `topologies/a.yaml` … `d.yaml`, embedded in the binary and read by the
//! planner (where apps send each signal, which backend serves it, pros and cons). How well each
//! one serves a priority is computed from its plan for the stack (`plan::score`), not stored here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::keywords::{Signal, TopologyId};

/// A telemetry backend kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BackendKind {
    /// Elastic APM Server (an intake, in front of Elasticsearch).
    ApmServer,
    /// Elasticsearch (a store).
    Elasticsearch,
    /// Jaeger (trace store).
    Jaeger,
    /// Prometheus (metric store).
    Prometheus,
    /// Loki (log store).
    Loki,
}

impl BackendKind {
    /// Every backend kind, in the order they are drawn and listed.
    pub(crate) const ALL: [BackendKind; 5] = [
        BackendKind::ApmServer,
        BackendKind::Elasticsearch,
        BackendKind::Jaeger,
        BackendKind::Prometheus,
        BackendKind::Loki,
    ];

    /// The key in the stack file's `backends`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            BackendKind::ApmServer => "apm_server",
            BackendKind::Elasticsearch => "elasticsearch",
            BackendKind::Jaeger => "jaeger",
            BackendKind::Prometheus => "prometheus",
            BackendKind::Loki => "loki",
        }
    }
}

/// Where a kind of sender sends its telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Destination {
    /// The gateway collector.
    Gateway,
    /// APM Server directly.
    ApmServer,
    /// Each signal's sink directly.
    Sinks,
}

/// One architecture, as described in `topologies/*.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Topology {
    /// `A` … `D`.
    pub(crate) id: TopologyId,
    /// A short title.
    pub(crate) title: String,
    /// One paragraph on how data flows.
    pub(crate) summary: String,
    /// Where Django services send OTLP.
    pub(crate) apps_send_to: Destination,
    /// Where datastore collectors (scraper, agents) send OTLP.
    pub(crate) collectors_send_to: Destination,
    /// The backend that receives each signal from the last collector (or from the apps).
    pub(crate) sinks: BTreeMap<Signal, BackendKind>,
    /// Intakes and the store each one writes to.
    pub(crate) intakes: BTreeMap<BackendKind, BackendKind>,
    /// Advantages, in our words.
    pub(crate) pros: Vec<String>,
    /// Drawbacks, in our words.
    pub(crate) cons: Vec<String>,
}

impl<'de> Deserialize<'de> for TopologyId {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let s = String::deserialize(de)?;
        TopologyId::ALL
            .into_iter()
            .find(|t| t.letter() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown topology `{s}`")))
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let s = String::deserialize(de)?;
        Signal::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown signal `{s}`")))
    }
}

const SOURCES: [(TopologyId, &str); 4] = [
    (TopologyId::A, include_str!("../topologies/a.yaml")),
    (TopologyId::B, include_str!("../topologies/b.yaml")),
    (TopologyId::C, include_str!("../topologies/c.yaml")),
    (TopologyId::D, include_str!("../topologies/d.yaml")),
];

impl Topology {
    /// Load the embedded description of `id`. Each is parsed once per process and copied
    /// from there: choosing and comparing read them a dozen times.
    pub(crate) fn load(id: TopologyId) -> anyhow::Result<Topology> {
        static PARSED: OnceLock<Vec<(TopologyId, Result<Topology, String>)>> = OnceLock::new();
        let parsed = PARSED.get_or_init(|| {
            TopologyId::ALL.into_iter().map(|t| (t, Self::parse(t).map_err(|e| e.to_string()))).collect()
        });
        match parsed.iter().find(|(t, _)| *t == id) {
            Some((_, Ok(topology))) => Ok(topology.clone()),
            Some((_, Err(e))) => Err(anyhow::anyhow!("{e}")),
            None => anyhow::bail!("no description of topology {} (this is a bug in otelplan)", id.letter()),
        }
    }

    /// Parse the embedded description of `id`.
    fn parse(id: TopologyId) -> anyhow::Result<Topology> {
        let text =
            SOURCES.iter().find(|(t, _)| *t == id).map(|(_, s)| *s).ok_or_else(|| {
                anyhow::anyhow!("no description of topology {} (this is a bug in otelplan)", id.letter())
            })?;
        let topology: Topology = serde_yaml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "topologies/{}.yaml is invalid: {e} (this is a bug in otelplan)",
                id.letter().to_ascii_lowercase()
            )
        })?;
        anyhow::ensure!(
            topology.id == id,
            "topologies/{}.yaml describes {} (this is a bug in otelplan)",
            id.letter(),
            topology.id.letter()
        );
        Ok(topology)
    }

    /// Every backend this topology needs: the sinks and the stores behind intakes.
    pub(crate) fn needs(&self) -> Vec<BackendKind> {
        let mut out: Vec<BackendKind> = self.sinks.values().copied().collect();
        out.extend(self.intakes.values().copied());
        if self.apps_send_to == Destination::ApmServer {
            out.push(BackendKind::ApmServer);
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether the topology has a gateway collector.
    pub(crate) fn has_gateway(&self) -> bool {
        self.apps_send_to == Destination::Gateway || self.collectors_send_to == Destination::Gateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topology_loads() {
        for id in TopologyId::ALL {
            let t = Topology::load(id).unwrap();
            assert_eq!(t.sinks.len(), 3, "{id:?} names a sink per signal");
            assert!(!t.pros.is_empty() && !t.cons.is_empty());
        }
    }

    #[test]
    fn needs_follow_the_report() {
        let needs = |id| Topology::load(id).unwrap().needs();
        assert_eq!(needs(TopologyId::A), vec![BackendKind::ApmServer, BackendKind::Elasticsearch]);
        assert_eq!(needs(TopologyId::B), vec![BackendKind::ApmServer, BackendKind::Elasticsearch]);
        assert_eq!(needs(TopologyId::C), vec![BackendKind::Jaeger, BackendKind::Prometheus, BackendKind::Loki]);
        assert_eq!(needs(TopologyId::D), vec![BackendKind::Elasticsearch]);
    }

    #[test]
    fn d_never_claims_the_exporter_is_deprecated() {
        let d = Topology::load(TopologyId::D).unwrap();
        for con in &d.cons {
            assert!(!con.to_lowercase().contains("deprecated"), "{con}");
        }
        assert!(d.cons.iter().any(|c| c.contains("elasticapm")));
    }
}
