//! Emit stage: one OpenTelemetry Collector config per role, built as data and serialised, for
//! one deployment flavour and the stack's collector version.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::emit::yaml::{document, map, n, s, strings};
use crate::model::env_ref::EnvRef;
use crate::plan::collector::{
    CollectorRole, ComponentId, ComponentKind, Connector, ConnectorSpec, ContainerLogSource, Delivery, EsAuth,
    Exporter, ExporterSpec, HeaderValue, KafkaTopics, Processor, ProcessorSpec, Receiver, ReceiverSpec, TailSampling,
    HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, STORAGE_DIR,
};
use crate::plan::log_format::{LogFormat, PG_MESSAGE_SEVERITIES};
use crate::plan::{sizing, workload, Addr, Flavor, Plan};
use crate::settings::{ClientTls, ServerTls};

/// Bulk requests of the elasticsearch exporter, bytes: its upstream defaults (1 MB to 5 MB), far
/// under Elasticsearch's 100 MB `http.max_content_length`.
const ES_BATCH_MIN_BYTES: u64 = 1_000_000;
const ES_BATCH_MAX_BYTES: u64 = 5_000_000;
/// The release from which the elasticsearch exporter batches in its sending queue (contrib
/// 0.138.0, see `../shared/apm/FACTS.md` §3).
const ES_QUEUE_BATCH_SINCE: crate::model::version::CollectorVersion =
    crate::model::version::CollectorVersion(0, 138, 0);

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
        extensions.push((cx.extension(ComponentKind::FileStorageExtension), file_storage()));
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
                ("telemetry", telemetry(&cx, role)),
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
    document(&with_connectors(&cx, role, config))
}

/// `config` with the role's connectors, if any, as a section before `service`.
fn with_connectors(cx: &Ctx<'_>, role: &CollectorRole, config: Value) -> Value {
    let Value::Mapping(mut m) = config else { return config };
    if role.connectors.is_empty() {
        return Value::Mapping(m);
    }
    let service = m.remove("service");
    m.insert(s("connectors"), map(role.connectors.iter().map(|c| (cx.id(&c.id), connector(c)))));
    if let Some(service) = service {
        m.insert(s("service"), service);
    }
    Value::Mapping(m)
}

/// A connector's settings.
fn connector(c: &Connector) -> Value {
    match &c.spec {
        ConnectorSpec::ElasticApm { directory: None } => map(Vec::<(&str, Value)>::new()),
        ConnectorSpec::ElasticApm { directory: Some(dir) } => map([("aggregation", map([("directory", lit(dir))]))]),
    }
}

