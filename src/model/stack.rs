//! `Stack`: the whole stack file as the user wrote it, shape checked, no defaults resolved
//! (parse stage). The JSON Schema in `schemas/stack.schema.json` is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::backend::Backends;
use crate::model::keywords::{DistributionId, Priority, Target, TopologyChoice, TopologyId};
use crate::model::load::Load;
use crate::model::node::Node;
use crate::model::reader::{boolean, integer, keyword, label, label_text, list, one_of, short_text, MapView};
use crate::model::sampling::Sampling;
use crate::model::service::Service;
use crate::model::tls::TlsServer;
use crate::model::version::CollectorVersion;
use crate::span::Spanned;

/// Collector settings.
#[derive(Debug, Clone, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectorSettings {
    /// collector-contrib image tag, at least 0.130.0 (default: the tested version).
    pub(crate) version: Option<Spanned<CollectorVersion>>,
    /// Which collector build the collectors run: `contrib` (OpenTelemetry Collector Contrib) or
    /// `edot` (Elastic's distribution at the release otelplan pins; in topology D it adds the
    /// `elasticapm` processor and connector, which compute what Kibana's APM UI needs). A
    /// component the distribution lacks is an error naming it (default `contrib`).
    #[schemars(extend("default" = "contrib"))]
    pub(crate) distribution: Option<Spanned<DistributionId>>,
    /// Kubernetes gateway replicas, the autoscaler's minimum (default 2).
    #[schemars(range(min = 1, max = 100), extend("default" = 2))]
    pub(crate) gateway_replicas: Option<Spanned<u64>>,
    /// Container memory limit in MiB; the `memory_limiter` settings follow from it (default 512).
    #[schemars(range(min = 64, max = 65536), extend("default" = 512))]
    pub(crate) memory_limit_mib: Option<Spanned<u64>>,
    /// Exporters queue on disk, so a backend outage or restart loses nothing (default true).
    #[schemars(extend("default" = true))]
    pub(crate) persistent_queue: Option<Spanned<bool>>,
    /// TLS on the collectors' OTLP intake (default: plain text).
    pub(crate) tls: Option<TlsServer>,
    /// A buffer between the gateway and the stores (topologies A, C and D).
    pub(crate) buffer: Option<crate::model::buffer::Buffer>,
}

impl CollectorSettings {
    fn read(node: &Node, d: &mut Diagnostics) -> Option<Self> {
        let m = MapView::open(
            node,
            "collector",
            &["version", "distribution", "gateway_replicas", "memory_limit_mib", "persistent_queue", "tls", "buffer"],
            d,
        )?;
        Some(CollectorSettings {
            version: m.get("version").and_then(|n| CollectorVersion::read(n, "collector.version", d)),
            distribution: m.get("distribution").and_then(|n| keyword(n, "collector.distribution", d)),
            gateway_replicas: m
                .get("gateway_replicas")
                .and_then(|n| integer(n, "collector.gateway_replicas", 1, 100, d)),
            memory_limit_mib: m
                .get("memory_limit_mib")
                .and_then(|n| integer(n, "collector.memory_limit_mib", 64, 65536, d)),
            persistent_queue: m.get("persistent_queue").and_then(|n| boolean(n, "collector.persistent_queue", d)),
            tls: m.get("tls").and_then(|n| TlsServer::read(n, "collector.tls", d)),
            buffer: m.get("buffer").and_then(|n| crate::model::buffer::Buffer::read(n, m.key_span("buffer"), d)),
        })
    }
}

/// Kubernetes settings.
#[derive(Debug, Clone, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KubernetesSettings {
    /// Namespace of collectors and backends (default `observability`).
    #[schemars(extend("default" = "observability"))]
    pub(crate) namespace: Option<Spanned<String>>,
    /// Namespace of the DKP workloads that otelplan patches (default `default`).
    #[schemars(extend("default" = "default"))]
    pub(crate) app_namespace: Option<Spanned<String>>,
}

impl KubernetesSettings {
    fn read(node: &Node, d: &mut Diagnostics) -> Option<Self> {
        let m = MapView::open(node, "kubernetes", &["namespace", "app_namespace"], d)?;
        Some(KubernetesSettings {
            namespace: m.get("namespace").and_then(|n| label(n, "kubernetes.namespace", 63, d)),
            app_namespace: m.get("app_namespace").and_then(|n| label(n, "kubernetes.app_namespace", 63, d)),
        })
    }
}

