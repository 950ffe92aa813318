"""The checks of one topology: readiness, the plain run (every signal of every service reaches
its store), and with --faults the five faults (faults.py). Results are rows of a table."""

import collections
import concurrent.futures
import json
import os
import re
import time
import urllib.parse

from stores import Stores
from util import get_json, http, log, wait_until

PLAIN_REQUESTS = int(os.environ.get("LIVE_PLAIN_REQUESTS", "30"))
# With tail sampling, each app also gets this many failing and this many slow requests.
# 20: the chance that the head sampler (0.5 in the example) keeps none of them is one in a million.
TAIL_REQUESTS = int(os.environ.get("LIVE_TAIL_REQUESTS", "20"))


class Result:
    def __init__(self, stack, topology):
        self.stack, self.topology = stack, topology
        self.rows = []  # (status, check, detail)
        self.seconds = 0
        self.delivered = {}  # service -> {signal: count}
        self.faults = []  # dicts: fault, status, sent, delivered, lost, duplicated, note
        self.memory = {}  # service -> (peak bytes, limit bytes)
        self.defects = []
        self.buffer = None  # fault 6: the Kafka buffer's steady outage (faults.fault_steady_outage)
        self.sampling = None  # tail sampling: {"store", "rows": [(kind, sent, whole, partial, expected)]}

    def add(self, status, name, detail=""):
        self.rows.append((status, name, detail))
        log(f"{status:4} {name}" + (f": {detail}" if detail else ""))

    def ok(self, name, detail=""):
        self.add("ok", name, detail)

    def fail(self, name, detail=""):
        self.add("FAIL", name, detail)

    def skip(self, name, detail=""):
        self.add("skip", name, detail)

    def check(self, cond, name, detail_ok="", detail_fail=""):
        if cond:
            self.ok(name, detail_ok)
        else:
            self.fail(name, detail_fail or detail_ok)
        return cond

    @property
    def passed(self):
        return sum(1 for r in self.rows if r[0] == "ok")

    @property
    def failed(self):
        return sum(1 for r in self.rows if r[0] == "FAIL")

    @property
    def skipped(self):
        return sum(1 for r in self.rows if r[0] == "skip")

    def as_dict(self):
        return {"stack": self.stack, "topology": self.topology, "seconds": round(self.seconds),
                "rows": self.rows, "delivered": self.delivered, "faults": self.faults,
                "memory": {k: list(v) for k, v in self.memory.items()}, "sampling": self.sampling,
                "buffer": self.buffer}


# -- readiness -----------------------------------------------------------------------------------
def wait_ready(dep, res, stores):
    orch = dep.orch
    bad = orch.wait_healthy(240)
    if bad:
        res.fail("services healthy", "healthchecks failing: " + ", ".join(bad))
    for c in dep.collectors():
        ok = wait_until(lambda c=c: dep.health_ok(c), 90, 1, f"{c} health_check")
        res.check(bool(ok), f"{c} up (health_check 13133)", "", f"no answer on {dep.addr(c)}:13133; see logs/{c}.log")
    ok = wait_until(stores.ready, 90, 1, "stores ready")
    res.check(bool(ok), "stores up", ", ".join(f"{n} ({s.kind})" for n, s in stores.all.items()))
    for app in dep.services_with_role("app"):
        ok = wait_until(lambda a=app: http("GET", f"http://{dep.addr(a)}:8000/health/", timeout=5)[0] == 200, 120, 1,
                        f"{app} answers")
        res.check(bool(ok), f"{app} answers on :8000", "", f"see logs/{app}.log")
    down = [s.name for s in orch.services.values() if not s.one_shot and not s.running()]
    res.check(not down, "every long-running service runs", "", "not running: " + ", ".join(down))


# -- traffic -------------------------------------------------------------------------------------
def drive(dep, app, ids, workers=4, params=None):
    """GET /work/?id=... for each id on an app (with `params` added); returns the answers."""
    def one(i):
        q = urllib.parse.urlencode({"id": i, **(params or {})})
        s, body = http("GET", f"http://{dep.addr(app)}:8000/work/?{q}", timeout=30)
        try:
            return i, s, json.loads(body)
        except ValueError:
            return i, s, {"raw": body[:200].decode(errors="replace")}

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, ids))


