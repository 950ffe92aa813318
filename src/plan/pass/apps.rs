//! Pass `apps`: each Django service, where it exports its signals, with which credential.

use crate::model::keywords::Signal;
use crate::plan::app::{AppPlan, PodAttributes};
use crate::plan::draft::{service_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::NodeKind;
use crate::settings::Role;
use crate::topology::BackendKind;

/// Add the apps and their edges to the entry point.
#[expect(clippy::unnecessary_wraps, reason = "every pass has the signature of `Pass`")]
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let (entry, addr) = d.app_entry();
    let auth = d.app_credential();
    let valid = d.valid;
    let delta_metrics = d.topology.sinks.get(&Signal::Metrics) == Some(&BackendKind::Elasticsearch);
    for service in &valid.services {
        let Role::App(app) = &service.role else { continue };
        let id = service_id(&service.name);
        d.add_node(id.clone(), service.name.clone(), NodeKind::App, app.replicas);
        for s in &app.signals {
            d.edge(&id, &entry, *s, Protocol::OtlpHttp, Some(addr.port));
        }
        d.apps.push(AppPlan {
            service: service.name.clone(),
            replicas: app.replicas,
            signals: app.signals.clone(),
            instrumentations: app.instrumentations.clone(),
            endpoint: addr.clone(),
            auth: auth.clone(),
            workload: (service.workload.kind, service.workload.name.clone(), service.workload.container.clone()),
            // Until a collector it sends to takes them over (`Draft::pod_attributes_at`).
            pod_attributes: PodAttributes::App,
            delta_metrics,
            head_ratio: d.valid.head_sampling.map(|r| r.to_string()),
        });
    }
    Ok(())
}
