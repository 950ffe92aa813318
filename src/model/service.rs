//! The `services` section: the DKP workloads, Django services and datastores (parse stage).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::endpoint::{Endpoint, Form};
use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Instrumentation, KafkaMetrics, ServiceKind, Signal, WorkloadKind};
use crate::model::node::{Node, Value};
use crate::model::reader::{integer, keyword, label, list, short_text, MapView};
use crate::model::tls::TlsClient;
use crate::span::Spanned;

/// The existing Kubernetes workload of a service, for the patches otelplan writes.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkloadRef {
    /// Default: `Deployment` for django, `StatefulSet` for datastores.
    pub(crate) kind: Option<Spanned<WorkloadKind>>,
    /// Default: the service's name.
    pub(crate) name: Option<Spanned<String>>,
    /// Default: the service's name.
    pub(crate) container: Option<Spanned<String>>,
}

impl WorkloadRef {
    fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Self> {
        let m = MapView::open(node, path, &["kind", "name", "container"], d)?;
        Some(WorkloadRef {
            kind: m.get("kind").and_then(|n| keyword(n, &m.child("kind"), d)),
            name: m.get("name").and_then(|n| label(n, &m.child("name"), 63, d)),
            container: m.get("container").and_then(|n| label(n, &m.child("container"), 63, d)),
        })
    }
}

/// Where a datastore's logs are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Logs {
    /// Container logs, read by the node-level agent.
    Stdout,
    /// Log files, tailed by an agent sharing the datastore's filesystem.
    Files(FileLogs),
}

/// `logs: { path, owner }`: the datastore's log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileLogs {
    /// Absolute glob of the files.
    pub(crate) path: Spanned<String>,
    /// `UID:GID` that owns them, when not the official image's.
    pub(crate) owner: Option<Spanned<Owner>>,
}

/// A numeric user and group, as `UID:GID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    /// User id.
    pub(crate) uid: u32,
    /// Group id.
    pub(crate) gid: u32,
}

/// The largest user or group id Kubernetes accepts in a security context (`runAsUser`,
/// `runAsGroup`), which the agent's group and the volume's owner become.
pub(crate) const MAX_ID: u32 = 2_147_483_647;

impl Owner {
    /// Read `UID:GID`: two decimal ids up to [`MAX_ID`].
    fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<Owner>> {
        let text = short_text(node, path, 32, d)?;
        let id = |part: &str| {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u32>().ok().filter(|id| *id <= MAX_ID))
        };
        match text.value.split_once(':').map(|(u, g)| (id(u), id(g))) {
            Some((Some(Some(uid)), Some(Some(gid)))) => Some(Spanned::new(Owner { uid, gid }, text.span)),
            Some((Some(_), Some(_))) => {
                d.push(
                    Diagnostic::error(text.span, format!("`{path}` is `{}`, an id above {MAX_ID}", text.value))
                        .hint("Kubernetes accepts user and group ids from 0 to 2147483647"),
                );
                None
            }
            _ => {
                d.push(
                    Diagnostic::error(text.span, format!("`{path}` is `{}`, expected `UID:GID`", text.value))
                        .hint("two numeric ids, for example `owner: \"70:70\"` for the Alpine PostgreSQL image"),
                );
                None
            }
        }
    }
}

