//! Plan stage: the plan under construction, which the passes (`plan/pass/`) fill in turn —
//! the graph's nodes and edges, the collector roles, the apps — and the helpers they share:
//! names, the exporter that reaches each backend, where the sources send.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::endpoint::{Endpoint, Scheme};
use crate::model::keywords::Signal;
use crate::model::names;
use crate::plan::address::{Addr, Scope};
use crate::plan::app::{AppPlan, PodAttributes};
use crate::plan::backend_spec::Catalog;
use crate::plan::collector::{
    CollectorRole, ComponentId, ComponentKind as K, Delivery, EsAuth, Exporter, ExporterSpec, HeaderValue, Pipeline,
    Processor, ProcessorSpec, ReceiverSpec, OTLP_GRPC_PORT, OTLP_HTTP_PORT,
};
use crate::plan::deploy::{k8s_name, Deployment};
use crate::plan::edge::{PlanEdge, Protocol};
use crate::plan::es_setup::{self, EsWriter};
use crate::plan::node::{NodeId, NodeKind, PlanNode, RoleKind};
use crate::plan::workload::Workload;
use crate::plan::{sizing, ApmServerPlan};
use crate::topology::{BackendKind, Destination, Topology};
use crate::validate::ValidStack;

/// What to do with a backend the topology needs but the stack does not describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// It is a bug: the choice has checked every backend.
    Refuse,
    /// Use a stand-in at the backend's usual address.
    StandIn,
}

/// A backend a topology writes to, as the stack describes it.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    /// Where it listens.
    pub(crate) addr: Addr,
    /// Whether otelplan deploys it.
    pub(crate) deployed: bool,
    /// Its image tag, when the stack names one.
    pub(crate) tag: Option<String>,
    /// Headers exporters send it (credentials, tenant).
    pub(crate) headers: Vec<(String, HeaderValue)>,
    /// Elasticsearch credentials.
    pub(crate) auth: EsAuth,
}

/// The plan under construction.
pub(crate) struct Draft<'a> {
    /// The stack.
    pub(crate) valid: &'a ValidStack,
    /// The topology.
    pub(crate) topology: &'a Topology,
    /// The backends the topology uses.
    pub(crate) sinks: BTreeMap<BackendKind, Sink>,
    /// Graph nodes, by id.
    pub(crate) nodes: BTreeMap<NodeId, PlanNode>,
    /// Graph edges.
    pub(crate) edges: BTreeSet<(NodeId, NodeId, PlanEdge)>,
    /// Collector roles, tiers first, then the sources' collectors in the order they were added.
    pub(crate) roles: Vec<CollectorRole>,
    /// How many tier roles lead `roles`.
    pub(crate) tiers: usize,
    /// Django services.
    pub(crate) apps: Vec<AppPlan>,
    /// APM Server, when the topology has it.
    pub(crate) apm_server: Option<ApmServerPlan>,
    /// The deployment side.
    pub(crate) deployment: Option<Deployment>,
    /// Workloads.
    pub(crate) workloads: Vec<Workload>,
    /// What the planner warns about.
    pub(crate) warnings: Vec<crate::diagnostic::Diagnostic>,
    /// The gateway sized for the declared load (pass `capacity`).
    pub(crate) sizing: Option<crate::plan::capacity::GatewaySizing>,
    /// The Kafka buffer (pass `buffer`).
    pub(crate) buffer: Option<crate::plan::buffer::BufferPlan>,
}

pub(crate) fn service_id(name: &str) -> NodeId {
    NodeId(format!("service/{name}"))
}

pub(crate) fn role_id(role: &RoleKind) -> NodeId {
    NodeId(format!("collector/{}", role.short()))
}

pub(crate) fn backend_id(kind: BackendKind) -> NodeId {
    NodeId(format!("backend/{}", kind.key()))
}

