"""One topology's deployment: the project rendered and merged, its services launched in their
namespaces, and what the checks need to find them (addresses, stores, roles)."""

import os
import signal
import time

import images
from netns import Network
from project import Project, endpoint_host_port
from runner import Orchestrator, Service
from util import get_json, http, log, wait_until


class Deployment:
    def __init__(self, ctx, stack, topology, work, tree_mutator=None):
        self.ctx = ctx
        self.stack_path = stack
        self.topology = topology
        self.work = work
        self.project = Project(work, stack, topology, ctx.otelplan, ctx.compose_bin, tree_mutator)
        self.net = Network(ctx.run_id)
        self.orch = None
        self.skipped = {}
        self.roles = {}
        self.extra_hosts = {}

    # -- bring up --------------------------------------------------------------------------------
    def up(self, timeout=420):
        model = self.project.prepare()
        services = model.get("services") or {}
        self.orch = Orchestrator(self.work, self.net, self.ctx.run_id)
        self.net.setup()
        collectors = self.ctx.collectors_for(self.project)
        self.ctx.app_venv(self.project.tree)
        imgs = images.Images(self.project, self.ctx.tools, collectors)
        # Which services run: everything but the UIs and the one-shots only they need.
        skip = {}
        for name, svc in services.items():
            repo = images.repo_of(svc.get("image") or "")
            if repo in ("docker.elastic.co/kibana/kibana", "grafana/grafana"):
                skip[name] = f"{repo}: not started (UI only)"
        changed = True
        while changed:
            changed = False
            for name, svc in services.items():
                if name in skip:
                    continue
                dependants = [n for n, s in services.items() if name in (s.get("depends_on") or {})]
                if (svc.get("restart") or "no") == "no" and dependants and all(d in skip for d in dependants):
                    skip[name] = "one-shot needed only by services that are not started"
                    changed = True
        self.skipped = skip
        for name in sorted(services):
            if name in skip:
                continue
            self.net.add(name)
        names = {}
        for name, svc in services.items():
            if name in skip:
                continue
            aliases = [name]
            if svc.get("container_name"):
                aliases.append(svc["container_name"])
            if svc.get("hostname"):
                aliases.append(svc["hostname"])
            for net in (svc.get("networks") or {}).values():
                aliases += (net or {}).get("aliases") or []
            names[name] = aliases
        self.externals = self._externals(names)
        for ext, (backend, cfg, host, port, scheme) in self.externals.items():
            self.net.add(ext)
            names[ext] = [ext, host]
        self.host_to_service = {a: n for n, aliases in names.items() for a in aliases}
        self.project.hosts_file = self.net.hosts_file(names)
        for name in sorted(services):
            if name in skip:
                continue
            try:
                launch = imgs.launch(name, services[name])
            except images.Skip as e:
                self.skipped[name] = str(e)
                continue
            self.roles[name] = launch.role
            self.orch.add(Service(self.orch, name, services[name], launch))
        for ext, (backend, cfg, host, port, scheme) in sorted(self.externals.items()):
            if scheme == "https":
                self.project.tls_cert(host)
        for ext, (backend, cfg, host, port, scheme) in sorted(self.externals.items()):
            try:
                launch = imgs.external(backend, cfg, host, port, scheme, scheme == "https")
            except images.Skip as e:
                self.skipped[ext] = str(e)
                continue
            self.roles[ext] = launch.role
            self.orch.add(Service(self.orch, ext, {"restart": "unless-stopped"}, launch))
        for name in list(self.orch.services):
            launch = self.orch.services[name].launch
            if launch.role == "collector" and self.project.ca_pem:
                launch.files["/etc/ssl/certs/ca-certificates.crt"] = (
                    open("/etc/ssl/certs/ca-certificates.crt").read() + self.project.ca_pem)
        for name, why in sorted(self.skipped.items()):
            log(f"skip {name}: {why}")
        self.orch.skipped = self.skipped
        self.orch.up(timeout)

    def _externals(self, names):
        """Backends the deployment reaches that the compose project does not run (an existing
        Elasticsearch, Jaeger...): run under their endpoint's host name, outside the project."""
        known = {a for aliases in names.values() for a in aliases}
        text = ""
        for sub in ("collector", "apm-server", "instrumentation"):
            d = os.path.join(self.project.tree, sub)
            for root, _, files in os.walk(d):
                for fn in files:
                    if fn.endswith((".yaml", ".yml", ".env")) and fn != "builder-config.yaml":
                        text += open(os.path.join(root, fn)).read()
        out = {}
        defaults = {"elasticsearch": 9200, "apm_server": 8200, "jaeger": 4317, "prometheus": 9090, "loki": 3100}
        for backend, cfg in (self.project.stack.get("backends") or {}).items():
            ep = (cfg or {}).get("endpoint")
            if not ep:
                continue
            scheme = ep.split("://", 1)[0] if "://" in ep else "http"
            host, port = endpoint_host_port(ep, defaults.get(backend, 80))
            if host in known or host not in text:
                continue
            out[f"ext-{backend.replace('_', '-')}"] = (backend, cfg, host, port, scheme)
        return out

    def down(self):
        if self.orch:
            self.orch.down()
        self.net.teardown()

    # -- lookups ---------------------------------------------------------------------------------
    def addr(self, name):
        return self.net.address(name)

    def service_for_host(self, host):
        return self.host_to_service.get(host)

    def services_with_role(self, role):
        return sorted(n for n, r in self.roles.items() if r == role)

    def svc(self, name):
        return self.orch.services[name]

    def stack_services(self, kind=None):
        out = {}
        for name, s in (self.project.stack.get("services") or {}).items():
            if kind is None or s.get("kind") == kind:
                out[name] = s
        return out

    def collectors(self):
        return self.services_with_role("collector")

    def gateway(self):
        for n in self.collectors():
            if n.endswith("-gateway"):
                return n
        return None

    def file_agents(self):
        return [n for n in self.collectors() if "-agent-" in n]

    def stores(self):
        return {n: self.svc(n).launch.store for n in self.services_with_role("store")}

    def health_ok(self, name, port=13133):
        status, _ = http("GET", f"http://{self.addr(name)}:{port}/", timeout=3)
        return status == 200
