"""The live harness: run a rendered compose project's services as processes and count what
arrives (tests/live/run.sh is the entry point; see tests/live/README.md).

    python3 live.py STACK [--topology X] [--faults] [--work DIR] [--keep] [--hold SECONDS]
"""

import argparse
import atexit
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import util  # noqa: E402
from util import log  # noqa: E402

LIVE = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(LIVE))
DEFAULT_COLLECTOR_VERSION = "0.152.0"


class Context:
    def __init__(self, args):
        self.run_id = secrets.token_hex(2)
        self.otelplan = args.otelplan
        self.compose_bin = args.compose
        self.tools = dict(t.split("=", 1) for t in args.tool)
        self.tools.setdefault("PYTHON", sys.executable)
        self.default_collector = args.collector
        self.args = args
        self._collectors = {DEFAULT_COLLECTOR_VERSION: self.default_collector}
        self.substitutions = {}

    def collectors_for(self, project):
        """image tag -> collector binary: the CI build for the default release, else the tree's own
        builder manifest built by tests/live/build.sh (cached)."""
        out = dict(self._collectors)
        manifest = os.path.join(project.tree, "collector", "builder-config.yaml")
        import yaml

        for svc in (project.generated.get("services") or {}).values():
            image = svc.get("image") or ""
            if image.startswith("otel/opentelemetry-collector-contrib:"):
                version = image.split(":", 1)[1]
                if version not in out and os.path.exists(manifest):
                    with open(manifest) as f:
                        if str((yaml.safe_load(f).get("dist") or {}).get("version")) != version:
                            continue
                    import hashlib

                    cache = os.environ.get("OTELPLAN_LIVE_CACHE", os.path.expanduser("~/.cache/otelplan-live"))
                    key = hashlib.sha256(open(manifest, "rb").read()).hexdigest()[:16]
                    marker = os.path.join(cache, "otelcol", f"unbuildable-{version}-{key}.log")
                    why = None
                    if os.path.exists(marker):
                        why = open(marker).read()[-400:]
                    else:
                        log(f"building the tree's collector {version} (tests/live/build.sh {manifest}; cold: minutes)")
                        r = subprocess.run([os.path.join(LIVE, "build.sh"), manifest], capture_output=True, text=True,
                                           timeout=1800)
                        if r.returncode == 0:
                            out[version] = r.stdout.strip().splitlines()[-1]
                            self._collectors[version] = out[version]
                        else:
                            why = r.stderr[-2000:]
                            os.makedirs(os.path.dirname(marker), exist_ok=True)
                            with open(marker, "w") as f:
                                f.write(why)
                    if why is not None:
                        # The module proxy may not serve an older release whole: run the configs with
                        # the default build, which still accepts the older names, and say so.
                        line = [ln for ln in why.splitlines() if ln.strip()][-1:] or ["?"]
                        self.substitutions[version] = (f"collector {version} could not be built ({line[0][:200]}; "
                                                       f"delete {marker} to retry): its configs run on the "
                                                       f"{DEFAULT_COLLECTOR_VERSION} build")
                        out[version] = self.default_collector
        return out


    def app_venv(self, tree):
        """The Django app's virtualenv: the tree's requirements-otel.txt and the app's own, from PyPI
        (cached under ~/.cache/otelplan-live, keyed by both files)."""
        import hashlib

        req = os.path.join(tree, "instrumentation", "django", "requirements-otel.txt")
        app = os.path.join(LIVE, "team", "requirements-app.txt")
        py = os.environ.get("OTELPLAN_LIVE_PYTHON", "python3.11")
        key = hashlib.sha256(open(req, "rb").read() + open(app, "rb").read() + py.encode()).hexdigest()[:12]
        cache = os.environ.get("OTELPLAN_LIVE_CACHE", os.path.expanduser("~/.cache/otelplan-live"))
        venv = os.path.join(cache, f"app-venv-{key}")
        if not os.path.exists(os.path.join(venv, ".complete")):
            log(f"app virtualenv {venv}: pip install -r requirements-otel.txt -r team/requirements-app.txt")
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([py, "-m", "venv", venv], check=True, timeout=300)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                            "--no-input", "-r", req, "-r", app], check=True, timeout=900)
            open(os.path.join(venv, ".complete"), "w").close()
        self.tools["APP_VENV"] = venv
        return venv


