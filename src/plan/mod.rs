//! Plan stage: from a `ValidStack` to the data-flow graph and every decision the emitters
//! translate — which collectors exist, their pipelines, endpoints, names and settings.

pub(crate) mod address;
pub(crate) mod app;
pub(crate) mod backend_spec;
pub(crate) mod buffer;
pub(crate) mod build;
pub(crate) mod capacity;
pub(crate) mod collector;
pub(crate) mod component_check;
pub(crate) mod deploy;
pub(crate) mod distribution;
pub(crate) mod draft;
pub(crate) mod edge;
pub(crate) mod es_setup;
pub(crate) mod ingress;
pub(crate) mod log_format;
pub(crate) mod node;
pub(crate) mod pass;
pub(crate) mod pod_env;
pub(crate) mod provision;
pub(crate) mod role_spec;
pub(crate) mod sizing;
pub(crate) mod store_config;
pub(crate) mod workload;

use std::collections::BTreeSet;

use petgraph::graph::DiGraph;
use petgraph::visit::EdgeRef;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Signal, Target};
use crate::model::version::CollectorVersion;
use crate::topology::Topology;

pub(crate) use address::{Addr, Flavor, Namespaces};
pub(crate) use app::AppPlan;
pub(crate) use collector::{CollectorRole, EsAuth};
pub(crate) use edge::{PlanEdge, Protocol};
pub(crate) use node::PlanNode;

/// How APM Server authenticates agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApmAuth {
    /// Anyone may send (a warning is printed).
    Open,
    /// `Authorization: Bearer <token>`.
    SecretToken(EnvRef),
    /// `Authorization: ApiKey <key>`, checked against Elasticsearch.
    ApiKey(EnvRef),
}

/// APM Server's configuration (A and B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApmServerPlan {
    /// Its address (agents and collectors send here).
    pub(crate) addr: Addr,
    /// Agent authentication.
    pub(crate) auth: ApmAuth,
    /// The Elasticsearch it writes to.
    pub(crate) elasticsearch: Addr,
    /// Credentials for Elasticsearch.
    pub(crate) elasticsearch_auth: EsAuth,
}

/// Everything the emitters need, decided.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The stack's `name`.
    pub(crate) stack_name: String,
    /// The stack's `environment`.
    pub(crate) environment: String,
    /// The chosen topology.
    pub(crate) topology: Topology,
    /// Why it was chosen (set by the analysis that chose it).
    pub(crate) reason: String,
    /// What the planner warns about (an APM Server that accepts anyone, …).
    pub(crate) warnings: Vec<crate::diagnostic::Diagnostic>,
    /// The collector version configs are written for.
    pub(crate) collector_version: CollectorVersion,
    /// The collector distribution: image, user, component names and modules.
    pub(crate) distribution: &'static distribution::Distribution,
    /// The flavour of the configuration files at the top of the tree.
    pub(crate) primary: Flavor,
    /// Deployment targets to write.
    pub(crate) targets: BTreeSet<Target>,
    /// Namespaces short hosts resolve into on Kubernetes.
    pub(crate) namespaces: Namespaces,
    /// The data-flow graph, built in sorted-id order.
    pub(crate) graph: DiGraph<PlanNode, PlanEdge>,
    /// Collector roles, in a stable order (gateway, scraper, agents, node agent).
    pub(crate) roles: Vec<CollectorRole>,
    /// APM Server, when the topology uses it.
    pub(crate) apm_server: Option<ApmServerPlan>,
    /// Django services.
    pub(crate) apps: Vec<AppPlan>,
    /// Sandboxes, hooks into the team's datastores and secrets, for the deployment targets.
    pub(crate) deployment: deploy::Deployment,
    /// Every workload the deployment files run: collectors, deployed backends, companions.
    pub(crate) workloads: Vec<workload::Workload>,
    /// The declared load.
    pub(crate) load: Option<capacity::DeclaredLoad>,
    /// The gateway sized for it, with the arithmetic.
    pub(crate) sizing: Option<capacity::GatewaySizing>,
    /// The Kafka buffer between the gateway and the ingest tier, when the stack has one.
    pub(crate) buffer: Option<buffer::BufferPlan>,
}

/// One edge, by node names, for listings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub(crate) struct EdgeView {
    /// Sending node's name.
    pub(crate) from: String,
    /// Receiving node's name.
    pub(crate) to: String,
    /// Signal.
    pub(crate) signal: Signal,
    /// Protocol.
    pub(crate) protocol: Protocol,
    /// Port, if any.
    pub(crate) port: Option<u16>,
}

impl Plan {
    /// The collectors the data flow has sending to `name`, by name (who may reach its intake).
    pub(crate) fn collector_senders(&self, name: &str) -> BTreeSet<&str> {
        self.graph
            .edge_references()
            .filter(|e| self.graph[e.target()].name == name)
            .filter(|e| matches!(self.graph[e.source()].kind, node::NodeKind::Collector { .. }))
            .map(|e| self.graph[e.source()].name.as_str())
            .collect()
    }

    /// Every edge, sorted by sender, receiver and signal.
    pub(crate) fn edges(&self) -> Vec<EdgeView> {
        let mut out: Vec<EdgeView> = self
            .graph
            .edge_references()
            .map(|e| EdgeView {
                from: self.graph[e.source()].name.clone(),
                to: self.graph[e.target()].name.clone(),
                signal: e.weight().signal,
                protocol: e.weight().protocol,
                port: e.weight().port,
            })
            .collect();
        out.sort();
        out
    }
}
