//! Plan stage: what otelplan knows about each telemetry backend and its companions, as data
//! (`data/backends.yaml`, embedded): names, ports, and how a deployed sandbox runs. The
//! workload pass turns these into workloads; validation reads the ports a sandbox listens on.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::keywords::{Signal, Target};
use crate::model::reader::Keyword;

use crate::plan::es_setup::{EsWriter, SetupSpec};
use crate::plan::store_config::StoreSpecs;
use crate::topology::BackendKind;

const SOURCE: &str = include_str!("../../data/backends.yaml");

/// A port a container listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PortSpec {
    /// Its name (Kubernetes port names, probe references).
    pub(crate) name: String,
    /// Its number.
    pub(crate) port: u16,
    /// Published on the host's loopback by compose (a UI to open in a browser).
    #[serde(default)]
    pub(crate) published: bool,
    /// A port the stack's endpoint may name when otelplan deploys the backend.
    #[serde(default)]
    pub(crate) endpoint: bool,
}

/// One health check, as data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSpec {
    /// An HTTP GET of this path on `port`.
    #[serde(default)]
    pub(crate) http: Option<String>,
    /// A named port, for `http`.
    #[serde(default)]
    pub(crate) port: Option<String>,
    /// A TCP connect to this named port.
    #[serde(default)]
    pub(crate) tcp: Option<String>,
    /// A shell command (run with `bash -c`).
    #[serde(default)]
    pub(crate) exec: Option<String>,
    /// Seconds before the first check.
    #[serde(default)]
    pub(crate) initial_delay_seconds: Option<u32>,
    /// Seconds a check may take.
    #[serde(default)]
    pub(crate) timeout_seconds: Option<u32>,
}

/// Readiness and liveness; liveness defaults to the readiness check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProbesSpec {
    /// When the container takes traffic.
    pub(crate) readiness: CheckSpec,
    /// When it is restarted.
    #[serde(default)]
    pub(crate) liveness: Option<CheckSpec>,
}

/// An environment variable a sandbox always gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvSpec {
    /// Name.
    pub(crate) name: String,
    /// Value.
    pub(crate) value: String,
    /// Only for this target (`kubernetes`).
    #[serde(default)]
    pub(crate) only: Option<Target>,
}

/// How long a store keeps one signal, and what a day of it takes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignalRetention {
    /// Days kept.
    pub(crate) days: u32,
    /// MiB one day takes on disk (the ingest the sandbox is sized for).
    pub(crate) daily_mib: u32,
}

/// What a store keeps: each signal's retention, and room for what the program keeps besides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionSpec {
    /// GiB the program needs besides the retained data (write-ahead logs, caches, work files).
    #[serde(default)]
    pub(crate) base_gib: u32,
    /// Per signal the store keeps.
    pub(crate) signals: BTreeMap<Signal, SignalRetention>,
}

impl RetentionSpec {
    /// The days `signal` is kept, when the store keeps it.
    pub(crate) fn days(&self, signal: Signal) -> Option<u32> {
        self.signals.get(&signal).map(|s| s.days)
    }
}

/// A persistent data directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataSpec {
    /// Where the program keeps its data.
    pub(crate) path: String,
    /// What it keeps, and for how long; the volume is sized from it (`plan::sizing`).
    pub(crate) retention: RetentionSpec,
    /// Whether the image has the directory, owned by its user (Docker gives a new named
    /// volume that ownership); without it compose hands the volume over first.
    #[serde(default = "yes")]
    pub(crate) in_image: bool,
}

/// User and group a container runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserSpec {
    /// User id.
    pub(crate) uid: u32,
    /// Group id.
    pub(crate) gid: u32,
}

/// CPU and memory of one replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceSpec {
    /// CPU request, millicores.
    pub(crate) cpu_millicores: u32,
    /// Memory request, MiB.
    pub(crate) memory_request_mib: u32,
    /// Memory limit, MiB.
    pub(crate) memory_limit_mib: u32,
}