fn apm_credential(apm: &crate::model::backend::ApmServerBackend) -> Option<(String, crate::model::env_ref::EnvRef)> {
    match (&apm.secret_token, &apm.api_key) {
        (Some(t), _) => Some(("Bearer".to_string(), t.value.clone())),
        (None, Some(k)) => Some(("ApiKey".to_string(), k.value.clone())),
        _ => None,
    }
}

fn sinks(valid: &ValidStack, topology: &Topology, missing: Missing) -> anyhow::Result<BTreeMap<BackendKind, Sink>> {
    let mut sinks = BTreeMap::new();
    let b = valid.backends();
    for kind in topology.needs() {
        let (common, headers, auth) = match kind {
            BackendKind::Elasticsearch => {
                let es = b.elasticsearch.as_ref();
                // A sandbox's own credentials are its `elastic` superuser's, for the setup job
                // only; whoever writes telemetry gets the user that job creates for it.
                let auth = match es {
                    Some(es) if es.common.deployed() => {
                        es_setup::sandbox_auth(&Catalog::get()?.elasticsearch_setup, EsWriter::of(topology))?
                    }
                    Some(es) => match (&es.api_key, &es.username, &es.password) {
                        (Some(k), _, _) => EsAuth::ApiKey(k.value.clone()),
                        (None, Some(u), Some(p)) => EsAuth::Basic { user: u.value.clone(), password: p.value.clone() },
                        _ => EsAuth::None,
                    },
                    None => EsAuth::None,
                };
                (es.map(|x| &x.common), Vec::new(), auth)
            }
            BackendKind::ApmServer => {
                let apm = b.apm_server.as_ref();
                let headers = apm
                    .and_then(apm_credential)
                    .map(|(scheme, env)| {
                        ("Authorization".to_string(), HeaderValue::Secret { prefix: format!("{scheme} "), env })
                    })
                    .into_iter()
                    .collect();
                (apm.map(|x| &x.common), headers, EsAuth::None)
            }
            BackendKind::Jaeger => (b.jaeger.as_ref().map(|x| &x.common), Vec::new(), EsAuth::None),
            BackendKind::Prometheus => (b.prometheus.as_ref().map(|x| &x.common), Vec::new(), EsAuth::None),
            BackendKind::Loki => {
                let loki = b.loki.as_ref();
                let headers = loki
                    .and_then(|l| l.tenant.as_ref())
                    .map(|t| ("X-Scope-OrgID".to_string(), HeaderValue::Literal(t.value.clone())))
                    .into_iter()
                    .collect();
                (loki.map(|x| &x.common), headers, EsAuth::None)
            }
        };
        let described = common.and_then(|c| c.endpoint.as_ref().map(|e| (e.value.clone(), c.deployed())));
        let tag = common.and_then(|c| c.version.as_ref()).map(|v| v.value.0.clone());
        let (endpoint, deployed) = match (described, missing) {
            (Some(pair), _) => pair,
            (None, Missing::StandIn) => {
                let example = &Catalog::get()?.backend(kind).example_endpoint;
                (Endpoint::parse(example).map_err(anyhow::Error::msg)?, false)
            }
            (None, Missing::Refuse) => {
                anyhow::bail!("backend `{}` is missing after the choice (this is a bug in otelplan)", kind.key())
            }
        };
        let tls = common.and_then(|c| c.tls.as_ref()).map(crate::settings::ClientTls::from_model);
        let addr = Addr::from_endpoint(&endpoint, Scope::Observability).with_tls(tls);
        sinks.insert(kind, Sink { addr, deployed, tag, headers, auth });
    }
    Ok(sinks)
}

