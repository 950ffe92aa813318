"""Run compose services as processes: one network namespace, one private root, one memory cgroup
each; depends_on order, healthchecks, restart policies, stop and kill.

A service's process is ``ip netns exec lv-<svc> unshare --uts -- python enter.py SPEC`` which
execs, through ``setpriv``, into the program its image maps to (images.py). Its PID is therefore
the program's PID; everything it forks stays in its cgroup, which is how it is killed.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

from util import log, parse_bytes, parse_duration

HERE = os.path.dirname(os.path.abspath(__file__))
ENTER = os.path.join(HERE, "enter.py")
CGROOT = "/sys/fs/cgroup/memory"


class Service:
    def __init__(self, orch, name, model, launch):
        self.orch = orch
        self.name = name
        self.model = model  # the merged compose model of the service
        self.launch = launch  # images.Launch
        self.proc = None
        self.logf = None
        self.starts = 0
        self.unexpected_exits = []  # (time, returncode)
        self.expect_exit = False
        self.exit_code = None
        self.stopped_by_harness = False
        self.peak_rss = 0
        self.cgroup = None
        self.started_at = None
        self.healthy = False
        self.lock = threading.Lock()

    # -- properties from the model --------------------------------------------------------------
    @property
    def restart_policy(self):
        return self.model.get("restart") or "no"

    @property
    def one_shot(self):
        return self.restart_policy == "no" and self.launch.one_shot

    @property
    def memory_limit(self):
        lim = ((self.model.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        return parse_bytes(lim.get("memory")) if lim.get("memory") else None

    def log_path(self):
        return os.path.join(self.orch.work, "logs", f"{self.name}.log")

    # -- process ---------------------------------------------------------------------------------
    def start(self):
        with self.lock:
            self._start_locked()

    def _start_locked(self):
        o = self.orch
        # A container's processes all end with it: kill what a previous run of it left behind.
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        ns = o.net.netns_name(self.name)
        scratch = os.path.join(o.work, "scratch", self.name)
        os.makedirs(scratch, exist_ok=True)
        if self.cgroup is None:
            self.cgroup = os.path.join(o.cgroup_root, self.name) if o.cgroup_root else None
            if self.cgroup:
                os.makedirs(self.cgroup, exist_ok=True)
                if self.memory_limit:
                    with open(os.path.join(self.cgroup, "memory.limit_in_bytes"), "w") as f:
                        f.write(str(self.memory_limit))
        spec = self.launch.spec(scratch, self.cgroup)
        spec_path = os.path.join(o.work, "specs", f"{self.name}.{self.starts}.json")
        os.makedirs(os.path.dirname(spec_path), exist_ok=True)
        with open(spec_path, "w") as f:
            json.dump(spec, f, indent=1)
        self.logf = open(self.log_path(), "ab")
        self.logf.write(f"==== start {self.starts + 1}: {shlex.join(spec['argv'])}\n".encode())
        self.logf.flush()
        argv = ["ip", "netns", "exec", ns, "unshare", "--uts", "--", sys.executable, ENTER, spec_path]
        cgroup = self.cgroup

        def join_cgroup():
            # Before `ip netns exec`, which mounts a sysfs of its own without the cgroup hierarchy.
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        jsonlog = self.json_file_log()
        if jsonlog is None:
            self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=join_cgroup)
        else:
            # Docker's json-file logging driver: each line of the container's stdout and stderr as a
            # JSON object in /var/lib/docker/containers/<id>/<id>-json.log (here: the run's engine directory).
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=join_cgroup)
            for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
                threading.Thread(target=self._pump, args=(pipe, stream, jsonlog), daemon=True).start()
        self.starts += 1
        self.started_at = time.monotonic()
        self.expect_exit = False
        self.stopped_by_harness = False
        self.exit_code = None
        self.healthy = False

    def json_file_log(self):
        """The json-file log of this container, or None when its logging driver is another one."""
        logging = self.model.get("logging") or {}
        if logging.get("driver", "json-file") != "json-file" or not self.orch.engine_dir:
            return None
        if not hasattr(self, "container_id"):
            import secrets

            self.container_id = secrets.token_hex(32)
            self.json_lock = threading.Lock()
            labels = [x.strip() for x in str((logging.get("options") or {}).get("labels", "")).split(",") if x.strip()]
            model_labels = self.model.get("labels") or {}
            if isinstance(model_labels, list):
                model_labels = dict(x.split("=", 1) for x in model_labels)
            self.json_attrs = {k: model_labels[k] for k in labels if k in model_labels}
        d = os.path.join(self.orch.engine_dir, self.container_id)
        os.makedirs(d, mode=0o700, exist_ok=True)
        return os.path.join(d, f"{self.container_id}-json.log")

    def _pump(self, pipe, stream, path):
        from datetime import datetime, timezone

        with open(path, "ab", buffering=0) as out:
            for raw in iter(pipe.readline, b""):
                with self.json_lock:
                    self.logf.write(raw)
                    self.logf.flush()
                    rec = {"log": raw.decode("utf-8", errors="replace"), "stream": stream}
                    if self.json_attrs:
                        rec["attrs"] = self.json_attrs
                    rec["time"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    out.write((json.dumps(rec, separators=(",", ":")) + "\n").encode())
                    self.json_lines = getattr(self, "json_lines", 0) + 1
        pipe.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        if self.cgroup and os.path.exists(os.path.join(self.cgroup, "cgroup.procs")):
            with open(os.path.join(self.cgroup, "cgroup.procs")) as f:
                return [int(p) for p in f.read().split()]
        return [self.proc.pid] if self.running() else []

    def signal_all(self, sig):
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self, timeout=10):
        """docker stop: SIGTERM (to the main process), SIGKILL after timeout."""
        with self.lock:
            self.expect_exit = True
            self.stopped_by_harness = True
            if self.proc is None:
                return
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.signal_all(signal.SIGKILL)
                    try:
                        self.proc.wait(5)
                    except subprocess.TimeoutExpired:
                        pass
            self._reap_rest()

    def kill(self):
        """docker kill: SIGKILL to everything in the container."""
        with self.lock:
            self.expect_exit = True
            self.stopped_by_harness = True
            self.signal_all(signal.SIGKILL)
            if self.proc is not None:
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
            self._reap_rest()

    def _reap_rest(self):
        deadline = time.monotonic() + 5
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self.sample_memory()

    def sample_memory(self):
        """Resident memory of the container that counts against its limit: the anonymous and shared
        memory of its processes (RssAnon + RssShmem). File-backed pages (the collector binary's text,
        shared by every collector) are left out; the kernel charges them once, to whoever read them first."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith(("RssAnon:", "RssShmem:")):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        self.peak_rss = max(self.peak_rss, total)
        return total

    def cgroup_peak(self):
        if not self.cgroup:
            return None
        try:
            with open(os.path.join(self.cgroup, "memory.max_usage_in_bytes")) as f:
                return int(f.read())
        except OSError:
            return None

    def oom_kills(self):
        if not self.cgroup:
            return 0
        try:
            with open(os.path.join(self.cgroup, "memory.oom_control")) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    # -- healthcheck -----------------------------------------------------------------------------
    def healthcheck(self):
        hc = self.model.get("healthcheck")
        if not hc or hc.get("disable") or not hc.get("test"):
            return None
        test = hc["test"]
        if test[0] == "NONE":
            return None
        if test[0] == "CMD-SHELL":
            cmd = ["/bin/sh", "-c", unescape(test[1])]
        elif test[0] == "CMD":
            cmd = [unescape(t) for t in test[1:]]
        else:
            cmd = ["/bin/sh", "-c", unescape(" ".join(test))]
        return cmd, parse_duration(hc.get("timeout"), 30)

    def check_health(self):
        """Run the service's healthcheck inside its namespaces, as docker would; True when it passes."""
        if not self.running():
            return False
        hc = self.healthcheck()
        if hc is None:
            return True
        cmd, timeout = hc
        env = self.launch.env
        user = []
        if self.launch.user is not None:
            user = ["setpriv", "--reuid", str(self.launch.user), "--regid", str(self.launch.gid), "--clear-groups"]
        argv = ["nsenter", "-t", str(self.proc.pid), "-n", "-m", "-u", "-r", "-w", "--", *user, *cmd]
        try:
            r = subprocess.run(argv, env=env, capture_output=True, timeout=min(timeout, 30))
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0


