//! Plan stage: who may connect to a deployed store that has no authentication of its own
//! (Jaeger, Prometheus, Loki): the workloads that write to it, from the data-flow edges, on its
//! write ports, and Grafana on its read ports. The Kubernetes emitter writes a `NetworkPolicy`
//! per store; anything else is refused once a policy selects the store's pods.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::plan::address::Namespaces;
use crate::plan::backend_spec::Catalog;
use crate::plan::deploy::DeployedBackend;
use crate::plan::draft::{backend_id, Draft};
use crate::plan::node::{NodeKind, PlanNode, RoleKind};

/// Pods that may connect: those of one otelplan workload, or a whole namespace (where the
/// senders are the team's own pods, whose labels otelplan does not know).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Peer {
    /// Their namespace.
    pub(crate) namespace: String,
    /// The workload (`app.kubernetes.io/name`), or every pod of the namespace.
    pub(crate) workload: Option<String>,
}

/// Who may connect to which ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IngressRule {
    /// Why (for the manifest's comment).
    pub(crate) what: String,
    /// The pods.
    pub(crate) peers: Vec<Peer>,
    /// The ports.
    pub(crate) ports: Vec<u16>,
}

/// The ingress a deployed store admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StoreIngress {
    /// The store's workload name.
    pub(crate) store: String,
    /// Its product name.
    pub(crate) title: String,
    /// Rules, writers first.
    pub(crate) rules: Vec<IngressRule>,
}

/// The peer of a node that sends to a store: an otelplan workload in its namespace, or the
/// namespace of the team's pods (apps, a datastore's sidecar).
fn sender(ns: &Namespaces, node: &PlanNode) -> Peer {
    match &node.kind {
        NodeKind::Collector { role: RoleKind::FileAgent(_) } | NodeKind::App | NodeKind::Datastore { .. } => {
            Peer { namespace: ns.app.clone(), workload: None }
        }
        NodeKind::Collector { .. } | NodeKind::Backend { .. } | NodeKind::Buffer { .. } => {
            Peer { namespace: ns.observability.clone(), workload: Some(node.name.clone()) }
        }
    }
}

/// The ingress of every deployed store that declares one in `data/backends.yaml`.
pub(crate) fn plan(
    d: &Draft<'_>,
    catalog: &Catalog,
    ns: &Namespaces,
    backends: &[DeployedBackend],
    grafana: Option<&str>,
) -> Vec<StoreIngress> {
    let mut out = Vec::new();
    for b in backends {
        let spec = catalog.backend(b.kind);
        let Some(ingress) = &spec.ingress else { continue };
        let ports = |names: &[String]| -> Vec<u16> {
            let set: BTreeSet<u16> = names.iter().filter_map(|n| spec.port(n)).collect();
            set.into_iter().collect()
        };
        let id = backend_id(b.kind);
        let writers: BTreeSet<Peer> = d
            .edges
            .iter()
            .filter(|(_, to, _)| *to == id)
            .filter_map(|(from, _, _)| d.nodes.get(from))
            .map(|node| sender(ns, node))
            .collect();
        let mut rules = vec![IngressRule {
            what: format!("what writes to {}", spec.title),
            peers: writers.into_iter().collect(),
            ports: ports(&ingress.write),
        }];
        if let Some(g) = grafana {
            rules.push(IngressRule {
                what: "Grafana's queries".to_string(),
                peers: vec![Peer { namespace: ns.observability.clone(), workload: Some(g.to_string()) }],
                ports: ports(&ingress.read),
            });
        }
        rules.retain(|r| !r.peers.is_empty() && !r.ports.is_empty());
        out.push(StoreIngress { store: b.name.clone(), title: spec.title.clone(), rules });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    #[test]
    fn stores_admit_their_writers_and_grafana_only() {
        let plan = plan(DKP, TopologyId::parse("C").unwrap());
        let ingress = &plan.deployment.store_ingress;
        let stores: Vec<&str> = ingress.iter().map(|i| i.store.as_str()).collect();
        assert_eq!(stores, ["jaeger", "prometheus", "loki"]);
        for i in ingress {
            let writers = &i.rules[0];
            assert_eq!(writers.peers.len(), 1, "{}: only the gateway writes in C", i.store);
            assert_eq!(writers.peers[0].workload.as_deref(), Some("dkp-gateway"));
            assert_eq!(writers.peers[0].namespace, "observability");
            let grafana = &i.rules[1];
            assert_eq!(grafana.peers[0].workload.as_deref(), Some("dkp-grafana"));
        }
        assert_eq!(ingress[0].rules[0].ports, [4317, 4318], "Jaeger takes OTLP on both ports");
        assert_eq!(ingress[0].rules[1].ports, [16686], "Grafana queries Jaeger's query port");
    }

    #[test]
    fn elasticsearch_and_apm_server_authenticate_instead() {
        for id in ["A", "D"] {
            let plan = plan(DKP, TopologyId::parse(id).unwrap());
            assert!(plan.deployment.store_ingress.is_empty(), "{id}");
        }
    }
}
