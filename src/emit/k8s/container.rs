//! A workload's container as Kubernetes writes it: environment (literals escaped, secrets from
//! the stack's Secret), ports, probes, requests and limits, and a restricted security context.

use serde_json::{json, Value};

use super::Ctx;
use crate::model::keywords::Target;
use crate::plan::app::EnvValue;
use crate::plan::backend_spec::ResourceSpec;
use crate::plan::workload::{Check, EnvSource, Probes, Workload};
use crate::plan::Flavor;

/// Escape a literal for a Kubernetes env value, where `$(X)` is expanded and `$$` is `$`.
pub(super) fn k8s_literal(text: &str) -> String {
    text.replace('$', "$$")
}

pub(super) fn literal_env(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": k8s_literal(value) })
}

/// Requests and the memory limit (no CPU limit: throttling a collector delays its exports).
pub(super) fn resources(r: &ResourceSpec) -> Value {
    json!({
        "requests": { "cpu": format!("{}m", r.cpu_millicores), "memory": format!("{}Mi", r.memory_request_mib) },
        "limits": { "memory": format!("{}Mi", r.memory_limit_mib) },
    })
}

pub(super) fn restricted(uid: u32, gid: u32, read_only_root: bool) -> Value {
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

pub(super) fn port(name: &str, number: u16) -> Value {
    json!({ "name": name, "containerPort": number })
}

fn check(c: &Check) -> Value {
    match c {
        Check::Http { path, port } => json!({ "httpGet": { "path": path, "port": port } }),
        Check::Tcp(port) => json!({ "tcpSocket": { "port": port } }),
        Check::Exec(command) => json!({ "exec": { "command": ["bash", "-c", command] } }),
    }
}

/// Readiness every 10 s; liveness every 20 s after the workload's delay.
pub(super) fn probes(p: &Probes) -> (Value, Value) {
    let mut readiness = check(&p.readiness);
    readiness["periodSeconds"] = json!(10);
    if let Some(timeout) = p.readiness_timeout_seconds {
        readiness["timeoutSeconds"] = json!(timeout);
    }
    let mut liveness = check(&p.liveness);
    liveness["initialDelaySeconds"] = json!(p.liveness_delay_seconds);
    liveness["periodSeconds"] = json!(20);
    (readiness, liveness)
}

/// The workload's environment for Kubernetes (compose-only entries left out).
pub(super) fn env(cx: &Ctx<'_>, w: &Workload) -> Vec<Value> {
    let ns = &cx.plan.namespaces;
    w.env
        .iter()
        .filter(|e| e.only.is_none_or(|t| t == Target::Kubernetes))
        .map(|e| match &e.source {
            EnvSource::Value(EnvValue::Literal(text)) => literal_env(&e.name, text),
            EnvSource::Value(EnvValue::Secret { prefix, env }) if prefix.is_empty() => cx.secret_env(&e.name, env),
            EnvSource::Value(EnvValue::Secret { prefix, env }) => {
                json!({ "name": e.name, "value": format!("{}$({})", k8s_literal(prefix), env.name()) })
            }
            EnvSource::NodeName => {
                json!({ "name": e.name, "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } })
            }
            EnvSource::Url(addr) => literal_env(&e.name, &addr.url(Flavor::Kubernetes, ns)),
        })
        .collect()
}

/// The container of `w` with its `args`, `mounts` and security context.
pub(super) fn container(cx: &Ctx<'_>, w: &Workload, args: &[String], mounts: &[Value], security: &Value) -> Value {
    let mut c = json!({
        "name": w.container,
        "image": w.image,
        "args": args,
        "env": env(cx, w),
        "ports": w.ports.iter().map(|p| port(&p.name, p.port)).collect::<Vec<_>>(),
        "volumeMounts": mounts,
        "resources": resources(&w.resources),
        "securityContext": security,
    });
    if let Some(p) = &w.probes {
        let (readiness, liveness) = probes(p);
        c["readinessProbe"] = readiness;
        c["livenessProbe"] = liveness;
    }
    c
}
