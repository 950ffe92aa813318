//! Plan stage, main step: build the data-flow graph and the collector roles for the chosen
//! topology. Nodes and edges are collected in sorted maps and added to the graph in id order.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::endpoint::{Endpoint, Scheme};
use crate::model::env_ref::EnvRef;
use crate::model::keywords::TopologyId;
use crate::model::keywords::{Instrumentation, KafkaMetrics, ServiceKind, Signal, Target, WorkloadKind};
use crate::model::names;
use crate::model::service::{Logs, Service};
use crate::plan::address::{Addr, Flavor, Namespaces, Scope};
use crate::plan::app::AppPlan;
use crate::plan::backend_spec::Catalog;
use crate::plan::choose::Choice;
use crate::plan::collector::{
    CollectorRole, ComponentId, ComponentKind as K, ContainerLogSource, Delivery, EsAuth, Exporter, ExporterSpec,
    HeaderValue, Pipeline, Processor, ProcessorSpec, Receiver, ReceiverSpec, OTLP_GRPC_PORT, OTLP_HTTP_PORT,
};
use crate::plan::deploy::{
    glob_dir, k8s_name, log_owner, DeployedBackend, Deployment, FileLogHook, Grafana, JmxHook, Kibana, StdoutHook,
    Workload,
};
use crate::plan::edge::{PlanEdge, Protocol};
use crate::plan::node::{NodeId, NodeKind, PlanNode, RoleKind};
use crate::plan::{sizing, workload, ApmAuth, ApmServerPlan, Plan};
use crate::topology::{BackendKind, Destination, Topology};
use crate::validate::ValidStack;

/// The Elasticsearch HTTP port, for edges into a store written without one.
const APM_PORT: u16 = 8200;

fn service_id(name: &str) -> NodeId {
    NodeId(format!("service/{name}"))
}

fn role_id(role: &RoleKind) -> NodeId {
    NodeId(format!("collector/{}", role.short()))
}

fn backend_id(kind: BackendKind) -> NodeId {
    NodeId(format!("backend/{}", kind.key()))
}

/// Build the plan for `valid` in the chosen topology.
pub(crate) fn plan(valid: &ValidStack, choice: Choice) -> anyhow::Result<Plan> {
    build(valid, choice, Missing::Refuse)
}

/// Build the plan of topology `id` even when the stack lacks some of its backends: each missing
/// one stands in at its usual address (`BackendKind::example_endpoint`), not deployed. For
/// comparing topologies, never for rendering.
pub(crate) fn plan_hypothetical(valid: &ValidStack, id: crate::model::keywords::TopologyId) -> anyhow::Result<Plan> {
    let reason = format!("topology {} as it would be for this stack", id.letter());
    let choice = Choice { id, auto: false, reason, scoreboard: None };
    build(valid, choice, Missing::StandIn)
}

/// What to do with a backend the topology needs but the stack does not describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// It is a bug: the choice has checked every backend.
    Refuse,
    /// Use a stand-in at the backend's usual address.
    StandIn,
}

fn build(valid: &ValidStack, choice: Choice, missing: Missing) -> anyhow::Result<Plan> {
    let topology = Topology::load(choice.id)?;
    let mut b = Builder::new(valid, &topology, missing)?;
    b.add_backends();
    let apps = b.add_apps();
    let mut roles = b.add_datastores()?;
    if topology.has_gateway() && b.reaches_gateway() {
        roles.insert(0, b.gateway_role()?);
    }
    b.add_intake_edges();
    let graph = b.graph();
    let apm_server = b.apm_server_plan();
    let catalog = Catalog::get()?;
    let deployment = b.deployment(catalog, &roles, &apps, apm_server.as_ref());
    let distribution = crate::plan::distribution::Distribution::contrib()?;
    let mut workloads = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        workloads.push(workload::collector(i, role, distribution, valid.collector.version)?);
    }
    workloads
        .extend(deployment.backends.iter().map(|b| workload::backend(catalog, b, &deployment, apm_server.as_ref())));
    workloads.extend(workload::companions(catalog, &deployment));
    Ok(Plan {
        stack_name: valid.stack.name.value.clone(),
        environment: valid.environment.clone(),
        topology,
        choice,
        collector_version: valid.collector.version,
        distribution,
        primary: primary_flavor(valid),
        targets: valid.targets.clone(),
        namespaces: Namespaces { app: valid.app_namespace.clone(), observability: valid.namespace.clone() },
        graph,
        roles,
        apm_server,
        apps,
        deployment,
        workloads,
    })
}

/// Configuration at the top of the tree carries compose's values, or Kubernetes's for a stack
/// that targets Kubernetes only.
fn primary_flavor(valid: &ValidStack) -> Flavor {
    if valid.targets.len() == 1 && valid.targets.contains(&Target::Kubernetes) {
        Flavor::Kubernetes
    } else {
        Flavor::Compose
    }
}

struct Sink {
    addr: Addr,
    deployed: bool,
    tag: Option<String>,
    headers: Vec<(String, HeaderValue)>,
    auth: EsAuth,
}

