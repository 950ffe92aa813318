//! Parse stage, first half: YAML text into the located tree (`Node`), with the limits that
//! keep hostile input cheap: no aliases (no alias bombs), bounded nesting, one document.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::node::{Node, Value};
use crate::span::Span;

/// Deepest nesting of mappings and sequences accepted (the format needs 5).
pub(crate) const MAX_DEPTH: usize = 32;

fn span_of(start: Marker, end: Marker) -> Span {
    let len = if end.line() == start.line() { end.col().saturating_sub(start.col()).max(1) } else { 1 };
    Span::new(start.line(), start.col() + 1, len)
}

/// What is being built while events arrive.
enum Frame {
    Seq(Span, Vec<Node>),
    Map(Span, Entries, Option<Node>),
}

/// A mapping's entries so far, with the line of each scalar key, so a repeated key is found
/// without comparing it with every earlier one (`services` may hold thousands).
#[derive(Default)]
struct Entries {
    list: Vec<(Node, Node)>,
    lines: BTreeMap<String, usize>,
}

/// Build the located tree of a one-document YAML text. Duplicate keys are reported (all of
/// them) and the first value kept; a syntax error stops the load.
pub(crate) fn load(text: &str) -> Result<(Node, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(pair) => pair,
            Err(e) => {
                let m = e.marker();
                let line = text.lines().nth(m.line().saturating_sub(1)).unwrap_or("");
                let hint = if line.contains("${") && line.contains(['{', '[']) {
                    "inside `{ }` or `[ ]`, quote environment references: `password: \"${NAME}\"`"
                } else {
                    "check the indentation and quoting around this position"
                };
                diags.push(
                    Diagnostic::error(Span::new(m.line(), m.col() + 1, 1), format!("invalid YAML: {}", e.info()))
                        .hint(hint),
                );
                return Err(diags);
            }
        };
        let here = span_of(span.start, span.end);
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    diags.push(
                        Diagnostic::error(here, "a second YAML document, expected exactly one")
                            .hint("a stack file holds one document: remove the `---` and what follows"),
                    );
                    return Err(diags);
                }
                continue;
            }
            Event::Alias(_) => {
                diags.push(
                    Diagnostic::error(here, "YAML aliases (`*name`) are not supported")
                        .hint("write the value out where it is used"),
                );
                return Err(diags);
            }
            Event::Scalar(text, style, _anchor, tag) => {
                if let Some(tag) = tag {
                    diags.push(
                        Diagnostic::error(
                            here,
                            format!("YAML tags (`{}`) are not supported", show_tag(&tag.handle, &tag.suffix)),
                        )
                        .hint("remove the tag; quote the value if it must be a string"),
                    );
                }
                Node {
                    value: Value::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain },
                    span: here,
                }
            }
            Event::SequenceStart(_, ref tag) | Event::MappingStart(_, ref tag) => {
                if tag.is_some() {
                    diags.push(Diagnostic::error(here, "YAML tags are not supported").hint("remove the tag"));
                }
                if stack.len() >= MAX_DEPTH {
                    diags.push(
                        Diagnostic::error(here, format!("nesting deeper than {MAX_DEPTH} levels"))
                            .hint("a stack file is at most a few levels deep: check the indentation"),
                    );
                    return Err(diags);
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(here, Vec::new())
                } else {
                    Frame::Map(here, Entries::default(), None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(span, items)) => Node { value: Value::Seq(items), span },
                Some(Frame::Map(span, entries, _)) => Node { value: Value::Map(entries.list), span },
                None => continue,
            },
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => insert_entry(entries, key, node, &mut diags),
            },
        }
    }
    if let Some(node) = root {
        Ok((node, diags))
    } else {
        diags.push(
            Diagnostic::file_error("the stack file is empty").hint("start from `otelplan init` or `examples/dkp.yaml`"),
        );
        Err(diags)
    }
}

/// A tag as the user wrote it: the core schema's `!!` shorthand where it applies.
fn show_tag(handle: &str, suffix: &str) -> String {
    if handle == "tag:yaml.org,2002:" {
        format!("!!{suffix}")
    } else {
        format!("{handle}{suffix}")
    }
}

fn scalar_key(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn insert_entry(entries: &mut Entries, key: Node, value: Node, diags: &mut Diagnostics) {
    if let Some(name) = scalar_key(&key) {
        if let Some(first) = entries.lines.get(name) {
            diags.push(
                Diagnostic::error(key.span, format!("key `{name}` is repeated in this mapping"))
                    .hint(format!("it was first given at line {first}; keep one of them")),
            );
            return;
        }
        entries.lines.insert(name.to_string(), key.span.line);
    }
    entries.list.push((key, value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions() {
        let (node, diags) = load("a: 1\nb:\n  - x\n").unwrap();
        assert!(!diags.has_errors());
        let Value::Map(entries) = node.value else { panic!("not a map") };
        assert_eq!(entries[1].0.span, Span::new(2, 1, 1));
        let Value::Seq(items) = &entries[1].1.value else { panic!("not a seq") };
        assert_eq!(items[0].span, Span::new(3, 5, 1));
    }

    #[test]
    fn reports_every_duplicate_key() {
        let (_, diags) = load("a: 1\na: 2\nb: 1\nb: 3\n").unwrap();
        let all = diags.into_sorted();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].span.unwrap().line, 2);
        assert_eq!(all[1].span.unwrap().line, 4);
    }

    #[test]
    fn refuses_aliases_depth_and_documents() {
        assert!(load("a: &x [1]\nb: *x\n").is_err());
        assert!(load(&"[".repeat(100)).is_err());
        assert!(load("a: 1\n---\nb: 2\n").is_err());
        assert!(load("").is_err());
        assert!(load("a: [1\n").is_err());
    }
}
