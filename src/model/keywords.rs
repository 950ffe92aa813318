//! The keyword-valued fields of the stack format: topology, priorities, targets, signals,
//! instrumentations and the like (parse stage).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use crate::model::reader::Keyword;
pub(crate) use crate::topology::TopologyId;

/// The `topology` field: a fixed architecture or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopologyChoice {
    /// Choose from `priorities`.
    Auto,
    /// This one.
    Fixed(TopologyId),
}

impl JsonSchema for TopologyChoice {
    fn schema_name() -> Cow<'static, str> {
        "TopologyChoice".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids = TopologyId::all();
        let both = |c: char| format!("{}{}", c.to_ascii_uppercase(), c.to_ascii_lowercase());
        let either_case = if ids.iter().all(|id| id.letter().chars().count() == 1) {
            format!("[{}]", ids.iter().flat_map(|id| id.letter().chars()).map(both).collect::<String>())
        } else {
            let words: Vec<String> = ids
                .iter()
                .map(|id| id.letter().chars().map(|c| ["[".to_string(), both(c), "]".to_string()].concat()).collect())
                .collect();
            words.join("|")
        };
        let listed: Vec<String> = ids.iter().map(|id| format!("`{}`", id.letter())).collect();
        let pattern = format!("^({either_case}|[Aa][Uu][Tt][Oo])$");
        let description = format!(
            "{} (either case) or `auto`: choose from `priorities` among the topologies whose backends the file describes.",
            listed.join(", ")
        );
        json_schema!({
            "type": "string",
            "pattern": pattern,
            "default": "auto",
            "description": description
        })
    }
}

macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
        pub(crate) enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl Keyword for $name {
            const ALL: &'static [(&'static str, Self)] = &[$(($text, $name::$variant)),+];
        }

        #[allow(dead_code, reason = "a macro for every keyword enum: not every one is printed back")]
        impl $name {
            /// The keyword as written in the stack file.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

keyword_enum! {
    /// What the team cares about most, in order; `topology: auto` ranks by these.
    Priority {
        /// Components with a long supported future upstream.
        LongTermSupport = "long-term-support",
        /// Easy to move to another backend.
        Portability = "portability",
        /// Keeps working, and loses nothing, when one part fails.
        Resilience = "resilience",
        /// Fewest moving parts to run.
        Simplicity = "simplicity",
        /// Traces, metrics and logs correlated in one place.
        Correlation = "correlation",
        /// Smallest attack surface, fewest credentials spread around.
        Security = "security",
    }
}

keyword_enum! {
    /// Which build of the OpenTelemetry Collector the collectors run (`data/distributions/`).
    DistributionId {
        /// OpenTelemetry Collector Contrib, at `collector.version`.
        Contrib = "contrib",
        /// Elastic's distribution (EDOT Collector) at the release otelplan pins.
        Edot = "edot",
    }
}

keyword_enum! {
    /// A deployment target whose files otelplan writes.
    Target {
        /// docker-compose files.
        Compose = "compose",
        /// Kubernetes manifests (kustomize).
        Kubernetes = "kubernetes",
    }
}

keyword_enum! {
    /// A telemetry signal.
    Signal {
        /// Distributed traces (red in diagrams).
        Traces = "traces",
        /// Metrics (blue).
        Metrics = "metrics",
        /// Logs (green).
        Logs = "logs",
    }
}

impl Signal {
    /// All three, in pipeline order.
    pub(crate) const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];
}

keyword_enum! {
    /// A client library of a Django service that gets instrumented.
    Instrumentation {
        /// PostgreSQL through `psycopg2`.
        Psycopg2 = "psycopg2",
        /// PostgreSQL through `psycopg` 3.
        Psycopg = "psycopg",
        /// Redis through redis-py.
        Redis = "redis",
        /// Elasticsearch through elasticsearch-py (traces natively from 8.13).
        Elasticsearch = "elasticsearch",
        /// Kafka through kafka-python.
        KafkaPython = "kafka-python",
        /// Kafka through confluent-kafka.
        ConfluentKafka = "confluent-kafka",
        /// Celery tasks: a span where a task is sent and where it runs, in one trace.
        Celery = "celery",
        /// Outgoing HTTP through requests.
        Requests = "requests",
        /// Outgoing HTTP through urllib3.
        Urllib3 = "urllib3",
        /// Outgoing HTTP through HTTPX.
        Httpx = "httpx",
    }
}

keyword_enum! {
    /// How a Kafka cluster's metrics are collected.
    KafkaMetrics {
        /// The collector's `kafka_metrics` receiver scrapes the brokers.
        Receiver = "receiver",
        /// The OpenTelemetry Java agent in the broker JVM exports OTLP.
        Jmx = "jmx",
    }
}

keyword_enum! {
    /// The kind of an existing Kubernetes workload that otelplan patches.
    WorkloadKind {
        /// `apps/v1` Deployment.
        Deployment = "Deployment",
        /// `apps/v1` StatefulSet.
        StatefulSet = "StatefulSet",
        /// `apps/v1` DaemonSet.
        DaemonSet = "DaemonSet",
    }
}

keyword_enum! {
    /// The kind of a service of the stack.
    ServiceKind {
        /// A Python (Django) service, instrumented with the OpenTelemetry SDK.
        Django = "django",
        /// A PostgreSQL server.
        Postgres = "postgres",
        /// A Redis server.
        Redis = "redis",
        /// An Elasticsearch cluster of the application (not the telemetry store).
        Elasticsearch = "elasticsearch",
        /// A Kafka cluster.
        Kafka = "kafka",
    }
}
