//! Pass `deployment`: the deployment side — the backends otelplan runs as sandboxes, Kibana and
//! Grafana beside them, the hooks into the team's datastores (shared log directories, container
//! log labels, the Java agent) and which secrets each namespace needs.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::endpoint::Scheme;
use crate::model::env_ref::EnvRef;
use crate::model::names;
use crate::plan::address::Addr;
use crate::plan::address::Namespaces;
use crate::plan::backend_spec::Catalog;
use crate::plan::deploy::{
    k8s_name, log_owner, DeployedBackend, Deployment, FileLogHook, Grafana, JmxHook, Kibana, StdoutHook, Workload,
};
use crate::plan::draft::{Draft, Sink};
use crate::plan::es_setup::{self, EsSetup, EsWriter, SetupInput};
use crate::plan::ingress;
use crate::plan::node::RoleKind;
use crate::plan::store_config;
use crate::plan::{ApmAuth, EsAuth};
use crate::settings::{LogSource, Role};
use crate::topology::BackendKind;

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
            Some(LogSource::Files { dir, .. }) => files.push(FileLogHook {
                datastore: name.clone(),
                kind: service.kind,
                dir: dir.clone(),
                agent: d.role_name(&RoleKind::FileAgent(name.clone())),
                volume: format!("{}-{name}-logs", d.name()),
                workload: wl.clone(),
                owner: log_owner(service.kind).0,
                group: log_owner(service.kind).1,
            }),
            Some(LogSource::Stdout) => stdout.push(StdoutHook { datastore: name.clone(), workload: wl.clone() }),
            None => {}
        }
        if ds.java_agent {
            jmx.push(JmxHook { datastore: name.clone(), workload: wl, endpoint: entry.clone(), auth: auth.clone() });
        }
    }
    (files, stdout, jmx)
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
    let mut store_configs = BTreeMap::new();
    for b in &backends {
        if let Some(config) = store_config::plan(catalog, b.kind)? {
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
        store_ingress,
        grafana,
        file_logs,
        stdout_logs,
        jmx,
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
