//! Pass `apm-server`: APM Server's settings, when the topology writes to it — its address, how
//! agents authenticate, and the Elasticsearch it writes to with which credential.

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
    d.apm_server = Some(ApmServerPlan {
        addr: apm.addr.clone(),
        auth,
        elasticsearch: es.addr.clone().with_default_scheme(Scheme::Http),
        elasticsearch_auth: es.auth.clone(),
    });
    Ok(())
}
