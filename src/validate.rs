//! Validate stage: the rules that span fields (credentials that go together, deployed
//! sandboxes, name clashes), and the defaults resolved. Only this module builds a `ValidStack`.

use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::backend::{BackendCommon, Backends};
use crate::model::buffer::{Buffer, KafkaBuffer};
use crate::model::endpoint::Scheme;
use crate::model::keywords::{DistributionId, Priority, Target, TopologyChoice};
use crate::model::names;
use crate::model::service::{Logs, Service};
use crate::model::version::CollectorVersion;
use crate::model::Stack;
use crate::plan::backend_spec::Catalog;
use crate::plan::distribution::Distribution;
use crate::settings::{self, ServerTls, ServiceSettings};
use crate::span::{Span, Spanned};
use crate::topology::BackendKind;

/// `collector.gateway_replicas` when the file does not say (and the fewest a declared load gets:
/// one replica may restart while the other carries the load).
pub(crate) const DEFAULT_GATEWAY_REPLICAS: u32 = 2;
/// `collector.memory_limit_mib` when the file does not say.
pub(crate) const DEFAULT_MEMORY_LIMIT_MIB: u32 = 512;

/// Resolved collector settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CollectorDefaults {
    /// The OpenTelemetry Collector release whose components the configs are written for (for
    /// EDOT, the one its pinned release is built from).
    pub(crate) version: CollectorVersion,
    /// Which collector build runs the configs.
    pub(crate) distribution: DistributionId,
    /// Kubernetes gateway replicas.
    pub(crate) gateway_replicas: u32,
    /// Container memory limit in MiB.
    pub(crate) memory_limit_mib: u32,
    /// Exporters queue on disk.
    pub(crate) persistent_queue: bool,
}

/// A stack that passed every rule, with its defaults resolved. Only `validate` makes one.
#[derive(Debug, Clone)]
pub(crate) struct ValidStack {
    /// The stack as written.
    pub(crate) stack: Stack,
    /// `environment`, default `production`.
    pub(crate) environment: String,
    /// `topology`, default `auto`, with its span when written.
    pub(crate) topology: (TopologyChoice, Option<Span>),
    /// `priorities`, default `[long-term-support, simplicity]`.
    pub(crate) priorities: Vec<Priority>,
    /// `targets`, default both.
    pub(crate) targets: BTreeSet<Target>,
    /// Collector settings.
    pub(crate) collector: CollectorDefaults,
    /// TLS on the collectors' OTLP intake (`collector.tls`).
    pub(crate) intake_tls: Option<ServerTls>,
    /// `kubernetes.namespace`, default `observability`.
    pub(crate) namespace: String,
    /// `kubernetes.app_namespace`, default `default`.
    pub(crate) app_namespace: String,
    /// Every service, its defaults applied, in name order.
    pub(crate) services: Vec<ServiceSettings>,
    /// The declared `load`, `outage_minutes` defaulted.
    pub(crate) load: Option<crate::plan::capacity::DeclaredLoad>,
    /// `sampling.head.ratio`: the share of traces the SDKs keep.
    pub(crate) head_sampling: Option<f64>,
    /// `sampling.tail`, defaults applied.
    pub(crate) tail_sampling: Option<crate::model::sampling::TailPolicy>,
    /// `collector.buffer.kafka`, checked (a gateway's topology, a deployable broker), with the
    /// span of the `buffer` key.
    pub(crate) buffer: Option<Spanned<KafkaBuffer>>,
    _sealed: (),
}

impl ValidStack {
    /// The backends section (empty when absent).
    pub(crate) fn backends(&self) -> Backends {
        self.stack.backends.clone().unwrap_or_default()
    }
}

