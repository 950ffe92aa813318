//! Emit stage: one OpenTelemetry Collector config per role, built as data and serialised, for
//! one deployment flavour and the stack's collector version.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::emit::yaml::{document, map, n, s, strings};
use crate::model::env_ref::EnvRef;
use crate::plan::collector::{
    CollectorRole, ComponentId, ComponentKind, ContainerLogSource, Delivery, EsAuth, Exporter, ExporterSpec,
    HeaderValue, Processor, ProcessorSpec, Receiver, ReceiverSpec, HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT,
    STORAGE_DIR,
};
use crate::plan::log_format::{LogFormat, PG_MESSAGE_SEVERITIES};
use crate::plan::{Addr, Flavor, Plan};

/// The label the compose overlay puts on datastores whose container logs are collected; the
/// json-file log driver copies it into each line's `attrs`.
pub(crate) const SERVICE_LABEL: &str = "io.otelplan.service";

/// Escape a literal for the collector, which expands `${…}` and reads `$$` as `$`.
fn lit(text: &str) -> Value {
    s(text.replace('$', "$$"))
}

fn secret(env: &EnvRef) -> Value {
    s(env.collector())
}

fn header(value: &HeaderValue) -> Value {
    match value {
        HeaderValue::Literal(t) => lit(t),
        HeaderValue::Secret { prefix, env } => s(format!("{}{}", prefix.replace('$', "$$"), env.collector())),
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    flavor: Flavor,
    /// Whether each of the role's processors belongs in this flavour's config, by id (the
    /// first processor of an id decides), looked up for every id of every pipeline.
    kept: BTreeMap<&'a ComponentId, bool>,
}

impl Ctx<'_> {
    fn id(&self, id: &ComponentId) -> String {
        let t = self.plan.distribution.type_name(id.kind, self.plan.collector_version);
        match &id.name {
            Some(name) => format!("{t}/{name}"),
            None => t.to_string(),
        }
    }

    /// Whether a processor belongs in this flavour's config.
    fn keeps(&self, p: &Processor) -> bool {
        p.only.is_none_or(|f| f == self.flavor)
    }

    /// Whether a pipeline's component id belongs in this flavour's config.
    fn keeps_id(&self, id: &ComponentId) -> bool {
        self.kept.get(id).is_none_or(|kept| *kept)
    }

    fn extension(&self, kind: ComponentKind) -> String {
        self.id(&ComponentId::bare(kind))
    }

    fn host_port(&self, a: &Addr) -> Value {
        lit(&a.host_port(self.flavor, &self.plan.namespaces))
    }

    fn url(&self, a: &Addr) -> Value {
        lit(&a.url(self.flavor, &self.plan.namespaces))
    }
}

/// The config of `role` in `flavor`.
pub(crate) fn render(plan: &Plan, role: &CollectorRole, flavor: Flavor) -> String {
    let mut cx = Ctx { plan, flavor, kept: BTreeMap::new() };
    for p in &role.processors {
        let kept = cx.keeps(p);
        cx.kept.entry(&p.id).or_insert(kept);
    }
    let mut extensions = vec![(
        cx.extension(ComponentKind::HealthCheckExtension),
        map([("endpoint", s(format!("0.0.0.0:{HEALTH_PORT}")))]),
    )];
    if role.file_storage {
        extensions.push((
            cx.extension(ComponentKind::FileStorageExtension),
            map([("directory", s(STORAGE_DIR)), ("create_directory", Value::Bool(true))]),
        ));
    }
    let extension_ids: Vec<String> = extensions.iter().map(|(k, _)| k.clone()).collect();
    let config = map([
        ("extensions", map(extensions)),
        ("receivers", map(role.receivers.iter().map(|r| (cx.id(&r.id), receiver(&cx, r))))),
        ("processors", map(role.processors.iter().filter(|p| cx.keeps(p)).map(|p| (cx.id(&p.id), processor(p))))),
        ("exporters", map(role.exporters.iter().map(|e| (cx.id(&e.id), exporter(&cx, e))))),
        (
            "service",
            map([
                ("extensions", strings(extension_ids)),
                (
                    "pipelines",
                    map(role.pipelines.iter().map(|p| {
                        let key = match &p.name {
                            Some(name) => format!("{}/{name}", p.signal.as_str()),
                            None => p.signal.as_str().to_string(),
                        };
                        let ids =
                            |list: &[ComponentId]| strings(list.iter().filter(|i| cx.keeps_id(i)).map(|i| cx.id(i)));
                        (
                            key,
                            map([
                                ("receivers", ids(&p.receivers)),
                                ("processors", ids(&p.processors)),
                                ("exporters", ids(&p.exporters)),
                            ]),
                        )
                    })),
                ),
            ]),
        ),
    ]);
    document(&config)
}

