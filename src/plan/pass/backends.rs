//! Pass `backends`: a node for each backend the topology writes to (stores and intakes).

use std::collections::BTreeSet;

use crate::plan::draft::{backend_id, Draft};
use crate::plan::node::NodeKind;
use crate::topology::BackendKind;

/// Add the backends.
#[expect(clippy::unnecessary_wraps, reason = "every pass has the signature of `Pass`")]
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let stores: BTreeSet<BackendKind> = d.topology.intakes.values().copied().collect();
    let intakes: BTreeSet<BackendKind> = d.topology.intakes.keys().copied().collect();
    let nodes: Vec<(BackendKind, String, bool)> =
        d.sinks.iter().map(|(k, s)| (*k, s.addr.host.clone(), s.deployed)).collect();
    for (kind, host, deployed) in nodes {
        let store = stores.contains(&kind) || !intakes.contains(&kind);
        d.add_node(backend_id(kind), host, NodeKind::Backend { kind, deployed, store }, 1);
    }
    Ok(())
}
