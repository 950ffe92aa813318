//! Plan stage: the workloads otelplan runs, described once and target-neutral — image,
//! placement and replicas, resources, storage, ports, arguments, environment, user, probes.
//! Built from the collector roles, the deployed backends and their companions, with the
//! numbers of `plan::sizing` and the data of `data/backends.yaml`. The compose and Kubernetes
//! emitters map each workload to their objects; `compare` sums the same workloads.

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::Target;
use crate::plan::app::EnvValue;
use crate::plan::backend_spec::{Catalog, CheckSpec, PortSpec, ProgramSpec, ResourceSpec, UserSpec};
use crate::plan::collector::{CollectorRole, HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, STORAGE_DIR};
use crate::plan::deploy::{DeployedBackend, Deployment};
use crate::plan::es_setup::EsSetup;
use crate::plan::role_spec::Placement;
use crate::plan::store_config::{PrometheusConfig, StoreConfig, PROMETHEUS_RULES};
use crate::plan::{sizing, ApmAuth, ApmServerPlan, EsAuth};
use crate::topology::BackendKind;

/// What a workload is, for the emitters' object shapes and labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum WorkloadKind {
    /// A collector of the role at this index of `Plan::roles`.
    Collector(usize),
    /// A deployed backend.
    Backend(BackendKind),
    /// Kibana.
    Kibana,
    /// The one-shot setup of a deployed Elasticsearch.
    ElasticsearchSetup,
    /// Grafana.
    Grafana,
    /// The deployed Kafka of the buffer.
    Buffer,
}

/// How many replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Replicas {
    /// Between `min` and `max`, by an autoscaler (compose runs one).
    Scaled {
        /// Minimum.
        min: u32,
        /// Maximum.
        max: u32,
    },
    /// Exactly this many, each one known to its senders (no autoscaler: a change re-routes
    /// traces).
    Fixed(u32),
    /// Exactly one.
    One,
    /// One on every node.
    PerNode,
    /// In the pod of a datastore's workload.
    Sidecar,
    /// Runs to completion once.
    OneShot,
}

impl Replicas {
    /// The replicas counted for resources: the minimum of a scaled workload, one otherwise
    /// (a per-node agent counts once: the node count is the cluster's).
    pub(crate) fn counted(self) -> u32 {
        match self {
            Replicas::Scaled { min, .. } | Replicas::Fixed(min) => min,
            Replicas::One | Replicas::PerNode | Replicas::Sidecar | Replicas::OneShot => 1,
        }
    }
}

/// A value of the container's environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum EnvSource {
    /// A literal or a secret, as apps have them.
    Value(EnvValue),
    /// The name of the node the pod runs on (Kubernetes only).
    NodeName,
    /// The URL of an address, as the target resolves it.
    Url(crate::plan::Addr),
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EnvVar {
    /// Its name in the container.
    pub(crate) name: String,
    /// Its value.
    pub(crate) source: EnvSource,
    /// Only for this target.
    pub(crate) only: Option<Target>,
}

impl EnvVar {
    fn literal(name: &str, value: impl Into<String>) -> Self {
        EnvVar { name: name.to_string(), source: EnvSource::Value(EnvValue::Literal(value.into())), only: None }
    }

    fn secret(name: &str, env: &EnvRef) -> Self {
        EnvVar {
            name: name.to_string(),
            source: EnvSource::Value(EnvValue::Secret { prefix: String::new(), env: env.clone() }),
            only: None,
        }
    }

    /// The secret it reads, if any.
    pub(crate) fn secret_ref(&self) -> Option<&EnvRef> {
        match &self.source {
            EnvSource::Value(EnvValue::Secret { env, .. }) => Some(env),
            _ => None,
        }
    }
}

/// A health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum Check {
    /// HTTP GET of `path` on the named port.
    Http {
        /// Path.
        path: String,
        /// Port name.
        port: String,
    },
    /// TCP connect to a port.
    Tcp(u16),
    /// A shell command, run with `bash -c`.
    Exec(String),
}

