//! Emit stage: the compose target. `compose/docker-compose.yaml` runs the topology's
//! observability side (collectors, APM Server, deployed backends); `compose/dkp.override.yaml`
//! hooks the team's own DKP services into it; `compose/.env.example` names every variable.
//! Built as data and serialised; every literal is escaped for compose's `$` interpolation.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::visit::EdgeRef;
use serde_yaml::Value;

use crate::emit::yaml::{document, map, s, strings, HEADER};
use crate::emit::OutputTree;
use crate::model::env_ref::EnvRef;
use crate::model::keywords::Target;
use crate::plan::app::EnvValue;
use crate::plan::collector::CollectorRole;
use crate::plan::deploy::{Deployment, BUSYBOX_IMAGE, JAVA_AGENT_DIR, JAVA_AGENT_IMAGE};
use crate::plan::node::NodeKind;
use crate::plan::role_spec::Placement;
use crate::plan::workload::{EnvSource, Member, Replicas, Workload, WorkloadKind, SETUP_DIR};
use crate::plan::{Flavor, Plan};
use crate::topology::BackendKind;

/// The label the overlay puts on datastores whose container logs the node agent keeps.
pub(crate) use crate::emit::collector::SERVICE_LABEL;

/// Escape a literal for compose, which interpolates `$`.
fn lit(text: &str) -> Value {
    s(text.replace('$', "$$"))
}

/// An `environment` entry that passes a secret in: by name when the container reads the
/// same variable, else as a required interpolation (never a `:-` default, which would
/// silently disable authentication).
fn secret_entry(container_var: &str, source: &EnvRef) -> Value {
    if container_var == source.name() {
        s(container_var)
    } else {
        let name = source.name();
        s(format!("{container_var}=${{{name}:?set {name} (see .env.example)}}"))
    }
}

fn env_list(entries: Vec<Value>) -> Value {
    Value::Sequence(entries)
}

fn literal_env(key: &str, value: &str) -> Value {
    lit(&format!("{key}={value}"))
}

fn depends(entries: &[(String, &str)]) -> Value {
    map(entries.iter().map(|(name, condition)| (name.clone(), map([("condition", s(*condition))]))))
}

fn limits(memory_mib: u32) -> Value {
    map([("resources", map([("limits", map([("memory", s(format!("{memory_mib}M")))]))]))])
}

/// A named volume in the long syntax, so a path from the stack file is a plain value (escaped
/// for interpolation) rather than part of a `source:target` string.
fn named_volume(name: &str, target: &str, read_only: bool) -> Value {
    map([("type", s("volume")), ("source", s(name)), ("target", lit(target)), ("read_only", Value::Bool(read_only))])
}

fn bind(source: &str, target: &str) -> Value {
    map([("type", s("bind")), ("source", s(source)), ("target", s(target)), ("read_only", Value::Bool(true))])
}

/// The files of the compose target.
pub(crate) fn emit(plan: &Plan, tree: &mut OutputTree) {
    let d = &plan.deployment;
    tree.insert("compose/docker-compose.yaml".into(), document(&base(plan)));
    tree.insert("compose/dkp.override.yaml".into(), document(&overlay(plan)));
    tree.insert("compose/.env.example".into(), env_example(d));
    if let Some(text) = crate::emit::grafana::datasources(plan, Flavor::Compose) {
        tree.insert("compose/grafana/datasources.yaml".into(), text);
    }
}

fn env_example(d: &Deployment) -> String {
    let mut out = format!(
        "# {HEADER}\n# Every variable the compose files read. Copy to `.env` beside the compose file you run\n# (or export them) and fill in the values; never commit the filled-in file.\n"
    );
    let names: BTreeSet<&str> = d.observability_secrets.iter().chain(&d.app_secrets).map(EnvRef::name).collect();
    for name in names {
        out.push_str(name);
        out.push_str("=\n");
    }
    out
}