impl<'a> Draft<'a> {
    /// An empty plan for `valid` in `topology`.
    pub(crate) fn new(valid: &'a ValidStack, topology: &'a Topology, missing: Missing) -> anyhow::Result<Self> {
        Ok(Draft {
            valid,
            topology,
            sinks: sinks(valid, topology, missing)?,
            nodes: BTreeMap::new(),
            edges: BTreeSet::new(),
            roles: Vec::new(),
            tiers: 0,
            apps: Vec::new(),
            apm_server: None,
            deployment: None,
            workloads: Vec::new(),
            warnings: Vec::new(),
            sizing: None,
            buffer: None,
        })
    }

    /// The stack's name.
    pub(crate) fn name(&self) -> &str {
        &self.valid.stack.name.value
    }

    /// The workload name of a collector role.
    pub(crate) fn role_name(&self, role: &RoleKind) -> String {
        let name = match role {
            RoleKind::FileAgent(ds) => names::file_agent(self.name(), ds),
            _ => names::workload(self.name(), &role.short()),
        };
        k8s_name(&name)
    }

    /// Add a node.
    pub(crate) fn add_node(&mut self, id: NodeId, name: String, kind: NodeKind, replicas: u32) {
        self.nodes.insert(id.clone(), PlanNode { id, name, kind, replicas });
    }

    /// Add an edge.
    pub(crate) fn edge(&mut self, from: &NodeId, to: &NodeId, signal: Signal, protocol: Protocol, port: Option<u16>) {
        self.edges.insert((from.clone(), to.clone(), PlanEdge { signal, protocol, port, own: false }));
    }

    /// Add the edge of a collector's own metrics, pushed over OTLP/HTTP.
    pub(crate) fn own_metrics_edge(&mut self, from: &NodeId, to: &NodeId, port: u16) {
        let edge = PlanEdge { signal: Signal::Metrics, protocol: Protocol::OtlpHttp, port: Some(port), own: true };
        self.edges.insert((from.clone(), to.clone(), edge));
    }

    /// The signals that reach node `id`.
    pub(crate) fn incoming(&self, id: &NodeId) -> BTreeSet<Signal> {
        self.edges.iter().filter(|(_, to, _)| to == id).map(|(_, _, e)| e.signal).collect()
    }

    /// Where apps (and the Kafka Java agent) send OTLP/HTTP: node, base URL.
    pub(crate) fn app_entry(&self) -> (NodeId, Addr) {
        match self.topology.apps_send_to {
            Destination::ApmServer | Destination::Sinks => {
                let addr = self.sinks.get(&BackendKind::ApmServer).map_or_else(
                    || Addr::internal("apm-server", 8200, Some(Scheme::Http)),
                    |s| s.addr.clone().with_default_scheme(Scheme::Http),
                );
                (backend_id(BackendKind::ApmServer), addr)
            }
            Destination::Gateway => {
                (role_id(&RoleKind::Gateway), self.gateway_addr(OTLP_HTTP_PORT, Some(Scheme::Http)))
            }
        }
    }

    /// The gateway's address on `port`, over TLS when the intake has it.
    pub(crate) fn gateway_addr(&self, port: u16, scheme: Option<Scheme>) -> Addr {
        let name = self.role_name(&RoleKind::Gateway);
        let tls = self.valid.intake_tls.as_ref().map(crate::settings::ServerTls::sender);
        Addr::internal(&name, port, scheme).with_tls(tls)
    }

    /// The apps that send straight to the collector `receiver` get their pod's attributes from
    /// its `k8s_attributes` processor, which finds the pod from the connection (only the first
    /// hop sees the app's pod).
    pub(crate) fn pod_attributes_at(&mut self, receiver: &NodeId) {
        let senders: BTreeSet<&NodeId> =
            self.edges.iter().filter(|(_, to, _)| to == receiver).map(|(from, _, _)| from).collect();
        for app in &mut self.apps {
            if senders.contains(&service_id(&app.service)) {
                app.pod_attributes = PodAttributes::Collector;
            }
        }
    }

