//! `otelplan render STACK -o DIR`: the whole pipeline, then the tree written safely
//! (`output.rs`), or with `--check` compared with what is on disk.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::OutputFormat;
use crate::cmd::{Exit, Verbosity};
use crate::model::keywords::TopologyId;
use crate::output::{self, Drift, WriteError};
use crate::{report, templates::Templates};

/// What `render` was asked to do.
pub(crate) struct Options<'a> {
    /// The stack file.
    pub(crate) stack: &'a Path,
    /// Output directory.
    pub(crate) out: &'a Path,
    /// `--topology`.
    pub(crate) topology: Option<TopologyId>,
    /// `--check`: compare, write nothing.
    pub(crate) check: bool,
    /// `--force`: render into a directory otelplan does not own.
    pub(crate) force: bool,
    /// `--templates DIR`.
    pub(crate) templates: Option<&'a Path>,
    /// `--format`.
    pub(crate) format: OutputFormat,
    /// `-q` / `-v`.
    pub(crate) verbosity: Verbosity,
}

/// Run `render`.
pub(crate) fn run(o: &Options<'_>) -> anyhow::Result<Exit> {
    let (source, analysis) = match crate::cmd::analyse(o.stack, o.topology, o.format)? {
        Ok(pair) => pair,
        Err(code) => return Ok(code),
    };
    if o.verbosity != Verbosity::Quiet {
        report::diagnostics(&source, &analysis.warnings);
    }
    let plan = &analysis.plan;
    let templates = Templates::new(o.templates)?;
    if o.verbosity == Verbosity::Verbose {
        for name in &templates.overridden {
            eprintln!("using the template override {name}");
        }
    }
    let tree = crate::emit::emit(plan, &templates)?;
    if o.check {
        let drift = output::check_tree(o.out, &tree)?;
        return check_report(o, &tree, &drift);
    }
    let written = match output::write_tree(o.out, &tree, o.force) {
        Ok(r) => r,
        Err(WriteError::NotOwned(dir)) => {
            report::failure(&anyhow::anyhow!(
                "`{}` is not empty and otelplan does not own it (it has no {}): nothing was written",
                dir.display(),
                output::MANIFEST
            ));
            eprintln!("hint: render into an empty or new directory, or pass `--force` to write into it anyway");
            return Ok(2);
        }
        Err(WriteError::Conflicts(paths)) => {
            report::failure(&anyhow::anyhow!(
                "{} would overwrite files otelplan did not write: {}; nothing was written",
                o.out.display(),
                paths.join(", ")
            ));
            eprintln!("hint: move those files away, or pass `--force` to replace them");
            return Ok(2);
        }
        Err(WriteError::Io(e)) => return Err(e),
    };
    match o.format {
        OutputFormat::Json => report::print_json(&serde_json::json!({
            "ok": true,
            "topology": plan.topology.id.letter(),
            "reason": plan.reason,
            "output": o.out.display().to_string(),
            "written": written.written,
            "unchanged": written.unchanged,
            "removed": written.removed,
            "warnings": report::diagnostics_json(&source, &analysis.warnings),
        }))?,
        OutputFormat::Text if o.verbosity == Verbosity::Quiet => {}
        OutputFormat::Text => {
            if o.verbosity == Verbosity::Verbose {
                for (group, count) in groups(tree.keys().map(String::as_str)) {
                    eprintln!("  {group}: {count} file{}", if count == 1 { "" } else { "s" });
                }
            }
            eprintln!("{}", plan.reason);
            eprintln!(
                "{}: {} written, {} unchanged, {} removed",
                o.out.display(),
                written.written.len(),
                written.unchanged.len(),
                written.removed.len()
            );
        }
    }
    Ok(0)
}

/// Files counted by their top-level directory (the artifact group).
fn groups<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<(&'a str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for p in paths {
        let group = p.split_once('/').map_or(p, |(g, _)| g);
        match out.iter_mut().find(|(g, _)| *g == group) {
            Some((_, n)) => *n += 1,
            None => out.push((group, 1)),
        }
    }
    out
}

fn check_report(o: &Options<'_>, tree: &crate::emit::OutputTree, drift: &Drift) -> anyhow::Result<Exit> {
    let code = i32::from(!drift.is_clean());
    if o.format == OutputFormat::Json {
        report::print_json(&serde_json::json!({
            "ok": drift.is_clean(),
            "changed": drift.changed.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "missing": drift.missing,
            "stale": drift.stale,
            "incomplete": drift.incomplete,
        }))?;
        return Ok(code);
    }
    if drift.is_clean() {
        if o.verbosity != Verbosity::Quiet {
            eprintln!("{}: up to date", o.out.display());
        }
        return Ok(0);
    }
    let mut text = String::new();
    let quiet = o.verbosity == Verbosity::Quiet;
    if drift.incomplete {
        let _ = writeln!(text, "{}: the last render did not finish", o.out.display());
    }
    for (path, on_disk) in &drift.changed {
        if quiet {
            let _ = writeln!(text, "changed: {path}");
            continue;
        }
        let expected = tree.get(path).map_or("", String::as_str);
        let diff = similar::TextDiff::from_lines(on_disk.as_str(), expected);
        let _ = write!(
            text,
            "{}",
            diff.unified_diff().context_radius(3).header(&format!("a/{path}"), &format!("b/{path}"))
        );
    }
    for path in &drift.missing {
        let _ = writeln!(text, "missing: {path}");
    }
    for path in &drift.stale {
        let _ = writeln!(text, "stale: {path} (no longer produced)");
    }
    report::out(&text)?;
    eprintln!("{}: out of date; run `otelplan render` to update it", o.out.display());
    Ok(code)
}