/// When a container is ready and when it is restarted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Probes {
    /// Readiness.
    pub(crate) readiness: Check,
    /// Seconds a readiness check may take, when not the default.
    pub(crate) readiness_timeout_seconds: Option<u32>,
    /// Liveness.
    pub(crate) liveness: Check,
    /// Seconds before the first liveness check.
    pub(crate) liveness_delay_seconds: u32,
}

/// A volume that keeps data across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Storage {
    /// Its name within the workload (Kubernetes claim template: `storage`, `data`).
    pub(crate) key: &'static str,
    /// Its name as a compose named volume.
    pub(crate) volume: String,
    /// Where it is mounted.
    pub(crate) path: String,
    /// Its size, when it is a volume of its own (a claim on Kubernetes); without one it lives
    /// as long as the pod or on the node, as the placement has it.
    pub(crate) size_gib: Option<u32>,
    /// Whether the image has the directory, owned by the user it runs as (a new compose volume
    /// takes that ownership; otherwise it starts root-owned and is handed over first).
    pub(crate) in_image: bool,
}

/// One workload, decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Workload {
    /// What it is.
    pub(crate) kind: WorkloadKind,
    /// Its compose service and Kubernetes object name.
    pub(crate) name: String,
    /// Its `app.kubernetes.io/component` label.
    pub(crate) component: String,
    /// Its container's name.
    pub(crate) container: String,
    /// Image with tag.
    pub(crate) image: String,
    /// Replicas.
    pub(crate) replicas: Replicas,
    /// Requests and limits of one replica.
    pub(crate) resources: ResourceSpec,
    /// Ports it listens on.
    pub(crate) ports: Vec<PortSpec>,
    /// Arguments.
    pub(crate) args: Vec<String>,
    /// Environment, in order.
    pub(crate) env: Vec<EnvVar>,
    /// User and group.
    pub(crate) user: UserSpec,
    /// Whether its root filesystem is read-only.
    pub(crate) read_only_root: bool,
    /// Notes for the manifests (why a root filesystem stays writable, how it runs).
    pub(crate) notes: Vec<String>,
    /// Persistent storage, if any.
    pub(crate) storage: Option<Storage>,
    /// Scratch directories (Kubernetes: emptyDir).
    pub(crate) scratch: Vec<String>,
    /// Where a config file otelplan writes is mounted.
    pub(crate) config: Option<String>,
    /// Where that file is in the tree (a deployed program's; a collector's is its role's).
    pub(crate) config_file: Option<String>,
    /// More files of the tree it reads, beside its configuration (read-only).
    pub(crate) files: Vec<MountedFile>,
    /// Health checks.
    pub(crate) probes: Option<Probes>,
    /// A compose healthcheck command (the image has the tool it runs).
    pub(crate) compose_healthcheck: Option<String>,
    /// TLS files its configs name (paths in the container), which the team provides.
    pub(crate) tls_files: Vec<String>,
}

impl Workload {
    /// Whether it reads a secret.
    pub(crate) fn reads_secrets(&self) -> bool {
        self.env.iter().any(|e| e.secret_ref().is_some())
    }

    /// The number of the port called `name`.
    pub(crate) fn port(&self, name: &str) -> Option<u16> {
        self.ports.iter().find(|p| p.name == name).map(|p| p.port)
    }

    /// The compose services that run it, with their volumes: itself, or for a fixed set
    /// (`Replicas::Fixed`, whose senders must know each member) one service per member, each
    /// with a volume of its own, as a StatefulSet gives each pod its claim.
    pub(crate) fn compose_members(&self) -> Vec<Member> {
        let volume = self.storage.as_ref().map(|s| s.volume.clone());
        match self.replicas {
            Replicas::Fixed(n) => (1..=n)
                .map(|i| Member {
                    service: member_name(&self.name, i),
                    volume: volume.as_deref().map(|v| member_name(v, i)),
                })
                .collect(),
            _ => vec![Member { service: self.name.clone(), volume }],
        }
    }
}

