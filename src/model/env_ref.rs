//! `EnvRef`: a secret given as an environment reference `${NAME}` (parse stage). Secrets stay
//! references in every generated file; each emitter writes the reference in its tool's syntax.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::node::{Node, Value};
use crate::span::Spanned;

/// The name of an environment variable that holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub(crate) struct EnvRef(String);

/// The pattern a secret field must match (also the JSON Schema's).
pub(crate) const ENV_REF_PATTERN: &str = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$";

impl EnvRef {
    /// The variable's name, without `${` `}`.
    pub(crate) fn name(&self) -> &str {
        &self.0
    }

    /// A reference otelplan names itself; `name` must be a valid variable name.
    pub(crate) fn named(name: &str) -> EnvRef {
        debug_assert!(EnvRef::parse(&format!("${{{name}}}")).is_some(), "invalid variable name {name}");
        EnvRef(name.to_string())
    }

    /// Parse `${NAME}`.
    pub(crate) fn parse(text: &str) -> Option<EnvRef> {
        let name = text.strip_prefix("${")?.strip_suffix('}')?;
        let mut chars = name.chars();
        let first = chars.next()?;
        let ok = (first.is_ascii_alphabetic() || first == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        ok.then(|| EnvRef(name.to_string()))
    }

    /// `${NAME}`: compose, libbeat (APM Server) and dotenv syntax.
    pub(crate) fn braced(&self) -> String {
        format!("${{{}}}", self.0)
    }

    /// `${env:NAME}`: the collector's syntax.
    pub(crate) fn collector(&self) -> String {
        format!("${{env:{}}}", self.0)
    }

    /// Read a secret field: it must be a `${NAME}` reference, never the secret itself.
    pub(crate) fn read(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<EnvRef>> {
        let text = match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => text,
            _ => {
                d.push(
                    Diagnostic::error(
                        node.span,
                        format!(
                            "`{path}` must be an environment reference such as `${{SECRET_NAME}}`, found {}",
                            node.kind_name()
                        ),
                    )
                    .hint("write `${NAME}` with the name of the variable holding the secret"),
                );
                return None;
            }
        };
        if let Some(r) = EnvRef::parse(text) {
            if let Some(owner) = reserved(r.name()) {
                d.push(
                    Diagnostic::error(
                        node.span,
                        format!("`{path}` references `{}`, a variable {owner} sets itself", r.name()),
                    )
                    .hint("use a variable name of your own for the secret, for example `${PG_MONITOR_PASSWORD}`"),
                );
                return None;
            }
            return Some(Spanned::new(r, node.span));
        }
        let field = path.rsplit('.').next().unwrap_or(path);
        let diag = if text.contains("${") || text.starts_with('$') {
            Diagnostic::error(node.span, format!("`{path}` is not a valid environment reference"))
                .hint("write `${NAME}` where NAME has letters, digits and `_` and does not start with a digit")
        } else {
            Diagnostic::error(
                node.span,
                format!("`{path}` holds a literal secret; the secret field `{field}` must be an environment reference"),
            )
            .hint(format!(
                "write `{field}: ${{{}}}` and set that variable where otelplan's output runs",
                suggest_name(path)
            ))
            .hint("generated files never contain secrets, only references to them")
        };
        d.push(diag);
        None
    }
}

/// Who else sets a variable name, if a secret must not use it: the generated containers set
/// these themselves, so a secret under the same name would clash with (or replace) them.
fn reserved(name: &str) -> Option<&'static str> {
    const EXACT: [&str; 13] = [
        "GOMEMLIMIT",
        "PATH",
        "HOME",
        "JAVA_TOOL_OPTIONS",
        "K8S_NODE_NAME",
        "ES_JAVA_OPTS",
        "KIBANA_PASSWORD",
        "KIBANA_SYSTEM_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "DJANGO_SETTINGS_MODULE",
        "APM_SERVER_WRITER_PASSWORD",
        "OTELCOL_WRITER_PASSWORD",
        "KIBANA_ENCRYPTION_KEY",
    ];
    const PREFIXES: [&str; 5] = ["OTEL_", "OTELPLAN_", "ELASTICSEARCH_", "GF_", "XPACK_"];
    let upper = name.to_ascii_uppercase();
    if EXACT.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p)) {
        Some("otelplan's generated configuration")
    } else {
        None
    }
}

fn suggest_name(path: &str) -> String {
    path.split(['.', '[', ']'])
        .filter(|p| !p.is_empty() && *p != "services" && *p != "backends")
        .collect::<Vec<_>>()
        .join("_")
        .to_ascii_uppercase()
        .replace('-', "_")
}

impl JsonSchema for EnvRef {
    fn schema_name() -> Cow<'static, str> {
        "EnvRef".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": ENV_REF_PATTERN,
            "description": "A secret, given as an environment reference `${NAME}`; never the secret itself."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_only() {
        assert_eq!(EnvRef::parse("${A_1}").map(|r| r.name().to_string()), Some("A_1".into()));
        assert_eq!(EnvRef::parse("${_X}").map(|r| r.name().to_string()), Some("_X".into()));
        assert!(EnvRef::parse("${1A}").is_none());
        assert!(EnvRef::parse("${}").is_none());
        assert!(EnvRef::parse("secret").is_none());
        assert!(EnvRef::parse("${A}x").is_none());
        assert!(EnvRef::parse("${A-B}").is_none());
    }

    #[test]
    fn writes_each_syntax() {
        let r = EnvRef::parse("${PW}").unwrap();
        assert_eq!(r.braced(), "${PW}");
        assert_eq!(r.collector(), "${env:PW}");
        assert_eq!(suggest_name("services.db.password"), "DB_PASSWORD");
    }
}