def django_services(dep):
    return {n: s for n, s in dep.stack_services("django").items() if n in dep.orch.services}


def signals_of(svc):
    return svc.get("signals") or ["traces", "metrics", "logs"]


def scraped_datastores(dep):
    out = {}
    for name, s in dep.stack_services().items():
        kind = s.get("kind")
        if kind == "django":
            continue
        if kind == "postgres" and not s.get("username"):
            continue  # README: a PostgreSQL server without a monitoring user is not scraped
        if name not in dep.orch.services:
            continue
        out[name] = kind
    return out


CLIENT_SPANS = {  # datastore kind -> pattern of the client span names its instrumentation makes
    "postgres": r"^(SELECT|postgres|dkp|connect)",
    "redis": r"^(SET|GET|redis)",
    "elasticsearch": r"^(index|get|search|PUT|GET|POST|Elasticsearch)",
    "kafka": r"(send|publish|live-events)",
}


def tail_sampling(dep):
    """The stack's `sampling.tail` with its defaults filled in, or None."""
    tail = (dep.project.stack.get("sampling") or {}).get("tail")
    if tail is None or tail is False:
        return None
    tail = dict(tail or {})
    tail["keep_errors"] = tail.get("keep_errors") is not False
    tail["ratio"] = float(tail["ratio"] if tail.get("ratio") is not None else 0.1)
    return tail


def head_ratio(dep):
    head = (dep.project.stack.get("sampling") or {}).get("head") or {}
    return float(head.get("ratio", 1.0))


def binomial_bound(n, p, sds=4.0):
    """How far a count of n draws at p may stray from n*p: `sds` standard deviations (at least 1)."""
    return max(sds * (n * p * (1 - p)) ** 0.5, 1.0)


