"""What runs for each image: the image's program, user, environment and paths, emulated.

The harness has no container engine. For each compose service it looks up the image's
repository here and builds a Launch: the program (a real one built or installed by
tests/live/build.sh and tests/live/tools/build-tools.sh, or a stand-in from tests/live/standins),
the arguments the image's entrypoint would run with the service's `command`, the image's user and
environment, and the directories the image has (so that a named volume mounted there starts
with the image's owner, as Docker initialises it). These facts are the harness's own, taken from
the upstream Dockerfiles, not from otelplan's tables: a wrong assumption in otelplan shows up.
"""

import json
import os
import re
import shlex

import yaml

from util import log

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "images")
# What services are started from by host path: the repository (entrypoints, the team's app, the
# TLS proxy) and the tools' cache.
HOST_PATHS = sorted({
    os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
    os.path.realpath(os.environ.get("OTELPLAN_LIVE_CACHE", os.path.expanduser("~/.cache/otelplan-live"))),
})
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Users the images define (uid, gid), added to the container's /etc/passwd.
IMAGE_USERS = {
    "otel": (10001, 10001),
    "apm-server": (1000, 1000),
    "elasticsearch": (1000, 0),
    "postgres": (999, 999),
    "redis": (999, 999),
    "appuser": (1000, 1000),
    "jaeger": (10001, 10001),
    "loki": (10001, 10001),
    "nobody": (65534, 65534),
}