/// Check the cross-field rules of `stack` and resolve its defaults.
pub(crate) fn validate(stack: Stack) -> Result<(ValidStack, Diagnostics), Diagnostics> {
    let mut d = Diagnostics::default();
    if let Some(b) = &stack.backends {
        check_backends(b, &stack, &mut d);
    }
    for (name, service) in &stack.services.value {
        check_service(name, service, &mut d);
    }
    check_generated_names(&stack, &mut d);
    let buffer = stack.collector.as_ref().and_then(|c| c.buffer.as_ref());
    if let Some(b) = buffer {
        check_buffer(b, &stack, &mut d);
    }
    // Messages about the buffer point at its `buffer` key.
    let buffer = buffer.map(|b| Spanned::new(b.kafka.value.clone(), b.span));
    let distribution = check_distribution(&stack, &mut d);
    let (false, Some(distribution)) = (d.has_errors(), distribution) else {
        return Err(d);
    };
    let c = stack.collector.clone().unwrap_or_default();
    let k = stack.kubernetes.clone().unwrap_or_default();
    let valid = ValidStack {
        environment: stack.environment.as_ref().map_or_else(|| "production".to_string(), |e| e.value.clone()),
        topology: stack.topology.as_ref().map_or((TopologyChoice::Auto, None), |t| (t.value, Some(t.span))),
        priorities: stack.priorities.as_ref().map_or_else(
            || vec![Priority::LongTermSupport, Priority::Simplicity],
            |p| p.value.iter().map(|x| x.value).collect(),
        ),
        targets: stack.targets.as_ref().map_or_else(
            || [Target::Compose, Target::Kubernetes].into_iter().collect(),
            |t| t.value.iter().map(|x| x.value).collect(),
        ),
        collector: CollectorDefaults {
            version: distribution.components_at(c.version.map_or(CollectorVersion::pinned(), |v| v.value)),
            distribution: c.distribution.map_or(DistributionId::Contrib, |v| v.value),
            gateway_replicas: c
                .gateway_replicas
                .map_or(DEFAULT_GATEWAY_REPLICAS, |v| u32::try_from(v.value).unwrap_or(u32::MAX)),
            memory_limit_mib: c
                .memory_limit_mib
                .map_or(DEFAULT_MEMORY_LIMIT_MIB, |v| u32::try_from(v.value).unwrap_or(u32::MAX)),
            persistent_queue: c.persistent_queue.is_none_or(|v| v.value),
        },
        namespace: k.namespace.map_or_else(|| "observability".to_string(), |n| n.value),
        app_namespace: k.app_namespace.map_or_else(|| "default".to_string(), |n| n.value),
        services: settings::resolve(&stack),
        load: stack.load.as_ref().map(crate::model::load::Load::resolve),
        head_sampling: stack.sampling.as_ref().and_then(crate::model::sampling::Sampling::head_ratio),
        tail_sampling: stack
            .sampling
            .as_ref()
            .zip(stack.sampling_span.or(Some(stack.version.span)))
            .and_then(|(s, span)| s.tail_policy(span)),
        buffer,
        intake_tls: stack.collector.as_ref().and_then(|c| c.tls.as_ref()).map(ServerTls::from_model),
        stack,
        _sealed: (),
    };
    Ok((valid, d))
}

/// The distribution the stack names (contrib by default). One with release numbers of its own
/// (EDOT) is known at one release only: `collector.version` may only name that one.
fn check_distribution(stack: &Stack, d: &mut Diagnostics) -> Option<&'static Distribution> {
    let c = stack.collector.as_ref();
    let id = c.and_then(|c| c.distribution.as_ref()).map_or(DistributionId::Contrib, |v| v.value);
    let Ok(dist) = Distribution::of(id) else {
        d.push(Diagnostic::file_error(format!(
            "the `{}` distribution's table does not load (this is a bug in otelplan)",
            id.as_str()
        )));
        return None;
    };
    if let (Some(_), Some(v)) = (dist.components_version, c.and_then(|c| c.version.as_ref())) {
        if v.value != dist.default_version {
            d.push(
                Diagnostic::error(
                    v.span,
                    format!(
                        "`collector.version` is {}, but with `distribution: {}` otelplan knows only the components of {} {}",
                        v.value,
                        id.as_str(),
                        dist.title,
                        dist.default_version
                    ),
                )
                .hint(format!(
                    "remove `collector.version` (the {} release otelplan pins is {}), or use `distribution: contrib`",
                    dist.title, dist.default_version
                )),
            );
        }
    }
    Some(dist)
}

fn pair_rule<A, B>(
    first: Option<&Spanned<A>>,
    second: Option<&Spanned<B>>,
    owner: &str,
    names: (&str, &str),
    d: &mut Diagnostics,
) {
    match (first, second) {
        (Some(a), None) => d.push(
            Diagnostic::error(a.span, format!("`{owner}.{}` is given without `{owner}.{}`", names.0, names.1))
                .hint(format!("give both `{}` and `{}`, or neither", names.0, names.1)),
        ),
        (None, Some(b)) => d.push(
            Diagnostic::error(b.span, format!("`{owner}.{}` is given without `{owner}.{}`", names.1, names.0))
                .hint(format!("give both `{}` and `{}`, or neither", names.0, names.1)),
        ),
        _ => {}
    }
}

