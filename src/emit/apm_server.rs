//! Emit stage: `apm-server/apm-server.yml` for topologies with APM Server. libbeat reads this
//! file: environment references are `${NAME}` (its `${env:NAME}` would be the literal `NAME`).

use serde_yaml::Value;

use crate::emit::yaml::{document, map, s, strings};
use crate::plan::{ApmAuth, ApmServerPlan, EsAuth, Flavor, Plan};

/// The port APM Server listens on, for every intake (Elastic and OTLP, gRPC and HTTP).
pub(crate) const APM_LISTEN: &str = "0.0.0.0:8200";

/// `apm-server.yml` in `flavor`.
pub(crate) fn render(plan: &Plan, apm: &ApmServerPlan, flavor: Flavor) -> String {
    // A mounted file replaces the image's own, whose `0.0.0.0:8200` would otherwise be lost
    // (APM Server's default is localhost only).
    let mut server = vec![("host", s(APM_LISTEN))];
    match &apm.auth {
        ApmAuth::SecretToken(t) => server.push(("auth", map([("secret_token", s(t.braced()))]))),
        ApmAuth::ApiKey(_) => server.push(("auth", map([("api_key", map([("enabled", Value::Bool(true))]))]))),
        ApmAuth::Open => {}
    }
    let mut output = vec![("hosts", strings([apm.elasticsearch.url(flavor, &plan.namespaces)]))];
    match &apm.elasticsearch_auth {
        EsAuth::Basic { user, password } => {
            output.push(("username", s(user.clone())));
            output.push(("password", s(password.braced())));
        }
        // libbeat's `api_key` takes only `id:key`; the stack holds the encoded key, which
        // Elasticsearch accepts as an `Authorization: ApiKey` header.
        EsAuth::ApiKey(key) => {
            output.push(("headers", map([("Authorization", s(format!("ApiKey {}", key.braced())))])));
        }
        EsAuth::None => {}
    }
    if let Some(t) = &apm.elasticsearch.tls {
        // libbeat's client TLS: the CA list, a client certificate, or no verification where
        // the stack says so.
        let mut ssl = Vec::new();
        if let Some(ca) = &t.ca_file {
            ssl.push(("certificate_authorities", strings([ca.clone()])));
        }
        if let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) {
            ssl.push(("certificate", s(cert.clone())));
            ssl.push(("key", s(key.clone())));
        }
        if t.insecure_skip_verify {
            ssl.push(("verification_mode", s("none")));
        }
        output.push(("ssl", map(ssl)));
    }
    let config = map([("apm-server", map(server)), ("output", map([("elasticsearch", map(output))]))]);
    document(&config)
}
