//! Diagnostics: problems with the user's input, each with a position, a message and hints
//! (STYLE.md §6). Operational failures use `anyhow` instead.

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is refused.
    Error,
    /// The input is accepted, but something is probably not what the user wants.
    Warning,
}

/// One problem found in the stack file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is; `None` for problems of the file as a whole.
    #[serde(skip)]
    pub span: Option<Span>,
    /// What was found and what was expected, lowercase, no trailing period.
    pub message: String,
    /// What the user can do about it.
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, span: Some(span), message: message.into(), hints: Vec::new() }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, span: Some(span), message: message.into(), hints: Vec::new() }
    }

    /// An error about the file as a whole.
    pub fn file_error(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, span: None, message: message.into(), hints: Vec::new() }
    }

    /// Add a hint line.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Add a hint when there is one.
    #[must_use]
    pub fn maybe_hint(self, hint: Option<String>) -> Self {
        match hint {
            Some(h) => self.hint(h),
            None => self,
        }
    }
}

/// Diagnostics collected over one run, in the order found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Record one diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// All diagnostics, sorted by position (file-level ones first), duplicates removed.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|a| (a.span, a.severity));
        self.items.dedup();
        self.items
    }

    /// Move every diagnostic of `other` into this collection.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

/// Edit distance between two short identifiers (Levenshtein), for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(row[j + 1]) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest of `candidates` to `found`, if it is close enough to be a likely typo.
pub fn suggest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let found_lower = found.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&found_lower, c), c))
        .filter(|(d, c)| c.len() >= 3 && *d <= (c.len().max(found.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, if any.
pub fn did_you_mean<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    suggest(found, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("replica", ["replicas", "kind"]), Some("replicas"));
        assert_eq!(suggest("topolgy", ["topology", "targets"]), Some("topology"));
        assert_eq!(suggest("zzzzzz", ["replicas", "kind"]), None);
        assert_eq!(suggest("Django", ["django", "redis"]), Some("django"));
        assert_eq!(suggest("E", ["A", "B", "auto"]), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
