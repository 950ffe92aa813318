//! Emit stage, diagrams: the plan graph as a drawing — a box per node, similar services grouped
//! when a stack has many, an arrow per signal between two boxes with its protocol and ports.
//! `layout.rs` places it.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::emit::layout::{Category, DiagramEdge, DiagramNode, Drawing};
use crate::model::keywords::{ServiceKind, Signal};
use crate::plan::edge::Protocol;
use crate::plan::node::{NodeKind, RoleKind};
use crate::plan::Plan;
use crate::topology::BackendKind;

/// Above this many services of one kind (or Django services), similar ones share a box.
pub(crate) const GROUP_ABOVE: usize = 5;

fn kind_title(kind: ServiceKind) -> (&'static str, &'static str) {
    match kind {
        ServiceKind::Django => ("Django service", "Django services"),
        ServiceKind::Postgres => ("PostgreSQL", "PostgreSQL servers"),
        ServiceKind::Redis => ("Redis", "Redis servers"),
        ServiceKind::Elasticsearch => ("Elasticsearch", "Elasticsearch clusters"),
        ServiceKind::Kafka => ("Kafka", "Kafka clusters"),
    }
}

fn backend_title(kind: BackendKind) -> &'static str {
    crate::plan::backend_spec::Catalog::get().map_or("backend", |c| c.backend(kind).title.as_str())
}

fn replicas(n: u32) -> String {
    if n == 1 {
        "1 replica".to_string()
    } else {
        format!("{n} replicas")
    }
}

/// The key a plan node is grouped under; equal keys share a box.
fn group_keys(plan: &Plan) -> BTreeMap<NodeIndex, String> {
    let g = &plan.graph;
    let apps = g.node_weights().filter(|n| n.kind == NodeKind::App).count();
    let mut per_kind: BTreeMap<ServiceKind, usize> = BTreeMap::new();
    for n in g.node_weights() {
        if let NodeKind::Datastore { kind } = n.kind {
            *per_kind.entry(kind).or_default() += 1;
        }
    }
    let signature = |n: NodeIndex| -> String {
        let mut parts: Vec<String> = g
            .edges_directed(n, Direction::Outgoing)
            .map(|e| {
                let target = match &g[e.target()].kind {
                    NodeKind::Collector { role: RoleKind::FileAgent(_) } => "file-agent".to_string(),
                    _ => g[e.target()].id.0.clone(),
                };
                format!("{}>{}>{}", e.weight().signal.as_str(), target, e.weight().protocol)
            })
            .collect();
        parts.sort();
        parts.join(",")
    };
    let mut keys = BTreeMap::new();
    for n in g.node_indices() {
        let node = &g[n];
        let key = match &node.kind {
            NodeKind::App if apps > GROUP_ABOVE => format!("1/apps/{}", signature(n)),
            NodeKind::App => format!("1/app/{}", node.name),
            NodeKind::Datastore { kind } if per_kind.get(kind).copied().unwrap_or(0) > GROUP_ABOVE => {
                format!("2/{}/group/{}", kind.as_str(), signature(n))
            }
            NodeKind::Datastore { kind } => format!("2/{}/{}", kind.as_str(), node.name),
            NodeKind::Collector { role } => {
                let order = match role {
                    RoleKind::Gateway => 0,
                    RoleKind::Sampler => 1,
                    RoleKind::Scraper => 2,
                    RoleKind::FileAgent(_) => 3,
                    RoleKind::NodeAgent => 4,
                    RoleKind::Ingest => 5,
                };
                format!("3/{order}/{}", node.name)
            }
            NodeKind::Buffer { .. } => format!("3/5/{}", node.name),
            NodeKind::Backend { kind, store, .. } => {
                let order = BackendKind::ALL.iter().position(|k| k == kind).unwrap_or(0);
                format!("4/{}/{order}/{}", u8::from(*store), node.name)
            }
        };
        keys.insert(n, key);
    }
    // A file agent joins its datastore's group.
    for n in g.node_indices() {
        if let NodeKind::Collector { role: RoleKind::FileAgent(_) } = &g[n].kind {
            let source = g.edges_directed(n, Direction::Incoming).map(|e| e.source()).next();
            if let Some(ds_key) = source.and_then(|s| keys.get(&s)).filter(|k| k.contains("/group/")).cloned() {
                keys.insert(n, format!("3/3/agents/{ds_key}"));
            }
        }
    }
    keys
}

