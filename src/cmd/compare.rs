//! `otelplan compare STACK [--format table|markdown|json|html] [-o FILE]`: every topology side
//! by side for this stack (`report::compare` writes it; `analysis` computes the figures).

use std::path::Path;

use crate::cli::CompareFormat;
use crate::cmd::Exit;
use crate::{output, report};

/// Run `compare`.
pub(crate) fn run(path: &Path, format: CompareFormat, out: Option<&Path>) -> anyhow::Result<Exit> {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let (valid, warnings) = match crate::check(&source) {
        Ok(pair) => pair,
        Err(diags) => {
            report::diagnostics(&source, &diags);
            return Ok(2);
        }
    };
    report::diagnostics(&source, &warnings);
    let text = crate::report::compare::compare(&valid, format)?;
    match out {
        Some(file) => {
            output::write_file(file, &text)?;
            eprintln!("wrote {}", file.display());
        }
        None => crate::report::out(&text)?,
    }
    Ok(0)
}
