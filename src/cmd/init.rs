//! `otelplan init [FILE]`: a commented starter stack and its JSON Schema beside it, linked by a
//! `yaml-language-server` modeline so editors complete and check the file offline.

use std::fs;
use std::path::Path;

use anyhow::Context;

use crate::cmd::{Exit, Verbosity};

/// The starter stack (the DKP example, commented).
const STARTER: &str = include_str!("../../templates/init/otelplan.yaml");
/// The schema's file name, beside the stack file.
const SCHEMA_FILE: &str = "stack.schema.json";

/// Run `init`.
pub(crate) fn run(file: &Path, force: bool, verbosity: Verbosity) -> anyhow::Result<Exit> {
    let schema_path = file.with_file_name(SCHEMA_FILE);
    for path in [file, schema_path.as_path()] {
        if path.exists() && !force {
            crate::report::failure(&anyhow::anyhow!(
                "`{}` exists: nothing was written (pass `--force` to overwrite it)",
                path.display()
            ));
            return Ok(2);
        }
    }
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let stack = STARTER.replacen("SCHEMA_PATH", &format!("./{SCHEMA_FILE}"), 1);
    fs::write(&schema_path, crate::cmd::schema::schema_json()?)
        .with_context(|| format!("writing {}", schema_path.display()))?;
    fs::write(file, stack).with_context(|| format!("writing {}", file.display()))?;
    if verbosity != Verbosity::Quiet {
        eprintln!("wrote {} and {}", file.display(), schema_path.display());
        eprintln!("next: `otelplan plan {}`, then `otelplan render {}`", file.display(), file.display());
    }
    Ok(0)
}
