//! Collectors as Kubernetes workloads: the placement of their role decides the object — a
//! scaled role is a Deployment (a StatefulSet with a persistent queue per replica) behind a
//! Service with an autoscaler, a single one has exactly one replica, a per-node one is a
//! DaemonSet. Sidecars are written into the team's workloads by `patches.rs`.

use serde_json::{json, Value};

use super::container::{container, restricted};
use super::{config_map, scaling, service, Ctx, Manifest};
use crate::plan::collector::CollectorRole;
use crate::plan::role_spec::Placement;
use crate::plan::workload::{Replicas, Workload};

/// Where collector containers read their config.
pub(super) const CONFIG_DIR: &str = "/conf";

/// The collector container of `w`, with `mounts` for its config and storage.
pub(super) fn collector_container(cx: &Ctx<'_>, w: &Workload, mounts: &[Value], security: &Value) -> Value {
    let mut args = vec![format!("--config={CONFIG_DIR}/config.yaml")];
    args.extend(w.args.iter().cloned());
    container(cx, w, &args, mounts, security)
}

/// The manifest of a collector role's workload; `None` for a sidecar.
pub(super) fn manifest(cx: &Ctx<'_>, w: &Workload, role: &CollectorRole) -> anyhow::Result<Option<String>> {
    let spec = role.spec()?;
    if spec.placement == Placement::Sidecar {
        return Ok(None);
    }
    let name = &w.name;
    let labels = cx.labels(name, &w.component);
    let mut m = Manifest::new();
    let mut mounts = vec![json!({ "name": "config", "mountPath": CONFIG_DIR, "readOnly": true })];
    let mut volumes = vec![json!({ "name": "config", "configMap": { "name": config_map(role) } })];
    let mut comments: Vec<&str> = Vec::new();
    let mut claims = Vec::new();
    if let Some(storage) = &w.storage {
        mounts.push(json!({ "name": storage.key, "mountPath": storage.path }));
        if let Some(size) = storage.size_gib {
            claims.push(json!({
                "metadata": { "name": storage.key },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": format!("{size}Gi") } } },
            }));
        }
    }
    let persistent = !claims.is_empty();
    let security = if spec.placement == Placement::PerNode {
        comments.push("The node agent reads root-owned pod logs: it runs as uid 0 with every capability dropped,");
        comments.push("the log directory mounted read-only, and keeps its checkpoints on a hostPath so that a");
        comments.push("re-created pod resumes where the last one stopped.");
        mounts.push(json!({ "name": "pods", "mountPath": "/var/log/pods", "readOnly": true }));
        volumes.push(json!({ "name": "pods", "hostPath": { "path": "/var/log/pods", "type": "Directory" } }));
        if let Some(storage) = &w.storage {
            volumes.push(json!({ "name": storage.key, "hostPath": { "path": format!("/var/lib/otelcol/{name}"), "type": "DirectoryOrCreate" } }));
        }
        json!({
            "runAsUser": 0,
            "runAsNonRoot": false,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        })
    } else {
        restricted(w.user.uid, w.user.gid, w.read_only_root)
    };
    let tls = cx.tls_files(&w.tls_files);
    if let Some((tls_mounts, tls_volume)) = &tls {
        mounts.extend(tls_mounts.iter().cloned());
        volumes.push(tls_volume.clone());
    }
    let container = collector_container(cx, w, &mounts, &security);
    let mut pod = json!({
        "automountServiceAccountToken": spec.pod_metadata,
        "securityContext": { "fsGroup": w.user.gid, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [container],
        "volumes": volumes,
    });
    if spec.pod_metadata {
        pod["serviceAccountName"] = json!(name);
    }
    let (kind, spec_fields) = object_kind(cx, w, persistent, &mut pod, &mut comments);
    let data = json!({
        "comments": comments,
        "kind": kind,
        "name": name,
        "labels": labels,
        "annotations": cx.external_secrets(w.reads_secrets(), tls.is_some()),
        "spec": spec_fields,
        "selector": cx.selector(name),
        "pod_annotations": cx.external_secrets(w.reads_secrets(), tls.is_some()),
        "pod": pod,
        "claims": claims,
    });
    m.add(cx.t, "k8s/workload.yaml.j2", &data)?;
    if let Replicas::Fixed(_) = w.replicas {
        // Headless under the workload's own name: it resolves to every replica, which is what
        // the gateway's load-balancing exporter reads (its DNS resolver).
        let ports = service::ports(w, &["otlp-grpc", "otlp-http"]);
        service::add(cx, &mut m, name, &labels, name, true, &ports)?;
        scaling::disruption_budget(cx, &mut m, name, &labels)?;
        let ports: Vec<u16> = ["otlp-grpc"].iter().filter_map(|p| w.port(p)).collect();
        service::senders_only(cx, name, &w.component, &ports, &mut m)?;
    } else if kind == "StatefulSet" {
        let ports = if w.port("otlp-grpc").is_some() {
            service::ports(w, &["otlp-grpc", "otlp-http"])
        } else {
            service::ports(w, &["health"])
        };
        service::add(cx, &mut m, &format!("{name}-headless"), &labels, name, true, &ports)?;
    }
    if let Replicas::Scaled { min, max } = w.replicas {
        // A scaled tier that nothing sends to (the ingest tier, which reads Kafka) gets no
        // Service and no OTLP ingress.
        let listens = w.port("otlp-grpc").is_some();
        if listens {
            service::add(cx, &mut m, name, &labels, name, false, &service::ports(w, &["otlp-grpc", "otlp-http"]))?;
        }
        scaling::autoscaler(cx, &mut m, name, &labels, kind, min, max)?;
        scaling::disruption_budget(cx, &mut m, name, &labels)?;
        if listens {
            let ports: Vec<u16> = ["otlp-grpc", "otlp-http"].iter().filter_map(|p| w.port(p)).collect();
            service::network_policy(cx, name, &w.component, &ports, &mut m)?;
        }
    }
    Ok(Some(m.text()))
}

/// The object kind and its spec fields for a collector (a scaled one also gets its spread
/// constraint), with the comments that explain the choice.
fn object_kind(
    cx: &Ctx<'_>,
    w: &Workload,
    persistent: bool,
    pod: &mut Value,
    comments: &mut Vec<&'static str>,
) -> (&'static str, Value) {
    let name = &w.name;
    match w.replicas {
        Replicas::PerNode => {
            pod["tolerations"] = json!([{ "operator": "Exists" }]);
            ("DaemonSet", json!({ "updateStrategy": { "type": "RollingUpdate" } }))
        }
        Replicas::Fixed(n) => {
            comments.push("A fixed number of replicas, each with its own name behind the headless Service: the");
            comments
                .push("gateway routes every span of a trace to one of them, and a change of count re-routes traces.");
            pod["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": { "matchLabels": cx.selector(name) },
            }]);
            let mut spec = json!({ "replicas": n, "serviceName": name, "podManagementPolicy": "Parallel" });
            if persistent {
                spec["persistentVolumeClaimRetentionPolicy"] =
                    json!({ "whenScaled": "Retain", "whenDeleted": "Retain" });
            }
            ("StatefulSet", spec)
        }
        Replicas::Scaled { .. } => {
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
                    "A StatefulSet, so each replica's persistent queue survives a pod restart on its own volume;",
                );
                comments
                    .push("a replica scaled away keeps its claim, and its queue drains when the replica comes back.");
                (
                    "StatefulSet",
                    json!({
                        "serviceName": format!("{name}-headless"),
                        "podManagementPolicy": "Parallel",
                        "persistentVolumeClaimRetentionPolicy": { "whenScaled": "Retain", "whenDeleted": "Retain" },
                    }),
                )
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
