//! The generator of random valid stack files, shared by the property tests
//! (`tests/properties.rs`) and the random-stack sample CI validates with the real collector
//! (`tests/live/random_stacks.rs`).
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proptest::prelude::*;

/// Who writes to the telemetry Elasticsearch.
#[derive(Debug, Clone, Copy)]
pub enum Writer {
    /// APM Server (A, B).
    ApmServer,
    /// The collectors' exporter (D).
    Collector,
}

/// Pieces of free text: YAML indicators, interpolation syntaxes of every reader, markup,
/// non-ASCII (a line separator included), and words YAML 1.1 reads as booleans or null.
pub const PIECES: &[&str] = &[
    "a", "Z9", " ", "#", ": ", " #", ":", "\"", "'", "$", "$$", "$(HOME)", "$X", "{{x}}", "{% y %}", "é", "漢字",
    "<b>", "</title>", "&amp;", "&", "%41", "\\", "- ", "*z", "&z", "!!str", "[1]", "@", "`", "?", "|", ">", "~",
    "yes", "null", "0.1", ",", "=", "\u{2028}",
];

/// Free text of one to `max_pieces` pieces, never `${` (the spec refuses it outside secret
/// fields; a separate property checks that).
pub fn free_text(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..=max_pieces)
        .prop_map(|p| p.concat())
        .prop_filter("`${` is refused outside secret fields", |s| !s.contains("${"))
}

/// A directory name for a log path: free text without `/`, wildcards or `..`.
pub fn dir_name() -> impl Strategy<Value = String> {
    free_text(4).prop_map(|s| s.replace(['/', '*', '?', '[', ']', '{', '}'], "_").replace("..", "_"))
}

/// Where a datastore's logs go.
#[derive(Debug, Clone)]
pub enum Logs {
    None,
    Stdout,
    Files { dir: String, file: String, owner: Option<(u32, u32)> },
}

impl Logs {
    pub fn path(&self) -> Option<String> {
        match self {
            Logs::Files { dir, file, .. } => Some(format!("/var/log/{dir}/{file}")),
            Logs::None | Logs::Stdout => None,
        }
    }
}

pub fn logs() -> impl Strategy<Value = Logs> {
    prop_oneof![
        Just(Logs::None),
        Just(Logs::Stdout),
        (
            dir_name(),
            prop::sample::select(vec!["*.log", "postgresql-*.csv", "x {{y}}.log", "a:b #c $(X) $.log"]),
            prop::option::of((0u32..70_000, 0u32..70_000)),
        )
            .prop_map(|(dir, file, owner)| Logs::Files { dir, file: file.to_string(), owner }),
    ]
}

#[derive(Debug, Clone)]
pub enum Kind {
    Postgres { databases: Vec<String> },
    Redis,
    Elasticsearch,
    Kafka { brokers: usize, jmx: bool },
}

#[derive(Debug, Clone)]
pub struct Datastore {
    pub kind: Kind,
    pub username: Option<String>,
    pub password: bool,
    pub logs: Logs,
}

#[derive(Debug, Clone)]
pub struct Django {
    pub replicas: u32,
    pub signals: Option<Vec<&'static str>>,
    pub instrumentations: Option<Vec<&'static str>>,
    pub workload: Option<&'static str>,
}

/// The telemetry Elasticsearch's credentials.
#[derive(Debug, Clone)]
pub enum EsAuth {
    None,
    ApiKey,
    Basic(String),
}

/// `sampling.tail`: `keep_errors`, `slower_than_ms` and the ratio (in thousandths).
pub type TailSampling = (bool, Option<u32>, u32);

#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "a generated stack file's switches")]
pub struct Stack {
    pub name: String,
    pub environment: String,
    pub version: String,
    pub gateway_replicas: u32,
    pub memory: u32,
    pub persistent_queue: bool,
    /// `load`: spans, log records and metric points per second, outage minutes; and whether
    /// `gateway_replicas` and `memory_limit_mib` are written too (explicit settings win).
    pub load: Option<(u64, u64, u64, u64)>,
    pub explicit_sizing: bool,
    pub targets: Vec<&'static str>,
    pub namespaces: Option<(String, String)>,
    pub es_auth: EsAuth,
    pub es_deploy: bool,
    pub apm_auth: u8,
    pub apm_deploy: bool,
    pub jaeger_port: u16,
    pub deploy_jaeger: bool,
    pub deploy_prometheus: bool,
    pub deploy_loki: bool,
    pub tenant: Option<String>,
    pub djangos: Vec<Django>,
    pub datastores: Vec<Datastore>,
    /// `sampling`: the head ratio (in thousandths), and the tail's `keep_errors`,
    /// `slower_than_ms` and ratio (in thousandths).
    pub sampling: Option<(Option<u32>, Option<TailSampling>)>,
    /// `collector.buffer.kafka`: deployed (one short-named broker) or the team's (three), and a
    /// topic prefix.
    pub buffer: Option<(bool, Option<String>)>,
}

