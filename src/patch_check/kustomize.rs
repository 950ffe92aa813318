//! `check-patches DIR`, Kubernetes: build the team's kustomization as `kubectl apply -k` would
//! (`kubectl kustomize`, else `kustomize build`), then find every container without an image in
//! what it builds, and report it at the patch that names it. Patches of otelplan's Component
//! that match no workload are reported too (as warnings): kustomize skips them without a word.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_yaml::Value as Yaml;

use super::{get, items, read, text, tidy, Report};
use crate::diagnostic::{did_you_mean, Diagnostic, Severity};
use crate::emit::yaml::HEADER;
use crate::model::node::Node;
use crate::source::Source;
use crate::span::Span;

/// The names kustomize looks for in a directory, in its order.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A container of a built workload.
struct BuiltContainer {
    name: String,
    image: bool,
}

/// A workload in the built output.
struct Built {
    kind: String,
    name: String,
    containers: Vec<BuiltContainer>,
}

/// A container a patch names, and where.
struct PatchedContainer {
    name: String,
    span: Span,
    image: bool,
}

/// A strategic-merge patch that a kustomization applies, with the workload it targets.
struct Patch {
    source: Source,
    kind: String,
    name: String,
    name_span: Option<Span>,
    containers: Vec<PatchedContainer>,
    /// Written by otelplan (the app-patches Component).
    ours: bool,
}

/// Build `dir` with the first tool found.
fn build(dir: &Path) -> Result<String, Diagnostic> {
    let tools: [(&str, &str); 2] = [("kubectl", "kustomize"), ("kustomize", "build")];
    for (tool, sub) in tools {
        let out = match Command::new(tool).arg(sub).arg(dir).output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Diagnostic::file_error(format!("cannot run `{tool}`: {e}"))),
        };
        if out.status.success() {
            return String::from_utf8(out.stdout)
                .map_err(|_| Diagnostic::file_error(format!("`{tool} {sub}` wrote something other than UTF-8")));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first: Vec<&str> = stderr.lines().take(5).collect();
        return Err(Diagnostic::file_error(format!("`{tool} {sub} {}` failed: {}", dir.display(), first.join("\n")))
            .hint("check-patches checks what your kustomization builds: it must build first"));
    }
    Err(Diagnostic::file_error("neither `kubectl` nor `kustomize` is on PATH")
        .hint("check-patches builds your kustomization as `kubectl apply -k` does: install kubectl"))
}

/// The pod spec of a workload document, by kind.
fn pod_spec<'v>(kind: &str, doc: &'v Yaml) -> Option<&'v Yaml> {
    let spec = doc.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "CronJob" => spec.get("jobTemplate")?.get("spec")?.get("template")?.get("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => {
            spec.get("template")?.get("spec")
        }
        _ => None,
    }
}

/// Every workload of the built output.
fn workloads(built: &str) -> Result<Vec<Built>, Diagnostic> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(built) {
        let doc = Yaml::deserialize(doc)
            .map_err(|e| Diagnostic::file_error(format!("the built kustomization is not YAML: {e}")))?;
        let (Some(kind), Some(name)) = (
            doc.get("kind").and_then(Yaml::as_str),
            doc.get("metadata").and_then(|m| m.get("name")).and_then(Yaml::as_str),
        ) else {
            continue;
        };
        let Some(spec) = pod_spec(kind, &doc) else { continue };
        let containers = ["initContainers", "containers"]
            .iter()
            .filter_map(|key| spec.get(*key).and_then(Yaml::as_sequence))
            .flatten()
            .map(|c| BuiltContainer {
                name: c.get("name").and_then(Yaml::as_str).unwrap_or_default().to_string(),
                image: c.get("image").and_then(Yaml::as_str).is_some_and(|i| !i.is_empty()),
            })
            .collect();
        out.push(Built { kind: kind.to_string(), name: name.to_string(), containers });
    }
    Ok(out)
}

/// The located pod spec of a patch document, by kind.
fn patch_pod_spec<'n>(kind: &str, doc: &'n Node) -> Option<&'n Node> {
    let spec = get(doc, "spec")?;
    match kind {
        "Pod" => Some(spec),
        "CronJob" => get(get(get(get(spec, "jobTemplate")?, "spec")?, "template")?, "spec"),
        _ => get(get(spec, "template")?, "spec"),
    }
}

