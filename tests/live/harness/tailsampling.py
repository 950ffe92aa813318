"""Tail sampling (a stack with `sampling.tail`): a known mix of traces sent over OTLP where the
apps send (the gateway), counted at the traces store.

The load generator (`loadgen.py --mix`) sends TAIL_MIX_TRACES traces of TAIL_MIX_SPANS spans: every
tenth with a span whose status is ERROR, the next one lasting longer than the stack's
`slower_than_ms`, the others 20 ms. Span J of a chunk of traces makes one export request, so the
spans of one trace reach the gateway in separate requests and only routing by trace id (the
gateway's load-balancing exporter) brings them to the same sampler. Each span carries a `test.id`
naming its kind, trace and place, so the store's id counts say which traces arrived and how much
of each.

Passes when every trace the rules keep (errors when `keep_errors`, slow ones when `slower_than_ms`
is set) arrives with all its spans, no trace arrives in part, no span arrives twice, and of the
others a share within four standard deviations of the binomial around `ratio` arrives whole. The
harness does not know the sampler services: it sends to the gateway and counts at the store, so
one sampler or a fixed set of them behind a static or DNS resolver is all the same to it.
"""

import collections
import os
import time

from util import log, wait_until

TAIL_MIX_TRACES = int(os.environ.get("LIVE_TAIL_MIX_TRACES", "3000"))
TAIL_MIX_SPANS = 3
PREFIX = "tm"
KIND_NAMES = {"e": "error", "w": "slow", "r": "other"}


def expected_rule(tail, kind):
    """True when the stack's rules keep every trace of this kind of the mix."""
    return (kind == "e" and tail["keep_errors"]) or (kind == "w" and bool(tail.get("slower_than_ms")))


def spans_by_trace(stores):
    """(trace key -> {span index: times arrived}) for the mix's spans at the traces store."""
    from faults import id_counts

    values = id_counts(stores, PREFIX).get("traces", {})
    out = collections.defaultdict(dict)
    for tid, n in values.items():
        key, _, j = tid[len(PREFIX) + 3:].partition(".")
        out[key][j] = n
    return out


def check_mix(dep, res, stores):
    from checks import binomial_bound, tail_sampling
    from faults import fmt_sender, loadgen

    tail = tail_sampling(dep)
    st = stores.for_signal.get("traces")
    if st is None:
        res.fail("tail sampling: a known mix of traces", "no traces store in this topology")
        return
    slow_ms = max(int(tail.get("slower_than_ms") or 0) + 300, 800)
    n = TAIL_MIX_TRACES
    log(f"tail sampling: sending {n} traces of {TAIL_MIX_SPANS} spans (errors, slow {slow_ms} ms, others)")
    sent = loadgen(dep, ["--mix", str(n), "--spans", str(TAIL_MIX_SPANS), "--slow-ms", str(slow_ms),
                         "--prefix", PREFIX, "--batch", "50", "--concurrency", "2", "--service", "lv-tailmix",
                         "--deadline", "120"], 240)
    if "error" in sent or sent.get("accepted_items", 0) != n * TAIL_MIX_SPANS:
        res.fail("tail sampling: the gateway accepts the mix", f"sender: {fmt_sender(sent)}")
        return
    counts = sent["traces"]
    must = sum(counts[k] for k in counts if expected_rule(tail, k)) * TAIL_MIX_SPANS
    state = {"last": None, "since": time.monotonic()}

    def settled():
        # Every span of the traces the rules keep arrived and nothing new for 10 s, or 60 s quiet
        # (a sampler decides `decision_wait` after a trace's first span, then its exporter batches).
        by = spans_by_trace(stores)
        total = sum(sum(v.values()) for v in by.values())
        have = sum(len(v) for k, v in by.items() if expected_rule(tail, k[0]))
        if total != state["last"]:
            state["last"], state["since"] = total, time.monotonic()
        quiet = time.monotonic() - state["since"]
        return (have >= must and quiet >= 10) or quiet >= 60

    t0 = time.monotonic()
    wait_until(settled, 300, 3, "the mix's traces to arrive")
    log(f"tail sampling: settled after {time.monotonic() - t0:.0f}s")
    by = spans_by_trace(stores)
    rows = []
    partial_all = 0
    dup_all = 0
    rest_sent = rest_whole = 0
    for kind in ("e", "w", "r"):
        sent_k = counts[kind]
        arrived = {k: v for k, v in by.items() if k[0] == kind}
        whole = sum(1 for v in arrived.values() if len(v) == TAIL_MIX_SPANS)
        partial = sum(1 for v in arrived.values() if len(v) < TAIL_MIX_SPANS)
        dup_all += sum(c - 1 for v in arrived.values() for c in v.values() if c > 1)
        partial_all += partial
        if expected_rule(tail, kind):
            expected = "all"
            res.check(whole == sent_k,
                      f"tail sampling: every {KIND_NAMES[kind]} trace arrives whole at {st.name}",
                      f"{whole} of {sent_k}", f"{whole} of {sent_k} whole, {partial} in part")
        else:
            rest_sent += sent_k
            rest_whole += whole
            expected = f"{sent_k * tail['ratio']:.0f} ± {binomial_bound(sent_k, tail['ratio']):.0f}"
        rows.append((KIND_NAMES[kind], sent_k, whole, partial, expected))
    if rest_sent:
        dev = binomial_bound(rest_sent, tail["ratio"])
        share = rest_whole / rest_sent
        res.check(abs(rest_whole - rest_sent * tail["ratio"]) <= dev,
                  f"tail sampling: the other traces arrive near the ratio {tail['ratio']:g}",
                  f"{rest_whole} of {rest_sent} ({share:.3f}; expected {rest_sent * tail['ratio']:.0f} ± {dev:.0f})")
    res.check(partial_all == 0, "tail sampling: no trace arrives in part (the spans of a trace meet at one sampler)",
              f"{len(by)} traces arrived", f"{partial_all} of {len(by)} traces arrived in part")
    res.check(dup_all == 0, "tail sampling: no span of the mix arrives twice", "", f"{dup_all} duplicates")
    res.sampling = {"store": st.name, "traces": n, "spans": TAIL_MIX_SPANS, "slow_ms": slow_ms,
                    "ratio": tail["ratio"], "rows": rows}
