//! `check-patches`: the team's own workloads checked against the patches otelplan writes for
//! them. A strategic-merge patch whose container name matches no container of the workload adds
//! a container without an image, which `kubectl apply` refuses; a compose overlay entry whose
//! service the project lacks creates a service without an image, which compose refuses. Both
//! are found here before a deploy, each reported where the name is written.

pub(crate) mod compose;
pub(crate) mod kustomize;

use std::path::{Component, Path, PathBuf};

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::node::{Node, Value};
use crate::source::Source;

/// What a check found, per file, and what it looked at.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Each file with its diagnostics, in the order found.
    pub(crate) files: Vec<(Source, Vec<Diagnostic>)>,
    /// One line saying what was checked, for a clean run.
    pub(crate) summary: String,
}

impl Report {
    /// Add `diagnostic` on `source`, grouped with the file's others.
    pub(crate) fn push(&mut self, source: &Source, diagnostic: Diagnostic) {
        match self.files.iter_mut().find(|(s, _)| s.path == source.path) {
            Some((_, list)) => list.push(diagnostic),
            None => self.files.push((source.clone(), vec![diagnostic])),
        }
    }

    /// Whether an error was found (warnings do not fail the check).
    pub(crate) fn has_errors(&self) -> bool {
        self.files.iter().flat_map(|(_, d)| d).any(|d| d.severity == Severity::Error)
    }
}

/// `path` with each `dir/..` removed, as kustomize and compose resolve relative paths, for
/// messages that name the file the way the user finds it.
pub(crate) fn tidy(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match (c, out.last()) {
            (Component::CurDir, _) => {}
            (Component::ParentDir, Some(Component::Normal(_))) => {
                out.pop();
            }
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

/// A file read for the check; a problem with it is an operational error of the check.
pub(crate) fn read(path: &Path) -> Result<Source, Diagnostic> {
    Source::load(path)
}

/// The value of `key` in a mapping node.
pub(crate) fn get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    let Value::Map(entries) = &node.value else { return None };
    entries.iter().find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key)).map(|(_, v)| v)
}

/// The text of a scalar node.
pub(crate) fn text(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

/// The items of a sequence node (none for anything else).
pub(crate) fn items(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_tidied_lexically() {
        assert_eq!(tidy(Path::new("team/../out/./k/p.yaml")), PathBuf::from("out/k/p.yaml"));
        assert_eq!(tidy(Path::new("../x/../y")), PathBuf::from("../y"));
    }
}
