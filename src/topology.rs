//! Topologies as data: `topologies/a.yaml` … `d.yaml`, embedded in the binary and read by the
//! planner (where apps send each signal, which backend serves it, pros and cons). How well each
//! one serves a priority is computed from its plan for the stack (`plan::score`), not stored here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use include_dir::{include_dir, Dir};

use crate::model::keywords::Signal;

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
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Topology {
    /// `A` … `D`, or another file's id.
    pub(crate) id: TopologyId,
    /// A short title.
    pub(crate) title: String,
    /// One paragraph on how data flows.
    pub(crate) summary: String,
    /// The planner's passes, in order (`src/plan/pass/`): the sources, this topology's tiers,
    /// then the backends' side.
    pub(crate) passes: Vec<String>,
    /// Where Django services send OTLP.
    pub(crate) apps_send_to: Destination,
    /// Where datastore collectors (scraper, agents) send OTLP.
    pub(crate) collectors_send_to: Destination,
    /// The backend that receives each signal from the last collector (or from the apps).
    pub(crate) sinks: BTreeMap<Signal, BackendKind>,
    /// Intakes and the store each one writes to.
    pub(crate) intakes: BTreeMap<BackendKind, BackendKind>,
    /// Advantages, in our words.
    pub(crate) pros: Vec<Claim>,
    /// Drawbacks, in our words.
    pub(crate) cons: Vec<Claim>,
}

/// A pro or con, true of every plan of the topology, or only of plans that write (`when`) or
/// do not write (`unless`) some collector component.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Claim {
    /// What is claimed.
    pub(crate) text: String,
    /// Only when the plan's configs write this component.
    pub(crate) when: Option<crate::plan::collector::ComponentKind>,
    /// Only when they do not.
    pub(crate) unless: Option<crate::plan::collector::ComponentKind>,
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Conditional {
            text: String,
            #[serde(default)]
            when: Option<crate::plan::collector::ComponentKind>,
            #[serde(default)]
            unless: Option<crate::plan::collector::ComponentKind>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Plain(String),
            Conditional(Conditional),
        }
        Ok(match Written::deserialize(de)? {
            Written::Plain(text) => Claim { text, when: None, unless: None },
            Written::Conditional(c) => Claim { text: c.text, when: c.when, unless: c.unless },
        })
    }
}

/// The claims that hold for a plan whose configs write `kinds`.
pub(crate) fn claims_for(
    claims: &[Claim],
    kinds: &std::collections::BTreeSet<crate::plan::collector::ComponentKind>,
) -> Vec<String> {
    claims
        .iter()
        .filter(|c| c.when.is_none_or(|k| kinds.contains(&k)) && c.unless.is_none_or(|k| !kinds.contains(&k)))
        .map(|c| c.text.clone())
        .collect()
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

/// The embedded `topologies/` directory: one YAML file per topology.
static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/topologies");

/// A topology's id: the `id` of one of the embedded `topologies/*.yaml` files (`A` … `D` for
/// the design report's four). A new topology is one more file there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct TopologyId(&'static str);

impl TopologyId {
    /// The id as written (`A`).
    pub(crate) fn letter(self) -> &'static str {
        self.0
    }

    /// Every embedded topology, in id order (empty only if the embedded data is broken, which
    /// the tests rule out).
    pub(crate) fn all() -> Vec<TopologyId> {
        registry().map(|r| r.iter().map(|t| t.id).collect()).unwrap_or_default()
    }

    /// The topology `text` names, in either case.
    pub(crate) fn parse(text: &str) -> Option<TopologyId> {
        Self::all().into_iter().find(|id| id.0.eq_ignore_ascii_case(text))
    }
}

impl<'de> Deserialize<'de> for TopologyId {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let s = String::deserialize(de)?;
        TopologyId::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown topology `{s}`")))
    }
}

#[cfg(test)]
impl TopologyId {
    /// The design report's four, by name, for tests.
    pub(crate) const A: TopologyId = TopologyId("A");
    pub(crate) const B: TopologyId = TopologyId("B");
    pub(crate) const C: TopologyId = TopologyId("C");
    pub(crate) const D: TopologyId = TopologyId("D");
}

/// One file as written; its `id` becomes a `TopologyId`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    id: String,
    title: String,
    summary: String,
    passes: Vec<String>,
    apps_send_to: Destination,
    collectors_send_to: Destination,
    sinks: BTreeMap<Signal, BackendKind>,
    intakes: BTreeMap<BackendKind, BackendKind>,
    pros: Vec<Claim>,
    cons: Vec<Claim>,
}

/// Every embedded topology, parsed once, in id order.
fn registry() -> anyhow::Result<&'static [Topology]> {
    static PARSED: OnceLock<Result<Vec<Topology>, String>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        let mut out = Vec::new();
        for file in EMBEDDED.files().filter(|f| f.path().extension().is_some_and(|e| e == "yaml")) {
            let name = file.path().display();
            let text = file.contents_utf8().ok_or_else(|| format!("topologies/{name} is not UTF-8"))?;
            out.push(Topology::from_yaml(text).map_err(|e| format!("topologies/{name} is invalid: {e}"))?);
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    });
    parsed.as_deref().map_err(|e| anyhow::anyhow!("{e} (this is a bug in otelplan)"))
}

impl Topology {
    /// A topology described in YAML (the format of `topologies/*.yaml`). Its id lives as long
    /// as the process: the few embedded ones are read once.
    pub(crate) fn from_yaml(text: &str) -> Result<Topology, String> {
        let w: Written = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Topology {
            id: TopologyId(Box::leak(w.id.into_boxed_str())),
            title: w.title,
            summary: w.summary,
            passes: w.passes,
            apps_send_to: w.apps_send_to,
            collectors_send_to: w.collectors_send_to,
            sinks: w.sinks,
            intakes: w.intakes,
            pros: w.pros,
            cons: w.cons,
        })
    }

    /// The embedded description of `id`.
    pub(crate) fn load(id: TopologyId) -> anyhow::Result<Topology> {
        registry()?
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no description of topology {} (this is a bug in otelplan)", id.letter()))
    }

    /// Whether anything sends to a gateway tier.
    pub(crate) fn uses_gateway(&self) -> bool {
        self.apps_send_to == Destination::Gateway || self.collectors_send_to == Destination::Gateway
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topology_loads() {
        for id in TopologyId::all() {
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
            assert!(!con.text.to_lowercase().contains("deprecated"), "{}", con.text);
        }
        assert!(d.cons.iter().any(|c| c.text.contains("elasticapm")));
    }

    #[test]
    fn d_claims_follow_the_components_its_configs_write() {
        use crate::plan::collector::ComponentKind as K;
        let d = Topology::load(TopologyId::D).unwrap();
        let contrib: std::collections::BTreeSet<K> = [K::ElasticsearchExporter].into();
        let edot: std::collections::BTreeSet<K> = [K::ElasticsearchExporter, K::ElasticApmConnector].into();
        let lacks = |texts: &[String]| texts.iter().any(|t| t.contains("has no `elasticapm`"));
        assert!(lacks(&claims_for(&d.cons, &contrib)));
        assert!(!lacks(&claims_for(&d.cons, &edot)), "with EDOT the configs compute the aggregations");
        assert!(claims_for(&d.pros, &edot).len() > claims_for(&d.pros, &contrib).len());
    }
}