fn check_backends(b: &Backends, stack: &Stack, d: &mut Diagnostics) {
    if let Some(es) = &b.elasticsearch {
        let owner = "backends.elasticsearch";
        pair_rule(es.username.as_ref(), es.password.as_ref(), owner, ("username", "password"), d);
        if let Some(key) = es.api_key.as_ref().filter(|_| es.username.is_some() || es.password.is_some()) {
            d.push(
                Diagnostic::error(key.span, format!("`{owner}` has both `api_key` and `username`/`password`"))
                    .hint("give one credential: the encoded `api_key`, or `username` + `password`"),
            );
        }
        if es.common.deployed() {
            check_deployed_elasticsearch(es, owner, d);
        }
    }
    if let Some(apm) = &b.apm_server {
        if let (Some(token), Some(_)) = (&apm.secret_token, &apm.api_key) {
            d.push(
                Diagnostic::error(token.span, "`backends.apm_server` has both `secret_token` and `api_key`")
                    .hint("give one agent credential"),
            );
        }
    }
    if let Some(ep) = b.jaeger.as_ref().and_then(|j| j.common.endpoint.as_ref()) {
        if !matches!(ep.value.port, 4317 | 4318) {
            d.push(
                Diagnostic::error(ep.span, format!("`backends.jaeger.endpoint` uses port {}, expected Jaeger's OTLP port 4317 (gRPC) or 4318 (HTTP)", ep.value.port))
                    .hint("the port decides the protocol: for example `http://jaeger:4317`"),
            );
        }
    }
    check_deployed_hosts(b, stack, d);
}

fn check_deployed_elasticsearch(es: &crate::model::backend::ElasticsearchBackend, owner: &str, d: &mut Diagnostics) {
    let span = es.common.deploy.as_ref().map_or_else(Span::default, |s| s.span);
    if let Some(key) = &es.api_key {
        d.push(
            Diagnostic::error(
                key.span,
                format!("a deployed `{owner}` cannot use `api_key`: no key exists before the cluster does"),
            )
            .hint("use `username: elastic` and `password: ${ELASTIC_PASSWORD}`"),
        );
    }
    match &es.username {
        Some(u) if u.value != "elastic" => d.push(
            Diagnostic::error(
                u.span,
                format!("a deployed `{owner}` is reached as its `elastic` user, found `{}`", u.value),
            )
            .hint("write `username: elastic`; the sandbox's `elastic` password is `password`"),
        ),
        None if es.api_key.is_none() => d.push(
            Diagnostic::error(span, format!("a deployed `{owner}` needs `username: elastic` and `password`"))
                .hint("the sandbox runs with security on; its `elastic` user gets `password`"),
        ),
        _ => {}
    }
    if let Some(ep) = &es.common.endpoint {
        if ep.value.scheme != Some(Scheme::Http) {
            d.push(
                Diagnostic::error(
                    ep.span,
                    format!("a deployed `{owner}` serves plain HTTP, so its endpoint must be an `http://` URL"),
                )
                .hint(format!(
                    "for example `http://{}:{}`",
                    ep.value.host.as_url_host(),
                    ep.value.port
                )),
            );
        }
    }
}

