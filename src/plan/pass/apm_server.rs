//! Pass `apm-server`: APM Server's settings, when the topology writes to it — its address, how
//! agents authenticate, and the Elasticsearch it writes to with which credential.

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::endpoint::Scheme;
use crate::plan::draft::Draft;
use crate::plan::{ApmAuth, ApmServerPlan};
use crate::topology::BackendKind;

/// Plan APM Server.
#[expect(clippy::unnecessary_wraps, reason = "every pass has the signature of `Pass`")]
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let (Some(apm), Some(es)) = (d.sinks.get(&BackendKind::ApmServer), d.sinks.get(&BackendKind::Elasticsearch)) else {
        return Ok(());
    };
    let b = d.valid.backends();
    let auth = match b.apm_server.as_ref().map(|a| (&a.secret_token, &a.api_key)) {
        Some((Some(t), _)) => ApmAuth::SecretToken(t.value.clone()),
        Some((None, Some(k))) => ApmAuth::ApiKey(k.value.clone()),
        _ => ApmAuth::Open,
    };
    if auth == ApmAuth::Open {
        let span = b.apm_server.as_ref().and_then(|a| a.common.endpoint.as_ref()).map(|e| e.span);
        let message =
            "APM Server has no `secret_token` or `api_key`: it will accept telemetry from anyone who can reach it";
        let warning = span.map_or_else(|| Diagnostic::file_error(message), |s| Diagnostic::warning(s, message));
        d.warnings.push(
            Diagnostic { severity: Severity::Warning, ..warning }
                .hint("set `backends.apm_server.secret_token: ${ELASTIC_APM_SECRET_TOKEN}`"),
        );
    }
    d.apm_server = Some(ApmServerPlan {
        addr: apm.addr.clone(),
        auth,
        elasticsearch: es.addr.clone().with_default_scheme(Scheme::Http),
        elasticsearch_auth: es.auth.clone(),
    });
    Ok(())
}
