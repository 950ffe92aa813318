//! One module per subcommand; each wires the pipeline stages together and prints its result.

pub(crate) mod check_patches;
pub(crate) mod compare;
pub(crate) mod completions;
pub(crate) mod diagram;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod render;
pub(crate) mod schema;
pub(crate) mod templates;
pub(crate) mod topologies;
pub(crate) mod validate;

use std::path::Path;

use crate::analysis::Analysis;
use crate::cli::{Cli, Command, OutputFormat};
use crate::model::keywords::TopologyId;
use crate::report;
use crate::source::Source;

/// A finished command's exit code: 0 ok, 1 drift found, 2 invalid input (already reported).
pub(crate) type Exit = i32;

/// The prologue every planning subcommand shares: load the stack file, check it, choose and
/// plan. Bad input is reported (as JSON too, with `--format json`) and comes back as the exit
/// code; warnings are left to the caller, which knows how quiet to be.
pub(crate) fn analyse(
    path: &Path,
    topology: Option<TopologyId>,
    format: OutputFormat,
) -> anyhow::Result<Result<(Source, Analysis), Exit>> {
    let source = match crate::load_source(path) {
        Ok(s) => s,
        Err(code) => return Ok(Err(code)),
    };
    match crate::analysis::analyse(&source, topology)? {
        Ok(analysis) => Ok(Ok((source, analysis))),
        Err(diags) => {
            if format == OutputFormat::Json {
                report::print_json(
                    &serde_json::json!({ "ok": false, "diagnostics": report::diagnostics_json(&source, &diags) }),
                )?;
            }
            report::diagnostics(&source, &diags);
            Ok(Err(2))
        }
    }
}

/// How much to print, from the global flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// Errors only.
    Quiet,
    /// The usual summary.
    Normal,
    /// A line per artifact group and more.
    Verbose,
}

/// Run the parsed command line.
pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    crate::report::set_color(cli.color);
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, true) => Verbosity::Verbose,
        (false, false) => Verbosity::Normal,
    };
    match cli.command {
        Command::Render { stack, output, topology, check, force, templates, format } => render::run(&render::Options {
            stack: &stack,
            out: &output,
            topology,
            check,
            force,
            templates: templates.as_deref(),
            format,
            verbosity,
        }),
        Command::Validate { stack, format } => validate::run(&stack, format, verbosity),
        Command::Init { file, force } => init::run(&file, force, verbosity),
        Command::Templates { action } => templates::run(action),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man => completions::man(),
        Command::Plan { stack, topology, format } => plan::run(&stack, topology, format),
        Command::Diagram { stack, topology, output } => diagram::run(&stack, topology, output.as_deref()),
        Command::Compare { stack, format, output } => compare::run(&stack, format, output.as_deref()),
        Command::CheckPatches { paths, overlay } => check_patches::run(&paths, overlay.as_deref(), verbosity),
        Command::Schema => schema::run(),
        Command::Topologies => topologies::run(),
    }
}