    /// The `Authorization` credential apps send, when they send straight to APM Server.
    pub(crate) fn app_credential(&self) -> Option<(String, crate::model::env_ref::EnvRef)> {
        match self.topology.apps_send_to {
            Destination::Gateway => None,
            Destination::ApmServer | Destination::Sinks => {
                self.valid.backends().apm_server.as_ref().and_then(apm_credential)
            }
        }
    }

    /// A new collector role: its graph node, memory and `memory_limiter`.
    pub(crate) fn new_role(&mut self, role: RoleKind) -> anyhow::Result<CollectorRole> {
        let name = self.role_name(&role);
        let spec = crate::plan::role_spec::role(role.spec_key())?;
        let explicit = self.valid.stack.collector.as_ref();
        let explicit_memory = explicit.and_then(|c| c.memory_limit_mib.as_ref()).is_some();
        let explicit_replicas = explicit.and_then(|c| c.gateway_replicas.as_ref()).is_some();
        // The ingest tier does the gateway's export work at the same rate: sized alike.
        let scaled = matches!(role, RoleKind::Gateway | RoleKind::Ingest);
        let sized = self.sizing.as_ref().filter(|_| scaled);
        let memory = match sized {
            Some(s) if !explicit_memory => s.memory_mib,
            _ => sizing::role_memory(spec, self.valid.collector.memory_limit_mib),
        };
        let replicas = match sized {
            Some(s) if !explicit_replicas => s.replicas,
            _ if scaled => self.valid.collector.gateway_replicas,
            _ => 1,
        };
        let storage_gib = match (
            spec.storage_gib,
            sized.filter(|_| role == RoleKind::Gateway).and_then(|s| s.volume_gib(replicas)),
        ) {
            (Some(own), Some(needed)) => Some(own.max(needed)),
            (own, _) => own,
        };
        self.add_node(role_id(&role), name.clone(), NodeKind::Collector { role: role.clone() }, replicas);
        let (limit_mib, spike_limit_mib) = sizing::memory_limiter(memory);
        Ok(CollectorRole {
            storage_gib,
            telemetry: None,
            role,
            name,
            replicas,
            memory_limit_mib: memory,
            receivers: Vec::new(),
            processors: vec![Processor {
                id: ComponentId::bare(K::MemoryLimiterProcessor),
                spec: ProcessorSpec::MemoryLimiter { limit_mib, spike_limit_mib },
                only: None,
            }],
            exporters: Vec::new(),
            connectors: Vec::new(),
            file_storage: self.valid.collector.persistent_queue,
            pipelines: Vec::new(),
            secrets: Vec::new(),
        })
    }

    /// Placeholder delivery of an exporter before `route` sizes it for its role.
    fn delivery(&self) -> Delivery {
        Delivery {
            persistent: self.valid.collector.persistent_queue,
            queue_bytes: 0,
            compose_queue_bytes: 0,
            batch_max_bytes: 0,
            wait_for_result: false,
        }
    }

    /// The exporter a source's collector uses for `signal`, and the node it reaches.
    pub(crate) fn next_hop(&self, signal: Signal) -> (Exporter, NodeId, Protocol, Option<u16>) {
        if self.topology.collectors_send_to == Destination::Gateway {
            let exporter = Exporter {
                id: ComponentId::named(K::OtlpGrpcExporter, "gateway"),
                spec: ExporterSpec::OtlpGrpc { endpoint: self.gateway_addr(OTLP_GRPC_PORT, None), headers: Vec::new() },
                delivery: self.delivery(),
            };
            return (exporter, role_id(&RoleKind::Gateway), Protocol::OtlpGrpc, Some(OTLP_GRPC_PORT));
        }
        self.sink_exporter(self.sink_of(signal))
    }

    /// The backend that receives `signal`.
    pub(crate) fn sink_of(&self, signal: Signal) -> BackendKind {
        self.topology.sinks.get(&signal).copied().unwrap_or(BackendKind::Elasticsearch)
    }

