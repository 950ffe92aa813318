//! Emit stage: Grafana's provisioned data sources for topology C (the three stores), one file for
//! both deployment targets, the addresses resolved for the target's flavour.

use serde_yaml::Value;

use crate::emit::yaml::{document, map, s};
use crate::plan::{Flavor, Plan};

/// `datasources.yaml` for `flavor`, when the plan runs a Grafana. Grafana expands `$` in
/// provisioning files, so every literal `$` is doubled.
pub(crate) fn datasources(plan: &Plan, flavor: Flavor) -> Option<String> {
    let g = plan.deployment.grafana.as_ref()?;
    let catalog = crate::plan::backend_spec::Catalog::get().ok();
    let sources: Vec<Value> = g
        .sources
        .iter()
        .map(|(kind, addr)| {
            let spec = catalog.map(|c| c.backend(*kind));
            let source = spec.and_then(|b| b.grafana.as_ref());
            let type_name = source.map_or(kind.key(), |g| g.type_name.as_str());
            let url = addr.url(flavor, &plan.namespaces);
            map([
                ("name", s(spec.map_or(kind.key(), |b| b.title.as_str()))),
                ("type", s(type_name)),
                ("uid", s(type_name)),
                ("access", s("proxy")),
                ("url", s(url.replace('$', "$$"))),
                ("isDefault", Value::Bool(source.is_some_and(|g| g.default))),
            ])
        })
        .collect();
    Some(document(&map([("apiVersion", Value::Number(1.into())), ("datasources", Value::Sequence(sources))])))
}
