"""Driver of the Django end-to-end test (run by run.sh inside the test virtualenv).

    python e2e.py audit  --tree TREE
    python e2e.py django --tree TREE --topology A|B --service web|worker --env-from compose|kubernetes
                         --sink-port P --sink-record FILE --redis-port P --pg-dsn DSN [--preload]

`audit` checks that requirements-otel.txt pins every distribution otel_setup.py imports.
`django` serves the test project (project/) with gunicorn and the generated gunicorn.conf.py, in
the service's generated environment with only OTEL_EXPORTER_OTLP_ENDPOINT rewritten to the sink:
its env file (`instrumentation/<service>.env`, as compose reads it) or the env of its Kubernetes
patch (`kubernetes/app-patches/deployment-<service>.yaml`, expanded as Kubernetes does, with the
downward API's fields of a made-up pod). It makes one request, stops gunicorn and checks what the
sink received: which client libraries were traced, which were not, and what the log warned about.

Every check prints one line, `ok <name>` or `FAIL <name>: <detail>`; run.sh counts them.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAILURES = 0


def check(name: str, condition: bool, detail: object = "") -> bool:
    global FAILURES
    if condition:
        print(f"ok {name}", flush=True)
    else:
        FAILURES += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return condition


# ---------------------------------------------------------------- the environment file


def read_env_file(path: Path, environ: dict[str, str]) -> dict[str, str]:
    """Read a dotenv file as compose does: bare or double-quoted values, `$$` for a dollar,
    `${NAME}` replaced from `environ` (a missing variable is an error here)."""
    values = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r'\\(["\\])', r"\1", value[1:-1]).replace("\\n", "\n")
        values[key] = interpolate(value, environ)
    return values


def interpolate(value: str, environ: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"the env file references ${{{name}}}, which is not set")
        return environ[name]

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}", replace, value)


# The pod a Kubernetes env is read in: what the downward API would hand it.
POD = {
    "metadata.namespace": "dkp",
    "metadata.name": "worker-5c8d7f9b6d-x7k2p",
    "metadata.uid": "0b7c3f0e-6a51-4a3c-9d7e-2f4b8c1e5a90",
    "spec.nodeName": "node-a",
}


def read_pod_env(path: Path, environ: dict[str, str]) -> dict[str, str]:
    """The env of a patch's container as Kubernetes builds it: entries in order, `$(NAME)` expanded
    from the entries before it (left as written when there is none), `$$` read as `$`, field refs
    from POD and secret refs from `environ`."""
    import yaml

    patch = yaml.safe_load(path.read_text(encoding="utf-8"))
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    values: dict[str, str] = {}
    for entry in container.get("env", []):
        name = entry["name"]
        source = entry.get("valueFrom", {})
        if "fieldRef" in source:
            values[name] = POD[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            values[name] = environ[source["secretKeyRef"]["key"]]
        else:
            values[name] = k8s_expand(entry.get("value", ""), values)
    return values


def k8s_expand(value: str, earlier: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return earlier.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, value)


# ---------------------------------------------------------------- audit


def audit(tree: Path) -> None:
    """Every distribution otel_setup.py imports is pinned in requirements-otel.txt."""
    django_dir = tree / "instrumentation" / "django"
    pins = {}
    for line in (django_dir / "requirements-otel.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            pins[normalize(name)] = version if sep and re.fullmatch(r"[0-9][0-9a-z.]*", version) else None
    loose = [name for name, version in pins.items() if version is None]
    check(f"each of the {len(pins)} lines of requirements-otel.txt is pinned with ==", pins and not loose, loose)
    owners = module_owners()
    source = (django_dir / "otel_setup.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` imports the submodule's distribution.
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                imported.add(submodule if submodule in owners else node.module)
    # The instrumentations it imports by name, for the client libraries the services list or
    # may use (their candidates).
    stack_clients = set()
    for env_file in (tree / "instrumentation").glob("*.env"):
        text = env_file.read_text(encoding="utf-8")
        for value in re.findall(r"^OTELPLAN_INSTRUMENTATION(?:S|_CANDIDATES)=(.*)$", text, re.M):
            stack_clients.update(value.split(","))
    by_client = dict(
        re.findall(r'"([a-z0-9-]+)": \(\s*"[a-z_0-9]+",\s*"(opentelemetry\.instrumentation\.[a-z_0-9]+)"', source)
    )
    check("the module names an instrumentation for every client library it knows", len(by_client) == 9, by_client)
    imported.update(module for client, module in by_client.items() if client in stack_clients)
    used = {}
    for module in sorted(imported):
        if module.split(".")[0] not in sys.stdlib_module_names and module != "__future__":
            used[module] = owners.get(module)
    unpinned = {module: dist for module, dist in used.items() if dist not in pins}
    check(
        f"each of the {len(used)} modules otel_setup.py imports comes from a pinned distribution",
        not unpinned,
        unpinned,
    )
    for dist in sorted(pins):
        installed = importlib.metadata.version(dist)
        check(
            f"{dist}=={pins[dist]}: installed at its pin and imported by the module",
            installed == pins[dist] and dist in used.values(),
            f"installed {installed}; imported distributions: {sorted(set(used.values()), key=str)}",
        )


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def module_owners() -> dict[str, str]:
    """Installed module name -> the distribution whose files hold it."""
    owners = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or []:
            parts = file.parts
            if file.suffix != ".py" or not parts or ".." in parts[0]:
                continue
            module = ".".join(parts)[: -len(".py")]
            module = module.removesuffix(".__init__")
            owners[module] = normalize(dist.metadata["Name"])
    return owners


# ---------------------------------------------------------------- serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def serve_and_request(args: argparse.Namespace, env: dict[str, str], log_path: Path) -> dict | None:
    """Start gunicorn, make one request, stop gunicorn; the view's JSON answer."""
    port = free_port()
    django_dir = args.tree / "instrumentation" / "django"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(django_dir / "gunicorn.conf.py"),
        "--chdir",
        str(HERE / "project"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--graceful-timeout",
        "10",
        "--no-control-socket",
    ]
    if args.preload:
        command.append("--preload")
    command.append("e2esite.wsgi")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    answer = None
    try:
        if check("gunicorn listens", wait_for_port(port, server, 30), log_path.read_text(errors="replace")[-2000:]):
            url = f"http://127.0.0.1:{port}/hello/?nonce={args.nonce}"
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    answer = json.loads(response.read())
                check("the request succeeds", True)
            except Exception as error:  # reported as a failed check
                check("the request succeeds", False, error)
    finally:
        # A worker still booting when SIGTERM arrives misses it (it runs the arbiter's handler
        # until it installs its own) and is killed after the graceful timeout: let both boot.
        wait_for_output(log_path, "Booting worker", 2, 20)
        time.sleep(1)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(timeout=30)
            took = time.monotonic() - started
            check(
                "gunicorn stops on SIGTERM, its workers gracefully", status == 0 and took < 8, f"{status}, {took:.1f} s"
            )
        except subprocess.TimeoutExpired:
            server.kill()
            check("gunicorn stops on SIGTERM, its workers gracefully", False, "still running after 30 s")
    return answer