/// A workload's environment as compose lists it: literals escaped, secrets passed through by
/// name or as required interpolations, Kubernetes-only entries left out.
fn workload_env(plan: &Plan, w: &Workload) -> Vec<Value> {
    w.env
        .iter()
        .filter(|e| e.only.is_none_or(|t| t == Target::Compose))
        .filter_map(|e| match &e.source {
            EnvSource::Value(EnvValue::Literal(text)) => Some(literal_env(&e.name, text)),
            EnvSource::Value(EnvValue::Secret { prefix, env }) if prefix.is_empty() => Some(secret_entry(&e.name, env)),
            EnvSource::Value(EnvValue::Secret { prefix, env }) => {
                let name = env.name();
                Some(s(format!("{}={}${{{name}:?set {name} (see .env.example)}}", e.name, prefix.replace('$', "$$"))))
            }
            EnvSource::Url(addr) => Some(lit(&format!("{}={}", e.name, addr.url(Flavor::Compose, &plan.namespaces)))),
            EnvSource::NodeName => None,
        })
        .collect()
}

/// For each sender (by node name), the compose services of this project that receive what it
/// exports (for `depends_on`): other collectors and deployed backends, never an external
/// endpoint. Computed once for all roles, in one pass over the edges. Only the telemetry flow
/// counts, not a collector's own metrics: those wait in its queue for whoever takes them, and
/// they may run against the flow (the samplers report to the gateway that feeds them), where a
/// cycle would keep compose from starting either.
fn next_hops(plan: &Plan) -> BTreeMap<&str, BTreeSet<&str>> {
    let g = &plan.graph;
    let runs_here: BTreeSet<&str> = g
        .node_weights()
        .filter(|n| {
            matches!(
                n.kind,
                NodeKind::Collector { .. }
                    | NodeKind::Backend { deployed: true, .. }
                    | NodeKind::Buffer { deployed: true }
            )
        })
        .map(|n| n.name.as_str())
        .collect();
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in g.edge_references() {
        let to = g[e.target()].name.as_str();
        if runs_here.contains(to) && !e.weight().own {
            out.entry(g[e.source()].name.as_str()).or_default().insert(to);
        }
    }
    out
}

/// The condition a dependant waits for: healthy where the service has a healthcheck, done for a
/// one-shot service.
fn condition(plan: &Plan, service: &str) -> &'static str {
    let w = plan.workloads.iter().find(|w| w.name == service);
    match w {
        Some(w) if w.replicas == Replicas::OneShot => "service_completed_successfully",
        Some(w) if w.compose_healthcheck.is_some() => "service_healthy",
        _ => "service_started",
    }
}

/// What a dependant of `service` waits for: a deployed Elasticsearch's setup job instead of
/// Elasticsearch (the users that write to it and Kibana's exist only once the job is done), and
/// every member of a fixed set.
fn dependencies(plan: &Plan, service: &str) -> Vec<(String, &'static str)> {
    let d = &plan.deployment;
    let es = d.backends.iter().any(|b| b.kind == BackendKind::Elasticsearch && b.name == service);
    if let (Some(setup), true) = (&d.elasticsearch_setup, es) {
        return vec![(setup.name.clone(), condition(plan, &setup.name))];
    }
    let condition = condition(plan, service);
    match plan.workloads.iter().find(|w| w.name == service) {
        Some(w) => w.compose_members().into_iter().map(|m| (m.service, condition)).collect(),
        None => vec![(service.to_string(), condition)],
    }
}

fn collector_service(
    plan: &Plan,
    w: &Workload,
    member: &Member,
    role: &CollectorRole,
    placement: Placement,
    hops: &BTreeMap<&str, BTreeSet<&str>>,
) -> Value {
    let d = &plan.deployment;
    let config_path = w.config.as_deref().unwrap_or_default();
    let mut volumes = vec![bind(&format!("../collector/{}", role.file_name()), config_path)];
    if let (Some(storage), Some(volume)) = (&w.storage, &member.volume) {
        volumes.push(s(format!("{volume}:{}", storage.path)));
    }
    let mut depends_on: Vec<(String, &str)> = Vec::new();
    if w.storage.is_some() && placement != Placement::PerNode {
        depends_on.push((d.volume_init.clone(), "service_completed_successfully"));
    }
    for hop in hops.get(w.name.as_str()).into_iter().flatten() {
        depends_on.extend(dependencies(plan, hop));
    }
    let mut entries = vec![
        ("image", s(w.image.clone())),
        ("command", strings(std::iter::once(format!("--config={config_path}")).chain(w.args.iter().cloned()))),
        ("restart", s("unless-stopped")),
    ];
    match placement {
        Placement::Sidecar => {
            if let Some(hook) = d.file_logs.iter().find(|h| h.agent == w.name) {
                volumes.push(named_volume(&hook.volume, &hook.dir, true));
                // The files are the datastore's: join its group so files it writes group-readable
                // can be read.
                entries.push(("group_add", strings([hook.group.to_string()])));
            }
        }
        Placement::PerNode => {
            // Docker's json-file logs are root's: the node agent reads them as uid 0, with every
            // capability dropped and the host directory mounted read-only.
            entries.push(("user", s("0:0")));
            volumes.push(bind("/var/lib/docker/containers", "/var/lib/docker/containers"));
        }
        Placement::Scaled | Placement::Single | Placement::Ring => {}
    }
    entries.extend([
        ("environment", env_list(workload_env(plan, w))),
        ("volumes", Value::Sequence(volumes)),
        ("read_only", Value::Bool(true)),
        ("cap_drop", strings(["ALL"])),
        ("security_opt", strings(["no-new-privileges:true"])),
        ("deploy", limits(w.resources.memory_limit_mib)),
    ]);
    if !depends_on.is_empty() {
        entries.push(("depends_on", depends(&depends_on)));
    }
    // No healthcheck: the collector-contrib image has no shell or HTTP client to run one;
    // dependants wait for `service_started` and `restart` covers a failed start.
    map(entries)
}