fn deployed_list(b: &Backends) -> Vec<(&'static str, &BackendCommon)> {
    let mut out: Vec<(&'static str, &BackendCommon)> = Vec::new();
    if let Some(x) = &b.elasticsearch {
        out.push(("elasticsearch", &x.common));
    }
    if let Some(x) = &b.apm_server {
        out.push(("apm_server", &x.common));
    }
    if let Some(x) = &b.jaeger {
        out.push(("jaeger", &x.common));
    }
    if let Some(x) = &b.prometheus {
        out.push(("prometheus", &x.common));
    }
    if let Some(x) = &b.loki {
        out.push(("loki", &x.common));
    }
    out.retain(|(_, c)| c.deployed());
    out
}

fn check_deployed_hosts(b: &Backends, stack: &Stack, d: &mut Diagnostics) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (name, common) in deployed_list(b) {
        if common.tls.is_some() {
            let span = common.deploy.as_ref().map_or_else(Span::default, |s| s.span);
            d.push(
                Diagnostic::error(
                    span,
                    format!("`backends.{name}` is deployed and has `tls`, but otelplan's sandboxes serve plain HTTP"),
                )
                .hint("point at your own TLS-enabled backend (`deploy: false`), or drop `tls` for the sandbox"),
            );
        }
        let Some(ep) = &common.endpoint else {
            let span = common.deploy.as_ref().map_or_else(Span::default, |s| s.span);
            d.push(
                Diagnostic::error(span, format!("`backends.{name}` is deployed but has no `endpoint`"))
                    .hint("a deployed backend runs under its endpoint's host name: give the endpoint"),
            );
            continue;
        };
        let host = ep.value.host.text();
        let standard = BackendKind::ALL
            .into_iter()
            .find(|k| k.key() == name)
            .and_then(|k| Catalog::get().ok().map(|c| c.backend(k).endpoint_ports()))
            .unwrap_or_default();
        if standard.is_empty() {
            continue;
        }
        if !standard.contains(&ep.value.port) {
            d.push(
                Diagnostic::error(
                    ep.span,
                    format!(
                        "`backends.{name}` is deployed, so it listens on its image's port {}, but the endpoint says {}",
                        standard[0], ep.value.port
                    ),
                )
                .hint(format!(
                    "write the endpoint with port {}, or point at a backend you run yourself (`deploy: false`)",
                    standard[0]
                )),
            );
        }
        if !ep.value.host.is_short() {
            d.push(
                Diagnostic::error(ep.span, format!("`backends.{name}` is deployed, so its endpoint's host must be a short name (no dots, not an address), found `{host}`"))
                    .hint("a deployed backend runs under its endpoint's host name inside the deployment"),
            );
            continue;
        }
        if stack.services.value.contains_key(host) {
            d.push(
                Diagnostic::error(ep.span, format!("`backends.{name}` is deployed as `{host}`, the name of a service"))
                    .hint("give the backend another host name in its endpoint"),
            );
        }
        if let Some((other, _)) = seen.iter().find(|(_, h)| *h == host) {
            d.push(
                Diagnostic::error(
                    ep.span,
                    format!("`backends.{name}` and `backends.{other}` are both deployed as `{host}`"),
                )
                .hint("each deployed backend needs its own host name"),
            );
        }
        seen.push((name, host));
    }
}

/// The names otelplan gives what it runs (`<stack>-gateway`, …), which a service or a deployed
/// backend must not take: in one compose project they would be the same service.
fn generated_names(stack: &Stack) -> BTreeSet<String> {
    let prefix = &stack.name.value;
    let mut names: BTreeSet<String> = names::WORKLOAD_SUFFIXES.iter().map(|s| names::workload(prefix, s)).collect();
    names.extend(stack.services.value.keys().map(|ds| names::file_agent(prefix, ds)));
    names
}

fn check_generated_names(stack: &Stack, d: &mut Diagnostics) {
    let generated = generated_names(stack);
    for (name, service) in &stack.services.value {
        if generated.contains(name) {
            d.push(
                Diagnostic::error(
                    service.span,
                    format!("service `{name}` has the name otelplan gives one of its own workloads"),
                )
                .hint(format!("rename the service, or the stack (`name: {}`)", stack.name.value)),
            );
        }
    }
    let Some(b) = &stack.backends else { return };
    for (key, common) in deployed_list(b) {
        if let Some(ep) = common.endpoint.as_ref().filter(|e| generated.contains(e.value.host.text())) {
            d.push(
                Diagnostic::error(
                    ep.span,
                    format!(
                        "`backends.{key}` is deployed as `{}`, the name otelplan gives one of its own workloads",
                        ep.value.host.text()
                    ),
                )
                .hint("give the backend another host name in its endpoint"),
            );
        }
    }
}

/// `collector.buffer`: only where a gateway exists to write to it (B has none), and a deployed
/// Kafka is one broker, under a short host name that nothing else has.
fn check_buffer(b: &Buffer, stack: &Stack, d: &mut Diagnostics) {
    let gatewayless = |t: &Spanned<TopologyChoice>| match t.value {
        TopologyChoice::Fixed(id) => crate::topology::Topology::load(id).is_ok_and(|t| !t.uses_gateway()),
        TopologyChoice::Auto => false,
    };
    if let Some(t) = stack.topology.as_ref().filter(|t| gatewayless(t)) {
        let letter = match t.value {
            TopologyChoice::Fixed(id) => id.letter(),
            TopologyChoice::Auto => "auto",
        };
        d.push(
            Diagnostic::error(
                b.span,
                format!("`collector.buffer` needs a gateway to write to Kafka, and topology {letter} has none"),
            )
            .hint(format!(
                "`topology: {letter}` is set at line {}: apps send straight to APM Server there",
                t.span.line
            ))
            .hint("choose topology A, C or D (or `auto`), or remove `collector.buffer`"),
        );
    }
    let kafka = &b.kafka.value;
    if !kafka.deployed() {
        return;
    }
    let brokers = &kafka.brokers;
    if brokers.value.len() != 1 {
        d.push(
            Diagnostic::error(
                brokers.span,
                format!(
                    "a deployed Kafka is a single node, and `collector.buffer.kafka.brokers` lists {}",
                    brokers.value.len()
                ),
            )
            .hint("list its one `host:port`, for example `brokers: [kafka:9092]`, or drop `deploy: true`"),
        );
        return;
    }
    let broker = &brokers.value[0];
    let host = broker.value.host.text();
    if !broker.value.host.is_short() {
        d.push(
            Diagnostic::error(
                broker.span,
                format!("a deployed Kafka runs under its broker's host, and `{host}` is not a name without a dot"),
            )
            .hint("name it inside the deployment, for example `kafka:9092`"),
        );
    } else if stack.services.value.contains_key(host) || generated_names(stack).contains(host) {
        d.push(
            Diagnostic::error(broker.span, format!("the deployed Kafka would run as `{host}`, a name already taken"))
                .hint("give the buffer's broker another host name, for example `buffer-kafka:9092`"),
        );
    }
}

