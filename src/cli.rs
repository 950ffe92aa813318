//! Command-line interface (clap derive). The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::model::keywords::TopologyId;

/// Plan and render OpenTelemetry deployments for the DKP stack: collector configs, APM Server
/// config and app settings, from one declarative stack file.
#[derive(Debug, Parser)]
#[command(name = "otelplan", version = crate::VERSION_LINE, about, long_about = None)]
pub(crate) struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Print more: a line per written artifact group, template overrides used.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// When to colour messages: `auto` colours a terminal unless `NO_COLOR` is set.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub(crate) color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// When to colour messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How `render`, `validate` and `plan` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Text for people.
    Text,
    /// JSON on standard output, for scripts.
    Json,
}

/// Shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ShellArg {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
}

/// `otelplan templates …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TemplatesCommand {
    /// Write the built-in templates into DIR, to edit and pass back with `render --templates DIR`.
    Eject {
        /// Directory to write them into (created; existing files are not overwritten).
        dir: PathBuf,
    },
    /// List the built-in templates.
    List,
}

/// A topology on the command line: the id of one of the embedded topologies, in either case.
fn topology_arg() -> impl clap::builder::TypedValueParser<Value = TopologyId> {
    let values: Vec<clap::builder::PossibleValue> = crate::topology::TopologyId::all()
        .into_iter()
        .map(|id| {
            let title = crate::topology::Topology::load(id).map(|t| t.title).unwrap_or_default();
            clap::builder::PossibleValue::new(id.letter()).help(title)
        })
        .collect();
    clap::builder::PossibleValuesParser::new(values)
        .try_map(|text: String| TopologyId::parse(&text).ok_or_else(|| format!("no topology `{text}`")))
}

/// How `compare` writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompareFormat {
    /// Aligned text for a terminal.
    Table,
    /// A Markdown document (same figures as the table).
    Markdown,
    /// JSON for scripts (a stable contract).
    Json,
    /// One self-contained HTML page: the four diagrams side by side and the table.
    Html,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Render every artifact of the stack into a directory.
    Render {
        /// The stack file.
        stack: PathBuf,
        /// Output directory.
        #[arg(short, long, default_value = "otelplan-out")]
        output: PathBuf,
        /// Render this topology, overriding the file's `topology`.
        #[arg(long, value_parser = topology_arg(), ignore_case = true)]
        topology: Option<TopologyId>,
        /// Write nothing; exit 1 when the directory is not what a render would write, with a diff.
        #[arg(long)]
        check: bool,
        /// Render into a non-empty directory that otelplan does not own (its files are kept).
        #[arg(long, conflicts_with = "check")]
        force: bool,
        /// Templates that replace the built-in ones of the same name (see `templates eject`).
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Check a stack file and report every problem.
    Validate {
        /// The stack file.
        stack: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Write a commented starter stack file and its JSON Schema beside it.
    Init {
        /// The stack file to create.
        #[arg(default_value = "otelplan.yaml")]
        file: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Work with the built-in templates.
    Templates {
        /// What to do.
        #[command(subcommand)]
        action: TemplatesCommand,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Print the man page (roff).
    Man,
    /// Print the chosen topology and the data-flow edges.
    Plan {
        /// The stack file.
        stack: PathBuf,
        /// Plan this topology, overriding the file's `topology`.
        #[arg(long, value_parser = topology_arg(), ignore_case = true)]
        topology: Option<TopologyId>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Draw the data flow of the stack as an SVG diagram.
    Diagram {
        /// The stack file.
        stack: PathBuf,
        /// Draw this topology, overriding the file's `topology`.
        #[arg(long, value_parser = topology_arg(), ignore_case = true)]
        topology: Option<TopologyId>,
        /// Write the SVG here (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Compare the four topologies for the stack, with figures from each one's plan.
    Compare {
        /// The stack file.
        stack: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: CompareFormat,
        /// Write the result here (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check your own workloads against the patches otelplan writes for them: build your
    /// kustomization that uses the app-patches Component (every container must have an image), or
    /// read your compose files with the overlay (every service it names must exist). Exit 1 when
    /// they do not fit, with each problem where the name is written.
    CheckPatches {
        /// Your kustomization directory (built with `kubectl kustomize`); with `--overlay`, your
        /// compose files, as given to `docker compose -f`.
        #[arg(required = true, value_name = "KUSTOMIZE_DIR|COMPOSE_FILE")]
        paths: Vec<PathBuf>,
        /// otelplan's compose overlay (`compose/dkp.override.yaml`), checked against the compose
        /// files given.
        #[arg(long, value_name = "FILE")]
        overlay: Option<PathBuf>,
    },
    /// Print the JSON Schema of the stack file.
    Schema,
    /// List the topologies otelplan knows: id and title, tab-separated, one per line.
    Topologies,
}
