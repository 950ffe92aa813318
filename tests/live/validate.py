"""Validate every collector config of a rendered otelplan tree with the real collector.

Called by tests/live/validate.sh (see there for usage). For each config (a YAML document with
`receivers:` and `service:`, or a JSON one: a deployed Jaeger's), in both deployment flavours:

1. find the containers that run it: compose services whose volumes bind-mount the file, and
   Kubernetes containers that mount a ConfigMap a kustomization generates from it (top-level
   `collector/*.yaml` are run by whichever deployment file carries the same bytes);
2. fail when the config references an environment variable (`${env:X}` or `${X}`) that a container
   running it is not given (compose `environment`, Kubernetes `env`): the collector would silently
   substitute an empty value;
3. run `otelcol validate --config FILE` with each referenced variable set to a placeholder, in a
   private mount namespace where every `file_storage` directory is an empty directory, as the
   deployment's volume provides it (and only when a deployment mounts a volume there). A config
   that only Jaeger images run (Jaeger v2 is built on the collector, with components of its own)
   is validated by the real Jaeger (`jaeger validate`, the binary tests/live/tools/build-tools.sh
   builds, or $JAEGER).

Last line: `otelcol validate: N passed, M failed`; exit 1 on any failure, 2 on a usage error.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

# `$$` is an escaped dollar; the rest are references (`${env:X}`, `${X}`, `${env:X:-default}`).
REFERENCE = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
PLACEHOLDER = "otelplan-validate-placeholder"


CONFIG_SUFFIXES = (".yaml", ".json")
JAEGER_IMAGE = "jaegertracing/jaeger"


def load_all(path):
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError):
        return []


def is_collector_config(path):
    docs = load_all(path)
    return len(docs) == 1 and isinstance(docs[0], dict) and "receivers" in docs[0] and "service" in docs[0]


def references(text):
    return sorted(set(REFERENCE.findall(text.replace("$$", ""))))


def storage_dirs(config):
    out = []
    for name, ext in (config.get("extensions") or {}).items():
        if name.split("/")[0] == "file_storage" and isinstance(ext, dict) and ext.get("directory"):
            out.append(ext["directory"])
    return out


class Runner:
    """A container that runs a config: where it is declared, its env names, its mount targets,
    its image."""

    def __init__(self, where, env, mounts, image=""):
        self.where = where
        # name -> the literal value the deployment sets, or None (a secret, a field reference)
        self.env = dict(env)
        self.mounts = list(mounts)
        self.image = str(image or "")

    def mounts_dir(self, directory):
        return any(directory == m or directory.startswith(m.rstrip("/") + "/") for m in self.mounts)


def literal(value):
    """A value compose or Kubernetes passes as written, or None when it is interpolated."""
    return None if value is None or "$" in str(value) else str(value)


def compose_env(service):
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return [(k, literal(v)) for k, v in env.items()]
    pairs = [str(e).split("=", 1) for e in env]
    return [(p[0], literal(p[1]) if len(p) == 2 else None) for p in pairs]


def compose_mounts(service, base):
    """(source path or None, target) of each volume of a compose service."""
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            source, target, kind = v.get("source"), v.get("target"), v.get("type")
        else:
            parts = str(v).split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            kind = "bind" if source.startswith((".", "/")) else "volume"
        path = (base / source).resolve() if kind == "bind" and source else None
        yield path, target


def compose_runners(tree):
    runners = {}
    for file in sorted(tree.rglob("*.yaml")):
        docs = load_all(file)
        if len(docs) != 1 or not isinstance(docs[0], dict) or "apiVersion" in docs[0]:
            continue
        services = docs[0].get("services")
        if not isinstance(services, dict):
            continue
        for name, service in services.items():
            if not isinstance(service, dict):
                continue
            mounts = list(compose_mounts(service, file.parent))
            targets = [t for _, t in mounts if t]
            for source, _ in mounts:
                if source is not None and source.suffix in CONFIG_SUFFIXES:
                    where = f"compose service `{name}` ({file.relative_to(tree)})"
                    runner = Runner(where, compose_env(service), targets, service.get("image"))
                    runners.setdefault(source, []).append(runner)
    return runners


def generated_config_maps(tree):
    """ConfigMap name -> files it is generated from, for every kustomization in the tree."""
    out = {}
    for k in sorted(tree.rglob("kustomization.yaml")):
        for doc in load_all(k):
            for gen in (doc or {}).get("configMapGenerator") or []:
                for f in gen.get("files") or []:
                    path = f.split("=", 1)[-1]
                    out.setdefault(gen["name"], []).append((k.parent / path).resolve())
    return out


def pod_specs(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        yield (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        yield (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    elif kind == "Pod":
        yield spec


def kubernetes_runners(tree):
    maps = generated_config_maps(tree)
    runners = {}
    for file in sorted(tree.rglob("*.yaml")):
        for doc in load_all(file):
            if not isinstance(doc, dict) or "apiVersion" not in doc:
                continue
            for pod in pod_specs(doc):
                volumes = {v.get("name"): v for v in pod.get("volumes") or []}
                for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
                    mounts = c.get("volumeMounts") or []
                    env = [(e.get("name"), literal(e.get("value"))) for e in c.get("env") or []]
                    targets = [m.get("mountPath") for m in mounts]
                    for m in mounts:
                        cm = (volumes.get(m.get("name")) or {}).get("configMap") or {}
                        for source in maps.get(cm.get("name"), []):
                            where = (
                                f"{doc['kind']} `{doc['metadata']['name']}` container `{c.get('name')}` "
                                f"({file.relative_to(tree)})"
                            )
                            runners.setdefault(source, []).append(Runner(where, env, targets, c.get("image")))
    return runners


def in_namespace(cmd, dirs):
    """`cmd` in a private mount namespace where each of `dirs` is an empty directory."""
    if not dirs:
        return cmd
    script = "set -e\n"
    for i, d in enumerate(dirs):
        script += f'mkdir -p "{d}"\nmount -t tmpfs -o size=1m,mode=0777 otelplan-validate-{i} "{d}"\n'
    script += 'exec "$@"\n'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *cmd]


def jaeger_binary():
    """The real Jaeger: $JAEGER, or the one tests/live/tools/build-tools.sh builds (cached)."""
    if os.environ.get("JAEGER"):
        return os.environ["JAEGER"]
    tools = Path(__file__).resolve().parent / "tools" / "build-tools.sh"
    skip = "prometheus kafka javaagent postgres redis standins"
    out = subprocess.run([str(tools)], env={**os.environ, "OTELPLAN_LIVE_SKIP": skip},
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("JAEGER="):
            os.environ["JAEGER"] = line.split("=", 1)[1]
            return os.environ["JAEGER"]
    raise RuntimeError("tests/live/tools/build-tools.sh named no JAEGER")


def main(argv):
    if len(argv) != 3:
        print("usage: validate.py TREE OTELCOL", file=sys.stderr)
        return 2
    tree, otelcol = Path(argv[1]).resolve(), argv[2]
    if not tree.is_dir():
        print(f"validate: {tree} is not a directory", file=sys.stderr)
        return 2
    configs = [p for suffix in CONFIG_SUFFIXES for p in sorted(tree.rglob(f"*{suffix}")) if is_collector_config(p)]
    runners = compose_runners(tree)
    for source, list_ in kubernetes_runners(tree).items():
        runners.setdefault(source, []).extend(list_)
    # A top-level config runs wherever a deployment file carries the same bytes.
    by_bytes = {}
    for source in runners:
        if source.is_file():
            by_bytes.setdefault(source.read_bytes(), []).append(source)
    passed = failed = 0
    for path in configs:
        rel = path.relative_to(tree)
        text = path.read_text(encoding="utf-8")
        config = load_all(path)[0]
        problems = []
        found = runners.get(path) or [r for twin in by_bytes.get(path.read_bytes(), []) for r in runners[twin]]
        if not found:
            problems.append("no compose service or Kubernetes container in the tree runs this config")
        refs = references(text)
        for r in found:
            missing = [v for v in refs if v not in r.env]
            if missing:
                problems.append(f"references {', '.join(missing)}, which {r.where} is not given")
        dirs = storage_dirs(config)
        for d in dirs:
            for r in found:
                if not r.mounts_dir(d):
                    problems.append(f"file_storage directory {d} is not a volume of {r.where}")
        # The environment the deployment gives the container: its literal values, a placeholder
        # for each secret or field reference, and one for each variable the config references.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
        env.update({name: PLACEHOLDER for name in refs})
        for r in found:
            env.update({name: PLACEHOLDER if value is None else value for name, value in r.env.items()})
        binary, label = otelcol, "otelcol"
        if found and all(JAEGER_IMAGE in r.image for r in found):
            binary, label = jaeger_binary(), "jaeger"
        with tempfile.TemporaryDirectory() as tmp:
            env.setdefault("TMPDIR", tmp)
            cmd = in_namespace([binary, "validate", f"--config={path}"], dirs)
            result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
            problems.append(f"{label} validate: " + " | ".join(lines[-6:]))
        if problems:
            failed += 1
            for p in problems:
                print(f"{rel}: {p}")
        else:
            passed += 1
            print(f"{rel}: ok ({len(found)} runner{'s' if len(found) != 1 else ''}, {len(refs)} variables)")
    if not configs:
        print(f"{tree}: no collector config (this topology runs no collector for the stack)")
    print(f"otelcol validate: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
