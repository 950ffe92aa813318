//! Emit stage: `instrumentation/<service>.env`, the `OTEL_*` environment of each Django
//! service as a dotenv file (compose's `env_file` format).

use std::fmt::Write as _;

use crate::emit::yaml::HEADER;
use crate::plan::app::EnvValue;
use crate::plan::{AppPlan, Flavor, Plan};

/// Quote a literal for a dotenv file: bare when it is plainly safe, else double-quoted with
/// `\`, `"` escaped and `$` doubled so compose never interpolates it.
pub(crate) fn dotenv_value(value: &str) -> String {
    let safe = value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~:/,=%+@".contains(&b));
    if safe {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The env file of `app` in `flavor`.
pub(crate) fn render(plan: &Plan, app: &AppPlan, flavor: Flavor) -> String {
    let mut out = format!(
        "# {HEADER}\n# OpenTelemetry settings of `{}` in topology {}\n",
        app.service,
        plan.topology.id.letter()
    );
    for (key, value) in app.env(flavor, &plan.namespaces, &plan.environment) {
        let text = match value {
            EnvValue::Literal(v) => dotenv_value(&v),
            // The reference stays a reference: compose fills it in from the environment.
            EnvValue::Secret { prefix, env } => format!("{}{}", dotenv_value(&prefix), env.braced()),
        };
        let _ = writeln!(out, "{key}={text}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_is_not_plain() {
        assert_eq!(dotenv_value("http://gw:4318"), "http://gw:4318");
        assert_eq!(dotenv_value("a b"), "\"a b\"");
        assert_eq!(dotenv_value("x$y\"z"), "\"x$$y\\\"z\"");
        assert_eq!(dotenv_value(""), "", "an empty value is written as nothing, which every reader agrees on");
    }
}
