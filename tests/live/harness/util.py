"""Small helpers: logging with elapsed time, bounded waits, HTTP without third-party packages."""

import base64
import json
import sys
import time
import urllib.error
import urllib.request

T0 = time.monotonic()
LOGFILE = None


def log(msg):
    line = f"[live {time.monotonic() - T0:7.1f}s] {msg}"
    print(line, file=sys.stderr, flush=True)
    if LOGFILE:
        LOGFILE.write(line + "\n")
        LOGFILE.flush()


def wait_until(pred, timeout, interval=1.0, what=""):
    """Poll pred() until it returns a truthy value or timeout seconds pass; returns the value."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
        except Exception as e:  # noqa: BLE001 - a poll that fails is a poll that is not ready
            last = None
            err = e
        else:
            err = None
        if last:
            return last
        if time.monotonic() >= end:
            if what:
                log(f"timeout after {timeout:.0f}s waiting for {what}" + (f" ({err})" if err else ""))
            return last
        time.sleep(interval)


def http(method, url, body=None, headers=None, timeout=10, auth=None):
    """Returns (status, bytes); status 0 when the connection failed."""
    h = dict(headers or {})
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception:  # noqa: BLE001 - refused, reset, timeout: not up
        return 0, b""


def get_json(url, timeout=10, auth=None):
    status, body = http("GET", url, timeout=timeout, auth=auth)
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_duration(s, default=0.0):
    if s is None:
        return default
    if isinstance(s, (int, float)):
        return float(s) / 1e9 if s > 1e6 else float(s)
    total, num = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    i = 0
    while i < len(s):
        c = s[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = c
        if s[i : i + 2] in ("ms", "us", "ns"):
            unit = s[i : i + 2]
        total += float(num or 0) * units.get(unit, 1)
        num = ""
        i += len(unit)
    if num:
        total += float(num)
    return total


def parse_bytes(v):
    if v is None:
        return None
    if isinstance(v, int):
        return v
    s = str(v).strip().lower()
    mult = 1
    for suf, m in (("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10), ("gb", 1 << 30), ("mb", 1 << 20),
                   ("kb", 1 << 10), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10), ("b", 1)):
        if s.endswith(suf):
            s, mult = s[: -len(suf)], m
            break
    return int(float(s) * mult)