struct Builder<'a> {
    valid: &'a ValidStack,
    topology: &'a Topology,
    sinks: BTreeMap<BackendKind, Sink>,
    nodes: BTreeMap<NodeId, PlanNode>,
    edges: BTreeSet<(NodeId, NodeId, PlanEdge)>,
}

impl<'a> Builder<'a> {
    fn new(valid: &'a ValidStack, topology: &'a Topology, missing: Missing) -> anyhow::Result<Self> {
        let mut sinks = BTreeMap::new();
        let b = valid.backends();
        for kind in topology.needs() {
            let (common, headers, auth) = match kind {
                BackendKind::Elasticsearch => {
                    let es = b.elasticsearch.as_ref();
                    let auth = es.map_or(EsAuth::None, |es| match (&es.api_key, &es.username, &es.password) {
                        (Some(k), _, _) => EsAuth::ApiKey(k.value.clone()),
                        (None, Some(u), Some(p)) => EsAuth::Basic { user: u.value.clone(), password: p.value.clone() },
                        _ => EsAuth::None,
                    });
                    (es.map(|x| &x.common), Vec::new(), auth)
                }
                BackendKind::ApmServer => {
                    let apm = b.apm_server.as_ref();
                    let headers = apm.and_then(apm_header).into_iter().collect();
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
            sinks.insert(
                kind,
                Sink { addr: Addr::from_endpoint(&endpoint, Scope::Observability), deployed, tag, headers, auth },
            );
        }
        Ok(Builder { valid, topology, sinks, nodes: BTreeMap::new(), edges: BTreeSet::new() })
    }

    fn name(&self) -> &str {
        &self.valid.stack.name.value
    }

    fn role_name(&self, role: &RoleKind) -> String {
        let name = match role {
            RoleKind::FileAgent(ds) => names::file_agent(self.name(), ds),
            _ => names::workload(self.name(), &role.short()),
        };
        k8s_name(&name)
    }

    fn add_node(&mut self, id: NodeId, name: String, kind: NodeKind, replicas: u32) {
        self.nodes.insert(id.clone(), PlanNode { id, name, kind, replicas });
    }

    fn edge(&mut self, from: &NodeId, to: &NodeId, signal: Signal, protocol: Protocol, port: Option<u16>) {
        self.edges.insert((from.clone(), to.clone(), PlanEdge { signal, protocol, port }));
    }

    fn add_backends(&mut self) {
        let stores: BTreeSet<BackendKind> = self.topology.intakes.values().copied().collect();
        let intakes: BTreeSet<BackendKind> = self.topology.intakes.keys().copied().collect();
        let nodes: Vec<(BackendKind, String, bool)> =
            self.sinks.iter().map(|(k, s)| (*k, s.addr.host.clone(), s.deployed)).collect();
        for (kind, host, deployed) in nodes {
            let store = stores.contains(&kind) || !intakes.contains(&kind);
            self.add_node(backend_id(kind), host, NodeKind::Backend { kind, deployed, store }, 1);
        }
    }

    /// Where apps (and the Kafka Java agent) send OTLP/HTTP: node, base URL, port.
    fn app_entry(&self) -> (NodeId, Addr) {
        match self.topology.apps_send_to {
            Destination::ApmServer | Destination::Sinks => {
                let addr = self.sinks.get(&BackendKind::ApmServer).map_or_else(
                    || Addr::internal("apm-server", APM_PORT, Some(Scheme::Http)),
                    |s| s.addr.clone().with_default_scheme(Scheme::Http),
                );
                (backend_id(BackendKind::ApmServer), addr)
            }
            Destination::Gateway => {
                let name = self.role_name(&RoleKind::Gateway);
                (role_id(&RoleKind::Gateway), Addr::internal(&name, OTLP_HTTP_PORT, Some(Scheme::Http)))
            }
        }
    }

    fn add_apps(&mut self) -> Vec<AppPlan> {
        let (entry, addr) = self.app_entry();
        let auth = match self.topology.apps_send_to {
            Destination::Gateway => None,
            _ => self.valid.backends().apm_server.as_ref().and_then(apm_credential),
        };
        let kinds: BTreeSet<ServiceKind> = self.valid.stack.services.value.values().map(|s| s.value.kind()).collect();
        let mut apps = Vec::new();
        for (name, service) in &self.valid.stack.services.value {
            let Service::Django(django) = &service.value else { continue };
            let replicas = django.replicas.as_ref().map_or(1, |r| u32::try_from(r.value).unwrap_or(u32::MAX));
            let signals: Vec<Signal> = django.signals.as_ref().map_or_else(
                || Signal::ALL.to_vec(),
                |s| Signal::ALL.into_iter().filter(|x| s.value.iter().any(|y| y.value == *x)).collect(),
            );
            let instrumentations = django
                .instrumentations
                .as_ref()
                .map_or_else(|| default_instrumentations(&kinds), |list| list.value.iter().map(|i| i.value).collect());
            let id = service_id(name);
            self.add_node(id.clone(), name.clone(), NodeKind::App, replicas);
            for s in &signals {
                self.edge(&id, &entry, *s, Protocol::OtlpHttp, Some(addr.port));
            }
            apps.push(AppPlan {
                service: name.clone(),
                replicas,
                signals,
                instrumentations,
                endpoint: addr.clone(),
                auth: auth.clone(),
                workload: workload(name, &service.value, WorkloadKind::Deployment),
            });
        }
        apps
    }

    fn add_datastores(&mut self) -> anyhow::Result<Vec<CollectorRole>> {
        let mut scraper_receivers: Vec<(String, Receiver)> = Vec::new();
        let mut agents = Vec::new();
        let mut container_sources = Vec::new();
        let (entry, entry_addr) = self.app_entry();
        // The stack outlives the builder: its services are read in place while the builder
        // grows.
        let valid = self.valid;
        for (name, service) in &valid.stack.services.value {
            let service = &service.value;
            if matches!(service, Service::Django(_)) {
                continue;
            }
            let id = service_id(name);
            self.add_node(id.clone(), name.clone(), NodeKind::Datastore { kind: service.kind() }, 1);
            if let Some((receiver, protocol, port)) = scrape(name, service) {
                self.edge(&id, &role_id(&RoleKind::Scraper), Signal::Metrics, protocol, Some(port));
                scraper_receivers.push((name.clone(), receiver));
            }
            if let Service::Kafka(k) = service {
                if k.metrics.as_ref().is_some_and(|m| m.value == KafkaMetrics::Jmx) {
                    self.edge(&id, &entry, Signal::Metrics, Protocol::OtlpHttp, Some(entry_addr.port));
                }
            }
            match service.logs().map(|l| &l.value) {
                Some(Logs::Files(glob)) => {
                    let role = RoleKind::FileAgent(name.clone());
                    self.edge(&id, &role_id(&role), Signal::Logs, Protocol::LogFiles, None);
                    agents.push((name.clone(), glob.value.clone()));
                }
                Some(Logs::Stdout) => {
                    self.edge(&id, &role_id(&RoleKind::NodeAgent), Signal::Logs, Protocol::ContainerLogs, None);
                    let (_, workload, container) = workload(name, service, WorkloadKind::StatefulSet);
                    container_sources.push(ContainerLogSource { service: name.clone(), workload, container });
                }
                None => {}
            }
        }
        let mut roles = Vec::new();
        if !scraper_receivers.is_empty() {
            roles.push(self.scraper_role(scraper_receivers)?);
        }
        for (ds, glob) in agents {
            roles.push(self.file_agent_role(&ds, glob)?);
        }
        if !container_sources.is_empty() {
            roles.push(self.node_agent_role(container_sources)?);
        }
        Ok(roles)
    }

    fn new_role(&mut self, role: RoleKind) -> anyhow::Result<CollectorRole> {
        let name = self.role_name(&role);
        let spec = crate::plan::role_spec::role(role.spec_key())?;
        let memory = sizing::role_memory(spec, self.valid.collector.memory_limit_mib);
        let replicas = if role == RoleKind::Gateway { self.valid.collector.gateway_replicas } else { 1 };
        self.add_node(role_id(&role), name.clone(), NodeKind::Collector { role: role.clone() }, replicas);
        let (limit_mib, spike_limit_mib) = sizing::memory_limiter(memory);
        Ok(CollectorRole {
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
            file_storage: self.valid.collector.persistent_queue,
            pipelines: Vec::new(),
            secrets: Vec::new(),
        })
    }

    fn delivery(&self) -> Delivery {
        Delivery { persistent: self.valid.collector.persistent_queue }
    }

    /// The exporter a datastore collector uses for `signal`, and the node it reaches.
    fn next_hop(&self, signal: Signal) -> (Exporter, NodeId, Protocol, Option<u16>) {
        if self.topology.collectors_send_to == Destination::Gateway {
            let name = self.role_name(&RoleKind::Gateway);
            let exporter = Exporter {
                id: ComponentId::named(K::OtlpGrpcExporter, "gateway"),
                spec: ExporterSpec::OtlpGrpc {
                    endpoint: Addr::internal(&name, OTLP_GRPC_PORT, None),
                    headers: Vec::new(),
                },
                delivery: self.delivery(),
            };
            return (exporter, role_id(&RoleKind::Gateway), Protocol::OtlpGrpc, Some(OTLP_GRPC_PORT));
        }
        self.sink_exporter(self.sink_of(signal))
    }

    fn sink_of(&self, signal: Signal) -> BackendKind {
        self.topology.sinks.get(&signal).copied().unwrap_or(BackendKind::Elasticsearch)
    }

    /// The exporter that writes to `kind`, its node, protocol and port.
    fn sink_exporter(&self, kind: BackendKind) -> (Exporter, NodeId, Protocol, Option<u16>) {
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

    /// Add `pipeline`'s exporter for `signal` from `role`, recording the edge.
    fn route(
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

    fn datastore_resource(&self, ds: &str) -> Processor {
        Processor {
            id: ComponentId::named(K::ResourceProcessor, ds),
            spec: ProcessorSpec::InsertResource(vec![
                ("service.name".into(), ds.to_string()),
                ("deployment.environment.name".into(), self.valid.environment.clone()),
            ]),
            only: None,
        }
    }

    fn environment_resource(&self) -> Processor {
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
    fn k8s_attributes(own_node: bool, exclude_pods: Vec<String>) -> Processor {
        Processor {
            id: ComponentId::bare(K::K8sAttributesProcessor),
            spec: ProcessorSpec::K8sAttributes { own_node, exclude_pods },
            only: Some(Flavor::Kubernetes),
        }
    }

    /// One pipeline `signal/ds` from `receiver` through the datastore's resource processor.
    fn datastore_pipeline(&mut self, role: &mut CollectorRole, signal: Signal, ds: &str, receiver: Receiver) {
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

    fn scraper_role(&mut self, receivers: Vec<(String, Receiver)>) -> anyhow::Result<CollectorRole> {
        let mut role = self.new_role(RoleKind::Scraper)?;
        for (ds, receiver) in receivers {
            self.datastore_pipeline(&mut role, Signal::Metrics, &ds, receiver);
        }
        Ok(finish(role))
    }

    fn file_agent_role(&mut self, ds: &str, glob: String) -> anyhow::Result<CollectorRole> {
        let mut role = self.new_role(RoleKind::FileAgent(ds.to_string()))?;
        role.file_storage = true;
        let receiver = Receiver {
            id: ComponentId::named(K::FileLogReceiver, ds),
            spec: ReceiverSpec::LogFiles { include: vec![glob] },
            checkpoints: true,
        };
        self.datastore_pipeline(&mut role, Signal::Logs, ds, receiver);
        Ok(finish(role))
    }

    fn node_agent_role(&mut self, sources: Vec<ContainerLogSource>) -> anyhow::Result<CollectorRole> {
        let mut role = self.new_role(RoleKind::NodeAgent)?;
        role.file_storage = true;
        let receiver = Receiver {
            id: ComponentId::named(K::FileLogReceiver, "containers"),
            spec: ReceiverSpec::ContainerLogs { datastores: sources },
            checkpoints: true,
        };
        let resource = self.environment_resource();
        let pod = Self::k8s_attributes(true, Vec::new());
        let hop = self.next_hop(Signal::Logs);
        let exporter = self.route(&mut role, Signal::Logs, hop);
        role.pipelines.push(Pipeline {
            signal: Signal::Logs,
            name: None,
            receivers: vec![receiver.id.clone()],
            processors: vec![ComponentId::bare(K::MemoryLimiterProcessor), pod.id.clone(), resource.id.clone()],
            exporters: vec![exporter],
        });
        role.receivers.push(receiver);
        role.processors.push(pod);
        role.processors.push(resource);
        Ok(finish(role))
    }

    /// Whether anything sends to the gateway (a stack whose only datastore is not observed
    /// has nothing to route, and then no gateway).
    fn reaches_gateway(&self) -> bool {
        let me = role_id(&RoleKind::Gateway);
        self.edges.iter().any(|(_, to, _)| *to == me)
    }

    /// The gateway: one pipeline per signal that reaches it.
    fn gateway_role(&mut self) -> anyhow::Result<CollectorRole> {
        let mut role = self.new_role(RoleKind::Gateway)?;
        let me = role_id(&RoleKind::Gateway);
        let incoming: BTreeSet<Signal> =
            self.edges.iter().filter(|(_, to, _)| *to == me).map(|(_, _, e)| e.signal).collect();
        let otlp = Receiver { id: ComponentId::bare(K::OtlpReceiver), spec: ReceiverSpec::Otlp, checkpoints: false };
        let resource = self.environment_resource();
        // Pod metadata for app telemetry: it must run before any batching, which the exporters'
        // queues do after the pipeline.
        // The collectors that forward to the gateway from pods of their own (not sidecars,
        // whose pod is the datastore's and is the right one to match).
        let internal: Vec<String> = self
            .nodes
            .values()
            .filter(|n| matches!(n.kind, NodeKind::Collector { role: RoleKind::Scraper | RoleKind::NodeAgent }))
            .map(|n| n.name.clone())
            .collect();
        let pod = Self::k8s_attributes(false, internal);
        for signal in Signal::ALL.into_iter().filter(|s| incoming.contains(s)) {
            let sink = self.sink_exporter(self.sink_of(signal));
            let exporter = self.route(&mut role, signal, sink);
            role.pipelines.push(Pipeline {
                signal,
                name: None,
                receivers: vec![otlp.id.clone()],
                processors: vec![ComponentId::bare(K::MemoryLimiterProcessor), pod.id.clone(), resource.id.clone()],
                exporters: vec![exporter],
            });
        }
        role.receivers.push(otlp);
        role.processors.push(pod);
        role.processors.push(resource);
        Ok(finish(role))
    }

    /// Intakes forward every signal they receive to their store.
    fn add_intake_edges(&mut self) {
        for (intake, store) in self.topology.intakes.clone() {
            let from = backend_id(intake);
            let signals: BTreeSet<Signal> =
                self.edges.iter().filter(|(_, to, _)| *to == from).map(|(_, _, e)| e.signal).collect();
            let port = self.sinks.get(&store).map(|s| s.addr.port);
            for s in signals {
                self.edge(&from, &backend_id(store), s, Protocol::ElasticsearchHttp, port);
            }
        }
    }

    fn apm_server_plan(&self) -> Option<ApmServerPlan> {
        let apm = self.sinks.get(&BackendKind::ApmServer)?;
        let es = self.sinks.get(&BackendKind::Elasticsearch)?;
        let b = self.valid.backends();
        let auth = match b.apm_server.as_ref().map(|a| (&a.secret_token, &a.api_key)) {
            Some((Some(t), _)) => ApmAuth::SecretToken(t.value.clone()),
            Some((None, Some(k))) => ApmAuth::ApiKey(k.value.clone()),
            _ => ApmAuth::Open,
        };
        Some(ApmServerPlan {
            addr: apm.addr.clone(),
            auth,
            elasticsearch: es.addr.clone().with_default_scheme(Scheme::Http),
            elasticsearch_auth: es.auth.clone(),
        })
    }

    /// The deployment side: sandboxes, hooks into the team's datastores, secrets.
    fn deployment(
        &self,
        catalog: &Catalog,
        roles: &[CollectorRole],
        apps: &[AppPlan],
        apm: Option<&ApmServerPlan>,
    ) -> Deployment {
        let backends: Vec<DeployedBackend> = self
            .sinks
            .iter()
            .filter(|(_, s)| s.deployed)
            .map(|(kind, s)| DeployedBackend {
                kind: *kind,
                name: s.addr.host.clone(),
                image: catalog.image(catalog.backend(*kind), s.tag.as_deref()),
                port: s.addr.port,
            })
            .collect();
        let es = self.sinks.get(&BackendKind::Elasticsearch).filter(|s| s.deployed);
        let kibana = es.map(|s| Kibana {
            name: k8s_name(&names::workload(self.name(), "kibana")),
            image: catalog.image(&catalog.companions.kibana, s.tag.as_deref()),
            setup_name: k8s_name(&names::workload(self.name(), "kibana-setup")),
            setup_image: catalog.image(&catalog.companions.kibana_setup, s.tag.as_deref()),
            elasticsearch: s.addr.clone().with_default_scheme(Scheme::Http),
        });
        let stores = [BackendKind::Jaeger, BackendKind::Prometheus, BackendKind::Loki];
        let grafana = (self.topology.id == TopologyId::C
            && stores.iter().any(|k| self.sinks.get(k).is_some_and(|s| s.deployed)))
        .then(|| Grafana {
            name: k8s_name(&names::workload(self.name(), "grafana")),
            sources: stores
                .iter()
                .filter_map(|k| {
                    let addr = self.sinks.get(k)?.addr.clone();
                    // Grafana reads traces from Jaeger's query port, not its OTLP intake.
                    let query = catalog.backend(*k).port("ui");
                    Some((
                        *k,
                        query.map_or(addr.clone(), |port| Addr {
                            port,
                            scheme: Some(Scheme::Http),
                            path: String::new(),
                            ..addr
                        }),
                    ))
                })
                .collect(),
        });
        let (file_logs, stdout_logs, jmx) = self.hooks();
        let mut observability_secrets = BTreeSet::new();
        let mut app_secrets = BTreeSet::new();
        for role in roles {
            let side =
                if matches!(role.role, RoleKind::FileAgent(_)) { &mut app_secrets } else { &mut observability_secrets };
            side.extend(role.secrets.iter().cloned());
        }
        app_secrets.extend(apps.iter().filter_map(|a| a.auth.as_ref().map(|(_, e)| e.clone())));
        app_secrets.extend(jmx.iter().filter_map(|h| h.auth.as_ref().map(|(_, e)| e.clone())));
        if let Some(apm) = apm {
            if let ApmAuth::SecretToken(e) | ApmAuth::ApiKey(e) = &apm.auth {
                observability_secrets.insert(e.clone());
            }
            if let EsAuth::Basic { password: e, .. } | EsAuth::ApiKey(e) = &apm.elasticsearch_auth {
                observability_secrets.insert(e.clone());
            }
        }
        let kibana_password = EnvRef::named("KIBANA_SYSTEM_PASSWORD");
        let grafana_password = EnvRef::named("GRAFANA_ADMIN_PASSWORD");
        if let Some(s) = es {
            if let EsAuth::Basic { password, .. } = &s.auth {
                observability_secrets.insert(password.clone());
            }
            observability_secrets.insert(kibana_password.clone());
        }
        if grafana.is_some() {
            observability_secrets.insert(grafana_password.clone());
        }
        Deployment {
            backends,
            kibana,
            grafana,
            file_logs,
            stdout_logs,
            jmx,
            secret_name: k8s_name(&format!("{}-otelplan", self.name())),
            observability_secrets,
            app_secrets,
            elasticsearch_password: self.sinks.get(&BackendKind::Elasticsearch).and_then(|s| match &s.auth {
                EsAuth::Basic { password, .. } => Some(password.clone()),
                EsAuth::ApiKey(_) | EsAuth::None => None,
            }),
            kibana_password,
            grafana_password,
            prefix: self.name().to_string(),
            volume_init: k8s_name(&names::workload(self.name(), "volume-init")),
            javaagent_init: k8s_name(&names::workload(self.name(), "javaagent-init")),
        }
    }

    /// Hooks into the team's datastores: shared log directories, labelled container logs,
    /// the Java agent on Kafka brokers.
    fn hooks(&self) -> (Vec<FileLogHook>, Vec<StdoutHook>, Vec<JmxHook>) {
        let (mut files, mut stdout, mut jmx) = (Vec::new(), Vec::new(), Vec::new());
        let (_, entry) = self.app_entry();
        let auth = match self.topology.apps_send_to {
            Destination::Gateway => None,
            _ => self.valid.backends().apm_server.as_ref().and_then(apm_credential),
        };
        for (name, service) in &self.valid.stack.services.value {
            let service = &service.value;
            if matches!(service, Service::Django(_)) {
                continue;
            }
            let (kind, wname, container) = workload(name, service, WorkloadKind::StatefulSet);
            let wl = Workload { kind, name: wname, container };
            match service.logs().map(|l| &l.value) {
                Some(Logs::Files(glob)) => files.push(FileLogHook {
                    datastore: name.clone(),
                    kind: service.kind(),
                    dir: glob_dir(&glob.value),
                    agent: self.role_name(&RoleKind::FileAgent(name.clone())),
                    volume: format!("{}-{name}-logs", self.name()),
                    workload: wl.clone(),
                    owner: log_owner(service.kind()).0,
                    group: log_owner(service.kind()).1,
                }),
                Some(Logs::Stdout) => stdout.push(StdoutHook { datastore: name.clone(), workload: wl.clone() }),
                None => {}
            }
            if let Service::Kafka(k) = service {
                if k.metrics.as_ref().is_some_and(|m| m.value == KafkaMetrics::Jmx) {
                    jmx.push(JmxHook {
                        datastore: name.clone(),
                        workload: wl,
                        endpoint: entry.clone(),
                        auth: auth.clone(),
                    });
                }
            }
        }
        (files, stdout, jmx)
    }

    /// The data-flow graph, nodes and edges added in id order (so indices are stable). They
    /// move out of the builder: this is its last use of them.
    fn graph(&mut self) -> DiGraph<PlanNode, PlanEdge> {
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
            ExporterSpec::Elasticsearch { .. } => {}
        }
    }
    role.secrets = secrets.into_iter().collect();
    role
}

fn apm_credential(apm: &crate::model::backend::ApmServerBackend) -> Option<(String, crate::model::env_ref::EnvRef)> {
    match (&apm.secret_token, &apm.api_key) {
        (Some(t), _) => Some(("Bearer".to_string(), t.value.clone())),
        (None, Some(k)) => Some(("ApiKey".to_string(), k.value.clone())),
        _ => None,
    }
}

fn apm_header(apm: &crate::model::backend::ApmServerBackend) -> Option<(String, HeaderValue)> {
    apm_credential(apm)
        .map(|(scheme, env)| ("Authorization".to_string(), HeaderValue::Secret { prefix: format!("{scheme} "), env }))
}

/// One instrumentation per datastore kind in the stack (the spec's default).
fn default_instrumentations(kinds: &BTreeSet<ServiceKind>) -> Vec<Instrumentation> {
    let mut out = Vec::new();
    for k in kinds {
        match k {
            ServiceKind::Postgres => out.push(Instrumentation::Psycopg),
            ServiceKind::Redis => out.push(Instrumentation::Redis),
            ServiceKind::Elasticsearch => out.push(Instrumentation::Elasticsearch),
            ServiceKind::Kafka => out.push(Instrumentation::KafkaPython),
            ServiceKind::Django => {}
        }
    }
    out.sort();
    out
}

/// The Kubernetes workload of a service: kind, name, container (spec defaults).
fn workload(name: &str, service: &Service, default_kind: WorkloadKind) -> (WorkloadKind, String, String) {
    let w = service.workload();
    let kind = w.and_then(|w| w.kind.as_ref()).map_or(default_kind, |k| k.value);
    let wname = w.and_then(|w| w.name.as_ref()).map_or_else(|| name.to_string(), |n| n.value.clone());
    let container = w.and_then(|w| w.container.as_ref()).map_or_else(|| name.to_string(), |n| n.value.clone());
    (kind, wname, container)
}

/// The scraper receiver of a datastore, with the edge's protocol and port; `None` when its
/// metrics are not scraped (Kafka with `jmx`, `PostgreSQL` without a monitoring user).
fn scrape(ds: &str, service: &Service) -> Option<(Receiver, Protocol, u16)> {
    let receiver = |kind, spec| Receiver { id: ComponentId::named(kind, ds), spec, checkpoints: false };
    match service {
        Service::Django(_) => None,
        Service::Postgres(p) => {
            let (Some(user), Some(pw)) = (&p.username, &p.password) else { return None };
            let addr = Addr::from_endpoint(&p.endpoint.value, Scope::App);
            let port = addr.port;
            let databases =
                p.databases.as_ref().map_or_else(Vec::new, |d| d.value.iter().map(|x| x.value.clone()).collect());
            let spec = ReceiverSpec::Postgresql {
                endpoint: addr,
                databases,
                username: user.value.clone(),
                password: pw.value.clone(),
            };
            Some((receiver(K::PostgresqlReceiver, spec), Protocol::Postgresql, port))
        }
        Service::Redis(r) => {
            let addr = Addr::from_endpoint(&r.endpoint.value, Scope::App);
            let port = addr.port;
            let spec = ReceiverSpec::Redis {
                endpoint: addr,
                username: r.username.as_ref().map(|u| u.value.clone()),
                password: r.password.as_ref().map(|p| p.value.clone()),
            };
            Some((receiver(K::RedisReceiver, spec), Protocol::Redis, port))
        }
        Service::Elasticsearch(e) => {
            let addr = Addr::from_endpoint(&e.endpoint.value, Scope::App).with_default_scheme(Scheme::Http);
            let port = addr.port;
            let auth = match (&e.username, &e.password) {
                (Some(u), Some(p)) => EsAuth::Basic { user: u.value.clone(), password: p.value.clone() },
                _ => EsAuth::None,
            };
            Some((
                receiver(K::ElasticsearchReceiver, ReceiverSpec::Elasticsearch { endpoint: addr, auth }),
                Protocol::ElasticsearchHttp,
                port,
            ))
        }
        Service::Kafka(k) => {
            if k.metrics.as_ref().is_some_and(|m| m.value == KafkaMetrics::Jmx) {
                return None;
            }
            let brokers: Vec<Addr> =
                k.brokers.value.iter().map(|b| Addr::from_endpoint(&b.value, Scope::App)).collect();
            let port = brokers.first().map_or(9092, |b| b.port);
            Some((receiver(K::KafkaMetricsReceiver, ReceiverSpec::KafkaMetrics { brokers }), Protocol::Kafka, port))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::plan::choose::choose;
    use crate::source::Source;

    const DKP: &str = include_str!("../../examples/dkp.yaml");

    fn plan_for(text: &str, id: TopologyId) -> Plan {
        let (valid, _) = crate::check(&Source::from_text("t.yaml", text)).unwrap();
        let choice = choose(&valid, Some(id)).unwrap();
        plan(&valid, choice).unwrap()
    }

    fn role<'p>(p: &'p Plan, r: &RoleKind) -> Option<&'p CollectorRole> {
        p.roles.iter().find(|x| x.role == *r)
    }

    const DATASTORE_RECEIVERS: [K; 4] =
        [K::PostgresqlReceiver, K::RedisReceiver, K::ElasticsearchReceiver, K::KafkaMetricsReceiver];

    #[test]
    fn datastore_receivers_run_only_in_the_single_scraper() {
        for id in TopologyId::ALL {
            let p = plan_for(DKP, id);
            for r in &p.roles {
                let scrapes = r.receivers.iter().any(|x| DATASTORE_RECEIVERS.contains(&x.id.kind));
                assert_eq!(scrapes, r.role == RoleKind::Scraper, "{id:?} {:?}", r.role);
            }
            let scraper = role(&p, &RoleKind::Scraper).unwrap();
            assert_eq!(scraper.replicas, 1);
            assert_eq!(scraper.receivers.len(), 4, "pg, redis, es, kafka");
        }
    }

    #[test]
    fn gateway_replicas_come_from_the_stack() {
        let p = plan_for(DKP, TopologyId::A);
        assert_eq!(role(&p, &RoleKind::Gateway).unwrap().replicas, 2);
        let node = p.graph.node_weights().find(|n| n.name == "dkp-gateway").unwrap();
        assert_eq!(node.replicas, 2);
    }

    #[test]
    fn every_pipeline_starts_with_the_memory_limiter() {
        for id in TopologyId::ALL {
            for r in &plan_for(DKP, id).roles {
                for pipeline in &r.pipelines {
                    assert_eq!(pipeline.processors[0].kind, K::MemoryLimiterProcessor, "{id:?} {:?}", r.role);
                }
            }
        }
    }

    #[test]
    fn memory_limits_follow_the_container() {
        let p = plan_for(DKP, TopologyId::A);
        let gateway = role(&p, &RoleKind::Gateway).unwrap();
        assert_eq!(gateway.memory_limit_mib, 512);
        assert_eq!(gateway.processors[0].spec, ProcessorSpec::MemoryLimiter { limit_mib: 409, spike_limit_mib: 102 });
        assert_eq!(role(&p, &RoleKind::Scraper).unwrap().memory_limit_mib, 128);
    }

    #[test]
    fn b_sends_apps_and_collectors_straight_to_apm_server() {
        let p = plan_for(DKP, TopologyId::B);
        assert!(role(&p, &RoleKind::Gateway).is_none());
        let edges = p.edges();
        assert!(edges.iter().any(|e| e.from == "web" && e.to == "apm-server" && e.port == Some(8200)));
        assert!(edges
            .iter()
            .any(|e| e.from == "dkp-scraper" && e.to == "apm-server" && e.protocol == Protocol::OtlpGrpc));
        assert!(edges.iter().all(|e| e.to != "dkp-gateway"));
        assert!(p.apps.iter().all(|a| a.auth.as_ref().is_some_and(|(s, _)| s == "Bearer")));
    }

    #[test]
    fn b_without_datastores_has_no_collector() {
        let text = "version: 1\nname: x\nbackends:\n  elasticsearch:\n    endpoint: http://es:9200\n  apm_server:\n    endpoint: http://apm:8200\nservices:\n  web:\n    kind: django\n";
        assert!(plan_for(text, TopologyId::B).roles.is_empty());
    }

    #[test]
    fn c_routes_each_signal_to_its_store() {
        let p = plan_for(DKP, TopologyId::C);
        let gw = role(&p, &RoleKind::Gateway).unwrap();
        let exporter_of = |s: Signal| gw.pipelines.iter().find(|x| x.signal == s).unwrap().exporters[0].name.clone();
        assert_eq!(exporter_of(Signal::Traces).as_deref(), Some("jaeger"));
        assert_eq!(exporter_of(Signal::Metrics).as_deref(), Some("prometheus"));
        assert_eq!(exporter_of(Signal::Logs).as_deref(), Some("loki"));
    }

    #[test]
    fn jaeger_port_4318_means_otlp_http() {
        let text = DKP.replace("endpoint: http://jaeger:4317", "endpoint: http://jaeger:4318");
        let p = plan_for(&text, TopologyId::C);
        let gw = role(&p, &RoleKind::Gateway).unwrap();
        assert!(gw.exporters.iter().any(|e| e.id == ComponentId::named(K::OtlpHttpExporter, "jaeger")));
    }

    #[test]
    fn intake_forwards_what_it_receives() {
        let p = plan_for(DKP, TopologyId::A);
        let forwarded: BTreeSet<Signal> = p
            .edges()
            .into_iter()
            .filter(|e| e.from == "apm-server" && e.to == "elasticsearch")
            .map(|e| e.signal)
            .collect();
        assert_eq!(forwarded, Signal::ALL.into_iter().collect());
    }

    #[test]
    fn datastore_pipelines_name_their_service() {
        let p = plan_for(DKP, TopologyId::D);
        let scraper = role(&p, &RoleKind::Scraper).unwrap();
        let db = scraper.processors.iter().find(|x| x.id == ComponentId::named(K::ResourceProcessor, "db")).unwrap();
        let ProcessorSpec::InsertResource(attrs) = &db.spec else { panic!("not a resource processor") };
        assert!(attrs.contains(&("service.name".to_string(), "db".to_string())));
    }

    #[test]
    fn jmx_kafka_exports_where_apps_export() {
        let text = DKP.replace("metrics: receiver", "metrics: jmx");
        for (id, entry) in [(TopologyId::A, "dkp-gateway"), (TopologyId::B, "apm-server")] {
            let p = plan_for(&text, id);
            assert!(p.edges().iter().any(|e| e.from == "events" && e.to == entry && e.signal == Signal::Metrics));
            let scraper = role(&p, &RoleKind::Scraper).unwrap();
            assert!(!scraper.receivers.iter().any(|r| r.id.kind == K::KafkaMetricsReceiver));
        }
    }

    #[test]
    fn default_instrumentations_follow_the_datastores() {
        let p = plan_for(DKP, TopologyId::D);
        let worker = p.apps.iter().find(|a| a.service == "worker").unwrap();
        assert_eq!(
            worker.instrumentations,
            vec![
                Instrumentation::Psycopg,
                Instrumentation::Redis,
                Instrumentation::Elasticsearch,
                Instrumentation::KafkaPython
            ]
        );
    }

    #[test]
    fn hypothetical_plans_stand_in_for_missing_backends() {
        let text = "version: 1\nname: x\nservices:\n  web:\n    kind: django\n";
        let (valid, _) = crate::check(&Source::from_text("t.yaml", text)).unwrap();
        for id in TopologyId::ALL {
            let p = plan_hypothetical(&valid, id).unwrap();
            assert!(p.graph.node_count() >= 2, "{id:?}");
        }
        let p = plan_hypothetical(&valid, TopologyId::C).unwrap();
        assert!(p.edges().iter().any(|e| e.to == "jaeger"));
    }

    #[test]
    fn graph_is_built_in_id_order() {
        let a = plan_for(DKP, TopologyId::A);
        let b = plan_for(DKP, TopologyId::A);
        let names = |p: &Plan| p.graph.node_weights().map(|n| n.id.0.clone()).collect::<Vec<_>>();
        let mut sorted = names(&a);
        sorted.sort();
        assert_eq!(names(&a), sorted);
        assert_eq!(names(&a), names(&b));
    }
}