def plain(dep, res, stores):
    apps = django_services(dep)
    offsets = {c: 0 for c in dep.collectors()}
    ids = {}
    errors = collections.Counter()
    tail = tail_sampling(dep)
    # Under tail sampling: app -> test id -> (kind, whether the SDK kept the trace); kind is
    # "plain", "error" (answered 500, server span status ERROR) or "slow" (longer than the rule).
    kinds = {}
    for app in apps:
        ids[app] = [f"p-{app}-{n:04d}" for n in range(PLAIN_REQUESTS)]
        answers = drive(dep, app, ids[app])
        bad = [a for a in answers if a[1] != 200]
        if tail:
            extra = []
            if tail["keep_errors"]:
                extra.append(("error", {"fail": "1"}, 500))
            if tail.get("slower_than_ms"):
                extra.append(("slow", {"slow_ms": str(int(tail["slower_than_ms"]) + 300)}, 200))
            kinds[app] = {i: ("plain", bool(body.get("sampled"))) for i, _, body in answers}
            for kind, params, want in extra:
                more = [f"p-{app}-{kind}-{n:04d}" for n in range(TAIL_REQUESTS)]
                got = drive(dep, app, more, params=params)
                bad += [a for a in got if a[1] != want]
                kinds[app].update({i: (kind, bool(body.get("sampled"))) for i, _, body in got})
                ids[app] += more
                answers += got
        for _, _, body in answers:
            for call, outcome in (body.get("calls") or {}).items():
                if str(outcome).startswith("error"):
                    errors[f"{app}->{call}: {outcome[:160]}"] += 1
        what = "answered 200" if not tail else "answered (200; 500 where asked to fail)"
        res.check(not bad, f"{app}: {len(answers)} requests {what}", "",
                  f"{len(bad)} failed, e.g. {bad[:1]}")
    res.check(not errors, "the test app reaches every datastore", "",
              "; ".join(f"{k} (x{v})" for k, v in errors.most_common(5)))
    expected_ds = scraped_datastores(dep)
    pg_logs = {n: s for n, s in dep.stack_services("postgres").items()
               if isinstance(s.get("logs"), dict) and n in dep.orch.services}

    def complete():
        arr = stores.poll()
        for app, svc in apps.items():
            for sig in signals_of(svc):
                a = arr.get(sig)
                if a is None:
                    continue
                if sig == "traces" and tail:
                    # Only the traces both samplers must keep: the SDK's, with an error or slow.
                    if any(a.ids[sig][i] < 1 for i, (k, kept) in kinds[app].items() if kept and k != "plain"):
                        return False
                elif sig in ("traces", "logs"):
                    if any(a.ids[sig][i] < 1 for i in ids[app]):
                        return False
                elif a.by_service[app]["metrics"] < 1:
                    return False
        m = arr.get("metrics")
        if m is not None and any(m.by_service[ds]["metrics"] < 1 for ds in expected_ds):
            return False
        return True

    t0 = time.monotonic()
    wait_until(complete, float(os.environ.get("LIVE_ARRIVAL_TIMEOUT", "120")), 3, "every signal at its store")
    log(f"arrivals settled after {time.monotonic() - t0:.0f}s")
    arr = stores.poll()
    for app, svc in apps.items():
        delivered = {}
        for sig in signals_of(svc):
            a = arr.get(sig)
            if a is None:
                res.fail(f"{app}: {sig} reach a store", f"no store for {sig} in this topology")
                continue
            n = a.by_service[app][sig]
            delivered[sig] = n
            if sig == "traces" and tail:
                check_app_sampling(dep, res, a, app, kinds[app], tail, stores.for_signal[sig].name)
            elif sig in ("traces", "logs"):
                got = [a.ids[sig][i] for i in ids[app]]
                missing = sum(1 for g in got if g == 0)
                dup = sum(g - 1 for g in got if g > 1)
                res.check(missing == 0, f"{app}: {sig} reach {stores.for_signal[sig].name} under service.name {app}",
                          f"{len(got)} test ids, {n} {sig} items in all",
                          f"{missing} of {len(got)} test ids missing ({n} items from {app})")
                res.check(dup == 0, f"{app}: {sig} arrive once", "", f"{dup} duplicates")
            else:
                res.check(n > 0, f"{app}: metrics reach {stores.for_signal[sig].name} under service.name {app}",
                          f"{n} data points: " + ", ".join(sorted(k for k in a.names[(app, 'metrics')])[:4]),
                          "none arrived")
        res.delivered[app] = delivered
        # client spans of the datastores the app touched
        t = arr.get("traces")
        if t is not None and "traces" in signals_of(svc):
            names = t.names[(app, "traces")]
            for ds, kind in datastore_kinds(dep).items():
                pat = re.compile(CLIENT_SPANS[kind], re.I)
                hits = sum(v for k, v in names.items() if pat.search(k or ""))
                res.check(hits > 0, f"{app}: client spans for {ds} ({kind})", f"{hits} spans",
                          "none; span names seen: " + ", ".join(sorted(names)[:12]))
        check_resource(dep, res, arr, app, signals_of(svc))
    m = arr.get("metrics")
    for ds, kind in expected_ds.items():
        if m is None:
            break
        n = m.by_service[ds]["metrics"]
        res.delivered[ds] = {"metrics": n}
        res.check(n > 0, f"{ds} ({kind}): metrics arrive under service.name {ds}",
                  f"{n} data points, e.g. " + ", ".join(sorted(m.names[(ds, 'metrics')])[:3]), "none arrived")
        check_resource_datastore(dep, res, m, ds)
    if m is not None:
        check_no_double_series(dep, res, stores, m, expected_ds)
    for ds in pg_logs:
        check_pg_logs(dep, res, stores, ds)
    for ds, svc in dep.stack_services().items():
        if svc.get("logs") == "stdout" and ds in dep.orch.services:
            check_stdout_logs(dep, res, stores, ds)
    check_secrets(dep, res, stores)
    check_env_files(dep, res)
    check_no_drops(dep, res, offsets, " (plain run)")