/// An otelplan stack file, format version 1.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "otelplan stack file, format version 1")]
pub(crate) struct Stack {
    /// The format version: the integer 1.
    #[schemars(range(min = 1, max = 1))]
    pub(crate) version: Spanned<u64>,
    /// RFC 1035 label, at most 40 characters; prefixes the names of what otelplan creates.
    #[schemars(regex(pattern = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"))]
    pub(crate) name: Spanned<String>,
    /// Becomes the resource attribute `deployment.environment.name` (default `production`).
    #[schemars(extend("default" = "production"), length(min = 1, max = 256))]
    pub(crate) environment: Option<Spanned<String>>,
    /// Which architecture to render.
    pub(crate) topology: Option<Spanned<TopologyChoice>>,
    /// What matters most, in order, with no repeats (default `[long-term-support, simplicity]`).
    #[schemars(extend("uniqueItems" = true, "default" = ["long-term-support", "simplicity"]))]
    pub(crate) priorities: Option<Spanned<Vec<Spanned<Priority>>>>,
    /// Deployment targets whose files are written (default both).
    #[schemars(extend("uniqueItems" = true, "default" = ["compose", "kubernetes"]))]
    pub(crate) targets: Option<Spanned<Vec<Spanned<Target>>>>,
    /// Collector settings.
    pub(crate) collector: Option<CollectorSettings>,
    /// Telemetry backends.
    pub(crate) backends: Option<Backends>,
    /// Kubernetes settings.
    pub(crate) kubernetes: Option<KubernetesSettings>,
    /// Peak telemetry rates and the outage to absorb, to size the deployment from.
    pub(crate) load: Option<Load>,
    /// Trace sampling: in the SDKs (`head`) and by a sampler tier behind the gateway (`tail`).
    pub(crate) sampling: Option<Sampling>,
    /// The DKP services, by name (RFC 1035 label, at most 30 characters).
    #[schemars(extend("minProperties" = 1, "propertyNames" = {"pattern": r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$"}))]
    pub(crate) services: Spanned<BTreeMap<String, Spanned<Service>>>,
    /// Where `backends:` is written, for messages about missing backends.
    #[schemars(skip)]
    pub(crate) backends_span: Option<crate::span::Span>,
    /// Where `sampling.tail` (else `sampling`) is written, for messages about tail sampling.
    #[schemars(skip)]
    pub(crate) sampling_span: Option<crate::span::Span>,
}

/// Top-level keys of the format.
pub(crate) const TOP_LEVEL: [&str; 12] = [
    "version",
    "name",
    "environment",
    "topology",
    "priorities",
    "targets",
    "collector",
    "backends",
    "kubernetes",
    "load",
    "sampling",
    "services",
];

impl Stack {
    /// Build the stack from its located tree, reporting every shape problem.
    pub(crate) fn read(root: &Node, d: &mut Diagnostics) -> Option<Stack> {
        let m = MapView::open(root, "", &TOP_LEVEL, d)?;
        let version = m.required("version", d).and_then(|n| read_version(n, d));
        let name = m.required("name", d).and_then(|n| label(n, "name", 40, d));
        let environment = m.get("environment").and_then(|n| short_text(n, "environment", 256, d));
        let topology = m.get("topology").and_then(|n| {
            let mut choices: Vec<(&str, TopologyChoice)> =
                TopologyId::all().into_iter().map(|id| (id.letter(), TopologyChoice::Fixed(id))).collect();
            choices.push(("auto", TopologyChoice::Auto));
            one_of(n, "topology", &choices, true, d)
        });
        let priorities = m.get("priorities").and_then(|n| list(n, "priorities", true, d, keyword));
        let targets = m.get("targets").and_then(|n| list(n, "targets", true, d, keyword));
        let collector = m.get("collector").and_then(|n| CollectorSettings::read(n, d));
        let backends = m.get("backends").and_then(|n| Backends::read(n, d));
        let kubernetes = m.get("kubernetes").and_then(|n| KubernetesSettings::read(n, d));
        let load = m.get("load").and_then(|n| Load::read(n, d));
        let sampling = m.get("sampling").and_then(|n| Sampling::read(n, d));
        let sampling_span = m.get("sampling").map(|n| tail_span(n).unwrap_or(n.span));
        let services = m.required("services", d).and_then(|n| read_services(n, d));
        Some(Stack {
            version: version?,
            name: name?,
            environment,
            topology,
            priorities,
            targets,
            collector,
            backends,
            kubernetes,
            load,
            sampling,
            services: services?,
            backends_span: m.key_span("backends"),
            sampling_span,
        })
    }
}

/// Where `tail` is written inside `sampling`, when it is.
fn tail_span(sampling: &Node) -> Option<crate::span::Span> {
    let crate::model::node::Value::Map(entries) = &sampling.value else { return None };
    entries
        .iter()
        .find(|(k, _)| matches!(&k.value, crate::model::node::Value::Scalar { text, .. } if text == "tail"))
        .map(|(k, _)| k.span)
}

fn read_version(node: &Node, d: &mut Diagnostics) -> Option<Spanned<u64>> {
    let number = match &node.value {
        crate::model::node::Value::Scalar { text, plain: true } => text.parse::<u64>().ok(),
        _ => None,
    };
    let Some(number) = number else {
        d.push(
            Diagnostic::error(node.span, format!("`version` must be the integer 1, found {}", node.kind_name()))
                .hint("write `version: 1`, unquoted"),
        );
        return None;
    };
    let v = Spanned::new(number, node.span);
    if v.value != 1 {
        d.push(
            Diagnostic::error(v.span, format!("`version` is {}, but this otelplan reads format version 1", v.value))
                .hint("write `version: 1`"),
        );
        return None;
    }
    Some(v)
}

fn read_services(node: &Node, d: &mut Diagnostics) -> Option<Spanned<BTreeMap<String, Spanned<Service>>>> {
    let m = MapView::open(node, "services", &[], d)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, key, value) in m.entries() {
        let path = format!("services.{name}");
        let checked = label_text(name, key.span, &path, 30, d);
        match (checked, Service::read(value, &path, d)) {
            (Some(n), Some(s)) => {
                out.insert(n.value, Spanned::new(s, key.span));
            }
            _ => ok = false,
        }
    }
    if out.is_empty() && ok {
        d.push(
            Diagnostic::error(node.span, "`services` is empty, expected at least one service")
                .hint("add a Django service, for example `web: { kind: django }`"),
        );
        return None;
    }
    ok.then(|| Spanned::new(out, node.span))
}
