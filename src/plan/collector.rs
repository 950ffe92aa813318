//! The plan of one collector role: its receivers, processors, exporters, extensions and
//! pipelines, as intent. The collector emitter turns it into a config for a flavour and version.

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::Signal;
use crate::plan::address::Addr;
use crate::plan::node::RoleKind;

/// Where a collector keeps its on-disk state (persistent queue, log checkpoints).
pub(crate) const STORAGE_DIR: &str = "/var/lib/otelcol/file_storage";
/// The `health_check` extension's port.
pub(crate) const HEALTH_PORT: u16 = 13133;
/// OTLP/gRPC port of a collector.
pub(crate) const OTLP_GRPC_PORT: u16 = 4317;
/// OTLP/HTTP port of a collector.
pub(crate) const OTLP_HTTP_PORT: u16 = 4318;

/// A header value: literal text, or a prefix followed by a secret from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum HeaderValue {
    /// Written as is (escaped for the collector).
    Literal(String),
    /// `prefix` then the secret, e.g. `Bearer ` + `${env:TOKEN}`.
    Secret {
        /// Text before the secret.
        prefix: String,
        /// The secret's variable.
        env: EnvRef,
    },
}

/// Elasticsearch credentials for an exporter or receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum EsAuth {
    /// No credentials (a cluster without security).
    None,
    /// User and password.
    Basic {
        /// User name.
        user: String,
        /// Password variable.
        password: EnvRef,
    },
    /// An encoded API key.
    ApiKey(EnvRef),
}

/// What a receiver does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum ReceiverSpec {
    /// OTLP on 4317 (gRPC) and 4318 (HTTP), over TLS when the stack says.
    Otlp {
        /// The intake's certificate and client CA.
        tls: Option<crate::settings::ServerTls>,
    },
    /// The postgresql receiver.
    Postgresql {
        /// Server address.
        endpoint: Addr,
        /// Databases; empty: all.
        databases: Vec<String>,
        /// Monitoring user.
        username: String,
        /// Its password.
        password: EnvRef,
    },
    /// The redis receiver.
    Redis {
        /// Server address.
        endpoint: Addr,
        /// ACL user.
        username: Option<String>,
        /// Password.
        password: Option<EnvRef>,
    },
    /// The elasticsearch receiver.
    Elasticsearch {
        /// Cluster URL.
        endpoint: Addr,
        /// Credentials.
        auth: EsAuth,
    },
    /// The `kafka_metrics` receiver.
    KafkaMetrics {
        /// Brokers.
        brokers: Vec<Addr>,
    },
    /// The `file_log` receiver on a datastore's own log files.
    LogFiles {
        /// Globs to tail.
        include: Vec<String>,
        /// How the files are written, so how records are split and parsed.
        format: crate::plan::log_format::LogFormat,
    },
    /// The `kafka` receiver on the buffer's topics, in one consumer group.
    Kafka {
        /// The topics and brokers.
        topics: KafkaTopics,
        /// The consumer group every ingest replica joins.
        group_id: String,
    },
    /// The `file_log` receiver on the node's container logs, keeping only the listed datastores.
    ContainerLogs {
        /// Datastores whose container logs are collected: (service name, workload or container name).
        datastores: Vec<ContainerLogSource>,
    },
}

/// A datastore whose container logs the node agent keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ContainerLogSource {
    /// The service's name in the stack (becomes `service.name`).
    pub(crate) service: String,
    /// Kubernetes workload name (pod name prefix).
    pub(crate) workload: String,
    /// Kubernetes container name.
    pub(crate) container: String,
}

