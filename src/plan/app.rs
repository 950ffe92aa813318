//! The plan of a Django service: where it exports, with which protocol and credential, and the
//! `OTEL_*` environment that says so (computed once per deployment flavour).

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Instrumentation, Signal, WorkloadKind};
use crate::plan::address::{Addr, Flavor, Namespaces};
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
            lit("OTEL_RESOURCE_ATTRIBUTES", format!("deployment.environment.name={}", percent_encode(environment))),
            lit("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.url(flavor, ns)),
            lit("OTEL_EXPORTER_OTLP_PROTOCOL", APP_PROTOCOL.to_string()),
            lit("OTEL_TRACES_EXPORTER", exporter(Signal::Traces)),
            lit("OTEL_METRICS_EXPORTER", exporter(Signal::Metrics)),
            lit("OTEL_LOGS_EXPORTER", exporter(Signal::Logs)),
            lit("OTEL_PYTHON_LOG_CORRELATION", "true".to_string()),
            lit(LISTED_ENV, names(&self.instrumentations.listed)),
            lit(CANDIDATES_ENV, names(&self.instrumentations.candidates)),
        ];
        if let Some((scheme, secret)) = &self.auth {
            env.push((
                "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
                EnvValue::Secret { prefix: format!("Authorization={scheme}%20"), env: secret.clone() },
            ));
        }
        env
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
    fn encodes_baggage_values() {
        assert_eq!(percent_encode("production"), "production");
        assert_eq!(percent_encode("a b,c=d"), "a%20b%2Cc%3Dd");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
