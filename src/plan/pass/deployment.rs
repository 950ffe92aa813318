//! Pass `deployment`: the deployment side — the backends otelplan runs as sandboxes, Kibana and
//! Grafana beside them, the hooks into the team's datastores (shared log directories, container
//! log labels, the Java agent) and which secrets each namespace needs.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::endpoint::Scheme;
use crate::model::env_ref::EnvRef;
use crate::model::keywords::ServiceKind;
use crate::model::names;
use crate::plan::address::Namespaces;
use crate::plan::address::{Addr, Scope};
use crate::plan::backend_spec::Catalog;
use crate::plan::deploy::{
    k8s_name, DeployedBackend, Deployment, FileLogHook, Grafana, JmxHook, Kibana, StdoutHook, Workload,
};
use crate::plan::draft::{Draft, Sink};
use crate::plan::es_setup::{self, EsSetup, EsWriter, SetupInput};
use crate::plan::ingress;
use crate::plan::node::RoleKind;
use crate::plan::provision::{
    kafka_acls, Grant, MonitorAccess, PgLogging, ES_CLUSTER_PRIVILEGES, ES_INDEX_PRIVILEGES, PG_LOG_DIR_LIMIT_MIB,
    PG_MAINTENANCE_DB, PG_MONITOR_ROLE, REDIS_COMMANDS,
};
use crate::plan::store_config;
use crate::plan::{ApmAuth, EsAuth};
use crate::settings::{LogSource, Role, Scrape};
use crate::topology::BackendKind;

/// The logging settings otelplan asks of a PostgreSQL server whose files an agent tails.
fn pg_logging(kind: ServiceKind, glob: &str, dir: &str) -> Option<PgLogging> {
    let file_pattern = glob.rsplit('/').next().unwrap_or(glob);
    (kind == ServiceKind::Postgres).then(|| PgLogging::new(dir, file_pattern))
}

/// Hooks into the team's datastores.
fn hooks(d: &Draft<'_>) -> (Vec<FileLogHook>, Vec<StdoutHook>, Vec<JmxHook>) {
    let (mut files, mut stdout, mut jmx) = (Vec::new(), Vec::new(), Vec::new());
    let (_, entry) = d.app_entry();
    let auth = d.app_credential();
    for service in &d.valid.services {
        let Role::Datastore(ds) = &service.role else { continue };
        let name = &service.name;
        let t = &service.workload;
        let wl = Workload { kind: t.kind, name: t.name.clone(), container: t.container.clone() };
        match &ds.logs {
            Some(LogSource::Files { glob, dir, owner }) => {
                let postgres = pg_logging(service.kind, glob, dir);
                let size_limit_mib = postgres.as_ref().filter(|pg| pg.rotated).map(|_| PG_LOG_DIR_LIMIT_MIB);
                files.push(FileLogHook {
                    datastore: name.clone(),
                    kind: service.kind,
                    dir: dir.clone(),
                    agent: d.role_name(&RoleKind::FileAgent(name.clone())),
                    volume: format!("{}-{name}-logs", d.name()),
                    workload: wl.clone(),
                    owner: owner.uid,
                    group: owner.gid,
                    postgres,
                    size_limit_mib,
                });
            }
            Some(LogSource::Stdout) => stdout.push(StdoutHook { datastore: name.clone(), workload: wl.clone() }),
            None => {}
        }
        if ds.java_agent {
            jmx.push(JmxHook { datastore: name.clone(), workload: wl, endpoint: entry.clone(), auth: auth.clone() });
        }
    }
    (files, stdout, jmx)
}