/// A file of the tree a workload reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct MountedFile {
    /// Its path in the tree.
    pub(crate) tree: String,
    /// Its path in the container.
    pub(crate) mount: String,
}

/// One compose service of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The service's name.
    pub(crate) service: String,
    /// Its named volume, if the workload has storage.
    pub(crate) volume: Option<String>,
}

/// The name of member `i` (from 1) of a fixed set called `name`: a compose service, or its
/// volume.
pub(crate) fn member_name(name: &str, i: u32) -> String {
    format!("{name}-{i}")
}

fn probes(spec: &ProgramSpec) -> Option<Probes> {
    let p = spec.probes.as_ref()?;
    let check = |c: &CheckSpec| -> Option<Check> {
        if let Some(path) = &c.http {
            return Some(Check::Http { path: path.clone(), port: c.port.clone()? });
        }
        if let Some(port) = &c.tcp {
            return Some(Check::Tcp(spec.port(port)?));
        }
        c.exec.clone().map(Check::Exec)
    };
    let readiness = check(&p.readiness)?;
    let liveness_spec = p.liveness.as_ref().unwrap_or(&p.readiness);
    Some(Probes {
        readiness_timeout_seconds: p.readiness.timeout_seconds,
        liveness: check(liveness_spec)?,
        liveness_delay_seconds: liveness_spec.initial_delay_seconds.unwrap_or(30),
        readiness,
    })
}

fn program(
    kind: WorkloadKind,
    name: &str,
    component: &str,
    container: &str,
    image: String,
    spec: &ProgramSpec,
) -> Workload {
    let mut notes: Vec<String> = spec.note.iter().cloned().collect();
    notes.extend(spec.read_only_root_reason.iter().cloned());
    Workload {
        kind,
        name: name.to_string(),
        component: component.to_string(),
        container: container.to_string(),
        image,
        replicas: Replicas::One,
        resources: spec.resources,
        ports: spec.ports.clone(),
        args: spec.args.clone(),
        env: spec.env.iter().map(|e| EnvVar { only: e.only, ..EnvVar::literal(&e.name, e.value.clone()) }).collect(),
        user: spec.user,
        read_only_root: spec.read_only_root,
        notes,
        storage: None,
        scratch: spec.scratch.clone(),
        config: spec.config.clone(),
        config_file: spec.config_file.clone(),
        files: Vec::new(),
        probes: probes(spec),
        compose_healthcheck: spec.compose_healthcheck.clone(),
        tls_files: Vec::new(),
    }
}

/// The workload of a collector role.
pub(crate) fn collector(
    index: usize,
    role: &CollectorRole,
    d: &crate::plan::distribution::Distribution,
    version: crate::model::version::CollectorVersion,
) -> anyhow::Result<Workload> {
    let spec = role.spec()?;
    let mut env = vec![EnvVar::literal("GOMEMLIMIT", format!("{}MiB", sizing::go_memory_limit(role.memory_limit_mib)))];
    if spec.placement == Placement::PerNode {
        env.push(EnvVar { name: "K8S_NODE_NAME".into(), source: EnvSource::NodeName, only: Some(Target::Kubernetes) });
    }
    env.extend(role.secrets.iter().map(|e| EnvVar::secret(e.name(), e)));
    let mut ports = Vec::new();
    if spec.listens_otlp {
        ports.push(PortSpec { name: "otlp-grpc".into(), port: OTLP_GRPC_PORT, published: false, endpoint: true });
        ports.push(PortSpec { name: "otlp-http".into(), port: OTLP_HTTP_PORT, published: false, endpoint: true });
    }
    ports.push(PortSpec { name: "health".into(), port: HEALTH_PORT, published: false, endpoint: false });
    let replicas = match spec.placement {
        Placement::Scaled => Replicas::Scaled { min: role.replicas, max: sizing::max_replicas(role.replicas) },
        Placement::Single => Replicas::One,
        Placement::PerNode => Replicas::PerNode,
        Placement::Sidecar => Replicas::Sidecar,
        Placement::Ring => Replicas::Fixed(role.replicas),
    };
    let storage = role.file_storage.then(|| Storage {
        key: "storage",
        volume: format!("{}-storage", role.name),
        path: STORAGE_DIR.to_string(),
        size_gib: role.storage_gib,
        in_image: false,
    });
    let health = Check::Http { path: "/".into(), port: "health".into() };
    Ok(Workload {
        kind: WorkloadKind::Collector(index),
        name: role.name.clone(),
        component: role.role.short(),
        container: "otelcol".into(),
        image: d.image_ref(version),
        replicas,
        resources: sizing::collector_resources(spec, role.memory_limit_mib),
        ports,
        args: feature_gates(role, d),
        env,
        user: UserSpec { uid: d.uid, gid: d.uid },
        read_only_root: true,
        notes: Vec::new(),
        storage,
        scratch: Vec::new(),
        config: Some(d.config_path.clone()),
        config_file: None,
        files: Vec::new(),
        probes: Some(Probes {
            readiness: health.clone(),
            readiness_timeout_seconds: None,
            liveness: health,
            liveness_delay_seconds: 30,
        }),
        compose_healthcheck: None,
        tls_files: role_tls_files(role),
    })
}

