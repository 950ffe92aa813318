//! Validate stage, output: each service's settings with every default applied, once. The
//! planner reads these and never the raw, spanned model (ripgrep's low-level → high-level
//! arguments).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::endpoint::Endpoint;
use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Instrumentation, KafkaMetrics, ServiceKind, Signal, WorkloadKind};
use crate::model::service::{Logs, Owner, Service};
use crate::model::Stack;

/// How a collector connects to a server over TLS: file paths as the containers see them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub(crate) struct ClientTls {
    /// CA that signed the server's certificate (none: the system's roots).
    pub(crate) ca_file: Option<String>,
    /// Client certificate.
    pub(crate) cert_file: Option<String>,
    /// Its key.
    pub(crate) key_file: Option<String>,
    /// Skip verifying the server's certificate.
    pub(crate) insecure_skip_verify: bool,
}

impl ClientTls {
    /// The resolved settings of a `tls` mapping.
    pub(crate) fn from_model(t: &crate::model::tls::TlsClient) -> ClientTls {
        let v = |f: &Option<crate::span::Spanned<String>>| f.as_ref().map(|x| x.value.clone());
        ClientTls {
            ca_file: v(&t.ca_file),
            cert_file: v(&t.cert_file),
            key_file: v(&t.key_file),
            insecure_skip_verify: t.insecure.as_ref().is_some_and(|i| i.value),
        }
    }

    /// Every file it names.
    pub(crate) fn files(&self) -> impl Iterator<Item = &String> {
        self.ca_file.iter().chain(&self.cert_file).chain(&self.key_file)
    }
}

/// TLS on the collectors' OTLP intake.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[allow(clippy::struct_field_names, reason = "the field names of the stack format")]
pub(crate) struct ServerTls {
    /// Certificate.
    pub(crate) cert_file: String,
    /// Key.
    pub(crate) key_file: String,
    /// CA of the client certificates required (mutual TLS), if any.
    pub(crate) client_ca_file: Option<String>,
    /// CA senders verify the certificate with (none: the system's roots).
    pub(crate) ca_file: Option<String>,
}

impl ServerTls {
    /// The resolved `collector.tls`.
    pub(crate) fn from_model(t: &crate::model::tls::TlsServer) -> ServerTls {
        ServerTls {
            cert_file: t.cert_file.value.clone(),
            key_file: t.key_file.value.clone(),
            client_ca_file: t.client_ca_file.as_ref().map(|x| x.value.clone()),
            ca_file: t.ca_file.as_ref().map(|x| x.value.clone()),
        }
    }

    /// What a sender (an app, another collector) needs to reach the intake.
    pub(crate) fn sender(&self) -> ClientTls {
        ClientTls { ca_file: self.ca_file.clone(), cert_file: None, key_file: None, insecure_skip_verify: false }
    }
}

/// The team's existing Kubernetes workload of a service (spec defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TeamWorkload {
    /// Its kind: `Deployment` for django, `StatefulSet` for datastores unless the file says.
    pub(crate) kind: WorkloadKind,
    /// Its name: the service's unless the file says.
    pub(crate) name: String,
    /// Its container: the service's name unless the file says.
    pub(crate) container: String,
}

/// A Django service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct App {
    /// Replicas, default 1.
    pub(crate) replicas: u32,
    /// Signals it exports, default all, in signal order.
    pub(crate) signals: Vec<Signal>,
    /// Client libraries to instrument.
    pub(crate) instrumentations: Instrumentations,
}

/// The client libraries a Django service instruments. Whether a library is installed is known
/// only where the app runs, so the plan names what to try and how to treat an absent one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Instrumentations {
    /// The service's own `instrumentations`, in its order: each must be importable, and the app
    /// warns at start about one that is not.
    pub(crate) listed: Vec<Instrumentation>,
    /// For a service without `instrumentations`: every client library it may use, each
    /// instrumented when the app can import it and quietly skipped when it cannot.
    pub(crate) candidates: Vec<Instrumentation>,
}

