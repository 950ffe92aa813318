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
    let config = map([("apm-server", map(server)), ("output", map([("elasticsearch", map(output))]))]);
    document(&config)
}
