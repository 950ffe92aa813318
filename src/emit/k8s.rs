//! Emit stage: the Kubernetes target, a kustomize directory under `kubernetes/`. The emitter
//! builds each object's data (from the plan) and renders it through the `templates/k8s/`
//! layouts; `kubernetes/app-patches/` is a Component for the team's own kustomization.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::emit::yaml::HEADER;
use crate::emit::{apm_server, collector, OutputTree};
use crate::model::env_ref::EnvRef;
use crate::plan::app::EnvValue;
use crate::plan::collector::{CollectorRole, HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, STORAGE_DIR};
use crate::plan::deploy::{
    k8s_name, DeployedBackend, FileLogHook, JmxHook, Workload, GRAFANA_IMAGE, JAEGER_UI_PORT, JAVA_AGENT_DIR,
    JAVA_AGENT_IMAGE,
};
use crate::plan::node::RoleKind;
use crate::plan::{ApmAuth, EsAuth, Flavor, Plan};
use crate::templates::Templates;
use crate::topology::BackendKind;

/// The annotation that names the Secrets a workload reads but otelplan does not write.
const EXTERNAL_SECRETS: &str = "otelplan.io/external-secrets";
/// Where collector containers read their config.
const CONFIG_DIR: &str = "/conf";

/// One rendered manifest file, several documents joined by `---`.
struct Manifest {
    docs: Vec<String>,
}

impl Manifest {
    fn new() -> Self {
        Manifest { docs: Vec::new() }
    }

    fn add(&mut self, t: &Templates, template: &str, data: &Value) -> anyhow::Result<()> {
        self.docs.push(t.render(template, data)?);
        Ok(())
    }

    fn text(&self) -> String {
        let body: Vec<&str> = self.docs.iter().map(|d| d.trim_end_matches('\n')).collect();
        format!("# {HEADER}\n{}\n", body.join("\n---\n"))
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    t: &'a Templates,
}

impl Ctx<'_> {
    fn labels(&self, name: &str, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/instance": self.plan.stack_name,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "otelplan",
            "app.kubernetes.io/managed-by": "otelplan",
        })
    }

    fn selector(&self, name: &str) -> Value {
        json!({ "app.kubernetes.io/name": name, "app.kubernetes.io/instance": self.plan.stack_name })
    }

    fn secret(&self) -> &str {
        &self.plan.deployment.secret_name
    }

    /// A container env entry read from the stack's Secret (key = variable name).
    fn secret_env(&self, container_var: &str, source: &EnvRef) -> Value {
        json!({ "name": container_var, "valueFrom": { "secretKeyRef": { "name": self.secret(), "key": source.name() } } })
    }

    /// Annotations naming the external Secret, when the workload reads one.
    fn secret_annotations(&self, reads_secrets: bool) -> Value {
        if reads_secrets {
            json!({ EXTERNAL_SECRETS: self.secret() })
        } else {
            json!({})
        }
    }
}

/// Escape a literal for a Kubernetes env value, where `$(X)` is expanded and `$$` is `$`.
fn k8s_literal(text: &str) -> String {
    text.replace('$', "$$")
}

fn literal_env(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": k8s_literal(value) })
}

fn resources(request_mib: u32, limit_mib: u32, cpu_millis: u32) -> Value {
    json!({
        "requests": { "cpu": format!("{cpu_millis}m"), "memory": format!("{request_mib}Mi") },
        "limits": { "memory": format!("{limit_mib}Mi") },
    })
}

fn restricted(uid: u32, gid: u32, read_only_root: bool) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": gid,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

fn http_probes(path: &str, port: &str) -> (Value, Value) {
    (
        json!({ "httpGet": { "path": path, "port": port }, "periodSeconds": 10 }),
        json!({ "httpGet": { "path": path, "port": port }, "initialDelaySeconds": 30, "periodSeconds": 20 }),
    )
}

fn port(name: &str, number: u16) -> Value {
    json!({ "name": name, "containerPort": number })
}

fn service_port(name: &str, number: u16) -> Value {
    json!({ "name": name, "port": number, "targetPort": name })
}

