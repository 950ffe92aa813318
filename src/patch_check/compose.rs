//! `check-patches COMPOSE_FILE… --overlay OVERLAY`, compose: every service the overlay adds to,
//! and every service it waits for, must be defined by the team's compose files (as given with
//! `-f`, and the files they `include`). Compose would otherwise create the service from the
//! overlay alone, without an image, and refuse the project.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use super::{get, items, read, text, Report};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::node::{Node, Value};

/// The paths one `include` entry names: a string, or `path:` as a string or a list.
fn include_paths(entry: &Yaml) -> Vec<&str> {
    match entry {
        Yaml::String(path) => vec![path.as_str()],
        Yaml::Mapping(_) => match entry.get("path") {
            Some(Yaml::String(path)) => vec![path.as_str()],
            Some(Yaml::Sequence(list)) => list.iter().filter_map(Yaml::as_str).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Add the services of the compose file at `path`, and of the files it includes.
fn collect(path: &Path, services: &mut BTreeSet<String>, seen: &mut BTreeSet<PathBuf>) -> Result<(), Diagnostic> {
    if !seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())) {
        return Ok(());
    }
    let source = read(path)?;
    let doc: Yaml = serde_yaml::from_str(&source.text)
        .map_err(|e| Diagnostic::file_error(format!("`{}` is not a compose file: {e}", path.display())))?;
    if let Some(map) = doc.get("services").and_then(Yaml::as_mapping) {
        services.extend(map.keys().filter_map(Yaml::as_str).map(str::to_string));
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    for entry in doc.get("include").and_then(Yaml::as_sequence).into_iter().flatten() {
        // A path with a variable is compose's to resolve; it is not followed.
        for included in include_paths(entry).into_iter().filter(|p| !p.contains('$')) {
            collect(&dir.join(included), services, seen)?;
        }
    }
    Ok(())
}

/// The services a service of the overlay waits for, with where each is named.
fn depends_on(service: &Node) -> Vec<(&str, &Node)> {
    match get(service, "depends_on").map(|d| &d.value) {
        Some(Value::Map(entries)) => entries.iter().filter_map(|(k, _)| Some((text(k)?, k))).collect(),
        Some(Value::Seq(_)) => items(get(service, "depends_on")).iter().filter_map(|n| Some((text(n)?, n))).collect(),
        _ => Vec::new(),
    }
}

/// Check `overlay` against the project of `files`. `Err` is a problem running the check.
pub(crate) fn check(files: &[PathBuf], overlay: &Path) -> Result<Report, Diagnostic> {
    let mut services = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for file in files {
        collect(file, &mut services, &mut seen)?;
    }
    let source = read(overlay)?;
    let (root, _) = crate::model::loader::load(&source.text).map_err(|_| {
        Diagnostic::file_error(format!("`{}` is not YAML otelplan can read", overlay.display()))
            .hint("give the overlay otelplan wrote: `compose/dkp.override.yaml` of the rendered tree")
    })?;
    let Some(Value::Map(entries)) = get(&root, "services").map(|s| &s.value) else {
        return Err(Diagnostic::file_error(format!("`{}` has no `services`", overlay.display())));
    };
    let known = || services.iter().map(String::as_str);
    let mut report = Report::default();
    let mut waits = 0;
    for (key, value) in entries {
        let Some(name) = text(key) else { continue };
        if !services.contains(name) {
            report.push(
                &source,
                Diagnostic::error(key.span, format!("the overlay adds to service `{name}`, which your compose files do not define"))
                    .maybe_hint(did_you_mean(name, known()))
                    .hint(format!("compose would create `{name}` from the overlay alone, without an image, and refuse the project"))
                    .hint("the overlay names services as the stack file does: rename the service in the stack to your compose service's name, then render again"),
            );
        }
        for (dependency, node) in depends_on(value) {
            waits += 1;
            if !services.contains(dependency) {
                report.push(
                    &source,
                    Diagnostic::error(node.span, format!("`{name}` waits for `{dependency}`, which your compose project does not define"))
                        .maybe_hint(did_you_mean(dependency, known()))
                        .hint("include otelplan's `compose/docker-compose.yaml` from your compose file (`include:`), as the tree's README says"),
                );
            }
        }
    }
    report.summary = format!(
        "{}: every service it adds to ({}) and waits for ({waits}) is in your compose project ({} services)",
        overlay.display(),
        entries.len(),
        services.len()
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_name_files_in_every_form() {
        let doc: Yaml = serde_yaml::from_str(
            "include:\n  - a.yaml\n  - path: b.yaml\n  - path: [c.yaml, d.yaml]\n  - project_directory: x\n",
        )
        .unwrap();
        let all: Vec<&str> = doc["include"].as_sequence().unwrap().iter().flat_map(include_paths).collect();
        assert_eq!(all, ["a.yaml", "b.yaml", "c.yaml", "d.yaml"]);
    }
}