fn receiver(cx: &Ctx<'_>, r: &Receiver) -> Value {
    let mut v = match &r.spec {
        ReceiverSpec::Otlp => map([(
            "protocols",
            map([
                ("grpc", map([("endpoint", s(format!("0.0.0.0:{OTLP_GRPC_PORT}")))])),
                ("http", map([("endpoint", s(format!("0.0.0.0:{OTLP_HTTP_PORT}")))])),
            ]),
        )]),
        ReceiverSpec::Postgresql { endpoint, databases, username, password } => {
            let mut entries =
                vec![("endpoint", cx.host_port(endpoint)), ("username", lit(username)), ("password", secret(password))];
            if !databases.is_empty() {
                entries.push(("databases", Value::Sequence(databases.iter().map(|d| lit(d)).collect())));
            }
            // Plain TCP, as most in-cluster PostgreSQL servers run; the receiver's default
            // would require TLS.
            entries.push(("tls", map([("insecure", Value::Bool(true))])));
            map(entries)
        }
        ReceiverSpec::Redis { endpoint, username, password } => {
            let mut entries = vec![("endpoint", cx.host_port(endpoint))];
            if let Some(u) = username {
                entries.push(("username", lit(u)));
            }
            if let Some(p) = password {
                entries.push(("password", secret(p)));
            }
            map(entries)
        }
        ReceiverSpec::Elasticsearch { endpoint, auth } => {
            let mut entries = vec![("endpoint", cx.url(endpoint))];
            match auth {
                EsAuth::Basic { user, password } => {
                    entries.push(("username", lit(user)));
                    entries.push(("password", secret(password)));
                }
                EsAuth::ApiKey(_) | EsAuth::None => {}
            }
            map(entries)
        }
        ReceiverSpec::KafkaMetrics { brokers } => map([
            ("brokers", Value::Sequence(brokers.iter().map(|b| cx.host_port(b)).collect())),
            ("scrapers", strings(["brokers", "topics", "consumers"])),
        ]),
        ReceiverSpec::LogFiles { include, format } => {
            let mut entries = vec![
                ("include", Value::Sequence(include.iter().map(|g| lit(g)).collect())),
                ("start_at", s("beginning")),
                ("include_file_path", Value::Bool(true)),
            ];
            entries.extend(log_format(*format));
            map(entries)
        }
        ReceiverSpec::ContainerLogs { datastores } => container_logs(cx, datastores),
    };
    if r.checkpoints {
        if let Value::Mapping(m) = &mut v {
            m.insert(s("storage"), s(cx.extension(ComponentKind::FileStorageExtension)));
        }
    }
    v
}

/// A PostgreSQL timestamp as `%m` writes it with `log_timezone = 'UTC'`.
const PG_TIME: &str = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \S+";