/// The files of the Kubernetes target.
pub(crate) fn emit(plan: &Plan, t: &Templates, tree: &mut OutputTree) -> anyhow::Result<()> {
    let cx = Ctx { plan, t };
    let mut resources: Vec<String> = vec!["namespace.yaml".into()];
    let mut generators: Vec<Value> = Vec::new();
    let mut ns = Manifest::new();
    ns.add(t, "k8s/namespace.yaml.j2", &json!({ "name": plan.namespaces.observability, "labels": cx.labels(&plan.namespaces.observability, "namespace") }))?;
    tree.insert("kubernetes/namespace.yaml".into(), ns.text());
    let accounts = service_accounts(plan);
    if !accounts.is_empty() {
        tree.insert("kubernetes/rbac.yaml".into(), rbac(&cx, &accounts)?);
        resources.push("rbac.yaml".into());
    }
    for role in plan.roles.iter().filter(|r| !matches!(r.role, RoleKind::FileAgent(_))) {
        let config = format!("collector/{}", role.file_name());
        tree.insert(format!("kubernetes/{config}"), collector::render(plan, role, Flavor::Kubernetes));
        generators.push(json!({ "name": config_map(role), "files": [format!("config.yaml={config}")] }));
        let file = format!("{}.yaml", role.role.short());
        tree.insert(format!("kubernetes/{file}"), collector_manifest(&cx, role)?);
        resources.push(file);
    }
    if let (Some(apm), Some(b)) = (&plan.apm_server, deployed(plan, BackendKind::ApmServer)) {
        tree.insert("kubernetes/apm-server/apm-server.yml".into(), apm_server::render(plan, apm, Flavor::Kubernetes));
        generators.push(json!({ "name": apm_config_map(b), "files": ["apm-server.yml=apm-server/apm-server.yml"] }));
    }
    for b in &plan.deployment.backends {
        let file = format!("{}.yaml", b.name);
        tree.insert(format!("kubernetes/{file}"), backend_manifest(&cx, b)?);
        resources.push(file);
    }
    if plan.deployment.kibana.is_some() {
        tree.insert("kubernetes/kibana.yaml".into(), kibana_manifest(&cx)?);
        resources.push("kibana.yaml".into());
    }
    if let Some(g) = &plan.deployment.grafana {
        tree.insert(
            "kubernetes/grafana/datasources.yaml".into(),
            crate::emit::grafana::datasources(plan, Flavor::Kubernetes).unwrap_or_default(),
        );
        generators.push(json!({ "name": k8s_name(&format!("{}-datasources", g.name)), "files": ["otelplan.yaml=grafana/datasources.yaml"] }));
        tree.insert("kubernetes/grafana.yaml".into(), grafana_manifest(&cx)?);
        resources.push("grafana.yaml".into());
    }
    let mut kustomization = Manifest::new();
    kustomization.add(
        t,
        "k8s/kustomization.yaml.j2",
        &json!({ "namespace": plan.namespaces.observability, "resources": resources, "generators": generators }),
    )?;
    tree.insert("kubernetes/kustomization.yaml".into(), kustomization.text());
    app_patches(&cx, tree)
}

fn deployed(plan: &Plan, kind: BackendKind) -> Option<&DeployedBackend> {
    plan.deployment.backends.iter().find(|b| b.kind == kind)
}

fn config_map(role: &CollectorRole) -> String {
    k8s_name(&format!("{}-config", role.name))
}

fn apm_config_map(b: &DeployedBackend) -> String {
    k8s_name(&format!("{}-config", b.name))
}

/// Roles that run `k8s_attributes` need a service account with read access to pod metadata.
fn service_accounts(plan: &Plan) -> Vec<String> {
    plan.roles
        .iter()
        .filter(|r| matches!(r.role, RoleKind::Gateway | RoleKind::NodeAgent))
        .map(|r| r.name.clone())
        .collect()
}

fn rbac(cx: &Ctx<'_>, accounts: &[String]) -> anyhow::Result<String> {
    let plan = cx.plan;
    let role = k8s_name(&format!("{}-{}-k8s-attributes", plan.namespaces.observability, plan.stack_name));
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/rbac.yaml.j2",
        &json!({ "accounts": accounts, "role": role, "namespace": plan.namespaces.observability, "labels": cx.labels(&role, "rbac") }),
    )?;
    Ok(m.text())
}

/// CPU request per role: the gateway does the work, the others little.
fn cpu_request(role: &RoleKind) -> u32 {
    match role {
        RoleKind::Gateway => 200,
        RoleKind::NodeAgent | RoleKind::Scraper => 100,
        RoleKind::FileAgent(_) => 50,
    }
}