impl Instrumentations {
    /// Every library named, listed ones first.
    pub(crate) fn all(&self) -> impl Iterator<Item = Instrumentation> + '_ {
        self.listed.iter().chain(&self.candidates).copied()
    }
}

/// How a datastore's metrics are collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scrape {
    /// The `postgresql` receiver with the monitoring user.
    Postgres {
        /// Server.
        endpoint: Endpoint,
        /// Databases; empty: all.
        databases: Vec<String>,
        /// Monitoring user.
        username: String,
        /// Its password.
        password: EnvRef,
    },
    /// The `redis` receiver.
    Redis {
        /// Server.
        endpoint: Endpoint,
        /// ACL user.
        username: Option<String>,
        /// Password.
        password: Option<EnvRef>,
    },
    /// The `elasticsearch` receiver.
    Elasticsearch {
        /// Cluster URL.
        endpoint: Endpoint,
        /// User and password, when the cluster has security on.
        credentials: Option<(String, EnvRef)>,
    },
    /// The `kafka_metrics` receiver.
    Kafka {
        /// Brokers.
        brokers: Vec<Endpoint>,
    },
}

/// Where a datastore's logs are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogSource {
    /// Files matching `glob`, in the dedicated directory `dir`, tailed by an agent beside them.
    Files {
        /// The glob.
        glob: String,
        /// Its directory (the part before the first wildcard).
        dir: String,
        /// Who writes them: `logs.owner`, else the official image's user of the kind.
        owner: Owner,
    },
    /// Container logs, read by the node agent.
    Stdout,
}

/// A datastore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Datastore {
    /// How its metrics are scraped; `None` when nothing scrapes it (Kafka with `jmx`, PostgreSQL
    /// without a monitoring user).
    pub(crate) scrape: Option<Scrape>,
    /// Whether the OpenTelemetry Java agent in its JVM reports its metrics (Kafka `jmx`).
    pub(crate) java_agent: bool,
    /// Where its logs are read, if they are.
    pub(crate) logs: Option<LogSource>,
    /// TLS to it, when the stack asks for it.
    pub(crate) tls: Option<ClientTls>,
}

/// What a service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// A Django service.
    App(App),
    /// A datastore.
    Datastore(Box<Datastore>),
}

/// One service, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSettings {
    /// Its name in the stack.
    pub(crate) name: String,
    /// Its kind.
    pub(crate) kind: ServiceKind,
    /// Its existing Kubernetes workload.
    pub(crate) workload: TeamWorkload,
    /// App or datastore settings.
    pub(crate) role: Role,
}

/// The directory a log glob lives in: the components before the first wildcard.
pub(crate) fn glob_dir(glob: &str) -> String {
    let mut dir = Vec::new();
    let parts: Vec<&str> = glob.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 || part.contains(['*', '?', '[', '{']) {
            break;
        }
        dir.push(*part);
    }
    let joined = dir.join("/");
    if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    }
}

/// The user and group a datastore's official image runs as, so writes its log files as
/// (PostgreSQL and Redis 999:999, Elasticsearch 1000:0, the Apache Kafka image 1000:1000):
/// the default of `logs.owner`.
pub(crate) fn default_log_owner(kind: ServiceKind) -> Owner {
    let (uid, gid) = match kind {
        ServiceKind::Postgres | ServiceKind::Redis => (999, 999),
        ServiceKind::Elasticsearch => (1000, 0),
        ServiceKind::Kafka | ServiceKind::Django => (1000, 1000),
    };
    Owner { uid, gid }
}

/// The Python client libraries of a datastore kind, all of them: a service may use any.
fn clients_of(kind: ServiceKind) -> &'static [Instrumentation] {
    match kind {
        ServiceKind::Postgres => &[Instrumentation::Psycopg2, Instrumentation::Psycopg],
        ServiceKind::Redis => &[Instrumentation::Redis],
        ServiceKind::Elasticsearch => &[Instrumentation::Elasticsearch],
        ServiceKind::Kafka => &[Instrumentation::KafkaPython, Instrumentation::ConfluentKafka],
        ServiceKind::Django => &[],
    }
}