/// What a processor does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum ProcessorSpec {
    /// `memory_limiter` with these limits.
    MemoryLimiter {
        /// Hard limit in MiB.
        limit_mib: u32,
        /// Spike margin in MiB.
        spike_limit_mib: u32,
    },
    /// Resource attributes inserted (never overwriting what senders set).
    InsertResource(Vec<(String, String)>),
    /// Pod metadata from the Kubernetes API: by connection IP (the gateway), or by the pod
    /// uid that container logs carry, limited to the agent's own node (the node agent).
    K8sAttributes {
        /// Watch only the pods of the node the collector runs on.
        own_node: bool,
        /// Workloads whose pods are never matched (otelplan's own collectors).
        exclude_pods: Vec<String>,
    },
    /// EDOT's `elasticapm` processor with its defaults: it adds the fields Kibana's APM UI
    /// reads (transaction and span types, event outcome, …) to what passes through.
    ElasticApm,
    /// `tail_sampling`: a trace is kept when any of its rules says so.
    TailSampling(TailSampling),
}

/// The rules and memory of a `tail_sampling` processor (`plan::sizing` sizes the memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct TailSampling {
    /// Seconds from a trace's first span to its decision.
    pub(crate) decision_wait_seconds: u32,
    /// Traces held in memory at once.
    pub(crate) num_traces: u64,
    /// Keep every trace with an error span.
    pub(crate) keep_errors: bool,
    /// Keep every trace at least this slow.
    pub(crate) slower_than_ms: Option<u64>,
    /// The share of traces kept by trace id, in millionths.
    pub(crate) ratio_ppm: u32,
}

/// What a connector does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum ConnectorSpec {
    /// EDOT's `elasticapm` connector: the aggregated metrics of Kibana's APM UI (transaction,
    /// span destination and service summary metrics over 1, 10 and 60 minutes) from the
    /// traces and logs it is given.
    ElasticApm {
        /// Where it keeps its aggregation state on disk; `None`: in memory.
        directory: Option<String>,
    },
}

/// A connector instance: the exporter of one pipeline and the receiver of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Connector {
    /// Its id.
    pub(crate) id: ComponentId,
    /// What it does.
    pub(crate) spec: ConnectorSpec,
}

/// Which exporter component serves an exporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum ExporterSpec {
    /// `otlp_grpc` to `host:port`.
    OtlpGrpc {
        /// Target.
        endpoint: Addr,
        /// Headers sent with every request.
        headers: Vec<(String, HeaderValue)>,
    },
    /// `otlp_http` to a base URL (the exporter appends `/v1/<signal>`).
    OtlpHttp {
        /// Base URL.
        endpoint: Addr,
        /// Headers sent with every request.
        headers: Vec<(String, HeaderValue)>,
    },
    /// The `load_balancing` exporter, each trace to one receiver by its trace id, over OTLP/gRPC:
    /// on Kubernetes to every address `hostname` resolves to (DNS, re-read as replicas come and
    /// go); with compose to the fixed set of services `members` names
    /// ([`crate::plan::workload::member_name`]).
    LoadBalancing {
        /// The name that resolves to every receiver, and their OTLP/gRPC port.
        hostname: Addr,
        /// How many receivers compose runs, each a service of its own.
        members: u32,
    },
    /// The `elasticsearch` exporter.
    Elasticsearch {
        /// Cluster URL.
        endpoint: Addr,
        /// Credentials.
        auth: EsAuth,
    },
    /// The `kafka` exporter, each signal to its topic.
    Kafka(KafkaTopics),
}

/// The Kafka buffer's brokers and one topic per signal, as the gateway writes them and the
/// ingest tier reads them (encoding `otlp_proto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct KafkaTopics {
    /// Bootstrap brokers.
    pub(crate) brokers: Vec<Addr>,
    /// The topic of each signal.
    pub(crate) topics: std::collections::BTreeMap<Signal, String>,
}

/// A component id: `type` or `type/name`, where the type is a stable otelplan name that the
/// emitter maps to the collector version's component name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct ComponentId {
    /// Component kind, see `plan::distribution`.
    pub(crate) kind: ComponentKind,
    /// Instance name after `/`, if any.
    pub(crate) name: Option<String>,
}