    /// The exporter that writes to `kind`, its node, protocol and port.
    pub(crate) fn sink_exporter(&self, kind: BackendKind) -> (Exporter, NodeId, Protocol, Option<u16>) {
        let empty = Sink {
            addr: Addr::internal(kind.key(), 0, None),
            deployed: false,
            tag: None,
            headers: Vec::new(),
            auth: EsAuth::None,
        };
        let sink = self.sinks.get(&kind).unwrap_or(&empty);
        let addr = sink.addr.clone();
        let port = Some(addr.port);
        let (id, spec, protocol) = match kind {
            BackendKind::ApmServer => (
                ComponentId::named(K::OtlpGrpcExporter, "apm_server"),
                ExporterSpec::OtlpGrpc { endpoint: addr, headers: sink.headers.clone() },
                Protocol::OtlpGrpc,
            ),
            BackendKind::Jaeger if addr.port == OTLP_HTTP_PORT => (
                ComponentId::named(K::OtlpHttpExporter, "jaeger"),
                ExporterSpec::OtlpHttp { endpoint: addr, headers: Vec::new() },
                Protocol::OtlpHttp,
            ),
            BackendKind::Jaeger => (
                ComponentId::named(K::OtlpGrpcExporter, "jaeger"),
                ExporterSpec::OtlpGrpc { endpoint: addr, headers: Vec::new() },
                Protocol::OtlpGrpc,
            ),
            BackendKind::Prometheus => {
                let mut a = addr;
                a.path.push_str("/api/v1/otlp");
                (
                    ComponentId::named(K::OtlpHttpExporter, "prometheus"),
                    ExporterSpec::OtlpHttp { endpoint: a, headers: Vec::new() },
                    Protocol::OtlpHttp,
                )
            }
            BackendKind::Loki => {
                let mut a = addr;
                a.path.push_str("/otlp");
                (
                    ComponentId::named(K::OtlpHttpExporter, "loki"),
                    ExporterSpec::OtlpHttp { endpoint: a, headers: sink.headers.clone() },
                    Protocol::OtlpHttp,
                )
            }
            BackendKind::Elasticsearch => (
                ComponentId::bare(K::ElasticsearchExporter),
                ExporterSpec::Elasticsearch { endpoint: addr, auth: sink.auth.clone() },
                Protocol::ElasticsearchHttp,
            ),
        };
        (Exporter { id, spec, delivery: self.delivery() }, backend_id(kind), protocol, port)
    }

    /// Add the exporter for `signal` to `role`, recording the edge; its id.
    pub(crate) fn route(
        &mut self,
        role: &mut CollectorRole,
        signal: Signal,
        exporter: (Exporter, NodeId, Protocol, Option<u16>),
    ) -> ComponentId {
        let (exporter, target, protocol, port) = exporter;
        self.edge(&role_id(&role.role), &target, signal, protocol, port);
        let id = exporter.id.clone();
        if !role.exporters.iter().any(|e| e.id == id) {
            role.exporters.push(exporter);
        }
        id
    }

    /// The `resource` processor that names a datastore's telemetry.
    pub(crate) fn datastore_resource(&self, ds: &str) -> Processor {
        Processor {
            id: ComponentId::named(K::ResourceProcessor, ds),
            spec: ProcessorSpec::InsertResource(vec![
                ("service.name".into(), ds.to_string()),
                ("deployment.environment.name".into(), self.valid.environment.clone()),
            ]),
            only: None,
        }
    }

    /// The `resource` processor that stamps the environment.
    pub(crate) fn environment_resource(&self) -> Processor {
        Processor {
            id: ComponentId::named(K::ResourceProcessor, "environment"),
            spec: ProcessorSpec::InsertResource(vec![(
                "deployment.environment.name".into(),
                self.valid.environment.clone(),
            )]),
            only: None,
        }
    }

