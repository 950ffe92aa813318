//! Plan nodes: services, collector roles, backends and stores of the data-flow graph.

use serde::Serialize;

use crate::model::keywords::ServiceKind;
use crate::topology::BackendKind;

/// A stable identifier of a plan node (`service/web`, `collector/gateway`, `backend/loki`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct NodeId(pub String);

/// The role of a collector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RoleKind {
    /// Receives OTLP from apps and collectors; horizontally scaled.
    Gateway,
    /// Runs the datastore receivers; exactly one replica.
    Scraper,
    /// Tails one datastore's log files on its filesystem.
    FileAgent(String),
    /// Reads container logs on each node.
    NodeAgent,
    /// Tail-samples traces: the gateway routes every span of a trace to the same one.
    Sampler,
    /// Reads the Kafka buffer's topics in one consumer group and writes to the stores.
    Ingest,
}

impl RoleKind {
    /// The key of its kind in `data/roles.yaml`.
    pub(crate) fn spec_key(&self) -> &'static str {
        match self {
            RoleKind::Gateway => "gateway",
            RoleKind::Scraper => "scraper",
            RoleKind::FileAgent(_) => "file-agent",
            RoleKind::NodeAgent => "node-agent",
            RoleKind::Sampler => "sampler",
            RoleKind::Ingest => "ingest",
        }
    }

    /// The role's short name: `gateway`, `scraper`, `agent-db`, `node-agent`.
    pub(crate) fn short(&self) -> String {
        match self {
            RoleKind::Gateway => "gateway".into(),
            RoleKind::Scraper => "scraper".into(),
            RoleKind::FileAgent(ds) => format!("agent-{ds}"),
            RoleKind::NodeAgent => "node-agent".into(),
            RoleKind::Sampler => "sampler".into(),
            RoleKind::Ingest => "ingest".into(),
        }
    }
}

/// What a plan node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum NodeKind {
    /// A Django service, instrumented with the OpenTelemetry SDK.
    App,
    /// A datastore of the stack.
    Datastore {
        /// Which kind.
        kind: ServiceKind,
    },
    /// A collector role.
    Collector {
        /// Which role.
        role: RoleKind,
    },
    /// A backend: an intake (APM Server) or a store.
    Backend {
        /// Which backend.
        kind: BackendKind,
        /// Whether otelplan deploys it.
        deployed: bool,
        /// Whether telemetry comes to rest here.
        store: bool,
    },
    /// The Kafka cluster the gateway buffers in (`collector.buffer.kafka`).
    Buffer {
        /// Whether otelplan deploys it.
        deployed: bool,
    },
}

impl NodeKind {
    /// Whether it is one of the stack's services (a Django service or a datastore).
    pub(crate) fn is_service(&self) -> bool {
        matches!(self, NodeKind::App | NodeKind::Datastore { .. })
    }
}

/// One node of the plan graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PlanNode {
    /// Stable id.
    pub(crate) id: NodeId,
    /// The name the node runs under (service name, collector service name, backend host).
    pub(crate) name: String,
    /// What it is.
    pub(crate) kind: NodeKind,
    /// Replicas (Kubernetes's view: the gateway has `gateway_replicas`, others as declared).
    pub(crate) replicas: u32,
}
