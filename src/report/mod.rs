//! Reporting. Here: terminal output of diagnostics and failures — `error: message`,
//! `--> path:line:col`, the source line with a caret under the span, one `hint:` line per hint;
//! the only code that knows about colour. `compare.rs`: what `otelplan compare` prints.

pub(crate) mod compare;

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Source;

/// `--color`, set once from the command line.
static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Record the `--color` choice.
pub(crate) fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

/// Whether stderr gets colour: `--color always`, or a terminal with `NO_COLOR` unset.
pub(crate) fn use_color() -> bool {
    match COLOR.get().copied().unwrap_or(ColorChoice::Auto) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Diagnostics as JSON, for `--format json`: severity, file, line, column, message, hints.
pub(crate) fn diagnostics_json(source: &Source, items: &[Diagnostic]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = items
        .iter()
        .map(|d| {
            serde_json::json!({
                "severity": d.severity,
                "file": source.path.display().to_string(),
                "line": d.span.map(|s| s.line),
                "column": d.span.map(|s| s.col),
                "message": d.message,
                "hints": d.hints,
            })
        })
        .collect();
    serde_json::Value::Array(list)
}

/// Write `text` to standard output. A closed pipe (`otelplan … | head`) is reported as an
/// `io::ErrorKind::BrokenPipe` error, which `run` turns into a silent exit 0.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Print a JSON document on standard output.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    out(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Format one diagnostic against its source.
pub(crate) fn format_diagnostic(d: &Diagnostic, path: &str, text: Option<&str>, color: bool) -> String {
    let (label, code) = match d.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let mut out = format!("{}: {}\n", paint(label, code, color), d.message);
    match d.span {
        Some(span) => {
            let _ = writeln!(out, "  --> {path}:{}:{}", span.line, span.col);
            if let Some(line) = text.and_then(|t| t.lines().nth(span.line.saturating_sub(1))) {
                let number = span.line.to_string();
                let pad = " ".repeat(number.len());
                let shown: String = line.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
                let caret_len = span.len.max(1).min(shown.chars().count().saturating_sub(span.col - 1).max(1));
                let carets = paint(&"^".repeat(caret_len), code, color);
                let _ = writeln!(out, "{pad} |\n{number} | {shown}\n{pad} | {}{carets}", " ".repeat(span.col - 1));
            }
        }
        None => {
            let _ = writeln!(out, "  --> {path}");
        }
    }
    for hint in &d.hints {
        let _ = writeln!(out, "{}: {hint}", paint("hint", "1;36", color));
    }
    out
}

/// Print diagnostics of `source` to stderr, as they come.
pub(crate) fn findings(source: &Source, items: &[Diagnostic]) {
    let color = use_color();
    let path = source.path.display().to_string();
    let mut err = std::io::stderr().lock();
    for d in items {
        let _ = write!(err, "{}", format_diagnostic(d, &path, Some(&source.text), color));
    }
}

/// Print diagnostics of `source` to stderr, errors and warnings in position order, and say
/// that nothing was written when there is an error.
pub(crate) fn diagnostics(source: &Source, items: &[Diagnostic]) {
    findings(source, items);
    let color = use_color();
    let path = source.path.display().to_string();
    let mut err = std::io::stderr().lock();
    let errors = items.iter().filter(|d| d.severity == Severity::Error).count();
    if errors > 0 {
        let noun = if errors == 1 { "error" } else { "errors" };
        let _ = writeln!(err, "{}: {path} has {errors} {noun}; nothing was written", paint("error", "1;31", color));
    }
}

/// Print an operational failure with its whole cause chain, one cause per line.
pub(crate) fn failure(error: &anyhow::Error) {
    let color = use_color();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}: {error}", paint("error", "1;31", color));
    for cause in error.chain().skip(1) {
        let _ = writeln!(err, "  caused by: {cause}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    #[test]
    fn points_at_the_span() {
        let d = Diagnostic::error(Span::new(2, 3, 4), "bad thing").hint("fix it");
        let out = format_diagnostic(&d, "s.yaml", Some("a: 1\n  abcd: 2\n"), false);
        assert_eq!(out, "error: bad thing\n  --> s.yaml:2:3\n  |\n2 |   abcd: 2\n  |   ^^^^\nhint: fix it\n");
    }
}