/// How Grafana reads a store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrafanaSource {
    /// The data source type.
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// The named port it queries, when not the endpoint's.
    #[serde(default)]
    pub(crate) port: Option<String>,
    /// Whether it is Grafana's default data source.
    #[serde(default)]
    pub(crate) default: bool,
}

/// Who may connect to a deployed store without authentication of its own, by named port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngressSpec {
    /// Ports the collectors that write to it use.
    pub(crate) write: Vec<String>,
    /// Ports Grafana reads it on.
    pub(crate) read: Vec<String>,
}

/// A program otelplan can run: a backend or a companion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools, reason = "independent facts read from data")]
pub(crate) struct ProgramSpec {
    /// Product name.
    pub(crate) title: String,
    /// Image repository.
    pub(crate) image: String,
    /// Default tag; `elastic_stack` means the catalog's Elastic Stack version.
    pub(crate) tag: String,
    /// Ports, the endpoint's first.
    #[serde(default)]
    pub(crate) ports: Vec<PortSpec>,
    /// Where the stack's endpoint usually points (hints, stand-ins in `compare`).
    #[serde(default)]
    pub(crate) example_endpoint: String,
    /// User and group.
    pub(crate) user: UserSpec,
    /// Whether its root filesystem can be read-only.
    pub(crate) read_only_root: bool,
    /// Why not, when it cannot.
    #[serde(default)]
    pub(crate) read_only_root_reason: Option<String>,
    /// A note on how it runs, for the manifests.
    #[serde(default)]
    pub(crate) note: Option<String>,
    /// Arguments.
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// Fixed environment.
    #[serde(default)]
    pub(crate) env: Vec<EnvSpec>,
    /// Whether a Java heap size follows from its memory (`ES_JAVA_OPTS`).
    #[serde(default)]
    pub(crate) java_heap: bool,
    /// A config file otelplan writes, mounted at this path.
    #[serde(default)]
    pub(crate) config: Option<String>,
    /// Where that file is in the tree (and under `kubernetes/`).
    #[serde(default)]
    pub(crate) config_file: Option<String>,
    /// Persistent data.
    #[serde(default)]
    pub(crate) data: Option<DataSpec>,
    /// Directories it writes scratch files to (Kubernetes: emptyDir, for a read-only root).
    #[serde(default)]
    pub(crate) scratch: Vec<String>,
    /// Health checks.
    #[serde(default)]
    pub(crate) probes: Option<ProbesSpec>,
    /// A compose healthcheck command, where the image has a tool to run one.
    #[serde(default)]
    pub(crate) compose_healthcheck: Option<String>,
    /// Requests and limits.
    pub(crate) resources: ResourceSpec,
    /// `false` when upstream no longer recommends sending OTLP to it.
    #[serde(default = "yes")]
    pub(crate) otlp_intake_recommended: bool,
    /// Whether it computes the aggregated metrics Kibana's APM UI needs.
    #[serde(default)]
    pub(crate) apm_aggregations: bool,
    /// How Grafana reads it, when it can.
    #[serde(default)]
    pub(crate) grafana: Option<GrafanaSource>,
    /// Who may connect (a `NetworkPolicy` on Kubernetes), for a store without authentication.
    #[serde(default)]
    pub(crate) ingress: Option<IngressSpec>,
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = String::deserialize(de)?;
        Target::ALL
            .iter()
            .find(|(t, _)| *t == text)
            .map(|(_, target)| *target)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown target `{text}`")))
    }
}

fn yes() -> bool {
    true
}

/// Companions of deployed stores.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Companions {
    /// Kibana, beside a deployed Elasticsearch.
    pub(crate) kibana: ProgramSpec,
    /// The one-shot job that sets a deployed Elasticsearch up (`elasticsearch_setup`).
    pub(crate) elasticsearch_setup: ProgramSpec,
    /// Grafana, beside C's deployed stores.
    pub(crate) grafana: ProgramSpec,
    /// The single-node Kafka of a deployed buffer (`collector.buffer.kafka.deploy`).
    pub(crate) kafka: ProgramSpec,
}