/// The collector container of `role`, with `mounts` for its config and storage.
fn collector_container(cx: &Ctx<'_>, role: &CollectorRole, mounts: &[Value], security: &Value) -> Value {
    let mut env = vec![literal_env("GOMEMLIMIT", &format!("{}MiB", role.memory_limit_mib * 4 / 5))];
    if role.role == RoleKind::NodeAgent {
        env.push(json!({ "name": "K8S_NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }));
    }
    env.extend(role.secrets.iter().map(|e| cx.secret_env(e.name(), e)));
    let mut ports = Vec::new();
    if role.role == RoleKind::Gateway {
        ports.push(port("otlp-grpc", OTLP_GRPC_PORT));
        ports.push(port("otlp-http", OTLP_HTTP_PORT));
    }
    ports.push(port("health", HEALTH_PORT));
    let (readiness, liveness) = http_probes("/", "health");
    json!({
        "name": "otelcol",
        "image": format!("{}:{}", cx.plan.distribution.image, cx.plan.collector_version),
        "args": [format!("--config={CONFIG_DIR}/config.yaml")],
        "env": env,
        "ports": ports,
        "volumeMounts": mounts,
        "resources": resources(role.memory_limit_mib / 2, role.memory_limit_mib, cpu_request(&role.role)),
        "readinessProbe": readiness,
        "livenessProbe": liveness,
        "securityContext": security,
    })
}

fn collector_manifest(cx: &Ctx<'_>, role: &CollectorRole) -> anyhow::Result<String> {
    let name = &role.name;
    let component = role.role.short();
    let labels = cx.labels(name, &component);
    let mut m = Manifest::new();
    let mut mounts = vec![json!({ "name": "config", "mountPath": CONFIG_DIR, "readOnly": true })];
    let mut volumes = vec![json!({ "name": "config", "configMap": { "name": config_map(role) } })];
    let mut comments: Vec<&str> = Vec::new();
    let mut claims = Vec::new();
    let node_agent = role.role == RoleKind::NodeAgent;
    let persistent = role.file_storage && !node_agent;
    if role.file_storage {
        mounts.push(json!({ "name": "storage", "mountPath": STORAGE_DIR }));
    }
    let security = if node_agent {
        comments.push("The node agent reads root-owned pod logs: it runs as uid 0 with every capability dropped,");
        comments.push("the log directory mounted read-only, and keeps its checkpoints on a hostPath so that a");
        comments.push("re-created pod resumes where the last one stopped.");
        mounts.push(json!({ "name": "pods", "mountPath": "/var/log/pods", "readOnly": true }));
        volumes.push(json!({ "name": "pods", "hostPath": { "path": "/var/log/pods", "type": "Directory" } }));
        volumes.push(json!({ "name": "storage", "hostPath": { "path": format!("/var/lib/otelcol/{name}"), "type": "DirectoryOrCreate" } }));
        json!({
            "runAsUser": 0,
            "runAsNonRoot": false,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        })
    } else {
        if persistent {
            claims.push(json!({
                "metadata": { "name": "storage" },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": if role.role == RoleKind::Gateway { "2Gi" } else { "1Gi" } } } },
            }));
        }
        let uid = cx.plan.distribution.uid;
        restricted(uid, uid, true)
    };
    let container = collector_container(cx, role, &mounts, &security);
    let mut pod = json!({
        "automountServiceAccountToken": matches!(role.role, RoleKind::Gateway | RoleKind::NodeAgent),
        "securityContext": { "fsGroup": cx.plan.distribution.uid, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [container],
        "volumes": volumes,
    });
    if matches!(role.role, RoleKind::Gateway | RoleKind::NodeAgent) {
        pod["serviceAccountName"] = json!(name);
    }
    let (kind, spec) = workload_kind(cx, role, persistent, &mut pod, &mut comments);
    let data = json!({
        "comments": comments,
        "kind": kind,
        "name": name,
        "labels": labels,
        "annotations": cx.secret_annotations(!role.secrets.is_empty()),
        "spec": spec,
        "selector": cx.selector(name),
        "pod_annotations": cx.secret_annotations(!role.secrets.is_empty()),
        "pod": pod,
        "claims": claims,
    });
    m.add(cx.t, "k8s/workload.yaml.j2", &data)?;
    if kind == "StatefulSet" {
        let ports = if role.role == RoleKind::Gateway {
            json!([service_port("otlp-grpc", OTLP_GRPC_PORT), service_port("otlp-http", OTLP_HTTP_PORT)])
        } else {
            json!([service_port("health", HEALTH_PORT)])
        };
        m.add(
            cx.t,
            "k8s/service.yaml.j2",
            &json!({ "name": format!("{name}-headless"), "labels": labels, "headless": true, "selector": cx.selector(name), "ports": ports }),
        )?;
    }
    if role.role == RoleKind::Gateway {
        gateway_extras(cx, role, kind, &mut m)?;
    }
    Ok(m.text())
}

/// The workload kind and its spec fields for a collector role (the gateway also gets its
/// spread constraint), with the comments that explain the choice.
fn workload_kind(
    cx: &Ctx<'_>,
    role: &CollectorRole,
    persistent: bool,
    pod: &mut Value,
    comments: &mut Vec<&'static str>,
) -> (&'static str, Value) {
    let name = &role.name;
    match role.role {
        RoleKind::NodeAgent => {
            pod["tolerations"] = json!([{ "operator": "Exists" }]);
            ("DaemonSet", json!({ "updateStrategy": { "type": "RollingUpdate" } }))
        }
        RoleKind::Gateway => {
            comments.push("Replicas come from the HorizontalPodAutoscaler (its minimum is `gateway_replicas`):");
            comments.push("no `replicas` field, which every apply would reset.");
            pod["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": { "matchLabels": cx.selector(name) },
            }]);
            if persistent {
                comments.push(
                    "A StatefulSet, so each replica's persistent queue survives a pod restart on its own volume.",
                );
                ("StatefulSet", json!({ "serviceName": format!("{name}-headless"), "podManagementPolicy": "Parallel" }))
            } else {
                ("Deployment", json!({}))
            }
        }
        _ if persistent => {
            comments.push("Exactly one replica: a second would scrape every datastore twice.");
            ("StatefulSet", json!({ "replicas": 1, "serviceName": format!("{name}-headless") }))
        }
        _ => {
            comments.push("Exactly one replica, replaced rather than rolled, so two never scrape at once.");
            ("Deployment", json!({ "replicas": 1, "strategy": { "type": "Recreate" } }))
        }
    }
}

/// The gateway's Service, autoscaler, disruption budget and network policy.
fn gateway_extras(cx: &Ctx<'_>, role: &CollectorRole, kind: &str, m: &mut Manifest) -> anyhow::Result<()> {
    let name = &role.name;
    let labels = cx.labels(name, "gateway");
    let ports = json!([service_port("otlp-grpc", OTLP_GRPC_PORT), service_port("otlp-http", OTLP_HTTP_PORT)]);
    m.add(
        cx.t,
        "k8s/service.yaml.j2",
        &json!({ "name": name, "labels": labels, "headless": false, "selector": cx.selector(name), "ports": ports }),
    )?;
    let min = role.replicas;
    m.add(
        cx.t,
        "k8s/hpa.yaml.j2",
        &json!({ "name": name, "labels": labels, "target_kind": kind, "min": min, "max": (min * 3).max(min + 2) }),
    )?;
    m.add(cx.t, "k8s/pdb.yaml.j2", &json!({ "name": name, "labels": labels, "selector": cx.selector(name) }))?;
    network_policy(cx, name, "gateway", &[OTLP_GRPC_PORT, OTLP_HTTP_PORT], m)
}

fn network_policy(cx: &Ctx<'_>, name: &str, component: &str, ports: &[u16], m: &mut Manifest) -> anyhow::Result<()> {
    let plan = cx.plan;
    let mut namespaces = vec![plan.namespaces.app.clone(), plan.namespaces.observability.clone()];
    namespaces.dedup();
    let ports: Vec<Value> = ports.iter().map(|p| json!({ "protocol": "TCP", "port": p })).collect();
    m.add(
        cx.t,
        "k8s/network-policy.yaml.j2",
        &json!({
            "name": k8s_name(&format!("{name}-otlp-ingress")),
            "labels": cx.labels(name, component),
            "selector": cx.selector(name),
            "namespaces": namespaces,
            "ports": ports,
        }),
    )
}

/// Everything about a deployed backend's container that differs by backend.
struct BackendShape {
    ports: Vec<(&'static str, u16)>,
    args: Vec<String>,
    env: Vec<Value>,
    mounts: Vec<Value>,
    volumes: Vec<Value>,
    claim: Option<(&'static str, &'static str)>,
    user: u32,
    group: u32,
    read_only_root: bool,
    probes: (Value, Value),
    memory: (u32, u32),
    comments: Vec<&'static str>,
}

/// A single-node Elasticsearch with security on over plain HTTP; its `elastic` user gets the
/// stack's password.
fn elasticsearch_shape(cx: &Ctx<'_>) -> BackendShape {
    let plan = cx.plan;
    let tcp = |p: u16| json!({ "tcpSocket": { "port": p }, "initialDelaySeconds": 30, "periodSeconds": 20 });
    let mut env = vec![
        literal_env("discovery.type", "single-node"),
        literal_env("xpack.security.enabled", "true"),
        literal_env("xpack.security.http.ssl.enabled", "false"),
        literal_env("xpack.license.self_generated.type", "basic"),
        literal_env("node.store.allow_mmap", "false"),
        literal_env("ES_JAVA_OPTS", "-Xms1g -Xmx1g"),
    ];
    env.extend(plan.deployment.elasticsearch_password.clone().map(|pw| cx.secret_env("ELASTIC_PASSWORD", &pw)));
    let readiness = json!({
        "exec": { "command": ["bash", "-c", "curl -fsS -u \"elastic:${ELASTIC_PASSWORD}\" 'http://localhost:9200/_cluster/health?local=true' >/dev/null"] },
        "periodSeconds": 10,
        "timeoutSeconds": 5,
    });
    BackendShape {
        ports: vec![("http", 9200)],
        args: vec![],
        env,
        mounts: vec![json!({ "name": "data", "mountPath": "/usr/share/elasticsearch/data" })],
        volumes: vec![],
        claim: Some(("data", "10Gi")),
        user: 1000,
        group: 0,
        read_only_root: false,
        probes: (readiness, tcp(9200)),
        memory: (2048, 2048),
        comments: vec!["Elasticsearch writes its keystore and temporary files beside its config: its root filesystem stays writable."],
    }
}

/// APM Server with the tree's `apm-server.yml` and its agents' and Elasticsearch credentials.
fn apm_server_shape(cx: &Ctx<'_>, b: &DeployedBackend) -> BackendShape {
    let plan = cx.plan;
    let mut env = Vec::new();
    if let Some(apm) = &plan.apm_server {
        if let ApmAuth::SecretToken(e) | ApmAuth::ApiKey(e) = &apm.auth {
            env.push(cx.secret_env(e.name(), e));
        }
        if let EsAuth::Basic { password: e, .. } | EsAuth::ApiKey(e) = &apm.elasticsearch_auth {
            env.push(cx.secret_env(e.name(), e));
        }
    }
    BackendShape {
        ports: vec![("intake", 8200)],
        args: vec!["--strict.perms=false".into(), "-e".into()],
        env,
        mounts: vec![
            json!({ "name": "config", "mountPath": "/usr/share/apm-server/apm-server.yml", "subPath": "apm-server.yml", "readOnly": true }),
            json!({ "name": "data", "mountPath": "/usr/share/apm-server/data" }),
        ],
        volumes: vec![
            json!({ "name": "config", "configMap": { "name": apm_config_map(b) } }),
            json!({ "name": "data", "emptyDir": {} }),
        ],
        claim: None,
        user: 1000,
        group: 1000,
        read_only_root: true,
        probes: http_probes("/", "intake"),
        memory: (256, 512),
        comments: vec![],
    }
}

fn backend_shape(cx: &Ctx<'_>, b: &DeployedBackend) -> BackendShape {
    let tcp = |p: u16| {
        (
            json!({ "tcpSocket": { "port": p }, "periodSeconds": 10 }),
            json!({ "tcpSocket": { "port": p }, "initialDelaySeconds": 30, "periodSeconds": 20 }),
        )
    };
    match b.kind {
        BackendKind::Elasticsearch => elasticsearch_shape(cx),
        BackendKind::ApmServer => apm_server_shape(cx, b),
        BackendKind::Jaeger => BackendShape {
            ports: vec![("otlp-grpc", 4317), ("otlp-http", 4318), ("ui", JAEGER_UI_PORT)],
            args: vec![],
            env: vec![],
            mounts: vec![],
            volumes: vec![],
            claim: None,
            user: 10001,
            group: 10001,
            read_only_root: true,
            probes: tcp(JAEGER_UI_PORT),
            memory: (256, 1024),
            comments: vec!["Jaeger's built-in all-in-one configuration: traces are kept in memory."],
        },
        BackendKind::Prometheus => BackendShape {
            ports: vec![("http", 9090)],
            args: vec![
                "--config.file=/etc/prometheus/prometheus.yml".into(),
                "--storage.tsdb.path=/prometheus".into(),
                "--web.enable-otlp-receiver".into(),
            ],
            env: vec![],
            mounts: vec![json!({ "name": "data", "mountPath": "/prometheus" })],
            volumes: vec![],
            claim: Some(("data", "10Gi")),
            user: 65534,
            group: 65534,
            read_only_root: true,
            probes: http_probes("/-/ready", "http"),
            memory: (512, 1024),
            comments: vec![],
        },
        BackendKind::Loki => BackendShape {
            ports: vec![("http", 3100)],
            args: vec!["-config.file=/etc/loki/local-config.yaml".into()],
            env: vec![],
            mounts: vec![
                json!({ "name": "data", "mountPath": "/loki" }),
                json!({ "name": "tmp", "mountPath": "/tmp" }),
            ],
            volumes: vec![json!({ "name": "tmp", "emptyDir": {} })],
            claim: Some(("data", "10Gi")),
            user: 10001,
            group: 10001,
            read_only_root: true,
            probes: http_probes("/ready", "http"),
            memory: (256, 1024),
            comments: vec![],
        },
    }
}

fn backend_manifest(cx: &Ctx<'_>, b: &DeployedBackend) -> anyhow::Result<String> {
    let shape = backend_shape(cx, b);
    let name = &b.name;
    let labels = cx.labels(name, b.kind.key());
    let reads_secrets = shape.env.iter().any(|e| e.get("valueFrom").is_some());
    let container = json!({
        "name": b.kind.key().replace('_', "-"),
        "image": b.image,
        "args": shape.args,
        "env": shape.env,
        "ports": shape.ports.iter().map(|(n, p)| port(n, *p)).collect::<Vec<_>>(),
        "volumeMounts": shape.mounts,
        "resources": resources(shape.memory.0, shape.memory.1, 250),
        "readinessProbe": shape.probes.0,
        "livenessProbe": shape.probes.1,
        "securityContext": restricted(shape.user, shape.group, shape.read_only_root),
    });
    let pod = json!({
        "automountServiceAccountToken": false,
        "securityContext": { "fsGroup": if shape.group == 0 { shape.user } else { shape.group }, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [container],
        "volumes": shape.volumes,
    });
    let (kind, spec, claims) = match shape.claim {
        Some((claim, size)) => (
            "StatefulSet",
            json!({ "replicas": 1, "serviceName": name }),
            json!([{ "metadata": { "name": claim }, "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": size } } } }]),
        ),
        None => ("Deployment", json!({ "replicas": 1 }), json!([])),
    };
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/workload.yaml.j2",
        &json!({
            "comments": shape.comments,
            "kind": kind,
            "name": name,
            "labels": labels,
            "annotations": cx.secret_annotations(reads_secrets),
            "spec": spec,
            "selector": cx.selector(name),
            "pod_annotations": cx.secret_annotations(reads_secrets),
            "pod": pod,
            "claims": claims,
        }),
    )?;
    let ports: Vec<Value> = shape.ports.iter().map(|(n, p)| service_port(n, *p)).collect();
    m.add(
        cx.t,
        "k8s/service.yaml.j2",
        &json!({ "name": name, "labels": labels, "headless": false, "selector": cx.selector(name), "ports": ports }),
    )?;
    let entry_is_apm = cx.plan.topology.apps_send_to != crate::topology::Destination::Gateway;
    if b.kind == BackendKind::ApmServer && entry_is_apm {
        network_policy(cx, name, b.kind.key(), &[8200], &mut m)?;
    }
    Ok(m.text())
}