/// Data directories of each datastore's official images: a log directory there would put the
/// shared log volume over (or inside) the datastore's own data.
fn data_dirs(service: &Service) -> &'static [&'static str] {
    match service {
        Service::Postgres(_) => &["/var/lib/postgresql"],
        Service::Redis(_) => &["/data"],
        Service::Elasticsearch(_) => &["/usr/share/elasticsearch/data"],
        Service::Kafka(_) => &["/var/lib/kafka", "/bitnami", "/tmp/kraft-combined-logs"],
        Service::Django(_) => &[],
    }
}

fn check_log_dir(name: &str, service: &Service, d: &mut Diagnostics) {
    let Some(Logs::Files(files)) = service.logs().map(|l| &l.value) else { return };
    let glob = &files.path;
    let dir = crate::settings::glob_dir(&glob.value);
    let inside = |data: &str| dir == data || dir.starts_with(&format!("{data}/"));
    if let Some(data) = data_dirs(service).iter().find(|data| inside(data)) {
        d.push(
            Diagnostic::error(glob.span, format!("`services.{name}.logs.path` is in `{data}`, where the datastore keeps its data"))
                .hint("the log directory is shared with the agent as its own volume: point the datastore's logs at a directory such as `/var/log/<name>`"),
        );
    }
}

fn check_service(name: &str, service: &Spanned<Service>, d: &mut Diagnostics) {
    check_log_dir(name, &service.value, d);
    let owner = format!("services.{name}");
    match &service.value {
        Service::Django(s) => {
            if let Some(sig) = s.signals.as_ref().filter(|s| s.value.is_empty()) {
                d.push(
                    Diagnostic::error(sig.span, format!("`{owner}.signals` is empty"))
                        .hint("list at least one of `traces`, `metrics`, `logs`, or omit it for all three"),
                );
            }
        }
        Service::Postgres(s) => {
            pair_rule(s.username.as_ref(), s.password.as_ref(), &owner, ("username", "password"), d);
            if let Some(Logs::Files(files)) = s.logs.as_ref().map(|l| &l.value) {
                let pattern = files.path.value.rsplit('/').next().unwrap_or_default();
                if crate::plan::provision::hourly_file_name(pattern).is_none() {
                    d.push(
                        Diagnostic::warning(
                            files.path.span,
                            format!("`{owner}.logs.path` names its files without a `*`, so otelplan cannot rotate them"),
                        )
                        .hint("write the file name with one `*`, such as `/var/log/postgresql/*.log`: it becomes the hour of the day, and PostgreSQL keeps a day of hourly files; otherwise their rotation is yours"),
                    );
                }
            }
            if s.username.is_none() && s.password.is_none() {
                d.push(
                    Diagnostic::warning(
                        service.span,
                        format!("`{owner}` has no monitoring user, so its metrics are not collected"),
                    )
                    .hint(
                        "the postgresql receiver needs `username` and `password` of a user with the `pg_monitor` role",
                    ),
                );
            }
        }
        Service::Elasticsearch(s) => {
            pair_rule(s.username.as_ref(), s.password.as_ref(), &owner, ("username", "password"), d);
        }
        Service::Redis(s) => {
            if let (Some(u), None) = (&s.username, &s.password) {
                d.push(
                    Diagnostic::error(u.span, format!("`{owner}.username` is given without `{owner}.password`"))
                        .hint("an ACL user authenticates with a password"),
                );
            }
        }
        Service::Kafka(_) => {}
    }
}