def check_app_sampling(dep, res, a, app, kinds, tail, store):
    """An app's traces under head and tail sampling: the SDK keeps about the head ratio; a trace it
    dropped never arrives; every trace it kept with an error or slow arrives; the other traces it
    kept arrive near the tail ratio (few of them: a loose check, the mix check is the strict one)."""
    head = head_ratio(dep)
    total = len(kinds)
    kept = [i for i, (_, k) in kinds.items() if k]
    if head < 1:
        dev = binomial_bound(total, head)
        res.check(abs(len(kept) - total * head) <= dev,
                  f"{app}: the SDK keeps about {head:g} of traces (head sampling)",
                  f"{len(kept)} of {total} requests sampled (expected {total * head:.0f} ± {dev:.0f})")
    else:
        res.check(len(kept) == total, f"{app}: the SDK keeps every trace", f"{len(kept)} of {total} sampled")
    dropped = [i for i, (_, k) in kinds.items() if not k and a.ids["traces"][i] > 0]
    res.check(not dropped, f"{app}: no trace the SDK dropped reaches {store}",
              f"{total - len(kept)} dropped by the SDK, none arrived",
              f"{len(dropped)} arrived, e.g. {dropped[:3]}")
    for kind in ("error", "slow"):
        mine = [i for i, (k, s) in kinds.items() if k == kind and s]
        if not any(k == kind for k, _ in kinds.values()):
            continue
        missing = [i for i in mine if a.ids["traces"][i] < 1]
        rule = "status ERROR" if kind == "error" else f"slower than {tail['slower_than_ms']} ms"
        if not mine:
            res.skip(f"{app}: every sampled {kind} trace reaches {store} ({rule})", "the SDK sampled none of them")
            continue
        res.check(not missing, f"{app}: every sampled {kind} trace reaches {store} ({rule})",
                  f"{len(mine)} of {len(mine)}", f"{len(missing)} of {len(mine)} missing, e.g. {missing[:3]}")
    rest = [i for i, (k, s) in kinds.items() if k == "plain" and s]
    got = sum(1 for i in rest if a.ids["traces"][i] > 0)
    dev = binomial_bound(len(rest), tail["ratio"])
    res.check(abs(got - len(rest) * tail["ratio"]) <= dev,
              f"{app}: the other sampled traces reach {store} near the tail ratio {tail['ratio']:g}",
              f"{got} of {len(rest)} (expected {len(rest) * tail['ratio']:.1f} ± {dev:.1f})")
    dup = sum(v - 1 for i in kinds for v in [a.ids["traces"][i]] if v > 1)
    res.check(dup == 0, f"{app}: traces arrive once", "", f"{dup} duplicates")


def datastore_kinds(dep):
    return {n: s["kind"] for n, s in dep.stack_services().items()
            if s.get("kind") in CLIENT_SPANS and n in dep.orch.services}


def check_resource(dep, res, arr, app, sigs):
    env = dep.project.stack.get("environment", "production")
    for sig in sigs:
        a = arr.get(sig)
        if a is None:
            continue
        if "resource" not in a.verifiable:
            res.skip(f"{app}: {sig} carry deployment.environment.name and service.instance.id",
                     f"the {dep.stores_view.for_signal[sig].kind} store does not show resource attributes")
            continue
        r = a.resource.get(app, {})
        envs = r.get("deployment.environment.name", set())
        inst = r.get("service.instance.id", set())
        res.check(envs == {env} and len(inst) >= 1,
                  f"{app}: {sig} carry deployment.environment.name={env} and service.instance.id",
                  f"{len(inst)} instance ids", f"deployment.environment.name={sorted(envs)}, {len(inst)} instance ids")


def check_resource_datastore(dep, res, m, ds):
    if "resource" not in m.verifiable:
        return
    env = dep.project.stack.get("environment", "production")
    envs = m.resource.get(ds, {}).get("deployment.environment.name", set())
    res.check(envs == {env}, f"{ds}: metrics carry deployment.environment.name={env}", "", f"got {sorted(envs)}")


def check_no_double_series(dep, res, stores, m, expected_ds):
    """No series arrives twice: each datastore is scraped by one collector. A metric with one series
    (e.g. redis.uptime) must arrive about once per collection interval, not twice."""
    st = stores.for_signal["metrics"]
    if st.kind == "prometheus":
        dup = st.duplicate_samples()
        res.check(dup == 0, "no series arrives twice (Prometheus: no duplicate or out-of-order samples)", "",
                  f"{dup} samples refused")
        return
    if st.kind == "es":
        for ds in expected_ds:
            res.skip(f"{ds}: no series arrives twice", "the es stand-in records documents without metric names")
        return
    for ds, kind in expected_ds.items():
        # The receivers' default collection_interval: 10 s, kafka_metrics 1 min (scraperhelper's default).
        interval = 60.0 if kind == "kafka" else 10.0
        best = None
        for (svc, name), times in m.metric_points.items():
            if svc != ds or len(times) < 2:
                continue
            ts = sorted(t for t in times if t)
            if not ts:
                continue
            span = (_ts(ts[-1]) - _ts(ts[0]))
            scrapes = span / interval + 1
            ratio = len(ts) / scrapes
            if best is None or ratio < best[0]:
                best = (ratio, name, len(ts), span)
        if best is None:
            res.skip(f"{ds}: no series arrives twice", "too few data points to tell")
            continue
        res.check(best[0] < 1.6, f"{ds}: no series arrives twice",
                  f"{best[1]}: {best[2]} points in {best[3]:.0f}s (one scraper)",
                  f"{best[1]}: {best[2]} points in {best[3]:.0f}s, {best[0]:.1f} per collection interval")


