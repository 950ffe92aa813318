//! Validate stage, output: each service's settings with every default applied, once. The
//! planner reads these and never the raw, spanned model (ripgrep's low-level → high-level
//! arguments).

use std::collections::BTreeSet;

use crate::model::endpoint::Endpoint;
use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Instrumentation, KafkaMetrics, ServiceKind, Signal, WorkloadKind};
use crate::model::service::{Logs, Owner, Service};
use crate::model::Stack;

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
    /// Client libraries to instrument: as listed, or one per datastore kind of the stack.
    pub(crate) instrumentations: Vec<Instrumentation>,
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
}

/// What a service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// A Django service.
    App(App),
    /// A datastore.
    Datastore(Datastore),
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

/// One instrumentation per datastore kind in the stack (the spec's default).
fn default_instrumentations(kinds: &BTreeSet<ServiceKind>) -> Vec<Instrumentation> {
    let mut out: Vec<Instrumentation> = kinds
        .iter()
        .filter_map(|k| match k {
            ServiceKind::Postgres => Some(Instrumentation::Psycopg),
            ServiceKind::Redis => Some(Instrumentation::Redis),
            ServiceKind::Elasticsearch => Some(Instrumentation::Elasticsearch),
            ServiceKind::Kafka => Some(Instrumentation::KafkaPython),
            ServiceKind::Django => None,
        })
        .collect();
    out.sort();
    out
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
                        |list| list.value.iter().map(|i| i.value).collect(),
                    ),
                }),
                _ => Role::Datastore(Datastore {
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
                }),
            };
            ServiceSettings { name: name.clone(), kind: service.kind(), workload: team_workload(name, service), role }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_dirs() {
        assert_eq!(glob_dir("/var/log/postgresql/*.log"), "/var/log/postgresql");
        assert_eq!(glob_dir("/var/log/*/x.log"), "/var/log");
        assert_eq!(glob_dir("/data/redis.log"), "/data");
        assert_eq!(glob_dir("/x.log"), "/");
    }
}