pub fn subset(all: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<&'static str>>> {
    prop::option::of(prop::sample::subsequence(all, 1..=all.len()))
}

pub fn django() -> impl Strategy<Value = Django> {
    (
        1u32..5,
        subset(&["traces", "metrics", "logs"]),
        subset(&[
            "psycopg2",
            "psycopg",
            "redis",
            "elasticsearch",
            "kafka-python",
            "confluent-kafka",
            "celery",
            "requests",
            "urllib3",
            "httpx",
        ]),
        prop::option::of(prop::sample::select(vec!["Deployment", "StatefulSet"])),
    )
        .prop_map(|(replicas, signals, instrumentations, workload)| Django {
            replicas,
            signals,
            instrumentations,
            workload,
        })
}

pub fn datastore() -> impl Strategy<Value = Datastore> {
    let kind = prop_oneof![
        prop::collection::vec(free_text(3), 0..3).prop_map(|databases| Kind::Postgres { databases }),
        Just(Kind::Redis),
        Just(Kind::Elasticsearch),
        (1usize..4, any::<bool>()).prop_map(|(brokers, jmx)| Kind::Kafka { brokers, jmx }),
    ];
    // User name and password come together, but Redis may have a password alone.
    (kind, 0u8..3, free_text(4), logs()).prop_map(|(kind, credentials, user, logs)| {
        let (username, password) = match (credentials, &kind) {
            (1, _) => (Some(user), true),
            (2, Kind::Redis) => (None, true),
            _ => (None, false),
        };
        Datastore { kind, username, password, logs }
    })
}

pub fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,6}"
}

prop_compose! {
    pub fn stack()(
        name in label(),
        environment in free_text(6),
        version in prop::sample::select(vec!["0.130.0", "0.150.0", "0.159.0"]).prop_map(String::from),
        gateway_replicas in 1u32..4,
        memory in prop::sample::select(vec![64u32, 256, 512, 2048]),
        persistent_queue in any::<bool>(),
        load in prop::option::of((0u64..60_000, 0u64..20_000, 0u64..30_000, 1u64..240)),
        explicit_sizing in any::<bool>(),
        targets in prop::sample::subsequence(&["compose", "kubernetes"][..], 1..=2),
        namespaces in prop::option::of((label(), label())),
        es in (0u8..3, free_text(3), any::<bool>()),
        apm_auth in 0u8..3,
        apm_deploy in any::<bool>(),
        jaeger_port in prop::sample::select(vec![4317u16, 4318]),
        deploys in (any::<bool>(), any::<bool>(), any::<bool>()),
        tenant in prop::option::of(free_text(4)),
        djangos in prop::collection::vec(django(), 1..4),
        datastores in prop::collection::vec(datastore(), 0..5),
        sampling in prop::option::of((
            prop::option::of(1u32..=1000),
            prop::option::of((any::<bool>(), prop::option::of(1u32..5000), 0u32..=1000)),
        )),
        buffer in prop::option::weighted(0.3, (any::<bool>(), prop::option::of("[a-z][a-z0-9]{0,5}[._-]"))),
    ) -> Stack {
        let (es_kind, es_user, es_deploy) = es;
        // A deployed Elasticsearch is a sandbox whose `elastic` user has the password.
        let es_auth = match (es_deploy, es_kind) {
            (true, _) => EsAuth::Basic("elastic".into()),
            (false, 0) => EsAuth::None,
            (false, 1) => EsAuth::ApiKey,
            (false, _) => EsAuth::Basic(es_user),
        };
        Stack {
            name, environment, version, gateway_replicas, memory, persistent_queue, load, explicit_sizing, targets, namespaces,
            es_auth, es_deploy, apm_auth, apm_deploy, jaeger_port,
            deploy_jaeger: deploys.0, deploy_prometheus: deploys.1, deploy_loki: deploys.2,
            tenant, djangos, datastores, sampling, buffer,
        }
    }
}

