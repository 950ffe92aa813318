//! One module per subcommand; each wires the pipeline stages together and prints its result.

pub(crate) mod plan;
pub(crate) mod render;
pub(crate) mod schema;
pub(crate) mod validate;

use crate::cli::{Cli, Command};

/// A finished command's exit code: 0 ok, 1 drift found, 2 invalid input (already reported).
pub(crate) type Exit = i32;

/// Run the parsed command line.
pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Render { stack, output, topology } => render::run(&stack, &output, topology.map(Into::into)),
        Command::Validate { stack } => Ok(validate::run(&stack)),
        Command::Plan { stack, topology } => plan::run(&stack, topology.map(Into::into)),
        Command::Schema => schema::run(),
    }
}
