//! `otelplan validate STACK`: check the stack file and plan it, report every problem and
//! warning (the planner's too), write nothing.

use std::path::Path;

use crate::cli::OutputFormat;
use crate::cmd::{Exit, Verbosity};
use crate::report;

/// Run `validate`.
pub(crate) fn run(path: &Path, format: OutputFormat, verbosity: Verbosity) -> anyhow::Result<Exit> {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let (code, diags, summary) = match crate::analysis::analyse(&source, None)? {
        Ok(analysis) => {
            let summary = format!(
                "{}: valid stack `{}` with {} services, topology {}",
                path.display(),
                analysis.plan.stack_name,
                analysis.plan.graph.node_weights().filter(|n| n.kind.is_service()).count(),
                analysis.plan.topology.id.letter()
            );
            (0, analysis.warnings, Some(summary))
        }
        Err(diags) => (2, diags, None),
    };
    if format == OutputFormat::Json {
        let doc = serde_json::json!({ "ok": code == 0, "diagnostics": report::diagnostics_json(&source, &diags) });
        report::print_json(&doc)?;
    }
    if code != 0 || verbosity != Verbosity::Quiet {
        report::diagnostics(&source, &diags);
    }
    if let (Some(summary), OutputFormat::Text, false) = (summary, format, verbosity == Verbosity::Quiet) {
        report::out(&format!("{summary}\n"))?;
    }
    Ok(code)
}