def _ts(s):
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def pg_log_lines(dep, ds):
    """Lines PostgreSQL wrote into the shared log volume (the files the agent tails)."""
    svc = dep.orch.services[ds]
    path = dep.project.stack["services"][ds]["logs"]["path"]
    logdir = os.path.dirname(path)
    host_dir = None
    for m in svc.launch.mounts:
        if m["target"] == logdir:
            host_dir = m["source"]
    if not host_dir:
        return None, []
    import fnmatch

    lines = []
    for fn in sorted(os.listdir(host_dir)):
        if fnmatch.fnmatch(fn, os.path.basename(path)):
            with open(os.path.join(host_dir, fn), errors="replace") as f:
                lines += [ln.rstrip("\n") for ln in f if ln.strip()]
    return host_dir, lines


# How PostgreSQL writes one message to its log (src/backend/utils/error/elog.c,
# send_message_to_server_log, REL_15): the primary line with log_line_prefix and the severity
# (`LOG:  `, `WARNING:  `, ...), then one line each, with the prefix, for DETAIL, HINT, QUERY,
# CONTEXT, LOCATION and STATEMENT; a message with newlines continues on lines without a prefix. A
# collector that keeps each message whole (as it should) delivers one record per primary line.
_PG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \S+ \[\d+\] (?:\S*@\S* )?([A-Z0-9]+):  ")
_PG_PARTS = {"DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT"}


def pg_entries(lines):
    """The number of messages among PostgreSQL's log lines (a line that starts none continues one)."""
    n = 0
    for ln in lines:
        m = _PG_LINE.match(ln)
        if m and m.group(1) not in _PG_PARTS:
            n += 1
        elif not m and re.match(r"^\d{4}-\d{2}-\d{2} ", ln):
            n += 1  # a prefix this pattern does not know: count it, so a change shows as a failure
    return n


def check_pg_logs(dep, res, stores, ds, label="", settle=60):
    """Every line PostgreSQL wrote arrives once (counted when both stop changing)."""
    st = stores.for_signal.get("logs")
    if st is None:
        res.fail(f"{ds}: log lines arrive", "no log store in this topology")
        return None
    host_dir, _ = pg_log_lines(dep, ds)
    if host_dir is None:
        res.fail(f"{ds}: log lines arrive{label}", "the datastore does not mount its log directory")
        return None
    state = {"prev": None}

    def stable():
        _, lines = pg_log_lines(dep, ds)
        n = st.poll().by_service[ds]["logs"]
        cur = (pg_entries(lines), n)
        same = cur == state["prev"] and n >= cur[0]
        state["prev"] = cur
        return same

    wait_until(stable, settle, 4, f"{ds} log lines to settle")
    _, lines = pg_log_lines(dep, ds)
    arr = st.poll()
    got = arr.by_service[ds]["logs"]
    written = pg_entries(lines)
    detail = f"{written} entries ({len(lines)} lines) written, {got} records arrived"
    res.check(got == written, f"{ds}: every log entry arrives once, as one record{label}", detail,
              detail + (" (missing)" if got < written else " (duplicates)"))
    if "log_fields" in arr.verifiable:
        lf = arr.log_fields[ds]
        res.check(lf["severity"] == lf["records"] and lf["timestamp"] == lf["records"],
                  f"{ds}: log records have timestamp and severity parsed{label}",
                  "", f"of {lf['records']}: {lf['timestamp']} with a timestamp, {lf['severity']} with a severity")
    elif not label:
        res.skip(f"{ds}: log records have timestamp and severity parsed",
                 f"the {st.kind} store does not show log timestamps or severities")
    return written, got


