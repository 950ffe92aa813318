"""The faults (--faults), each with a fixed number of uniquely identified spans and log records
(or PostgreSQL log lines, or metric data points) counted at the store.

1. the store is down for OUTAGE s while traffic flows, then returns: nothing lost;
2. during that outage the gateway is killed (SIGKILL) and restarted: with persistent_queue nothing
   lost (duplicates counted), without it the loss is measured and reported as a failure;
3. the file agent is killed and restarted while PostgreSQL writes: no line lost;
4. overload at twice what the gateway sustains (measured first) for OVERLOAD s: every collector's
   resident memory stays under its container limit, senders get only retryable refusals, nothing
   crashes;
5. a burst bigger than 4 MiB in one go passes every hop: 20,000 spans with long SQL attributes, and
   a PostgreSQL log backlog read by a restarted agent;
6. with a Kafka buffer, instead of 1 and 2: the store down for LIVE_BUFFER_OUTAGE_SECONDS (600)
   while all three signals flow at a steady rate; nothing lost, the ingest tier caught up within a
   bound, and the consumer group's lag grown in the outage and back to 0.
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

from checks import check_processes, drop_messages, log_offsets, pg_entries, pg_log_lines
from util import http, log, parse_duration, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
OUTAGE = float(os.environ.get("LIVE_OUTAGE_SECONDS", "60"))
OVERLOAD = float(os.environ.get("LIVE_OVERLOAD_SECONDS", "60"))
F1_ITEMS = int(os.environ.get("LIVE_F1_ITEMS", "2000"))
BURST_SPANS = int(os.environ.get("LIVE_BURST_SPANS", "20000"))
BACKLOG_LINES = int(os.environ.get("LIVE_BACKLOG_LINES", "6000"))  # x3 lines (LOG, CONTEXT, STATEMENT)
BACKLOG_PAD = int(os.environ.get("LIVE_BACKLOG_PAD", "1000"))


CURRENT = {}


def record(res, fault, ok, sent=None, arrived=None, lost=None, dup=None, note="", status=None):
    status = status or ("ok" if ok else "FAIL")
    if status == "FAIL" and CURRENT.get("dep") is not None:
        drops = drop_messages(CURRENT["dep"], CURRENT["offsets"])
        if drops:
            note += "; collectors logged: " + "; ".join(
                f"{c}: " + ", ".join(f"{k[:110]} (x{v})" for k, v in m.most_common(1)) for c, m in drops.items())
    res.faults.append({"fault": fault, "status": status, "sent": sent if sent is not None else "",
                       "arrived": arrived if arrived is not None else "", "lost": lost if lost is not None else "",
                       "duplicated": dup if dup is not None else "", "note": note})
    detail = ", ".join(x for x in (
        f"sent {sent}" if sent is not None else "", f"arrived {arrived}" if arrived is not None else "",
        f"lost {lost}" if lost is not None else "", f"duplicated {dup}" if dup is not None else "", note) if x)
    res.add(status, f"fault {fault}", detail)


# -- senders -------------------------------------------------------------------------------------
def app_target(dep):
    """Where and how the apps send OTLP: the endpoint and headers of a Django service's environment."""
    for name, svc in dep.orch.services.items():
        if svc.launch.role != "app":
            continue
        env = svc.launch.env
        ep = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        u = urllib.parse.urlparse(ep)
        target = dep.service_for_host(u.hostname)
        if target is None:
            continue
        headers = {}
        for part in filter(None, env.get("OTEL_EXPORTER_OTLP_HEADERS", "").split(",")):
            k, _, v = part.partition("=")
            headers[urllib.parse.unquote(k.strip())] = urllib.parse.unquote(v.strip())
        return f"{u.scheme}://{dep.addr(target)}:{u.port or 80}{u.path}", headers, target
    return None, {}, None


def loadgen(dep, args, timeout):
    endpoint, headers, _ = app_target(dep)
    py = os.path.join(dep.ctx.tools["APP_VENV"], "bin", "python")
    argv = [py, os.path.join(HERE, "loadgen.py"), "--endpoint", endpoint,
            "--env", dep.project.stack.get("environment", "production"), *args]
    for k, v in headers.items():
        argv += ["--header", f"{k}={v}"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (r.stderr or r.stdout)[-500:]}


