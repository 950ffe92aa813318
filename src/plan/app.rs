//! The plan of a Django service: where it exports, with which protocol and credential, and the
//! `OTEL_*` environment that says so (computed once per deployment flavour).

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Instrumentation, Signal, WorkloadKind};
use crate::plan::address::{Addr, Flavor, Namespaces};
use crate::plan::pod_env::{Piece, PodEnvValue, PodField};
use crate::settings::Instrumentations;

/// The protocol every app exports with: OTLP over HTTP/protobuf. One choice, used
/// consistently: APM Server serves it on 8200, collectors on 4318, and plain HTTP requests
/// spread over gateway replicas where long-lived gRPC connections would not.
pub(crate) const APP_PROTOCOL: &str = "http/protobuf";

/// The variable naming the client libraries a service lists; `otel_setup` warns about one it
/// cannot import.
pub(crate) const LISTED_ENV: &str = "OTELPLAN_INSTRUMENTATIONS";

/// The variable naming the client libraries `otel_setup` instruments when it can import them
/// (a service without a list).
pub(crate) const CANDIDATES_ENV: &str = "OTELPLAN_INSTRUMENTATION_CANDIDATES";

/// The variable of the resource's attributes other than `service.name`.
const RESOURCE_ATTRIBUTES_ENV: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// Who gives a service's telemetry the Kubernetes attributes of its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum PodAttributes {
    /// The collector it sends to, whose `k8s_attributes` processor finds the pod from the
    /// connection.
    Collector,
    /// The app itself, from the downward API: nothing it sends to runs `k8s_attributes` (it
    /// sends straight to APM Server).
    App,
}

/// A Django service's export plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AppPlan {
    /// The service's name in the stack (its `service.name`).
    pub(crate) service: String,
    /// Replicas.
    pub(crate) replicas: u32,
    /// Signals it exports.
    pub(crate) signals: Vec<Signal>,
    /// Client libraries to instrument: listed ones, or candidates tried where the app runs.
    pub(crate) instrumentations: Instrumentations,
    /// OTLP/HTTP base URL it exports to.
    pub(crate) endpoint: Addr,
    /// `Authorization` scheme and secret, when it sends straight to APM Server.
    pub(crate) auth: Option<(String, EnvRef)>,
    /// Its Kubernetes workload: kind, name, container.
    pub(crate) workload: (WorkloadKind, String, String),
    /// Who adds its pod's attributes on Kubernetes.
    pub(crate) pod_attributes: PodAttributes,
    /// Whether it exports metrics with delta temporality: the elasticsearch exporter drops
    /// cumulative histograms ("dropping cumulative temporality histogram",
    /// elasticsearchexporter@v0.152.0 exporter.go), which the Python SDK sends by default.
    pub(crate) delta_metrics: bool,
    /// The share of traces its SDK keeps (`sampling.head.ratio`), written as the sampler's
    /// argument; `None`: the SDK's default (every trace).
    pub(crate) head_ratio: Option<String>,
}

/// One environment value: literal, or with a secret reference at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum EnvValue {
    /// Plain text.
    Literal(String),
    /// `prefix` followed by the secret.
    Secret {
        /// Text before the secret.
        prefix: String,
        /// The variable holding it.
        env: EnvRef,
    },
}

