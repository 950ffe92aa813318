#!/usr/bin/env python3
"""Helpers of run.sh: read the rendered tree and what the real collector wrote.

  check.py args OVERLAY SERVICE                  the `command` the compose overlay gives SERVICE, one per line
  check.py group-add COMPOSE SERVICE             the `group_add` of SERVICE in the compose file
  check.py override CONFIG OUT FILE DIR PORT     an override config: every pipeline to the `file` exporter (FILE),
                                                 file_storage in DIR, health_check on 127.0.0.1:PORT
  check.py expect-metrics FILE SPEC...           every SPEC (`name` or `name{key=value,...}`) has a data point
  check.py refuse-metrics FILE SPEC...           no SPEC has a data point
  check.py postgres-logs FILE                    the PostgreSQL records run.sh provoked, parsed as the agent should
  check.py record-http PORT FILE                 an HTTP server on 127.0.0.1:PORT answering `{}`, recording each
                                                 request (method, path, Authorization, body) to FILE, one JSON a line
  check.py es-requests FILE ROLE USER PW ADMIN   the requests monitoring-user.sh made: the role with the receiver's
                                                 privileges, then the user with that role and exactly PW, as ADMIN
  check.py buffer-topics PLAN DESCRIBE           every topic of a buffer (`otelplan plan --format json`) is in
                                                 kafka-topics.sh --describe's output with the planned partitions
                                                 and retention

Exit 1 with a message on stderr when an expectation fails.
"""
import base64
import http.server
import json
import sys
import urllib.parse

import yaml


def fail(message):
    print(f"check.py: {message}", file=sys.stderr)
    sys.exit(1)


def lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        fail(f"{path}: the collector wrote nothing")


def attrs(items):
    return {a["key"]: next(iter(a["value"].values()), None) for a in items or []}


def datapoints(path):
    """(metric name, attributes of the data point and its resource) of every data point."""
    for doc in lines(path):
        for rm in doc.get("resourceMetrics", []):
            resource = attrs(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    for kind in ("gauge", "sum", "histogram"):
                        for p in m.get(kind, {}).get("dataPoints", []):
                            yield m["name"], {**resource, **attrs(p.get("attributes"))}


def records(path):
    for doc in lines(path):
        for rl in doc.get("resourceLogs", []):
            resource = attrs(rl.get("resource", {}).get("attributes"))
            for sl in rl.get("scopeLogs", []):
                for r in sl.get("logRecords", []):
                    yield resource, r


def parse_spec(spec):
    name, _, rest = spec.partition("{")
    wanted = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv) if rest else {}
    return name, wanted


def matching(points, spec):
    name, wanted = parse_spec(spec)
    return [a for n, a in points if n == name and all(str(a.get(k)) == v for k, v in wanted.items())]


def expect_metrics(path, specs, present):
    points = list(datapoints(path))
    names = sorted({n for n, _ in points})
    for spec in specs:
        found = matching(points, spec)
        if present and not found:
            fail(f"no data point for {spec}; the collector reported {names}")
        if not present and found:
            fail(f"a data point for {spec}, which must be hidden: {found[:3]}")
    print(f"ok: {len(points)} data points of {len(names)} metrics")


def postgres_logs(path):
    recs = list(records(path))
    if not recs:
        fail("no log records")
    for resource, _ in recs:
        if resource.get("service.name") != "db":
            fail(f"a record without service.name=db: {resource}")
    body = lambda r: r.get("body", {}).get("stringValue", "")
    errors = [r for _, r in recs if "provoked_error" in body(r) and r.get("severityText") == "ERROR"]
    if len(errors) != 1:
        fail(f"expected one record for the provoked error, found {len(errors)}: {[body(r) for r in errors]}")
    err = errors[0]
    a = attrs(err.get("attributes"))
    checks = {
        "severity number 17 (ERROR)": err.get("severityNumber") == 17,
        "severity text ERROR": err.get("severityText") == "ERROR",
        "time from the line's prefix": err.get("timeUnixNano", "0") != "0",
        "body is the message without the prefix": body(err).startswith('column "provoked_error" does not exist'),
        "the STATEMENT line joined": "STATEMENT:  SELECT" in body(err),
        "the statement's continuation lines joined, indentation kept": "\n\t    provoked_error" in body(err),
        "user attribute": a.get("user") == "postgres",
        "database attribute": a.get("database") == "app",
        "pid attribute": str(a.get("pid", "")).isdigit(),
        "no leftover prefix fields": "time" not in a and "level" not in a,
    }
    failed = [k for k, ok in checks.items() if not ok]
    if failed:
        fail(f"the provoked error record: {failed}: {json.dumps(err)}")
    statements = [r for _, r in recs if body(r).startswith("statement: SELECT 1,") and r.get("severityNumber") == 9]
    if len(statements) != 1 or "\n\t    provoked_error\n\t  FROM pg_class;" not in body(statements[0]):
        fail(f"the logged multi-line statement (log_statement=all) as one record: {[body(r) for r in statements]}")
    server = [r for _, r in recs if r.get("severityText") == "LOG" and "database system is ready" in body(r)]
    if not server or server[0].get("severityNumber") != 9 or "user" in attrs(server[0].get("attributes")):
        fail(f"the server's own LOG line (no user@database, INFO): {server[:1]}")
    unparsed = [body(r) for _, r in recs if "severityNumber" not in r]
    if unparsed:
        fail(f"records the agent did not parse: {unparsed[:3]}")
    print(f"ok: {len(recs)} records, each parsed; the error joined with its statement")