STATE = "/run/otelplan-live"


def sweep_stale_runs():
    """Remove what an earlier run killed with SIGKILL left behind (its namespaces, links, cgroup):
    each run records its pid in /run/otelplan-live/<run>.pid; a dead pid's leftovers are removed."""
    os.makedirs(STATE, exist_ok=True)
    for fn in os.listdir(STATE):
        if not fn.endswith(".pid"):
            continue
        rid = fn[:-4]
        try:
            pid = int(open(os.path.join(STATE, fn)).read().strip())
            os.kill(pid, 0)
            continue  # still running
        except (ValueError, ProcessLookupError):
            pass
        except PermissionError:
            continue
        log(f"removing what run {rid} left behind")
        cg = f"/sys/fs/cgroup/memory/otelplan-live-{rid}"
        if os.path.isdir(cg):
            for sub in os.listdir(cg):
                procs = os.path.join(cg, sub, "cgroup.procs")
                if os.path.exists(procs):
                    for p in open(procs).read().split():
                        try:
                            os.kill(int(p), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split():
            if ns.startswith(f"lv{rid}-"):
                for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                    subprocess.run(["kill", "-KILL", p], capture_output=True)
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        for line in links.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name.startswith(f"lv{rid}") or name == f"lvbr{rid}":
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        if os.path.isdir(cg):
            time.sleep(0.5)
            for sub in os.listdir(cg):
                try:
                    os.rmdir(os.path.join(cg, sub))
                except OSError:
                    pass
            try:
                os.rmdir(cg)
            except OSError:
                pass
        os.unlink(os.path.join(STATE, fn))


def topologies_of(ctx, stack, wanted):
    """The topologies the stack can render (or the one asked for)."""
    import project

    if wanted:
        return [wanted.upper()]
    out = []
    tmp = tempfile.mkdtemp(prefix="otelplan-live-probe.")
    try:
        for t in "ABCD":
            try:
                project.render(ctx.otelplan, stack, t, os.path.join(tmp, t))
                out.append(t)
            except project.RenderError:
                pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def ci_skip_reason(doc):
    """Why CI's set leaves an example out (printed, never silent), or None."""
    collector = doc.get("collector") or {}
    if collector.get("distribution") == "edot":
        return ("its collectors are Elastic's build (EDOT), which cannot be built here: the module "
                "proxy refuses Elastic's component modules")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stack")
    ap.add_argument("--topology")
    ap.add_argument("--faults", action="store_true")
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--otelplan", required=True)
    ap.add_argument("--compose", required=True)
    ap.add_argument("--collector", required=True)
    ap.add_argument("--tool", action="append", default=[])
    ap.add_argument("--mutate", help="(self-test) a mutation applied to the rendered tree, see selftest.py")
    ap.add_argument("--only", help="comma list of fault numbers to run (debugging)")
    ap.add_argument("--report", help="write the results as JSON here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("live: needs root (network and mount namespaces)", file=sys.stderr)
        return 2
    sweep_stale_runs()
    ctx = Context(args)
    with open(os.path.join(STATE, f"{ctx.run_id}.pid"), "w") as f:
        f.write(str(os.getpid()))
    work_root = args.work or tempfile.mkdtemp(prefix="otelplan-live.")
    os.makedirs(work_root, exist_ok=True)
    util.LOGFILE = open(os.path.join(work_root, "harness.log"), "a")
    log(f"work directory {work_root} (run {ctx.run_id})")

    import checks
    from deploy import Deployment

    plan = []  # (stack, topology, faults)
    if args.stack == "ci":
        # What CI runs: the DKP example in every topology, with faults in A and D, and every other
        # example whose targets include compose in the topologies it renders (with faults for a
        # Kafka buffer), except those `ci_skip_reason` names.
        import yaml

        faulted = set((os.environ.get("LIVE_CI_FAULTS", "A,D")).split(","))
        # The Kafka buffer's steady outage (fault 6) lasts 10 minutes by hand; CI's is shorter.
        os.environ.setdefault("LIVE_BUFFER_OUTAGE_SECONDS", "120")
        for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml"))):
            doc = yaml.safe_load(open(path)) or {}
            if "compose" not in (doc.get("targets") or ["compose", "kubernetes"]):
                continue
            reason = ci_skip_reason(doc)
            if reason:
                print(f"live: {os.path.basename(path)} not run: {reason}", file=sys.stderr)
                continue
            dkp = os.path.basename(path) == "dkp.yaml"
            # The Kafka buffer exists to hold a store outage: its example always runs the faults.
            buffered = bool(((doc.get("collector") or {}).get("buffer") or {}).get("kafka"))
            for t in topologies_of(ctx, path, None):
                plan.append((path, t, (dkp and t in faulted) or buffered))
        plan.sort(key=lambda p: (os.path.basename(p[0]) != "dkp.yaml", p[0], p[1]))
    else:
        stack = os.path.abspath(args.stack)
        tops = topologies_of(ctx, stack, args.topology)
        if not tops:
            print(f"live: {args.stack} renders in no topology", file=sys.stderr)
            return 2
        plan = [(stack, t, args.faults) for t in tops]
    results = []
    current = {"dep": None}

    def cleanup(*_):
        dep = current["dep"]
        current["dep"] = None
        if dep is not None:
            log("cleaning up")
            dep.down()

    atexit.register(cleanup)
    atexit.register(lambda: os.path.exists(os.path.join(STATE, f"{ctx.run_id}.pid")) and
                    os.unlink(os.path.join(STATE, f"{ctx.run_id}.pid")))

    def on_signal(sig, _frame):
        log(f"signal {sig}: stopping")
        cleanup()
        sys.exit(130)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    mutate = None
    if args.mutate:
        import selftest

        mutate = selftest.mutation(args.mutate)
    for stack, t, faults in plan:
        work = os.path.join(work_root, f"{os.path.splitext(os.path.basename(stack))[0]}-{t}")
        shutil.rmtree(work, ignore_errors=True)
        t0 = time.monotonic()
        log(f"=== {os.path.basename(stack)} topology {t}{' with faults' if faults else ''}")
        dep = Deployment(ctx, stack, t, work, mutate)
        current["dep"] = dep
        res = checks.Result(os.path.basename(stack), t)
        try:
            dep.up()
            if args.hold:
                log(f"holding for {args.hold:.0f}s (work {work})")
                time.sleep(args.hold)
            checks.run_all(dep, res, faults=faults, only=args.only)
        except Exception as e:  # noqa: BLE001 - one topology's failure is reported, the next runs
            import traceback

            traceback.print_exc()
            res.fail("deployment", f"{type(e).__name__}: {e}")
        finally:
            try:
                checks.finish(dep, res)
            finally:
                cleanup()
        res.seconds = time.monotonic() - t0
        res.faulted = faults
        results.append(res)
        print(checks.table(res), flush=True)
        if args.report:
            import json

            with open(args.report, "w") as f:
                json.dump([r.as_dict() for r in results], f, indent=1)
    if len(results) > 1:
        print(checks.summary(results), flush=True)
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    if not args.keep and failed == 0 and not args.work:
        shutil.rmtree(work_root, ignore_errors=True)
    else:
        print(f"live: logs and trees kept in {work_root}", flush=True)
    print(f"live: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