/// The whole catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Catalog {
    /// The Elastic Stack release of Elasticsearch, Kibana and APM Server.
    pub(crate) elastic_stack_version: String,
    /// Backends, by kind.
    pub(crate) backends: BTreeMap<BackendKind, ProgramSpec>,
    /// What the configuration files of deployed stores set.
    pub(crate) store_configs: StoreSpecs,
    /// What the setup job does to a deployed Elasticsearch.
    pub(crate) elasticsearch_setup: SetupSpec,
    /// Companions.
    pub(crate) companions: Companions,
}

impl Catalog {
    /// The embedded catalog, parsed once and checked to describe every backend kind.
    pub(crate) fn get() -> anyhow::Result<&'static Catalog> {
        static PARSED: OnceLock<Result<Catalog, String>> = OnceLock::new();
        PARSED
            .get_or_init(|| {
                let c: Catalog = serde_yaml::from_str(SOURCE).map_err(|e| format!("data/backends.yaml: {e}"))?;
                if let Some(k) = BackendKind::ALL.iter().find(|k| !c.backends.contains_key(k)) {
                    return Err(format!("data/backends.yaml lacks backend `{}`", k.key()));
                }
                for w in [EsWriter::ApmServer, EsWriter::Collector] {
                    c.elasticsearch_setup.writer(w).map_err(|e| e.to_string())?;
                }
                Ok(c)
            })
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e} (this is a bug in otelplan)"))
    }

    /// The entry of `kind` (`get` checked that every kind has one).
    pub(crate) fn backend(&self, kind: BackendKind) -> &ProgramSpec {
        &self.backends[&kind]
    }

    /// `program`'s image with `tag`, or its default tag.
    pub(crate) fn image(&self, program: &ProgramSpec, tag: Option<&str>) -> String {
        let default = if program.tag == "elastic_stack" { &self.elastic_stack_version } else { &program.tag };
        format!("{}:{}", program.image, tag.unwrap_or(default))
    }
}

impl ProgramSpec {
    /// The ports the stack's endpoint may name when otelplan deploys it.
    pub(crate) fn endpoint_ports(&self) -> Vec<u16> {
        self.ports.iter().filter(|p| p.endpoint).map(|p| p.port).collect()
    }

    /// The number of the port called `name`.
    pub(crate) fn port(&self, name: &str) -> Option<u16> {
        self.ports.iter().find(|p| p.name == name).map(|p| p.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_describes_every_backend_and_pins_images() {
        let c = Catalog::get().unwrap();
        let es = c.backend(BackendKind::Elasticsearch);
        assert_eq!(c.image(es, None), "docker.elastic.co/elasticsearch/elasticsearch:9.5.2");
        assert_eq!(c.image(c.backend(BackendKind::Loki), Some("3.6.0")), "grafana/loki:3.6.0");
        assert_eq!(c.image(&c.companions.kibana, None), "docker.elastic.co/kibana/kibana:9.5.2");
        for kind in BackendKind::ALL {
            let b = c.backend(kind);
            let ports = b.endpoint_ports();
            assert!(!ports.is_empty(), "{kind:?}");
            assert!(ports.iter().any(|p| b.example_endpoint.ends_with(&format!(":{p}"))), "{kind:?}");
            for port in b.ingress.iter().flat_map(|i| i.write.iter().chain(&i.read)) {
                assert!(b.port(port).is_some(), "{kind:?}: ingress port `{port}`");
            }
            if let Some(probes) = &b.probes {
                for check in std::iter::once(&probes.readiness).chain(&probes.liveness) {
                    for port in check.port.iter().chain(&check.tcp) {
                        assert!(b.port(port).is_some(), "{kind:?}: probe port `{port}`");
                    }
                }
            }
        }
    }
}