fn kibana_manifest(cx: &Ctx<'_>) -> anyhow::Result<String> {
    let plan = cx.plan;
    let d = &plan.deployment;
    let Some(k) = &d.kibana else { return Ok(String::new()) };
    let es_url = k.elasticsearch.url(Flavor::Kubernetes, &plan.namespaces);
    let labels = cx.labels(&k.name, "kibana");
    let container = json!({
        "name": "kibana",
        "image": k.image,
        "env": [
            literal_env("ELASTICSEARCH_HOSTS", &es_url),
            literal_env("ELASTICSEARCH_USERNAME", "kibana_system"),
            cx.secret_env("ELASTICSEARCH_PASSWORD", &d.kibana_password),
        ],
        "ports": [port("http", 5601)],
        "resources": resources(512, 1024, 250),
        "readinessProbe": { "httpGet": { "path": "/api/status", "port": "http" }, "periodSeconds": 10 },
        "livenessProbe": { "tcpSocket": { "port": 5601 }, "initialDelaySeconds": 60, "periodSeconds": 20 },
        "securityContext": restricted(1000, 1000, false),
    });
    let pod = json!({
        "automountServiceAccountToken": false,
        "securityContext": { "fsGroup": 1000, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [container],
    });
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/workload.yaml.j2",
        &json!({
            "comments": ["Kibana writes its data and optimiser caches under its install directory: its root filesystem stays writable."],
            "kind": "Deployment",
            "name": k.name,
            "labels": labels,
            "annotations": cx.secret_annotations(true),
            "spec": { "replicas": 1 },
            "selector": cx.selector(&k.name),
            "pod_annotations": cx.secret_annotations(true),
            "pod": pod,
            "claims": [],
        }),
    )?;
    m.add(cx.t, "k8s/service.yaml.j2", &json!({ "name": k.name, "labels": labels, "headless": false, "selector": cx.selector(&k.name), "ports": [service_port("http", 5601)] }))?;
    let script = format!(
        "until curl -s -o /dev/null -w '%{{http_code}}' -u \"elastic:${{ELASTIC_PASSWORD}}\" -X POST -H 'Content-Type: application/json' {es_url}/_security/user/kibana_system/_password -d \"{{\\\"password\\\":\\\"${{KIBANA_PASSWORD}}\\\"}}\" | grep -q '^200$'; do echo waiting for elasticsearch; sleep 5; done"
    );
    let mut env = vec![cx.secret_env("KIBANA_PASSWORD", &d.kibana_password)];
    env.extend(plan.deployment.elasticsearch_password.clone().map(|pw| cx.secret_env("ELASTIC_PASSWORD", &pw)));
    let job_pod = json!({
        "restartPolicy": "OnFailure",
        "automountServiceAccountToken": false,
        "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [{
            "name": "set-password",
            "image": k.setup_image,
            "command": ["bash", "-c", script],
            "env": env,
            "resources": resources(64, 128, 50),
            "securityContext": restricted(1000, 1000, true),
        }],
    });
    m.add(
        cx.t,
        "k8s/job.yaml.j2",
        &json!({
            "comments": ["Sets the `kibana_system` password once Elasticsearch answers."],
            "name": k.setup_name,
            "labels": cx.labels(&k.setup_name, "kibana-setup"),
            "annotations": cx.secret_annotations(true),
            "pod": job_pod,
        }),
    )?;
    Ok(m.text())
}

