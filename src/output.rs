//! Write stage: put an `OutputTree` on disk, safely. The tree records what otelplan wrote in a
//! manifest (`.otelplan-manifest.json`, with content hashes): a re-render rewrites every owned
//! file, removes owned files no longer produced and never touches anything else. The new tree
//! is staged beside the target and moved in file by file, between an "incomplete" manifest and
//! the final one, so an interrupted render is detected (`--check`) and repaired (next render).
//! Only this module writes files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::emit::OutputTree;

/// The manifest's file name inside the output directory.
pub(crate) const MANIFEST: &str = ".otelplan-manifest.json";

/// What otelplan owns in an output directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    /// Always `otelplan`.
    generator: String,
    /// False while a render is moving files in.
    complete: bool,
    /// Owned files: relative path → SHA-256 of the content otelplan wrote.
    files: BTreeMap<String, String>,
}

/// Why a write was refused (the user's to fix, exit code 2), or failed.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The directory holds files otelplan does not own.
    NotOwned(PathBuf),
    /// Files otelplan would write exist, differ and are not otelplan's (hand-written).
    Conflicts(Vec<String>),
    /// An operational failure.
    Io(anyhow::Error),
}

impl From<anyhow::Error> for WriteError {
    fn from(e: anyhow::Error) -> Self {
        WriteError::Io(e)
    }
}

/// What a write did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct WriteReport {
    /// Files written (new or changed).
    pub(crate) written: Vec<String>,
    /// Files already up to date.
    pub(crate) unchanged: Vec<String>,
    /// Owned files no longer produced, removed.
    pub(crate) removed: Vec<String>,
}

/// How the directory on disk differs from the tree a render would write.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Drift {
    /// Files whose content differs: path, content on disk.
    pub(crate) changed: Vec<(String, String)>,
    /// Files the render would write that are missing.
    pub(crate) missing: Vec<String>,
    /// Owned files the render would no longer write.
    pub(crate) stale: Vec<String>,
    /// The last render did not finish.
    pub(crate) incomplete: bool,
}

impl Drift {
    /// Whether the directory is up to date.
    pub(crate) fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.stale.is_empty() && !self.incomplete
    }
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn checked(rel: &str) -> anyhow::Result<&str> {
    let bad = rel.is_empty()
        || rel.starts_with('/')
        || rel.split('/').any(|part| part.is_empty() || part == "." || part == "..")
        || rel == MANIFEST;
    anyhow::ensure!(!bad, "refusing to write `{rel}` (this is a bug in otelplan)");
    Ok(rel)
}

fn read_manifest(dir: &Path) -> anyhow::Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{} is not an otelplan manifest", path.display()))?;
    anyhow::ensure!(manifest.generator == "otelplan", "{} was not written by otelplan", path.display());
    Ok(Some(manifest))
}

/// Write `manifest` atomically (temporary file, then rename).
fn write_manifest(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let text = format!("{}\n", serde_json::to_string_pretty(manifest)?);
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, dir.join(MANIFEST)).with_context(|| format!("writing {}", dir.join(MANIFEST).display()))
}

fn is_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    Ok(fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_none())
}

fn staging_dir(target: &Path) -> PathBuf {
    let name = target.file_name().map_or_else(|| "otelplan-out".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.otelplan-staging"))
}

/// A failure injected after moving this many files, for tests of interrupted renders (debug
/// builds only).
fn injected_failure() -> Option<usize> {
    if cfg!(debug_assertions) {
        std::env::var("OTELPLAN_TEST_FAIL_AFTER_FILES").ok().and_then(|v| v.parse().ok())
    } else {
        None
    }
}

/// Write `tree` into `dir`. A directory with files but no manifest is refused unless `force`.
pub(crate) fn write_tree(dir: &Path, tree: &OutputTree, force: bool) -> Result<WriteReport, WriteError> {
    for rel in tree.keys() {
        checked(rel)?;
    }
    // `populated`: the directory holds something. A new or empty one has no file to compare
    // with, so no path of the tree is read (thousands of them, for a large stack).
    let exists = dir.exists();
    let (previous, populated) = if exists {
        let previous = read_manifest(dir)?;
        let populated = previous.is_some() || !is_empty_dir(dir)?;
        if previous.is_none() && populated && !force {
            return Err(WriteError::NotOwned(dir.to_path_buf()));
        }
        (previous, populated)
    } else {
        (None, false)
    };
    let owned = |rel: &str| previous.as_ref().is_some_and(|m| m.files.contains_key(rel));
    let conflicts: Vec<String> = tree
        .iter()
        .filter(|(rel, text)| {
            populated && !owned(rel) && fs::read_to_string(dir.join(rel)).is_ok_and(|current| current != **text)
        })
        .map(|(rel, _)| rel.clone())
        .collect();
    if !conflicts.is_empty() && !force {
        return Err(WriteError::Conflicts(conflicts));
    }
    let staging = staging_dir(dir);
    let result = stage(&staging, tree).and_then(|()| {
        if exists {
            move_into_place(dir, &staging, tree, previous.as_ref(), populated)
        } else {
            move_whole(dir, &staging, tree)
        }
    });
    // The staging copy goes either way; a failed move is repaired by the next render.
    let cleaned = if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))
    } else {
        Ok(())
    };
    let report = result?;
    cleaned?;
    Ok(report)
}