/// Component types otelplan knows (each maps to a release-dependent type name, see
/// `plan::distribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ComponentKind {
    /// receiver `otlp`.
    OtlpReceiver,
    /// receiver `postgresql`.
    PostgresqlReceiver,
    /// receiver `redis`.
    RedisReceiver,
    /// receiver `elasticsearch`.
    ElasticsearchReceiver,
    /// receiver `kafka_metrics`.
    KafkaMetricsReceiver,
    /// receiver `file_log`.
    FileLogReceiver,
    /// processor `memory_limiter`.
    MemoryLimiterProcessor,
    /// processor `resource`.
    ResourceProcessor,
    /// processor `k8s_attributes`.
    K8sAttributesProcessor,
    /// processor `tail_sampling`.
    TailSamplingProcessor,
    /// exporter `otlp_grpc`.
    OtlpGrpcExporter,
    /// exporter `otlp_http`.
    OtlpHttpExporter,
    /// exporter `elasticsearch`.
    ElasticsearchExporter,
    /// exporter `load_balancing`.
    LoadBalancingExporter,
    /// extension `health_check`.
    HealthCheckExtension,
    /// extension `file_storage`.
    FileStorageExtension,
    /// exporter `debug` (tests only).
    DebugExporter,
    /// exporter `file` (tests only).
    FileExporter,
    /// processor `elasticapm` (Elastic's distribution only).
    ElasticApmProcessor,
    /// connector `elasticapm` (Elastic's distribution only).
    ElasticApmConnector,
    /// receiver `kafka` (the ingest tier of a Kafka buffer).
    KafkaReceiver,
    /// exporter `kafka` (the gateway's side of a Kafka buffer).
    KafkaExporter,
}

impl ComponentKind {
    /// Every kind.
    pub(crate) const ALL: [ComponentKind; 22] = [
        ComponentKind::OtlpReceiver,
        ComponentKind::PostgresqlReceiver,
        ComponentKind::RedisReceiver,
        ComponentKind::ElasticsearchReceiver,
        ComponentKind::KafkaMetricsReceiver,
        ComponentKind::FileLogReceiver,
        ComponentKind::MemoryLimiterProcessor,
        ComponentKind::ResourceProcessor,
        ComponentKind::K8sAttributesProcessor,
        ComponentKind::TailSamplingProcessor,
        ComponentKind::OtlpGrpcExporter,
        ComponentKind::OtlpHttpExporter,
        ComponentKind::ElasticsearchExporter,
        ComponentKind::LoadBalancingExporter,
        ComponentKind::HealthCheckExtension,
        ComponentKind::FileStorageExtension,
        ComponentKind::DebugExporter,
        ComponentKind::FileExporter,
        ComponentKind::ElasticApmProcessor,
        ComponentKind::ElasticApmConnector,
        ComponentKind::KafkaReceiver,
        ComponentKind::KafkaExporter,
    ];
}

impl ComponentId {
    /// `kind` without an instance name.
    pub(crate) fn bare(kind: ComponentKind) -> Self {
        ComponentId { kind, name: None }
    }

    /// `kind/name`.
    pub(crate) fn named(kind: ComponentKind, name: &str) -> Self {
        ComponentId { kind, name: Some(name.to_string()) }
    }
}

/// A receiver instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Receiver {
    /// Its id.
    pub(crate) id: ComponentId,
    /// What it does.
    pub(crate) spec: ReceiverSpec,
    /// Whether it keeps its read positions in the role's file storage.
    pub(crate) checkpoints: bool,
}

/// A processor instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Processor {
    /// Its id.
    pub(crate) id: ComponentId,
    /// What it does.
    pub(crate) spec: ProcessorSpec,
    /// Set when the processor only makes sense in one flavour (pod metadata exists only on
    /// Kubernetes); elsewhere it is left out of the config and its pipelines.
    pub(crate) only: Option<crate::plan::address::Flavor>,
}

