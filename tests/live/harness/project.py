"""Render a stack, write the stub team project around the tree, and let docker-compose merge it.

The work directory of one topology looks like a team's repository:

    WORK/compose.yaml          the team's compose file (from tests/live/team/services.yaml)
    WORK/.env                  the tree's .env.example filled with generated test secrets
    WORK/otelplan-out/         the rendered tree, never edited
    WORK/team/                 the team's app and init scripts (copied from tests/live/team/)

`docker-compose -f compose.yaml -f otelplan-out/compose/<stack>.override.yaml config` (the real
compose, from the checkers' virtualenv) merges it exactly as `up` would; the harness runs that
merged model.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess

import yaml

from util import log

HERE = os.path.dirname(os.path.abspath(__file__))
LIVE = os.path.dirname(HERE)
TEAM = os.path.join(LIVE, "team")
SECRET_PREFIX = "lvS3cr3t"


class RenderError(Exception):
    pass


def render(otelplan, stack, topology, out):
    r = subprocess.run([otelplan, "render", stack, "-o", out, "--topology", topology, "--force"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RenderError(r.stderr.strip() or r.stdout.strip())
    return r.stderr


def stack_services(stack_path):
    with open(stack_path) as f:
        return yaml.safe_load(f)


class Project:
    def __init__(self, work, stack_path, topology, otelplan, compose_bin, tree_mutator=None):
        self.work = work
        self.stack_path = stack_path
        self.stack = stack_services(stack_path)
        self.name = self.stack["name"]
        self.topology = topology
        self.tree = os.path.join(work, "otelplan-out")
        self.otelplan = otelplan
        self.compose_bin = compose_bin
        self.secrets = {}
        self.generated_services = set()
        self.hosts_file = ""
        self.volume_dirs = {}
        self.team_services = []
        self.tree_mutator = tree_mutator
        self.ca_pem = ""
        self.certs = {}

    # -- render and write the team project -------------------------------------------------------
    def prepare(self):
        os.makedirs(self.work, exist_ok=True)
        render(self.otelplan, self.stack_path, self.topology, self.tree)
        if self.tree_mutator:
            self.tree_mutator(self.tree)
        self.manifest_hashes = self._hashes()
        with open(os.path.join(self.tree, "compose", "docker-compose.yaml")) as f:
            self.generated = yaml.safe_load(f)
        self.generated_services = set((self.generated.get("services") or {}).keys())
        with open(self.override_path()) as f:
            self.overlay = yaml.safe_load(f) or {}
        shutil.copytree(TEAM, os.path.join(self.work, "team"), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "services.yaml"))
        self._write_env()
        self._write_team_compose()
        self.model = self._compose_config()
        return self.model

    def override_path(self):
        d = os.path.join(self.tree, "compose")
        found = sorted(f for f in os.listdir(d) if f.endswith(".override.yaml"))
        return os.path.join(d, found[0] if found else "dkp.override.yaml")

    def _hashes(self):
        out = {}
        for root, _, files in os.walk(self.tree):
            for fn in files:
                p = os.path.join(root, fn)
                out[os.path.relpath(p, self.tree)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        return out

    def tree_unchanged(self):
        """The emitted files must never be edited: compare with their hashes after the run."""
        now = self._hashes()
        return [p for p, h in self.manifest_hashes.items() if now.get(p) != h]

    def _secret(self, name):
        if name not in self.secrets:
            value = f"{SECRET_PREFIX}-{name.lower().replace('_', '-')}-{secrets.token_hex(6)}"
            if "API_KEY" in name:
                # An encoded API key, as Elasticsearch hands them out: base64 of id:key.
                import base64

                value = base64.b64encode(f"lvid{secrets.token_hex(3)}:{value}".encode()).decode()
            self.secrets[name] = value
        return self.secrets[name]

    def secret_for(self, ref):
        """`${NAME}` of the stack -> the generated value."""
        if not ref:
            return None
        m = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", str(ref))
        return self._secret(m.group(1)) if m else str(ref)

    def tls_cert(self, host):
        """A certificate for host signed by the run's test CA (created on first use)."""
        d = os.path.join(self.work, "tls")
        os.makedirs(d, exist_ok=True)
        ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
        if not os.path.exists(ca_crt):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
                            "-days", "2", "-subj", "/CN=otelplan live test CA"], check=True, capture_output=True)
            self.ca_pem = open(ca_crt).read()
        if host not in self.certs:
            key, csr, crt = (os.path.join(d, f"{host}.{x}") for x in ("key", "csr", "crt"))
            ext = os.path.join(d, f"{host}.ext")
            open(ext, "w").write(f"subjectAltName=DNS:{host}\n")
            subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                            "-subj", f"/CN={host}"], check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                            "-out", crt, "-days", "2", "-extfile", ext], check=True, capture_output=True)
            os.chmod(key, 0o644)
            self.certs[host] = (crt, key)
        return self.certs[host]

    def secret_values(self):
        return sorted(self.secrets.values())

    def _write_env(self):
        names = []
        with open(os.path.join(self.tree, "compose", ".env.example")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    names.append(line.split("=", 1)[0])
        self.env_names = names
        lines = []
        for n in names:
            lines.append(f"{n}={self._secret(n)}")
        for n in ("LIVE_PG_SUPERUSER_PASSWORD", "LIVE_APP_DB_PASSWORD", "LIVE_SEARCH_ELASTIC_PASSWORD"):
            lines.append(f"{n}={self._secret(n)}")
        # Secrets the stack references but .env.example does not list (a defect when compose needs
        # them) are not added: compose fails or passes an empty value, as it would for a team.
        with open(os.path.join(self.work, ".env"), "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- the team's compose file -----------------------------------------------------------------
    def _write_team_compose(self):
        with open(os.path.join(TEAM, "services.yaml")) as f:
            raw = f.read()
        services = {}
        volumes = {}
        datastores = {}
        for name, svc in (self.stack.get("services") or {}).items():
            kind = svc.get("kind")
            values = {"name": name}
            if kind == "django":
                pass
            elif kind in ("postgres", "redis", "elasticsearch"):
                host, port = endpoint_host_port(svc["endpoint"], {"postgres": 5432, "redis": 6379, "elasticsearch": 9200}[kind])
                values.update(host=host, port=str(port))
            elif kind == "kafka":
                host, port = endpoint_host_port(svc["brokers"][0], 9092)
                values.update(host=host, port=str(port))
            else:
                continue
            values["username"] = svc.get("username") or ""
            values["password"] = svc.get("password") or ""
            values["database"] = (svc.get("databases") or [name])[0]
            logs = svc.get("logs")
            values["logdir"] = os.path.dirname(logs["path"]) if isinstance(logs, dict) and logs.get("path") else ""
            values["cliauth"] = ""
            if kind == "redis" and svc.get("password"):
                values["cliauth"] = "-a " + svc["password"]
            # The team's cluster has security on when the stack gives credentials for it.
            values["security"] = "true" if svc.get("username") else "false"
            # The kind's block as text, so that placeholders inside flow sequences work.
            block_text = _raw_block(raw, kind)
            block = yaml.safe_load(fill(block_text, values))[kind]
            logging_args = block.pop("x-logging-args", [])
            auth_args = block.pop("x-auth-args", [])
            acl_args = block.pop("x-acl-args", [])
            if values["logdir"]:
                block["command"] = block["command"] + logging_args
            if kind == "redis" and svc.get("password"):
                block["command"] = block["command"] + (acl_args if svc.get("username") else auth_args)
            services[name] = block
            if kind != "django":
                datastores[name] = (kind, values)
            for v in block.get("volumes") or []:
                src = v.split(":")[0] if isinstance(v, str) else v.get("source")
                if src and not src.startswith(".") and not src.startswith("/"):
                    volumes[src] = {}
            if kind == "elasticsearch" and not svc.get("username"):
                block["environment"].pop("LIVE_FILE_USERS", None)
            if values.get("host") and values["host"] != name:
                # The endpoint's host names the service on the project network.
                block["networks"] = {"default": {"aliases": [values["host"]]}}
        # Django services reach the datastores by the stack's endpoints.
        for name, svc in (self.stack.get("services") or {}).items():
            if svc.get("kind") != "django":
                continue
            env = services[name].setdefault("environment", {})
            deps = {}
            for ds, (kind, values) in datastores.items():
                key = {"postgres": "LIVE_POSTGRES", "redis": "LIVE_REDIS", "elasticsearch": "LIVE_SEARCH",
                       "kafka": "LIVE_KAFKA"}[kind]
                if key in env:
                    continue
                if kind == "postgres":
                    env[key] = f"postgresql://dkp_app:${{LIVE_APP_DB_PASSWORD}}@{values['host']}:{values['port']}/{values['database']}"
                elif kind == "redis":
                    pw = self.stack["services"][ds].get("password")
                    env[key] = f"redis://:{pw}@{values['host']}:{values['port']}/0" if pw else f"redis://{values['host']}:{values['port']}/0"
                elif kind == "elasticsearch":
                    env[key] = f"http://{values['host']}:{values['port']}"
                    env["LIVE_SEARCH_PASSWORD"] = "${LIVE_SEARCH_ELASTIC_PASSWORD}"
                else:
                    env[key] = f"{values['host']}:{values['port']}"
                deps[ds] = {"condition": "service_healthy" if "healthcheck" in services[ds] else "service_started"}
            if deps:
                services[name]["depends_on"] = deps
        self.team_services = sorted(services)
        team = {"include": [{"path": "otelplan-out/compose/docker-compose.yaml"}], "services": services}
        if volumes:
            team["volumes"] = volumes
        with open(os.path.join(self.work, "compose.yaml"), "w") as f:
            f.write("# The stub team project of the live harness (tests/live/team/services.yaml).\n")
            yaml.safe_dump(team, f, sort_keys=False, width=1000)

    def _compose_config(self):
        cmd = [self.compose_bin, "-p", f"{self.name}-live", "-f", "compose.yaml", "-f",
               os.path.relpath(self.override_path(), self.work), "config", "--format", "json"]
        r = subprocess.run(cmd, cwd=self.work, capture_output=True, text=True, timeout=60,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")})
        if r.returncode != 0:
            raise RenderError(f"docker-compose config failed: {r.stderr.strip()}")
        model = json.loads(r.stdout)
        with open(os.path.join(self.work, "compose.merged.json"), "w") as f:
            json.dump(model, f, indent=1)
        return model

    # -- volumes ---------------------------------------------------------------------------------
    def mount_for(self, service, v, image_dirs):
        """A compose volume entry -> a bind mount of a host path at its container path."""
        kind = v.get("type")
        target = v["target"]
        ro = bool(v.get("read_only"))
        if kind == "bind":
            src = v["source"]
            if src == "/var/lib/docker/containers" or src.startswith("/var/lib/docker/containers/"):
                # The engine's container directory: the harness's own (json-file logs of its services).
                src = os.path.join(self.work, "docker", "containers") + src[len("/var/lib/docker/containers"):]
            elif not src.startswith(self.work) and not os.path.exists(src):
                # Compose would create a missing host path; the harness creates it in its work directory.
                src = os.path.join(self.work, "hostpaths", src.lstrip("/"))
            if not os.path.exists(src):
                if (v.get("bind") or {}).get("create_host_path", True):
                    os.makedirs(src, exist_ok=True)
            return {"source": src, "target": target, "kind": "file" if os.path.isfile(src) else "dir", "read_only": ro}
        if kind == "volume":
            name = v.get("source")
            if not name:  # anonymous volume
                name = f"anon-{service}-{target.strip('/').replace('/', '-')}"
            path = self.volume_dirs.get(name)
            if path is None:
                path = os.path.join(self.work, "volumes", name)
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o755)
                self.volume_dirs[name] = path
                # A new named volume takes the owner and mode of the image's directory.
                if target in image_dirs:
                    uid, gid, mode = image_dirs[target]
                    os.chown(path, uid, gid)
                    os.chmod(path, mode)
            return {"source": path, "target": target, "kind": "dir", "read_only": ro}
        if kind == "tmpfs":
            path = os.path.join(self.work, "volumes", f"tmpfs-{service}-{target.strip('/').replace('/', '-')}")
            os.makedirs(path, exist_ok=True)
            return {"source": path, "target": target, "kind": "dir", "read_only": False}
        raise ValueError(f"{service}: volume type {kind} not supported")

    def volume_path(self, name):
        return self.volume_dirs.get(name)


def endpoint_host_port(endpoint, default_port):
    e = endpoint
    scheme_port = default_port
    if "://" in e:
        scheme, e = e.split("://", 1)
        scheme_port = {"http": 80, "https": 443}.get(scheme, default_port) if default_port is None else default_port
    e = e.split("/", 1)[0]
    if e.startswith("["):
        host, _, rest = e[1:].partition("]")
        port = rest.lstrip(":") or scheme_port
    elif ":" in e:
        host, port = e.rsplit(":", 1)
    else:
        host, port = e, scheme_port
    return host, int(port)


def fill(text, values):
    return re.sub(r"@([a-z]+)@", lambda m: values[m.group(1)], text).replace("@@", "@")


def _raw_block(raw, key):
    """The text of one top-level block of services.yaml (keeps flow sequences intact)."""
    lines = raw.splitlines()
    out, inside = [], False
    for line in lines:
        if re.match(rf"^{re.escape(key)}:\s*$", line):
            inside = True
            out.append(line)
            continue
        if inside:
            if line and not line.startswith(" ") and not line.startswith("#"):
                break
            out.append(line)
    return "\n".join(out) + "\n"
