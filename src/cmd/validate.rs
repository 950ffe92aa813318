//! `otelplan validate STACK`: parse and validate, report every problem, write nothing.

use std::path::Path;

use crate::cmd::Exit;
use crate::report;

/// Run `validate`.
pub(crate) fn run(path: &Path) -> Exit {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match crate::check(&source) {
        Ok((valid, warnings)) => {
            report::diagnostics(&source, &warnings);
            println!(
                "{}: valid stack `{}` with {} services",
                path.display(),
                valid.stack.name.value,
                valid.stack.services.value.len()
            );
            0
        }
        Err(diags) => {
            report::diagnostics(&source, &diags);
            2
        }
    }
}