/// Read the patch at `path`, for `target` (`kind`, `name`) when the kustomization names one.
fn patch(path: &Path, target: (Option<&str>, Option<&str>)) -> Option<Patch> {
    let source = read(path).ok()?;
    let (doc, _) = crate::model::loader::load(&source.text).ok()?;
    let kind = target.0.or_else(|| get(&doc, "kind").and_then(text))?.to_string();
    let name_node = get(&doc, "metadata").and_then(|m| get(m, "name"));
    let name = target.1.or_else(|| name_node.and_then(text))?.to_string();
    let containers = patch_pod_spec(&kind, &doc)
        .map(|spec| {
            ["initContainers", "containers"]
                .iter()
                .flat_map(|key| items(get(spec, key)))
                .filter_map(|c| {
                    let n = get(c, "name")?;
                    Some(PatchedContainer {
                        name: text(n)?.to_string(),
                        span: n.span,
                        image: get(c, "image").is_some(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let ours = source.text.starts_with(&format!("# {HEADER}"));
    Some(Patch { name_span: name_node.map(|n| n.span), source, kind, name, containers, ours })
}

/// The kustomization file of `dir`, if it has one.
fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

/// Every strategic-merge patch applied by `dir`'s kustomization and the kustomizations and
/// Components it reaches through local directories.
fn patches(dir: &Path, seen: &mut BTreeSet<PathBuf>, out: &mut Vec<Patch>) {
    let Some(file) = kustomization_file(dir) else { return };
    if !seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return;
    }
    let Ok(source) = read(&file) else { return };
    let Ok(doc) = serde_yaml::from_str::<Yaml>(&source.text) else { return };
    let strings = |key: &str| -> Vec<String> {
        doc.get(key)
            .and_then(Yaml::as_sequence)
            .map(|s| s.iter().filter_map(Yaml::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    for entry in ["resources", "bases", "components"].iter().flat_map(|k| strings(k)) {
        let path = tidy(&dir.join(&entry));
        if !entry.contains("://") && path.is_dir() {
            patches(&path, seen, out);
        }
    }
    for entry in doc.get("patches").and_then(Yaml::as_sequence).into_iter().flatten() {
        let Some(path) = entry.get("path").and_then(Yaml::as_str) else { continue };
        let target = entry.get("target");
        let field = |k: &str| target.and_then(|t| t.get(k)).and_then(Yaml::as_str);
        out.extend(patch(&tidy(&dir.join(path)), (field("kind"), field("name"))));
    }
    for path in strings("patchesStrategicMerge").iter().filter(|p| !p.contains('\n')) {
        out.extend(patch(&tidy(&dir.join(path)), (None, None)));
    }
}

/// A container without an image, reported at the patch that names it when one does.
fn imageless(w: &Built, container: &str, patches: &[Patch], fallback: &Source, report: &mut Report) {
    let targeting: Vec<&Patch> = patches.iter().filter(|p| p.kind == w.kind && p.name == w.name).collect();
    // The workload's own containers: those the patches add whole (with an image) are not.
    let added = |name: &str| targeting.iter().flat_map(|p| &p.containers).any(|c| c.image && c.name == name);
    let kept: Vec<&str> = w.containers.iter().filter(|c| c.image && !added(&c.name)).map(|c| c.name.as_str()).collect();
    let listed = kept.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let message = format!(
        "{} `{}` gets a container `{container}` without an image, which `kubectl apply` refuses",
        w.kind, w.name
    );
    let diagnostic = |d: Diagnostic| {
        d.hint(format!("the patch names a container the workload does not have; its containers: {listed}"))
            .maybe_hint(did_you_mean(container, kept.iter().copied()))
            .hint("set `kubernetes: { container: … }` of the service in the stack file to the workload's container, then render again")
    };
    let located =
        targeting.iter().find_map(|p| p.containers.iter().find(|c| c.name == container && !c.image).map(|c| (p, c)));
    match located {
        Some((p, c)) => report.push(&p.source, diagnostic(Diagnostic::error(c.span, message))),
        None => report.push(fallback, diagnostic(Diagnostic::file_error(message))),
    }
}

/// Check the kustomization in `dir`. `Err` is a problem running the check (exit 2).
pub(crate) fn check(dir: &Path) -> Result<Report, Diagnostic> {
    let Some(file) = kustomization_file(dir) else {
        return Err(Diagnostic::file_error(format!("`{}` has no kustomization.yaml", dir.display()))
            .hint("give the directory of your kustomization that lists otelplan's Component under `components:`"));
    };
    let fallback = read(&file)?;
    let built = workloads(&build(dir)?)?;
    let mut found = Vec::new();
    patches(dir, &mut BTreeSet::new(), &mut found);
    let mut report = Report::default();
    for w in &built {
        for c in w.containers.iter().filter(|c| !c.image) {
            imageless(w, &c.name, &found, &fallback, &mut report);
        }
    }
    for p in found.iter().filter(|p| p.ours) {
        if !built.iter().any(|w| w.kind == p.kind && w.name == p.name) {
            let message = format!("this patch is for {} `{}`, which the kustomization does not build", p.kind, p.name);
            let d = Diagnostic {
                severity: Severity::Warning,
                span: p.name_span,
                message,
                hints: vec![
                    "kustomize skips a patch whose target it does not find, without a word: its settings are missing".into(),
                    "set `kubernetes: { kind: …, name: … }` of the service in the stack file to your workload's, then render again".into(),
                ],
            };
            report.push(&p.source, d);
        }
    }
    let ours = found.iter().filter(|p| p.ours).count();
    report.summary = format!(
        "{}: {} workloads built, every container has an image; {ours} of otelplan's patches checked",
        dir.display(),
        built.len()
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILT: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: { name: db }\nspec:\n  template:\n    spec:\n      containers:\n        - { name: postgres, image: postgres:17 }\n        - { name: db, volumeMounts: [] }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: db }\nspec: {}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: { name: backup }\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{ name: wait }]\n          containers: [{ name: dump, image: pg:17 }]\n";

    #[test]
    fn finds_containers_without_an_image_in_every_kind_of_workload() {
        let built = workloads(BUILT).unwrap();
        assert_eq!(built.len(), 2, "the Service has no pod");
        let missing: Vec<(&str, &str)> = built
            .iter()
            .flat_map(|w| w.containers.iter().filter(|c| !c.image).map(move |c| (w.name.as_str(), c.name.as_str())))
            .collect();
        assert_eq!(missing, [("db", "db"), ("backup", "wait")]);
    }
}
