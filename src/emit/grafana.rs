//! Emit stage: Grafana's provisioned data sources for topology C (the three stores), one file for
//! both deployment targets, the addresses resolved for the target's flavour.

use serde_yaml::Value;

use crate::emit::yaml::{document, map, s};
use crate::plan::{Flavor, Plan};
use crate::topology::BackendKind;

/// `datasources.yaml` for `flavor`, when the plan runs a Grafana. Grafana expands `$` in
/// provisioning files, so every literal `$` is doubled.
pub(crate) fn datasources(plan: &Plan, flavor: Flavor) -> Option<String> {
    let g = plan.deployment.grafana.as_ref()?;
    let sources: Vec<Value> = g
        .sources
        .iter()
        .map(|(kind, addr)| {
            let (name, type_name, url) = match kind {
                BackendKind::Jaeger => ("Jaeger", "jaeger", addr.url(flavor, &plan.namespaces)),
                BackendKind::Prometheus => ("Prometheus", "prometheus", addr.url(flavor, &plan.namespaces)),
                _ => ("Loki", "loki", addr.url(flavor, &plan.namespaces)),
            };
            map([
                ("name", s(name)),
                ("type", s(type_name)),
                ("uid", s(type_name)),
                ("access", s("proxy")),
                ("url", s(url.replace('$', "$$"))),
                ("isDefault", Value::Bool(*kind == BackendKind::Prometheus)),
            ])
        })
        .collect();
    Some(document(&map([("apiVersion", Value::Number(1.into())), ("datasources", Value::Sequence(sources))])))
}