    /// `k8s_attributes`, which only Kubernetes configs carry.
    pub(crate) fn k8s_attributes(own_node: bool, exclude_pods: Vec<String>) -> Processor {
        Processor {
            id: ComponentId::bare(K::K8sAttributesProcessor),
            spec: ProcessorSpec::K8sAttributes { own_node, exclude_pods },
            only: Some(crate::plan::address::Flavor::Kubernetes),
        }
    }

    /// One pipeline `signal/ds` from `receiver` through the datastore's resource processor.
    pub(crate) fn datastore_pipeline(
        &mut self,
        role: &mut CollectorRole,
        signal: Signal,
        ds: &str,
        receiver: crate::plan::collector::Receiver,
    ) {
        let resource = self.datastore_resource(ds);
        let hop = self.next_hop(signal);
        let exporter = self.route(role, signal, hop);
        role.pipelines.push(Pipeline {
            signal,
            name: Some(ds.to_string()),
            receivers: vec![receiver.id.clone()],
            processors: vec![ComponentId::bare(K::MemoryLimiterProcessor), resource.id.clone()],
            exporters: vec![exporter],
        });
        role.receivers.push(receiver);
        role.processors.push(resource);
    }

    /// Add a finished role: a tier's before the sources' collectors, in tier order.
    pub(crate) fn add_role(&mut self, mut role: CollectorRole, tier: bool) {
        let sized = self.sizing.as_ref().filter(|_| role.role == RoleKind::Gateway);
        sizing::queues(&mut role, sized.map(|s| &s.backlog_bytes));
        let role = finish(role);
        if tier {
            self.roles.insert(self.tiers, role);
            self.tiers += 1;
        } else {
            self.roles.push(role);
        }
    }

    /// The data-flow graph, nodes and edges added in id order (so indices are stable).
    pub(crate) fn graph(&mut self) -> DiGraph<PlanNode, PlanEdge> {
        let nodes = std::mem::take(&mut self.nodes);
        let edges = std::mem::take(&mut self.edges);
        let mut g = DiGraph::with_capacity(nodes.len(), edges.len());
        let mut index: BTreeMap<NodeId, NodeIndex> = BTreeMap::new();
        for (id, node) in nodes {
            index.insert(id, g.add_node(node));
        }
        for (from, to, edge) in &edges {
            if let (Some(a), Some(b)) = (index.get(from), index.get(to)) {
                g.add_edge(*a, *b, *edge);
            }
        }
        g
    }
}

/// Recompute a finished role's secrets after a later pass changed its exporters.
pub(crate) fn refresh_secrets(role: &mut CollectorRole) {
    *role = finish(role.clone());
}

/// Sort a role's secrets once it is complete.
fn finish(mut role: CollectorRole) -> CollectorRole {
    let mut secrets = BTreeSet::new();
    for r in &role.receivers {
        match &r.spec {
            ReceiverSpec::Postgresql { password: p, .. }
            | ReceiverSpec::Redis { password: Some(p), .. }
            | ReceiverSpec::Elasticsearch { auth: EsAuth::Basic { password: p, .. } | EsAuth::ApiKey(p), .. } => {
                secrets.insert(p.clone());
            }
            _ => {}
        }
    }
    for e in &role.exporters {
        match &e.spec {
            ExporterSpec::OtlpGrpc { headers, .. } | ExporterSpec::OtlpHttp { headers, .. } => {
                for (_, v) in headers {
                    if let HeaderValue::Secret { env, .. } = v {
                        secrets.insert(env.clone());
                    }
                }
            }
            ExporterSpec::Elasticsearch { auth: EsAuth::Basic { password: p, .. } | EsAuth::ApiKey(p), .. } => {
                secrets.insert(p.clone());
            }
            ExporterSpec::Elasticsearch { .. } | ExporterSpec::LoadBalancing { .. } | ExporterSpec::Kafka(_) => {}
        }
    }
    role.secrets = secrets.into_iter().collect();
    role
}
