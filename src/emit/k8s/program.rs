//! Deployed backends and their companions as Kubernetes workloads: a StatefulSet with a claim
//! where the program keeps data, a Deployment otherwise, each behind a Service; a deployed
//! Elasticsearch is set up by a Job.

use serde_json::{json, Value};

use super::container::{container, restricted};
use super::{backend_config_map, grafana_config_map, service, Ctx, Manifest};
use crate::plan::deploy::{k8s_name, DeployedBackend};
use crate::plan::workload::{Workload, WorkloadKind, SETUP_DIR};
use crate::topology::{BackendKind, Destination};

fn pod_security(w: &Workload) -> Value {
    let fs_group = if w.user.gid == 0 { w.user.uid } else { w.user.gid };
    json!({ "fsGroup": fs_group, "seccompProfile": { "type": "RuntimeDefault" } })
}

/// The workload's own mounts and volumes: its mounted config, data and scratch directories.
fn mounts_and_volumes(w: &Workload, config_map: Option<String>) -> (Vec<Value>, Vec<Value>) {
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    if let Some(path) = &w.config {
        let file = path.rsplit('/').next().unwrap_or_default();
        mounts.push(json!({ "name": "config", "mountPath": path, "subPath": file, "readOnly": true }));
        // The other files it reads are keys of the same ConfigMap.
        for f in &w.files {
            let key = super::config_key(&f.mount);
            mounts.push(json!({ "name": "config", "mountPath": f.mount, "subPath": key, "readOnly": true }));
        }
        volumes.push(json!({ "name": "config", "configMap": { "name": config_map.unwrap_or_default() } }));
    }
    if let Some(storage) = &w.storage {
        mounts.push(json!({ "name": storage.key, "mountPath": storage.path }));
    }
    for dir in &w.scratch {
        let name = dir.rsplit('/').next().unwrap_or("scratch");
        mounts.push(json!({ "name": name, "mountPath": dir }));
        volumes.push(json!({ "name": name, "emptyDir": {} }));
    }
    (mounts, volumes)
}

fn workload_data(cx: &Ctx<'_>, w: &Workload, kind: &str, spec: &Value, pod: &Value, claims: &Value) -> Value {
    json!({
        "comments": w.notes,
        "kind": kind,
        "name": w.name,
        "labels": cx.labels(&w.name, &w.component),
        "annotations": cx.secret_annotations(w.reads_secrets()),
        "spec": spec,
        "selector": cx.selector(&w.name),
        "pod_annotations": cx.secret_annotations(w.reads_secrets()),
        "pod": pod,
        "claims": claims,
    })
}

/// A deployed backend: its workload and Service (APM Server as the apps' entry point also gets
/// a `NetworkPolicy`).
pub(super) fn backend_manifest(cx: &Ctx<'_>, w: &Workload, b: &DeployedBackend) -> anyhow::Result<String> {
    let mut m = program_manifest(cx, w, Some(backend_config_map(b)))?;
    let entry_is_apm = cx.plan.topology.apps_send_to != Destination::Gateway;
    if b.kind == BackendKind::ApmServer && entry_is_apm {
        let ports: Vec<u16> = w.ports.iter().map(|p| p.port).collect();
        service::network_policy(cx, &w.name, &w.component, &ports, &mut m)?;
    }
    Ok(m.text())
}

/// The deployed Kafka of the buffer: a StatefulSet with its claim, and a Service.
pub(super) fn buffer_manifest(cx: &Ctx<'_>, w: &Workload) -> anyhow::Result<String> {
    Ok(program_manifest(cx, w, None)?.text())
}

/// A program with its Service: a StatefulSet with a claim where it keeps data, a Deployment
/// otherwise; and the `NetworkPolicy` of a store that declares who may connect.
fn program_manifest(cx: &Ctx<'_>, w: &Workload, config_map: Option<String>) -> anyhow::Result<Manifest> {
    let (mounts, volumes) = mounts_and_volumes(w, config_map);
    let container = container(cx, w, &w.args, &mounts, &restricted(w.user.uid, w.user.gid, w.read_only_root));
    let pod = json!({
        "automountServiceAccountToken": false,
        "securityContext": pod_security(w),
        "containers": [container],
        "volumes": volumes,
    });
    let (kind, spec, claims) = match &w.storage {
        Some(storage) => (
            "StatefulSet",
            json!({ "replicas": 1, "serviceName": w.name }),
            json!([{ "metadata": { "name": storage.key }, "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": format!("{}Gi", storage.size_gib.unwrap_or(1)) } } } }]),
        ),
        None => ("Deployment", json!({ "replicas": 1 }), json!([])),
    };
    let mut m = Manifest::new();
    m.add(cx.t, "k8s/workload.yaml.j2", &workload_data(cx, w, kind, &spec, &pod, &claims))?;
    let names: Vec<&str> = w.ports.iter().map(|p| p.name.as_str()).collect();
    let labels = cx.labels(&w.name, &w.component);
    service::add(cx, &mut m, &w.name, &labels, &w.name, false, &service::ports(w, &names))?;
    if let Some(ingress) = cx.plan.deployment.store_ingress.iter().find(|i| i.store == w.name) {
        service::store_network_policy(cx, ingress, &w.component, &mut m)?;
    }
    Ok(m)
}