def loadgen_multi(dep, args, procs, timeout):
    """Several load generator processes at once (one Python process tops out at ~30k items/s here);
    their answers merged."""
    threads = [loadgen_async(dep, args, timeout) for _ in range(procs)]
    merged = {"codes": {}}
    for t, box in threads:
        t.join(timeout + 30)
        if "error" in box:
            merged["error"] = box["error"]
        for k, v in box.items():
            if k == "codes":
                for c, n in v.items():
                    merged["codes"][c] = merged["codes"].get(c, 0) + n
            elif k in ("latency_max", "latency_p99", "seconds"):
                merged[k] = max(merged.get(k, 0), v)
            elif isinstance(v, (int, float)):
                merged[k] = merged.get(k, 0) + v
    return merged


def loadgen_async(dep, args, timeout):
    box = {}
    t = threading.Thread(target=lambda: box.update(loadgen(dep, args, timeout)), daemon=True)
    t.start()
    return t, box


# -- counting ------------------------------------------------------------------------------------
def id_counts(stores, prefix):
    """signal -> {test id: times it arrived} for ids of one prefix (or of several: a tuple). The
    stand-ins' own counters are read (their dumps stop at 256 MiB, which an overload can reach);
    Jaeger is queried. Metric data points count where a stand-in stores them (Prometheus keeps no
    ids)."""
    from stores import StandinStore

    prefixes = prefix if isinstance(prefix, tuple) else (prefix,)
    out = {}
    polled = {}
    for sig, tag in (("traces", "s"), ("logs", "l"), ("metrics", "m")):
        st = stores.for_signal.get(sig)
        if st is None or (sig == "metrics" and not isinstance(st, StandinStore)):
            continue
        ps = tuple(f"{p}-{tag}-" for p in prefixes)
        if isinstance(st, StandinStore):
            if st.name not in polled:
                polled[st.name] = ((st.stats(values=True) or {}).get("ids") or {}).get("values") or {}
            values = polled[st.name]
        else:
            if st.name not in polled:
                polled[st.name] = st.poll().ids[sig]
            values = polled[st.name]
        out[sig] = {k: v for k, v in values.items() if k.startswith(ps)}
    return out


def settle_ids(stores, prefix, expected, timeout=180, quiet=20):
    """Wait until every expected id arrived, or nothing new arrived for `quiet` seconds."""
    state = {"last": None, "since": time.monotonic()}

    def done():
        c = id_counts(stores, prefix)
        total = tuple(sum(v.values()) for v in c.values())
        mult = len(prefix) if isinstance(prefix, tuple) else 1
        complete = all(len(v) >= expected.get(sig, 0) * mult for sig, v in c.items())
        if total != state["last"]:
            state["last"], state["since"] = total, time.monotonic()
        quiet_for = time.monotonic() - state["since"]
        return (complete and quiet_for >= 5) or quiet_for >= quiet

    wait_until(done, timeout, 2, f"ids {prefix} to arrive")
    return id_counts(stores, prefix)


def tally(counts, n_per_signal, signals):
    sent = n_per_signal * len(signals)
    arrived = sum(len(counts.get(s, {})) for s in signals)
    dup = sum(v - 1 for s in signals for v in counts.get(s, {}).values() if v > 1)
    return sent, arrived, sent - arrived, dup


def signals_here(stores):
    return [s for s in ("traces", "logs") if s in stores.for_signal]


# -- the store -----------------------------------------------------------------------------------
def stop_stores(dep, stores):
    names = sorted({st.name for st in stores.for_signal.values()})
    for n in names:
        log(f"store down: stop {n}")
        dep.orch.services[n].stop(timeout=10)
    for st in stores.standins():
        if st.name in names:
            st.rotate_dump()
    return names


def start_stores(dep, stores, names):
    for n in names:
        log(f"store back: start {n}")
        dep.orch.services[n].start()
    wait_until(stores.ready, 60, 1, "stores back")


def restart(dep, name, how="kill", pause=2.0):
    svc = dep.orch.services[name]
    log(f"{how} {name}")
    (svc.kill if how == "kill" else svc.stop)()
    time.sleep(pause)
    log(f"restart {name}")
    svc.start()
    wait_until(lambda: dep.health_ok(name), 60, 0.5, f"{name} back")