def stdout_lines(dep, ds):
    svc = dep.orch.services[ds]
    path = svc.json_file_log() if hasattr(svc, "container_id") else None
    if not path or not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def check_stdout_logs(dep, res, stores, ds):
    """`logs: stdout`: every line the datastore writes to its container log arrives once, under its name."""
    st = stores.for_signal.get("logs")
    if st is None:
        res.fail(f"{ds}: container log lines arrive", "no log store in this topology")
        return
    state = {"prev": None}

    def stable():
        cur = (stdout_lines(dep, ds), st.poll().by_service[ds]["logs"])
        same = cur == state["prev"] and cur[1] >= cur[0]
        state["prev"] = cur
        return same

    wait_until(stable, 60, 4, f"{ds} container log lines to settle")
    written, got = stdout_lines(dep, ds), st.poll().by_service[ds]["logs"]
    detail = f"{written} lines in its json-file log, {got} records arrived"
    res.check(written > 0 and got == written, f"{ds}: every container log line arrives once (logs: stdout)", detail,
              detail + (" (none written)" if not written else ""))


def check_secrets(dep, res, stores):
    secrets = dep.project.secret_values()
    leaks = []
    for st in stores.standins():
        s = st.stats() or {}
        for where, n in (s.get("secret_leaks") or {}).items():
            leaks.append(f"{st.name}: {where} x{n}")
    for c in dep.collectors():
        with open(dep.orch.services[c].log_path(), errors="replace") as f:
            text = f.read()
        for sec in secrets:
            if sec in text:
                leaks.append(f"{c} log: {sec.split('-')[1]}…")
    for st in stores.all.values():
        if st.kind == "jaeger":
            text = json.dumps(get_json(st.base() + "/api/services") or {})
            for svc in (get_json(st.base() + "/api/services") or {}).get("data") or []:
                q = urllib.parse.urlencode({"service": svc, "limit": 200})
                text += json.dumps(get_json(f"{st.base()}/api/traces?{q}", timeout=30) or {})
            leaks += [f"{st.name}: stored spans" for sec in secrets if sec in text]
        if st.kind == "prometheus":
            text = json.dumps(st.query("target_info")) + json.dumps(get_json(st.base() + "/api/v1/labels") or {})
            leaks += [f"{st.name}: stored labels" for sec in secrets if sec in text]
    res.check(not leaks, "secrets only in auth headers (not in payloads, other headers or collector logs)",
              f"{len(secrets)} secrets watched", "; ".join(leaks[:6]))
    for st in stores.standins():
        s = st.stats() or {}
        auth = s.get("auth") or {}
        schemes = sorted({a["scheme"] for a in auth.get("seen") or []})
        if schemes:
            res.check(not auth.get("missing") or not schemes,
                      f"{st.name}: every request carried credentials",
                      "schemes " + ", ".join(schemes), f"{auth.get('missing')} requests without; schemes {schemes}")
        rejected = s.get("rejected") or {}
        if rejected:
            res.fail(f"{st.name}: nothing refused", json.dumps(rejected)[:300])


DROP_PATTERNS = re.compile(r"Dropping data|Rejecting data|dropping cumulative|Permanent error|"
                           r"dropped_items|not retryable error|sending queue is full|failed to write")


def log_offsets(dep):
    return {c: os.path.getsize(dep.orch.services[c].log_path()) for c in dep.collectors()}


def drop_messages(dep, since):
    """What the collectors logged about data they dropped or refused since the offsets `since`."""
    out = {}
    for c in dep.collectors():
        with open(dep.orch.services[c].log_path(), "rb") as f:
            f.seek(since.get(c, 0))
            text = f.read().decode(errors="replace")
        msgs = collections.Counter()
        for line in text.splitlines():
            if DROP_PATTERNS.search(line):
                m = re.search(r'"error": "((?:[^"\\]|\\.){0,160})', line)
                key = re.sub(r"\s+", " ", (m.group(1) if m else line[40:200]))
                msgs[key] += 1
        if msgs:
            out[c] = msgs
    return out


def check_no_drops(dep, res, since, label):
    drops = drop_messages(dep, since)
    detail = "; ".join(f"{c}: " + ", ".join(f"{k} (x{v})" for k, v in m.most_common(2)) for c, m in drops.items())
    res.check(not drops, f"no collector dropped or refused data{label}", "", detail)
    return drops


