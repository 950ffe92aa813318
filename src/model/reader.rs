//! Parse stage helpers: typed reads from the located tree. Each read reports its own problem
//! (with the node's line:col and what was expected) and returns `None`, so one run finds
//! every problem in the file.

use crate::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::model::node::{plain_type, Node, PlainType, Value};
use crate::span::{Span, Spanned};

/// A mapping being read, with its known keys checked up front.
pub(crate) struct MapView<'n> {
    entries: &'n [(Node, Node)],
    /// Dotted path of the mapping (`services.web`), for messages; empty at the top.
    pub(crate) path: String,
    /// Where the mapping starts.
    pub(crate) span: Span,
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn expected(node: &Node, path: &str, what: &str) -> Diagnostic {
    let key = path.rsplit('.').next().unwrap_or(path);
    let hint = match what {
        "a mapping" => format!("write the fields of `{key}` indented under it, or as `{{ field: value }}`"),
        "a list" => format!("write `{key}: [a, b]`, or one `- item` per line"),
        "a string" => "write a single value; quote it if it holds `:`, `#`, `[` or `{`".to_string(),
        _ => format!("write `{key}:` followed by {what}"),
    };
    Diagnostic::error(node.span, format!("`{path}` must be {what}, found {}", node.kind_name())).hint(hint)
}

impl<'n> MapView<'n> {
    /// Read `node` as a mapping whose keys must be among `known`; unknown keys are reported
    /// with a "did you mean" hint. `known` empty means any key (a map of names).
    pub(crate) fn open(node: &'n Node, path: &str, known: &[&str], d: &mut Diagnostics) -> Option<Self> {
        let Value::Map(entries) = &node.value else {
            d.push(expected(node, display_path(path), "a mapping"));
            return None;
        };
        for (key, _) in entries {
            let Value::Scalar { text, .. } = &key.value else {
                d.push(
                    Diagnostic::error(key.span, format!("keys in `{}` must be plain names", display_path(path)))
                        .hint("write each key as a plain name followed by `:`"),
                );
                continue;
            };
            if !known.is_empty() && !known.contains(&text.as_str()) {
                let place = if path.is_empty() { "at the top level".to_string() } else { format!("in `{path}`") };
                d.push(
                    Diagnostic::error(key.span, format!("unknown field `{text}` {place}"))
                        .maybe_hint(did_you_mean(text, known.iter().copied()))
                        .hint(format!("expected one of {}", list_names(known))),
                );
            }
        }
        Some(MapView { entries, path: path.to_string(), span: node.span })
    }

    /// The value of `key`, if present and not null.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// The span of the entry `key` (its key), when present.
    pub(crate) fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
            .map(|(k, _)| k.span)
    }

    /// The value of a required `key`; its absence is reported at the mapping.
    pub(crate) fn required(&self, key: &str, d: &mut Diagnostics) -> Option<&'n Node> {
        let value = self.get(key);
        if value.is_none() {
            let owner = if self.path.is_empty() { "the stack file".to_string() } else { format!("`{}`", self.path) };
            d.push(
                Diagnostic::error(self.span, format!("{owner} is missing the required field `{key}`"))
                    .hint(format!("add `{key}:`; `otelplan schema` prints every field")),
            );
        }
        value
    }

    /// Every entry whose key is a scalar: `(key text, key node, value node)`.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'n str, &'n Node, &'n Node)> {
        self.entries.iter().filter_map(|(k, v)| match &k.value {
            Value::Scalar { text, .. } => Some((text.as_str(), k, v)),
            _ => None,
        })
    }

    /// The dotted path of `key` inside this mapping.
    pub(crate) fn child(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "the stack file"
    } else {
        path
    }
}

/// `a`, `b` or `c` as backticked, comma-separated names.
pub(crate) fn list_names(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A scalar's text, whatever its YAML type, except null.
fn scalar_text<'n>(node: &'n Node, path: &str, d: &mut Diagnostics) -> Option<&'n str> {
    match &node.value {
        Value::Scalar { text, .. } if !node.is_null() => Some(text),
        _ => {
            d.push(expected(node, path, "a string"));
            None
        }
    }
}

/// A free-text string. `${` is refused: only secret fields hold environment references.
pub(crate) fn string(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    let text = scalar_text(node, path, d)?;
    if text.contains("${") {
        d.push(
            Diagnostic::error(
                node.span,
                format!("`{path}` contains `${{`, but only secret fields may reference the environment"),
            )
            .hint("secret fields are `password`, `api_key` and `secret_token`; every other string is taken literally"),
        );
        return None;
    }
    Some(Spanned::new(text.to_string(), node.span))
}

/// A string that must be non-empty and at most `max` characters, without control characters.
pub(crate) fn short_text(node: &Node, path: &str, max: usize, d: &mut Diagnostics) -> Option<Spanned<String>> {
    let s = string(node, path, d)?;
    if s.value.is_empty() || s.value.chars().count() > max {
        d.push(
            Diagnostic::error(node.span, format!("`{path}` must have 1 to {max} characters"))
                .hint("shorten it, or leave the field out to use the default"),
        );
        return None;
    }
    if s.value.chars().any(char::is_control) {
        d.push(
            Diagnostic::error(node.span, format!("`{path}` contains a control character (a newline or tab)"))
                .hint("write it on one line"),
        );
        return None;
    }
    Some(s)
}

