//! Service accounts and the cluster role that lets collectors read pod metadata.

use serde_json::json;

use super::{Ctx, Manifest};
use crate::plan::deploy::k8s_name;

/// Roles that enrich telemetry with pod metadata need a service account with read access to it.
fn service_accounts(cx: &Ctx<'_>) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for r in &cx.plan.roles {
        if r.spec()?.pod_metadata {
            out.push(r.name.clone());
        }
    }
    Ok(out)
}

/// `rbac.yaml`, when some role reads pod metadata.
pub(super) fn manifest(cx: &Ctx<'_>) -> anyhow::Result<Option<String>> {
    let accounts = service_accounts(cx)?;
    if accounts.is_empty() {
        return Ok(None);
    }
    let plan = cx.plan;
    let role = k8s_name(&format!("{}-{}-k8s-attributes", plan.namespaces.observability, plan.stack_name));
    let mut m = Manifest::new();
    m.add(
        cx.t,
        "k8s/rbac.yaml.j2",
        &json!({ "accounts": accounts, "role": role, "namespace": plan.namespaces.observability, "labels": cx.labels(&role, "rbac") }),
    )?;
    Ok(Some(m.text()))
}