def check_env_files(dep, res):
    """The overlay's OTEL_* settings of each Django service equal its instrumentation/<svc>.env."""
    for app in django_services(dep):
        path = os.path.join(dep.project.tree, "instrumentation", f"{app}.env")
        if not os.path.exists(path):
            res.fail(f"{app}: instrumentation/{app}.env exists")
            continue
        want = {}
        for line in open(path):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                want[k] = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: dep.project.secrets.get(m.group(1), ""), v)
        overlay_env = ((dep.project.overlay.get("services") or {}).get(app) or {}).get("environment") or {}
        if isinstance(overlay_env, list):
            overlay_env = dict(e.split("=", 1) for e in overlay_env)
        merged = dep.orch.services[app].model.get("environment") or {}
        diff = [k for k in set(want) | set(overlay_env) if str(merged.get(k)) != str(want.get(k))]
        res.check(not diff, f"{app}: overlay environment = instrumentation/{app}.env", f"{len(want)} settings",
                  "differ: " + ", ".join(sorted(diff)))


# -- after the run -------------------------------------------------------------------------------
def check_processes(dep, res, phase=""):
    crashed = []
    for s in dep.orch.services.values():
        for (_, rc) in s.unexpected_exits:
            crashed.append(f"{s.name} exited {rc}")
        if s.oom_kills():
            crashed.append(f"{s.name}: {s.oom_kills()} OOM kills")
    res.check(not crashed, f"nothing crashed{phase}", "", "; ".join(crashed[:8]))


def memory_rows(dep, res):
    over = []
    for c in dep.collectors() + [n for n, r in dep.roles.items() if r == "store"]:
        s = dep.orch.services[c]
        s.sample_memory()
        res.memory[c] = (s.peak_rss, s.memory_limit)
        if s.memory_limit and s.peak_rss >= s.memory_limit:
            over.append(f"{c}: {s.peak_rss >> 20} MiB of {s.memory_limit >> 20} MiB")
    res.check(not over, "every collector's resident memory stays under its container limit",
              ", ".join(f"{c} {res.memory[c][0] >> 20}/{(res.memory[c][1] or 0) >> 20} MiB" for c in dep.collectors()),
              "; ".join(over))


def run_all(dep, res, faults=False, only=None):
    stores = Stores(dep)
    dep.stores_view = stores
    wait_ready(dep, res, stores)
    plain(dep, res, stores)
    check_alert_rules(dep, res, stores)
    if tail_sampling(dep):
        import tailsampling

        offsets = log_offsets(dep)
        tailsampling.check_mix(dep, res, stores)
        check_no_drops(dep, res, offsets, " (tail sampling mix)")
    check_processes(dep, res, " (plain run)")
    if faults:
        import faults as faultmod

        faultmod.run(dep, res, stores, only=only)
    memory_rows(dep, res)


def finish(dep, res):
    if dep.orch is None:
        return
    changed = dep.project.tree_unchanged() if hasattr(dep.project, "manifest_hashes") else []
    res.check(not changed, "the rendered files were used verbatim (unchanged after the run)", "",
              "changed: " + ", ".join(changed))
    for name, why in sorted(dep.skipped.items()):
        res.rows.append(("note", f"{name} not started", why))
    for version, why in sorted(dep.ctx.substitutions.items()):
        if any(f":{version}" in (s.get("image") or "") for s in (dep.project.generated.get("services") or {}).values()):
            res.skip(f"collector image {version} run as built", why)


def fmt_bytes(n):
    return f"{n / 1048576:.0f} MiB" if n else "-"


