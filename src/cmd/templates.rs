//! `otelplan templates eject DIR` / `list`: the built-in templates, to override with
//! `render --templates DIR`.

use std::fs;

use anyhow::Context;

use crate::cli::TemplatesCommand;
use crate::cmd::Exit;
use crate::templates::{embedded_names, embedded_source};

/// Run `templates`.
pub(crate) fn run(action: TemplatesCommand) -> anyhow::Result<Exit> {
    match action {
        TemplatesCommand::List => {
            let mut list = String::new();
            for name in embedded_names() {
                list.push_str(&name);
                list.push('\n');
            }
            crate::report::out(&list)?;
            Ok(0)
        }
        TemplatesCommand::Eject { dir } => {
            let mut skipped = 0;
            for name in embedded_names() {
                let path = dir.join(&name);
                if path.exists() {
                    eprintln!("kept {} (it exists)", path.display());
                    skipped += 1;
                    continue;
                }
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                let text = embedded_source(&name).unwrap_or_default();
                fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            }
            eprintln!(
                "wrote the built-in templates to {} ({skipped} kept); edit them and pass `--templates {}` to `render`",
                dir.display(),
                dir.display()
            );
            Ok(0)
        }
    }
}
