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
use crate::plan::app::EnvValue;
use crate::plan::collector::{CollectorRole, STORAGE_DIR};
use crate::plan::deploy::{
    DeployedBackend, Deployment, BUSYBOX_IMAGE, GRAFANA_IMAGE, JAEGER_UI_PORT, JAVA_AGENT_DIR, JAVA_AGENT_IMAGE,
};
use crate::plan::node::{NodeKind, RoleKind};
use crate::plan::{ApmAuth, EsAuth, Flavor, Plan};
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

fn storage_volume(role: &CollectorRole) -> String {
    format!("{}-storage", role.name)
}

/// For each sender (by node name), the compose services of this project that receive what it
/// exports (for `depends_on`): other collectors and deployed backends, never an external
/// endpoint. Computed once for all roles, in one pass over the edges.
fn next_hops(plan: &Plan) -> BTreeMap<&str, BTreeSet<&str>> {
    let g = &plan.graph;
    let runs_here: BTreeSet<&str> = g
        .node_weights()
        .filter(|n| matches!(n.kind, NodeKind::Collector { .. } | NodeKind::Backend { deployed: true, .. }))
        .map(|n| n.name.as_str())
        .collect();
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in g.edge_references() {
        let to = g[e.target()].name.as_str();
        if runs_here.contains(to) {
            out.entry(g[e.source()].name.as_str()).or_default().insert(to);
        }
    }
    out
}

fn collector_service(plan: &Plan, role: &CollectorRole, hops: &BTreeMap<&str, BTreeSet<&str>>) -> Value {
    let d = &plan.deployment;
    let mut env = vec![literal_env("GOMEMLIMIT", &format!("{}MiB", role.memory_limit_mib * 4 / 5))];
    env.extend(role.secrets.iter().map(|e| secret_entry(e.name(), e)));
    let config_path = &plan.distribution.config_path;
    let mut volumes = vec![bind(&format!("../collector/{}", role.file_name()), config_path)];
    if role.file_storage {
        volumes.push(s(format!("{}:{STORAGE_DIR}", storage_volume(role))));
    }
    let mut depends_on: Vec<(String, &str)> = Vec::new();
    if role.file_storage && role.role != RoleKind::NodeAgent {
        depends_on.push((format!("{}-volume-init", d.prefix), "service_completed_successfully"));
    }
    for hop in hops.get(role.name.as_str()).into_iter().flatten() {
        let healthy = d.backends.iter().any(|b| b.name == *hop && has_healthcheck(b.kind));
        depends_on.push(((*hop).to_string(), if healthy { "service_healthy" } else { "service_started" }));
    }
    let mut entries = vec![
        ("image", s(format!("{}:{}", plan.distribution.image, plan.collector_version))),
        ("command", strings([format!("--config={config_path}")])),
        ("restart", s("unless-stopped")),
    ];
    match &role.role {
        RoleKind::FileAgent(ds) => {
            if let Some(hook) = d.file_logs.iter().find(|h| h.datastore == *ds) {
                volumes.push(named_volume(&hook.volume, &hook.dir, true));
                // The files are the datastore's: join its group so files it writes group-readable
                // can be read.
                entries.push(("group_add", strings([hook.group.to_string()])));
            }
        }
        RoleKind::NodeAgent => {
            // Docker's json-file logs are root's: the node agent reads them as uid 0, with every
            // capability dropped and the host directory mounted read-only.
            entries.push(("user", s("0:0")));
            volumes.push(bind("/var/lib/docker/containers", "/var/lib/docker/containers"));
        }
        RoleKind::Gateway | RoleKind::Scraper => {}
    }
    entries.extend([
        ("environment", env_list(env)),
        ("volumes", Value::Sequence(volumes)),
        ("read_only", Value::Bool(true)),
        ("cap_drop", strings(["ALL"])),
        ("security_opt", strings(["no-new-privileges:true"])),
        ("deploy", limits(role.memory_limit_mib)),
    ]);
    if !depends_on.is_empty() {
        entries.push(("depends_on", depends(&depends_on)));
    }
    // No healthcheck: the collector-contrib image has no shell or HTTP client to run one;
    // dependants wait for `service_started` and `restart` covers a failed start.
    map(entries)
}

