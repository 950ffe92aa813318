//! Templates: layout files under `templates/`, embedded in the binary. The emitters build a
//! view model (data, decided by the plan) and render it here; templates hold layout only.
//!
//! Escaping is fail-closed: every `{{ }}` in a `.yaml`/`.yml`/`.json` template is written as a
//! JSON literal (a quoted YAML 1.2 scalar), in `.svg`/`.xml`/`.html` as escaped HTML, and a
//! template with any other extension is refused when it is loaded.

use std::path::Path;

use anyhow::Context;
use include_dir::{include_dir, Dir};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

/// The templates shipped with otelplan.
static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The data-flow diagram (`emit::svg`), also included by the `compare` page.
pub(crate) const DIAGRAM_SVG: &str = "svg/diagram.svg.j2";
/// The `compare --format html` page (`cmd::compare`).
pub(crate) const COMPARE_HTML: &str = "html/compare.html.j2";

/// The escaping a template gets from its name, or `None` for a name that is refused.
pub(crate) fn escape_for(name: &str) -> Option<AutoEscape> {
    let stem = name.strip_suffix(".j2").unwrap_or(name);
    let ext = Path::new(stem).extension().and_then(|e| e.to_str())?;
    match ext {
        "yaml" | "yml" | "json" => Some(AutoEscape::Json),
        "svg" | "xml" | "html" => Some(AutoEscape::Html),
        _ => None,
    }
}

/// Every embedded template's name (`k8s/deployment.yaml.j2`, …), sorted.
pub(crate) fn embedded_names() -> Vec<String> {
    fn walk(dir: &Dir<'_>, out: &mut Vec<String>) {
        for f in dir.files() {
            let name = f.path().to_string_lossy().replace('\\', "/");
            if Path::new(&name).extension().is_some_and(|e| e.eq_ignore_ascii_case("j2")) {
                out.push(name);
            }
        }
        for d in dir.dirs() {
            walk(d, out);
        }
    }
    let mut out = Vec::new();
    walk(&EMBEDDED, &mut out);
    out.sort();
    out
}

/// The text of an embedded template.
pub(crate) fn embedded_source(name: &str) -> Option<&'static str> {
    EMBEDDED.get_file(name).and_then(|f| f.contents_utf8())
}

/// The template environment: user overrides first (`--templates DIR`), then the embedded
/// defaults, which stay reachable as `builtin/<name>` so an override can extend them.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// Overrides that were used, for the log.
    pub(crate) overridden: Vec<String>,
}

impl Templates {
    /// Load every embedded template, with the files of `overrides` taking precedence.
    pub(crate) fn new(overrides: Option<&Path>) -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_debug(true);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|name| escape_for(name).unwrap_or(AutoEscape::Json));
        // Escaping stays on for user overrides too: no `safe` filter, and no template may turn
        // auto-escaping off (checked below).
        env.remove_filter("safe");
        env.add_filter("yaml", yaml_filter);
        env.add_filter("comment", comment_filter);
        env.set_formatter(formatter);
        let mut overridden = Vec::new();
        for name in embedded_names() {
            anyhow::ensure!(escape_for(&name).is_some(), "template `{name}` has an extension without escaping rules");
            let builtin = embedded_source(&name).with_context(|| format!("template `{name}` is not UTF-8"))?;
            // Only an override can reach `builtin/<name>`: without an override directory the
            // embedded templates are compiled once, under their own names.
            if overrides.is_some() {
                env.add_template_owned(format!("builtin/{name}"), builtin.to_string())
                    .with_context(|| format!("parsing the embedded template `{name}` (this is a bug in otelplan)"))?;
            }
            let source = match overrides.map(|dir| dir.join(&name)).filter(|p| p.is_file()) {
                Some(path) => {
                    overridden.push(name.clone());
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading the template {}", path.display()))?;
                    anyhow::ensure!(
                        !text.contains("autoescape"),
                        "the template {} turns auto-escaping off, which otelplan does not allow",
                        path.display()
                    );
                    text
                }
                None => builtin.to_string(),
            };
            env.add_template_owned(name.clone(), source).with_context(|| format!("parsing the template `{name}`"))?;
        }
        Ok(Templates { env, overridden })
    }

    /// Render `name` with `context`.
    pub(crate) fn render<S: Serialize>(&self, name: &str, context: &S) -> anyhow::Result<String> {
        let template =
            self.env.get_template(name).with_context(|| format!("no template `{name}` (this is a bug in otelplan)"))?;
        template.render(context).with_context(|| format!("rendering the template `{name}`"))
    }
}

/// `{{ value | yaml(indent) }}`: a nested value as block YAML, every line indented, written by
/// the serialiser that quotes what needs quoting (so the output stays escaped).
#[allow(clippy::needless_pass_by_value, reason = "minijinja passes filter arguments by value")]
fn yaml_filter(value: minijinja::Value, indent: usize) -> Result<minijinja::Value, minijinja::Error> {
    let text = if let Some(text) = crate::emit::yaml::template_to_yaml(&value) {
        text
    } else {
        let data: serde_yaml::Value = serde_yaml::to_value(&value)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))?;
        crate::emit::yaml::to_yaml(&data)
    };
    let mut indented = String::with_capacity(text.len() + indent * text.len() / 16);
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            indented.push('\n');
        }
        indented.extend(std::iter::repeat_n(' ', indent));
        indented.push_str(line);
    }
    Ok(minijinja::Value::from_safe_string(indented))
}

/// `{{ text | comment }}`: text for a `#` comment line, on one line.
fn comment_filter(text: &str) -> minijinja::Value {
    let one_line: String =
        text.chars().map(|c| if c.is_control() || crate::emit::yaml::is_yaml_break(c) { ' ' } else { c }).collect();
    minijinja::Value::from_safe_string(one_line)
}

/// Print a value: JSON-escaped in YAML and JSON templates, as minijinja does, with YAML's own
/// line breaks escaped too (`emit::yaml::json_to_yaml_quoted`); everything else as minijinja
/// escapes it.
fn formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() != AutoEscape::Json || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let json = serde_json::to_string(value).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::BadSerialization, "unable to format to JSON").with_source(e)
    })?;
    out.write_str(&crate::emit::yaml::json_to_yaml_quoted(json)).map_err(minijinja::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_extension() {
        assert_eq!(escape_for("k8s/deployment.yaml.j2"), Some(AutoEscape::Json));
        assert_eq!(escape_for("svg/diagram.svg.j2"), Some(AutoEscape::Html));
        assert_eq!(escape_for("x/readme.md.j2"), None);
        assert_eq!(escape_for("x/noext.j2"), None);
    }

    #[test]
    fn no_template_disables_escaping() {
        for name in embedded_names() {
            let text = embedded_source(&name).unwrap();
            assert!(!text.contains("|safe") && !text.contains("| safe"), "{name} uses `safe`");
            assert!(!text.contains("autoescape false"), "{name} turns escaping off");
        }
    }

    #[test]
    fn yaml_line_breaks_stay_escaped() {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Json);
        env.set_formatter(formatter);
        env.add_filter("comment", comment_filter);
        let text = env
            .render_str(
                "# {{ c | comment }}\nk: {{ v }}",
                minijinja::context! { c => "x\u{2028}y: 1", v => "a\u{2029}b" },
            )
            .unwrap();
        assert_eq!(text, "# x y: 1\nk: \"a\\u2029b\"");
    }

    #[test]
    fn every_embedded_template_loads() {
        Templates::new(None).unwrap();
    }
}