/// A non-negative integer in `min..=max`.
pub(crate) fn integer(node: &Node, path: &str, min: u64, max: u64, d: &mut Diagnostics) -> Option<Spanned<u64>> {
    let parsed = match &node.value {
        Value::Scalar { text, plain: true } if plain_type(text) == PlainType::Int => text.parse::<u64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if (min..=max).contains(&n) => Some(Spanned::new(n, node.span)),
        Some(n) => {
            d.push(
                Diagnostic::error(node.span, format!("`{path}` is {n}, expected a whole number from {min} to {max}"))
                    .hint(format!("use a whole number from {min} to {max}")),
            );
            None
        }
        None => {
            d.push(expected(node, path, &format!("a whole number from {min} to {max}")));
            None
        }
    }
}

/// `true` or `false`.
pub(crate) fn boolean(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<bool>> {
    match &node.value {
        Value::Scalar { text, plain: true } if plain_type(text) == PlainType::Bool => {
            Some(Spanned::new(text.eq_ignore_ascii_case("true"), node.span))
        }
        _ => {
            let mut diag = expected(node, path, "`true` or `false`");
            if let Value::Scalar { text, .. } = &node.value {
                if matches!(text.to_ascii_lowercase().as_str(), "yes" | "no" | "on" | "off" | "y" | "n") {
                    diag = diag.hint("YAML 1.2 reads `yes`/`no`/`on`/`off` as strings: write `true` or `false`");
                }
            }
            d.push(diag);
            None
        }
    }
}

/// A fixed set of keywords a field may take.
pub(crate) trait Keyword: Sized + Copy + 'static {
    /// Every keyword with its value, in the order to list them.
    const ALL: &'static [(&'static str, Self)];
    /// Whether matching ignores ASCII case.
    const CASE_INSENSITIVE: bool = false;
}

/// One of `T`'s keywords.
pub(crate) fn keyword<T: Keyword>(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<T>> {
    one_of(node, path, T::ALL, T::CASE_INSENSITIVE, d)
}

/// One of `choices`, known at run time (the embedded topologies).
pub(crate) fn one_of<T: Copy>(
    node: &Node,
    path: &str,
    choices: &[(&str, T)],
    case_insensitive: bool,
    d: &mut Diagnostics,
) -> Option<Spanned<T>> {
    let names: Vec<&str> = choices.iter().map(|(k, _)| *k).collect();
    let text = scalar_text(node, path, d)?;
    let found = choices.iter().find(|(k, _)| if case_insensitive { k.eq_ignore_ascii_case(text) } else { *k == text });
    if let Some((_, v)) = found {
        Some(Spanned::new(*v, node.span))
    } else {
        d.push(
            Diagnostic::error(node.span, format!("`{path}` is `{text}`, expected one of {}", list_names(&names))).hint(
                did_you_mean(text, names.iter().copied())
                    .unwrap_or_else(|| format!("use one of {}", list_names(&names))),
            ),
        );
        None
    }
}

/// A list read item by item with `item`; `unique` refuses repeated items.
pub(crate) fn list<T: PartialEq>(
    node: &Node,
    path: &str,
    unique: bool,
    d: &mut Diagnostics,
    mut item: impl FnMut(&Node, &str, &mut Diagnostics) -> Option<Spanned<T>>,
) -> Option<Spanned<Vec<Spanned<T>>>> {
    let Value::Seq(items) = &node.value else {
        d.push(expected(node, path, "a list"));
        return None;
    };
    let mut out: Vec<Spanned<T>> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, n) in items.iter().enumerate() {
        let Some(v) = item(n, &format!("{path}[{i}]"), d) else {
            ok = false;
            continue;
        };
        if unique && out.iter().any(|o| o.value == v.value) {
            d.push(Diagnostic::error(n.span, format!("`{path}` lists the same value twice")).hint("remove the repeat"));
            ok = false;
            continue;
        }
        out.push(v);
    }
    ok.then(|| Spanned::new(out, node.span))
}

/// Whether `s` is an RFC 1035 label of at most `max` characters.
pub(crate) fn is_rfc1035_label(s: &str, max: usize) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-'
}

/// A name that must be an RFC 1035 label of at most `max` characters.
pub(crate) fn label(node: &Node, path: &str, max: usize, d: &mut Diagnostics) -> Option<Spanned<String>> {
    let text = scalar_text(node, path, d)?;
    label_text(text, node.span, path, max, d)
}

/// Check a name already read (for example a mapping key) as an RFC 1035 label.
pub(crate) fn label_text(
    text: &str,
    span: Span,
    path: &str,
    max: usize,
    d: &mut Diagnostics,
) -> Option<Spanned<String>> {
    if is_rfc1035_label(text, max) {
        return Some(Spanned::new(text.to_string(), span));
    }
    let fixed: String = text.to_ascii_lowercase().replace(['_', '.', ' '], "-");
    let mut diag = Diagnostic::error(
        span,
        format!("`{path}` is `{text}`, expected an RFC 1035 label: lowercase letters, digits and `-`, starting with a letter, not ending with `-`, at most {max} characters"),
    );
    if fixed != text && is_rfc1035_label(&fixed, max) {
        diag = diag.hint(format!("try `{fixed}`"));
    } else if text.chars().count() > max {
        diag = diag.hint(format!("shorten it to at most {max} characters"));
    } else {
        diag = diag.hint("for example `dkp` or `web-api`");
    }
    d.push(diag);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(is_rfc1035_label("dkp", 40));
        assert!(is_rfc1035_label("a1-b", 40));
        assert!(!is_rfc1035_label("1a", 40));
        assert!(!is_rfc1035_label("a-", 40));
        assert!(!is_rfc1035_label("A", 40));
        assert!(!is_rfc1035_label("", 40));
        assert!(!is_rfc1035_label("abc", 2));
    }
}