def table(res):
    out = [f"== {res.stack} topology {res.topology}: {res.passed} passed, {res.failed} failed, "
           f"{res.skipped} not verifiable ({res.seconds:.0f} s)"]
    if res.delivered:
        out.append("  signals delivered (items at the final store):")
        for svc, sigs in sorted(res.delivered.items()):
            out.append(f"    {svc:<22} " + "  ".join(f"{k} {v}" for k, v in sorted(sigs.items())))
    if res.faults:
        out.append("  faults:")
        out.append(f"    {'fault':<44} {'result':<7} {'sent':>7} {'arrived':>8} {'lost':>6} {'dup':>6}  note")
        for f in res.faults:
            out.append(f"    {f['fault']:<44} {f['status']:<7} {f.get('sent', ''):>7} {f.get('arrived', ''):>8} "
                       f"{f.get('lost', ''):>6} {f.get('duplicated', ''):>6}  {f.get('note', '')}")
    if res.buffer:
        b = res.buffer
        lags = ", ".join(f"{t:.0f}s: {v}" for t, v in b["lags"]) or "not read"
        out.append(f"  buffer (fault 6): store down {b['outage_s']}s at {b['rate']:.0f}/s per signal "
                   f"({', '.join(b['signals'])}): {b['sent']} sent, {b['arrived']} arrived, {b['lost']} lost, "
                   f"{b['dup']} duplicated; caught up after {b['catch_up_s']}s (bound {b['bound_s']}s)")
        end = sum(b["lag_end"].values()) if b["lag_end"] else "not read"
        out.append(f"    Kafka consumer lag (messages) in the outage: {lags}; after catching up: {end}")
    if res.sampling:
        sm = res.sampling
        out.append(f"  tail sampling: {sm['traces']} traces of {sm['spans']} spans sent to the gateway, "
                   f"counted at {sm['store']} (slow: {sm['slow_ms']} ms; ratio {sm['ratio']:g}):")
        out.append(f"    {'kind':<8} {'sent':>6} {'whole':>6} {'partial':>8}  expected whole")
        for kind, sent, whole, partial, expected in sm["rows"]:
            out.append(f"    {kind:<8} {sent:>6} {whole:>6} {partial:>8}  {expected}")
    if res.memory:
        out.append("  peak resident memory / limit:")
        for svc, (peak, lim) in sorted(res.memory.items()):
            out.append(f"    {svc:<22} {fmt_bytes(peak):>9} / {fmt_bytes(lim)}")
    out.append("  checks:")
    for status, name, detail in res.rows:
        out.append(f"    {status:<4} {name}" + (f" — {detail}" if detail else ""))
    return "\n".join(out)


def summary(results):
    out = ["== summary"]
    out.append(f"  {'stack':<16} {'top':<4} {'passed':>6} {'failed':>6} {'n/v':>4} {'faults':>14} {'lost':>7} {'dup':>6} {'time':>6}")
    for r in results:
        fp = sum(1 for f in r.faults if f["status"] == "ok")
        ff = sum(1 for f in r.faults if f["status"] == "FAIL")
        lost = sum(int(f["lost"]) for f in r.faults if str(f.get("lost", "")).isdigit())
        dup = sum(int(f["duplicated"]) for f in r.faults if str(f.get("duplicated", "")).isdigit())
        faults = f"{fp} ok {ff} FAIL" if r.faults else "-"
        out.append(f"  {r.stack:<16} {r.topology:<4} {r.passed:>6} {r.failed:>6} {r.skipped:>4} {faults:>14} "
                   f"{lost if r.faults else '-':>7} {dup if r.faults else '-':>6} {r.seconds:>5.0f}s")
    return "\n".join(out)


def check_alert_rules(dep, res, stores):
    """A deployed Prometheus loads the alert rules the tree ships (`rule_files` in its
    prometheus.yml, the rule file mounted by the compose file): every alert is loaded, none with an evaluation error."""
    rules_path = os.path.join(dep.project.tree, "alerts", "prometheus-rules.yaml")
    config_path = os.path.join(dep.project.tree, "prometheus", "prometheus.yml")
    if not (os.path.exists(rules_path) and os.path.exists(config_path)):
        return
    import yaml

    with open(config_path) as f:
        if not (yaml.safe_load(f) or {}).get("rule_files"):
            return
    with open(rules_path) as f:
        wanted = {r["alert"] for g in yaml.safe_load(f)["groups"] for r in g["rules"] if "alert" in r}
    for st in stores.all.values():
        if st.kind != "prometheus":
            continue
        data = get_json(st.base() + "/api/v1/rules", timeout=30) or {}
        loaded = {r["name"]: r.get("health") for g in (data.get("data") or {}).get("groups") or []
                  for r in g.get("rules") or []}
        missing = sorted(wanted - set(loaded))
        missing += sorted(f"{n} (health: err)" for n in wanted & set(loaded) if loaded[n] == "err")
        res.check(not missing, f"{st.name}: loads the tree's {len(wanted)} alert rules (alerts/prometheus-rules.yaml)",
                  ", ".join(sorted(wanted)), f"not loaded: {', '.join(missing)}; loaded: {sorted(loaded)}")
