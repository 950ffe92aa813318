//! Pass `gateway`: the scaled collector tier that receives OTLP from apps and the other
//! collectors, adds pod metadata and the environment, and exports each signal to its sink.
//! Only when something sends to it.

use crate::model::keywords::Signal;
use crate::plan::collector::{ComponentId, ComponentKind as K, Pipeline, Receiver, ReceiverSpec};
use crate::plan::draft::{role_id, Draft};
use crate::plan::node::{NodeKind, RoleKind};

/// Add the gateway.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let me = role_id(&RoleKind::Gateway);
    let incoming = d.incoming(&me);
    if incoming.is_empty() {
        return Ok(());
    }
    // The collectors that forward to the gateway from pods of their own (not sidecars, whose
    // pod is the datastore's and is the right one to match) are never matched by pod metadata.
    let internal: Vec<String> = d
        .nodes
        .values()
        .filter(|n| matches!(n.kind, NodeKind::Collector { role: RoleKind::Scraper | RoleKind::NodeAgent }))
        .map(|n| n.name.clone())
        .collect();
    let mut role = d.new_role(RoleKind::Gateway)?;
    let spec = ReceiverSpec::Otlp { tls: d.valid.intake_tls.clone() };
    let otlp = Receiver { id: ComponentId::bare(K::OtlpReceiver), spec, checkpoints: false };
    let resource = d.environment_resource();
    // Pod metadata for app telemetry: it must run before any batching, which the exporters'
    // queues do after the pipeline.
    let pod = Draft::k8s_attributes(false, internal);
    for signal in Signal::ALL.into_iter().filter(|s| incoming.contains(s)) {
        let sink = d.sink_exporter(d.sink_of(signal));
        let exporter = d.route(&mut role, signal, sink);
        role.pipelines.push(Pipeline {
            signal,
            name: None,
            receivers: vec![otlp.id.clone()],
            processors: vec![ComponentId::bare(K::MemoryLimiterProcessor), pod.id.clone(), resource.id.clone()],
            exporters: vec![exporter],
        });
    }
    role.receivers.push(otlp);
    role.processors.push(pod);
    role.processors.push(resource);
    d.add_role(role, true);
    d.pod_attributes_at(&me);
    Ok(())
}
