//! The app-patches Component: the OpenTelemetry settings of the Django workloads, and the log
//! agents and Java agent added to the team's datastores, as patches of their own workloads.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::collector::{collector_container, CONFIG_DIR};
use super::container::{k8s_literal, literal_env, resources, restricted};
use super::{config_map, Ctx, Manifest};
use crate::emit::{collector, OutputTree};
use crate::plan::app::{EnvValue, PodAttributes};
use crate::plan::backend_spec::ResourceSpec;
use crate::plan::collector::{CollectorRole, STORAGE_DIR};
use crate::plan::deploy::{FileLogHook, JmxHook, Workload, JAVA_AGENT_DIR, JAVA_AGENT_IMAGE};
use crate::plan::node::RoleKind;
use crate::plan::pod_env::{Piece, PodEnvValue};
use crate::plan::Flavor;

/// A Kubernetes env list from plan env values; secrets come from the stack's Secret, pod fields
/// from the downward API, and both are spliced in with `$(NAME)`, which Kubernetes expands from
/// earlier entries (the secrets go first; the plan lists pod fields before their use).
fn env_entries<V: Into<PodEnvValue>>(cx: &Ctx<'_>, env: Vec<(String, V)>) -> Vec<Value> {
    let mut secrets: BTreeMap<String, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, value) in env {
        match value.into() {
            PodEnvValue::Plain(EnvValue::Literal(text)) => out.push(literal_env(&key, &text)),
            PodEnvValue::Plain(EnvValue::Secret { prefix, env }) => {
                secrets.entry(env.name().to_string()).or_insert_with(|| cx.secret_env(env.name(), &env));
                out.push(json!({ "name": key, "value": format!("{}$({})", k8s_literal(&prefix), env.name()) }));
            }
            PodEnvValue::Field(field) => {
                out.push(json!({ "name": key, "valueFrom": { "fieldRef": { "fieldPath": field.path() } } }));
            }
            PodEnvValue::Spliced(pieces) => out.push(json!({ "name": key, "value": spliced(&pieces) })),
        }
    }
    secrets.into_values().chain(out).collect()
}

/// A spliced value as Kubernetes reads it: text escaped (`$` doubled), variables as `$(NAME)`.
fn spliced(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(text) => k8s_literal(text),
            Piece::Var(name) => format!("$({name})"),
        })
        .collect()
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
    tls: bool,
    annotations: BTreeMap<String, String>,
}

/// Add a volume to the patch once (the TLS Secret may be wanted by several containers).
fn add_volume(p: &mut WorkloadPatch, volume: Value) {
    if !p.volumes.iter().any(|v| v["name"] == volume["name"]) {
        p.volumes.push(volume);
    }
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
    let Some(w) = cx.plan.workloads.iter().find(|w| w.name == role.name) else { return };
    let server = p.container(&hook.workload.container);
    push(server, "volumeMounts", json!({ "name": "otelplan-logs", "mountPath": hook.dir }));
    if let Some(pg) = &hook.postgres {
        // The server's logging settings as its arguments (the image's entrypoint stays);
        // Kubernetes expands `$(X)` in arguments, so `$` is escaped.
        server["args"] = json!(pg.args().iter().map(|a| k8s_literal(a)).collect::<Vec<_>>());
    }
    let mut mounts = vec![
        json!({ "name": "otelplan-agent-config", "mountPath": CONFIG_DIR, "readOnly": true }),
        json!({ "name": "otelplan-logs", "mountPath": hook.dir, "readOnly": true }),
        json!({ "name": "otelplan-agent-storage", "mountPath": STORAGE_DIR }),
    ];
    if let Some((tls_mounts, tls_volume)) = cx.tls_files(&w.tls_files) {
        mounts.extend(tls_mounts);
        add_volume(p, tls_volume);
        p.tls = true;
    }
    // The agent runs with the datastore's group so it can read log files written
    // group-readable (see the tree's README for the datastore's settings).
    let uid = w.user.uid;
    let mut container = collector_container(cx, w, &mounts, &restricted(uid, hook.group, true));
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
    let logs = match hook.size_limit_mib {
        Some(mib) => json!({ "sizeLimit": format!("{mib}Mi") }),
        None => json!({}),
    };
    p.volumes.push(json!({ "name": "otelplan-logs", "emptyDir": logs }));
    p.volumes.push(json!({ "name": "otelplan-agent-config", "configMap": { "name": config_map(role) } }));
    p.volumes.push(json!({ "name": "otelplan-agent-storage", "emptyDir": {} }));
    p.comments.push(format!(
        "`{}`'s log files go to {} on a volume shared with the `otel-log-agent` sidecar, which tails them.",
        hook.datastore, hook.dir
    ));
    p.comments.push("Files and read positions live as long as the pod, like its emptyDir.".to_string());
    if let Some(pg) = &hook.postgres {
        p.comments.push(format!(
            "The server's arguments set its logging ({}), replacing any `args` your container has.",
            if pg.rotated { "hourly files, a day kept" } else { "the format the agent parses" }
        ));
    }
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
        "resources": resources(&ResourceSpec { cpu_millicores: 50, memory_request_mib: 32, memory_limit_mib: 64 }),
        "securityContext": restricted(cx.plan.distribution.uid, cx.plan.distribution.uid, true),
    }));
    p.volumes.push(json!({ "name": "otelplan-javaagent", "emptyDir": {} }));
    p.comments
        .push(format!("The OpenTelemetry Java agent in `{}`'s JVM exports its metrics over OTLP.", hook.datastore));
    p.secrets |= hook.auth.is_some();
}

pub(super) fn app_patches(cx: &Ctx<'_>, tree: &mut OutputTree) -> anyhow::Result<()> {
    let plan = cx.plan;
    let d = &plan.deployment;
    let mut patches: BTreeMap<(&'static str, String), WorkloadPatch> = BTreeMap::new();
    for app in &plan.apps {
        let (kind, name, container) = &app.workload;
        let w = Workload { kind: *kind, name: name.clone(), container: container.clone() };
        let p = patches.entry((kind_name(&w), name.clone())).or_default();
        p.kind = kind_name(&w);
        let env = env_entries(cx, app.pod_env(&plan.namespaces, &plan.environment));
        let c = p.container(container);
        for e in env {
            push(c, "env", e);
        }
        let ca: Vec<String> = app.endpoint.tls.iter().flat_map(|t| t.ca_file.iter().cloned()).collect();
        if let Some((tls_mounts, tls_volume)) = cx.tls_files(&ca) {
            for m in tls_mounts {
                push(p.container(container), "volumeMounts", m);
            }
            add_volume(p, tls_volume);
            p.tls = true;
        }
        p.comments.push(format!(
            "OpenTelemetry settings of `{}` in topology {}.",
            app.service,
            plan.topology.id.letter()
        ));
        if app.pod_attributes == PodAttributes::App {
            p.comments.push(
                "No collector on its way adds the pod's attributes: OTEL_RESOURCE_ATTRIBUTES takes them from the downward API."
                    .to_string(),
            );
        }
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
        let mut annotations = cx.external_secrets(p.secrets, p.tls);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_values_escape_text_and_reference_variables() {
        let pieces = [Piece::Text("a=$x,b=".into()), Piece::Var("OTELPLAN_POD_NAME"), Piece::Text(",c=$(Y)".into())];
        assert_eq!(spliced(&pieces), "a=$$x,b=$(OTELPLAN_POD_NAME),c=$$(Y)");
    }
}