impl Logs {
    fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<Logs>> {
        if let Value::Scalar { text, .. } = &node.value {
            if text == "stdout" {
                return Some(Spanned::new(Logs::Stdout, node.span));
            }
            d.push(
                Diagnostic::error(node.span, format!("`{path}` is `{text}`, expected `stdout` or `{{ path: GLOB }}`"))
                    .hint("`stdout` reads container logs (stderr included); `{ path: /var/log/x/*.log }` tails files"),
            );
            return None;
        }
        let m = MapView::open(node, path, &["path", "owner"], d)?;
        let owner = m.get("owner").and_then(|n| Owner::read(n, &m.child("owner"), d));
        let glob = short_text(m.required("path", d)?, &m.child("path"), 1024, d)?;
        if !glob.value.starts_with('/') || glob.value.contains("..") {
            d.push(
                Diagnostic::error(
                    glob.span,
                    format!("`{}` must be an absolute path (a glob) without `..`", m.child("path")),
                )
                .hint("for example `/var/log/postgresql/*.log`"),
            );
            return None;
        }
        if glob.value.ends_with('/') {
            d.push(
                Diagnostic::error(glob.span, format!("`{}` names a directory, expected files", m.child("path")))
                    .hint("add a file pattern, for example `*.log`"),
            );
            return None;
        }
        // The directory is shared with the log agent as a volume mounted over it, so it must be
        // one fixed directory that holds logs only.
        let (dir, _) = glob.value.rsplit_once('/').unwrap_or(("", ""));
        if dir.contains(['*', '?', '[', ']', '{', '}']) {
            d.push(
                Diagnostic::error(glob.span, format!("`{}` has a wildcard in its directory; only the file name may have one", m.child("path")))
                    .hint("the log directory is shared with the agent as a volume: name one directory, for example `/var/log/postgresql/*.log`"),
            );
            return None;
        }
        if dir.split('/').filter(|p| !p.is_empty()).count() < 2 {
            d.push(
                Diagnostic::error(glob.span, format!("`{}` is in `{}/`, too close to the root to share with an agent", m.child("path"), dir))
                    .hint("the log directory is mounted from a shared volume, hiding what the image had there: use a directory for logs only, such as `/var/log/redis/*.log`"),
            );
            return None;
        }
        Some(Spanned::new(Logs::Files(FileLogs { path: glob, owner }), node.span))
    }
}

impl JsonSchema for Logs {
    fn schema_name() -> Cow<'static, str> {
        "Logs".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Omitted: logs are not collected. `stdout`: container logs, read by the node-level agent. `{ path: GLOB }`: log files, tailed by a collector sharing the datastore's filesystem.",
            "oneOf": [
                { "const": "stdout" },
                {
                    "type": "object",
                    "properties": {
                        "path": { "type": "string", "pattern": "^/", "description": "absolute glob of the log files" },
                        "owner": {
                            "type": "string",
                            "pattern": "^[0-9]+:[0-9]+$",
                            "description": "`UID:GID` that writes the log files (default: the official image's user of the datastore's kind: PostgreSQL and Redis 999:999, Elasticsearch 1000:0, Kafka 1000:1000). The log agent joins the group; the shared directory is handed to this owner."
                        }
                    },
                    "required": ["path"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A Python/Django service.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Django {
    /// Replicas of the service (default 1).
    #[schemars(range(min = 1), extend("default" = 1))]
    pub(crate) replicas: Option<Spanned<u64>>,
    /// Client libraries to instrument; default: one per datastore kind in the stack.
    pub(crate) instrumentations: Option<Spanned<Vec<Spanned<Instrumentation>>>>,
    /// Signals the service exports; default: all three.
    pub(crate) signals: Option<Spanned<Vec<Spanned<Signal>>>>,
    /// Its existing Kubernetes workload.
    pub(crate) kubernetes: Option<WorkloadRef>,
}

/// A `PostgreSQL` server.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Postgres {
    /// `host:port`.
    pub(crate) endpoint: Spanned<Endpoint>,
    /// Databases to collect metrics for; default: all.
    pub(crate) databases: Option<Spanned<Vec<Spanned<String>>>>,
    /// Monitoring user with the `pg_monitor` role.
    pub(crate) username: Option<Spanned<String>>,
    /// Its password, as an environment reference.
    pub(crate) password: Option<Spanned<EnvRef>>,
    #[allow(missing_docs)]
    pub(crate) logs: Option<Spanned<Logs>>,
    /// How the scraper connects to it over TLS (default: plain text).
    pub(crate) tls: Option<TlsClient>,
    /// Its existing Kubernetes workload.
    pub(crate) kubernetes: Option<WorkloadRef>,
}

/// A Redis server.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Redis {
    /// `host:port`.
    pub(crate) endpoint: Spanned<Endpoint>,
    /// ACL user (Redis 6+).
    pub(crate) username: Option<Spanned<String>>,
    /// Password, as an environment reference.
    pub(crate) password: Option<Spanned<EnvRef>>,
    #[allow(missing_docs)]
    pub(crate) logs: Option<Spanned<Logs>>,
    /// How the scraper connects to it over TLS (default: plain text).
    pub(crate) tls: Option<TlsClient>,
    /// Its existing Kubernetes workload.
    pub(crate) kubernetes: Option<WorkloadRef>,
}

/// The application's Elasticsearch cluster (not the telemetry store).
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElasticsearchService {
    /// URL (or `host:port`, read as `http://`).
    pub(crate) endpoint: Spanned<Endpoint>,
    /// Monitoring user (cluster privilege `monitor`).
    pub(crate) username: Option<Spanned<String>>,
    /// Its password, as an environment reference.
    pub(crate) password: Option<Spanned<EnvRef>>,
    #[allow(missing_docs)]
    pub(crate) logs: Option<Spanned<Logs>>,
    /// How the scraper connects to it over TLS (default: plain text).
    pub(crate) tls: Option<TlsClient>,
    /// Its existing Kubernetes workload.
    pub(crate) kubernetes: Option<WorkloadRef>,
}

/// A Kafka cluster.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Kafka {
    /// Brokers, `host:port` each, at least one.
    #[schemars(length(min = 1))]
    pub(crate) brokers: Spanned<Vec<Spanned<Endpoint>>>,
    /// `receiver` (default): the `kafka_metrics` receiver; `jmx`: the Java agent in the broker JVM.
    #[schemars(extend("default" = "receiver"))]
    pub(crate) metrics: Option<Spanned<KafkaMetrics>>,
    #[allow(missing_docs)]
    pub(crate) logs: Option<Spanned<Logs>>,
    /// How the scraper connects to it over TLS (default: plain text).
    pub(crate) tls: Option<TlsClient>,
    /// Its existing Kubernetes workload.
    pub(crate) kubernetes: Option<WorkloadRef>,
}

/// One service of the stack, by `kind`.
#[derive(Debug, Clone, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Service {
    /// `kind: django`.
    Django(Django),
    /// `kind: postgres`.
    Postgres(Postgres),
    /// `kind: redis`.
    Redis(Redis),
    /// `kind: elasticsearch`.
    Elasticsearch(ElasticsearchService),
    /// `kind: kafka`.
    Kafka(Kafka),
}

