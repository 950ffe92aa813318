//! Plan stage, for comparing topologies: figures computed from a plan's data-flow graph —
//! single points of failure (post-dominators of each source towards the stores), hops,
//! workloads, components with their upstream stability, ports, secrets and resources.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::dominators;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::analysis::facts::{Facts, Resources};
use crate::model::keywords::Signal;
use crate::plan::collector::{ComponentKind, HEALTH_PORT};
use crate::plan::distribution::{ComponentClass, Stability};
use crate::plan::edge::{PlanEdge, Protocol};
use crate::plan::node::{NodeKind, PlanNode};
use crate::plan::workload::{total, Replicas};
use crate::plan::{ApmAuth, EsAuth, Plan};
use crate::topology::BackendKind;

/// The plan graph.
type Graph = DiGraph<PlanNode, PlanEdge>;

/// How one signal flows: the nodes it cannot do without, and its longest path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SignalFigures {
    /// Single-replica nodes that every path from some source to its store passes through,
    /// in flow order (stores included, sources not).
    pub(crate) spofs: Vec<String>,
    /// Nodes every path from some source passes through that run several replicas: a
    /// capacity risk (the others must carry the load when one fails), not a single point of
    /// failure. Name and replicas.
    pub(crate) capacity_risks: Vec<(String, u32)>,
    /// The most edges from a source to its store (0 when nothing carries the signal).
    pub(crate) hops: usize,
    /// The most single points of failure on the way of one Django service's telemetry.
    pub(crate) app_spofs: usize,
    /// Whether some Django service sends straight to a single-replica backend, with no
    /// collector to buffer for it.
    pub(crate) apps_unbuffered: bool,
}

/// A collector component as a topology uses it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ComponentUse {
    /// Its class.
    pub(crate) class: ComponentClass,
    /// Its type as written for the stack's collector version.
    pub(crate) type_name: String,
    /// The weakest stability over the signals it carries here (`None`: not in the table).
    pub(crate) stability: Option<Stability>,
    /// Whether the name written is one the pinned collector deprecates.
    pub(crate) deprecated: bool,
}

/// Everything `compare` shows about one topology for one stack, and the scores read.
#[derive(Debug, Clone)]
pub(crate) struct Figures {
    /// Workloads to run: collector roles, plus backends otelplan deploys or the stack lacks.
    pub(crate) workloads: usize,
    /// Per signal.
    pub(crate) flows: BTreeMap<Signal, SignalFigures>,
    /// Backends of the topology.
    pub(crate) backends: Vec<BackendKind>,
    /// Nodes that write to a backend, other than backends themselves.
    pub(crate) backend_writers: Vec<String>,
    /// Whether some Django service writes straight to a backend.
    pub(crate) apps_write_backends: bool,
    /// Stores that receive at least one signal.
    pub(crate) stores: Vec<String>,
    /// Collector components, sorted by class and type.
    pub(crate) components: Vec<ComponentUse>,
    /// Collectors that compute the aggregated metrics of Kibana's APM UI (EDOT's `elasticapm`
    /// connector).
    pub(crate) apm_aggregating_collectors: Vec<String>,
    /// Ports the telemetry system listens on.
    pub(crate) ports: Vec<u16>,
    /// Environment variables holding secrets.
    pub(crate) secrets: Vec<String>,
    /// Secrets that Django services hold.
    pub(crate) app_secrets: Vec<String>,
    /// Requests of every workload counted, replicas included.
    pub(crate) resources: Resources,
    /// Whether the collectors' queues are on disk (a restart or a crash keeps what they hold).
    pub(crate) durable_queues: bool,
    /// Workloads whose configs use Elasticsearch's `elastic` superuser to write telemetry.
    pub(crate) superuser_writers: Vec<String>,
    /// Scaled workloads that compose runs as a single replica (when compose is a target).
    pub(crate) single_under_compose: Vec<String>,
    /// The gateway's capacity, when the topology has one.
    pub(crate) capacity: Option<Capacity>,
}

