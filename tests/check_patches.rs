//! `otelplan check-patches`: the team's own workloads against the patches otelplan renders for
//! them. Kubernetes: a stub team kustomization that uses the rendered app-patches Component,
//! built by the real `kubectl kustomize` (skipped, saying so, where kubectl is absent); compose:
//! stub team compose files with the rendered overlay.

use crate::common::{repo, Test};

/// The DKP example, with `db_extra` added to the `db` service.
fn dkp(db_extra: &str) -> String {
    let text = std::fs::read_to_string(repo().join("examples/dkp.yaml")).unwrap();
    text.replace(
        "    logs: { path: /var/log/postgresql/*.log }\n",
        &format!("    logs: {{ path: /var/log/postgresql/*.log }}\n{db_extra}"),
    )
}

/// A test whose directory holds the tree rendered from `stack` under `otelplan-out/`.
fn with_tree(stack: &str) -> Test {
    let tree = otelplan::render(stack, None).unwrap();
    tree.iter().fold(Test::new(), |t, (path, text)| t.file(&format!("otelplan-out/{path}"), text))
}

/// The team's workloads: Deployment `web` and StatefulSet `db`, whose container is `postgres`
/// (no `worker`), in a kustomization that lists the Component.
const TEAM_WORKLOADS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      containers: [{ name: web, image: dkp/web:1 }]\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: { name: db }\nspec:\n  serviceName: db\n  selector: { matchLabels: { app: db } }\n  template:\n    metadata: { labels: { app: db } }\n    spec:\n      containers: [{ name: postgres, image: postgres:17 }]\n";
const TEAM_KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: dkp\nresources: [workloads.yaml]\ncomponents: [../otelplan-out/kubernetes/app-patches]\n";

fn team_kustomization(t: Test) -> Test {
    t.file("team/workloads.yaml", TEAM_WORKLOADS).file("team/kustomization.yaml", TEAM_KUSTOMIZATION)
}

fn has_kubectl() -> bool {
    let found = std::process::Command::new("kubectl").args(["version", "--client"]).output().is_ok();
    if !found {
        eprintln!("kubectl is not on PATH: skipping the check-patches test that builds a kustomization");
    }
    found
}

#[test]
fn a_patch_naming_a_container_the_workload_lacks_is_reported_where_it_is_written() {
    if !has_kubectl() {
        return;
    }
    let out = team_kustomization(with_tree(&dkp("")))
        .args(&["check-patches", "team"])
        .status(1)
        .stderr_has("error: StatefulSet `db` gets a container `db` without an image, which `kubectl apply` refuses")
        .stderr_has("hint: the patch names a container the workload does not have; its containers: `postgres`\n")
        .stderr_has("error: the patches do not fit your workloads: 1 error above")
        .run();
    // Located on the container's name in the patch file (tidied: no `team/..`).
    let patch = out.read("otelplan-out/kubernetes/app-patches/statefulset-db.yaml");
    let line = patch.lines().position(|l| l.trim() == "name: db").unwrap() + 1;
    let at = format!("--> otelplan-out/kubernetes/app-patches/statefulset-db.yaml:{line}:");
    assert!(out.stderr.contains(&at), "expected {at} in\n{}", out.stderr);
}

#[test]
fn the_stack_naming_the_workloads_container_fits_and_a_missing_workload_is_a_warning() {
    if !has_kubectl() {
        return;
    }
    team_kustomization(with_tree(&dkp("    kubernetes: { container: postgres }\n")))
        .args(&["check-patches", "team"])
        .status(0)
        .stderr_has("warning: this patch is for Deployment `worker`, which the kustomization does not build")
        .stdout_has("ok: team: 2 workloads built, every container has an image; 3 of otelplan's patches checked")
        .run();
}

#[test]
fn without_kubectl_or_kustomize_the_check_cannot_run() {
    let empty = tempfile::tempdir().unwrap();
    team_kustomization(with_tree(&dkp("")))
        .env("PATH", &empty.path().display().to_string())
        .args(&["check-patches", "team"])
        .status(2)
        .stderr_has("error: neither `kubectl` nor `kustomize` is on PATH")
        .run();
}

#[test]
fn a_directory_without_a_kustomization_is_refused() {
    Test::new()
        .file("team/readme.txt", "x")
        .args(&["check-patches", "team"])
        .status(2)
        .stderr_has("has no kustomization.yaml")
        .run();
}

const OVERLAY: &str = "otelplan-out/compose/dkp.override.yaml";

#[test]
fn compose_services_the_overlay_names_must_be_the_projects() {
    // The team calls its PostgreSQL `postgres`; the stack calls it `db`.
    let out = with_tree(&dkp(""))
        .file(
            "compose.yaml",
            "include:\n  - path: otelplan-out/compose/docker-compose.yaml\nx-app: &app\n  image: dkp/web:1\nservices:\n  web: *app\n  worker: { <<: *app }\n  postgres: { image: postgres:17 }\n",
        )
        .args(&["check-patches", "compose.yaml", "--overlay", OVERLAY])
        .status(1)
        .stderr_has("error: the overlay adds to service `db`, which your compose files do not define")
        .stderr_has("compose would create `db` from the overlay alone, without an image")
        .run();
    let overlay = out.read(OVERLAY);
    let line = overlay.lines().position(|l| l == "  db:").unwrap() + 1;
    assert!(out.stderr.contains(&format!("--> {OVERLAY}:{line}:3")), "{}", out.stderr);
}

#[test]
fn compose_dependencies_need_the_observability_file_included() {
    with_tree(&dkp(""))
        .file("compose.yaml", "services:\n  web: { image: x }\n  worker: { image: x }\n  db: { image: postgres:17 }\n")
        .args(&["check-patches", "compose.yaml", "--overlay", OVERLAY])
        .status(1)
        .stderr_has("error: `db` waits for `dkp-volume-init`, which your compose project does not define")
        .stderr_has("hint: include otelplan's `compose/docker-compose.yaml` from your compose file")
        .run();
}

#[test]
fn compose_files_together_with_their_includes_fit() {
    // Two `-f` files, one including the observability side through a list of paths.
    let t = with_tree(&dkp(""))
        .file(
            "compose.yaml",
            "include:\n  - path: [otelplan-out/compose/docker-compose.yaml]\nservices:\n  web: { image: x }\n",
        )
        .file("more/compose.db.yaml", "services:\n  worker: { image: x }\n  db: { image: postgres:17 }\n");
    t.args(&["check-patches", "compose.yaml", "more/compose.db.yaml", "--overlay", OVERLAY])
        .status(0)
        .stdout_has("every service it adds to (3) and waits for (1) is in your compose project")
        .run();
}

#[test]
fn several_paths_without_an_overlay_are_a_usage_error() {
    Test::new()
        .args(&["check-patches", "a", "b"])
        .status(2)
        .stderr_has("give one kustomization directory, or your compose files with `--overlay FILE`")
        .run();
}