/// `--feature-gates=…` for the gates its components need (`data/distributions/`), if any.
fn feature_gates(role: &CollectorRole, d: &crate::plan::distribution::Distribution) -> Vec<String> {
    let kinds = role
        .receivers
        .iter()
        .map(|r| r.id.kind)
        .chain(role.processors.iter().map(|p| p.id.kind))
        .chain(role.exporters.iter().map(|e| e.id.kind));
    let gates: std::collections::BTreeSet<&str> =
        kinds.filter_map(|k| d.component(k)).flat_map(|c| c.feature_gates.iter().map(String::as_str)).collect();
    if gates.is_empty() {
        Vec::new()
    } else {
        vec![format!("--feature-gates={}", gates.into_iter().collect::<Vec<_>>().join(","))]
    }
}

/// The TLS files a collector role's config names: its intake's, and those of every server it
/// connects to.
fn role_tls_files(role: &CollectorRole) -> Vec<String> {
    use crate::plan::collector::{ExporterSpec, ReceiverSpec};
    let mut files = std::collections::BTreeSet::new();
    let mut add = |a: &crate::plan::Addr| files.extend(a.tls.iter().flat_map(|t| t.files().cloned()));
    for r in &role.receivers {
        match &r.spec {
            ReceiverSpec::Postgresql { endpoint, .. }
            | ReceiverSpec::Redis { endpoint, .. }
            | ReceiverSpec::Elasticsearch { endpoint, .. } => add(endpoint),
            ReceiverSpec::KafkaMetrics { brokers } => brokers.iter().for_each(&mut add),
            ReceiverSpec::Kafka { topics, .. } => topics.brokers.iter().for_each(&mut add),
            ReceiverSpec::Otlp { .. } | ReceiverSpec::LogFiles { .. } | ReceiverSpec::ContainerLogs { .. } => {}
        }
    }
    for e in &role.exporters {
        match &e.spec {
            ExporterSpec::OtlpGrpc { endpoint, .. }
            | ExporterSpec::OtlpHttp { endpoint, .. }
            | ExporterSpec::Elasticsearch { endpoint, .. } => add(endpoint),
            ExporterSpec::LoadBalancing { .. } => {}
            ExporterSpec::Kafka(topics) => topics.brokers.iter().for_each(&mut add),
        }
    }
    if let Some(t) = &role.telemetry {
        add(&t.endpoint);
    }
    for r in &role.receivers {
        if let ReceiverSpec::Otlp { tls: Some(t) } = &r.spec {
            files.insert(t.cert_file.clone());
            files.insert(t.key_file.clone());
            files.extend(t.client_ca_file.iter().cloned());
        }
    }
    files.into_iter().collect()
}

