//! The located YAML tree: the stack file as mappings, sequences and scalars, each with its
//! span (parse stage). Built by `loader`, read by the model builders.

use crate::span::Span;

/// One YAML node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// What the node holds.
    pub(crate) value: Value,
    /// Where it starts.
    pub(crate) span: Span,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A scalar: its text and whether it was quoted (quoted scalars are always strings).
    Scalar {
        /// The scalar's text after YAML unescaping.
        text: String,
        /// Whether the scalar was written plain (unquoted, not a block scalar).
        plain: bool,
    },
    /// A sequence of nodes.
    Seq(Vec<Node>),
    /// A mapping, in the order written; keys are unique (the loader reports repeats).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What kind of YAML value this is, for "expected …, found …" messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar { text, plain: true } => match plain_type(text) {
                PlainType::Null => "null",
                PlainType::Bool => "a boolean",
                PlainType::Int => "an integer",
                PlainType::Float => "a number",
                PlainType::Str => "a string",
            },
            Value::Scalar { .. } => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Whether this is an explicit or empty null (`key:` with nothing, `~`, `null`).
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if plain_type(text) == PlainType::Null)
    }
}

/// The YAML 1.2 core-schema type of a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainType {
    /// `null`, `~` or empty.
    Null,
    /// `true` or `false` (any case the core schema allows).
    Bool,
    /// A decimal, octal (`0o`) or hex (`0x`) integer.
    Int,
    /// A floating point number.
    Float,
    /// Anything else.
    Str,
}

/// Resolve a plain scalar as the YAML 1.2 core schema does.
pub(crate) fn plain_type(text: &str) -> PlainType {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return PlainType::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return PlainType::Bool,
        ".inf" | "-.inf" | "+.inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN" => return PlainType::Float,
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return PlainType::Int;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return PlainType::Int;
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return PlainType::Int;
        }
    }
    let looks_numeric = digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric && digits.bytes().any(|b| b.is_ascii_digit()) && digits.parse::<f64>().is_ok() {
        return PlainType::Float;
    }
    PlainType::Str
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_types() {
        assert_eq!(plain_type(""), PlainType::Null);
        assert_eq!(plain_type("~"), PlainType::Null);
        assert_eq!(plain_type("true"), PlainType::Bool);
        assert_eq!(plain_type("yes"), PlainType::Str);
        assert_eq!(plain_type("12"), PlainType::Int);
        assert_eq!(plain_type("-3"), PlainType::Int);
        assert_eq!(plain_type("0x1F"), PlainType::Int);
        assert_eq!(plain_type("1.5"), PlainType::Float);
        assert_eq!(plain_type("1e3"), PlainType::Float);
        assert_eq!(plain_type("0.130.0"), PlainType::Str);
        assert_eq!(plain_type("db:5432"), PlainType::Str);
    }
}