fn grafana_manifest(cx: &Ctx<'_>) -> anyhow::Result<String> {
    let plan = cx.plan;
    let d = &plan.deployment;
    let Some(g) = &d.grafana else { return Ok(String::new()) };
    let labels = cx.labels(&g.name, "grafana");
    let container = json!({
        "name": "grafana",
        "image": GRAFANA_IMAGE,
        "env": [cx.secret_env("GF_SECURITY_ADMIN_PASSWORD", &d.grafana_password), literal_env("GF_AUTH_ANONYMOUS_ENABLED", "false")],
        "ports": [port("http", 3000)],
        "volumeMounts": [
            { "name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": true },
            { "name": "data", "mountPath": "/var/lib/grafana" },
        ],
        "resources": resources(128, 512, 100),
        "readinessProbe": { "httpGet": { "path": "/api/health", "port": "http" }, "periodSeconds": 10 },
        "livenessProbe": { "httpGet": { "path": "/api/health", "port": "http" }, "initialDelaySeconds": 30, "periodSeconds": 20 },
        "securityContext": restricted(472, 472, false),
    });
    let pod = json!({
        "automountServiceAccountToken": false,
        "securityContext": { "fsGroup": 472, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [container],
        "volumes": [
            { "name": "datasources", "configMap": { "name": k8s_name(&format!("{}-datasources", g.name)) } },
            { "name": "data", "emptyDir": {} },
        ],
    });
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/workload.yaml.j2",
        &json!({
            "comments": ["Grafana writes plugins and its database under its home: its root filesystem stays writable."],
            "kind": "Deployment",
            "name": g.name,
            "labels": labels,
            "annotations": cx.secret_annotations(true),
            "spec": { "replicas": 1 },
            "selector": cx.selector(&g.name),
            "pod_annotations": cx.secret_annotations(true),
            "pod": pod,
            "claims": [],
        }),
    )?;
    m.add(cx.t, "k8s/service.yaml.j2", &json!({ "name": g.name, "labels": labels, "headless": false, "selector": cx.selector(&g.name), "ports": [service_port("http", 3000)] }))?;
    Ok(m.text())
}

