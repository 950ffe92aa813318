//! Write stage: put an `OutputTree` on disk. The whole tree is staged beside the target first,
//! so a failed render never leaves half a tree. Only this module writes files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::emit::OutputTree;

fn staging_dir(target: &Path) -> PathBuf {
    let name = target.file_name().map_or_else(|| "otelplan-out".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.otelplan-staging"))
}

/// Write `tree` into `dir`: staged beside it, then moved into place file by file (or as a whole
/// when `dir` does not exist yet).
pub(crate) fn write_tree(dir: &Path, tree: &OutputTree) -> anyhow::Result<()> {
    let staging = staging_dir(dir);
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .with_context(|| format!("removing stale staging directory {}", staging.display()))?;
    }
    for (rel, text) in tree {
        let path = staging.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if !dir.exists() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::rename(&staging, dir).with_context(|| format!("moving the staged tree to {}", dir.display()))?;
        return Ok(());
    }
    for rel in tree.keys() {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::rename(staging.join(rel), &to).with_context(|| format!("moving {} into place", to.display()))?;
    }
    fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    Ok(())
}