# -- the faults ----------------------------------------------------------------------------------
def fault_outage(dep, res, stores):
    """Faults 1 and 2: one outage of the store; the gateway killed and restarted in the middle."""
    sigs = signals_here(stores)
    gw = dep.gateway()
    n = F1_ITEMS
    t0 = time.monotonic()
    down = stop_stores(dep, stores)
    # Before the kill: these sit in the gateway's queue when it dies (fault 2).
    rate = str(n / 8)
    # 50 items a request, as an app's exporter sends a busy second's worth: 40 requests per signal.
    t_before, before = loadgen_async(dep, ["--prefix", "f2", "--count", str(n), "--batch", "50", "--rate", rate,
                                           "--signal", "both", "--deadline", str(OUTAGE)], OUTAGE + 60)
    if gw:
        time.sleep(max(0, t0 + OUTAGE / 3 - time.monotonic()))
        restart(dep, gw, "kill", 2)
    # After the restart: these only wait for the store (fault 1).
    t_after, after = loadgen_async(dep, ["--prefix", "f1", "--count", str(n), "--batch", "50", "--rate", rate,
                                         "--signal", "both", "--deadline", str(OUTAGE + 60)], OUTAGE + 120)
    time.sleep(max(0, t0 + OUTAGE - time.monotonic()))
    outage = time.monotonic() - t0
    start_stores(dep, stores, down)
    t_before.join(OUTAGE + 90)
    t_after.join(OUTAGE + 150)
    exp = {s: n for s in sigs}
    # The exporters retry at most 30 s apart (retry_on_failure.max_interval): quiet for 45 s means done.
    settle_ids(stores, ("f1", "f2"), exp, timeout=240, quiet=45)
    c1 = id_counts(stores, "f1")
    c2 = id_counts(stores, "f2")
    pq = bool((dep.project.stack.get("collector") or {}).get("persistent_queue", True))
    sent, arrived, lost, dup = tally(c1, n, sigs)
    # A gateway that holds requests past an app exporter's 10 s timeout makes the apps drop data,
    # even if this patient sender got through in the end.
    hung = max(before.get("latency_max", 0), after.get("latency_max", 0))
    record(res, f"1 store down {outage:.0f}s ({', '.join(down)})", lost == 0 and hung <= 10, sent, arrived, lost, dup,
           note=f"sender: {fmt_sender(after)}" + (f"; requests held up to {hung:.0f}s (apps give up after 10s)"
                                                  if hung > 10 else ""))
    sent, arrived, lost, dup = tally(c2, n, sigs)
    if gw:
        note = f"persistent_queue: {str(pq).lower()}" + ("" if pq else " (loss expected, reported)")
        record(res, "2 gateway SIGKILL + restart during the outage", lost == 0, sent, arrived, lost, dup,
               note=f"{note}; sender: {fmt_sender(before)}")
    else:
        record(res, "2 gateway SIGKILL during the outage", True, sent, arrived, lost, dup, status="n/a",
               note="no gateway in this topology: the apps' sends only wait for the store")


def fmt_sender(st):
    if not st:
        return "did not finish"
    if "error" in st:
        return "error " + st["error"][:120]
    codes = ",".join(f"{k}:{v}" for k, v in sorted(st.get("codes", {}).items()))
    extra = []
    if st.get("latency_max", 0) > 10:
        extra.append(f"slowest answer {st['latency_max']:.0f}s")
    if st.get("gave_up_items"):
        extra.append(f"gave up {st['gave_up_items']}")
    if st.get("permanent_items"):
        extra.append(f"refused permanently {st['permanent_items']}")
    return f"codes {codes}" + (f", {', '.join(extra)}" if extra else "")