fn healthcheck(test: &str) -> Value {
    map([
        ("test", strings(["CMD-SHELL", test])),
        ("interval", s("10s")),
        ("timeout", s("10s")),
        ("retries", Value::Number(30.into())),
        ("start_period", s("30s")),
    ])
}

/// A deployed backend or companion: its workload, plus what only compose needs (mounted files,
/// published ports, the services it waits for).
fn program_service(plan: &Plan, w: &Workload, mut volumes: Vec<Value>, after: &[(String, &str)]) -> Value {
    let mut entries = vec![
        ("image", s(w.image.clone())),
        ("restart", s(if w.replicas == Replicas::OneShot { "no" } else { "unless-stopped" })),
    ];
    if !w.args.is_empty() {
        entries.push(("command", strings(w.args.iter().cloned())));
    }
    if let Some(storage) = &w.storage {
        volumes.push(s(format!("{}:{}", storage.volume, storage.path)));
    }
    if !volumes.is_empty() {
        entries.push(("volumes", Value::Sequence(volumes)));
    }
    let env = workload_env(plan, w);
    if !env.is_empty() {
        entries.push(("environment", env_list(env)));
    }
    let published: Vec<String> =
        w.ports.iter().filter(|p| p.published).map(|p| format!("127.0.0.1:{}:{}", p.port, p.port)).collect();
    if !published.is_empty() {
        entries.push(("ports", strings(published)));
    }
    if !after.is_empty() {
        entries.push(("depends_on", depends(after)));
    }
    if let Some(test) = &w.compose_healthcheck {
        entries.push(("healthcheck", healthcheck(&test.replace('$', "$$"))));
    }
    // Each runs as its image's unprivileged user, as on Kubernetes: no capabilities, and no way to
    // gain privileges (setuid binaries).
    entries.push(("cap_drop", strings(["ALL"])));
    entries.push(("security_opt", strings(["no-new-privileges:true"])));
    entries.push(("deploy", limits(w.resources.memory_limit_mib)));
    map(entries)
}

/// The file a program reads its configuration from, bound read-only where it expects it.
fn config_bind(w: &Workload, source: &str) -> Vec<Value> {
    w.config.as_deref().map(|target| bind(source, target)).into_iter().collect()
}

/// A deployed backend's own configuration file (written at the top of the tree), if it has one,
/// and the other files of the tree it reads.
fn backend_config(w: &Workload) -> Vec<Value> {
    let mut binds: Vec<Value> =
        w.config_file.as_deref().map(|file| config_bind(w, &format!("../{file}"))).unwrap_or_default();
    binds.extend(w.files.iter().map(|f| bind(&format!("../{}", f.tree), &f.mount)));
    binds
}

fn backend_service(plan: &Plan, w: &Workload, kind: BackendKind) -> Value {
    let d = &plan.deployment;
    let after: Vec<(String, &str)> = if kind == BackendKind::ApmServer {
        d.backends
            .iter()
            .filter(|x| x.kind == BackendKind::Elasticsearch)
            .flat_map(|x| dependencies(plan, &x.name))
            .collect()
    } else {
        // A volume the image has no directory for is handed over first.
        let handed = w.storage.as_ref().is_some_and(|s| !s.in_image);
        handed.then(|| (d.volume_init.clone(), "service_completed_successfully")).into_iter().collect()
    };
    program_service(plan, w, backend_config(w), &after)
}