def wait_for_output(path: Path, text: str, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and path.read_text(errors="replace").count(text) < count:
        time.sleep(0.1)


# ---------------------------------------------------------------- what the sink received


def load_record(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def attrs(items: list[dict]) -> dict[str, object]:
    out = {}
    for item in items or []:
        value = item.get("value", {})
        out[item["key"]] = next(iter(value.values()), None) if value else None
    return out


def flatten(record: list[dict], signal_name: str) -> list[tuple[dict, dict]]:
    """(resource attributes, item) for every span, log record or metric received."""
    keys = {
        "traces": ("resourceSpans", "scopeSpans", "spans"),
        "logs": ("resourceLogs", "scopeLogs", "logRecords"),
        "metrics": ("resourceMetrics", "scopeMetrics", "metrics"),
    }[signal_name]
    out = []
    for entry in exports(record):
        if entry.get("signal") != signal_name or "request" not in entry:
            continue
        for resource in entry["request"].get(keys[0], []):
            resource_attrs = attrs(resource.get("resource", {}).get("attributes", []))
            for scope in resource.get(keys[1], []):
                for item in scope.get(keys[2], []):
                    out.append((resource_attrs, item))
    return out


def exports(record: list[dict]) -> list[dict]:
    """The OTLP export requests of a sink record (not the app's own GET /ping calls)."""
    return [e for e in record if "signal" in e]


def data_points(metric: dict) -> list[dict]:
    for kind in ("sum", "gauge", "histogram", "exponentialHistogram"):
        if kind in metric:
            return metric[kind].get("dataPoints", [])
    return []


def check_received(args: argparse.Namespace, answer: dict | None, token: str | None) -> None:
    record = load_record(args.sink_record)
    check(
        "the sink decoded every request",
        all("request" in e for e in exports(record)),
        [e for e in record if "error" in e],
    )
    spans = flatten(record, "traces")
    servers = [
        (res, s)
        for res, s in spans
        if s.get("kind") == "SPAN_KIND_SERVER" and args.nonce in json.dumps(attrs(s.get("attributes")))
    ]
    if not check("exactly one server span for the request", len(servers) == 1, f"{len(servers)} of {len(spans)} spans"):
        return
    resource, server = servers[0]
    instance = resource.get("service.instance.id")
    check(f"server span: service.name={args.service}", resource.get("service.name") == args.service, resource)
    check(
        "server span: deployment.environment.name=production",
        resource.get("deployment.environment.name") == "production",
        resource,
    )
    check("server span: a service.instance.id", bool(instance), resource)
    check_pod_attributes(args, resource)
    if answer is not None:
        check("server span is the request's trace", trace_hex(server["traceId"]) == answer["trace_id"], server)
    check_clients(args, record, spans, server, answer)
    redis_spans = [
        s
        for _, s in spans
        if s.get("kind") == "SPAN_KIND_CLIENT" and "redis" in json.dumps(attrs(s.get("attributes"))).lower()
    ]
    check("two Redis client spans (SET, GET), not doubled", len(redis_spans) == 2, [s.get("name") for s in redis_spans])
    check(
        "Redis spans are children of the request's server span",
        bool(redis_spans)
        and all(s["traceId"] == server["traceId"] and s.get("parentSpanId") == server["spanId"] for s in redis_spans),
        [(s.get("name"), s.get("parentSpanId")) for s in redis_spans] + [server["spanId"]],
    )

    logs = flatten(record, "logs")
    bodies = [(res, r) for res, r in logs if r.get("body", {}).get("stringValue", "").startswith("e2e ")]
    mine = [(res, r) for res, r in bodies if r["body"]["stringValue"] == f"e2e log line {args.nonce}"]
    check("exactly one copy of the WARNING log record", len(mine) == 1, [r["body"] for _, r in bodies])
    check(
        "the INFO record is not exported (WARNING and above by default)",
        not any("e2e info line" in r["body"]["stringValue"] for _, r in bodies),
        [r["body"] for _, r in bodies],
    )
    if mine:
        res, log_record = mine[0]
        check("log record: same service.instance.id as the span", res.get("service.instance.id") == instance, res)
        check(f"log record: service.name={args.service}", res.get("service.name") == args.service, res)
        check("log record: in the request's trace", log_record.get("traceId") == server["traceId"], log_record)
    noise = [
        r["body"]
        for _, r in logs
        if re.search(r"already instrumented|Overriding of current|is not allowed", json.dumps(r.get("body")))
    ]
    check("no 'already instrumented' / 'overriding' warnings exported", not noise, noise)

    metrics = flatten(record, "metrics")
    counters = [(res, m) for res, m in metrics if m.get("name") == "e2e.requests"]
    values = [int(p.get("asInt", 0)) for _, m in counters for p in data_points(m)]
    check("the metric e2e.requests arrives (flushed at exit), counted once", values == [1], values)
    if counters:
        res = counters[0][0]
        check("metric: same service.instance.id as the span", res.get("service.instance.id") == instance, res)
        check(
            "metric: deployment.environment.name=production",
            res.get("deployment.environment.name") == "production",
            res,
        )
    durations = [
        int(p.get("count", 0))
        for _, m in metrics
        if m.get("name") in ("http.server.duration", "http.server.request.duration")
        for p in data_points(m)
    ]
    check("Django's request-duration histogram counts the one request", sum(durations) == 1, durations)

    auth = sorted({e.get("headers", {}).get("authorization") for e in exports(record)}, key=str)
    if token is None:
        check("no authorization header without a credential (topology A)", auth == [None], auth)
    else:
        check("authorization header = Bearer <token from the environment>", auth == [f"Bearer {token}"], auth)
    check(
        "all three signals were received",
        {e["signal"] for e in exports(record)} == {"traces", "metrics", "logs"},
        sorted({e["signal"] for e in exports(record)}),
    )


def trace_hex(b64: str) -> str:
    import base64

    return base64.b64decode(b64).hex()


# What each service is expected to instrument, given the test virtualenv (psycopg2, psycopg, redis,
# requests, urllib3, httpx and celery installed; elasticsearch, kafka-python and confluent-kafka
# not). web lists psycopg2, redis, elasticsearch and kafka-python: exactly those, with a warning
# for the two it cannot import. worker lists nothing: every candidate it can import, no warning.
EXPECTED = {
    "web": {"traced": {"redis", "psycopg2"}, "warned": {"elasticsearch", "kafka-python"}},
    "worker": {
        "traced": {"redis", "psycopg2", "psycopg", "requests", "urllib3", "httpx", "celery"},
        "warned": set(),
    },
}

# How the spans of each library the view calls are recognised (besides Redis, checked above).
CLIENT_MARKS = {
    "psycopg2": ("SPAN_KIND_CLIENT", "via-psycopg2"),
    "psycopg": ("SPAN_KIND_CLIENT", "via-psycopg3"),
    "requests": ("SPAN_KIND_CLIENT", "/ping/requests"),
    "urllib3": ("SPAN_KIND_CLIENT", "/ping/urllib3"),
    "httpx": ("SPAN_KIND_CLIENT", "/ping/httpx"),
    "celery": ("SPAN_KIND_PRODUCER", "e2esite.add"),
}


def check_pod_attributes(args: argparse.Namespace, resource: dict) -> None:
    """The pod's attributes: from the downward API in B's Kubernetes env, absent elsewhere."""
    k8s = {k: v for k, v in resource.items() if k.startswith("k8s.")}
    if args.env_from == "kubernetes" and args.topology == "B":
        wanted = {
            "k8s.namespace.name": POD["metadata.namespace"],
            "k8s.pod.name": POD["metadata.name"],
            "k8s.pod.uid": POD["metadata.uid"],
            "k8s.node.name": POD["spec.nodeName"],
            "k8s.deployment.name": args.service,
        }
        check("server span: the pod's k8s.* attributes from the downward API", k8s == wanted, k8s)
    else:
        check("server span: no k8s.* attributes (a collector adds them, or there is no pod)", not k8s, k8s)


def check_clients(args: argparse.Namespace, record: list[dict], spans: list, server: dict, answer: dict | None) -> None:
    """One span per call through each instrumented library, in the request's trace, with the trace
    context passed on; none, and no context, through the others."""
    traced = EXPECTED[args.service]["traced"]
    pings = {e["ping"].split("?")[0]: e.get("headers", {}).get("traceparent") for e in record if "ping" in e}
    for library, (kind, mark) in CLIENT_MARKS.items():
        mine = [
            s
            for _, s in spans
            if s.get("kind") == kind and (mark in json.dumps(attrs(s.get("attributes"))) or mark in s.get("name", ""))
        ]
        names = [(s.get("name"), attrs(s.get("attributes"))) for s in mine]
        if library not in traced:
            check(f"{library}: not instrumented, no span", not mine, names)
            continue
        # A call through requests goes through urllib3 too: still one span.
        underneath = " (none from the urllib3 underneath)" if library == "requests" else ""
        if not check(f"{library}: exactly one span for the call{underneath}", len(mine) == 1, names):
            continue
        span = mine[0]
        check(
            f"{library}: its span is a child of the request's server span",
            span["traceId"] == server["traceId"] and span.get("parentSpanId") == server["spanId"],
            (span.get("parentSpanId"), server["spanId"]),
        )
        passed_on = pings.get(f"/ping/{library}") if library in ("requests", "urllib3", "httpx") else None
        if library == "celery":
            passed_on = (answer or {}).get("celery_traceparent")
        if library in ("requests", "urllib3", "httpx", "celery"):
            wanted = f"00-{trace_hex(span['traceId'])}-{trace_hex(span['spanId'])}-"
            check(
                f"{library}: the trace context it passed on names its span",
                bool(passed_on) and passed_on.startswith(wanted),
                (passed_on, wanted),
            )
    for library in ("requests", "urllib3", "httpx"):
        if library not in traced:
            check(f"{library}: no trace context passed on", pings.get(f"/ping/{library}") is None, pings)
    if "celery" not in traced and answer is not None:
        check("celery: no trace context in the task message", answer.get("celery_traceparent") is None, answer)
    exporter_spans = [s.get("name") for _, s in spans if "/v1/" in json.dumps(attrs(s.get("attributes")))]
    check("the exporters' own HTTP requests are not traced", not exporter_spans, exporter_spans)


def check_answer(answer: dict | None) -> None:
    if not check("the view answered", answer is not None):
        return
    check("Redis round trip", answer["redis"] is not None, answer)
    check("PostgreSQL through psycopg2 and psycopg", answer["postgres"] == ["via-psycopg2", "via-psycopg3"], answer)
    check("GET through requests, urllib3 and httpx", answer["http"] == ["pong"] * 3, answer)
    check("configure() left the app registry alone", answer["registry_ready_after_configure"] is False, answer)
    check("one OpenTelemetry log handler after several configure() calls", answer["otel_log_handlers"] == 1, answer)
    check("one span processor after several configure() calls", answer["span_processors"] == 1, answer)
    check("one metric reader after several configure() calls", answer["metric_readers"] == 1, answer)
    check("one log record processor after several configure() calls", answer["log_processors"] == 1, answer)


def check_server_log(args: argparse.Namespace, log_path: Path) -> None:
    text = log_path.read_text(errors="replace")
    bad = re.findall(
        r".*(?:Traceback|already instrumented|Overriding of current|Failed to export|could not be instrumented).*",
        text,
    )
    check("gunicorn's output has no traceback, double-setup, export or instrumentation failure", not bad, bad[:5])
    warned = {name for name in CLIENT_NAMES if f"OTELPLAN_INSTRUMENTATIONS lists {name}, but" in text}
    expected = EXPECTED[args.service]["warned"]
    if expected:
        names = ", ".join(sorted(expected))
        check(f"a warning for each listed library that cannot be imported ({names})", warned == expected, warned)
    else:
        check("no warning about client libraries: candidates it cannot import are skipped quietly", not warned, warned)


# Every client library name the module knows.
CLIENT_NAMES = (
    "psycopg2",
    "psycopg",
    "redis",
    "elasticsearch",
    "kafka-python",
    "confluent-kafka",
    "celery",
    "requests",
    "urllib3",
    "httpx",
)


def run_django(args: argparse.Namespace) -> None:
    token = os.environ.get("ELASTIC_APM_SECRET_TOKEN") if args.topology == "B" else None
    values = service_env(args)
    check_instrumentation_env(args, values)
    values["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{args.sink_port}"
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(values)
    env["PYTHONPATH"] = str(args.tree / "instrumentation" / "django")
    env["E2E_REDIS_URL"] = f"redis://127.0.0.1:{args.redis_port}/0"
    env["E2E_PG_DSN"] = args.pg_dsn
    env["E2E_HTTP_BASE"] = f"http://127.0.0.1:{args.sink_port}"
    log_path = args.sink_record.with_suffix(".gunicorn.log")
    answer = serve_and_request(args, env, log_path)
    time.sleep(0.5)  # the sink records before it answers; this only lets stragglers land
    check_answer(answer)
    check_received(args, answer, token)
    check_server_log(args, log_path)
    check_manage_py(env)


def service_env(args: argparse.Namespace) -> dict[str, str]:
    """The service's generated environment, as compose or Kubernetes hands it to the container."""
    if args.env_from == "compose":
        source = args.tree / "instrumentation" / f"{args.service}.env"
        values = read_env_file(source, dict(os.environ))
        expected = {"A": "http://dkp-gateway:4318", "B": "http://apm-server:8200"}[args.topology]
    else:
        source = args.tree / "kubernetes" / "app-patches" / f"deployment-{args.service}.yaml"
        values = read_pod_env(source, dict(os.environ))
        expected = {
            "A": "http://dkp-gateway.observability.svc:4318",
            "B": "http://apm-server.observability.svc:8200",
        }[args.topology]
    original = values.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    check(f"{source.name} exports to {expected}", original == expected, original)
    if args.topology == "B":
        reference = {"compose": "${ELASTIC_APM_SECRET_TOKEN}", "kubernetes": "$(ELASTIC_APM_SECRET_TOKEN)"}
        check(
            f"{source.name} takes the APM token from the environment",
            reference[args.env_from] in source.read_text(encoding="utf-8"),
            source,
        )
    return values


def check_instrumentation_env(args: argparse.Namespace, values: dict[str, str]) -> None:
    """web lists its libraries; worker lists none and gets every client of the stack as candidates."""
    listed = values.get("OTELPLAN_INSTRUMENTATIONS")
    candidates = values.get("OTELPLAN_INSTRUMENTATION_CANDIDATES")
    if args.service == "web":
        wanted = ("psycopg2,redis,elasticsearch,kafka-python", "")
    else:
        wanted = ("", ",".join(CLIENT_NAMES))
    got = (listed, candidates)
    check(f"{args.service}: the instrumentations it lists, and its candidates", got == wanted, got)


def check_manage_py(env: dict[str, str]) -> None:
    """manage.py, wired as the README says, still runs a command."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=HERE / "project",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    check(
        "manage.py check runs with configure() before django.setup()",
        result.returncode == 0 and "no issues" in output and "Traceback" not in output,
        output[-2000:],
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    audit_parser = sub.add_parser("audit")
    audit_parser.add_argument("--tree", type=Path, required=True)
    django = sub.add_parser("django")
    django.add_argument("--tree", type=Path, required=True)
    django.add_argument("--topology", choices=["A", "B"], required=True)
    django.add_argument("--service", choices=["web", "worker"], default="web")
    django.add_argument("--env-from", choices=["compose", "kubernetes"], default="compose")
    django.add_argument("--pg-dsn", required=True)
    django.add_argument("--sink-port", type=int, required=True)
    django.add_argument("--sink-record", type=Path, required=True)
    django.add_argument("--redis-port", type=int, required=True)
    django.add_argument("--preload", action="store_true")
    args = parser.parse_args()
    if args.mode == "audit":
        audit(args.tree)
    else:
        args.nonce = uuid.uuid4().hex[:12]
        run_django(args)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