/// The workload of a deployed backend.
pub(crate) fn backend(
    catalog: &Catalog,
    b: &DeployedBackend,
    deployment: &Deployment,
    apm: Option<&ApmServerPlan>,
) -> Workload {
    let spec = catalog.backend(b.kind);
    let mut w = program(
        WorkloadKind::Backend(b.kind),
        &b.name,
        b.kind.key(),
        &b.kind.key().replace('_', "-"),
        b.image.clone(),
        spec,
    );
    if spec.java_heap {
        w.env.push(EnvVar::literal("ES_JAVA_OPTS", sizing::java_heap_options(spec.resources.memory_limit_mib)));
    }
    match b.kind {
        BackendKind::Elasticsearch => {
            w.env.extend(deployment.elasticsearch_password.iter().map(|pw| EnvVar::secret("ELASTIC_PASSWORD", pw)));
        }
        BackendKind::ApmServer => {
            if let Some(apm) = apm {
                if let ApmAuth::SecretToken(e) | ApmAuth::ApiKey(e) = &apm.auth {
                    w.env.push(EnvVar::secret(e.name(), e));
                }
                if let EsAuth::Basic { password: e, .. } | EsAuth::ApiKey(e) = &apm.elasticsearch_auth {
                    w.env.push(EnvVar::secret(e.name(), e));
                }
            }
        }
        BackendKind::Prometheus => {
            if let Some(StoreConfig::Prometheus(PrometheusConfig { rule_file: Some(mount), .. })) =
                deployment.store_configs.get(&b.kind)
            {
                w.files.push(MountedFile { tree: PROMETHEUS_RULES.to_string(), mount: mount.clone() });
            }
        }
        BackendKind::Jaeger | BackendKind::Loki => {}
    }
    w.storage = spec.data.as_ref().map(|data| Storage {
        key: "data",
        volume: format!("{}-{}-data", deployment.prefix, b.kind.key()),
        path: data.path.clone(),
        size_gib: Some(sizing::store_volume_gib(&data.retention)),
        in_image: data.in_image,
    });
    w
}

/// The setup job's workload: Elasticsearch's address and the passwords it sets or uses, from
/// the secrets they come from; it runs its script, mounted with the request bodies at
/// `SETUP_DIR` (the image's entrypoint runs any command but Elasticsearch as given).
fn elasticsearch_setup(setup: &EsSetup, spec: &ProgramSpec) -> Workload {
    let mut w = program(
        WorkloadKind::ElasticsearchSetup,
        &setup.name,
        "elasticsearch-setup",
        "setup",
        setup.image.clone(),
        spec,
    );
    w.replicas = Replicas::OneShot;
    w.args = vec!["bash".into(), format!("{SETUP_DIR}/{SETUP_SCRIPT}")];
    w.env.push(EnvVar { name: SETUP_URL_VAR.into(), source: EnvSource::Url(setup.elasticsearch.clone()), only: None });
    w.env.extend(setup.passwords.iter().map(|(var, env)| EnvVar::secret(var, env)));
    w
}

/// Where the setup job's files are mounted.
pub(crate) const SETUP_DIR: &str = "/setup";
/// Its script, in that directory.
pub(crate) const SETUP_SCRIPT: &str = "setup.sh";
/// The variable that gives it Elasticsearch's URL.
pub(crate) const SETUP_URL_VAR: &str = "ELASTICSEARCH_URL";