fn companion_service(plan: &Plan, w: &Workload) -> Value {
    let d = &plan.deployment;
    match (&w.kind, &d.kibana) {
        (WorkloadKind::ElasticsearchSetup, Some(k)) => {
            // The job's script and request bodies, read-only; it starts once Elasticsearch is
            // healthy and gives up on its own when it never answers.
            let files = bind(&format!("../{}", crate::emit::es_setup::DIR), SETUP_DIR);
            let es = (k.elasticsearch.host.clone(), condition(plan, &k.elasticsearch.host));
            program_service(plan, w, vec![files], &[es])
        }
        (WorkloadKind::Kibana, Some(k)) => {
            program_service(plan, w, Vec::new(), &dependencies(plan, &k.elasticsearch.host))
        }
        (WorkloadKind::Grafana, _) => {
            let stores: Vec<(String, &str)> = d
                .backends
                .iter()
                .filter(|b| matches!(b.kind, BackendKind::Jaeger | BackendKind::Prometheus | BackendKind::Loki))
                .flat_map(|b| dependencies(plan, &b.name))
                .collect();
            program_service(plan, w, config_bind(w, "./grafana/datasources.yaml"), &stores)
        }
        _ => program_service(plan, w, Vec::new(), &[]),
    }
}

/// Named volumes start root-owned unless the image has their directory, while the collector
/// runs as uid 10001 and a datastore as its own user. This one-shot service hands each volume to
/// its writer before anyone starts: collector storage to the collector, a store's data to the
/// store (Jaeger's Badger), a shared log directory to the datastore (group-readable, for the
/// agent that joins its group).
fn volume_init(plan: &Plan) -> Option<Value> {
    let owned: Vec<&Workload> =
        plan.workloads.iter().filter(|w| w.storage.as_ref().is_some_and(|s| !s.in_image) && w.user.uid != 0).collect();
    let owned: Vec<&Workload> = owned.into_iter().filter(|w| !is_per_node(plan, w)).collect();
    let logs = &plan.deployment.file_logs;
    if owned.is_empty() && logs.is_empty() {
        return None;
    }
    let mut mounts = Vec::new();
    let mut steps = Vec::new();
    for w in &owned {
        for member in w.compose_members() {
            if let Some(volume) = &member.volume {
                mounts.push(format!("{volume}:/volumes/{}", member.service));
                steps.push(format!("chown -R {}:{} /volumes/{}", w.user.uid, w.user.gid, member.service));
            }
        }
    }
    for hook in logs {
        mounts.push(format!("{}:/volumes/{}", hook.volume, hook.volume));
        steps.push(format!(
            "chown {}:{} /volumes/{v} && chmod 0750 /volumes/{v}",
            hook.owner,
            hook.group,
            v = hook.volume
        ));
    }
    Some(map([
        ("image", s(BUSYBOX_IMAGE)),
        ("restart", s("no")),
        ("command", strings(["sh", "-c", &steps.join(" && ")])),
        ("volumes", strings(mounts)),
    ]))
}

fn is_per_node(plan: &Plan, w: &Workload) -> bool {
    placement_of(plan, w) == Some(Placement::PerNode)
}

fn placement_of(plan: &Plan, w: &Workload) -> Option<Placement> {
    let WorkloadKind::Collector(i) = w.kind else { return None };
    plan.roles.get(i).and_then(|r| r.spec().ok()).map(|spec| spec.placement)
}