/// What the receiver of a scraped datastore logs in with, when the stack says who it is (a
/// Redis receiver without `username` uses the default user, which otelplan leaves alone).
fn access(d: &Draft<'_>) -> Vec<MonitorAccess> {
    let grant = |scrape: &Scrape| match scrape {
        Scrape::Postgres { username, password, databases, .. } => Some(Grant::Postgres {
            user: username.clone(),
            member_of: PG_MONITOR_ROLE,
            password: password.clone(),
            databases: if databases.is_empty() {
                Vec::new()
            } else {
                std::iter::once(PG_MAINTENANCE_DB.to_string())
                    .chain(databases.iter().filter(|db| *db != PG_MAINTENANCE_DB).cloned())
                    .collect()
            },
        }),
        Scrape::Redis { endpoint, username: Some(user), password: Some(password) } => Some(Grant::Redis {
            endpoint: Addr::from_endpoint(endpoint, Scope::App),
            user: user.clone(),
            commands: REDIS_COMMANDS.to_vec(),
            password: password.clone(),
        }),
        Scrape::Elasticsearch { endpoint, credentials: Some((user, password)) } => Some(Grant::Elasticsearch {
            endpoint: Addr::from_endpoint(endpoint, Scope::App).with_default_scheme(Scheme::Http),
            role: format!("{}-otel-monitor", d.name()),
            cluster: ES_CLUSTER_PRIVILEGES.to_vec(),
            indices: ES_INDEX_PRIVILEGES.to_vec(),
            user: user.clone(),
            password: password.clone(),
        }),
        Scrape::Kafka { brokers } => Some(Grant::Kafka {
            brokers: brokers.iter().map(|b| Addr::from_endpoint(b, Scope::App)).collect(),
            acls: kafka_acls(),
        }),
        Scrape::Redis { .. } | Scrape::Elasticsearch { .. } => None,
    };
    d.valid
        .services
        .iter()
        .filter_map(|service| {
            let Role::Datastore(ds) = &service.role else { return None };
            let grant = grant(ds.scrape.as_ref()?)?;
            Some(MonitorAccess { datastore: service.name.clone(), grant })
        })
        .collect()
}

/// Grafana, beside the stores it can read, when otelplan deploys one of them.
fn grafana(d: &Draft<'_>, catalog: &Catalog) -> Option<Grafana> {
    let readable: Vec<(BackendKind, &Sink)> =
        d.sinks.iter().filter(|(k, _)| catalog.backend(**k).grafana.is_some()).map(|(k, s)| (*k, s)).collect();
    readable.iter().any(|(_, s)| s.deployed).then(|| Grafana {
        name: k8s_name(&names::workload(d.name(), "grafana")),
        sources: readable
            .iter()
            .map(|(k, s)| {
                // A store read on another port than its intake (Jaeger's query port).
                let query = catalog.backend(*k).grafana.as_ref().and_then(|g| g.port.as_deref());
                let addr = s.addr.clone();
                let addr = match query.and_then(|p| catalog.backend(*k).port(p)) {
                    Some(port) => Addr { port, scheme: Some(Scheme::Http), path: String::new(), tls: None, ..addr },
                    None => addr,
                };
                (*k, addr)
            })
            .collect(),
    })
}

/// A warning for each backend the stack deploys that this topology does not use: nothing would
/// run it, which the team may not expect.
fn unused_sandboxes(d: &mut Draft<'_>) {
    let b = d.valid.backends();
    for kind in BackendKind::ALL {
        let Some(common) = b.common(kind.key()) else { continue };
        if !common.deployed() || d.sinks.contains_key(&kind) {
            continue;
        }
        let message = format!(
            "`backends.{}` is deployed, but topology {} does not use it: nothing runs it",
            kind.key(),
            d.topology.id.letter()
        );
        let warning = match common.deploy.as_ref() {
            Some(deploy) => Diagnostic::warning(deploy.span, message),
            None => Diagnostic { severity: Severity::Warning, ..Diagnostic::file_error(message) },
        };
        d.warnings.push(warning.hint("drop `deploy: true`, or choose a topology that uses it"));
    }
}

/// In production, one warning naming the connections that carry telemetry or credentials in
/// plain text: datastores scraped without `tls`, backends the stack runs itself without it, and
/// the collectors' own intake without `collector.tls` (otelplan's sandboxes are left out: they
/// are plain HTTP by design).
fn plain_text_in_production(d: &mut Draft<'_>) {
    if d.valid.environment != "production" {
        return;
    }
    let mut plain: Vec<String> = Vec::new();
    for service in &d.valid.services {
        if let Role::Datastore(ds) = &service.role {
            if ds.scrape.is_some() && ds.tls.is_none() {
                plain.push(format!("`{}`", service.name));
            }
        }
    }
    for (kind, sink) in &d.sinks {
        if !sink.deployed && !sink.addr.is_tls() {
            plain.push(format!("`backends.{}`", kind.key()));
        }
    }
    if d.roles.iter().any(|r| r.role == RoleKind::Gateway) && d.valid.intake_tls.is_none() {
        plain.push("the gateway's OTLP intake".to_string());
    }
    if plain.is_empty() {
        return;
    }
    let message = format!("in production, these connections are plain text: {}", plain.join(", "));
    let warning = match d.valid.stack.environment.as_ref() {
        Some(env) => Diagnostic::warning(env.span, message),
        None => Diagnostic { severity: Severity::Warning, ..Diagnostic::file_error(message) },
    };
    d.warnings.push(
        warning
            .hint("add `tls: { ca_file: … }` to each datastore and backend, and `collector.tls` for the intake")
            .hint("the files are paths as the containers see them; otelplan never reads them"),
    );
}