/// A YAML double-quoted scalar (a JSON string is one).
pub fn q(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

impl Stack {
    pub fn datastore_name(&self, i: usize) -> String {
        let prefix = match self.datastores[i].kind {
            Kind::Postgres { .. } => "pg",
            Kind::Redis => "cache",
            Kind::Elasticsearch => "search",
            Kind::Kafka { .. } => "events",
        };
        format!("{prefix}{i}")
    }

    /// The `load` section, if any, and `collector` (its sizes only without a load, or when the
    /// stack gives them explicitly too).
    fn collector_and_load(&self, s: &mut String) {
        if let Some((spans, logs, metrics, outage)) = self.load {
            writeln!(
                s,
                "load: {{ spans_per_second: {spans}, log_records_per_second: {logs}, metric_points_per_second: {metrics}, outage_minutes: {outage} }}"
            )
            .unwrap();
        }
        let buffer = match &self.buffer {
            None => String::new(),
            Some((deploy, prefix)) => {
                let brokers = if *deploy { "[\"kafka:9092\"]" } else { "[kafka-0.example:9092, kafka-1.example:9092]" };
                let prefix = prefix.as_ref().map(|p| format!(", topic_prefix: {}", q(p))).unwrap_or_default();
                format!(", buffer: {{ kafka: {{ brokers: {brokers}, deploy: {deploy}{prefix} }} }}")
            }
        };
        if self.load.is_none() || self.explicit_sizing {
            writeln!(
                s,
                "collector: {{ version: \"{}\", gateway_replicas: {}, memory_limit_mib: {}, persistent_queue: {}{buffer} }}",
                self.version, self.gateway_replicas, self.memory, self.persistent_queue
            )
            .unwrap();
        } else {
            writeln!(
                s,
                "collector: {{ version: \"{}\", persistent_queue: {}{buffer} }}",
                self.version, self.persistent_queue
            )
            .unwrap();
        }
        if let Some((head, tail)) = self.sampling.as_ref().filter(|(h, t)| h.is_some() || t.is_some()) {
            s.push_str("sampling:\n");
            if let Some(ratio) = head {
                writeln!(s, "  head: {{ ratio: {} }}", f64::from(*ratio) / 1000.0).unwrap();
            }
            if let Some((keep_errors, slower, ratio)) = tail {
                let slower = slower.map(|ms| format!(", slower_than_ms: {ms}")).unwrap_or_default();
                let ratio = f64::from(*ratio) / 1000.0;
                writeln!(s, "  tail: {{ keep_errors: {keep_errors}{slower}, ratio: {ratio} }}").unwrap();
            }
        }
    }

    /// Whether topology B (no gateway) refuses the stack: tail sampling and a buffer need one.
    pub fn needs_gateway(&self) -> bool {
        self.buffer.is_some() || self.sampling.as_ref().is_some_and(|(_, tail)| tail.is_some())
    }

    /// The stack file.
    pub fn text(&self) -> String {
        let mut s = format!("version: 1\nname: {}\nenvironment: {}\n", self.name, q(&self.environment));
        writeln!(s, "targets: [{}]", self.targets.join(", ")).unwrap();
        self.collector_and_load(&mut s);
        if let Some((ns, app)) = &self.namespaces {
            writeln!(s, "kubernetes: {{ namespace: {ns}, app_namespace: {app} }}").unwrap();
        }
        s += "backends:\n";
        let es_auth = match &self.es_auth {
            EsAuth::None => String::new(),
            EsAuth::ApiKey => ", api_key: \"${ES_API_KEY}\"".into(),
            EsAuth::Basic(user) => format!(", username: {}, password: \"${{ES_PASSWORD}}\"", q(user)),
        };
        writeln!(
            s,
            "  elasticsearch: {{ endpoint: \"http://elasticsearch:9200\", deploy: {}{es_auth} }}",
            self.es_deploy
        )
        .unwrap();
        let apm_auth = match self.apm_auth {
            0 => "",
            1 => ", secret_token: \"${APM_TOKEN}\"",
            _ => ", api_key: \"${APM_API_KEY}\"",
        };
        writeln!(s, "  apm_server: {{ endpoint: \"http://apm-server:8200\", deploy: {}{apm_auth} }}", self.apm_deploy)
            .unwrap();
        writeln!(s, "  jaeger: {{ endpoint: \"http://jaeger:{}\", deploy: {} }}", self.jaeger_port, self.deploy_jaeger)
            .unwrap();
        writeln!(s, "  prometheus: {{ endpoint: \"http://prometheus:9090\", deploy: {} }}", self.deploy_prometheus)
            .unwrap();
        let tenant = self.tenant.as_ref().map(|t| format!(", tenant: {}", q(t))).unwrap_or_default();
        writeln!(s, "  loki: {{ endpoint: \"http://loki:3100\", deploy: {}{tenant} }}", self.deploy_loki).unwrap();
        s += "services:\n";
        for (i, d) in self.djangos.iter().enumerate() {
            writeln!(s, "  web{i}:\n    kind: django\n    replicas: {}", d.replicas).unwrap();
            if let Some(signals) = &d.signals {
                writeln!(s, "    signals: [{}]", signals.join(", ")).unwrap();
            }
            if let Some(list) = &d.instrumentations {
                writeln!(s, "    instrumentations: [{}]", list.join(", ")).unwrap();
            }
            if let Some(kind) = d.workload {
                writeln!(s, "    kubernetes: {{ kind: {kind}, name: workload{i}, container: app }}").unwrap();
            }
        }
        for (i, d) in self.datastores.iter().enumerate() {
            let name = self.datastore_name(i);
            writeln!(s, "  {name}:").unwrap();
            match &d.kind {
                Kind::Postgres { databases } => {
                    writeln!(s, "    kind: postgres\n    endpoint: \"{name}:5432\"").unwrap();
                    if !databases.is_empty() {
                        let unique: BTreeSet<&String> = databases.iter().collect();
                        let list: Vec<String> = unique.into_iter().map(|d| q(d)).collect();
                        writeln!(s, "    databases: [{}]", list.join(", ")).unwrap();
                    }
                }
                Kind::Redis => writeln!(s, "    kind: redis\n    endpoint: \"{name}:6379\"").unwrap(),
                Kind::Elasticsearch => {
                    writeln!(s, "    kind: elasticsearch\n    endpoint: \"http://{name}:9200\"").unwrap();
                }
                Kind::Kafka { brokers, jmx } => {
                    let list: Vec<String> = (0..*brokers).map(|b| format!("\"{name}-{b}:9092\"")).collect();
                    writeln!(s, "    kind: kafka\n    brokers: [{}]", list.join(", ")).unwrap();
                    writeln!(s, "    metrics: {}", if *jmx { "jmx" } else { "receiver" }).unwrap();
                }
            }
            if !matches!(d.kind, Kind::Kafka { .. }) {
                if let Some(user) = &d.username {
                    writeln!(s, "    username: {}", q(user)).unwrap();
                }
                if d.password {
                    writeln!(s, "    password: \"${{{}_PASSWORD}}\"", name.to_uppercase()).unwrap();
                }
            }
            match &d.logs {
                Logs::None => {}
                Logs::Stdout => s.push_str("    logs: stdout\n"),
                Logs::Files { owner: None, .. } => {
                    writeln!(s, "    logs: {{ path: {} }}", q(&d.logs.path().unwrap())).unwrap();
                }
                Logs::Files { owner: Some((uid, gid)), .. } => {
                    let path = q(&d.logs.path().unwrap());
                    writeln!(s, "    logs: {{ path: {path}, owner: \"{uid}:{gid}\" }}").unwrap();
                }
            }
        }
        s
    }

    /// Every secret the stack names.
    pub fn secrets(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> =
            ["ES_PASSWORD", "ES_API_KEY", "APM_TOKEN", "APM_API_KEY"].iter().map(|s| (*s).to_string()).collect();
        out.extend((0..self.datastores.len()).map(|i| format!("{}_PASSWORD", self.datastore_name(i).to_uppercase())));
        // Secrets otelplan itself names for the sandboxes it deploys.
        out.extend(
            [
                "KIBANA_SYSTEM_PASSWORD",
                "KIBANA_ENCRYPTION_KEY",
                "GRAFANA_ADMIN_PASSWORD",
                "APM_SERVER_WRITER_PASSWORD",
                "OTELCOL_WRITER_PASSWORD",
            ]
            .iter()
            .map(|s| (*s).to_string()),
        );
        out
    }

    /// The Elasticsearch user that `writer` (APM Server or the collectors) ingests as: the one the
    /// setup job creates for it in a deployed sandbox, else the stack's.
    pub fn ingest_user(&self, writer: Writer) -> Option<String> {
        match (&self.es_auth, self.es_deploy, writer) {
            (_, true, Writer::ApmServer) => Some("apm_server_writer".into()),
            (_, true, Writer::Collector) => Some("otelcol_writer".into()),
            (EsAuth::Basic(user), false, _) => Some(user.clone()),
            (EsAuth::None | EsAuth::ApiKey, false, _) => None,
        }
    }
}
