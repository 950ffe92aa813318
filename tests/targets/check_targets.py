"""Checks that the deployment targets of a rendered otelplan tree work with a team's project.

compose: a stub DKP project (one stub service per service the overlay names) that includes the
tree's docker-compose.yaml and adds its dkp.override.yaml with `-f`, exactly as the tree's
README says, must pass `docker-compose config`, and the merged project must carry the overlay's
settings on the team's services.

kubernetes: the app-patches Component must build with `kubectl kustomize` into stub workloads of
the kinds and names it patches, once with and once without `metadata.namespace` on them, and the
patched workloads must carry what the Component adds: its values over the stub's own (which sets
OTEL_RESOURCE_ATTRIBUTES too), each `$(NAME)` after the variable it names.

Usage: python3 check_targets.py TREE   (PyYAML required; run with the checkers' venv)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL {message}")


def compose_binary():
    venv = os.environ.get("OTELPLAN_CHECKERS_VENV", os.path.expanduser("~/.cache/otelplan-checkers/venv"))
    candidate = os.path.join(venv, "bin", "docker-compose")
    return candidate if os.path.exists(candidate) else shutil.which("docker-compose")


def check_compose(tree):
    override = os.path.join(tree, "compose", "dkp.override.yaml")
    if not os.path.exists(override):
        return
    binary = compose_binary()
    if not binary:
        fail("compose: no docker-compose binary (run setup-checkers)")
        return
    with tempfile.TemporaryDirectory() as stub:
        shutil.copytree(tree, os.path.join(stub, "otelplan-out"))
        overlay = yaml.safe_load(open(override))
        team = sorted(overlay["services"])
        project = {
            "include": [{"path": "otelplan-out/compose/docker-compose.yaml"}],
            "services": {name: {"image": "busybox:1.37.0", "command": ["sleep", "infinity"]} for name in team},
        }
        with open(os.path.join(stub, "compose.yaml"), "w") as f:
            yaml.safe_dump(project, f)
        names = []
        with open(os.path.join(tree, "compose", ".env.example")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    names.append(line.split("=", 1)[0])
        with open(os.path.join(stub, ".env"), "w") as f:
            for name in names:
                f.write(f"{name}=stub-{name.lower()}\n")
        cmd = [binary, "-f", "compose.yaml", "-f", "otelplan-out/compose/dkp.override.yaml", "config", "--format", "json"]
        env = {"PATH": os.environ.get("PATH", "")}
        run = subprocess.run(cmd, cwd=stub, capture_output=True, text=True, env=env)
        if run.returncode != 0:
            fail(f"compose: docker-compose config failed: {run.stderr.strip()[:800]}")
            return
        import json

        merged = json.loads(run.stdout)["services"]
        for name, part in overlay["services"].items():
            got = merged.get(name, {})
            if got.get("image") != "busybox:1.37.0":
                fail(f"compose: the team's service {name} was replaced, not overlaid")
            for key in part.get("environment", {}):
                if key not in got.get("environment", {}):
                    fail(f"compose: {name} lacks {key} after the merge")
            for volume in part.get("volumes", []):
                target = volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
                if not any(v.get("target") == target for v in got.get("volumes", [])):
                    fail(f"compose: {name} lacks the volume at {target}")
        for name in yaml.safe_load(open(os.path.join(tree, "compose", "docker-compose.yaml")))["services"]:
            if name not in merged:
                fail(f"compose: the included service {name} is missing from the project")
        print(f"ok compose: {len(team)} team services overlaid, project has {len(merged)} services")


def patch_targets(component_dir):
    component = yaml.safe_load(open(os.path.join(component_dir, "kustomization.yaml")))
    out = []
    for entry in component.get("patches", []):
        patch = yaml.safe_load(open(os.path.join(component_dir, entry["path"])))
        containers = [c["name"] for c in patch["spec"]["template"]["spec"].get("containers", [])]
        own = [c for c in containers if not c.startswith("otel-")]
        out.append((entry["target"]["kind"], entry["target"]["name"], own, patch))
    return out


# The team's own environment on every stub container: a variable of its own, and a value of
# OTEL_RESOURCE_ATTRIBUTES that the Component's must replace.
TEAM_ENV = [{"name": "TEAM_SETTING", "value": "1"}, {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "team.owned=yes"}]


def stub_workload(kind, name, containers, namespace):
    labels = {"app": name}
    spec = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {"name": c, "image": "busybox:1.37.0", "env": TEAM_ENV} for c in containers or [name]
                ]
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


def check_env_order(where, patched, container):
    """After the build, the Component's values win over the team's, and every `$(NAME)` in a
    value names a variable listed before it (Kubernetes expands no other)."""
    env = container.get("env", [])
    values = {e["name"]: e.get("value") for e in env}
    for entry in patched:
        if "value" in entry and values.get(entry["name"]) != entry["value"]:
            fail(f"{where}: {entry['name']} is {values.get(entry['name'])!r}, not the Component's value")
    seen = set()
    for entry in env:
        value = re.sub(r"\$\$", "", entry.get("value") or "")
        for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value):
            if ref not in seen:
                fail(f"{where}: {entry['name']} refers to $({ref}), which is not listed before it")
        seen.add(entry["name"])


def check_kubernetes(tree):
    component = os.path.join(tree, "kubernetes", "app-patches")
    if not os.path.exists(os.path.join(component, "kustomization.yaml")):
        return
    targets = patch_targets(component)
    for namespace in ("dkp-apps", None):
        with tempfile.TemporaryDirectory() as stub:
            shutil.copytree(tree, os.path.join(stub, "otelplan-out"))
            team = os.path.join(stub, "team")
            os.makedirs(team)
            with open(os.path.join(team, "workloads.yaml"), "w") as f:
                yaml.safe_dump_all([stub_workload(k, n, c, namespace) for k, n, c, _ in targets], f)
            kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["workloads.yaml"],
                "components": ["../otelplan-out/kubernetes/app-patches"],
            }
            with open(os.path.join(team, "kustomization.yaml"), "w") as f:
                yaml.safe_dump(kustomization, f)
            run = subprocess.run(["kubectl", "kustomize", team], capture_output=True, text=True)
            where = f"namespace {namespace}" if namespace else "no namespace"
            if run.returncode != 0:
                fail(f"kubernetes ({where}): kubectl kustomize failed: {run.stderr.strip()[:800]}")
                continue
            built = [d for d in yaml.safe_load_all(run.stdout) if d]
            for kind, name, _, patch in targets:
                found = [d for d in built if d["kind"] == kind and d["metadata"]["name"] == name]
                if not found:
                    fail(f"kubernetes ({where}): {kind}/{name} missing after the build")
                    continue
                pod = found[0]["spec"]["template"]["spec"]
                names = {c["name"] for c in pod["containers"]}
                for c in patch["spec"]["template"]["spec"].get("containers", []):
                    if c["name"] not in names:
                        fail(f"kubernetes ({where}): {kind}/{name} lacks container {c['name']}")
                        continue
                    got = next(x for x in pod["containers"] if x["name"] == c["name"])
                    wanted_env = {e["name"] for e in c.get("env", [])}
                    have_env = {e["name"] for e in got.get("env", [])}
                    if not wanted_env <= have_env:
                        fail(f"kubernetes ({where}): {kind}/{name}/{c['name']} lacks {sorted(wanted_env - have_env)}")
                    check_env_order(f"kubernetes ({where}): {kind}/{name}/{c['name']}", c.get("env", []), got)
                    if got.get("image") is None:
                        fail(f"kubernetes ({where}): {kind}/{name}/{c['name']} has no image")
                for v in pod.get("volumes", []):
                    cm = v.get("configMap", {}).get("name")
                    if cm and not any(d["kind"] == "ConfigMap" and d["metadata"]["name"] == cm for d in built):
                        fail(f"kubernetes ({where}): {kind}/{name} mounts ConfigMap {cm}, which the build lacks")
            print(f"ok kubernetes ({where}): {len(targets)} workloads patched")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tree = sys.argv[1]
    check_compose(tree)
    check_kubernetes(tree)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