def repo_of(image):
    """docker.elastic.co/apm/apm-server:9.5.2 -> docker.elastic.co/apm/apm-server"""
    name = image.split("@")[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


def tag_of(image):
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class Skip(Exception):
    """The image is not run (Kibana, Grafana); the message says why."""


class Launch:
    def __init__(self, what, argv, env, user=None, gid=None, groups=(), cwd="/", one_shot=False):
        self.what = what
        self.argv = list(argv)
        self.env = dict(env)
        self.user = user
        self.gid = gid if gid is not None else user
        self.groups = list(groups)
        self.cwd = cwd
        self.one_shot = one_shot
        self.read_only = False
        self.drop_caps = False
        self.no_new_privs = False
        self.mounts = []  # dicts: source, target, kind, read_only
        self.files = {}
        self.image_dirs = {"/root": (0, 0, 0o711)}  # host binaries under /root/.cache stay reachable
        self.hosts = ""
        self.passwd_users = {}
        self.role = None  # collector, store, datastore, app, oneshot
        self.store = None  # dict for stores: kind, admin port...

    def spec(self, scratch, cgroup):
        files = dict(self.files)
        files["/etc/hosts"] = self.hosts
        files.update(_passwd(self.passwd_users))
        return {
            "scratch": scratch,
            "cgroup": cgroup,
            "host_paths": HOST_PATHS,
            "mounts": self.mounts,
            "files": files,
            "image_dirs": {k: list(v) for k, v in self.image_dirs.items()},
            "read_only": self.read_only,
            "user": self.user,
            "gid": self.gid,
            "groups": self.groups,
            "drop_caps": self.drop_caps,
            "no_new_privs": self.no_new_privs,
            "env": self.env,
            "argv": self.argv,
            "cwd": self.cwd,
        }


def _passwd(extra):
    with open("/etc/passwd") as f:
        passwd = [line.rstrip("\n") for line in f if line.strip()]
    with open("/etc/group") as f:
        group = [line.rstrip("\n") for line in f if line.strip()]
    for name, (uid, gid) in extra.items():
        passwd = [p for p in passwd if p.split(":")[0] != name and p.split(":")[2] != str(uid)]
        passwd.append(f"{name}:x:{uid}:{gid}::/home/{name}:/bin/sh")
        if gid != 0:
            group = [g for g in group if g.split(":")[0] != name and g.split(":")[2] != str(gid)]
            group.append(f"{name}:x:{gid}:")
    return {"/etc/passwd": "\n".join(passwd) + "\n", "/etc/group": "\n".join(group) + "\n"}


def unescape(s):
    return s.replace("$$", "$") if isinstance(s, str) else s


def resolve_user(spec, default):
    """compose `user:` ("uid", "uid:gid", or an image user's name) -> (uid, gid)."""
    if spec is None or spec == "":
        return default
    s = str(spec)
    u, _, g = s.partition(":")
    if u.isdigit():
        uid = int(u)
        gid = int(g) if g.isdigit() else (default[1] if default and default[0] == uid else uid)
        return uid, gid
    if u in IMAGE_USERS:
        uid, gid = IMAGE_USERS[u]
        return uid, int(g) if g.isdigit() else gid
    if u == "root":
        return 0, 0
    raise ValueError(f"unknown user {spec!r}")


class Images:
    def __init__(self, project, tools, collectors):
        self.project = project  # project.Project
        self.tools = tools  # NAME -> path from build-tools.sh
        self.collectors = collectors  # version -> collector binary

    def launch(self, name, model):
        image = model.get("image") or ""
        repo = repo_of(image)
        env = {"PATH": BASE_PATH, "HOSTNAME": name}
        for k, v in (model.get("environment") or {}).items():
            env[k] = "" if v is None else unescape(str(v))
        command = [unescape(c) for c in (model.get("command") or [])]
        observability = name in self.project.generated_services
        if repo == "otel/opentelemetry-collector-contrib":
            l = self._collector(name, model, image, env, command)
        elif repo == "docker.elastic.co/apm/apm-server":
            l = self._apm(name, model, env)
        elif repo == "docker.elastic.co/elasticsearch/elasticsearch" and command:
            l = self._shell_oneshot(name, model, env, command, (1000, 0), "elasticsearch image, command run with the host's bash and curl")
        elif repo == "docker.elastic.co/elasticsearch/elasticsearch" and observability:
            l = self._es_standin(name, model, env)
        elif repo == "docker.elastic.co/elasticsearch/elasticsearch":
            l = self._es_real(name, model, env)
        elif repo in ("jaegertracing/jaeger", "jaegertracing/all-in-one"):
            l = self._jaeger(name, model, env, command)
        elif repo == "prom/prometheus":
            l = self._prometheus(name, model, env, command)
        elif repo == "grafana/loki":
            l = self._loki(name, model, env, command)
        elif repo == "busybox":
            l = self._shell_oneshot(name, model, env, command, (0, 0), "busybox image, `sh -c` run with the host's sh")
        elif repo in ("docker.elastic.co/kibana/kibana", "grafana/grafana"):
            raise Skip(f"{repo} is not started (UI only)")
        elif repo == "postgres":
            l = self._postgres(name, model, env, command)
        elif repo == "redis":
            l = self._redis(name, model, env, command)
        elif repo == "apache/kafka":
            l = self._kafka(name, model, env, command)
        elif repo == "otelplan-live/django":
            l = self._django(name, model, env, command)
        elif repo in ("otel/opentelemetry-operator/autoinstrumentation-java",
                      "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java"):
            l = self._javaagent_copy(name, model, env, command)
        else:
            raise Skip(f"no program for image {image}")
        self._common(l, name, model)
        return l

    # -- compose settings every service gets -----------------------------------------------------
    def _common(self, l, name, model):
        if model.get("user") not in (None, ""):
            l.user, l.gid = resolve_user(model.get("user"), (l.user, l.gid))
        for g in model.get("group_add") or []:
            l.groups.append(int(g) if str(g).isdigit() else IMAGE_USERS[str(g)][1])
        if l.user is not None and l.gid is not None and l.groups:
            l.groups = sorted(set(l.groups))
        caps = [c.upper() for c in model.get("cap_drop") or []]
        l.drop_caps = "ALL" in caps
        l.no_new_privs = any(str(o).replace("=", ":") in ("no-new-privileges:true", "no-new-privileges")
                             for o in model.get("security_opt") or [])
        l.read_only = bool(model.get("read_only"))
        if model.get("working_dir"):
            l.cwd = model["working_dir"]
        for v in model.get("volumes") or []:
            l.mounts.append(self.project.mount_for(name, v, l.image_dirs))
        l.hosts = self.project.hosts_file
        for uname in ("otel", "apm-server", "elasticsearch", "postgres", "redis", "appuser", "loki"):
            l.passwd_users[uname] = IMAGE_USERS[uname]

    # -- observability images --------------------------------------------------------------------
    def _collector(self, name, model, image, env, command):
        version = tag_of(image)
        binary = self.collectors.get(version)
        if not binary:
            raise RuntimeError(f"{name}: no collector built for {image}")
        entry = [unescape(e) for e in (model.get("entrypoint") or ["/otelcol-contrib"])]
        args = command or ["--config=/etc/otelcol-contrib/config.yaml"]
        l = Launch(f"collector {version} ({os.path.basename(binary)})", entry + args, env, 10001, 10001)
        l.mounts.append({"source": binary, "target": "/otelcol-contrib", "kind": "file", "read_only": True})
        l.role = "collector"
        return l

    def _config_file(self, model, target):
        for v in model.get("volumes") or []:
            if v.get("target") == target and v.get("type") == "bind":
                return v["source"]
        return None

    def _apm(self, name, model, env):
        path = self._config_file(model, "/usr/share/apm-server/apm-server.yml")
        cfg = {}
        if path:
            cfg = yaml.safe_load(libbeat_expand(open(path).read(), env)) or {}
        # apm-server.yml may use dotted keys or nested maps, as libbeat accepts both.
        flat = flatten(cfg)
        host = str(flat.get("apm-server.host", "localhost:8200"))
        token = str(flat.get("apm-server.auth.secret_token", "") or "")
        argv = [self.tools["STANDINS"], "apm", "--listen", host, "--secret-token", token,
                "--dump", "/lvdump/items.jsonl", "--watch-secrets", ",".join(self.project.secret_values())]
        if flat.get("apm-server.auth.api_key.enabled"):
            argv += ["--api-keys", env.get("LIVE_APM_API_KEYS", "")]
        l = Launch(f"APM Server stand-in (listen {host}, {'secret token' if token else 'no auth'})", argv, env, 1000, 1000)
        self._dump_mount(l, name)
        l.role = "store"
        l.store = {"kind": "apm", "port": int(host.rsplit(":", 1)[1])}
        return l

    def _dump_mount(self, l, name):
        d = os.path.join(self.project.work, "dumps", name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        l.mounts.append({"source": d, "target": "/lvdump", "kind": "dir", "read_only": False})

    def _es_standin(self, name, model, env):
        port = 9200
        for k in ("http.port",):
            if env.get(k):
                port = int(env[k])
        security = env.get("xpack.security.enabled", "true").lower() != "false"
        # Its data path, where Elasticsearch keeps users, roles and templates (a volume in the tree):
        # what the setup job created is still there when the store restarts.
        argv = [self.tools["STANDINS"], "es", "--listen", f"0.0.0.0:{port}", "--admin-listen", "0.0.0.0:9299",
                "--data-dir", "/usr/share/elasticsearch/data", "--max-ids", "1000000",
                "--dump", "/lvdump/items.jsonl", "--watch-secrets", ",".join(self.project.secret_values())]
        if security:
            argv += ["--user", "elastic", "--password", env.get("ELASTIC_PASSWORD", "")]
            if env.get("LIVE_ES_API_KEYS"):
                argv += ["--api-keys", env["LIVE_ES_API_KEYS"]]
        else:
            argv += ["--user", "", "--password", ""]
        l = Launch(f"Elasticsearch stand-in (port {port}, security {'on' if security else 'off'})", argv, env, 1000, 0)
        self._dump_mount(l, name)
        l.image_dirs["/usr/share/elasticsearch/data"] = (1000, 0, 0o775)
        l.role = "store"
        l.store = {"kind": "es", "port": port, "admin": 9299}
        return l

    def _es_real(self, name, model, env):
        home = self.tools.get("ES_HOME")
        if not home:
            raise Skip("no Elasticsearch distribution (set OTELPLAN_LIVE_WITH_ES=1 for build-tools.sh)")
        # The docker image turns environment variables with a dot into settings.
        settings = [f"-E{k}={v}" for k, v in sorted(env.items()) if "." in k and k == k.lower()]
        conf = "/usr/share/elasticsearch/config"
        es = [os.path.join(home, "bin", "elasticsearch"), *settings, "-Epath.data=/usr/share/elasticsearch/data",
              "-Epath.logs=/usr/share/elasticsearch/logs", "-Enetwork.host=0.0.0.0"]
        # The image's entrypoint puts ELASTIC_PASSWORD into the keystore as bootstrap.password.
        keystore = os.path.join(home, "bin", "elasticsearch-keystore")
        script = ("set -e\n"
                  f'if [ -n "${{ELASTIC_PASSWORD:-}}" ]; then\n'
                  f"  {shlex.quote(keystore)} create >/dev/null 2>&1 || true\n"
                  f'  printf "%s" "$ELASTIC_PASSWORD" | {shlex.quote(keystore)} add -x -f bootstrap.password\n'
                  "fi\n")
        users = os.path.join(home, "bin", "elasticsearch-users")
        for spec in filter(None, env.get("LIVE_FILE_USERS", "").split(",")):
            user, pw, role = spec.split(":", 2)
            script += f"{shlex.quote(users)} useradd {shlex.quote(user)} -p {shlex.quote(pw)} -r {shlex.quote(role)}\n"
        script += f"exec {shlex.join(es)}\n"
        l = Launch("Elasticsearch (integ-test distribution from Maven Central)", ["/bin/sh", "-c", script], env, 1000, 0)
        l.env.update({"ES_JAVA_HOME": self.tools["ES_JAVA_HOME"], "ES_PATH_CONF": conf, "ES_TMPDIR": "/tmp"})
        l.env.setdefault("ES_JAVA_OPTS", "-Xms512m -Xmx512m")
        for d in ("data", "logs", "config"):
            l.image_dirs[f"/usr/share/elasticsearch/{d}"] = (1000, 0, 0o775)
        src = os.path.join(home, "config")
        for root, _, fs in os.walk(src):
            for fn in fs:
                p = os.path.join(root, fn)
                rel = os.path.relpath(p, src)
                l.files[f"{conf}/{rel}"] = open(p).read()
        l.image_dirs[f"{conf}/jvm.options.d"] = (1000, 0, 0o775)
        l.role = "datastore"
        return l

    def _jaeger(self, name, model, env, command):
        env.setdefault("JAEGER_LISTEN_HOST", "0.0.0.0")
        l = Launch("Jaeger v2 (real; module v1.75.0 = 2.12.0)", ["/cmd/jaeger/jaeger-linux", *command], env, 10001, 10001)
        l.mounts.append({"source": self.tools["JAEGER"], "target": "/cmd/jaeger/jaeger-linux", "kind": "file", "read_only": True})
        l.role = "store"
        l.store = {"kind": "jaeger", "port": 16686}
        return l

    def _prometheus(self, name, model, env, command):
        args = command or ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
        l = Launch("Prometheus 3 (real, 3.16.0)", ["/bin/prometheus", *args], env, 65534, 65534, cwd="/prometheus")
        l.mounts.append({"source": self.tools["PROMETHEUS"], "target": "/bin/prometheus", "kind": "file", "read_only": True})
        l.files["/etc/prometheus/prometheus.yml"] = open(os.path.join(IMAGES, "prometheus.yml")).read()
        l.image_dirs["/etc/prometheus"] = (65534, 65534, 0o755)
        l.image_dirs["/prometheus"] = (65534, 65534, 0o775)
        l.role = "store"
        l.store = {"kind": "prometheus", "port": 9090}
        return l

    def _loki(self, name, model, env, command):
        # The image's /etc/loki/local-config.yaml: auth_enabled false, port 3100.
        auth = False
        path = None
        for a in command:
            if a.startswith("-config.file="):
                path = a.split("=", 1)[1]
        src = self._config_file(model, path) if path else None
        if src:
            cfg = yaml.safe_load(open(src)) or {}
            auth = bool(cfg.get("auth_enabled", True))
        argv = [self.tools["STANDINS"], "loki", "--listen", "0.0.0.0:3100", f"--auth-enabled={'true' if auth else 'false'}",
                "--dump", "/lvdump/items.jsonl", "--watch-secrets", ",".join(self.project.secret_values())]
        l = Launch(f"Loki stand-in (auth_enabled {str(auth).lower()})", argv, env, 10001, 10001)
        self._dump_mount(l, name)
        l.image_dirs["/loki"] = (10001, 10001, 0o755)
        l.role = "store"
        l.store = {"kind": "loki", "port": 3100}
        return l

    def _shell_oneshot(self, name, model, env, command, user, what):
        if not command:
            raise Skip("no command")
        l = Launch(what, command, env, user[0] if user[0] != 0 else None, user[1] if user[0] != 0 else None,
                   one_shot=(model.get("restart") or "no") == "no")
        l.role = "oneshot"
        return l

    def _javaagent_copy(self, name, model, env, command):
        # The Operator's Java image: /javaagent.jar, copied by the service's `cp` command.
        l = Launch("OpenTelemetry Operator's Java image: /javaagent.jar from Maven Central", command, env,
                   one_shot=True)
        l.mounts.append({"source": self.tools["OTEL_JAVAAGENT"], "target": "/javaagent.jar", "kind": "file", "read_only": True})
        l.role = "oneshot"
        return l

    # -- the team's images -----------------------------------------------------------------------
    def _postgres(self, name, model, env, command):
        bindir = self.tools["POSTGRES_BIN_DIR"]
        env["PATH"] = f"{bindir}:{BASE_PATH}"
        env.setdefault("PGDATA", "/var/lib/postgresql/data")
        args = command or ["postgres"]
        l = Launch(f"PostgreSQL {os.path.basename(os.path.dirname(bindir))} (Debian)",
                   ["/bin/sh", os.path.join(IMAGES, "postgres-entrypoint.sh"), *args], env)
        l.image_dirs["/var/lib/postgresql"] = (999, 999, 0o755)
        l.image_dirs[env["PGDATA"]] = (999, 999, 0o1777)
        l.image_dirs["/var/run/postgresql"] = (999, 999, 0o3777)
        l.role = "datastore"
        return l

    def _redis(self, name, model, env, command):
        args = command or ["redis-server"]
        if args[0] == "redis-server":
            # The image's entrypoint: without a config file, protected mode off (the container's
            # network is the boundary).
            if len(args) < 2 or not args[1].endswith(".conf"):
                args = args + ["--protected-mode", "no"]
            args[0] = self.tools["REDIS_SERVER"]
        l = Launch("Redis (Debian)", args, env, 999, 999, cwd="/data")
        l.image_dirs["/data"] = (999, 999, 0o755)
        l.role = "datastore"
        return l

    def _kafka(self, name, model, env, command):
        props = kafka_properties(env)
        props.setdefault("log.dirs", "/var/lib/kafka/data")
        text = "".join(f"{k}={v}\n" for k, v in sorted(props.items()))
        cluster = env.get("CLUSTER_ID", "5L6g3nShT-eMCtK--X86sw")
        java = self.tools["KAFKA_JAVA"]
        heap = env.get("KAFKA_HEAP_OPTS", "-Xmx512m -Xms256m")
        opts = env.get("KAFKA_OPTS", "")
        cp = self.tools["KAFKA_CLASSPATH"]
        log4j = f"-Dlog4j2.configurationFile={self.tools['KAFKA_LOG4J']}"
        script = (f"set -e\n"
                  f"{shlex.quote(java)} {heap} {log4j} -cp {shlex.quote(cp)} kafka.tools.StorageTool format "
                  f"--ignore-formatted -t {shlex.quote(cluster)} -c /opt/kafka/config/server.properties\n"
                  f"exec {shlex.quote(java)} {heap} {opts} {log4j} -cp {shlex.quote(cp)} kafka.Kafka /opt/kafka/config/server.properties\n")
        l = Launch(f"Kafka broker (KRaft, jars from Maven Central{', Java agent' if '-javaagent' in opts else ''})",
                   ["/bin/sh", "-c", script], env, 1000, 1000)
        l.files["/opt/kafka/config/server.properties"] = text
        l.image_dirs["/var/lib/kafka/data"] = (1000, 1000, 0o755)
        l.image_dirs["/opt/kafka"] = (1000, 1000, 0o755)
        l.role = "datastore"
        return l

    def _django(self, name, model, env, command):
        venv = self.tools["APP_VENV"]
        env["PATH"] = f"{venv}/bin:{BASE_PATH}"
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        env.setdefault("PYTHONUNBUFFERED", "1")
        l = Launch("Django test app (gunicorn, generated otel_setup.py and env file)", command, env, cwd="/app")
        l.role = "app"
        return l


    # -- backends the stack names but does not deploy -----------------------------------------------
    def external(self, backend, cfg, host, port, scheme, tls):
        """An existing backend outside the compose project: the same program as a deployed one, under
        the endpoint's host name; https through a TLS terminator with the run's test CA."""
        env = {"PATH": BASE_PATH, "HOSTNAME": host}
        secrets = ",".join(self.project.secret_values())
        if backend == "elasticsearch":
            key = self.project.secret_for(cfg.get("api_key"))
            user = cfg.get("username") or ""
            pw = self.project.secret_for(cfg.get("password")) or ""
            inner = 9200 if not tls else 19200
            argv = [self.tools["STANDINS"], "es", "--listen", f"{'127.0.0.1' if tls else '0.0.0.0'}:{inner if tls else port}",
                    "--admin-listen", "0.0.0.0:9299", "--user", user, "--password", pw,
                    "--dump", "/lvdump/items.jsonl", "--watch-secrets", secrets]
            if key:
                argv += ["--api-keys", key]
            store = {"kind": "es", "port": port, "admin": 9299}
            what = f"existing Elasticsearch {host}:{port} (stand-in{', TLS' if tls else ''})"
        elif backend == "apm_server":
            token = self.project.secret_for(cfg.get("secret_token")) or ""
            argv = [self.tools["STANDINS"], "apm", "--listen", f"0.0.0.0:{port}", "--secret-token", token,
                    "--dump", "/lvdump/items.jsonl", "--watch-secrets", secrets]
            if cfg.get("api_key"):
                argv += ["--api-keys", self.project.secret_for(cfg.get("api_key"))]
            store = {"kind": "apm", "port": port}
            what = f"existing APM Server {host}:{port} (stand-in)"
        elif backend == "loki":
            argv = [self.tools["STANDINS"], "loki", "--listen", f"0.0.0.0:{port}",
                    f"--auth-enabled={'true' if cfg.get('tenant') else 'false'}",
                    "--dump", "/lvdump/items.jsonl", "--watch-secrets", secrets]
            store = {"kind": "loki", "port": port}
            what = f"existing Loki {host}:{port} (stand-in)"
        elif backend == "jaeger":
            env["JAEGER_LISTEN_HOST"] = "0.0.0.0"
            argv = ["/cmd/jaeger/jaeger-linux"]
            store = {"kind": "jaeger", "port": 16686}
            what = f"existing Jaeger {host}:{port} (real, all-in-one)"
        elif backend == "prometheus":
            argv = ["/bin/prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                    "--web.enable-otlp-receiver", f"--web.listen-address=0.0.0.0:{port}"]
            store = {"kind": "prometheus", "port": port}
            what = f"existing Prometheus {host}:{port} (real)"
        else:
            raise Skip(f"no program for an existing {backend}")
        if tls:
            if backend != "elasticsearch":
                raise Skip(f"https to an existing {backend} is not emulated")
            cert, key_file = self.project.tls_cert(host)
            argv = ["/bin/sh", "-c", f"{shlex.join(argv)} & exec {shlex.quote(self.tools['PYTHON'])} "
                                     f"{shlex.quote(os.path.join(HERE, 'tlsproxy.py'))} 0.0.0.0:{port} "
                                     f"/lvtls/{os.path.basename(cert)} /lvtls/{os.path.basename(key_file)} 127.0.0.1:{inner}"]
        l = Launch(what, argv, env)
        if tls:
            l.mounts.append({"source": os.path.dirname(cert), "target": "/lvtls", "kind": "dir", "read_only": True})
        if backend == "jaeger":
            l.mounts.append({"source": self.tools["JAEGER"], "target": "/cmd/jaeger/jaeger-linux", "kind": "file", "read_only": True})
        if backend == "prometheus":
            l.mounts.append({"source": self.tools["PROMETHEUS"], "target": "/bin/prometheus", "kind": "file", "read_only": True})
            l.files["/etc/prometheus/prometheus.yml"] = open(os.path.join(IMAGES, "prometheus.yml")).read()
        if backend in ("elasticsearch", "apm_server", "loki"):
            self._dump_mount(l, f"ext-{backend}")
        l.role = "store"
        l.store = store
        l.hosts = self.project.hosts_file
        return l


def kafka_properties(env):
    """The apache/kafka image's rule: KAFKA_FOO_BAR -> foo.bar, `__` -> `_`, `___` -> `-`."""
    props = {}
    for k, v in env.items():
        if not k.startswith("KAFKA_") or k in ("KAFKA_OPTS", "KAFKA_HEAP_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS",
                                              "KAFKA_LOG4J_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_JMX_OPTS"):
            continue
        key = k[len("KAFKA_"):].lower().replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")
        props[key] = v
    return props


_LIBBEAT_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?\}")


def libbeat_expand(text, env):
    """libbeat's ${VAR} and ${VAR:default} from the environment (no `env:` prefix)."""
    def sub(m):
        v = env.get(m.group(1))
        if v is None:
            v = m.group(2) or ""
        return json.dumps(v)[1:-1]

    return _LIBBEAT_REF.sub(sub, text)


def flatten(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out