fn base(plan: &Plan) -> Value {
    let d = &plan.deployment;
    let mut services: Vec<(String, Value)> = Vec::new();
    let mut volumes: BTreeSet<String> = BTreeSet::new();
    if let Some(init) = volume_init(plan) {
        services.push((d.volume_init.clone(), init));
    }
    let hops = next_hops(plan);
    for w in &plan.workloads {
        let service = match &w.kind {
            WorkloadKind::Collector(i) => {
                let (Some(role), Some(placement)) = (plan.roles.get(*i), placement_of(plan, w)) else { continue };
                for member in w.compose_members() {
                    volumes.extend(member.volume.clone());
                    services
                        .push((member.service.clone(), collector_service(plan, w, &member, role, placement, &hops)));
                }
                continue;
            }
            WorkloadKind::Backend(kind) => backend_service(plan, w, *kind),
            WorkloadKind::Kibana | WorkloadKind::ElasticsearchSetup | WorkloadKind::Grafana => {
                companion_service(plan, w)
            }
            WorkloadKind::Buffer => program_service(plan, w, Vec::new(), &[]),
        };
        if let Some(storage) = &w.storage {
            volumes.insert(storage.volume.clone());
        }
        services.push((w.name.clone(), service));
    }
    for hook in &d.file_logs {
        volumes.insert(hook.volume.clone());
    }
    if !d.jmx.is_empty() {
        let volume = format!("{}-javaagent", d.prefix);
        services.push((
            d.javaagent_init.clone(),
            map([
                ("image", s(JAVA_AGENT_IMAGE)),
                ("restart", s("no")),
                ("command", strings(["cp", "/javaagent.jar", &format!("{JAVA_AGENT_DIR}/javaagent.jar")])),
                ("volumes", strings([format!("{volume}:{JAVA_AGENT_DIR}")])),
            ]),
        ));
        volumes.insert(volume);
    }
    services.sort_by(|a, b| a.0.cmp(&b.0));
    let mut top = vec![("services", map(services))];
    if !volumes.is_empty() {
        top.push(("volumes", map(volumes.into_iter().map(|v| (v, map::<&str>([]))))));
    }
    map(top)
}

fn env_values(env: Vec<(String, EnvValue)>) -> Value {
    map(env.into_iter().map(|(k, v)| {
        let value = match v {
            EnvValue::Literal(text) => lit(&text),
            EnvValue::Secret { prefix, env } => {
                let name = env.name();
                s(format!("{}${{{name}:?set {name} (see .env.example)}}", prefix.replace('$', "$$")))
            }
        };
        (k, value)
    }))
}

fn overlay(plan: &Plan) -> Value {
    let d = &plan.deployment;
    let mut services: Vec<(String, Value)> = Vec::new();
    for app in &plan.apps {
        services.push((
            app.service.clone(),
            map([("environment", env_values(app.env(Flavor::Compose, &plan.namespaces, &plan.environment)))]),
        ));
    }
    for hook in &d.file_logs {
        let mut entries = vec![
            ("volumes", Value::Sequence(vec![named_volume(&hook.volume, &hook.dir, false)])),
            ("depends_on", depends(&[(d.volume_init.clone(), "service_completed_successfully")])),
        ];
        if let Some(pg) = &hook.postgres {
            // The server's logging settings on its command line (it replaces a `command` the
            // project sets; the tree's README says so).
            entries.push(("command", Value::Sequence(pg.args().iter().map(|a| lit(a)).collect())));
        }
        services.push((hook.datastore.clone(), map(entries)));
    }
    for hook in &d.stdout_logs {
        services.push((
            hook.datastore.clone(),
            map([
                ("labels", map([(SERVICE_LABEL, lit(&hook.datastore))])),
                ("logging", map([("driver", s("json-file")), ("options", map([("labels", s(SERVICE_LABEL))]))])),
            ]),
        ));
    }
    for hook in &d.jmx {
        services.push((
            hook.datastore.clone(),
            map([
                ("environment", env_values(hook.env(Flavor::Compose, &plan.namespaces, &plan.environment))),
                ("volumes", strings([format!("{}-javaagent:{JAVA_AGENT_DIR}:ro", d.prefix)])),
                ("depends_on", depends(&[(d.javaagent_init.clone(), "service_completed_successfully")])),
            ]),
        ));
    }
    services.sort_by(|a, b| a.0.cmp(&b.0));
    merge_same_keys(services)
}

/// One service entry per name, merging the parts that hooks added separately.
fn merge_same_keys(services: Vec<(String, Value)>) -> Value {
    let mut out = serde_yaml::Mapping::new();
    for (name, value) in services {
        let key = Value::String(name);
        match (out.get_mut(&key), value) {
            (Some(Value::Mapping(existing)), Value::Mapping(more)) => {
                for (k, v) in more {
                    match (existing.get_mut(&k), v) {
                        (Some(Value::Sequence(a)), Value::Sequence(b)) => a.extend(b),
                        (Some(Value::Mapping(a)), Value::Mapping(b)) => a.extend(b),
                        (_, v) => {
                            existing.insert(k, v);
                        }
                    }
                }
            }
            (_, value) => {
                out.insert(key, value);
            }
        }
    }
    map([("services", Value::Mapping(out))])
}