fn receiver(cx: &Ctx<'_>, r: &Receiver) -> Value {
    let mut v = match &r.spec {
        ReceiverSpec::Otlp { tls } => {
            let protocol = |port: u16| {
                let mut entries = vec![("endpoint", s(format!("0.0.0.0:{port}")))];
                if let Some(t) = tls {
                    entries.push(("tls", server_tls(t)));
                }
                map(entries)
            };
            map([("protocols", map([("grpc", protocol(OTLP_GRPC_PORT)), ("http", protocol(OTLP_HTTP_PORT))]))])
        }
        ReceiverSpec::Postgresql { endpoint, databases, username, password } => {
            let mut entries =
                vec![("endpoint", cx.host_port(endpoint)), ("username", lit(username)), ("password", secret(password))];
            if !databases.is_empty() {
                entries.push(("databases", Value::Sequence(databases.iter().map(|d| lit(d)).collect())));
            }
            // Without `tls` in the stack: plain TCP, as most in-cluster PostgreSQL servers run
            // (the receiver's default would require TLS).
            entries.push(("tls", client_tls_or_plain(endpoint)));
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
            // The receiver's default is plain text (`insecure: true`): TLS must switch it off.
            if endpoint.tls.is_some() {
                entries.push(("tls", client_tls_or_plain(endpoint)));
            }
            map(entries)
        }
        ReceiverSpec::Elasticsearch { endpoint, auth } => {
            let mut entries = vec![("endpoint", cx.url(endpoint))];
            if let Some(t) = &endpoint.tls {
                entries.push(("tls", client_tls(t)));
            }
            match auth {
                EsAuth::Basic { user, password } => {
                    entries.push(("username", lit(user)));
                    entries.push(("password", secret(password)));
                }
                EsAuth::ApiKey(_) | EsAuth::None => {}
            }
            map(entries)
        }
        ReceiverSpec::KafkaMetrics { brokers } => {
            let mut entries = vec![
                ("brokers", Value::Sequence(brokers.iter().map(|b| cx.host_port(b)).collect())),
                ("scrapers", strings(["brokers", "topics", "consumers"])),
            ];
            if let Some(t) = brokers.first().and_then(|b| b.tls.as_ref()) {
                entries.push(("tls", client_tls(t)));
            }
            map(entries)
        }
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
        ReceiverSpec::Kafka { topics, group_id } => kafka_receiver(cx, topics, group_id),
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
/// multi-line statement, `DETAIL`, `STATEMENT`, …) join it. The join is the reader's own
/// (`multiline.line_start_pattern`), not a `recombine` operator: the reader checkpoints an
/// offset only once the message ending there has been emitted, while `recombine` holds the
/// newest message in memory after its lines are checkpointed, so a killed agent lost it (one
/// message per kill, found by the live harness). The pattern is multi-line (`(?m)`) because the
/// reader searches its whole buffer. Text before the first message start, or a file in another
/// format, is emitted as it comes (cut at `max_log_size` or when the file stops growing). The
/// record's time, severity, process, user and database come from the prefix; the message becomes
/// the body.
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
            vec![
                ("multiline", map([("line_start_pattern", lit(&format!("(?m){first}")))])),
                ("max_log_size", s("1MiB")),
                ("preserve_leading_whitespaces", Value::Bool(true)),
                ("operators", Value::Sequence(operators)),
            ]
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
        ProcessorSpec::MemoryLimiter { limit_mib, spike_limit_mib } => map([
            ("check_interval", s(sizing::duration(sizing::MEMORY_CHECK_SECONDS))),
            ("limit_mib", n(*limit_mib)),
            ("spike_limit_mib", n(*spike_limit_mib)),
        ]),
        ProcessorSpec::K8sAttributes { own_node, exclude_pods } => k8s_attributes(*own_node, exclude_pods),
        ProcessorSpec::ElasticApm => map(Vec::<(&str, Value)>::new()),
        ProcessorSpec::TailSampling(t) => tail_sampling(t),
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

/// A client TLS block: the CA to verify the server with, a client certificate, or no
/// verification where the stack says `insecure: true`.
fn client_tls(t: &ClientTls) -> Value {
    let mut entries = Vec::new();
    for (key, file) in [("ca_file", &t.ca_file), ("cert_file", &t.cert_file), ("key_file", &t.key_file)] {
        if let Some(f) = file {
            entries.push((key, lit(f)));
        }
    }
    if t.insecure_skip_verify {
        entries.push(("insecure_skip_verify", Value::Bool(true)));
    }
    map(entries)
}

/// The TLS block of a connection: the stack's TLS, or plain text (`insecure: true`).
fn client_tls_or_plain(a: &Addr) -> Value {
    a.tls.as_ref().map_or_else(|| map([("insecure", Value::Bool(true))]), client_tls)
}

/// The intake's TLS: its certificate, and the CA of required client certificates.
fn server_tls(t: &ServerTls) -> Value {
    let mut entries = vec![("cert_file", lit(&t.cert_file)), ("key_file", lit(&t.key_file))];
    if let Some(ca) = &t.client_ca_file {
        entries.push(("client_ca_file", lit(ca)));
    }
    map(entries)
}

fn headers(list: &[(String, HeaderValue)]) -> Option<Value> {
    (!list.is_empty()).then(|| map(list.iter().map(|(k, v)| (k.clone(), header(v)))))
}

/// `file_storage`: synced to disk on every write (a node that loses power keeps what was
/// acknowledged), compacted at start and once a backlog has drained, in its own directory.
fn file_storage() -> Value {
    map([
        ("directory", s(STORAGE_DIR)),
        ("create_directory", Value::Bool(true)),
        ("fsync", Value::Bool(true)),
        (
            "compaction",
            map([
                ("directory", s(STORAGE_DIR)),
                ("on_start", Value::Bool(true)),
                ("on_rebound", Value::Bool(true)),
                ("rebound_needed_threshold_mib", n(100u32)),
                ("rebound_trigger_threshold_mib", n(10u32)),
            ]),
        ),
    ])
}

/// The collector's own metrics, pushed over OTLP/HTTP with the role's name as `service.name`.
fn telemetry(cx: &Ctx<'_>, role: &CollectorRole) -> Value {
    let resource = vec![("service.name", lit(&role.name)), ("deployment.environment.name", lit(&cx.plan.environment))];
    let Some(t) = &role.telemetry else {
        // Nowhere to push (no gateway, a store that takes no OTLP): the default reader serves
        // them for scraping on localhost:8888.
        return map([("resource", map(resource))]);
    };
    let mut otlp = vec![
        ("protocol", s("http/protobuf")),
        ("endpoint", lit(&format!("{}/v1/metrics", t.endpoint.url(cx.flavor, &cx.plan.namespaces)))),
    ];
    if let Some(ca) = t.endpoint.tls.as_ref().and_then(|tls| tls.ca_file.as_ref()) {
        otlp.push(("certificate", lit(ca)));
    }
    if !t.headers.is_empty() {
        let list = t.headers.iter().map(|(k, v)| map([("name", s(k.clone())), ("value", header(v))])).collect();
        otlp.push(("headers", Value::Sequence(list)));
    }
    if t.delta {
        otlp.push(("temporality_preference", s("delta")));
    }
    let reader = map([("periodic", map([("interval", n(30_000u32)), ("exporter", map([("otlp", map(otlp))]))]))]);
    map([
        ("resource", map(resource)),
        ("metrics", map([("level", s("normal")), ("readers", Value::Sequence(vec![reader]))])),
    ])
}

/// The queue: sized in bytes (`plan::sizing`), refusing with a retryable error when full rather
/// than blocking the receivers, on disk when persistent; batches bounded in bytes.
fn queue(cx: &Ctx<'_>, d: Delivery, batch: (&str, u64)) -> Value {
    // A sender that waits for the result (the ingest tier's Kafka receiver: one message at a
    // time per partition, and a fetch of 1 MiB seldom spans more than one partition) would
    // wait for the batch to fill too, so each message would wait a flush timeout: a backlog
    // drained at a fifth of the rate the tier sustains (measured with the real collector
    // 0.152.0 and Kafka 4.4: 2.1 M spans and log records in 376 s at `min_size` 1 MB, 70 s at
    // 0). The messages are the gateway's batches already: each is exported as it comes.
    let (flush, min_bytes) = if d.wait_for_result { (WAITED_FLUSH, 0) } else { batch };
    let mut queue = vec![
        ("enabled", Value::Bool(true)),
        ("sizer", s("bytes")),
        ("queue_size", n(if cx.flavor == Flavor::Compose { d.compose_queue_bytes } else { d.queue_bytes })),
        // Where the sender waits for the result (the ingest tier), a full queue makes it wait
        // too: the backlog stays in Kafka.
        ("block_on_overflow", Value::Bool(d.wait_for_result)),
    ];
    if d.wait_for_result {
        queue.push(("wait_for_result", Value::Bool(true)));
    }
    if d.persistent {
        queue.push(("storage", s(cx.extension(ComponentKind::FileStorageExtension))));
    }
    queue.push((
        "batch",
        map([
            ("flush_timeout", s(flush)),
            ("sizer", s("bytes")),
            ("min_size", n(min_bytes)),
            ("max_size", n(d.batch_max_bytes)),
        ]),
    ));
    map(queue)
}

/// The flush timeout of a queue whose sender waits for the result.
const WAITED_FLUSH: &str = "200ms";

/// exporterhelper queue (batching in the queue, on disk when persistent) and retries that never
/// give up: an outage fills the queue, and once it is full new data is refused with a retryable
/// error the senders see (and the collector counts), never dropped after a deadline.
fn delivery(cx: &Ctx<'_>, d: Delivery) -> [(&'static str, Value); 2] {
    let elapsed = "0s";
    [
        ("sending_queue", queue(cx, d, ("200ms", 256 * 1024))),
        (
            "retry_on_failure",
            map([
                ("enabled", Value::Bool(true)),
                ("initial_interval", s(sizing::duration(sizing::RETRY_INITIAL_SECONDS))),
                ("max_interval", s(sizing::duration(sizing::RETRY_MAX_SECONDS))),
                ("max_elapsed_time", s(elapsed)),
            ]),
        ),
    ]
}

fn exporter(cx: &Ctx<'_>, e: &Exporter) -> Value {
    match &e.spec {
        ExporterSpec::OtlpGrpc { endpoint, headers: h } => {
            let mut entries = vec![("endpoint", cx.host_port(endpoint))];
            if let Some(t) = &endpoint.tls {
                entries.push(("tls", client_tls(t)));
            } else if !endpoint.is_tls() {
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
            if let Some(t) = &endpoint.tls {
                entries.push(("tls", client_tls(t)));
            }
            if let Some(h) = headers(h) {
                entries.push(("headers", h));
            }
            entries.extend(delivery(cx, e.delivery));
            map(entries)
        }
        ExporterSpec::Elasticsearch { endpoint, auth } => elasticsearch_exporter(cx, endpoint, auth, e.delivery),
        ExporterSpec::LoadBalancing { hostname, members } => load_balancing(cx, hostname, *members, e.delivery),
        ExporterSpec::Kafka(topics) => {
            let mut entries = kafka_client(cx, topics);
            for (signal, topic) in &topics.topics {
                entries.push((signal.as_str(), map([("topic", lit(topic)), ("encoding", s("otlp_proto"))])));
            }
            entries.push((
                "producer",
                map([
                    // Acknowledged once every in-sync replica has the message (`acks=all`),
                    // so the gateway drops nothing a broker failure could lose.
                    ("required_acks", Value::Number((-1i64).into())),
                    ("max_message_bytes", n(crate::plan::buffer::MESSAGE_MAX_BYTES)),
                    ("compression", s("lz4")),
                ]),
            ));
            entries.extend(delivery(cx, e.delivery));
            map(entries)
        }
    }
}

/// What the kafka exporter and receiver share: brokers and TLS
/// (`pkg/kafka/configkafka` at 0.152.0).
fn kafka_client(cx: &Ctx<'_>, topics: &KafkaTopics) -> Vec<(&'static str, Value)> {
    let mut entries = vec![("brokers", Value::Sequence(topics.brokers.iter().map(|b| cx.host_port(b)).collect()))];
    if let Some(t) = topics.brokers.first().and_then(|b| b.tls.as_ref()) {
        entries.push(("tls", client_tls(t)));
    }
    entries
}

/// The kafka receiver of the ingest tier, configured so that nothing is lost
/// (receiver/kafkareceiver@v0.152.0 README and config.go): every replica joins one consumer
/// group, which shares the partitions among them; `message_marking.after` marks a message
/// consumed only after the pipeline (and, since the exporters wait for their result, the store)
/// took it, and `on_error: false` leaves a message that failed with a retryable error unmarked,
/// so auto-commit (which commits only marked offsets) never moves past it; `error_backoff`
/// retries it instead of pausing the partition until a rebalance. A permanent error (the store
/// refuses the data itself, which no retry changes) is marked, so one bad message cannot stop a
/// partition for good; the collector counts it. A new group starts from the earliest offset, so
/// what the gateway wrote before the ingest tier first started is read too. Fetches are small
/// ([`sizing::KAFKA_FETCH_MAX_BYTES`]): a fetch is held whole, decompressed, while it is exported.
fn kafka_receiver(cx: &Ctx<'_>, topics: &KafkaTopics, group_id: &str) -> Value {
    let mut entries = kafka_client(cx, topics);
    entries.push(("group_id", lit(group_id)));
    entries.push(("client_id", lit(group_id)));
    entries.push(("initial_offset", s("earliest")));
    entries.push(("max_fetch_size", n(sizing::KAFKA_FETCH_MAX_BYTES)));
    entries.push(("max_partition_fetch_size", n(sizing::KAFKA_FETCH_MAX_BYTES)));
    for (signal, topic) in &topics.topics {
        let list = Value::Sequence(vec![lit(topic)]);
        entries.push((signal.as_str(), map([("topics", list), ("encoding", s("otlp_proto"))])));
    }
    entries.push((
        "message_marking",
        map([
            ("after", Value::Bool(true)),
            ("on_error", Value::Bool(false)),
            ("on_permanent_error", Value::Bool(true)),
        ]),
    ));
    entries.push((
        "error_backoff",
        map([
            ("enabled", Value::Bool(true)),
            ("initial_interval", s(sizing::duration(sizing::KAFKA_BACKOFF_INITIAL_SECONDS))),
            ("max_interval", s(sizing::duration(sizing::RETRY_MAX_SECONDS))),
            ("max_elapsed_time", s("0s")),
        ]),
    ));
    map(entries)
}

/// The `load_balancing` exporter: every span of a trace to the same sampler (`routing_key:
/// traceID`), over OTLP/gRPC. On Kubernetes the DNS resolver finds every ready sampler behind
/// the headless Service `hostname` (re-read every 5 s); compose has no such name for several
/// containers, so the `static` resolver lists its fixed set of sampler services. Its own queue
/// (on disk when persistent) and retries hold the traces while no sampler takes them;
/// `protocol.otlp` is the exporter it builds per sampler, which may not have a persistent queue
/// (they would share its storage), so it has none and gives up after a short retry: the traces
/// go back to the exporter's queue and are routed again to the samplers then resolved
/// (exporter/loadbalancingexporter/README.md at v0.152.0, "Resilience and scaling
/// considerations").
fn load_balancing(cx: &Ctx<'_>, hostname: &Addr, members: u32, d: Delivery) -> Value {
    let otlp = map([
        ("tls", map([("insecure", Value::Bool(true))])),
        ("sending_queue", map([("enabled", Value::Bool(false))])),
        (
            "retry_on_failure",
            map([
                ("enabled", Value::Bool(true)),
                ("initial_interval", s(sizing::duration(1))),
                ("max_interval", s(sizing::duration(5))),
                ("max_elapsed_time", s(sizing::duration(30))),
            ]),
        ),
    ]);
    let mut entries = vec![("routing_key", s("traceID"))];
    entries.extend(delivery(cx, d));
    entries.push(("protocol", map([("otlp", otlp)])));
    let host = hostname.resolved_host(cx.flavor, &cx.plan.namespaces);
    let resolver = match cx.flavor {
        Flavor::Compose => {
            let hostnames =
                (1..=members).map(|i| lit(&format!("{}:{}", workload::member_name(&host, i), hostname.port))).collect();
            map([("static", map([("hostnames", Value::Sequence(hostnames))]))])
        }
        Flavor::Kubernetes => map([("dns", map([("hostname", lit(&host)), ("port", s(hostname.port.to_string()))]))]),
    };
    entries.push(("resolver", resolver));
    map(entries)
}

/// `tail_sampling`: decide `decision_wait` after a trace's first span, holding at most
/// `num_traces`; keep a trace when any policy says so — an error span (`status_code`), a
/// duration at or above the threshold (`latency`), or its trace id among the ratio kept
/// (`probabilistic`, which sees every trace, so it keeps that share of the rest)
/// (processor/tailsamplingprocessor/README.md at v0.152.0).
fn tail_sampling(t: &TailSampling) -> Value {
    let mut policies = Vec::new();
    if t.keep_errors {
        policies.push(map([
            ("name", s("errors")),
            ("type", s("status_code")),
            ("status_code", map([("status_codes", strings(["ERROR"]))])),
        ]));
    }
    if let Some(ms) = t.slower_than_ms {
        policies.push(map([("name", s("slow")), ("type", s("latency")), ("latency", map([("threshold_ms", n(ms))]))]));
    }
    if t.ratio_ppm > 0 || policies.is_empty() {
        let percent = f64::from(t.ratio_ppm) / 10_000.0;
        policies.push(map([
            ("name", s("rest")),
            ("type", s("probabilistic")),
            ("probabilistic", map([("sampling_percentage", Value::Number(percent.into()))])),
        ]));
    }
    map([
        ("decision_wait", s(sizing::duration(t.decision_wait_seconds))),
        ("num_traces", n(t.num_traces)),
        ("policies", Value::Sequence(policies)),
    ])
}

/// The elasticsearch exporter: `OTel` mapping by default (`mapping` left unset), and its own
/// `retry` block, which is the only retry it has (it does not use exporterhelper's): the
/// default of 2 retries would drop a batch after seconds of outage, so it retries for about a
/// day (1440 tries, at most a minute apart). Retried statuses: 429 (upstream's default) and 503, which Elasticsearch answers
/// when it cannot take a bulk request at all (so nothing of it was indexed); never 500, 502 or
/// 504, after which the documents may have been indexed and a retry would duplicate them. Its
/// queue replaces the contrib default of 10 requests that blocks the pipeline when full
/// (`exporter/elasticsearchexporter/factory.go` at 0.152.0) with one sized in bytes that
/// refuses with a retryable error, on disk when persistent; batches of 1–5 MB as upstream.
fn elasticsearch_exporter(cx: &Ctx<'_>, endpoint: &Addr, auth: &EsAuth, d: Delivery) -> Value {
    let mut entries = vec![("endpoint", cx.url(endpoint))];
    if let Some(t) = &endpoint.tls {
        entries.push(("tls", client_tls(t)));
    }
    match auth {
        EsAuth::Basic { user, password } => {
            entries.push(("user", lit(user)));
            entries.push(("password", secret(password)));
        }
        EsAuth::ApiKey(key) => entries.push(("api_key", secret(key))),
        EsAuth::None => {}
    }
    entries.push((
        "retry",
        map([
            ("enabled", Value::Bool(true)),
            ("max_retries", n(sizing::ES_RETRIES)),
            ("initial_interval", s(sizing::duration(sizing::ES_RETRY_INITIAL_SECONDS))),
            ("max_interval", s(sizing::duration(sizing::ES_RETRY_MAX_SECONDS))),
            ("retry_on_status", Value::Sequence([429u64, 503].into_iter().map(n).collect())),
        ]),
    ));
    if cx.plan.collector_version < ES_QUEUE_BATCH_SINCE {
        // Before its batching moved into the sending queue the exporter batched on its own:
        // only the queue's storage is set, as those releases take it.
        if d.persistent {
            let storage = s(cx.extension(ComponentKind::FileStorageExtension));
            entries.push(("sending_queue", map([("enabled", Value::Bool(true)), ("storage", storage)])));
        }
        return map(entries);
    }
    let d = Delivery { batch_max_bytes: ES_BATCH_MAX_BYTES, ..d };
    entries.push(("sending_queue", queue(cx, d, ("10s", ES_BATCH_MIN_BYTES))));
    map(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL's messages are joined by the reader, which checkpoints only what it emitted; no
    /// operator holds a message after its lines are checkpointed (a killed agent lost it).
    #[test]
    fn postgres_messages_are_joined_by_the_reader_not_by_an_operator() {
        let keys = log_format(LogFormat::PostgresStderr);
        let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone());
        let pattern = get("multiline").and_then(|m| m.get("line_start_pattern").cloned()).expect("multiline");
        let pattern = pattern.as_str().unwrap().to_string();
        assert!(pattern.starts_with("(?m)^"), "the reader searches a whole buffer: {pattern}");
        let Some(Value::Sequence(ops)) = get("operators") else { panic!("operators") };
        for op in &ops {
            assert_ne!(op.get("type").and_then(Value::as_str), Some("recombine"), "{op:?}");
        }
        assert!(log_format(LogFormat::Lines).is_empty());
    }
}
