//! Plan edges: one per (signal, protocol, port) between two plan nodes.

use std::fmt;

use serde::Serialize;

use crate::model::keywords::Signal;

/// How data moves along an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Protocol {
    /// OTLP over gRPC.
    OtlpGrpc,
    /// OTLP over HTTP (protobuf).
    OtlpHttp,
    /// `PostgreSQL`'s wire protocol (the postgresql receiver's queries).
    Postgresql,
    /// Redis's protocol (`INFO`).
    Redis,
    /// Elasticsearch's REST API (node and cluster stats, or bulk indexing).
    ElasticsearchHttp,
    /// Kafka's wire protocol (the `kafka_metrics` receiver).
    Kafka,
    /// Log files tailed on a shared filesystem.
    LogFiles,
    /// Container logs read from the node.
    ContainerLogs,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::OtlpGrpc => "otlp/grpc",
            Protocol::OtlpHttp => "otlp/http",
            Protocol::Postgresql => "postgresql",
            Protocol::Redis => "redis",
            Protocol::ElasticsearchHttp => "elasticsearch/http",
            Protocol::Kafka => "kafka",
            Protocol::LogFiles => "log files",
            Protocol::ContainerLogs => "container logs",
        })
    }
}

/// One edge of the plan graph: which signal flows, how, and to which port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct PlanEdge {
    /// The signal carried.
    pub(crate) signal: Signal,
    /// The protocol.
    pub(crate) protocol: Protocol,
    /// The receiving port, when there is one.
    pub(crate) port: Option<u16>,
    /// A collector's own metrics (its self-telemetry), not the stack's telemetry: such an edge
    /// may run against the flow (a sampler reports to the gateway that feeds it), so what orders
    /// the flow (the diagram's columns, compose's start order) leaves it out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) own: bool,
}