/// The one-shot setup of a deployed Elasticsearch.
fn elasticsearch_setup(
    d: &Draft<'_>,
    catalog: &Catalog,
    es: &Sink,
    superuser: &EnvRef,
    kibana_password: &EnvRef,
) -> anyhow::Result<EsSetup> {
    let spec = catalog.backend(BackendKind::Elasticsearch);
    let retention = spec.data.as_ref().map(|data| &data.retention).ok_or_else(|| {
        anyhow::anyhow!("data/backends.yaml gives Elasticsearch no data directory (this is a bug in otelplan)")
    })?;
    es_setup::plan(
        &catalog.elasticsearch_setup,
        SetupInput {
            name: k8s_name(&names::workload(d.name(), "elasticsearch-setup")),
            image: catalog.image(&catalog.companions.elasticsearch_setup, es.tag.as_deref()),
            elasticsearch: es.addr.clone().with_default_scheme(Scheme::Http),
            superuser_password: superuser.clone(),
            kibana_password: kibana_password.clone(),
            writer: EsWriter::of(d.topology),
            retention,
        },
    )
}

/// Plan the deployment side.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    unused_sandboxes(d);
    plain_text_in_production(d);
    let catalog = Catalog::get()?;
    let backends: Vec<DeployedBackend> = d
        .sinks
        .iter()
        .filter(|(_, s)| s.deployed)
        .map(|(kind, s)| DeployedBackend {
            kind: *kind,
            name: s.addr.host.clone(),
            image: catalog.image(catalog.backend(*kind), s.tag.as_deref()),
            port: s.addr.port,
        })
        .collect();
    let es = d.sinks.get(&BackendKind::Elasticsearch).filter(|s| s.deployed);
    let kibana = es.map(|s| Kibana {
        name: k8s_name(&names::workload(d.name(), "kibana")),
        image: catalog.image(&catalog.companions.kibana, s.tag.as_deref()),
        elasticsearch: s.addr.clone().with_default_scheme(Scheme::Http),
    });
    let grafana = grafana(d, catalog);
    // Where otelplan's alert rules on the collectors' own metrics apply: the store those land in.
    let alerts =
        d.roles.iter().any(|r| r.telemetry.is_some()).then(|| d.sink_of(crate::model::keywords::Signal::Metrics));
    let mut store_configs = BTreeMap::new();
    for b in &backends {
        if let Some(config) = store_config::plan(catalog, b.kind, alerts == Some(b.kind))? {
            store_configs.insert(b.kind, config);
        }
    }
    let namespaces = Namespaces { app: d.valid.app_namespace.clone(), observability: d.valid.namespace.clone() };
    let store_ingress = ingress::plan(d, catalog, &namespaces, &backends, grafana.as_ref().map(|g| g.name.as_str()));
    let (file_logs, stdout_logs, jmx) = hooks(d);
    let mut observability_secrets = BTreeSet::new();
    let mut app_secrets = BTreeSet::new();
    for role in &d.roles {
        let side =
            if matches!(role.role, RoleKind::FileAgent(_)) { &mut app_secrets } else { &mut observability_secrets };
        side.extend(role.secrets.iter().cloned());
    }
    app_secrets.extend(d.apps.iter().filter_map(|a| a.auth.as_ref().map(|(_, e)| e.clone())));
    app_secrets.extend(jmx.iter().filter_map(|h| h.auth.as_ref().map(|(_, e)| e.clone())));
    if let Some(apm) = &d.apm_server {
        if let ApmAuth::SecretToken(e) | ApmAuth::ApiKey(e) = &apm.auth {
            observability_secrets.insert(e.clone());
        }
        if let EsAuth::Basic { password: e, .. } | EsAuth::ApiKey(e) = &apm.elasticsearch_auth {
            observability_secrets.insert(e.clone());
        }
    }
    let kibana_password = EnvRef::named("KIBANA_SYSTEM_PASSWORD");
    let kibana_encryption_key = EnvRef::named("KIBANA_ENCRYPTION_KEY");
    let grafana_password = EnvRef::named("GRAFANA_ADMIN_PASSWORD");
    // A sandbox's `elastic` superuser: its container and setup job read the password.
    let stack_es = d.valid.backends().elasticsearch;
    let elasticsearch_password = es.and(stack_es.as_ref()).and_then(|b| b.password.as_ref()).map(|p| p.value.clone());
    let elasticsearch_setup = match (es, &elasticsearch_password) {
        (Some(s), Some(superuser)) => Some(elasticsearch_setup(d, catalog, s, superuser, &kibana_password)?),
        _ => None,
    };
    if let Some(setup) = &elasticsearch_setup {
        observability_secrets.extend(setup.passwords.iter().map(|(_, e)| e.clone()));
    }
    if kibana.is_some() {
        observability_secrets.insert(kibana_encryption_key.clone());
    }
    if grafana.is_some() {
        observability_secrets.insert(grafana_password.clone());
    }
    d.deployment = Some(Deployment {
        backends,
        kibana,
        elasticsearch_setup,
        store_configs,
        alerts,
        store_ingress,
        grafana,
        file_logs,
        stdout_logs,
        jmx,
        access: access(d),
        secret_name: k8s_name(&format!("{}-otelplan", d.name())),
        tls_secret_name: k8s_name(&format!("{}-otelplan-tls", d.name())),
        observability_secrets,
        app_secrets,
        elasticsearch_password,
        kibana_password,
        kibana_encryption_key,
        grafana_password,
        prefix: d.name().to_string(),
        volume_init: k8s_name(&names::workload(d.name(), "volume-init")),
        javaagent_init: k8s_name(&names::workload(d.name(), "javaagent-init")),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::keywords::TopologyId;
    use crate::plan::provision::Grant;
    use crate::test_support::plan;

    const STACK: &str = "version: 1\nname: t\nbackends: { elasticsearch: { endpoint: \"http://es:9200\" } }\nservices:\n  web: { kind: django }\n  db: { kind: postgres, endpoint: \"db:5432\", logs: { path: /var/log/postgresql/*.log } }\n  alpine: { kind: postgres, endpoint: \"alpine:5432\", logs: { path: /var/log/postgresql/*.log, owner: \"70:70\" } }\n  search: { kind: elasticsearch, endpoint: \"http://search:9200\", logs: { path: /var/log/es/*.json } }\n";

    #[test]
    fn each_scraped_datastore_gets_the_least_access_its_receiver_needs() {
        let stack = "version: 1\nname: t\nbackends: { elasticsearch: { endpoint: \"http://es:9200\" } }\nservices:\n  db: { kind: postgres, endpoint: \"db:5432\", databases: [app, postgres], username: mon, password: \"${PW}\" }\n  nomon: { kind: postgres, endpoint: \"nomon:5432\" }\n  cache: { kind: redis, endpoint: \"cache:6379\", username: mon, password: \"${PW}\" }\n  plain: { kind: redis, endpoint: \"plain:6379\", password: \"${PW}\" }\n  search: { kind: elasticsearch, endpoint: \"http://search:9200\", username: mon, password: \"${PW}\" }\n  open: { kind: elasticsearch, endpoint: \"http://open:9200\" }\n  events: { kind: kafka, brokers: [\"events:9092\"] }\n  jmx: { kind: kafka, brokers: [\"jmx:9092\"], metrics: jmx }\n";
        let p = plan(stack, TopologyId::D);
        let grant = |name: &str| p.deployment.access.iter().find(|a| a.datastore == name).map(|a| a.grant.clone());
        let Some(Grant::Postgres { member_of, databases, .. }) = grant("db") else { panic!("{:?}", grant("db")) };
        assert_eq!(member_of, "pg_monitor");
        assert_eq!(databases, ["postgres", "app"], "the receiver always connects to `postgres` too");
        let Some(Grant::Redis { commands, .. }) = grant("cache") else { panic!("{:?}", grant("cache")) };
        assert_eq!(commands, ["info"], "the receiver runs INFO and nothing else");
        let Some(Grant::Elasticsearch { role, cluster, indices, .. }) = grant("search") else { panic!() };
        assert_eq!((role.as_str(), cluster, indices), ("t-otel-monitor", vec!["monitor"], vec!["monitor"]));
        let Some(Grant::Kafka { acls, .. }) = grant("events") else { panic!("{:?}", grant("events")) };
        assert!(acls.iter().all(|a| a.operations == ["Describe"]), "{acls:?}");
        for nothing in ["nomon", "plain", "open", "jmx"] {
            assert_eq!(grant(nothing), None, "{nothing}: no user to create, or nothing scrapes it");
        }
    }

    #[test]
    fn log_files_belong_to_the_given_owner_or_the_official_image() {
        let p = plan(STACK, TopologyId::D);
        let owner = |name: &str| {
            let hook = p.deployment.file_logs.iter().find(|h| h.datastore == name).unwrap();
            (hook.owner, hook.group)
        };
        assert_eq!(owner("alpine"), (70, 70), "logs.owner wins");
        assert_eq!(owner("db"), (999, 999), "the postgres image's user");
        assert_eq!(owner("search"), (1000, 0), "the elasticsearch image's user and group");
    }
}
