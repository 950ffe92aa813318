//! `otelplan plan STACK`: print the chosen topology, why (for `auto`: the score table and a
//! paragraph of reasoning), and the data-flow edges.

use std::fmt::Write as _;
use std::path::Path;

use crate::cmd::Exit;
use crate::model::keywords::TopologyId;
use crate::plan::Plan;
use crate::report;

/// The text `plan` prints.
pub(crate) fn describe(plan: &Plan) -> String {
    let mut out =
        format!("topology: {} ({})\nwhy: {}\n", plan.choice.id.letter(), plan.topology.title, plan.choice.reason);
    let _ = writeln!(out, "collector-contrib: {}", plan.collector_version);
    if let Some(board) = &plan.choice.scoreboard {
        let _ = writeln!(out, "scores (3 strong to 1 weak, from this stack's plan in each topology):");
        for line in board.table().lines() {
            let _ = writeln!(out, "  {line}");
        }
        let _ = write!(out, "reason:\n{}", crate::cmd::compare::wrap(&board.paragraph, 100, "  "));
    }
    let _ = writeln!(out, "collectors:");
    if plan.roles.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for role in &plan.roles {
        let _ =
            writeln!(out, "  {} ({} replica{})", role.name, role.replicas, if role.replicas == 1 { "" } else { "s" });
    }
    let _ = writeln!(out, "edges:");
    for e in plan.edges() {
        let port = e.port.map(|p| format!(" :{p}")).unwrap_or_default();
        let _ = writeln!(out, "  {} -> {}  {} via {}{port}", e.from, e.to, e.signal.as_str(), e.protocol);
    }
    out
}

/// Run `plan`.
pub(crate) fn run(path: &Path, topology: Option<TopologyId>) -> anyhow::Result<Exit> {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    match crate::analyse(&source, topology)? {
        Ok((plan, warnings)) => {
            report::diagnostics(&source, &warnings);
            report::out(&describe(&plan))?;
            Ok(0)
        }
        Err(diags) => {
            report::diagnostics(&source, &diags);
            Ok(2)
        }
    }
}