/// How the `file_log` receiver reads a format. PostgreSQL's lines (prefix
/// `PG_LOG_LINE_PREFIX`) are joined into one record per message: a line that opens a message
/// (its label is a severity) starts a record, and the lines after it (tab-indented lines of a
/// multi-line statement, `DETAIL`, `STATEMENT`, …) join it. A line that never matches passes on
/// alone (`max_unmatched_batch_size: 1`), so a server writing another format still yields one
/// record per line. The record's time, severity, process, user and database come from the
/// prefix; the message becomes the body.
fn log_format(format: LogFormat) -> Vec<(&'static str, Value)> {
    match format {
        LogFormat::Lines => Vec::new(),
        LogFormat::PostgresStderr => {
            let levels = PG_MESSAGE_SEVERITIES.join("|");
            let first = format!("^{PG_TIME} \\[\\d+\\] (\\S*@\\S* )?({levels}):  ");
            let record = format!(
                "^(?P<time>{PG_TIME}) \\[(?P<pid>\\d+)\\] (?:(?P<user>\\S*)@(?P<database>\\S*) )?(?P<level>[A-Z0-9]+):  (?P<message>(?s:.*))$"
            );
            let cond = |expr: &str, op: Value| {
                let Value::Mapping(mut m) = op else { return op };
                m.insert(s("if"), s(expr));
                Value::Mapping(m)
            };
            let operators = vec![
                map([
                    ("type", s("recombine")),
                    ("combine_field", s("body")),
                    ("is_first_entry", lit(&format!("body matches `{first}`"))),
                    ("max_unmatched_batch_size", n(1u32)),
                    ("force_flush_period", s("1s")),
                    ("max_log_size", s("1MiB")),
                ]),
                map([
                    ("type", s("regex_parser")),
                    ("regex", lit(&record)),
                    ("on_error", s("send_quiet")),
                    (
                        "timestamp",
                        map([
                            ("parse_from", s("attributes.time")),
                            ("layout_type", s("gotime")),
                            ("layout", s("2006-01-02 15:04:05.000 MST")),
                        ]),
                    ),
                    ("severity", map([("parse_from", s("attributes.level")), ("mapping", pg_severities())])),
                ]),
                cond(
                    "attributes.message != nil",
                    map([("type", s("move")), ("from", s("attributes.message")), ("to", s("body"))]),
                ),
                cond("attributes.time != nil", map([("type", s("remove")), ("field", s("attributes.time"))])),
                cond("attributes.level != nil", map([("type", s("remove")), ("field", s("attributes.level"))])),
                cond("attributes.user == \"\"", map([("type", s("remove")), ("field", s("attributes.user"))])),
                cond("attributes.database == \"\"", map([("type", s("remove")), ("field", s("attributes.database"))])),
            ];
            vec![("preserve_leading_whitespaces", Value::Bool(true)), ("operators", Value::Sequence(operators))]
        }
    }
}

/// PostgreSQL's severities as OpenTelemetry's: `LOG`, the level of routine server messages, is
/// information; `PANIC` the most severe.
fn pg_severities() -> Value {
    map([
        ("debug", strings(["debug5", "debug4", "debug3", "debug2", "debug1"])),
        ("info", strings(["log", "info", "notice"])),
        ("warn", s("warning")),
        ("error", s("error")),
        ("fatal", s("fatal")),
        ("fatal4", s("panic")),
    ])
}

