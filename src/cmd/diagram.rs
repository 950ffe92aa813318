//! `otelplan diagram STACK [-o FILE.svg]`: the data-flow diagram of the chosen (or named)
//! topology, the same `diagram.svg` that `render` writes.

use std::path::Path;

use crate::cmd::Exit;
use crate::model::keywords::TopologyId;
use crate::templates::Templates;
use crate::{output, report};

/// Run `diagram`.
pub(crate) fn run(path: &Path, topology: Option<TopologyId>, out: Option<&Path>) -> anyhow::Result<Exit> {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let (plan, warnings) = match crate::analyse(&source, topology)? {
        Ok(pair) => pair,
        Err(diags) => {
            report::diagnostics(&source, &diags);
            return Ok(2);
        }
    };
    report::diagnostics(&source, &warnings);
    let svg = crate::emit::svg::render(&plan, &[], "", &Templates::new(None)?)?;
    match out {
        Some(file) => {
            output::write_file(file, &svg)?;
            eprintln!("topology {}: wrote {}", plan.choice.id.letter(), file.display());
        }
        None => crate::report::out(&svg)?,
    }
    Ok(0)
}
