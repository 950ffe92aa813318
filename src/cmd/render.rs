//! `otelplan render STACK -o DIR`: the whole pipeline, then the tree written in one move.

use std::path::Path;

use crate::cmd::Exit;
use crate::model::keywords::TopologyId;
use crate::{output, report};

/// Run `render`.
pub(crate) fn run(path: &Path, out: &Path, topology: Option<TopologyId>) -> anyhow::Result<Exit> {
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
    let tree = crate::emit::emit(&plan)?;
    output::write_tree(out, &tree)?;
    eprintln!("{}", crate::cmd::plan::describe(&plan).lines().take(2).collect::<Vec<_>>().join("\n"));
    eprintln!("wrote {} files to {}", tree.len(), out.display());
    Ok(0)
}
