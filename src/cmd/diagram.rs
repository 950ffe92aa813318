//! `otelplan diagram STACK [-o FILE.svg]`: the data-flow diagram of the chosen (or named)
//! topology, the same `diagram.svg` that `render` writes.

use std::path::Path;

use crate::cli::OutputFormat;
use crate::cmd::Exit;
use crate::model::keywords::TopologyId;
use crate::templates::Templates;
use crate::{output, report};

/// Run `diagram`.
pub(crate) fn run(path: &Path, topology: Option<TopologyId>, out: Option<&Path>) -> anyhow::Result<Exit> {
    let (source, analysis) = match crate::cmd::analyse(path, topology, OutputFormat::Text)? {
        Ok(pair) => pair,
        Err(code) => return Ok(code),
    };
    report::diagnostics(&source, &analysis.warnings);
    let plan = &analysis.plan;
    let svg = crate::emit::svg::render(plan, &[], "", &Templates::new(None)?)?;
    match out {
        Some(file) => {
            output::write_file(file, &svg)?;
            eprintln!("topology {}: wrote {}", plan.topology.id.letter(), file.display());
        }
        None => crate::report::out(&svg)?,
    }
    Ok(0)
}