/// Kibana, the Elasticsearch setup job and Grafana, when the plan runs them.
pub(crate) fn companions(catalog: &Catalog, deployment: &Deployment) -> Vec<Workload> {
    let mut out = Vec::new();
    let c = &catalog.companions;
    if let Some(k) = &deployment.kibana {
        let mut kibana = program(WorkloadKind::Kibana, &k.name, "kibana", "kibana", k.image.clone(), &c.kibana);
        kibana.env.push(EnvVar {
            name: "ELASTICSEARCH_HOSTS".into(),
            source: EnvSource::Url(k.elasticsearch.clone()),
            only: None,
        });
        kibana.env.push(EnvVar::literal("ELASTICSEARCH_USERNAME", "kibana_system"));
        kibana.env.push(EnvVar::secret("ELASTICSEARCH_PASSWORD", &deployment.kibana_password));
        // `xpack.encryptedSavedObjects.encryptionKey` (the image turns this variable into the
        // setting; at least 32 characters). Without one Kibana may disable what relies on
        // encrypted saved objects (alerting rules, connectors), and older releases made up a key
        // at every start, so what they had encrypted could not be read after a restart.
        // https://www.elastic.co/docs/deploy-manage/security/secure-saved-objects
        kibana.env.push(EnvVar::secret("XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", &deployment.kibana_encryption_key));
        out.push(kibana);
    }
    if let Some(setup) = &deployment.elasticsearch_setup {
        out.push(elasticsearch_setup(setup, &c.elasticsearch_setup));
    }
    if let Some(g) = &deployment.grafana {
        let mut grafana =
            program(WorkloadKind::Grafana, &g.name, "grafana", "grafana", catalog.image(&c.grafana, None), &c.grafana);
        grafana.env.push(EnvVar::secret("GF_SECURITY_ADMIN_PASSWORD", &deployment.grafana_password));
        grafana.env.push(EnvVar::literal("GF_AUTH_ANONYMOUS_ENABLED", "false"));
        out.push(grafana);
    }
    out
}

/// The deployed Kafka of the buffer: a single `KRaft` node under its broker's host, listening on
/// its port, with the partitions, retention and volume the buffer's plan decided.
pub(crate) fn buffer_kafka(catalog: &Catalog, b: &crate::plan::buffer::BufferPlan, prefix: &str) -> Option<Workload> {
    let broker = b.brokers.first().filter(|_| b.deployed)?;
    let spec = &catalog.companions.kafka;
    let mut w = program(WorkloadKind::Buffer, &broker.host, "kafka", "kafka", catalog.image(spec, None), spec);
    w.ports = spec.ports.iter().map(|p| PortSpec { port: broker.port, ..p.clone() }).collect();
    if let Some(p) = &mut w.probes {
        p.readiness = Check::Tcp(broker.port);
        p.liveness = Check::Tcp(broker.port);
    }
    let port = broker.port;
    w.env.extend([
        // The controller listens on loopback only: nothing outside the pod needs it.
        EnvVar::literal("KAFKA_LISTENERS", format!("PLAINTEXT://0.0.0.0:{port},CONTROLLER://127.0.0.1:9093")),
        // Clients reconnect to what the broker advertises: its short name, which both targets
        // resolve in the collectors' network or namespace.
        EnvVar::literal("KAFKA_ADVERTISED_LISTENERS", format!("PLAINTEXT://{}:{port}", broker.host)),
        EnvVar::literal("KAFKA_NUM_PARTITIONS", b.partitions.to_string()),
        EnvVar::literal("KAFKA_LOG_RETENTION_MINUTES", b.retention_minutes.to_string()),
        EnvVar::literal("KAFKA_LOG_RETENTION_BYTES", b.retention_bytes_per_partition.to_string()),
        EnvVar::literal("KAFKA_HEAP_OPTS", sizing::java_heap_options(spec.resources.memory_limit_mib)),
    ]);
    w.storage = spec.data.as_ref().map(|data| Storage {
        key: "data",
        volume: format!("{prefix}-kafka-data"),
        path: data.path.clone(),
        size_gib: Some(b.volume_gib),
        in_image: data.in_image,
    });
    Some(w)
}

/// The sum of every workload's requests, counting a scaled workload's minimum replicas.
pub(crate) fn total(workloads: &[Workload]) -> (u32, u32) {
    workloads.iter().fold((0, 0), |(cpu, mem), w| {
        let n = w.replicas.counted();
        (cpu + w.resources.cpu_millicores * n, mem + w.resources.memory_request_mib * n)
    })
}