/// Retry and queue behaviour of an exporter (`plan::sizing` computes the numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Delivery {
    /// Queue on disk in the role's file storage.
    pub(crate) persistent: bool,
    /// What the queue holds, in bytes of serialised telemetry. When it is full the exporter
    /// refuses new data with a retryable error (never blocks the receivers).
    pub(crate) queue_bytes: u64,
    /// The same where compose runs the role as one container, which then carries what all
    /// replicas would: with a declared load, the whole outage's backlog.
    pub(crate) compose_queue_bytes: u64,
    /// The largest request it sends, in bytes: under the 4 MiB a gRPC server accepts.
    pub(crate) batch_max_bytes: u64,
    /// Whoever hands it data waits until it is exported (the ingest tier: the Kafka receiver
    /// marks a message consumed only then, so the backlog stays in Kafka).
    pub(crate) wait_for_result: bool,
}

/// Where a collector sends its own metrics (queue sizes, refused and failed items), so they
/// reach the metrics store with the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SelfTelemetry {
    /// The OTLP/HTTP base URL (the exporter posts to `/v1/metrics`).
    pub(crate) endpoint: Addr,
    /// Headers (credentials).
    pub(crate) headers: Vec<(String, HeaderValue)>,
    /// Whether it exports with delta temporality: where metrics end in Elasticsearch, whose
    /// exporter drops cumulative histograms (`otelcol.elasticsearch.bulk_requests.latency` and
    /// the other histograms a collector reports about itself).
    pub(crate) delta: bool,
}

/// An exporter instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Exporter {
    /// Its id.
    pub(crate) id: ComponentId,
    /// What it does.
    pub(crate) spec: ExporterSpec,
    /// Queue and retry.
    pub(crate) delivery: Delivery,
}

/// A pipeline: `signal[/name]` with its components in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Pipeline {
    /// Signal.
    pub(crate) signal: Signal,
    /// Instance name (a datastore's), if any.
    pub(crate) name: Option<String>,
    /// Receivers.
    pub(crate) receivers: Vec<ComponentId>,
    /// Processors, in order (`memory_limiter` first).
    pub(crate) processors: Vec<ComponentId>,
    /// Exporters.
    pub(crate) exporters: Vec<ComponentId>,
}

/// One collector role and everything in its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CollectorRole {
    /// Which role.
    pub(crate) role: RoleKind,
    /// The service/workload name (`<stack>-gateway`).
    pub(crate) name: String,
    /// Replicas (Kubernetes: the gateway's minimum).
    pub(crate) replicas: u32,
    /// Memory limit of its container, MiB.
    pub(crate) memory_limit_mib: u32,
    /// Size of its own storage volume, where it has one (`data/roles.yaml`).
    pub(crate) storage_gib: Option<u32>,
    /// Receivers.
    pub(crate) receivers: Vec<Receiver>,
    /// Processors.
    pub(crate) processors: Vec<Processor>,
    /// Exporters.
    pub(crate) exporters: Vec<Exporter>,
    /// Connectors (each one is an exporter of some pipelines and a receiver of others).
    pub(crate) connectors: Vec<Connector>,
    /// Whether it has a `file_storage` extension (queue or checkpoints).
    pub(crate) file_storage: bool,
    /// Where it sends its own metrics.
    pub(crate) telemetry: Option<SelfTelemetry>,
    /// Pipelines.
    pub(crate) pipelines: Vec<Pipeline>,
    /// Environment variables its config reads (secrets), sorted.
    pub(crate) secrets: Vec<EnvRef>,
}

impl CollectorRole {
    /// Its kind's placement and sizing (`data/roles.yaml`).
    pub(crate) fn spec(&self) -> anyhow::Result<&'static crate::plan::role_spec::RoleSpec> {
        crate::plan::role_spec::role(self.role.spec_key())
    }

    /// The file name of its config: `gateway.yaml`, `agent-db.yaml`, …
    pub(crate) fn file_name(&self) -> String {
        format!("{}.yaml", self.role.short())
    }
}