/// What the gateway carries (`data/capacity.yaml`) and, for a declared load, what it takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Capacity {
    /// Items per second one replica carries at the declared peak, by signal.
    pub(crate) per_replica: BTreeMap<Signal, u64>,
    /// With a declared load: the autoscaler's minimum and maximum.
    pub(crate) replicas: Option<(u32, u32)>,
    /// With a declared load: memory per replica, MiB.
    pub(crate) memory_mib: Option<u32>,
    /// With a declared load and persistent queues: the volume per replica, GiB.
    pub(crate) volume_gib: Option<u32>,
    /// With a declared load and persistent queues: disk the backlog takes per outage hour.
    pub(crate) backlog_bytes_per_hour: Option<u64>,
}

fn capacity(plan: &Plan) -> anyhow::Result<Option<Capacity>> {
    use crate::plan::capacity::{self, Table};
    let Some(gateway) = plan.roles.iter().find(|r| r.role == crate::plan::node::RoleKind::Gateway) else {
        return Ok(None);
    };
    let table = Table::get()?;
    let persistent = gateway.exporters.iter().all(|e| e.delivery.persistent);
    let letter = plan.topology.id.letter();
    let cpu = gateway.spec()?.cpu_millicores;
    Ok(Some(Capacity {
        per_replica: capacity::replica_rates(table, letter, persistent, cpu),
        replicas: plan.sizing.as_ref().map(|_| (gateway.replicas, crate::plan::sizing::max_replicas(gateway.replicas))),
        memory_mib: plan.sizing.as_ref().map(|_| gateway.memory_limit_mib),
        volume_gib: plan.sizing.as_ref().and(gateway.storage_gib).filter(|_| persistent),
        backlog_bytes_per_hour: plan
            .load
            .as_ref()
            .filter(|_| persistent)
            .map(|load| capacity::backlog_per_hour(table, letter, load)),
    }))
}

