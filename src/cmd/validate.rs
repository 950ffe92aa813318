//! `otelplan validate STACK`: parse and validate, report every problem, write nothing.

use std::path::Path;

use crate::cli::OutputFormat;
use crate::cmd::{Exit, Verbosity};
use crate::report;

/// Run `validate`.
pub(crate) fn run(path: &Path, format: OutputFormat, verbosity: Verbosity) -> Exit {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (code, diags, summary) = match crate::check(&source) {
        Ok((valid, warnings)) => {
            let summary = format!(
                "{}: valid stack `{}` with {} services",
                path.display(),
                valid.stack.name.value,
                valid.stack.services.value.len()
            );
            (0, warnings, Some(summary))
        }
        Err(diags) => (2, diags, None),
    };
    if format == OutputFormat::Json {
        let doc = serde_json::json!({ "ok": code == 0, "diagnostics": report::diagnostics_json(&source, &diags) });
        if report::print_json(&doc).is_err() {
            return 2;
        }
    }
    if code != 0 || verbosity != Verbosity::Quiet {
        report::diagnostics(&source, &diags);
    }
    if let (Some(summary), OutputFormat::Text, false) = (summary, format, verbosity == Verbosity::Quiet) {
        if report::out(&format!("{summary}\n")).is_err() {
            return 0;
        }
    }
    code
}
