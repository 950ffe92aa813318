//! The `backends` section: where telemetry goes, and whether otelplan deploys a sandbox of it
//! (parse stage).

use schemars::JsonSchema;

use crate::diagnostic::Diagnostics;
use crate::model::endpoint::{Endpoint, Form};
use crate::model::env_ref::EnvRef;
use crate::model::node::Node;
use crate::model::reader::{boolean, short_text, MapView};
use crate::model::tls::TlsClient;
use crate::model::version::ImageTag;
use crate::span::Spanned;

/// What every backend has.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendCommon {
    /// Where it listens; a topology that uses the backend needs it.
    pub(crate) endpoint: Option<Spanned<Endpoint>>,
    /// Also render a workload for it (a sandbox), not only point at it.
    #[schemars(extend("default" = false))]
    pub(crate) deploy: Option<Spanned<bool>>,
    /// Image tag of a deployed backend.
    pub(crate) version: Option<Spanned<ImageTag>>,
    /// How collectors and APM Server connect to it over TLS (default: as the endpoint's scheme
    /// says, without client certificates).
    pub(crate) tls: Option<TlsClient>,
}

const COMMON: [&str; 4] = ["endpoint", "deploy", "version", "tls"];

impl BackendCommon {
    fn read(m: &MapView<'_>, d: &mut Diagnostics) -> BackendCommon {
        BackendCommon {
            endpoint: m.get("endpoint").and_then(|n| Endpoint::read(n, &m.child("endpoint"), Form::Any, d)),
            deploy: m.get("deploy").and_then(|n| boolean(n, &m.child("deploy"), d)),
            version: m.get("version").and_then(|n| ImageTag::read(n, &m.child("version"), d)),
            tls: m.get("tls").and_then(|n| TlsClient::read(n, &m.child("tls"), d)),
        }
    }

    /// Whether otelplan deploys it.
    pub(crate) fn deployed(&self) -> bool {
        self.deploy.as_ref().is_some_and(|d| d.value)
    }
}

fn open<'n>(node: &'n Node, path: &str, extra: &[&str], d: &mut Diagnostics) -> Option<MapView<'n>> {
    let known: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    MapView::open(node, path, &known, d)
}

fn secret(m: &MapView<'_>, key: &str, d: &mut Diagnostics) -> Option<Spanned<EnvRef>> {
    m.get(key).and_then(|n| EnvRef::read(n, &m.child(key), d))
}

fn text(m: &MapView<'_>, key: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    m.get(key).and_then(|n| short_text(n, &m.child(key), 256, d))
}

/// The telemetry Elasticsearch (A and B through APM Server, D directly).
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElasticsearchBackend {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub(crate) common: BackendCommon,
    /// The *encoded* API key (base64 of `id:key`), as an environment reference.
    pub(crate) api_key: Option<Spanned<EnvRef>>,
    /// User name (with `password`) that APM Server or the exporter writes with; a deployed
    /// sandbox needs `elastic`, its superuser, which only its setup job uses: what writes to a
    /// sandbox gets its own user, created by that job.
    pub(crate) username: Option<Spanned<String>>,
    /// Password (with `username`), as an environment reference.
    pub(crate) password: Option<Spanned<EnvRef>>,
}

impl ElasticsearchBackend {
    /// Read `backends.elasticsearch`.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Self> {
        let m = open(node, path, &["api_key", "username", "password"], d)?;
        Some(ElasticsearchBackend {
            common: BackendCommon::read(&m, d),
            api_key: secret(&m, "api_key", d),
            username: text(&m, "username", d),
            password: secret(&m, "password", d),
        })
    }
}

/// Elastic APM Server (A and B).
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApmServerBackend {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub(crate) common: BackendCommon,
    /// Agent secret token, sent as `Authorization: Bearer …`.
    pub(crate) secret_token: Option<Spanned<EnvRef>>,
    /// Agent API key (encoded), sent as `Authorization: ApiKey …`.
    pub(crate) api_key: Option<Spanned<EnvRef>>,
}

impl ApmServerBackend {
    /// Read `backends.apm_server`.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Self> {
        let m = open(node, path, &["secret_token", "api_key"], d)?;
        Some(ApmServerBackend {
            common: BackendCommon::read(&m, d),
            secret_token: secret(&m, "secret_token", d),
            api_key: secret(&m, "api_key", d),
        })
    }
}

/// A backend with only the common fields (Jaeger, Prometheus).
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlainBackend {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub(crate) common: BackendCommon,
}

impl PlainBackend {
    /// Read `backends.jaeger` or `backends.prometheus`.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Self> {
        let m = open(node, path, &[], d)?;
        Some(PlainBackend { common: BackendCommon::read(&m, d) })
    }
}

/// Grafana Loki (C, logs).
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LokiBackend {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub(crate) common: BackendCommon,
    /// Tenant, sent as `X-Scope-OrgID`.
    pub(crate) tenant: Option<Spanned<String>>,
}

impl LokiBackend {
    /// Read `backends.loki`.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Self> {
        let m = open(node, path, &["tenant"], d)?;
        Some(LokiBackend { common: BackendCommon::read(&m, d), tenant: text(&m, "tenant", d) })
    }
}

/// The `backends` section.
#[derive(Debug, Clone, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Backends {
    /// Elasticsearch, the store of A, B and D.
    pub(crate) elasticsearch: Option<ElasticsearchBackend>,
    /// APM Server, the intake of A and B.
    pub(crate) apm_server: Option<ApmServerBackend>,
    /// Jaeger, the trace store of C. Its OTLP port decides the protocol: 4317 gRPC, 4318 HTTP.
    pub(crate) jaeger: Option<PlainBackend>,
    /// Prometheus, the metric store of C (base URL, port 9090).
    pub(crate) prometheus: Option<PlainBackend>,
    /// Loki, the log store of C (base URL, port 3100).
    pub(crate) loki: Option<LokiBackend>,
}

impl Backends {
    /// The settings every backend has, of the backend under `key` (`elasticsearch`, …).
    pub(crate) fn common(&self, key: &str) -> Option<&BackendCommon> {
        match key {
            "elasticsearch" => self.elasticsearch.as_ref().map(|x| &x.common),
            "apm_server" => self.apm_server.as_ref().map(|x| &x.common),
            "jaeger" => self.jaeger.as_ref().map(|x| &x.common),
            "prometheus" => self.prometheus.as_ref().map(|x| &x.common),
            "loki" => self.loki.as_ref().map(|x| &x.common),
            _ => None,
        }
    }

    /// Read the `backends` mapping.
    pub(crate) fn read(node: &Node, d: &mut Diagnostics) -> Option<Backends> {
        let m = MapView::open(node, "backends", &["elasticsearch", "apm_server", "jaeger", "prometheus", "loki"], d)?;
        Some(Backends {
            elasticsearch: m
                .get("elasticsearch")
                .and_then(|n| ElasticsearchBackend::read(n, "backends.elasticsearch", d)),
            apm_server: m.get("apm_server").and_then(|n| ApmServerBackend::read(n, "backends.apm_server", d)),
            jaeger: m.get("jaeger").and_then(|n| PlainBackend::read(n, "backends.jaeger", d)),
            prometheus: m.get("prometheus").and_then(|n| PlainBackend::read(n, "backends.prometheus", d)),
            loki: m.get("loki").and_then(|n| LokiBackend::read(n, "backends.loki", d)),
        })
    }
}