/// A Kubernetes env list from plan env values; secrets come from the stack's Secret and are
/// spliced in with `$(NAME)`, which Kubernetes expands from earlier entries.
fn env_entries(cx: &Ctx<'_>, env: Vec<(String, EnvValue)>) -> Vec<Value> {
    let mut secrets: BTreeMap<String, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, value) in env {
        match value {
            EnvValue::Literal(text) => out.push(literal_env(&key, &text)),
            EnvValue::Secret { prefix, env } => {
                secrets.entry(env.name().to_string()).or_insert_with(|| cx.secret_env(env.name(), &env));
                out.push(json!({ "name": key, "value": format!("{}$({})", k8s_literal(&prefix), env.name()) }));
            }
        }
    }
    secrets.into_values().chain(out).collect()
}

/// The patch of one of the team's workloads, gathering every hook on it.
#[derive(Default)]
struct WorkloadPatch {
    kind: &'static str,
    containers: BTreeMap<String, Value>,
    extra_containers: Vec<Value>,
    init_containers: Vec<Value>,
    volumes: Vec<Value>,
    comments: Vec<String>,
    secrets: bool,
    annotations: BTreeMap<String, String>,
}

/// A short, stable hash of generated content (FNV-1a, 64 bits), for pod-template annotations.
fn content_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl WorkloadPatch {
    fn container(&mut self, name: &str) -> &mut Value {
        self.containers.entry(name.to_string()).or_insert_with(|| json!({ "name": name }))
    }
}