/// Libraries a Django service may use whatever datastores the stack has: Celery and the HTTP
/// clients.
const GENERAL_CLIENTS: [Instrumentation; 4] =
    [Instrumentation::Celery, Instrumentation::Requests, Instrumentation::Urllib3, Instrumentation::Httpx];

/// A service without `instrumentations`: every client library of the stack's datastore kinds,
/// and the general ones, as candidates (in keyword order).
fn default_instrumentations(kinds: &BTreeSet<ServiceKind>) -> Instrumentations {
    let candidates: BTreeSet<Instrumentation> =
        kinds.iter().flat_map(|k| clients_of(*k)).copied().chain(GENERAL_CLIENTS).collect();
    Instrumentations { listed: Vec::new(), candidates: candidates.into_iter().collect() }
}

fn team_workload(name: &str, service: &Service) -> TeamWorkload {
    let default_kind =
        if matches!(service, Service::Django(_)) { WorkloadKind::Deployment } else { WorkloadKind::StatefulSet };
    let w = service.workload();
    TeamWorkload {
        kind: w.and_then(|w| w.kind.as_ref()).map_or(default_kind, |k| k.value),
        name: w.and_then(|w| w.name.as_ref()).map_or_else(|| name.to_string(), |n| n.value.clone()),
        container: w.and_then(|w| w.container.as_ref()).map_or_else(|| name.to_string(), |n| n.value.clone()),
    }
}

fn scrape(service: &Service) -> Option<Scrape> {
    match service {
        Service::Django(_) => None,
        Service::Postgres(p) => {
            let (Some(user), Some(pw)) = (&p.username, &p.password) else { return None };
            Some(Scrape::Postgres {
                endpoint: p.endpoint.value.clone(),
                databases: p
                    .databases
                    .as_ref()
                    .map_or_else(Vec::new, |d| d.value.iter().map(|x| x.value.clone()).collect()),
                username: user.value.clone(),
                password: pw.value.clone(),
            })
        }
        Service::Redis(r) => Some(Scrape::Redis {
            endpoint: r.endpoint.value.clone(),
            username: r.username.as_ref().map(|u| u.value.clone()),
            password: r.password.as_ref().map(|p| p.value.clone()),
        }),
        Service::Elasticsearch(e) => Some(Scrape::Elasticsearch {
            endpoint: e.endpoint.value.clone(),
            credentials: match (&e.username, &e.password) {
                (Some(u), Some(p)) => Some((u.value.clone(), p.value.clone())),
                _ => None,
            },
        }),
        Service::Kafka(_) if java_agent(service) => None,
        Service::Kafka(k) => Some(Scrape::Kafka { brokers: k.brokers.value.iter().map(|b| b.value.clone()).collect() }),
    }
}

fn java_agent(service: &Service) -> bool {
    matches!(service, Service::Kafka(k) if k.metrics.as_ref().is_some_and(|m| m.value == KafkaMetrics::Jmx))
}