/// A directory that does not exist yet is the staged tree itself, complete with its final
/// manifest: one rename puts it in place (file by file would rename thousands of files).
fn move_whole(dir: &Path, staging: &Path, tree: &OutputTree) -> anyhow::Result<WriteReport> {
    let files: BTreeMap<String, String> = tree.iter().map(|(k, v)| (k.clone(), hash(v))).collect();
    fs::create_dir_all(staging).with_context(|| format!("creating {}", staging.display()))?;
    write_manifest(staging, &Manifest { generator: "otelplan".into(), complete: true, files })?;
    fs::rename(staging, dir).with_context(|| format!("moving {} into place", dir.display()))?;
    Ok(WriteReport { written: tree.keys().cloned().collect(), ..WriteReport::default() })
}

fn stage(staging: &Path, tree: &OutputTree) -> anyhow::Result<()> {
    if staging.exists() {
        fs::remove_dir_all(staging)
            .with_context(|| format!("removing the stale staging directory {}", staging.display()))?;
    }
    let mut dirs = Dirs::default();
    for (rel, text) in tree {
        let path = staging.join(rel);
        dirs.create_parent(&path)?;
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The directories created so far, so each is created once rather than once per file in it.
#[derive(Default)]
struct Dirs(BTreeSet<PathBuf>);

impl Dirs {
    /// Create the directory `path` goes in, with its parents, unless done already.
    fn create_parent(&mut self, path: &Path) -> anyhow::Result<()> {
        let Some(parent) = path.parent() else { return Ok(()) };
        if !self.0.contains(parent) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            self.0.insert(parent.to_path_buf());
        }
        Ok(())
    }
}

fn move_into_place(
    dir: &Path,
    staging: &Path,
    tree: &OutputTree,
    previous: Option<&Manifest>,
    populated: bool,
) -> anyhow::Result<WriteReport> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let old_files: BTreeMap<String, String> = previous.map(|m| m.files.clone()).unwrap_or_default();
    let new_files: BTreeMap<String, String> = tree.iter().map(|(k, v)| (k.clone(), hash(v))).collect();
    // While files move, the manifest owns both generations and says the render is incomplete.
    let mut pending = old_files.clone();
    pending.extend(new_files.clone());
    write_manifest(dir, &Manifest { generator: "otelplan".into(), complete: false, files: pending })?;
    let fail_after = injected_failure();
    let mut report = WriteReport::default();
    let mut dirs = Dirs::default();
    for (i, (rel, text)) in tree.iter().enumerate() {
        if fail_after == Some(i) {
            anyhow::bail!("injected failure after {i} files (OTELPLAN_TEST_FAIL_AFTER_FILES)");
        }
        let to = dir.join(rel);
        if populated && fs::read_to_string(&to).is_ok_and(|current| current == *text) {
            report.unchanged.push(rel.clone());
            continue;
        }
        dirs.create_parent(&to)?;
        fs::rename(staging.join(rel), &to).with_context(|| format!("moving {} into place", to.display()))?;
        report.written.push(rel.clone());
    }
    for rel in old_files.keys().filter(|k| !tree.contains_key(*k)) {
        let path = dir.join(checked(rel)?);
        if path.exists() {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        remove_empty_parents(dir, &path);
        report.removed.push(rel.clone());
    }
    write_manifest(dir, &Manifest { generator: "otelplan".into(), complete: true, files: new_files })?;
    Ok(report)
}

/// Remove directories left empty by a removed file, up to (not including) `root`.
fn remove_empty_parents(root: &Path, file: &Path) {
    let mut current = file.parent();
    while let Some(d) = current {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        current = d.parent();
    }
}

/// Write one file (a diagram or report the user asked for with `-o`), creating its directory;
/// written beside the target first and renamed, so a failure leaves the old file whole.
pub(crate) fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.otelplan-tmp"));
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Compare `dir` with `tree` without writing anything.
pub(crate) fn check_tree(dir: &Path, tree: &OutputTree) -> anyhow::Result<Drift> {
    let mut drift = Drift::default();
    let manifest = if dir.exists() { read_manifest(dir)? } else { None };
    drift.incomplete = manifest.as_ref().is_some_and(|m| !m.complete);
    for (rel, text) in tree {
        match fs::read_to_string(dir.join(checked(rel)?)) {
            Ok(current) if current == *text => {}
            Ok(current) => drift.changed.push((rel.clone(), current)),
            Err(_) => drift.missing.push(rel.clone()),
        }
    }
    let produced: BTreeSet<&String> = tree.keys().collect();
    if let Some(m) = &manifest {
        drift.stale =
            m.files.keys().filter(|k| !produced.contains(k) && dir.join(k.as_str()).exists()).cloned().collect();
    }
    Ok(drift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> OutputTree {
        files.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn rewrites_owned_files_and_keeps_others() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let first = write_tree(&dir, &tree(&[("a/x.yaml", "1\n"), ("b.yaml", "2\n")]), false).unwrap();
        assert_eq!(first.written, vec!["a/x.yaml", "b.yaml"]);
        fs::write(dir.join("NOTES.md"), "mine\n").unwrap();
        fs::write(dir.join("b.yaml"), "edited\n").unwrap();
        let second = write_tree(&dir, &tree(&[("b.yaml", "2\n"), ("c.yaml", "3\n")]), false).unwrap();
        assert_eq!(second.written, vec!["b.yaml", "c.yaml"]);
        assert_eq!(second.removed, vec!["a/x.yaml"]);
        assert!(!dir.join("a").exists(), "emptied directories go too");
        assert_eq!(fs::read_to_string(dir.join("NOTES.md")).unwrap(), "mine\n");
        assert_eq!(fs::read_to_string(dir.join("b.yaml")).unwrap(), "2\n");
        assert!(check_tree(&dir, &tree(&[("b.yaml", "2\n"), ("c.yaml", "3\n")])).unwrap().is_clean());
    }

    #[test]
    fn never_overwrites_a_hand_written_file_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        write_tree(&dir, &tree(&[("a", "1\n")]), false).unwrap();
        fs::write(dir.join("b"), "ours\n").unwrap();
        let refused = write_tree(&dir, &tree(&[("a", "1\n"), ("b", "2\n")]), false);
        assert!(matches!(refused, Err(WriteError::Conflicts(ref c)) if c == &["b".to_string()]));
        assert_eq!(fs::read_to_string(dir.join("b")).unwrap(), "ours\n");
        write_tree(&dir, &tree(&[("a", "1\n"), ("b", "2\n")]), true).unwrap();
        assert_eq!(fs::read_to_string(dir.join("b")).unwrap(), "2\n");
    }

    #[test]
    fn refuses_foreign_directories_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("keep.txt"), "x").unwrap();
        assert!(matches!(write_tree(tmp.path(), &tree(&[("a", "1")]), false), Err(WriteError::NotOwned(_))));
        assert!(write_tree(tmp.path(), &tree(&[("a", "1")]), true).is_ok());
        assert_eq!(fs::read_to_string(tmp.path().join("keep.txt")).unwrap(), "x");
    }

    #[test]
    fn check_reports_every_kind_of_drift() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        write_tree(&dir, &tree(&[("a", "1\n"), ("b", "2\n"), ("c", "3\n")]), false).unwrap();
        fs::write(dir.join("a"), "changed\n").unwrap();
        fs::remove_file(dir.join("b")).unwrap();
        let drift = check_tree(&dir, &tree(&[("a", "1\n"), ("b", "2\n")])).unwrap();
        assert_eq!(drift.changed, vec![("a".to_string(), "changed\n".to_string())]);
        assert_eq!(drift.missing, vec!["b"]);
        assert_eq!(drift.stale, vec!["c"]);
        assert!(!drift.is_clean());
    }

    #[test]
    fn refuses_paths_outside_the_tree() {
        for bad in ["../x", "/etc/x", "a/../../x", "", MANIFEST] {
            assert!(checked(bad).is_err(), "{bad}");
        }
    }
}
