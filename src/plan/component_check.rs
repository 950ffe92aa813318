//! Plan stage, last check: every collector component the plan's configs write, and those the
//! stack's distribution does not include (`data/distributions/*.yaml`), each with the configs
//! and instances that need it. `analysis` turns what is lacking into errors before anything is
//! written.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::keywords::Target;
use crate::plan::collector::{CollectorRole, ComponentId, ComponentKind};
use crate::plan::distribution::{ComponentClass, Distribution};
use crate::plan::{Flavor, Plan};

/// Every component kind some config of the plan writes, in any flavour the tree holds.
pub(crate) fn kinds_in_use(plan: &Plan) -> BTreeSet<ComponentKind> {
    uses(plan).into_keys().collect()
}

/// Each component kind written, with the configs and instance ids that use it.
fn uses(plan: &Plan) -> BTreeMap<ComponentKind, Vec<(String, ComponentId)>> {
    let mut flavors = BTreeSet::from([plan.primary]);
    if plan.targets.contains(&Target::Kubernetes) {
        flavors.insert(Flavor::Kubernetes);
    }
    let mut out: BTreeMap<ComponentKind, Vec<(String, ComponentId)>> = BTreeMap::new();
    for role in &plan.roles {
        for id in role_ids(role, &flavors) {
            out.entry(id.kind).or_default().push((role.file_name(), id));
        }
    }
    out
}

/// The ids of the components `role`'s config writes in any of `flavors`.
fn role_ids(role: &CollectorRole, flavors: &BTreeSet<Flavor>) -> Vec<ComponentId> {
    let mut ids = vec![ComponentId::bare(ComponentKind::HealthCheckExtension)];
    if role.file_storage {
        ids.push(ComponentId::bare(ComponentKind::FileStorageExtension));
    }
    ids.extend(role.receivers.iter().map(|r| r.id.clone()));
    let written = role.processors.iter().filter(|p| p.only.is_none_or(|f| flavors.contains(&f)));
    ids.extend(written.map(|p| p.id.clone()));
    ids.extend(role.exporters.iter().map(|e| e.id.clone()));
    ids.extend(role.connectors.iter().map(|c| c.id.clone()));
    ids
}

/// A component the plan needs that its distribution does not include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lacking {
    /// Receiver, processor, …
    pub(crate) class: ComponentClass,
    /// Its type name, as the contrib distribution calls it at the plan's version.
    pub(crate) type_name: String,
    /// Where it is written: config file name and the instance's name after `/`, if any.
    pub(crate) used_in: Vec<(String, Option<String>)>,
}

/// The components the plan's configs write that `plan.distribution` lacks, in kind order.
pub(crate) fn lacking(plan: &Plan) -> anyhow::Result<Vec<Lacking>> {
    let contrib = Distribution::contrib()?;
    let mut out = Vec::new();
    for (kind, used) in uses(plan) {
        if plan.distribution.component(kind).is_some() {
            continue;
        }
        // A component no table has would be a bug: otelplan writes only what it knows.
        let known = contrib.component(kind).ok_or_else(|| {
            anyhow::anyhow!("the component `{kind:?}` is in no distribution's table (this is a bug in otelplan)")
        })?;
        let mut used_in: Vec<(String, Option<String>)> = used.into_iter().map(|(file, id)| (file, id.name)).collect();
        used_in.dedup();
        out.push(Lacking {
            class: known.class,
            type_name: known.type_name(plan.collector_version).to_string(),
            used_in,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    const EDOT: &str = "collector:\n  distribution: edot\n";

    fn with_edot(text: &str) -> String {
        text.replacen("collector:\n", EDOT, 1)
    }

    #[test]
    fn contrib_lacks_nothing_the_four_topologies_write() {
        for id in TopologyId::all() {
            assert_eq!(lacking(&plan(DKP, id)).unwrap(), Vec::new(), "{id:?}");
        }
    }

    #[test]
    fn edot_lacks_the_elasticsearch_receiver_that_scrapes_a_search_cluster() {
        let p = plan(&with_edot(DKP), TopologyId::D);
        let lack = lacking(&p).unwrap();
        assert_eq!(
            lack,
            [Lacking {
                class: ComponentClass::Receiver,
                type_name: "elasticsearch".into(),
                used_in: vec![("scraper.yaml".into(), Some("search".into()))],
            }]
        );
    }

    #[test]
    fn edot_has_everything_else_d_writes_including_its_own_components() {
        let text = with_edot(DKP);
        let text = text.replace(
            "  search:\n    kind: elasticsearch\n    endpoint: http://search:9200\n    username: otel_monitor\n    password: ${SEARCH_MONITOR_PASSWORD}\n",
            "",
        );
        assert!(!text.contains("kind: elasticsearch"), "the fixture lost its search cluster");
        let p = plan(&text, TopologyId::D);
        assert_eq!(lacking(&p).unwrap(), Vec::new());
        let kinds = kinds_in_use(&p);
        assert!(kinds.contains(&ComponentKind::ElasticApmProcessor));
        assert!(kinds.contains(&ComponentKind::ElasticApmConnector));
    }

    #[test]
    fn kubernetes_only_processors_count_only_when_kubernetes_is_a_target() {
        let compose_only = DKP.replace("targets: [compose, kubernetes]", "targets: [compose]");
        assert!(!kinds_in_use(&plan(&compose_only, TopologyId::D)).contains(&ComponentKind::K8sAttributesProcessor));
        assert!(kinds_in_use(&plan(DKP, TopologyId::D)).contains(&ComponentKind::K8sAttributesProcessor));
    }
}
