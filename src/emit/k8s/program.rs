//! Deployed backends and their companions as Kubernetes workloads: a StatefulSet with a claim
//! where the program keeps data, a Deployment otherwise, each behind a Service; Kibana's
//! password is set by a Job.

use serde_json::{json, Value};

use super::container::{container, restricted};
use super::{apm_config_map, grafana_config_map, service, Ctx, Manifest};
use crate::plan::deploy::DeployedBackend;
use crate::plan::workload::{Workload, WorkloadKind};
use crate::plan::Flavor;
use crate::topology::{BackendKind, Destination};

fn pod_security(w: &Workload) -> Value {
    let fs_group = if w.user.gid == 0 { w.user.uid } else { w.user.gid };
    json!({ "fsGroup": fs_group, "seccompProfile": { "type": "RuntimeDefault" } })
}

/// The workload's own mounts and volumes: its mounted config, data and scratch directories.
fn mounts_and_volumes(w: &Workload, b: &DeployedBackend) -> (Vec<Value>, Vec<Value>) {
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    if let Some(path) = &w.config {
        let file = path.rsplit('/').next().unwrap_or_default();
        mounts.push(json!({ "name": "config", "mountPath": path, "subPath": file, "readOnly": true }));
        volumes.push(json!({ "name": "config", "configMap": { "name": apm_config_map(b) } }));
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
    let (mounts, volumes) = mounts_and_volumes(w, b);
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
    let entry_is_apm = cx.plan.topology.apps_send_to != Destination::Gateway;
    if b.kind == BackendKind::ApmServer && entry_is_apm {
        let ports: Vec<u16> = w.ports.iter().map(|p| p.port).collect();
        service::network_policy(cx, &w.name, &w.component, &ports, &mut m)?;
    }
    Ok(m.text())
}

fn companion<'p>(cx: &Ctx<'p>, kind: &WorkloadKind) -> Option<&'p Workload> {
    cx.plan.workloads.iter().find(|w| w.kind == *kind)
}

/// Kibana's Deployment and Service, and the Job that sets its user's password.
pub(super) fn kibana_manifest(cx: &Ctx<'_>) -> anyhow::Result<String> {
    let plan = cx.plan;
    let (Some(k), Some(w), Some(setup)) =
        (&plan.deployment.kibana, companion(cx, &WorkloadKind::Kibana), companion(cx, &WorkloadKind::KibanaSetup))
    else {
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
    let es_url = k.elasticsearch.url(Flavor::Kubernetes, &plan.namespaces);
    let script = format!(
        "until curl -s -o /dev/null -w '%{{http_code}}' -u \"elastic:${{ELASTIC_PASSWORD}}\" -X POST -H 'Content-Type: application/json' {es_url}/_security/user/kibana_system/_password -d \"{{\\\"password\\\":\\\"${{KIBANA_PASSWORD}}\\\"}}\" | grep -q '^200$'; do echo waiting for elasticsearch; sleep 5; done"
    );
    let mut job = container(cx, setup, &[], &[], &restricted(setup.user.uid, setup.user.gid, setup.read_only_root));
    strip_empty(&mut job, &["args", "volumeMounts", "ports"]);
    job["command"] = json!(["bash", "-c", script]);
    let job_pod = json!({
        "restartPolicy": "OnFailure",
        "automountServiceAccountToken": false,
        "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [job],
    });
    m.add(
        cx.t,
        "k8s/job.yaml.j2",
        &json!({
            "comments": ["Sets the `kibana_system` password once Elasticsearch answers."],
            "name": setup.name,
            "labels": cx.labels(&setup.name, &setup.component),
            "annotations": cx.secret_annotations(setup.reads_secrets()),
            "pod": job_pod,
        }),
    )?;
    Ok(m.text())
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
