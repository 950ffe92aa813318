//! Command-line interface (clap derive). The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::model::keywords::TopologyId;

/// Plan and render OpenTelemetry deployments for the DKP stack: collector configs, APM Server
/// config and app settings, from one declarative stack file.
#[derive(Debug, Parser)]
#[command(name = "otelplan", version = crate::VERSION_LINE, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// A topology letter on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TopologyArg {
    /// Collector gateway, then APM Server.
    #[value(name = "A", alias = "a")]
    A,
    /// Apps straight to APM Server.
    #[value(name = "B", alias = "b")]
    B,
    /// A specialised backend per signal (Jaeger, Prometheus, Loki).
    #[value(name = "C", alias = "c")]
    C,
    /// Collector gateway with the elasticsearch exporter.
    #[value(name = "D", alias = "d")]
    D,
}

impl From<TopologyArg> for TopologyId {
    fn from(t: TopologyArg) -> TopologyId {
        match t {
            TopologyArg::A => TopologyId::A,
            TopologyArg::B => TopologyId::B,
            TopologyArg::C => TopologyId::C,
            TopologyArg::D => TopologyId::D,
        }
    }
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
        #[arg(long, value_enum)]
        topology: Option<TopologyArg>,
    },
    /// Check a stack file and report every problem.
    Validate {
        /// The stack file.
        stack: PathBuf,
    },
    /// Print the chosen topology and the data-flow edges.
    Plan {
        /// The stack file.
        stack: PathBuf,
        /// Plan this topology, overriding the file's `topology`.
        #[arg(long, value_enum)]
        topology: Option<TopologyArg>,
    },
    /// Print the JSON Schema of the stack file.
    Schema,
}
