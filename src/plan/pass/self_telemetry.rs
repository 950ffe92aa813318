//! Pass `self-telemetry`: every collector pushes its own metrics (queue size and capacity,
//! items refused, enqueue and send failures) over OTLP/HTTP to where the stack's metrics go — the
//! gateway (the gateway to itself), or APM Server or Prometheus when there is none — so a
//! backlog or a loss shows in the metrics store, where the alert rules read it.

use std::collections::BTreeSet;

use crate::model::endpoint::Scheme;
use crate::model::keywords::Signal;
use crate::plan::address::Addr;
use crate::plan::collector::{HeaderValue, SelfTelemetry, OTLP_HTTP_PORT};
use crate::plan::draft::{backend_id, role_id, Draft};
use crate::plan::node::{NodeId, RoleKind};
use crate::topology::BackendKind;

/// Where collectors other than the gateway send their own metrics: node, base URL, headers.
type Target = (NodeId, Addr, Vec<(String, HeaderValue)>);

fn target(d: &Draft<'_>) -> Option<Target> {
    if d.roles.iter().any(|r| r.role == RoleKind::Gateway) {
        let addr = d.gateway_addr(OTLP_HTTP_PORT, Some(Scheme::Http));
        return Some((role_id(&RoleKind::Gateway), addr, Vec::new()));
    }
    let kind = d.sink_of(Signal::Metrics);
    let sink = d.sinks.get(&kind)?;
    let mut addr = sink.addr.clone().with_default_scheme(Scheme::Http);
    match kind {
        BackendKind::ApmServer => {}
        BackendKind::Prometheus => addr.path.push_str("/api/v1/otlp"),
        // Elasticsearch takes no OTLP here, Jaeger and Loki no metrics.
        BackendKind::Elasticsearch | BackendKind::Jaeger | BackendKind::Loki => return None,
    }
    Some((backend_id(kind), addr, sink.headers.clone()))
}

/// Point every collector's own metrics at the target.
#[expect(clippy::unnecessary_wraps, reason = "every pass has the signature of `Pass`")]
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let Some((node, addr, headers)) = target(d) else { return Ok(()) };
    // The elasticsearch exporter drops cumulative histograms ("dropping cumulative temporality
    // histogram"; opentelemetry-collector-contrib v0.152.0 exporter/elasticsearchexporter,
    // exporter.go): where the metrics end there, the
    // collectors report their own in delta, as the apps do.
    let delta = d.sink_of(Signal::Metrics) == BackendKind::Elasticsearch;
    let mut roles = std::mem::take(&mut d.roles);
    for role in &mut roles {
        if role.role == RoleKind::Gateway {
            // The gateway sends to its own receiver, and on through its metrics pipeline: on
            // loopback, or through its Service when the intake's certificate names that.
            let own =
                if addr.tls.is_some() { addr.clone() } else { Addr::loopback(OTLP_HTTP_PORT, Some(Scheme::Http)) };
            role.telemetry = Some(SelfTelemetry { endpoint: own, headers: Vec::new(), delta });
            continue;
        }
        d.own_metrics_edge(&role_id(&role.role), &node, addr.port);
        let mut secrets: BTreeSet<_> = role.secrets.iter().cloned().collect();
        secrets.extend(headers.iter().filter_map(|(_, v)| match v {
            HeaderValue::Secret { env, .. } => Some(env.clone()),
            HeaderValue::Literal(_) => None,
        }));
        role.secrets = secrets.into_iter().collect();
        role.telemetry = Some(SelfTelemetry { endpoint: addr.clone(), headers: headers.clone(), delta });
    }
    d.roles = roles;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::keywords::TopologyId;
    use crate::test_support::{plan, DKP};

    #[test]
    fn collectors_report_their_own_metrics_in_delta_only_where_elasticsearch_stores_them() {
        for (id, delta) in
            [(TopologyId::A, false), (TopologyId::B, false), (TopologyId::C, false), (TopologyId::D, true)]
        {
            let p = plan(DKP, id);
            assert!(!p.roles.is_empty());
            for role in &p.roles {
                let t = role.telemetry.as_ref().unwrap_or_else(|| panic!("{id:?} {}: no self-telemetry", role.name));
                assert_eq!(t.delta, delta, "{id:?} {}", role.name);
            }
        }
    }

    #[test]
    fn the_ingest_tiers_own_metrics_run_back_to_the_gateway_without_making_the_flow_cycle() {
        let p = plan(&crate::plan::pass::buffer::tests::buffered(""), TopologyId::D);
        let edges = p.edges();
        assert!(edges.iter().any(|e| e.from == "dkp-ingest" && e.to == "dkp-gateway"), "{edges:?}");
        // gateway → kafka → ingest → gateway carries metrics, yet the flow's figures have no cycle.
        let metrics = crate::analysis::figures::depths(&p.graph, crate::model::keywords::Signal::Metrics);
        assert!(metrics.is_ok(), "{metrics:?}");
    }
}