fn opt<T>(
    m: &MapView<'_>,
    key: &str,
    d: &mut Diagnostics,
    f: impl FnOnce(&Node, &str, &mut Diagnostics) -> Option<T>,
) -> Option<T> {
    m.get(key).and_then(|n| f(n, &m.child(key), d))
}

fn text(n: &Node, p: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    short_text(n, p, 256, d)
}

impl Service {
    /// The service's kind.
    pub(crate) fn kind(&self) -> ServiceKind {
        match self {
            Service::Django(_) => ServiceKind::Django,
            Service::Postgres(_) => ServiceKind::Postgres,
            Service::Redis(_) => ServiceKind::Redis,
            Service::Elasticsearch(_) => ServiceKind::Elasticsearch,
            Service::Kafka(_) => ServiceKind::Kafka,
        }
    }

    /// Read one entry of `services`.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Service> {
        let Value::Map(_) = node.value else {
            d.push(
                Diagnostic::error(
                    node.span,
                    format!("`{path}` must be a mapping with a `kind`, found {}", node.kind_name()),
                )
                .hint("write the service as a mapping, for example `web: { kind: django }`"),
            );
            return None;
        };
        let probe = MapView::open(node, path, &[], d)?;
        let kind = keyword::<ServiceKind>(probe.required("kind", d)?, &probe.child("kind"), d)?.value;
        let fields: &[&str] = match kind {
            ServiceKind::Django => &["kind", "replicas", "instrumentations", "signals", "kubernetes"],
            ServiceKind::Postgres => {
                &["kind", "endpoint", "databases", "username", "password", "logs", "tls", "kubernetes"]
            }
            ServiceKind::Redis | ServiceKind::Elasticsearch => {
                &["kind", "endpoint", "username", "password", "logs", "tls", "kubernetes"]
            }
            ServiceKind::Kafka => &["kind", "brokers", "metrics", "logs", "tls", "kubernetes"],
        };
        let m = MapView::open(node, path, fields, d)?;
        let k8s = opt(&m, "kubernetes", d, WorkloadRef::read);
        let logs = opt(&m, "logs", d, Logs::read);
        let tls = opt(&m, "tls", d, TlsClient::read);
        let endpoint_form = if kind == ServiceKind::Elasticsearch { Form::Any } else { Form::HostPort };
        let has_endpoint = kind != ServiceKind::Django && kind != ServiceKind::Kafka;
        let endpoint = if has_endpoint {
            m.required("endpoint", d).and_then(|n| Endpoint::read(n, &m.child("endpoint"), endpoint_form, d))
        } else {
            None
        };
        let username = opt(&m, "username", d, text);
        let password = opt(&m, "password", d, EnvRef::read);
        Some(match kind {
            ServiceKind::Django => Service::Django(Django {
                replicas: opt(&m, "replicas", d, |n, p, d| integer(n, p, 1, 1000, d)),
                instrumentations: opt(&m, "instrumentations", d, |n, p, d| list(n, p, true, d, keyword)),
                signals: opt(&m, "signals", d, |n, p, d| list(n, p, true, d, keyword)),
                kubernetes: k8s,
            }),
            ServiceKind::Postgres => {
                let databases = opt(&m, "databases", d, |n, p, d| list(n, p, true, d, text));
                Service::Postgres(Postgres {
                    endpoint: endpoint?,
                    databases,
                    username,
                    password,
                    logs,
                    tls,
                    kubernetes: k8s,
                })
            }
            ServiceKind::Redis => {
                Service::Redis(Redis { endpoint: endpoint?, username, password, logs, tls, kubernetes: k8s })
            }
            ServiceKind::Elasticsearch => Service::Elasticsearch(ElasticsearchService {
                endpoint: endpoint?,
                username,
                password,
                logs,
                tls,
                kubernetes: k8s,
            }),
            ServiceKind::Kafka => {
                let metrics = opt(&m, "metrics", d, keyword);
                let brokers = m.required("brokers", d).and_then(|n| {
                    list(n, &m.child("brokers"), true, d, |n, p, d| Endpoint::read(n, p, Form::HostPort, d))
                })?;
                if brokers.value.is_empty() {
                    d.push(
                        Diagnostic::error(
                            brokers.span,
                            format!("`{}` is empty, expected at least one `host:port`", m.child("brokers")),
                        )
                        .hint("list the brokers, for example `brokers: [events:9092]`"),
                    );
                    return None;
                }
                Service::Kafka(Kafka { brokers, metrics, logs, tls, kubernetes: k8s })
            }
        })
    }

    /// How the scraper connects to it over TLS, for datastores that say.
    pub(crate) fn tls(&self) -> Option<&TlsClient> {
        match self {
            Service::Django(_) => None,
            Service::Postgres(s) => s.tls.as_ref(),
            Service::Redis(s) => s.tls.as_ref(),
            Service::Elasticsearch(s) => s.tls.as_ref(),
            Service::Kafka(s) => s.tls.as_ref(),
        }
    }

    /// Where its logs are read from, for datastores that collect them.
    pub(crate) fn logs(&self) -> Option<&Spanned<Logs>> {
        match self {
            Service::Django(_) => None,
            Service::Postgres(s) => s.logs.as_ref(),
            Service::Redis(s) => s.logs.as_ref(),
            Service::Elasticsearch(s) => s.logs.as_ref(),
            Service::Kafka(s) => s.logs.as_ref(),
        }
    }

    /// Its existing Kubernetes workload, as written.
    pub(crate) fn workload(&self) -> Option<&WorkloadRef> {
        match self {
            Service::Django(s) => s.kubernetes.as_ref(),
            Service::Postgres(s) => s.kubernetes.as_ref(),
            Service::Redis(s) => s.kubernetes.as_ref(),
            Service::Elasticsearch(s) => s.kubernetes.as_ref(),
            Service::Kafka(s) => s.kubernetes.as_ref(),
        }
    }
}
