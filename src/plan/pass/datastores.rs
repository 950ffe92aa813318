//! Pass `datastores`: a node for each datastore, and the metrics of those whose JVM carries
//! the OpenTelemetry Java agent, which export where the apps do.

use crate::model::keywords::Signal;
use crate::plan::draft::{service_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::NodeKind;
use crate::settings::Role;

/// Add the datastores.
#[expect(clippy::unnecessary_wraps, reason = "every pass has the signature of `Pass`")]
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let (entry, entry_addr) = d.app_entry();
    let valid = d.valid;
    for service in &valid.services {
        let Role::Datastore(ds) = &service.role else { continue };
        let id = service_id(&service.name);
        d.add_node(id.clone(), service.name.clone(), NodeKind::Datastore { kind: service.kind }, 1);
        if ds.java_agent {
            d.edge(&id, &entry, Signal::Metrics, Protocol::OtlpHttp, Some(entry_addr.port));
        }
    }
    Ok(())
}
