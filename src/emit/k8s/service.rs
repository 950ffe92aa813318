//! Services in front of workloads, and the `NetworkPolicies` that limit who may send to an entry
//! point or connect to a store without authentication.

use serde_json::{json, Value};

use super::{Ctx, Manifest};
use crate::plan::deploy::k8s_name;
use crate::plan::ingress::StoreIngress;
use crate::plan::workload::Workload;

/// Service ports for the named ports of `w` (each targets its container port by name).
pub(super) fn ports(w: &Workload, names: &[&str]) -> Vec<Value> {
    names.iter().filter_map(|n| w.port(n).map(|p| json!({ "name": n, "port": p, "targetPort": n }))).collect()
}

/// A Service `name` selecting the pods of `workload`.
pub(super) fn add(
    cx: &Ctx<'_>,
    m: &mut Manifest,
    name: &str,
    labels: &Value,
    workload: &str,
    headless: bool,
    ports: &[Value],
) -> anyhow::Result<()> {
    m.add(
        cx.t,
        "k8s/service.yaml.j2",
        &json!({ "name": name, "labels": labels, "headless": headless, "selector": cx.selector(workload), "ports": ports }),
    )
}

/// Ingress to `name`'s `ports` only from the apps' and the observability namespaces.
pub(super) fn network_policy(
    cx: &Ctx<'_>,
    name: &str,
    component: &str,
    ports: &[u16],
    m: &mut Manifest,
) -> anyhow::Result<()> {
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

/// Ingress to `name`'s `ports` only from the collectors the plan has sending to it (the
/// samplers take traces from the gateway and nobody else).
pub(super) fn senders_only(
    cx: &Ctx<'_>,
    name: &str,
    component: &str,
    ports: &[u16],
    m: &mut Manifest,
) -> anyhow::Result<()> {
    let senders = cx.plan.collector_senders(name);
    let namespace = &cx.plan.namespaces.observability;
    let from: Vec<Value> = senders
        .iter()
        .map(|s| {
            json!({
                "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": namespace } },
                "podSelector": { "matchLabels": cx.selector(s) },
            })
        })
        .collect();
    let ports: Vec<Value> = ports.iter().map(|p| json!({ "protocol": "TCP", "port": p })).collect();
    let names: Vec<&str> = senders.iter().copied().collect();
    let comments = vec![format!("OTLP reaches {name} only from {}.", names.join(", "))];
    m.add(
        cx.t,
        "k8s/store-network-policy.yaml.j2",
        &json!({
            "comments": comments,
            "name": k8s_name(&format!("{name}-otlp-ingress")),
            "labels": cx.labels(name, component),
            "selector": cx.selector(name),
            "ingress": [{ "from": from, "ports": ports }],
        }),
    )
}

/// The `NetworkPolicy` of a store without authentication of its own: ingress only from the
/// peers the plan names, each rule on its ports (pods of an otelplan workload by its labels, or
/// a whole namespace of the team's pods).
pub(super) fn store_network_policy(
    cx: &Ctx<'_>,
    ingress: &StoreIngress,
    component: &str,
    m: &mut Manifest,
) -> anyhow::Result<()> {
    let rules: Vec<Value> = ingress
        .rules
        .iter()
        .map(|rule| {
            let from: Vec<Value> = rule
                .peers
                .iter()
                .map(|peer| {
                    let mut p = json!({
                        "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": peer.namespace } },
                    });
                    if let Some(workload) = &peer.workload {
                        p["podSelector"] = json!({ "matchLabels": cx.selector(workload) });
                    }
                    p
                })
                .collect();
            let ports: Vec<Value> = rule.ports.iter().map(|p| json!({ "protocol": "TCP", "port": p })).collect();
            json!({ "from": from, "ports": ports })
        })
        .collect();
    let comments: Vec<String> = std::iter::once(format!(
        "{} has no authentication of its own: only these may connect, everything else is refused.",
        ingress.title
    ))
    .chain(ingress.rules.iter().map(|r| {
        let ports: Vec<String> = r.ports.iter().map(u16::to_string).collect();
        format!("{} on {}.", r.what, ports.join(", "))
    }))
    .collect();
    m.add(
        cx.t,
        "k8s/store-network-policy.yaml.j2",
        &json!({
            "comments": comments,
            "name": k8s_name(&format!("{}-ingress", ingress.store)),
            "labels": cx.labels(&ingress.store, component),
            "selector": cx.selector(&ingress.store),
            "ingress": rules,
        }),
    )
}