def unescape(s):
    """compose config prints a literal `$` as `$$`; the engine receives `$`."""
    return s.replace("$$", "$") if isinstance(s, str) else s


class Orchestrator:
    def __init__(self, work, net, run_id):
        self.work = work
        self.net = net
        self.services = {}
        self.order = []
        self.skipped = {}  # name -> reason
        self.cgroup_root = None
        self.monitor_stop = threading.Event()
        self.monitor = None
        self.run_id = run_id
        os.makedirs(os.path.join(work, "logs"), exist_ok=True)
        # What the Docker engine keeps in /var/lib/docker/containers (json-file logs).
        self.engine_dir = os.path.join(work, "docker", "containers")
        os.makedirs(self.engine_dir, mode=0o700, exist_ok=True)
        if os.path.isdir(CGROOT) and os.access(CGROOT, os.W_OK):
            root = os.path.join(CGROOT, f"otelplan-live-{run_id}")
            try:
                os.makedirs(root, exist_ok=True)
                self.cgroup_root = root
            except OSError:
                self.cgroup_root = None

    def add(self, service):
        self.services[service.name] = service

    def start_order(self):
        """Services in depends_on order (a topological sort, stable by name)."""
        done, order = set(), []
        names = sorted(self.services)

        def visit(n, stack):
            if n in done:
                return
            if n in stack:
                raise RuntimeError(f"depends_on cycle through {n}")
            for dep in sorted((self.services[n].model.get("depends_on") or {})):
                if dep in self.services:
                    visit(dep, stack | {n})
            done.add(n)
            order.append(n)

        for n in names:
            visit(n, set())
        return order

    def deps_ready(self, svc, deadline):
        """True when every dependency's condition holds (compose starts a service then)."""
        for dep, cond in sorted((svc.model.get("depends_on") or {}).items()):
            if dep in self.skipped or dep not in self.services:
                continue
            d = self.services[dep]
            condition = (cond or {}).get("condition", "service_started")
            if d.proc is None:
                return False
            if condition == "service_completed_successfully":
                if d.proc.poll() is None:
                    return False
                if d.proc.returncode != 0:
                    raise RuntimeError(f"{svc.name}: dependency {dep} exited {d.proc.returncode} (see logs/{dep}.log)")
            elif condition == "service_healthy":
                if d.healthcheck() is None:
                    raise RuntimeError(f"{svc.name}: dependency {dep} has no healthcheck (compose refuses this)")
                if not d.healthy:
                    return False
            elif not (d.running() or d.proc.returncode == 0):
                return False
        return True

    def up(self, timeout=300):
        """Start services as their dependencies allow, several at a time, as compose does."""
        deadline = time.monotonic() + timeout
        self.order = self.start_order()
        pending = list(self.order)
        self.monitor = threading.Thread(target=self._monitor, daemon=True)
        self.monitor.start()
        last_health = {}
        while pending:
            for name in list(pending):
                svc = self.services[name]
                if self.deps_ready(svc, deadline):
                    log(f"start {name} ({svc.launch.what})")
                    svc.start()
                    pending.remove(name)
            # healthchecks of started services that something waits on
            for svc in self.services.values():
                if svc.proc is not None and not svc.healthy and svc.healthcheck() is not None and svc.running():
                    if time.monotonic() - last_health.get(svc.name, 0) >= 2:
                        last_health[svc.name] = time.monotonic()
                        if svc.check_health():
                            svc.healthy = True
                            log(f"{svc.name} is healthy")
            if pending and time.monotonic() > deadline:
                waiting = ", ".join(f"{n} (on {', '.join(sorted((self.services[n].model.get('depends_on') or {})))})"
                                    for n in pending)
                raise RuntimeError(f"timed out starting: {waiting}")
            if pending:
                time.sleep(0.5)

    def wait_healthy(self, timeout):
        """Wait until every started service with a healthcheck passes it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            bad = [s.name for s in self.services.values()
                   if s.running() and s.healthcheck() is not None and not s.healthy and not s.check_health()]
            for s in self.services.values():
                if s.name not in bad and s.healthcheck() is not None and s.running():
                    s.healthy = True
            if not bad:
                return []
            time.sleep(2)
        return bad

    def _monitor(self):
        """Restart policies (docker restarts a container that exits unless it was stopped), memory."""
        last_mem = 0.0
        while not self.monitor_stop.is_set():
            now = time.monotonic()
            for svc in list(self.services.values()):
                if svc.proc is None:
                    continue
                rc = svc.proc.poll()
                if rc is None:
                    continue
                with svc.lock:
                    if svc.proc.poll() is None or svc.exit_code is not None:
                        continue
                    svc.exit_code = rc
                    if svc.expect_exit:
                        continue
                    if svc.one_shot:
                        log(f"{svc.name} (one-shot) exited {rc}")
                        continue
                    svc.unexpected_exits.append((now, rc))
                    log(f"{svc.name} exited unexpectedly with {rc} (see logs/{svc.name}.log)")
                    policy = svc.restart_policy
                    if policy in ("always", "unless-stopped") or (policy.startswith("on-failure") and rc != 0):
                        if len(svc.unexpected_exits) <= 10:
                            time.sleep(0.2 * len(svc.unexpected_exits))
                            log(f"restart {svc.name} (restart: {policy})")
                            svc._start_locked()
            if now - last_mem >= 0.5:
                last_mem = now
                for svc in list(self.services.values()):
                    if svc.running():
                        svc.sample_memory()
            self.monitor_stop.wait(0.25)

    def down(self):
        self.monitor_stop.set()
        if self.monitor:
            self.monitor.join(5)
        for name in reversed(self.order or list(self.services)):
            svc = self.services[name]
            if svc.running():
                try:
                    svc.stop(timeout=8)
                except Exception as e:  # noqa: BLE001 - teardown goes on
                    log(f"stop {name}: {e}")
        for svc in self.services.values():
            svc.signal_all(signal.SIGKILL)
            if svc.logf:
                svc.logf.close()
        if self.cgroup_root:
            for svc in self.services.values():
                if svc.cgroup and os.path.isdir(svc.cgroup):
                    for _ in range(50):
                        try:
                            os.rmdir(svc.cgroup)
                            break
                        except OSError:
                            svc.signal_all(signal.SIGKILL)
                            time.sleep(0.1)
            try:
                os.rmdir(self.cgroup_root)
            except OSError:
                pass