fn has_healthcheck(kind: BackendKind) -> bool {
    matches!(kind, BackendKind::Elasticsearch | BackendKind::Prometheus)
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

fn backend_service(plan: &Plan, b: &DeployedBackend) -> Value {
    let d = &plan.deployment;
    let mut entries = vec![("image", s(b.image.clone())), ("restart", s("unless-stopped"))];
    match b.kind {
        BackendKind::Elasticsearch => {
            let mut env = vec![
                literal_env("discovery.type", "single-node"),
                literal_env("xpack.security.enabled", "true"),
                literal_env("xpack.security.http.ssl.enabled", "false"),
                literal_env("xpack.license.self_generated.type", "basic"),
                literal_env("ES_JAVA_OPTS", "-Xms1g -Xmx1g"),
            ];
            if let Some(pw) = plan.deployment.elasticsearch_password.clone() {
                env.push(secret_entry("ELASTIC_PASSWORD", &pw));
            }
            entries.push(("environment", env_list(env)));
            entries
                .push(("volumes", strings([format!("{}-elasticsearch-data:/usr/share/elasticsearch/data", d.prefix)])));
            entries.push((
                "healthcheck",
                healthcheck("curl -fsS -u \"elastic:$${ELASTIC_PASSWORD}\" 'http://localhost:9200/_cluster/health?wait_for_status=yellow&timeout=5s' >/dev/null || exit 1"),
            ));
            entries.push(("deploy", limits(2048)));
        }
        BackendKind::ApmServer => {
            // The entrypoint is the binary; a mounted config is owned by the host user, so the
            // ownership check is relaxed. No healthcheck: the image has no curl or wget.
            entries.push(("command", strings(["--strict.perms=false", "-e"])));
            entries.push((
                "volumes",
                Value::Sequence(vec![bind("../apm-server/apm-server.yml", "/usr/share/apm-server/apm-server.yml")]),
            ));
            let mut secrets = BTreeSet::new();
            if let Some(apm) = &plan.apm_server {
                if let ApmAuth::SecretToken(e) | ApmAuth::ApiKey(e) = &apm.auth {
                    secrets.insert(e.clone());
                }
                if let EsAuth::Basic { password: e, .. } | EsAuth::ApiKey(e) = &apm.elasticsearch_auth {
                    secrets.insert(e.clone());
                }
            }
            entries.push(("environment", env_list(secrets.iter().map(|e| secret_entry(e.name(), e)).collect())));
            if let Some(es) = d.backends.iter().find(|x| x.kind == BackendKind::Elasticsearch) {
                entries.push(("depends_on", depends(&[(es.name.clone(), "service_healthy")])));
            }
            entries.push(("deploy", limits(512)));
        }
        BackendKind::Jaeger => {
            // Without `--config` Jaeger runs its built-in all-in-one config: traces in memory.
            entries.push(("ports", strings([format!("127.0.0.1:{JAEGER_UI_PORT}:{JAEGER_UI_PORT}")])));
            entries.push(("deploy", limits(1024)));
        }
        BackendKind::Prometheus => {
            entries.push((
                "command",
                strings([
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    "--web.enable-otlp-receiver",
                ]),
            ));
            entries.push(("volumes", strings([format!("{}-prometheus-data:/prometheus", d.prefix)])));
            entries.push(("healthcheck", healthcheck("wget -q -O /dev/null http://localhost:9090/-/ready || exit 1")));
            entries.push(("deploy", limits(1024)));
        }
        BackendKind::Loki => {
            entries.push(("command", strings(["-config.file=/etc/loki/local-config.yaml"])));
            entries.push(("volumes", strings([format!("{}-loki-data:/loki", d.prefix)])));
            entries.push(("deploy", limits(1024)));
        }
    }
    map(entries)
}

fn kibana_services(plan: &Plan, out: &mut Vec<(String, Value)>) {
    let d = &plan.deployment;
    let Some(k) = &d.kibana else { return };
    let es_host = &k.elasticsearch.host;
    let es_url = k.elasticsearch.url(Flavor::Compose, &plan.namespaces);
    let mut setup_env = vec![secret_entry("KIBANA_PASSWORD", &d.kibana_password)];
    if let Some(pw) = plan.deployment.elasticsearch_password.clone() {
        setup_env.push(secret_entry("ELASTIC_PASSWORD", &pw));
    }
    // Sets `kibana_system`'s password once Elasticsearch answers, as Elastic's compose example
    // does; the Elasticsearch image has curl.
    let script = format!(
        "until curl -s -o /dev/null -w '%{{http_code}}' -u \"elastic:$${{ELASTIC_PASSWORD}}\" -X POST -H 'Content-Type: application/json' {es_url}/_security/user/kibana_system/_password -d \"{{\\\"password\\\":\\\"$${{KIBANA_PASSWORD}}\\\"}}\" | grep -q '^200$$'; do echo waiting for elasticsearch; sleep 5; done"
    );
    out.push((
        k.setup_name.clone(),
        map([
            ("image", s(k.setup_image.clone())),
            ("restart", s("no")),
            ("command", strings(["bash", "-c", &script])),
            ("environment", env_list(setup_env)),
            ("depends_on", depends(&[(es_host.clone(), "service_healthy")])),
        ]),
    ));
    out.push((
        k.name.clone(),
        map([
            ("image", s(k.image.clone())),
            ("restart", s("unless-stopped")),
            (
                "environment",
                env_list(vec![
                    lit(&format!("ELASTICSEARCH_HOSTS={es_url}")),
                    literal_env("ELASTICSEARCH_USERNAME", "kibana_system"),
                    secret_entry("ELASTICSEARCH_PASSWORD", &d.kibana_password),
                ]),
            ),
            ("ports", strings(["127.0.0.1:5601:5601"])),
            ("depends_on", depends(&[(k.setup_name.clone(), "service_completed_successfully")])),
            ("healthcheck", healthcheck("curl -fsS http://localhost:5601/api/status >/dev/null || exit 1")),
            ("deploy", limits(1024)),
        ]),
    ));
}

fn grafana_service(plan: &Plan, out: &mut Vec<(String, Value)>) {
    let d = &plan.deployment;
    let Some(g) = &d.grafana else { return };
    let deps: Vec<(String, &str)> = d
        .backends
        .iter()
        .filter(|b| matches!(b.kind, BackendKind::Jaeger | BackendKind::Prometheus | BackendKind::Loki))
        .map(|b| (b.name.clone(), "service_started"))
        .collect();
    let mut entries = vec![
        ("image", s(GRAFANA_IMAGE)),
        ("restart", s("unless-stopped")),
        (
            "environment",
            env_list(vec![
                secret_entry("GF_SECURITY_ADMIN_PASSWORD", &d.grafana_password),
                literal_env("GF_AUTH_ANONYMOUS_ENABLED", "false"),
            ]),
        ),
        (
            "volumes",
            Value::Sequence(vec![bind(
                "./grafana/datasources.yaml",
                "/etc/grafana/provisioning/datasources/otelplan.yaml",
            )]),
        ),
        ("ports", strings(["127.0.0.1:3000:3000"])),
        ("deploy", limits(512)),
    ];
    if !deps.is_empty() {
        entries.push(("depends_on", depends(&deps)));
    }
    out.push((g.name.clone(), map(entries)));
}

/// Named volumes start root-owned, while the collector runs as uid 10001 and a datastore as
/// its own user. This one-shot service hands each volume to its writer before anyone starts:
/// collector storage to the collector, a shared log directory to the datastore (group-readable,
/// for the agent that joins its group).
fn volume_init(plan: &Plan) -> Option<Value> {
    let owned: Vec<&CollectorRole> =
        plan.roles.iter().filter(|r| r.file_storage && r.role != RoleKind::NodeAgent).collect();
    let logs = &plan.deployment.file_logs;
    if owned.is_empty() && logs.is_empty() {
        return None;
    }
    let mut mounts = Vec::new();
    let mut steps = Vec::new();
    for r in &owned {
        mounts.push(format!("{}:/volumes/{}", storage_volume(r), r.name));
        let uid = plan.distribution.uid;
        steps.push(format!("chown -R {uid}:{uid} /volumes/{}", r.name));
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

fn base(plan: &Plan) -> Value {
    let d = &plan.deployment;
    let mut services: Vec<(String, Value)> = Vec::new();
    let mut volumes: BTreeSet<String> = BTreeSet::new();
    if let Some(init) = volume_init(plan) {
        services.push((format!("{}-volume-init", d.prefix), init));
    }
    let hops = next_hops(plan);
    for role in &plan.roles {
        services.push((role.name.clone(), collector_service(plan, role, &hops)));
        if role.file_storage {
            volumes.insert(storage_volume(role));
        }
    }
    for hook in &d.file_logs {
        volumes.insert(hook.volume.clone());
    }
    for b in &d.backends {
        services.push((b.name.clone(), backend_service(plan, b)));
        match b.kind {
            BackendKind::Elasticsearch => volumes.insert(format!("{}-elasticsearch-data", d.prefix)),
            BackendKind::Prometheus => volumes.insert(format!("{}-prometheus-data", d.prefix)),
            BackendKind::Loki => volumes.insert(format!("{}-loki-data", d.prefix)),
            BackendKind::ApmServer | BackendKind::Jaeger => false,
        };
    }
    kibana_services(plan, &mut services);
    grafana_service(plan, &mut services);
    if !d.jmx.is_empty() {
        let volume = format!("{}-javaagent", d.prefix);
        services.push((
            format!("{}-javaagent-init", d.prefix),
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
        services.push((
            hook.datastore.clone(),
            map([
                ("volumes", Value::Sequence(vec![named_volume(&hook.volume, &hook.dir, false)])),
                ("depends_on", depends(&[(format!("{}-volume-init", d.prefix), "service_completed_successfully")])),
            ]),
        ));
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
                ("depends_on", depends(&[(format!("{}-javaagent-init", d.prefix), "service_completed_successfully")])),
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