fn kind_name(w: &Workload) -> &'static str {
    match w.kind {
        crate::model::keywords::WorkloadKind::Deployment => "Deployment",
        crate::model::keywords::WorkloadKind::StatefulSet => "StatefulSet",
        crate::model::keywords::WorkloadKind::DaemonSet => "DaemonSet",
    }
}

fn push(v: &mut Value, key: &str, item: Value) {
    if let Some(list) = v.get_mut(key).and_then(Value::as_array_mut) {
        list.push(item);
    } else {
        v[key] = json!([item]);
    }
}

fn file_log_patch(cx: &Ctx<'_>, hook: &FileLogHook, role: &CollectorRole, p: &mut WorkloadPatch) {
    push(
        p.container(&hook.workload.container),
        "volumeMounts",
        json!({ "name": "otelplan-logs", "mountPath": hook.dir }),
    );
    let mounts = vec![
        json!({ "name": "otelplan-agent-config", "mountPath": CONFIG_DIR, "readOnly": true }),
        json!({ "name": "otelplan-logs", "mountPath": hook.dir, "readOnly": true }),
        json!({ "name": "otelplan-agent-storage", "mountPath": STORAGE_DIR }),
    ];
    // The agent runs with the datastore's group so it can read log files written
    // group-readable (see the tree's README for the datastore's settings).
    let uid = cx.plan.distribution.uid;
    let mut container = collector_container(cx, role, &mounts, &restricted(uid, hook.group, true));
    container["name"] = json!("otel-log-agent");
    // No readiness probe on a sidecar: a pod is ready only when every container is, and the
    // datastore must not leave its Service because its log agent is unwell. Liveness restarts
    // the agent alone.
    if let Some(fields) = container.as_object_mut() {
        fields.remove("readinessProbe");
    }
    if hook.group == 0 {
        container["securityContext"]["runAsGroup"] = json!(uid);
        container["securityContext"]["runAsNonRoot"] = json!(true);
    }
    p.extra_containers.push(container);
    p.volumes.push(json!({ "name": "otelplan-logs", "emptyDir": {} }));
    p.volumes.push(json!({ "name": "otelplan-agent-config", "configMap": { "name": config_map(role) } }));
    p.volumes.push(json!({ "name": "otelplan-agent-storage", "emptyDir": {} }));
    p.comments.push(format!(
        "`{}`'s log files go to {} on a volume shared with the `otel-log-agent` sidecar, which tails them.",
        hook.datastore, hook.dir
    ));
    p.comments.push("Files and read positions live as long as the pod, like its emptyDir.".to_string());
    p.secrets |= !role.secrets.is_empty();
}

