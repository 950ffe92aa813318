//! Plan stage: the planner's passes. Each fills in one part of the draft plan, with one
//! signature; a topology's data (`topologies/*.yaml`, `passes:`) lists which run, in order: the
//! sources, the topology's tiers, then the backends' side. A new tier is one pass here plus its
//! name in the topologies that use it.

mod apm_server;
mod apps;
mod backends;
pub(crate) mod buffer;
mod capacity;
mod datastores;
mod deployment;
mod elastic_apm;
mod file_agents;
mod gateway;
mod intakes;
mod node_agent;
pub(crate) mod sampler;
mod scraper;
mod self_telemetry;
mod workloads;

use crate::plan::draft::Draft;

/// One pass over the draft plan.
pub(crate) type Pass = fn(&mut Draft<'_>) -> anyhow::Result<()>;

/// Every pass, by the name topologies use.
const PASSES: [(&str, Pass); 16] = [
    ("backends", backends::run),
    ("capacity", capacity::run),
    ("apps", apps::run),
    ("datastores", datastores::run),
    ("scraper", scraper::run),
    ("file-agents", file_agents::run),
    ("node-agent", node_agent::run),
    ("gateway", gateway::run),
    ("buffer", buffer::run),
    ("elastic-apm", elastic_apm::run),
    ("sampler", sampler::run),
    ("self-telemetry", self_telemetry::run),
    ("intakes", intakes::run),
    ("apm-server", apm_server::run),
    ("deployment", deployment::run),
    ("workloads", workloads::run),
];

/// The pass called `name`.
pub(crate) fn by_name(name: &str) -> Option<Pass> {
    PASSES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Topology, TopologyId};

    #[test]
    fn every_pass_a_topology_names_exists() {
        for id in TopologyId::all() {
            for name in &Topology::load(id).unwrap().passes {
                assert!(by_name(name).is_some(), "topology {}: no pass `{name}`", id.letter());
            }
        }
    }
}
