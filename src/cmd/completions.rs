//! `otelplan completions SHELL` and `otelplan man`: generated from the clap definitions.

use clap::CommandFactory;

use crate::cli::{Cli, ShellArg};
use crate::cmd::Exit;

/// Print the completion script for `shell`.
pub(crate) fn completions(shell: ShellArg) -> anyhow::Result<Exit> {
    let shell = match shell {
        ShellArg::Bash => clap_complete::Shell::Bash,
        ShellArg::Zsh => clap_complete::Shell::Zsh,
        ShellArg::Fish => clap_complete::Shell::Fish,
        ShellArg::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "otelplan", &mut script);
    crate::report::out(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// Print the man page.
pub(crate) fn man() -> anyhow::Result<Exit> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut text = Vec::new();
    page.render(&mut text)?;
    crate::report::out(&String::from_utf8_lossy(&text))?;
    Ok(0)
}