fn jmx_patch(cx: &Ctx<'_>, hook: &JmxHook, p: &mut WorkloadPatch) {
    let plan = cx.plan;
    let env = env_entries(cx, hook.env(Flavor::Kubernetes, &plan.namespaces, &plan.environment));
    let c = p.container(&hook.workload.container);
    for e in env {
        push(c, "env", e);
    }
    push(c, "volumeMounts", json!({ "name": "otelplan-javaagent", "mountPath": JAVA_AGENT_DIR, "readOnly": true }));
    p.init_containers.push(json!({
        "name": "otel-javaagent",
        "image": JAVA_AGENT_IMAGE,
        "command": ["cp", "/javaagent.jar", format!("{JAVA_AGENT_DIR}/javaagent.jar")],
        "volumeMounts": [{ "name": "otelplan-javaagent", "mountPath": JAVA_AGENT_DIR }],
        "resources": resources(32, 64, 50),
        "securityContext": restricted(cx.plan.distribution.uid, cx.plan.distribution.uid, true),
    }));
    p.volumes.push(json!({ "name": "otelplan-javaagent", "emptyDir": {} }));
    p.comments
        .push(format!("The OpenTelemetry Java agent in `{}`'s JVM exports its metrics over OTLP.", hook.datastore));
    p.secrets |= hook.auth.is_some();
}

fn app_patches(cx: &Ctx<'_>, tree: &mut OutputTree) -> anyhow::Result<()> {
    let plan = cx.plan;
    let d = &plan.deployment;
    let mut patches: BTreeMap<(&'static str, String), WorkloadPatch> = BTreeMap::new();
    for app in &plan.apps {
        let (kind, name, container) = &app.workload;
        let w = Workload { kind: *kind, name: name.clone(), container: container.clone() };
        let p = patches.entry((kind_name(&w), name.clone())).or_default();
        p.kind = kind_name(&w);
        let env = env_entries(cx, app.env(Flavor::Kubernetes, &plan.namespaces, &plan.environment));
        let c = p.container(container);
        for e in env {
            push(c, "env", e);
        }
        p.comments.push(format!(
            "OpenTelemetry settings of `{}` in topology {}.",
            app.service,
            plan.choice.id.letter()
        ));
        p.secrets |= app.auth.is_some();
    }
    let mut generators = Vec::new();
    for hook in &d.file_logs {
        let Some(role) = plan.roles.iter().find(|r| r.role == RoleKind::FileAgent(hook.datastore.clone())) else {
            continue;
        };
        let config = format!("collector/{}", role.file_name());
        let text = collector::render(plan, role, Flavor::Kubernetes);
        // A fixed name, so the reference holds whatever namespace the team's workloads are in;
        // the config's hash on the pod template rolls the pods when it changes.
        generators.push(json!({
            "name": config_map(role),
            "files": [format!("config.yaml={config}")],
            "options": { "disableNameSuffixHash": true },
        }));
        let p = patches.entry((kind_name(&hook.workload), hook.workload.name.clone())).or_default();
        p.kind = kind_name(&hook.workload);
        p.annotations.insert(format!("otelplan.io/{}-config", role.role.short()), content_hash(&text));
        tree.insert(format!("kubernetes/app-patches/{config}"), text);
        file_log_patch(cx, hook, role, p);
    }
    for hook in &d.jmx {
        let p = patches.entry((kind_name(&hook.workload), hook.workload.name.clone())).or_default();
        p.kind = kind_name(&hook.workload);
        jmx_patch(cx, hook, p);
    }
    let mut entries = Vec::new();
    for ((kind, name), p) in patches {
        let file = format!("{}-{name}.yaml", kind.to_ascii_lowercase());
        let mut containers: Vec<Value> = p.containers.into_values().collect();
        containers.extend(p.extra_containers);
        // Built by moving the parts in: `json!` would copy each of them whole.
        let mut pod = serde_json::Map::new();
        pod.insert("containers".into(), Value::Array(containers));
        if !p.init_containers.is_empty() {
            pod.insert("initContainers".into(), Value::Array(p.init_containers));
        }
        if !p.volumes.is_empty() {
            pod.insert("volumes".into(), Value::Array(p.volumes));
        }
        let mut annotations = cx.secret_annotations(p.secrets);
        for (k, v) in &p.annotations {
            annotations[k] = json!(v);
        }
        let data: serde_json::Map<String, Value> = [
            ("comments", Value::from(p.comments)),
            ("kind", Value::from(kind)),
            ("name", Value::from(name.as_str())),
            ("pod_annotations", annotations),
            ("pod", Value::Object(pod)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut m = Manifest::new();
        m.add(cx.t, "k8s/patch.yaml.j2", &Value::Object(data))?;
        tree.insert(format!("kubernetes/app-patches/{file}"), m.text());
        // A target selector without a namespace matches the workload whether or not the team's
        // manifests set `metadata.namespace`.
        entries
            .push(json!({ "path": file, "target": { "group": "apps", "version": "v1", "kind": kind, "name": name } }));
    }
    if entries.is_empty() {
        return Ok(());
    }
    let mut m = Manifest::new();
    m.add(cx.t, "k8s/component.yaml.j2", &json!({ "generators": generators, "patches": entries }))?;
    tree.insert("kubernetes/app-patches/kustomization.yaml".into(), m.text());
    Ok(())
}