/// Every service of `stack`, resolved, in name order.
pub(crate) fn resolve(stack: &Stack) -> Vec<ServiceSettings> {
    let kinds: BTreeSet<ServiceKind> = stack.services.value.values().map(|s| s.value.kind()).collect();
    stack
        .services
        .value
        .iter()
        .map(|(name, service)| {
            let service = &service.value;
            let role = match service {
                Service::Django(d) => Role::App(App {
                    replicas: d.replicas.as_ref().map_or(1, |r| u32::try_from(r.value).unwrap_or(u32::MAX)),
                    signals: d.signals.as_ref().map_or_else(
                        || Signal::ALL.to_vec(),
                        |s| Signal::ALL.into_iter().filter(|x| s.value.iter().any(|y| y.value == *x)).collect(),
                    ),
                    instrumentations: d.instrumentations.as_ref().map_or_else(
                        || default_instrumentations(&kinds),
                        |list| Instrumentations {
                            listed: list.value.iter().map(|i| i.value).collect(),
                            candidates: Vec::new(),
                        },
                    ),
                }),
                _ => Role::Datastore(Box::new(Datastore {
                    scrape: scrape(service),
                    java_agent: java_agent(service),
                    logs: service.logs().map(|l| match &l.value {
                        Logs::Files(files) => LogSource::Files {
                            glob: files.path.value.clone(),
                            dir: glob_dir(&files.path.value),
                            owner: files.owner.as_ref().map_or_else(|| default_log_owner(service.kind()), |o| o.value),
                        },
                        Logs::Stdout => LogSource::Stdout,
                    }),
                    tls: service.tls().map(ClientTls::from_model),
                })),
            };
            ServiceSettings { name: name.clone(), kind: service.kind(), workload: team_workload(name, service), role }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::Instrumentation as I;
    use crate::test_support::{valid, DKP};

    /// The instrumentations of service `name` in the stack `text`.
    fn instrumentations_of(text: &str, name: &str) -> Instrumentations {
        let valid = valid(text);
        let service = valid.services.iter().find(|s| s.name == name).unwrap();
        let Role::App(app) = &service.role else { panic!("{name} is not a Django service") };
        app.instrumentations.clone()
    }

    #[test]
    fn a_service_without_a_list_tries_every_client_of_the_stack() {
        // The DKP worker lists nothing: both PostgreSQL drivers, both Kafka clients, and the
        // general ones, each tried where the app runs; nothing is required.
        let worker = instrumentations_of(DKP, "worker");
        assert_eq!(worker.listed, []);
        assert_eq!(
            worker.candidates,
            [
                I::Psycopg2,
                I::Psycopg,
                I::Redis,
                I::Elasticsearch,
                I::KafkaPython,
                I::ConfluentKafka,
                I::Celery,
                I::Requests,
                I::Urllib3,
                I::Httpx
            ]
        );
    }

    #[test]
    fn candidates_follow_the_datastore_kinds_of_the_stack() {
        let text =
            "version: 1\nname: x\nservices:\n  web: { kind: django }\n  db: { kind: postgres, endpoint: db:5432 }\n";
        let web = instrumentations_of(text, "web");
        assert_eq!(web.candidates, [I::Psycopg2, I::Psycopg, I::Celery, I::Requests, I::Urllib3, I::Httpx]);
        let alone = instrumentations_of("version: 1\nname: x\nservices:\n  web: { kind: django }\n", "web");
        assert_eq!(alone.candidates, GENERAL_CLIENTS, "no datastore: only Celery and the HTTP clients");
    }

    #[test]
    fn a_list_is_exact_and_keeps_its_order() {
        let web = instrumentations_of(DKP, "web");
        assert_eq!(web.listed, [I::Psycopg2, I::Redis, I::Elasticsearch, I::KafkaPython]);
        assert_eq!(web.candidates, [], "a listed service instruments nothing else");
        let text = "version: 1\nname: x\nservices:\n  web: { kind: django, instrumentations: [httpx, psycopg] }\n  db: { kind: postgres, endpoint: db:5432 }\n";
        assert_eq!(instrumentations_of(text, "web").all().collect::<Vec<_>>(), [I::Httpx, I::Psycopg]);
        let none = "version: 1\nname: x\nservices:\n  web: { kind: django, instrumentations: [] }\n  db: { kind: postgres, endpoint: db:5432 }\n";
        assert_eq!(instrumentations_of(none, "web").all().count(), 0, "an empty list: Django alone");
    }

    #[test]
    fn glob_dirs() {
        assert_eq!(glob_dir("/var/log/postgresql/*.log"), "/var/log/postgresql");
        assert_eq!(glob_dir("/var/log/*/x.log"), "/var/log");
        assert_eq!(glob_dir("/data/redis.log"), "/data");
        assert_eq!(glob_dir("/x.log"), "/");
    }
}