/// Compute the figures of `plan`; `needs` lists the backends the stack lacks (stand-ins).
pub(crate) fn figures(plan: &Plan, needs: &[BackendKind], facts: &Facts) -> anyhow::Result<Figures> {
    let g = &plan.graph;
    let mut flows = BTreeMap::new();
    for signal in Signal::ALL {
        flows.insert(signal, signal_figures(g, signal)?);
    }
    let backends: Vec<BackendKind> = g
        .node_weights()
        .filter_map(|n| match &n.kind {
            NodeKind::Backend { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    let (writers, apps_write) = backend_writers(g);
    let (secrets, app_secrets) = secrets(plan);
    // An exporter whose sender waits for the result (the ingest tier behind a Kafka buffer) holds
    // nothing that Kafka does not still keep.
    let durable_queues =
        plan.roles.iter().flat_map(|r| &r.exporters).all(|e| e.delivery.persistent || e.delivery.wait_for_result);
    let single_under_compose = if plan.targets.contains(&crate::model::keywords::Target::Compose) {
        plan.workloads
            .iter()
            .filter(|w| matches!(w.replicas, crate::plan::workload::Replicas::Scaled { .. }))
            .map(|w| w.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    Ok(Figures {
        workloads: plan.workloads.iter().filter(|w| w.replicas != Replicas::OneShot).count() + needs.len(),
        flows,
        backends,
        backend_writers: writers,
        apps_write_backends: apps_write,
        stores: stores_in_use(g),
        components: components(plan),
        apm_aggregating_collectors: plan
            .roles
            .iter()
            .filter(|r| {
                r.connectors.iter().any(|c| c.id.kind == crate::plan::collector::ComponentKind::ElasticApmConnector)
            })
            .map(|r| r.name.clone())
            .collect(),
        ports: ports(plan),
        secrets,
        app_secrets,
        resources: resources(plan, needs, facts)?,
        durable_queues,
        superuser_writers: superuser_writers(plan),
        single_under_compose,
        capacity: capacity(plan)?,
    })
}

fn is_source(node: &PlanNode) -> bool {
    matches!(node.kind, NodeKind::App | NodeKind::Datastore { .. })
}

fn is_store(node: &PlanNode) -> bool {
    matches!(node.kind, NodeKind::Backend { store: true, .. })
}

/// Whether an edge carries the stack's `signal` (a collector's own metrics are not the stack's
/// telemetry: they may run against the flow and say nothing of its hops or failure points).
fn carries_flow(e: PlanEdge, signal: Signal) -> bool {
    e.signal == signal && !e.own
}

fn carries(g: &Graph, n: NodeIndex, dir: Direction, signal: Signal) -> bool {
    g.edges_directed(n, dir).any(|e| carries_flow(*e.weight(), signal))
}

/// The sources of `signal`: Django services and datastores that send it.
fn sources(g: &Graph, signal: Signal) -> Vec<NodeIndex> {
    g.node_indices().filter(|n| is_source(&g[*n]) && carries(g, *n, Direction::Outgoing, signal)).collect()
}

/// For each source of `signal`, the nodes every one of its paths to a store passes through,
/// in flow order (the source itself left out, the store included). Computed as dominators of
/// the reversed signal graph from a virtual root that points at every store; a source that
/// reaches no store gets an empty list.
pub(crate) fn must_pass(g: &Graph, signal: Signal) -> BTreeMap<NodeIndex, Vec<NodeIndex>> {
    let mut reversed: DiGraph<(), ()> = DiGraph::with_capacity(g.node_count() + 1, g.edge_count());
    for _ in g.node_indices() {
        reversed.add_node(());
    }
    let root = reversed.add_node(());
    // One reversed edge per pair of nodes, in edge order; a set finds repeats (`update_edge`
    // would search the edges of a node with thousands of senders for each of them).
    let mut pairs: BTreeSet<(NodeIndex, NodeIndex)> = BTreeSet::new();
    for e in g.edge_references().filter(|e| carries_flow(*e.weight(), signal)) {
        if pairs.insert((e.target(), e.source())) {
            reversed.add_edge(e.target(), e.source(), ());
        }
    }
    for n in g.node_indices().filter(|n| is_store(&g[*n]) && carries(g, *n, Direction::Incoming, signal)) {
        reversed.update_edge(root, n, ());
    }
    let doms = dominators::simple_fast(&reversed, root);
    let mut out = BTreeMap::new();
    for source in sources(g, signal) {
        let mut chain = Vec::new();
        let mut current = source;
        while let Some(d) = doms.immediate_dominator(current) {
            if d == root {
                break;
            }
            chain.push(d);
            current = d;
        }
        out.insert(source, chain);
    }
    out
}

/// The longest distance (in edges) from a source to every node that `signal` reaches, by node
/// index (`None`: the signal does not touch the node), or an error when the signal's edges
/// form a cycle (a bug in the planner).
pub(crate) fn depths(g: &Graph, signal: Signal) -> anyhow::Result<Vec<Option<usize>>> {
    let mut indegree: Vec<Option<usize>> = vec![None; g.node_count()];
    for e in g.edge_references().filter(|e| carries_flow(*e.weight(), signal)) {
        if let Some(d) = indegree.get_mut(e.target().index()) {
            *d.get_or_insert(0) += 1;
        }
        if let Some(d) = indegree.get_mut(e.source().index()) {
            d.get_or_insert(0);
        }
    }
    let mut depth: Vec<Option<usize>> = indegree.iter().map(|d| (*d == Some(0)).then_some(0)).collect();
    let mut ready: Vec<NodeIndex> =
        indegree.iter().enumerate().filter(|(_, d)| **d == Some(0)).map(|(i, _)| NodeIndex::new(i)).collect();
    let mut seen = 0;
    while let Some(n) = ready.pop() {
        seen += 1;
        let here = depth.get(n.index()).copied().flatten().unwrap_or(0);
        for e in g.edges_directed(n, Direction::Outgoing).filter(|e| carries_flow(*e.weight(), signal)) {
            let t = e.target().index();
            if let Some(d) = depth.get_mut(t) {
                let d = d.get_or_insert(0);
                *d = (*d).max(here + 1);
            }
            if let Some(Some(left)) = indegree.get_mut(t) {
                *left -= 1;
                if *left == 0 {
                    ready.push(e.target());
                }
            }
        }
    }
    let touched = indegree.iter().flatten().count();
    anyhow::ensure!(seen == touched, "the {} edges form a cycle (this is a bug in otelplan)", signal.as_str());
    Ok(depth)
}

/// The most edges from a source to a store, from `depths`.
fn deepest_store(g: &Graph, depth: &[Option<usize>]) -> usize {
    depth.iter().enumerate().filter_map(|(i, d)| d.filter(|_| is_store(&g[NodeIndex::new(i)]))).max().unwrap_or(0)
}

/// The most edges from a source of `signal` to a store.
#[cfg(test)]
pub(crate) fn hops(g: &Graph, signal: Signal) -> anyhow::Result<usize> {
    Ok(deepest_store(g, &depths(g, signal)?))
}

/// Single points of failure, capacity risks and hops of `signal`.
pub(crate) fn signal_figures(g: &Graph, signal: Signal) -> anyhow::Result<SignalFigures> {
    let depth = depths(g, signal)?;
    let chains = must_pass(g, signal);
    let mut on_every_path: BTreeSet<NodeIndex> = BTreeSet::new();
    let mut app_spofs = 0;
    let mut apps_unbuffered = false;
    for (source, chain) in &chains {
        on_every_path.extend(chain.iter().copied());
        if g[*source].kind == NodeKind::App {
            app_spofs = app_spofs.max(chain.iter().filter(|n| g[**n].replicas <= 1).count());
            let first: BTreeSet<NodeIndex> = g
                .edges_directed(*source, Direction::Outgoing)
                .filter(|e| carries_flow(*e.weight(), signal))
                .map(|e| e.target())
                .collect();
            apps_unbuffered |= first.len() == 1
                && first.iter().all(|n| g[*n].replicas <= 1 && matches!(g[*n].kind, NodeKind::Backend { .. }));
        }
    }
    let depth_of = |n: &NodeIndex| depth.get(n.index()).copied().flatten();
    let mut ordered: Vec<NodeIndex> = on_every_path.into_iter().collect();
    ordered.sort_by(|a, b| (depth_of(a), &g[*a].name).cmp(&(depth_of(b), &g[*b].name)));
    let spofs = ordered.iter().filter(|n| g[**n].replicas <= 1).map(|n| g[*n].name.clone()).collect();
    let capacity_risks =
        ordered.iter().filter(|n| g[**n].replicas > 1).map(|n| (g[*n].name.clone(), g[*n].replicas)).collect();
    Ok(SignalFigures { spofs, capacity_risks, hops: deepest_store(g, &depth), app_spofs, apps_unbuffered })
}

/// Nodes (not backends) with an edge into a backend, and whether a Django service is one.
fn backend_writers(g: &Graph) -> (Vec<String>, bool) {
    let mut writers = BTreeSet::new();
    let mut apps = false;
    for e in g.edge_references() {
        let (from, to) = (&g[e.source()], &g[e.target()]);
        if matches!(to.kind, NodeKind::Backend { .. }) && !matches!(from.kind, NodeKind::Backend { .. }) {
            writers.insert(from.name.clone());
            apps |= from.kind == NodeKind::App;
        }
    }
    (writers.into_iter().collect(), apps)
}

/// Stores that receive some signal, sorted by name.
fn stores_in_use(g: &Graph) -> Vec<String> {
    let names: BTreeSet<String> = g
        .node_indices()
        .filter(|n| is_store(&g[*n]) && g.edges_directed(*n, Direction::Incoming).next().is_some())
        .map(|n| g[n].name.clone())
        .collect();
    names.into_iter().collect()
}

/// Every component kind the plan's collectors use, with the signals it carries (extensions:
/// none).
fn component_signals(plan: &Plan) -> BTreeMap<ComponentKind, BTreeSet<Signal>> {
    let mut out: BTreeMap<ComponentKind, BTreeSet<Signal>> = BTreeMap::new();
    for role in &plan.roles {
        out.entry(ComponentKind::HealthCheckExtension).or_default();
        if role.file_storage {
            out.entry(ComponentKind::FileStorageExtension).or_default();
        }
        for p in &role.pipelines {
            for id in p.receivers.iter().chain(&p.processors).chain(&p.exporters) {
                out.entry(id.kind).or_default().insert(p.signal);
            }
        }
    }
    out
}

/// The collector components of the plan, with stability from the distribution's table, and
/// whether the name written is one the release otelplan is tested against deprecates.
fn components(plan: &Plan) -> Vec<ComponentUse> {
    let d = plan.distribution;
    let mut out: BTreeSet<ComponentUse> = BTreeSet::new();
    for (kind, signals) in component_signals(plan) {
        let Some(c) = d.component(kind) else { continue };
        let name = c.type_name(plan.collector_version);
        let stability = if c.class == ComponentClass::Extension {
            c.stability.get("extension").copied()
        } else {
            signals.iter().filter_map(|s| c.stability.get(s.as_str()).copied()).min()
        };
        let deprecated = d.by_name(c.class, name, d.default_version).is_some_and(|(_, deprecated)| deprecated);
        out.insert(ComponentUse { class: c.class, type_name: name.to_string(), stability, deprecated });
    }
    out.into_iter().collect()
}

/// Ports the telemetry system listens on: where OTLP and bulk writes arrive (collectors and
/// backends), and every collector's health check. Datastore ports the scraper connects to are
/// the datastores' own, not counted.
fn ports(plan: &Plan) -> Vec<u16> {
    let g = &plan.graph;
    let mut out = BTreeSet::new();
    for e in g.edge_references() {
        let pushed = matches!(e.weight().protocol, Protocol::OtlpGrpc | Protocol::OtlpHttp)
            || (e.weight().protocol == Protocol::ElasticsearchHttp
                && matches!(g[e.source()].kind, NodeKind::Collector { .. } | NodeKind::Backend { .. }));
        if let (true, Some(port)) = (pushed, e.weight().port) {
            out.insert(port);
        }
    }
    if !plan.roles.is_empty() {
        out.insert(HEALTH_PORT);
    }
    out.into_iter().collect()
}

/// Every secret the topology reads (collectors, APM Server, apps), and those the apps hold.
fn secrets(plan: &Plan) -> (Vec<String>, Vec<String>) {
    let mut all = BTreeSet::new();
    let mut apps = BTreeSet::new();
    for role in &plan.roles {
        all.extend(role.secrets.iter().map(|s| s.name().to_string()));
    }
    for app in &plan.apps {
        if let Some((_, env)) = &app.auth {
            apps.insert(env.name().to_string());
        }
    }
    if let Some(apm) = &plan.apm_server {
        if let ApmAuth::SecretToken(e) | ApmAuth::ApiKey(e) = &apm.auth {
            all.insert(e.name().to_string());
        }
        if let EsAuth::Basic { password: e, .. } | EsAuth::ApiKey(e) = &apm.elasticsearch_auth {
            all.insert(e.name().to_string());
        }
    }
    all.extend(apps.iter().cloned());
    (all.into_iter().collect(), apps.into_iter().collect())
}

/// Workloads that write telemetry to Elasticsearch as its `elastic` superuser.
fn superuser_writers(plan: &Plan) -> Vec<String> {
    let superuser = |auth: &EsAuth| matches!(auth, EsAuth::Basic { user, .. } if user == "elastic");
    let mut out: Vec<String> = plan
        .roles
        .iter()
        .filter(|r| {
            r.exporters.iter().any(|e| {
                matches!(&e.spec, crate::plan::collector::ExporterSpec::Elasticsearch { auth, .. } if superuser(auth))
            })
        })
        .map(|r| r.name.clone())
        .collect();
    if let Some(apm) = &plan.apm_server {
        if superuser(&apm.elasticsearch_auth) {
            out.push(apm.addr.host.clone());
        }
    }
    out
}

/// Requests of every workload the plan runs, a scaled one's minimum replicas counted, plus
/// those of the backends the stack lacks as a sandbox would request them: the numbers the
/// manifests request.
fn resources(plan: &Plan, needs: &[BackendKind], facts: &Facts) -> anyhow::Result<Resources> {
    let (mut cpu, mut memory) = total(&plan.workloads);
    for kind in needs {
        let r = facts.backend(*kind)?.resources;
        cpu += r.cpu_millicores;
        memory += r.memory_request_mib;
    }
    Ok(Resources { cpu_millicores: cpu, memory_mib: memory })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::ServiceKind;
    use crate::plan::node::{NodeId, RoleKind};

    fn node(g: &mut Graph, name: &str, kind: NodeKind, replicas: u32) -> NodeIndex {
        g.add_node(PlanNode { id: NodeId(name.to_string()), name: name.to_string(), kind, replicas })
    }

    fn edge(g: &mut Graph, a: NodeIndex, b: NodeIndex, signal: Signal) {
        g.add_edge(a, b, PlanEdge { signal, protocol: Protocol::OtlpGrpc, port: Some(4317), own: false });
    }

    fn store(kind: BackendKind) -> NodeKind {
        NodeKind::Backend { kind, deployed: true, store: true }
    }

    fn collector(role: RoleKind) -> NodeKind {
        NodeKind::Collector { role }
    }

    /// web → gateway(2) → apm → es, db → scraper → gateway.
    fn topology_a(gateway_replicas: u32) -> Graph {
        let mut g = Graph::new();
        let web = node(&mut g, "web", NodeKind::App, 3);
        let db = node(&mut g, "db", NodeKind::Datastore { kind: ServiceKind::Postgres }, 1);
        let scraper = node(&mut g, "scraper", collector(RoleKind::Scraper), 1);
        let gw = node(&mut g, "gateway", collector(RoleKind::Gateway), gateway_replicas);
        let apm =
            node(&mut g, "apm", NodeKind::Backend { kind: BackendKind::ApmServer, deployed: true, store: false }, 1);
        let es = node(&mut g, "es", store(BackendKind::Elasticsearch), 1);
        edge(&mut g, web, gw, Signal::Traces);
        edge(&mut g, db, scraper, Signal::Metrics);
        edge(&mut g, scraper, gw, Signal::Metrics);
        edge(&mut g, web, gw, Signal::Metrics);
        for s in [Signal::Traces, Signal::Metrics] {
            edge(&mut g, gw, apm, s);
            edge(&mut g, apm, es, s);
        }
        g
    }

    #[test]
    fn a_replicated_dominator_is_a_capacity_risk_not_a_spof() {
        let g = topology_a(2);
        let traces = signal_figures(&g, Signal::Traces).unwrap();
        assert_eq!(traces.spofs, vec!["apm", "es"]);
        assert_eq!(traces.capacity_risks, vec![("gateway".to_string(), 2)]);
        assert_eq!(traces.app_spofs, 2);
        assert!(!traces.apps_unbuffered);
        let metrics = signal_figures(&g, Signal::Metrics).unwrap();
        assert_eq!(metrics.spofs, vec!["scraper", "apm", "es"]);
        assert_eq!(metrics.hops, 4, "db → scraper → gateway → apm → es");
        assert_eq!(traces.hops, 3);
    }

    #[test]
    fn a_single_gateway_is_a_spof() {
        let g = topology_a(1);
        let traces = signal_figures(&g, Signal::Traces).unwrap();
        assert_eq!(traces.spofs, vec!["gateway", "apm", "es"]);
        assert!(traces.capacity_risks.is_empty());
        assert!(!traces.apps_unbuffered, "the gateway still buffers");
    }

    #[test]
    fn two_ways_to_the_store_leave_no_spof_between() {
        // web → {gw1, gw2} → es: neither gateway is on every path; only the store is.
        let mut g = Graph::new();
        let web = node(&mut g, "web", NodeKind::App, 1);
        let gw1 = node(&mut g, "gw1", collector(RoleKind::Gateway), 1);
        let gw2 = node(&mut g, "gw2", collector(RoleKind::NodeAgent), 1);
        let es = node(&mut g, "es", store(BackendKind::Elasticsearch), 1);
        edge(&mut g, web, gw1, Signal::Logs);
        edge(&mut g, web, gw2, Signal::Logs);
        edge(&mut g, gw1, es, Signal::Logs);
        edge(&mut g, gw2, es, Signal::Logs);
        let logs = signal_figures(&g, Signal::Logs).unwrap();
        assert_eq!(logs.spofs, vec!["es"]);
        assert_eq!(logs.hops, 2);
        assert!(!logs.apps_unbuffered, "two first hops");

        // web → es directly: nothing buffers.
        let mut g = Graph::new();
        let web = node(&mut g, "web", NodeKind::App, 1);
        let es = node(&mut g, "es", store(BackendKind::Elasticsearch), 1);
        edge(&mut g, web, es, Signal::Logs);
        assert!(signal_figures(&g, Signal::Logs).unwrap().apps_unbuffered);
        let chains = must_pass(&g, Signal::Logs);
        assert_eq!(chains.get(&web), Some(&vec![es]));
    }

    #[test]
    fn dominators_are_per_source() {
        // db1 → agent1 → gw → es and db2 → agent2 → gw → es: each agent is a SPOF of its own
        // source, the gateway and store of both.
        let mut g = Graph::new();
        let ds = NodeKind::Datastore { kind: ServiceKind::Postgres };
        let db1 = node(&mut g, "db1", ds.clone(), 1);
        let db2 = node(&mut g, "db2", ds, 1);
        let a1 = node(&mut g, "agent-db1", collector(RoleKind::FileAgent("db1".into())), 1);
        let a2 = node(&mut g, "agent-db2", collector(RoleKind::FileAgent("db2".into())), 1);
        let gw = node(&mut g, "gw", collector(RoleKind::Gateway), 3);
        let es = node(&mut g, "es", store(BackendKind::Elasticsearch), 1);
        for (d, a) in [(db1, a1), (db2, a2)] {
            edge(&mut g, d, a, Signal::Logs);
            edge(&mut g, a, gw, Signal::Logs);
        }
        edge(&mut g, gw, es, Signal::Logs);
        let chains = must_pass(&g, Signal::Logs);
        assert_eq!(chains.get(&db1), Some(&vec![a1, gw, es]));
        assert_eq!(chains.get(&db2), Some(&vec![a2, gw, es]));
        let logs = signal_figures(&g, Signal::Logs).unwrap();
        assert_eq!(logs.spofs, vec!["agent-db1", "agent-db2", "es"]);
        assert_eq!(logs.capacity_risks, vec![("gw".to_string(), 3)]);
        assert_eq!(logs.app_spofs, 0, "no Django service sends logs");
    }

    #[test]
    fn a_signal_nobody_sends_has_no_figures() {
        let g = topology_a(2);
        assert_eq!(signal_figures(&g, Signal::Logs).unwrap(), SignalFigures::default());
    }

    #[test]
    fn a_source_that_reaches_no_store_has_no_dominators() {
        let mut g = Graph::new();
        let web = node(&mut g, "web", NodeKind::App, 1);
        let gw = node(&mut g, "gw", collector(RoleKind::Gateway), 1);
        edge(&mut g, web, gw, Signal::Traces);
        assert_eq!(must_pass(&g, Signal::Traces).get(&web), Some(&Vec::new()));
        assert_eq!(hops(&g, Signal::Traces).unwrap(), 0);
    }

    #[test]
    fn a_cycle_is_reported_as_a_bug() {
        let mut g = Graph::new();
        let a = node(&mut g, "a", collector(RoleKind::Gateway), 1);
        let b = node(&mut g, "b", collector(RoleKind::Scraper), 1);
        edge(&mut g, a, b, Signal::Traces);
        edge(&mut g, b, a, Signal::Traces);
        assert!(hops(&g, Signal::Traces).unwrap_err().to_string().contains("bug"));
    }

    #[test]
    fn hops_count_the_longest_way() {
        // web → gw → es and web → es: the longest way has 2 edges.
        let mut g = Graph::new();
        let web = node(&mut g, "web", NodeKind::App, 1);
        let gw = node(&mut g, "gw", collector(RoleKind::Gateway), 2);
        let es = node(&mut g, "es", store(BackendKind::Elasticsearch), 1);
        edge(&mut g, web, gw, Signal::Traces);
        edge(&mut g, gw, es, Signal::Traces);
        edge(&mut g, web, es, Signal::Traces);
        assert_eq!(hops(&g, Signal::Traces).unwrap(), 2);
        assert_eq!(signal_figures(&g, Signal::Traces).unwrap().spofs, vec!["es"]);
    }
}