/// The node agent's `file_log` receiver: compose reads Docker's json-file logs and keeps lines
/// of containers labelled by the overlay; Kubernetes reads `/var/log/pods` of the datastores'
/// pods. Either way each kept line gets its datastore's `service.name`.
fn container_logs(cx: &Ctx<'_>, sources: &[ContainerLogSource]) -> Value {
    let ns = &cx.plan.namespaces.app;
    let (include, mut operators): (Vec<String>, Vec<Value>) = match cx.flavor {
        Flavor::Compose => (
            vec!["/var/lib/docker/containers/*/*-json.log".to_string()],
            vec![map([
                ("type", s("json_parser")),
                (
                    "timestamp",
                    map([
                        ("parse_from", s("attributes.time")),
                        ("layout_type", s("gotime")),
                        ("layout", s("2006-01-02T15:04:05.999999999Z07:00")),
                    ]),
                ),
            ])],
        ),
        Flavor::Kubernetes => (
            sources
                .iter()
                .map(|src| format!("/var/log/pods/{ns}_{}-*_*/{}/*.log", src.workload, src.container))
                .collect(),
            vec![map([("type", s("container")), ("id", s("container"))])],
        ),
    };
    let route_expr = |src: &ContainerLogSource| {
        match cx.flavor {
        Flavor::Compose => {
            format!("attributes.attrs != nil and attributes.attrs[\"{SERVICE_LABEL}\"] == \"{}\"", src.service)
        }
        Flavor::Kubernetes => format!(
            "resource[\"k8s.namespace.name\"] == \"{ns}\" and resource[\"k8s.container.name\"] == \"{}\" and resource[\"k8s.pod.name\"] startsWith \"{}-\"",
            src.container, src.workload
        ),
    }
    };
    let routes: Vec<Value> = sources
        .iter()
        .map(|src| map([("expr", lit(&route_expr(src))), ("output", s(format!("service-{}", src.service)))]))
        .collect();
    operators.push(map([("type", s("router")), ("id", s("route")), ("routes", Value::Sequence(routes))]));
    for src in sources {
        operators.push(map([
            ("type", s("add")),
            ("id", s(format!("service-{}", src.service))),
            ("field", s("resource[\"service.name\"]")),
            ("value", lit(&src.service)),
            ("output", s("tidy")),
        ]));
    }
    match cx.flavor {
        Flavor::Compose => {
            operators.push(map([
                ("type", s("move")),
                ("id", s("tidy")),
                ("from", s("attributes.log")),
                ("to", s("body")),
            ]));
            operators.push(map([("type", s("remove")), ("field", s("attributes.attrs"))]));
            operators.push(map([("type", s("remove")), ("field", s("attributes.time"))]));
        }
        Flavor::Kubernetes => {
            operators.push(map([("type", s("noop")), ("id", s("tidy"))]));
        }
    }
    map([
        ("include", Value::Sequence(include.iter().map(|g| lit(g)).collect())),
        ("start_at", s("beginning")),
        ("include_file_path", Value::Bool(true)),
        ("operators", Value::Sequence(operators)),
    ])
}

fn processor(p: &Processor) -> Value {
    match &p.spec {
        ProcessorSpec::MemoryLimiter { limit_mib, spike_limit_mib } => {
            map([("check_interval", s("1s")), ("limit_mib", n(*limit_mib)), ("spike_limit_mib", n(*spike_limit_mib))])
        }
        ProcessorSpec::K8sAttributes { own_node, exclude_pods } => k8s_attributes(*own_node, exclude_pods),
        ProcessorSpec::InsertResource(attrs) => map([(
            "attributes",
            Value::Sequence(
                attrs
                    .iter()
                    .map(|(k, v)| map([("key", s(k.clone())), ("value", lit(v)), ("action", s("insert"))]))
                    .collect(),
            ),
        )]),
    }
}

/// `k8s_attributes`: the gateway finds an app's pod from the connection; the node agent from
/// the pod uid that the `container` operator reads off each log file's path, watching only its
/// own node's pods (`K8S_NODE_NAME` comes from the downward API).
fn k8s_attributes(own_node: bool, excluded: &[String]) -> Value {
    let metadata = strings([
        "k8s.namespace.name",
        "k8s.pod.name",
        "k8s.pod.uid",
        "k8s.deployment.name",
        "k8s.statefulset.name",
        "k8s.daemonset.name",
        "k8s.node.name",
    ]);
    let source = if own_node {
        map([("from", s("resource_attribute")), ("name", s("k8s.pod.uid"))])
    } else {
        map([("from", s("connection"))])
    };
    let mut entries = vec![
        ("auth_type", s("serviceAccount")),
        ("extract", map([("metadata", metadata)])),
        ("pod_association", Value::Sequence(vec![map([("sources", Value::Sequence(vec![source]))])])),
    ];
    if own_node {
        entries.push(("filter", map([("node_from_env_var", s("K8S_NODE_NAME"))])));
    } else {
        // Telemetry forwarded by otelplan's own collectors arrives from their pods: matching it
        // by connection would stamp the scraper's or node agent's pod onto datastore telemetry,
        // so those pods are excluded (by name pattern), along with the processor's defaults.
        let pods: Vec<Value> = ["jaeger-agent", "jaeger-collector"]
            .iter()
            .map(|p| (*p).to_string())
            .chain(excluded.iter().map(|name| format!("^{}(-.*)?$", regex_escape(name))))
            .map(|name| map([("name", lit(&name))]))
            .collect();
        entries.push(("exclude", map([("pods", Value::Sequence(pods))])));
    }
    map(entries)
}