fn companion<'p>(cx: &Ctx<'p>, kind: &WorkloadKind) -> Option<&'p Workload> {
    cx.plan.workloads.iter().find(|w| w.kind == *kind)
}

/// Kibana's Deployment and Service.
pub(super) fn kibana_manifest(cx: &Ctx<'_>) -> anyhow::Result<String> {
    let Some(w) = companion(cx, &WorkloadKind::Kibana) else {
        return Ok(String::new());
    };
    let mut c = container(cx, w, &[], &[], &restricted(w.user.uid, w.user.gid, w.read_only_root));
    strip_empty(&mut c, &["args", "volumeMounts"]);
    let pod = json!({
        "automountServiceAccountToken": false,
        "securityContext": pod_security(w),
        "containers": [c],
    });
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/workload.yaml.j2",
        &workload_data(cx, w, "Deployment", &json!({ "replicas": 1 }), &pod, &json!([])),
    )?;
    let labels = cx.labels(&w.name, &w.component);
    service::add(cx, &mut m, &w.name, &labels, &w.name, false, &service::ports(w, &["http"]))?;
    Ok(m.text())
}

/// The Job that sets a deployed Elasticsearch up, its files from the ConfigMap `files_map`.
///
/// A Job's pod template cannot change once it exists, so the Job is named after a hash of
/// everything it runs (its pod and its files): a re-render that changes any of it creates a new
/// Job on the next apply, an unchanged one leaves it be. Finished Jobs are deleted after a while,
/// and the setup is idempotent, so a re-apply after that simply runs it again.
pub(super) fn setup_manifest(cx: &Ctx<'_>, files_map: &str, files: &[(String, String)]) -> anyhow::Result<String> {
    let (Some(setup), Some(w)) =
        (&cx.plan.deployment.elasticsearch_setup, companion(cx, &WorkloadKind::ElasticsearchSetup))
    else {
        return Ok(String::new());
    };
    let mounts = [json!({ "name": "setup", "mountPath": SETUP_DIR, "readOnly": true })];
    let mut job = container(cx, w, &w.args, &mounts, &restricted(w.user.uid, w.user.gid, w.read_only_root));
    strip_empty(&mut job, &["ports"]);
    let pod = json!({
        "restartPolicy": "OnFailure",
        "automountServiceAccountToken": false,
        "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [job],
        "volumes": [{ "name": "setup", "configMap": { "name": files_map } }],
    });
    let mut content = serde_json::to_string(&pod)?;
    for (name, text) in files {
        content.push_str(name);
        content.push_str(text);
    }
    let name = k8s_name(&format!("{}-{}", setup.name, content_hash(&content)));
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/job.yaml.j2",
        &json!({
            "comments": [
                "Sets Elasticsearch up as its `elastic` superuser: the telemetry writer's role and user, the lifecycle of the telemetry data streams, `kibana_system`'s password.",
                "Named after a hash of its content: a changed setup is a new Job; a finished one is deleted after `ttlSecondsAfterFinished`.",
            ],
            "name": name,
            "labels": cx.labels(&setup.name, &w.component),
            "annotations": cx.secret_annotations(w.reads_secrets()),
            "spec": {
                "backoffLimit": 10,
                "activeDeadlineSeconds": setup.deadline_seconds,
                "ttlSecondsAfterFinished": setup.keep_finished_seconds,
            },
            "pod": pod,
        }),
    )?;
    Ok(m.text())
}

/// A short, stable hash of `text` (FNV-1a, 32 bits, hexadecimal).
fn content_hash(text: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// Grafana's Deployment and Service, its data sources from a generated ConfigMap.
pub(super) fn grafana_manifest(cx: &Ctx<'_>) -> anyhow::Result<String> {
    let (Some(g), Some(w)) = (&cx.plan.deployment.grafana, companion(cx, &WorkloadKind::Grafana)) else {
        return Ok(String::new());
    };
    let mounts = [
        json!({ "name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": true }),
        json!({ "name": "data", "mountPath": "/var/lib/grafana" }),
    ];
    let mut c = container(cx, w, &[], &mounts, &restricted(w.user.uid, w.user.gid, w.read_only_root));
    strip_empty(&mut c, &["args"]);
    let pod = json!({
        "automountServiceAccountToken": false,
        "securityContext": pod_security(w),
        "containers": [c],
        "volumes": [
            { "name": "datasources", "configMap": { "name": grafana_config_map(&g.name) } },
            { "name": "data", "emptyDir": {} },
        ],
    });
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/workload.yaml.j2",
        &workload_data(cx, w, "Deployment", &json!({ "replicas": 1 }), &pod, &json!([])),
    )?;
    let labels = cx.labels(&w.name, &w.component);
    service::add(cx, &mut m, &w.name, &labels, &w.name, false, &service::ports(w, &["http"]))?;
    Ok(m.text())
}

/// Drop the listed keys where they hold an empty list.
fn strip_empty(container: &mut Value, keys: &[&str]) {
    if let Some(fields) = container.as_object_mut() {
        for key in keys {
            if fields.get(*key).and_then(Value::as_array).is_some_and(Vec::is_empty) {
                fields.remove(*key);
            }
        }
    }
}
