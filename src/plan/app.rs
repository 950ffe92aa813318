//! The plan of a Django service: where it exports, with which protocol and credential, and the
//! `OTEL_*` environment that says so (computed once per deployment flavour).

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::{Instrumentation, Signal, WorkloadKind};
use crate::plan::address::{Addr, Flavor, Namespaces};

/// The protocol every app exports with: OTLP over HTTP/protobuf. One choice, used
/// consistently: APM Server serves it on 8200, collectors on 4318, and plain HTTP requests
/// spread over gateway replicas where long-lived gRPC connections would not.
pub(crate) const APP_PROTOCOL: &str = "http/protobuf";

/// A Django service's export plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AppPlan {
    /// The service's name in the stack (its `service.name`).
    pub(crate) service: String,
    /// Replicas.
    pub(crate) replicas: u32,
    /// Signals it exports.
    pub(crate) signals: Vec<Signal>,
    /// Client libraries instrumented.
    pub(crate) instrumentations: Vec<Instrumentation>,
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
        let instrumentations: Vec<&str> = self.instrumentations.iter().map(|i| i.as_str()).collect();
        let mut env = vec![
            lit("OTEL_SERVICE_NAME", self.service.clone()),
            lit("OTEL_RESOURCE_ATTRIBUTES", format!("deployment.environment.name={}", percent_encode(environment))),
            lit("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.url(flavor, ns)),
            lit("OTEL_EXPORTER_OTLP_PROTOCOL", APP_PROTOCOL.to_string()),
            lit("OTEL_TRACES_EXPORTER", exporter(Signal::Traces)),
            lit("OTEL_METRICS_EXPORTER", exporter(Signal::Metrics)),
            lit("OTEL_LOGS_EXPORTER", exporter(Signal::Logs)),
            lit("OTEL_PYTHON_LOG_CORRELATION", "true".to_string()),
            lit("OTELPLAN_INSTRUMENTATIONS", instrumentations.join(",")),
        ];
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_baggage_values() {
        assert_eq!(percent_encode("production"), "production");
        assert_eq!(percent_encode("a b,c=d"), "a%20b%2Cc%3Dd");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
