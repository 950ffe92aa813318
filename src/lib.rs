//! otelplan: plan and render OpenTelemetry deployments for the DKP stack.
//!
//! The pipeline is one-way: load (`source`) → parse (`model`) → validate (`validate`) →
//! plan (`plan`) → emit (`emit`) → write (`output`); `cmd/*` wires the stages together.
#![forbid(unsafe_code)]

pub(crate) mod analysis;
pub(crate) mod cli;
pub(crate) mod cmd;
pub mod diagnostic;
pub(crate) mod emit;
pub(crate) mod model;
pub(crate) mod output;
pub(crate) mod patch_check;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod settings;
pub mod source;
pub mod span;
#[doc(hidden)]
pub mod synthetic;
pub(crate) mod templates;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod topology;
pub(crate) mod validate;

use clap::Parser;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::keywords::TopologyId;
use crate::source::Source;
use crate::validate::ValidStack;

pub use crate::emit::OutputTree;

/// `--version`: otelplan's version, the pinned collector and the stack format version.
pub const VERSION_LINE: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (collector-contrib ", env!("OTELPLAN_COLLECTOR_VERSION"), ", stack format 1)");

/// Run the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = cli::Cli::parse();
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            report::failure(&e);
            2
        }
    }
}

/// Whether a failure is standard output closing early (`| head`), which is no failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Load a stack file, reporting a problem with the file itself (exit code 2).
pub(crate) fn load_source(path: &std::path::Path) -> Result<Source, cmd::Exit> {
    Source::load(path).map_err(|d| {
        report::diagnostics(&Source::from_text(path, ""), &[d]);
        2
    })
}

/// Parse and validate: the valid stack and its warnings, or every problem.
pub(crate) fn check(source: &Source) -> Result<(ValidStack, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (stack, mut diags) = model::parse(source).map_err(Diagnostics::into_sorted)?;
    match validate::validate(stack) {
        Ok((valid, more)) => {
            diags.extend(more);
            Ok((valid, diags.into_sorted()))
        }
        Err(more) => {
            diags.extend(more);
            Err(diags.into_sorted())
        }
    }
}

/// The ids of the topologies otelplan knows, in order (`A` … `D` and any other
/// `topologies/*.yaml`).
pub fn topologies() -> Vec<&'static str> {
    topology::TopologyId::all().into_iter().map(topology::TopologyId::letter).collect()
}

/// Render a stack file's text in memory (no files read or written): the API that tests,
/// benchmarks and fuzz targets share. `topology` overrides the file's choice.
pub fn render(text: &str, topology: Option<&str>) -> Result<OutputTree, Vec<Diagnostic>> {
    let source = Source::from_text("stack.yaml", text);
    let flag = topology.and_then(TopologyId::parse);
    let internal = |e: anyhow::Error| vec![Diagnostic::file_error(format!("{e:#} (this is a bug in otelplan)"))];
    let analysis = analysis::analyse(&source, flag).map_err(internal)??;
    let templates = templates::Templates::new(None).map_err(internal)?;
    emit::emit(&analysis.plan, &templates).map_err(internal)
}

/// Compare the four topologies for a stack file's text in memory, in `format` (`table`,
/// `markdown`, `json` or `html`): what `otelplan compare` prints, for tests and fuzz targets.
pub fn compare(text: &str, format: &str) -> Result<String, Vec<Diagnostic>> {
    let format = match format {
        "table" => cli::CompareFormat::Table,
        "markdown" => cli::CompareFormat::Markdown,
        "json" => cli::CompareFormat::Json,
        "html" => cli::CompareFormat::Html,
        other => return Err(vec![Diagnostic::file_error(format!("unknown compare format `{other}`"))]),
    };
    let source = Source::from_text("stack.yaml", text);
    let (valid, _) = check(&source)?;
    report::compare::compare(&valid, format)
        .map_err(|e| vec![Diagnostic::file_error(format!("{e:#} (this is a bug in otelplan)"))])
}