/// The box for the plan nodes `members` (one, or a group).
fn diagram_node(plan: &Plan, key: &str, members: &[NodeIndex], needs: &[BackendKind]) -> Option<DiagramNode> {
    let g = &plan.graph;
    let first = &g[*members.first()?];
    let mut names: Vec<&str> = members.iter().map(|m| g[*m].name.as_str()).collect();
    names.sort_unstable();
    let span = match names.as_slice() {
        [a, b, _, _, ..] => format!("{a}, {b}, …, {}", names.last().copied().unwrap_or_default()),
        few => few.join(", "),
    };
    let count = members.len();
    let total_replicas: u32 = members.iter().map(|m| g[*m].replicas).sum();
    let (category, title, subtitle, missing) = match &first.kind {
        NodeKind::App if count > 1 => {
            (Category::App, format!("{count} Django services"), format!("{span} · {}", replicas(total_replicas)), false)
        }
        NodeKind::App => (Category::App, first.name.clone(), format!("Django · {}", replicas(first.replicas)), false),
        NodeKind::Datastore { kind } if count > 1 => {
            (Category::Datastore, format!("{count} {}", kind_title(*kind).1), span.clone(), false)
        }
        NodeKind::Datastore { kind } => {
            (Category::Datastore, first.name.clone(), kind_title(*kind).0.to_string(), false)
        }
        NodeKind::Collector { role: RoleKind::FileAgent(_) } if count > 1 => {
            (Category::Collector, format!("{count} file log agents"), format!("{span} · 1 replica each"), false)
        }
        NodeKind::Collector { role } => {
            let what = crate::plan::role_spec::role(role.spec_key()).map_or("collector", |r| r.title.as_str());
            (Category::Collector, first.name.clone(), format!("{what} · {}", replicas(first.replicas)), false)
        }
        NodeKind::Buffer { deployed } => {
            let how = if *deployed { "single node" } else { "existing" };
            (Category::Buffer, first.name.clone(), format!("Kafka buffer · {how}"), false)
        }
        NodeKind::Backend { kind, store, deployed } => {
            let missing = needs.contains(kind);
            let role = if *store { "store" } else { "intake" };
            let how = if missing {
                "not in the stack".to_string()
            } else if *deployed {
                replicas(first.replicas)
            } else {
                "existing".to_string()
            };
            let category = if *store { Category::Store } else { Category::Intake };
            (category, first.name.clone(), format!("{} {role} · {how}", backend_title(*kind)), missing)
        }
    };
    let tooltip = if count > 1 { format!("{title}: {}", names.join(", ")) } else { format!("{title}: {subtitle}") };
    Some(DiagramNode { key: key.to_string(), category, title, subtitle, tooltip, missing, members: count })
}

/// The plan graph as boxes and arrows, with similar services grouped; `needs` lists backends
/// the stack lacks (their stand-ins are drawn dashed).
pub(crate) fn drawing(plan: &Plan, needs: &[BackendKind]) -> Drawing {
    let g = &plan.graph;
    let keys = group_keys(plan);
    let mut members: BTreeMap<&str, Vec<NodeIndex>> = BTreeMap::new();
    for (n, k) in &keys {
        members.entry(k.as_str()).or_default().push(*n);
    }
    let mut nodes = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, m) in &members {
        if let Some(node) = diagram_node(plan, key, m, needs) {
            index.insert(key, nodes.len());
            nodes.push(node);
        }
    }
    let mut merged: BTreeMap<(usize, usize, Signal, Protocol, bool), BTreeSet<u16>> = BTreeMap::new();
    for e in g.edge_references() {
        let from = keys.get(&e.source()).and_then(|k| index.get(k.as_str()));
        let to = keys.get(&e.target()).and_then(|k| index.get(k.as_str()));
        if let (Some(from), Some(to)) = (from, to) {
            let w = e.weight();
            let ports = merged.entry((*from, *to, w.signal, w.protocol, w.own)).or_default();
            ports.extend(e.weight().port);
        }
    }
    let edges = merged
        .into_iter()
        .map(|((from, to, signal, protocol, own), ports)| {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            let port = match ports.as_slice() {
                [] => String::new(),
                [one] => format!(", port {one}"),
                many => format!(", ports {}", many.join(", ")),
            };
            let tooltip =
                format!("{} → {}: {} over {protocol}{port}", nodes[from].title, nodes[to].title, signal.as_str());
            DiagramEdge { from, to, signal, tooltip, own }
        })
        .collect();
    Drawing { nodes, edges }
}