def psql(dep, ds, sql, timeout=300):
    bindir = dep.ctx.tools["POSTGRES_BIN_DIR"]
    svc = dep.project.stack["services"][ds]
    host_port = svc["endpoint"].rsplit(":", 1)
    db = (svc.get("databases") or [ds])[0]
    dsn = f"postgresql://dkp_app:{dep.project.secrets['LIVE_APP_DB_PASSWORD']}@{dep.addr(ds)}:{host_port[1]}/{db}"
    return subprocess.run([os.path.join(bindir, "psql"), dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                          capture_output=True, text=True, timeout=timeout)


def settle_lines(dep, stores, ds, timeout=180, quiet=35):
    st = stores.for_signal["logs"]
    state = {"last": None, "since": time.monotonic()}

    def done():
        _, lines = pg_log_lines(dep, ds)
        got = st.poll().by_service[ds]["logs"]
        cur = (pg_entries(lines), got)
        if cur != state["last"]:
            state["last"], state["since"] = cur, time.monotonic()
        q = time.monotonic() - state["since"]
        return (got >= cur[0] and q >= 6) or q >= quiet

    wait_until(done, timeout, 2, f"{ds} log entries to settle")
    _, lines = pg_log_lines(dep, ds)
    # Entries, not lines: each RAISE in a DO block is a LOG line and a CONTEXT line (elog.c), one record.
    return pg_entries(lines), st.poll().by_service[ds]["logs"], lines


def pg_with_file_logs(dep):
    for name, s in dep.stack_services("postgres").items():
        if isinstance(s.get("logs"), dict) and name in dep.orch.services:
            return name
    return None


def agent_of(dep, ds):
    for a in dep.file_agents():
        if a.endswith(f"-agent-{ds}"):
            return a
    return None


def fault_agent_kill(dep, res, stores):
    ds = pg_with_file_logs(dep)
    agent = agent_of(dep, ds) if ds else None
    if not ds or not agent or "logs" not in stores.for_signal:
        record(res, "3 file agent killed while PostgreSQL writes", True, status="n/a",
               note="no datastore with log files in this stack")
        return
    lines0, got0, _ = settle_lines(dep, stores, ds, timeout=90, quiet=12)
    n = 3000
    sql = (f"DO $$ BEGIN FOR i IN 1..{n} LOOP RAISE LOG 'f3-%', lpad(i::text, 6, '0'); "
           f"PERFORM pg_sleep(0.004); END LOOP; END $$;")
    box = {}
    t = threading.Thread(target=lambda: box.update(r=psql(dep, ds, sql)), daemon=True)
    t.start()
    # Three kills while PostgreSQL writes (about 15 s): each one a chance to hit the window between
    # a checkpoint and the export.
    for _ in range(3):
        time.sleep(2)
        restart(dep, agent, "kill", 1)
    t.join(120)
    r = box.get("r")
    if r is None or r.returncode != 0:
        record(res, "3 file agent killed while PostgreSQL writes", False, note=f"psql failed: {r and r.stderr[-200:]}")
        return
    lines1, got1, lines = settle_lines(dep, stores, ds)
    written, arrived = lines1 - lines0, got1 - got0
    # Where the store keeps log bodies (APM Server, Loki stand-ins), each test entry is followed by id;
    # else (the Elasticsearch stand-in) entries are counted.
    import re

    pat = re.compile(r"LOG:  (f3-\d{6})")
    in_files = {m.group(1) for ln in lines for m in [pat.search(ln)] if m}
    bodies = stores.for_signal["logs"].poll().bodies.get(ds, [])
    seen = {}
    for b in bodies:
        m = pat.search(b or "")
        if m:
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
    if seen:
        lost_ids = sorted(in_files - set(seen))
        dup = sum(v - 1 for v in seen.values() if v > 1)
        note = f"{len(in_files)} test entries followed by id" + (f"; lost {lost_ids[0]}..{lost_ids[-1]}" if lost_ids else "")
        note += f"; all lines: {written} written, {arrived} arrived"
        record(res, f"3 file agent {agent} SIGKILL + restart x3 while PostgreSQL writes", not lost_ids, len(in_files),
               len(in_files) - len(lost_ids), len(lost_ids), dup, note=note)
        return
    lost = max(written - arrived, 0)
    dup = max(arrived - written, 0)
    record(res, f"3 file agent {agent} SIGKILL + restart x3 while PostgreSQL writes", lost == 0, written, arrived,
           lost, dup, note=f"{len(in_files)} test entries; entries counted (the store keeps no bodies)")


def fault_overload(dep, res, stores):
    gw = dep.gateway()
    endpoint, _, target = app_target(dep)
    # Realistic items (a 300-byte attribute each), 500 per request, one payload reused: the load
    # generator spends its time sending, the gateway decoding, queueing and exporting.
    sigs = ["--signal", "both", "--batch", "500", "--attr-bytes", "300", "--reuse", "--no-retry"]
    wait_quiet(stores, 120)
    # Calibrate: what the pipeline sustains end to end, measured at the store while the gateway is
    # sent as much as the load generator can (its queue absorbs the rest).
    box = {}
    t_cal = threading.Thread(target=lambda: box.update(loadgen_multi(dep, [*sigs, "--duration", "12", "--concurrency", "4"],
                                                                     2, 90)), daemon=True)
    t_cal.start()
    time.sleep(4)
    n0, t0 = loadgen_items(stores), time.monotonic()
    time.sleep(8)
    arrived_rate = (loadgen_items(stores) - n0) / (time.monotonic() - t0)
    t_cal.join(120)
    cal = box
    accepted_rate = cal.get("accepted_items", 0) / max(cal.get("seconds", 12), 1)
    sustain = max(min(arrived_rate, accepted_rate), 500)
    rate = 2 * sustain
    log(f"overload: sustained ~{sustain:.0f} items/s (accepted {accepted_rate:.0f}/s, stored {arrived_rate:.0f}/s); "
        f"sending {rate:.0f}/s for {OVERLOAD:.0f}s")
    wait_quiet(stores, 240)
    base = loadgen_items(stores)
    exits_before = {n: len(s.unexpected_exits) for n, s in dep.orch.services.items()}
    procs = 3
    ov = loadgen_multi(dep, [*sigs, "--duration", str(OVERLOAD), "--rate", str(rate / 2 / procs), "--concurrency", "4"],
                       procs, OVERLOAD + 120)
    achieved = ov.get("sent_items", 0) / max(ov.get("seconds", OVERLOAD), 1)
    codes = ov.get("codes", {})
    refused = {k: v for k, v in codes.items() if k != "200"}
    non_retryable = {k: v for k, v in refused.items() if k not in ("429", "503", "502", "504")}
    crashed = [n for n, s in dep.orch.services.items() if len(s.unexpected_exits) > exits_before.get(n, 0)]
    over = []
    for c in dep.collectors():
        s = dep.orch.services[c]
        s.sample_memory()
        if s.memory_limit and s.peak_rss >= s.memory_limit:
            over.append(f"{c} {s.peak_rss >> 20}/{s.memory_limit >> 20} MiB")
    mem = ", ".join(f"{c} {dep.orch.services[c].peak_rss >> 20} MiB" for c in dep.collectors())
    # An app's OTLP exporter gives up on a request after 10 s (OTEL_EXPORTER_OTLP_TIMEOUT): a gateway
    # that holds requests longer than that pushes back by hanging, not by a retryable refusal.
    slow = ov.get("latency_max", 0) > 10
    ok = not crashed and not over and not non_retryable and "error" not in ov and not slow
    note = (f"sustained ~{sustain:.0f}/s, sent {achieved:.0f}/s; refusals {refused or 'none'}; "
            f"request latency p99 {ov.get('latency_p99')} s, max {ov.get('latency_max')} s; "
            f"peak {mem}" + (f"; CRASHED {crashed}" if crashed else "") + (f"; OVER LIMIT {over}" if over else ""))
    if non_retryable:
        note += f"; non-retryable {non_retryable}"
    record(res, f"4 overload ~2x for {OVERLOAD:.0f}s", ok, sent=ov.get("sent_items"), note=note)
    if achieved < 1.5 * sustain:
        res.skip("fault 4 reached twice the sustained rate",
                 f"the load generator (3 processes, 2 cores shared with the pipeline) sent {achieved:.0f}/s "
                 f"for a sustained {sustain:.0f}/s")
    # The pipeline recovers: the backlog drains, a fresh batch is accepted and arrives.
    drain_note = ""
    if buffered(dep):
        # Kafka keeps every item the gateway accepted and delivers in order: wait until all of them
        # arrived (at most LIVE_BUFFER_DRAIN_SECONDS) rather than for a pause, and say how long.
        want = base + (ov.get("accepted_items") or 0)
        t0 = time.monotonic()
        limit = float(os.environ.get("LIVE_BUFFER_DRAIN_SECONDS", "600"))
        done = wait_until(lambda: loadgen_items(stores) >= want, limit, 5, "the overload's backlog to arrive")
        took = time.monotonic() - t0
        drain_note = (f"; the overload's backlog arrived {took:.0f}s after it ended" if done else
                      f"; {want - loadgen_items(stores)} of the overload's items still not arrived after {took:.0f}s")
    wait_quiet(stores, 240)
    rec = loadgen(dep, ["--prefix", "f4", "--count", "200", "--batch", "100", "--signal", "both", "--deadline", "60"], 90)
    # Fresh data queues behind whatever backlog the overload left (a Kafka buffer keeps it all and
    # delivers in order), so allow twice the time the sustained rate needs for what was sent.
    backlog_s = 2 * (ov.get("sent_items") or 0) / max(sustain, 1)
    # Not "quiet for 20 s": behind a Kafka backlog one signal's topic may deliver its share long
    # before another's, and nothing new arrives meanwhile.
    c = settle_ids(stores, "f4", {s: 200 for s in signals_here(stores)}, timeout=max(90, int(backlog_s)),
                   quiet=max(20, int(backlog_s)))
    sent, arrived, lost, dup = tally(c, 200, signals_here(stores))
    record(res, "4 after the overload: new data accepted and delivered", lost == 0, sent, arrived, lost, dup,
           note=f"sender: {fmt_sender(rec)}{drain_note}")


def loadgen_items(stores):
    """Spans and log records of the load generator at the stores (the apps' steady traffic aside)."""
    from stores import StandinStore

    total = 0
    seen = set()
    for st in stores.for_signal.values():
        if st.name in seen:
            continue
        seen.add(st.name)
        if isinstance(st, StandinStore):
            total += sum(((st.stats() or {}).get("services") or {}).get("lv-loadgen", {}).values())
        else:
            total += sum(st.poll().by_service.get("lv-loadgen", {}).values())
    return total


def wait_quiet(stores, timeout, quiet=8):
    """Until the load generator's items stop arriving (the gateway's queue has drained)."""
    state = {"last": None, "since": time.monotonic()}

    def done():
        t = loadgen_items(stores)
        if t != state["last"]:
            state["last"], state["since"] = t, time.monotonic()
        return time.monotonic() - state["since"] >= quiet

    wait_until(done, timeout, 2, "the pipeline to drain")


def fault_burst(dep, res, stores):
    sigs = signals_here(stores)
    if "traces" in sigs:
        n = BURST_SPANS
        st = loadgen(dep, ["--prefix", "f5", "--count", str(n), "--batch", "1000", "--signal", "spans",
                           "--attr-bytes", "1024", "--concurrency", "4", "--deadline", "120"], 240)
        c = settle_ids(stores, "f5", {"traces": n}, timeout=180, quiet=25)
        sent, arrived, lost, dup = tally(c, n, ["traces"])
        record(res, f"5 burst: {n} spans x 1 KiB attribute (~{n * 1.1 / 1024:.0f} MiB) at once", lost == 0,
               sent, arrived, lost, dup, note=f"sender: {fmt_sender(st)}")
    ds = pg_with_file_logs(dep)
    agent = agent_of(dep, ds) if ds else None
    if not ds or not agent or "logs" not in stores.for_signal:
        record(res, "5 log backlog read from a restarted agent", True, status="n/a", note="no file-logging datastore")
        return
    lines0, got0, _ = settle_lines(dep, stores, ds, timeout=90, quiet=12)
    svc = dep.orch.services[agent]
    log(f"stop {agent} for the backlog")
    svc.stop()
    pad = "z" * BACKLOG_PAD
    n = BACKLOG_LINES
    r = psql(dep, ds, f"DO $$ BEGIN FOR i IN 1..{n} LOOP RAISE LOG 'f5-% {pad}', lpad(i::text, 6, '0'); "
                      f"END LOOP; END $$;")
    _, lines = pg_log_lines(dep, ds)
    size = sum(len(ln) + 1 for ln in lines if "f5-" in ln)
    log(f"start {agent}: {size / 1048576:.1f} MiB of new lines to read")
    svc.start()
    lines1, got1, _ = settle_lines(dep, stores, ds, timeout=240, quiet=30)
    written, arrived = lines1 - lines0, got1 - got0
    lost = max(written - arrived, 0)
    record(res, f"5 log backlog: {agent} restarted after {size / 1048576:.1f} MiB of lines", lost == 0 and r.returncode == 0,
           written, arrived, lost, max(arrived - written, 0),
           note="" if r.returncode == 0 else f"psql: {r.stderr[-200:]}")


# -- fault 6: the Kafka buffer holds a long outage at a steady rate ------------------------------
def buffer_broker(dep):
    """The compose service of the Kafka buffer's first broker, or None (not deployed here)."""
    kafka = ((dep.project.stack.get("collector") or {}).get("buffer") or {}).get("kafka") or {}
    for b in kafka.get("brokers") or []:
        svc = dep.service_for_host(str(b).rsplit(":", 1)[0])
        if svc and svc in dep.orch.services:
            return svc, str(b)
    return None, None


def kafka_lag(dep, broker, bootstrap):
    """{group: lag in messages, summed over its topics and partitions} from Kafka's own
    kafka-consumer-groups tool (ConsumerGroupCommand) run in the broker's network and mount
    namespaces, where the advertised host name resolves; None when it cannot be read."""
    tools = dep.ctx.tools
    svc = dep.orch.services[broker]
    if not svc.running() or "KAFKA_JAVA" not in tools:
        return None
    argv = ["nsenter", "-t", str(svc.proc.pid), "-n", "-m", "-r", "-w", "--", tools["KAFKA_JAVA"], "-Xmx128m",
            f"-Dlog4j2.configurationFile={tools['KAFKA_LOG4J']}", "-cp", tools["KAFKA_CLASSPATH"],
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", bootstrap,
            "--describe", "--all-groups"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        return None
    lags = {}
    header = None
    for line in r.stdout.splitlines():
        cols = line.split()
        if cols[:2] == ["GROUP", "TOPIC"]:
            header = cols
            continue
        if header and len(cols) >= header.index("LAG") + 1:
            group, lag = cols[0], cols[header.index("LAG")]
            lags[group] = lags.get(group, 0) + (int(lag) if lag.isdigit() else 0)
    if header is None:
        log(f"kafka lag: no answer ({(r.stderr or r.stdout).strip()[-300:]})")
        return None
    return lags


def ingest_retry_wait(dep):
    """The longest the ingest tier may wait, once the store is back, before it tries again: its
    exporter's retry max_interval with configretry's randomization (x1.5; default 0.5)."""
    import glob

    import yaml

    worst = 30.0
    for path in glob.glob(os.path.join(dep.project.tree, "collector", "*.yaml")):
        cfg = yaml.safe_load(open(path)) or {}
        if not any(str(r).startswith("kafka") for r in (cfg.get("receivers") or {})):
            continue
        for exp in (cfg.get("exporters") or {}).values():
            retry = (exp or {}).get("retry") or (exp or {}).get("retry_on_failure") or {}
            if retry.get("max_interval"):
                worst = max(worst, parse_duration(retry["max_interval"]))
    return 1.5 * worst


BUFFER_DRAIN_FLOOR = 1000  # items/s: the least the ingest tier is allowed to drain at (see README)


def fault_steady_outage(dep, res, stores):
    """Fault 6 (a stack with collector.buffer.kafka): the store down for LIVE_BUFFER_OUTAGE_SECONDS
    while a generator sends all three signals at a steady LIVE_BUFFER_RATE items/s each; then the
    store returns and steady traffic goes on for BUFFER_AFTER s. Nothing may be lost, and the
    ingest tier must deliver everything sent during the outage within the bound below; the Kafka
    consumer group's lag shows where the backlog waited."""
    outage = float(os.environ.get("LIVE_BUFFER_OUTAGE_SECONDS", "600"))
    rate = float(os.environ.get("LIVE_BUFFER_RATE", "100"))
    after_s = float(os.environ.get("LIVE_BUFFER_AFTER_SECONDS", "60"))
    broker, bootstrap = buffer_broker(dep)
    sigs = [s for s in ("traces", "logs", "metrics") if s in id_counts(stores, "b0")]
    flag = "all" if "metrics" in sigs else "both"
    batch = max(10, int(rate))  # one request per signal a second, as a busy app's exporter sends
    label = f"6 buffer: store down {outage:.0f}s, steady {rate:.0f}/s per signal"
    wait_quiet(stores, 120)
    lag_before = kafka_lag(dep, broker, bootstrap) if broker else None
    n = int(rate * outage)
    down = stop_stores(dep, stores)
    t_down = time.monotonic()
    t_gen, gen = loadgen_async(dep, ["--prefix", "b1", "--count", str(n), "--batch", str(batch), "--rate", str(rate),
                                     "--signal", flag, "--concurrency", "2", "--deadline", str(outage + 120)],
                               outage + 240)
    lags = []  # (seconds into the outage, total lag)
    while True:
        left = t_down + outage - time.monotonic()
        if left <= 0:
            break
        if broker:
            lag = kafka_lag(dep, broker, bootstrap)
            if lag is not None:
                lags.append((time.monotonic() - t_down, sum(lag.values())))
                log(f"buffer: {lags[-1][0]:.0f}s into the outage, consumer lag {lags[-1][1]} messages")
        time.sleep(max(0, min(outage / 6, 60, t_down + outage - time.monotonic())))
    keep_down = os.environ.get("LIVE_SELFTEST_STORE_STAYS_DOWN") == "1"  # harness self-test only
    if not keep_down:
        start_stores(dep, stores, down)
    t_up = time.monotonic()
    down_s = t_up - t_down
    t_gen.join(240)
    backlog = gen.get("accepted_items", 0)
    # Steady traffic goes on while the ingest tier catches up.
    m = int(rate * after_s)
    t_after, after = loadgen_async(dep, ["--prefix", "b2", "--count", str(m), "--batch", str(batch), "--rate",
                                         str(rate), "--signal", flag, "--concurrency", "2",
                                         "--deadline", str(after_s + 120)], after_s + 240)
    # The bound: the ingest tier's longest retry wait, then the backlog at BUFFER_DRAIN_FLOOR, plus
    # 30 s for the exporter's batching, Kafka's fetches and this harness's polling.
    retry_wait = ingest_retry_wait(dep)
    bound = retry_wait + backlog / BUFFER_DRAIN_FLOOR + 30
    state = {}

    def caught_up():
        c = id_counts(stores, "b1")
        got = sum(len(c.get(s, {})) for s in sigs)
        state["got"] = got
        return got >= n * len(sigs)

    ok_catch = wait_until(caught_up, 2 * bound, 3, "the ingest tier to deliver the outage's backlog")
    catch_s = time.monotonic() - t_up if ok_catch else None
    t_after.join(after_s + 240)
    settle_ids(stores, ("b1", "b2"), {s: n for s in sigs}, timeout=240, quiet=45)
    lag_end = None
    if broker:
        def lag_zero():
            state["lag"] = kafka_lag(dep, broker, bootstrap)
            return state["lag"] is not None and sum(state["lag"].values()) == 0

        wait_until(lag_zero, 120, 5, "the consumer lag to return to 0")
        lag_end = state.get("lag")
    c1, c2 = id_counts(stores, "b1"), id_counts(stores, "b2")
    sent, arrived, lost, dup = tally(c1, n, sigs)
    sent2, arrived2, lost2, dup2 = tally(c2, m, sigs)
    gen_rate = backlog / max(gen.get("seconds", outage), 1) / len(sigs)
    note = (f"{', '.join(sigs)}; sent at {gen_rate:.0f}/s per signal over {gen.get('seconds', 0):.0f}s "
            f"({fmt_sender(gen)}); then {after_s:.0f}s more at the same rate: {arrived2} of {sent2} arrived")
    if catch_s is not None:
        note += f"; caught up {catch_s:.0f}s after the store returned (bound {bound:.0f}s)"
    else:
        note += f"; NOT caught up {2 * bound:.0f}s after the store returned: {state.get('got')} of {sent}"
    record(res, label, lost == 0 and lost2 == 0 and catch_s is not None and catch_s <= bound,
           sent + sent2, arrived + arrived2, lost + lost2, dup + dup2, note=note)
    res.buffer = {"outage_s": round(down_s), "rate": rate, "signals": sigs, "sent": sent, "arrived": arrived,
                  "lost": lost, "dup": dup, "after_sent": sent2, "after_lost": lost2, "catch_up_s": catch_s and round(catch_s),
                  "bound_s": round(bound), "retry_wait_s": round(retry_wait), "lags": lags,
                  "lag_before": lag_before, "lag_end": lag_end}
    if not broker:
        res.skip("fault 6: the Kafka consumer lag grew in the outage and returned to 0", "no deployed broker")
    elif not lags or lag_end is None:
        res.skip("fault 6: the Kafka consumer lag grew in the outage and returned to 0",
                 "kafka-consumer-groups gave no answer")
    else:
        peak = max(v for _, v in lags)
        grew = len(lags) >= 2 and lags[-1][1] > lags[0][1]
        res.check(grew and sum(lag_end.values()) == 0,
                  "fault 6: the Kafka consumer lag grew in the outage and returned to 0",
                  f"lag {' → '.join(str(v) for _, v in lags)} messages during the outage (peak {peak}), "
                  f"{sum(lag_end.values())} after; groups {sorted(lag_end)}",
                  f"lag {[v for _, v in lags]} during the outage, {lag_end} after")


def buffered(dep):
    return bool(((dep.project.stack.get("collector") or {}).get("buffer") or {}).get("kafka"))


def run(dep, res, stores, only=None):
    # A stack with a Kafka buffer runs the steady long outage (6) instead of the short one (1, 2).
    default = "6,3,4,5" if buffered(dep) else "1,3,4,5"
    wanted = set((only or default).replace("2", "1").split(","))
    steps = [("1", fault_outage), ("6", fault_steady_outage), ("3", fault_agent_kill), ("5", fault_burst),
             ("4", fault_overload)]
    for key, fn in steps:
        if key not in wanted:
            continue
        t0 = time.monotonic()
        CURRENT.update(dep=dep, offsets=log_offsets(dep))
        try:
            fn(dep, res, stores)
        except Exception as e:  # noqa: BLE001 - one fault's failure is reported, the next runs
            import traceback

            traceback.print_exc()
            res.fail(f"fault {key}", f"{type(e).__name__}: {e}")
        log(f"fault {key} took {time.monotonic() - t0:.0f}s")
    check_processes(dep, res, " (after the faults; restarts the harness caused excluded)")
