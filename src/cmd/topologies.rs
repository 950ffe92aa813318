//! `otelplan topologies`: the architectures otelplan knows (one per `topologies/*.yaml`), one
//! line each: id, a tab, its title. Scripts loop over the first column.

use std::fmt::Write as _;

use crate::cmd::Exit;
use crate::topology::{Topology, TopologyId};

/// Run `topologies`.
pub(crate) fn run() -> anyhow::Result<Exit> {
    let mut out = String::new();
    for id in TopologyId::all() {
        let _ = writeln!(out, "{}\t{}", id.letter(), Topology::load(id)?.title);
    }
    crate::report::out(&out)?;
    Ok(0)
}
