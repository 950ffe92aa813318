//! Version strings of the stack file: the collector-contrib version and image tags (parse stage).

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::node::{Node, Value};
use crate::span::Spanned;

/// A collector-contrib release, `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CollectorVersion(pub u32, pub u32, pub u32);

impl CollectorVersion {
    /// The release otelplan writes configs for by default and CI validates with: the
    /// distribution table's `default_version` (`build.rs` reads it from there).
    pub(crate) fn pinned() -> CollectorVersion {
        CollectorVersion::parse(env!("OTELPLAN_COLLECTOR_VERSION")).unwrap_or(CollectorVersion::FLOOR)
    }
    /// The oldest version otelplan writes configs for.
    pub(crate) const FLOOR: CollectorVersion = CollectorVersion(0, 130, 0);

    /// Parse `0.159.0` (a leading `v` is accepted).
    pub(crate) fn parse(text: &str) -> Option<CollectorVersion> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let mut parts = text.split('.').map(|p| {
            (!p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        });
        let v = CollectorVersion(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }

    /// Read `collector.version`, enforcing the floor.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<CollectorVersion>> {
        let Value::Scalar { text, .. } = &node.value else {
            d.push(
                Diagnostic::error(
                    node.span,
                    format!("`{path}` must be a version such as `0.159.0`, found {}", node.kind_name()),
                )
                .hint("quote the version, for example `version: \"0.159.0\"`"),
            );
            return None;
        };
        let Some(v) = CollectorVersion::parse(text) else {
            d.push(
                Diagnostic::error(
                    node.span,
                    format!("`{path}` is `{text}`, expected a collector-contrib version `MAJOR.MINOR.PATCH`"),
                )
                .hint(format!("for example `{}`; quote it if YAML reads it as a number", CollectorVersion::pinned())),
            );
            return None;
        };
        if v < CollectorVersion::FLOOR {
            d.push(
                Diagnostic::error(
                    node.span,
                    format!(
                        "`{path}` is {v}, older than {}, the oldest collector otelplan supports",
                        CollectorVersion::FLOOR
                    ),
                )
                .hint(format!(
                    "use {} or newer; otelplan is tested against {}",
                    CollectorVersion::FLOOR,
                    CollectorVersion::pinned()
                )),
            );
            return None;
        }
        Some(Spanned::new(v, node.span))
    }
}

impl fmt::Display for CollectorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl JsonSchema for CollectorVersion {
    fn schema_name() -> Cow<'static, str> {
        "CollectorVersion".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^v?[0-9]+\.[0-9]+\.[0-9]+$",
            "description": "collector-contrib image tag, at least 0.130.0; default: the version otelplan is tested against"
        })
    }
}

/// A container image tag chosen by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageTag(pub String);

impl ImageTag {
    /// Read an image tag: letters, digits, `_`, `.`, `-`, at most 128 characters.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<ImageTag>> {
        let Value::Scalar { text, .. } = &node.value else {
            d.push(
                Diagnostic::error(node.span, format!("`{path}` must be an image tag, found {}", node.kind_name()))
                    .hint("quote the tag, for example `version: \"9.5.2\"`"),
            );
            return None;
        };
        let b = text.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
        if !ok {
            d.push(
                Diagnostic::error(node.span, format!("`{path}` is `{text}`, expected an image tag such as `9.5.2`"))
                    .hint("a tag has letters, digits, `_`, `.` and `-`, at most 128 characters"),
            );
            return None;
        }
        Some(Spanned::new(ImageTag(text.clone()), node.span))
    }
}

impl JsonSchema for ImageTag {
    fn schema_name() -> Cow<'static, str> {
        "ImageTag".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
            "description": "container image tag; default: the version otelplan pins"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(CollectorVersion::parse("0.159.0"), Some(CollectorVersion(0, 159, 0)));
        assert_eq!(CollectorVersion::parse("v0.130.1"), Some(CollectorVersion(0, 130, 1)));
        assert!(CollectorVersion::parse("0.159").is_none());
        assert!(CollectorVersion::parse("0.159.0.1").is_none());
        assert!(CollectorVersion::parse("latest").is_none());
        assert!(CollectorVersion(0, 129, 9) < CollectorVersion::FLOOR);
        assert!(CollectorVersion(1, 0, 0) > CollectorVersion::pinned());
    }
}
