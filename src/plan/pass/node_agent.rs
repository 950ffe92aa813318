//! Pass `node-agent`: the per-node agent that reads the container logs of the datastores that
//! log to stdout, with their pods' metadata.

use crate::model::keywords::Signal;
use crate::plan::collector::{ComponentId, ComponentKind as K, ContainerLogSource, Pipeline, Receiver, ReceiverSpec};
use crate::plan::draft::{role_id, service_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::RoleKind;
use crate::settings::{LogSource, Role};

/// Add the node agent, when some datastore logs to stdout.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let valid = d.valid;
    let mut sources = Vec::new();
    for service in &valid.services {
        let Role::Datastore(ds) = &service.role else { continue };
        if ds.logs != Some(LogSource::Stdout) {
            continue;
        }
        d.edge(&service_id(&service.name), &role_id(&RoleKind::NodeAgent), Signal::Logs, Protocol::ContainerLogs, None);
        sources.push(ContainerLogSource {
            service: service.name.clone(),
            workload: service.workload.name.clone(),
            container: service.workload.container.clone(),
        });
    }
    if sources.is_empty() {
        return Ok(());
    }
    let mut role = d.new_role(RoleKind::NodeAgent)?;
    role.file_storage = true;
    let receiver = Receiver {
        id: ComponentId::named(K::FileLogReceiver, "containers"),
        spec: ReceiverSpec::ContainerLogs { datastores: sources },
        checkpoints: true,
    };
    let resource = d.environment_resource();
    let pod = Draft::k8s_attributes(true, Vec::new());
    let hop = d.next_hop(Signal::Logs);
    let exporter = d.route(&mut role, Signal::Logs, hop);
    role.pipelines.push(Pipeline {
        signal: Signal::Logs,
        name: None,
        receivers: vec![receiver.id.clone()],
        processors: vec![ComponentId::bare(K::MemoryLimiterProcessor), pod.id.clone(), resource.id.clone()],
        exporters: vec![exporter],
    });
    role.receivers.push(receiver);
    role.processors.push(pod);
    role.processors.push(resource);
    d.add_role(role, false);
    Ok(())
}