/// Percent-encode a value for `OTEL_RESOURCE_ATTRIBUTES` / `OTEL_EXPORTER_OTLP_HEADERS`
/// (W3C Baggage octets: everything but unreserved characters is encoded).
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl AppPlan {
    /// The `OTEL_*` environment of this service in `flavor`, in a stable order.
    pub(crate) fn env(&self, flavor: Flavor, ns: &Namespaces, environment: &str) -> Vec<(String, EnvValue)> {
        let lit = |k: &str, v: String| (k.to_string(), EnvValue::Literal(v));
        let exporter = |s: Signal| if self.signals.contains(&s) { "otlp" } else { "none" }.to_string();
        let names = |list: &[Instrumentation]| list.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(",");
        let mut env = vec![
            lit("OTEL_SERVICE_NAME", self.service.clone()),
            lit(RESOURCE_ATTRIBUTES_ENV, format!("deployment.environment.name={}", percent_encode(environment))),
            lit("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.url(flavor, ns)),
            lit("OTEL_EXPORTER_OTLP_PROTOCOL", APP_PROTOCOL.to_string()),
            lit("OTEL_TRACES_EXPORTER", exporter(Signal::Traces)),
            lit("OTEL_METRICS_EXPORTER", exporter(Signal::Metrics)),
            lit("OTEL_LOGS_EXPORTER", exporter(Signal::Logs)),
            lit("OTEL_PYTHON_LOG_CORRELATION", "true".to_string()),
        ];
        // Parent-based: a root span keeps the ratio of traces (by trace id), every other span
        // follows its parent's decision, so a trace is kept or dropped whole across services
        // (OpenTelemetry SDK environment variables, `OTEL_TRACES_SAMPLER`).
        if let Some(ratio) = self.head_ratio.as_ref().filter(|_| self.signals.contains(&Signal::Traces)) {
            env.push(lit("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".to_string()));
            env.push(lit("OTEL_TRACES_SAMPLER_ARG", ratio.clone()));
        }
        if self.delta_metrics && self.signals.contains(&Signal::Metrics) {
            env.push(lit("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta".to_string()));
        }
        env.extend([
            lit(LISTED_ENV, names(&self.instrumentations.listed)),
            lit(CANDIDATES_ENV, names(&self.instrumentations.candidates)),
        ]);
        if let Some((scheme, secret)) = &self.auth {
            env.push((
                "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
                EnvValue::Secret { prefix: format!("Authorization={scheme}%20"), env: secret.clone() },
            ));
        }
        if let Some(ca) = self.endpoint.tls.as_ref().and_then(|t| t.ca_file.as_ref()) {
            env.push(lit("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.clone()));
        }
        env
    }

    /// The environment of the service's container in the Kubernetes patch: [`Self::env`], and
    /// when the app states its pod's attributes itself, the pod's fields read first and spliced
    /// into `OTEL_RESOURCE_ATTRIBUTES` with its workload's name.
    pub(crate) fn pod_env(&self, ns: &Namespaces, environment: &str) -> Vec<(String, PodEnvValue)> {
        let env = self.env(Flavor::Kubernetes, ns, environment);
        if self.pod_attributes == PodAttributes::Collector {
            return env.into_iter().map(|(k, v)| (k, v.into())).collect();
        }
        let fields = PodField::ALL.into_iter().map(|f| (f.variable().to_string(), PodEnvValue::Field(f)));
        let rest = env.into_iter().map(|(key, value)| match value {
            EnvValue::Literal(text) if key == RESOURCE_ATTRIBUTES_ENV => {
                let value = PodEnvValue::Spliced(self.with_pod_attributes(text));
                (key, value)
            }
            other => (key, other.into()),
        });
        fields.chain(rest).collect()
    }

    /// `attributes`, then each pod field's attribute, then the workload's name under its kind
    /// (`k8s.deployment.name`, …), as `k8s_attributes` would add them.
    fn with_pod_attributes(&self, attributes: String) -> Vec<Piece> {
        let mut pieces = vec![Piece::Text(attributes)];
        for field in PodField::ALL {
            pieces.push(Piece::Text(format!(",{}=", field.attribute())));
            pieces.push(Piece::Var(field.variable()));
        }
        let (kind, name, _) = &self.workload;
        let key = match kind {
            WorkloadKind::Deployment => "k8s.deployment.name",
            WorkloadKind::StatefulSet => "k8s.statefulset.name",
            WorkloadKind::DaemonSet => "k8s.daemonset.name",
        };
        pieces.push(Piece::Text(format!(",{key}={}", percent_encode(name))));
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    /// The literal value of `key` in `env`.
    fn literal<'e>(env: &'e [(String, EnvValue)], key: &str) -> &'e str {
        match env.iter().find(|(k, _)| k == key) {
            Some((_, EnvValue::Literal(v))) => v,
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn listed_and_candidate_libraries_go_to_their_own_variables() {
        let p = plan(DKP, TopologyId::A);
        let env = |name: &str| {
            let app = p.apps.iter().find(|a| a.service == name).unwrap();
            app.env(Flavor::Compose, &p.namespaces, &p.environment)
        };
        let web = env("web");
        assert_eq!(literal(&web, LISTED_ENV), "psycopg2,redis,elasticsearch,kafka-python");
        assert_eq!(literal(&web, CANDIDATES_ENV), "");
        let worker = env("worker");
        assert_eq!(literal(&worker, LISTED_ENV), "");
        assert_eq!(
            literal(&worker, CANDIDATES_ENV),
            "psycopg2,psycopg,redis,elasticsearch,kafka-python,confluent-kafka,celery,requests,urllib3,httpx"
        );
    }

    #[test]
    fn apps_sending_straight_to_apm_server_read_their_pod_from_the_downward_api() {
        let text = DKP.replace(
            "    kind: django\n    replicas: 2\n",
            "    kind: django\n    replicas: 2\n    kubernetes: { kind: StatefulSet, name: tasks }\n",
        );
        let p = plan(&text, TopologyId::B);
        let worker = p.apps.iter().find(|a| a.service == "worker").unwrap();
        assert_eq!(worker.pod_attributes, PodAttributes::App);
        let env = worker.pod_env(&p.namespaces, &p.environment);
        let fields: Vec<(&str, &PodEnvValue)> = env.iter().take(4).map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(
            fields,
            [
                ("OTELPLAN_POD_NAMESPACE", &PodEnvValue::Field(PodField::Namespace)),
                ("OTELPLAN_POD_NAME", &PodEnvValue::Field(PodField::Name)),
                ("OTELPLAN_POD_UID", &PodEnvValue::Field(PodField::Uid)),
                ("OTELPLAN_NODE_NAME", &PodEnvValue::Field(PodField::NodeName)),
            ],
            "read first: Kubernetes expands only variables listed before the use"
        );
        let Some((_, PodEnvValue::Spliced(pieces))) = env.iter().find(|(k, _)| k == RESOURCE_ATTRIBUTES_ENV) else {
            panic!("no spliced OTEL_RESOURCE_ATTRIBUTES: {env:?}")
        };
        assert_eq!(
            pieces,
            &[
                Piece::Text("deployment.environment.name=production".into()),
                Piece::Text(",k8s.namespace.name=".into()),
                Piece::Var("OTELPLAN_POD_NAMESPACE"),
                Piece::Text(",k8s.pod.name=".into()),
                Piece::Var("OTELPLAN_POD_NAME"),
                Piece::Text(",k8s.pod.uid=".into()),
                Piece::Var("OTELPLAN_POD_UID"),
                Piece::Text(",k8s.node.name=".into()),
                Piece::Var("OTELPLAN_NODE_NAME"),
                Piece::Text(",k8s.statefulset.name=tasks".into()),
            ]
        );
        // Everything else is the Kubernetes flavour of the env file's values, in its order.
        let rest: Vec<(String, PodEnvValue)> =
            env.into_iter().skip(4).filter(|(k, _)| k != RESOURCE_ATTRIBUTES_ENV).collect();
        let plain: Vec<(String, PodEnvValue)> = worker
            .env(Flavor::Kubernetes, &p.namespaces, &p.environment)
            .into_iter()
            .filter(|(k, _)| k != RESOURCE_ATTRIBUTES_ENV)
            .map(|(k, v)| (k, v.into()))
            .collect();
        assert_eq!(rest, plain);
    }

    #[test]
    fn apps_behind_a_gateway_leave_their_pod_to_its_k8s_attributes() {
        for id in [TopologyId::A, TopologyId::C, TopologyId::D] {
            let p = plan(DKP, id);
            for app in &p.apps {
                assert_eq!(app.pod_attributes, PodAttributes::Collector, "{id:?} {}", app.service);
                let plain: Vec<(String, PodEnvValue)> = app
                    .env(Flavor::Kubernetes, &p.namespaces, &p.environment)
                    .into_iter()
                    .map(|(k, v)| (k, v.into()))
                    .collect();
                assert_eq!(app.pod_env(&p.namespaces, &p.environment), plain, "{id:?} {}", app.service);
            }
        }
        assert!(plan(DKP, TopologyId::B).apps.iter().all(|a| a.pod_attributes == PodAttributes::App));
    }

    #[test]
    fn encodes_baggage_values() {
        assert_eq!(percent_encode("production"), "production");
        assert_eq!(percent_encode("a b,c=d"), "a%20b%2Cc%3Dd");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