/// Escape the regular-expression metacharacters of a name (names are RFC 1035 labels; only `-`
/// could appear, and it is literal outside brackets, but the escape keeps the pattern honest).
fn regex_escape(name: &str) -> String {
    name.chars().fold(String::new(), |mut out, c| {
        if !c.is_ascii_alphanumeric() && c != '-' {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn headers(list: &[(String, HeaderValue)]) -> Option<Value> {
    (!list.is_empty()).then(|| map(list.iter().map(|(k, v)| (k.clone(), header(v)))))
}

/// exporterhelper queue (batching in the queue, on disk when persistent) and retries; with a
/// persistent queue retries never give up, so an outage only fills the disk queue.
fn delivery(cx: &Ctx<'_>, d: Delivery) -> [(&'static str, Value); 2] {
    let mut queue = vec![("enabled", Value::Bool(true)), ("batch", map::<&str>([]))];
    if d.persistent {
        queue.push(("storage", s(cx.extension(ComponentKind::FileStorageExtension))));
    }
    let elapsed = if d.persistent { "0s" } else { "300s" };
    [
        ("sending_queue", map(queue)),
        (
            "retry_on_failure",
            map([
                ("enabled", Value::Bool(true)),
                ("initial_interval", s("5s")),
                ("max_interval", s("30s")),
                ("max_elapsed_time", s(elapsed)),
            ]),
        ),
    ]
}

fn exporter(cx: &Ctx<'_>, e: &Exporter) -> Value {
    match &e.spec {
        ExporterSpec::OtlpGrpc { endpoint, headers: h } => {
            let mut entries = vec![("endpoint", cx.host_port(endpoint))];
            if !endpoint.is_tls() {
                entries.push(("tls", map([("insecure", Value::Bool(true))])));
            }
            if let Some(h) = headers(h) {
                entries.push(("headers", h));
            }
            entries.extend(delivery(cx, e.delivery));
            map(entries)
        }
        ExporterSpec::OtlpHttp { endpoint, headers: h } => {
            let mut entries = vec![("endpoint", cx.url(endpoint))];
            if let Some(h) = headers(h) {
                entries.push(("headers", h));
            }
            entries.extend(delivery(cx, e.delivery));
            map(entries)
        }
        ExporterSpec::Elasticsearch { endpoint, auth } => elasticsearch_exporter(cx, endpoint, auth, e.delivery),
    }
}

/// The elasticsearch exporter: `OTel` mapping by default (`mapping` left unset), its own
/// batching in its default sending queue, and its own `retry` block. Its default of 2 retries
/// would drop data during a long outage; with a persistent queue it retries for about a day
/// (1440 tries, at most a minute apart), otherwise for about five minutes, like exporterhelper.
fn elasticsearch_exporter(cx: &Ctx<'_>, endpoint: &Addr, auth: &EsAuth, d: Delivery) -> Value {
    let mut entries = vec![("endpoint", cx.url(endpoint))];
    match auth {
        EsAuth::Basic { user, password } => {
            entries.push(("user", lit(user)));
            entries.push(("password", secret(password)));
        }
        EsAuth::ApiKey(key) => entries.push(("api_key", secret(key))),
        EsAuth::None => {}
    }
    let (retries, max_interval) = if d.persistent { (1440u64, "1m") } else { (12, "30s") };
    entries.push((
        "retry",
        map([
            ("enabled", Value::Bool(true)),
            ("max_retries", n(retries)),
            ("initial_interval", s("1s")),
            ("max_interval", s(max_interval)),
            ("retry_on_status", Value::Sequence([429u64, 500, 502, 503, 504].into_iter().map(n).collect())),
        ]),
    ));
    if d.persistent {
        let storage = s(cx.extension(ComponentKind::FileStorageExtension));
        entries.push(("sending_queue", map([("enabled", Value::Bool(true)), ("storage", storage)])));
    }
    map(entries)
}