def record_http(port, path):
    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
            entry = {"method": "PUT", "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", int(port)), Recorder).serve_forever()


def es_requests(path, role, user, password, admin):
    reqs = lines(path)
    want_auth = "Basic " + base64.b64encode(admin.encode("utf-8")).decode("ascii")
    paths = [r["path"] for r in reqs]
    expected = [f"/_security/role/{urllib.parse.quote(role)}", f"/_security/user/{urllib.parse.quote(user)}"]
    if paths != expected:
        fail(f"requests {paths}, expected {expected}")
    if any(r["auth"] != want_auth for r in reqs):
        fail(f"a request without the admin's credentials: {[r['auth'] for r in reqs]}")
    role_body, user_body = (json.loads(r["body"]) for r in reqs)
    if role_body != {"cluster": ["monitor"], "indices": [{"names": ["*"], "privileges": ["monitor"]}]}:
        fail(f"the role's privileges: {role_body}")
    if user_body != {"password": password, "roles": [role]}:
        fail(f"the user: {user_body}")
    print("ok: the role, then the user with exactly its password, as the admin")


def override(config_path, out, file_path, storage, port):
    with open(config_path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    pipelines = {name: {"exporters": ["file"]} for name in config["service"]["pipelines"]}
    extensions = {"health_check": {"endpoint": f"127.0.0.1:{port}"}}
    if any(k.startswith("file_storage") for k in config.get("extensions", {})):
        # Compaction writes its temporary file in its own directory, which the rendered config
        # points at the container's volume; both must move to the test's directory.
        extensions["file_storage"] = {"directory": storage, "compaction": {"directory": storage}}
    doc = {
        "extensions": extensions,
        "exporters": {"file": {"path": file_path}},
        "service": {"pipelines": pipelines, "telemetry": {"metrics": {"level": "none"}}},
    }
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f)


def buffer_topics(plan_path, describe_path):
    with open(plan_path, encoding="utf-8") as f:
        buffer = json.load(f)["buffer"]
    found = {}
    with open(describe_path, encoding="utf-8") as f:
        described = f.read().splitlines()
    for line in described:
        fields = dict(
            part.split(": ", 1) for part in line.strip().split("\t") if ": " in part
        )
        if "PartitionCount" in fields:
            configs = dict(c.split("=", 1) for c in fields.get("Configs", "").split(",") if "=" in c)
            found[fields["Topic"]] = (int(fields["PartitionCount"]), configs)
    retention = str(buffer["retention_minutes"] * 60 * 1000)
    for topic in buffer["topics"]:
        if topic not in found:
            fail(f"topic {topic} was not created: {sorted(found)}")
        partitions, configs = found[topic]
        if partitions != buffer["partitions"]:
            fail(f"topic {topic}: {partitions} partitions, planned {buffer['partitions']}")
        if configs.get("retention.ms") != retention:
            fail(f"topic {topic}: retention.ms {configs.get('retention.ms')}, planned {retention}")
        if configs.get("min.insync.replicas") != "1":
            fail(f"topic {topic}: min.insync.replicas {configs.get('min.insync.replicas')}, asked 1")
    print(f"buffer topics: {len(buffer['topics'])} created as planned")


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "args":
        with open(args[0], encoding="utf-8") as f:
            print("\n".join(yaml.safe_load(f)["services"][args[1]]["command"]))
    elif cmd == "group-add":
        with open(args[0], encoding="utf-8") as f:
            print(",".join(str(g) for g in yaml.safe_load(f)["services"][args[1]]["group_add"]))
    elif cmd == "override":
        override(*args)
    elif cmd == "expect-metrics":
        expect_metrics(args[0], args[1:], True)
    elif cmd == "refuse-metrics":
        expect_metrics(args[0], args[1:], False)
    elif cmd == "postgres-logs":
        postgres_logs(args[0])
    elif cmd == "record-http":
        record_http(*args)
    elif cmd == "es-requests":
        es_requests(*args)
    elif cmd == "buffer-topics":
        buffer_topics(*args)
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
