//! Emit stage: the tree's `README.md` — what was generated, which secrets to create, and the
//! exact commands to deploy with each target. Markdown, written from the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::emit::provisioning::script_name;
use crate::emit::OutputTree;
use crate::model::env_ref::EnvRef;
use crate::model::keywords::{ServiceKind, Target};
use crate::plan::app::PodAttributes;
use crate::plan::collector::ReceiverSpec;
use crate::plan::deploy::FileLogHook;
use crate::plan::node::RoleKind;
use crate::plan::provision::{Grant, MonitorAccess, PgLogging, PG_LOG_FILES};
use crate::plan::Plan;

/// Where the README's commands assume the tree sits, relative to the team's project.
const TREE: &str = "otelplan-out";

/// What a datastore whose logging otelplan does not set must do (all but PostgreSQL).
fn datastore_advice(kind: ServiceKind, dir: &str) -> String {
    match kind {
        ServiceKind::Redis => {
            format!("Redis: `logfile {dir}/redis.log` (Redis writes its log file group-readable by default)")
        }
        ServiceKind::Elasticsearch => {
            format!("Elasticsearch: `path.logs: {dir}` (set `ES_LOG_STYLE=file` in its container)")
        }
        ServiceKind::Kafka => format!("Kafka: `LOG_DIR={dir}` for its log4j file appenders"),
        ServiceKind::Postgres | ServiceKind::Django => String::new(),
    }
}

/// The PostgreSQL settings of a file-logging server, where they are applied, and the bound.
fn postgres_logging(hook: &FileLogHook, pg: &PgLogging, out: &mut String) {
    let _ = write!(
        out,
        "  The compose overlay and the Kubernetes patch start the server with the settings the agent relies on\n  \
         (`postgres -c …`, replacing a `command` or `args` of your own: merge yours into them). A server started\n  \
         otherwise needs them in its configuration: `provisioning/{name}/logging.conf` has them, to `include` from\n  \
         `postgresql.conf`.\n\n  ```ini\n{conf}  ```\n\n",
        name = hook.datastore,
        conf = crate::emit::provisioning::pg_conf_lines(pg).lines().fold(String::new(), |mut acc, line| {
            let _ = writeln!(acc, "  {line}");
            acc
        }),
    );
    match hook.size_limit_mib {
        Some(mib) => {
            let _ = writeln!(
                out,
                "  PostgreSQL keeps {PG_LOG_FILES} hourly files (a day), truncating each when its hour comes round again\n  \
                 (size-driven rotation is off: with names that repeat it would only reopen the hour's file). On\n  \
                 Kubernetes the shared directory is limited to {mib} MiB, and a pod whose directory outgrows it is\n  \
                 evicted: if the server logs more than about {} MiB an hour, raise `sizeLimit` with a patch of your own.",
                mib / PG_LOG_FILES
            );
        }
        None => out.push_str(
            "  The file name in `logs.path` has no `*`, so otelplan cannot name the files by the hour: their rotation\n  \
             is yours, and the shared directory has no size limit.\n",
        ),
    }
}

fn secrets_section(plan: &Plan, out: &mut String) {
    let d = &plan.deployment;
    if d.observability_secrets.is_empty() && d.app_secrets.is_empty() {
        out.push_str("## Secrets\n\nNothing in this tree reads a secret.\n\n");
        return;
    }
    out.push_str("## Secrets\n\nGenerated files hold references only; set these variables where the files run.\n\n");
    let k8s = plan.targets.contains(&Target::Kubernetes);
    if k8s {
        let _ = writeln!(
            out,
            "On Kubernetes they are keys of the Secret `{}`, which otelplan names but never creates:\n",
            d.secret_name
        );
        // One Secret per namespace (the two may be the same namespace).
        let mut by_namespace: BTreeMap<&str, BTreeSet<&EnvRef>> = BTreeMap::new();
        by_namespace.entry(&plan.namespaces.observability).or_default().extend(&d.observability_secrets);
        by_namespace.entry(&plan.namespaces.app).or_default().extend(&d.app_secrets);
        out.push_str("| variable | Secret namespace | key |\n|---|---|---|\n");
        for (ns, list) in &by_namespace {
            for e in list {
                let _ = writeln!(out, "| `{}` | `{ns}` | `{}` |", e.name(), e.name());
            }
        }
        out.push('\n');
        for (ns, list) in by_namespace.iter().filter(|(_, l)| !l.is_empty()) {
            let literals: Vec<String> = list.iter().map(|e| format!("--from-literal={}=...", e.name())).collect();
            let _ = writeln!(
                out,
                "```sh\nkubectl -n {ns} create secret generic {} {}\n```\n",
                d.secret_name,
                literals.join(" ")
            );
        }
    }
    if plan.targets.contains(&Target::Compose) {
        out.push_str(
            "With compose they come from the environment or a `.env` file: `compose/.env.example` lists them all.\n\n",
        );
    }
}

/// Where each workload expects the TLS files its configs name.
fn tls_section(plan: &Plan, out: &mut String) {
    let mut by_workload: BTreeMap<&str, BTreeSet<&String>> = BTreeMap::new();
    for w in &plan.workloads {
        by_workload.entry(&w.name).or_default().extend(&w.tls_files);
    }
    for app in &plan.apps {
        let ca = app.endpoint.tls.iter().flat_map(|t| t.ca_file.iter());
        by_workload.entry(&app.service).or_default().extend(ca);
    }
    by_workload.retain(|_, files| !files.is_empty());
    if by_workload.is_empty() {
        return;
    }
    out.push_str(
        "## TLS files

The configs name these files, as the containers see them; otelplan never reads them.

",
    );
    out.push_str(
        "| workload | files |
|---|---|
",
    );
    let mut all: BTreeSet<&String> = BTreeSet::new();
    for (w, files) in &by_workload {
        let list: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
        let _ = writeln!(out, "| `{w}` | {} |", list.join(", "));
        all.extend(files.iter().copied());
    }
    out.push('\n');
    if plan.targets.contains(&Target::Kubernetes) {
        let keys: Vec<String> = all
            .iter()
            .map(|f| format!("--from-file={}=./{}", crate::emit::k8s::tls_key(f), crate::emit::k8s::tls_key(f)))
            .collect();
        let _ = writeln!(
            out,
            "On Kubernetes they come from the Secret `{}` (one key per file, its path with `/` as `_`),\n\
             mounted where the configs expect them; create it in each namespace that runs one of these:\n\n\
             ```sh\nkubectl -n NAMESPACE create secret generic {} {}\n```\n",
            plan.deployment.tls_secret_name,
            plan.deployment.tls_secret_name,
            keys.join(" ")
        );
    }
    if plan.targets.contains(&Target::Compose) {
        out.push_str(
            "With compose, mount each file read-only at its path in the services above (a `volumes`\n\
             entry of yours beside the tree's files).\n\n",
        );
    }
}

fn compose_section(plan: &Plan, out: &mut String) {
    let _ = write!(
        out,
        "## Deploy with docker compose\n\n\
         `compose/docker-compose.yaml` runs the observability side; `compose/dkp.override.yaml` adds the\n\
         OpenTelemetry settings to your own DKP services, which it names as the stack file does. Both must run\n\
         in one compose project so that your services reach the collectors by name:\n\n\
         1. Put this tree in your project (below: `{TREE}/`), copy `{TREE}/compose/.env.example` to `.env`\n   beside your `compose.yaml` and fill it in.\n\
         2. Include the observability side from your `compose.yaml` (an included file keeps resolving its own\n   relative paths, such as the mounted configs, against its directory):\n\n\
         ```yaml\ninclude:\n  - path: {TREE}/compose/docker-compose.yaml\n```\n\n\
         3. Check that every service the overlay names is one of yours (a service only the overlay names\n   \
         would have no image, and compose refuses the project), then start everything with the overlay:\n\n\
         ```sh\notelplan check-patches compose.yaml --overlay {TREE}/compose/dkp.override.yaml\n\
         docker compose -f compose.yaml -f {TREE}/compose/dkp.override.yaml up -d\n```\n\n\
         {}: services that need them wait for `service_started`, and `restart: unless-stopped`\n\
         covers a failed start. Named volumes are handed to their writers by the one-shot `{}`.\n\n\
         The overlay sets the json-file log driver (with a label option) on datastores whose container\n\
         logs the node agent reads: it replaces a logging driver your project sets on them.\n\n",
        if plan.distribution.components_version.is_none() {
            "The collector-contrib and APM Server images have no shell or HTTP client, so they get no\nhealthcheck"
        } else {
            "The collectors (written alike whatever their distribution) and APM Server get no\nhealthcheck"
        },
        plan.deployment.volume_init
    );
    if let Some(setup) = &plan.deployment.elasticsearch_setup {
        let _ = write!(
            out,
            "The one-shot `{}` sets Elasticsearch up once it is healthy: the user that writes telemetry,\n\
             the lifecycle policies that delete old data, `kibana_system`'s password. What writes to\n\
             Elasticsearch and Kibana wait until it has finished; it gives up, and so does `up`, when\n\
             Elasticsearch does not answer within {} attempts {} s apart.\n\n",
            setup.name, setup.wait_attempts, setup.wait_pause_seconds
        );
    }
}

fn kubernetes_section(plan: &Plan, out: &mut String) {
    let ns = &plan.namespaces;
    let _ = write!(
        out,
        "## Deploy on Kubernetes\n\n\
         1. Create the Secrets above.\n\
         2. Apply the observability side (namespace `{obs}`):\n\n\
         ```sh\nkubectl apply -k {TREE}/kubernetes\n```\n\n\
         3. Add the Component to the kustomization of your DKP workloads (namespace `{app}`), then apply it:\n\n\
         ```yaml\ncomponents:\n  - {TREE}/kubernetes/app-patches\n```\n\n\
         The Component's patches select workloads by kind and name, so they apply whether or not your\n\
         manifests set `metadata.namespace`. A patch that names a container your workload does not have\n\
         adds one without an image, which `kubectl apply` refuses, and a patch whose workload your\n\
         kustomization lacks is skipped without a word. Check both before you apply (with kubectl on PATH;\n\
         exit 1 and each problem where the patch names it when they do not fit):\n\n\
         ```sh\notelplan check-patches path/to/your/kustomization\n```\n\n",
        obs = ns.observability,
        app = ns.app,
    );
    let own_pods: Vec<String> = plan
        .apps
        .iter()
        .filter(|a| a.pod_attributes == PodAttributes::App)
        .map(|a| format!("`{}`", a.service))
        .collect();
    if !own_pods.is_empty() {
        let _ = write!(
            out,
            "No collector between the Django services ({}) and their destination runs `k8s_attributes`, so\n\
             their patches read the pod's namespace, name, uid and node through the downward API and add them,\n\
             with the workload's name, to `OTEL_RESOURCE_ATTRIBUTES` (`k8s.namespace.name`, `k8s.pod.name`, …).\n\n",
            own_pods.join(", ")
        );
    }
    if let Some(setup) = &plan.deployment.elasticsearch_setup {
        let _ = write!(
            out,
            "The Job that sets Elasticsearch up is named `{name}-<hash of its content>`: a re-apply after a\n\
             change creates a new Job, and a finished one is deleted {ttl} s later, after which a re-apply runs\n\
             it again (its requests are idempotent). On a first install, wait for it before your apps send\n\
             (until it has created the user that writes to Elasticsearch, writes are refused):\n\n\
             ```sh\nkubectl -n {ns} wait --for=condition=complete job -l app.kubernetes.io/name={name} --timeout={deadline}s\n```\n\n\
             To retry a failed Job at once:\n\n\
             ```sh\nkubectl -n {ns} delete job -l app.kubernetes.io/name={name}\nkubectl apply -k {TREE}/kubernetes\n```\n\n",
            name = setup.name,
            ttl = setup.keep_finished_seconds,
            deadline = setup.deadline_seconds,
            ns = ns.observability,
        );
    }
    if let Some(j) = plan.deployment.backends.iter().find(|b| b.kind == crate::topology::BackendKind::Jaeger) {
        let _ = write!(
            out,
            "Jaeger (`{name}`) is a StatefulSet that keeps traces on its volume. A tree rendered by an older\n\
             otelplan ran it as a Deployment of the same name, which `kubectl apply` leaves running: delete it\n\
             with `kubectl -n {ns} delete deployment {name}`.\n\n",
            name = j.name,
            ns = ns.observability,
        );
    }
    if let Some(gw) = plan.roles.iter().find(|r| r.role == RoleKind::Gateway) {
        let _ = write!(
            out,
            "The gateway (`{name}`) starts at {n} replicas and scales with CPU. Apps reach it over\n\
             OTLP/HTTP through its Service: requests spread over the replicas, where long-lived gRPC connections\n\
             would each stick to one pod. ",
            name = gw.name,
            n = gw.replicas
        );
        if gw.file_storage {
            out.push_str(
                "Each replica keeps its persistent queue on its own volume (a StatefulSet), so a restarted pod\n\
                 resumes sending what it had queued; after scaling down, a removed replica's volume keeps its data\n\
                 until the replica returns.\n\n",
            );
        } else {
            out.push_str("Its queues are in memory: a pod restart loses what was queued.\n\n");
        }
    }
    if let Some(s) = plan.roles.iter().find(|r| r.role == RoleKind::Sampler) {
        let _ = write!(
            out,
            "The tail samplers (`{name}`) are a StatefulSet of exactly {n} replicas behind a headless Service of the\n\
             same name: the gateway resolves that name to every ready sampler and sends all spans of a trace to\n\
             the same one. With compose they are the services `{name}-1` to `{name}-{n}`, each with a volume of its\n\
             own, which the gateway lists by name (the `static` resolver). Change their number only knowing that\n\
             traces in flight are then routed anew (some are split and decided in parts).\n\n",
            name = s.name,
            n = s.replicas
        );
    }
}

/// The commands that grant a receiver its access: anywhere the server's own client reaches the
/// server, and with compose, inside the datastore's container.
fn access_commands(access: &MonitorAccess) -> (String, String) {
    let ds = &access.datastore;
    let path = format!("{TREE}/provisioning/{ds}/{}", script_name(&access.grant));
    match &access.grant {
        Grant::Postgres { password, .. } => (
            format!("{}=… psql -h HOST -U postgres -f {path}", password.name()),
            format!("docker compose exec -T -e {} {ds} psql -U postgres -f - < {path}", password.name()),
        ),
        Grant::Redis { password, .. } => (
            format!("REDISCLI_AUTH=<admin password> {}=… sh {path}", password.name()),
            format!("docker compose exec -T -e REDISCLI_AUTH -e {} {ds} sh -s < {path}", password.name()),
        ),
        Grant::Elasticsearch { password, .. } => (
            format!("ELASTICSEARCH_ADMIN_PASSWORD=… {}=… sh {path}", password.name()),
            format!(
                "docker compose exec -T -e ELASTICSEARCH_ADMIN_PASSWORD -e {} {ds} sh -s < {path}",
                password.name()
            ),
        ),
        Grant::Kafka { .. } => (
            format!("KAFKA_ADMIN_CONFIG=admin.properties sh {path}"),
            format!("docker compose exec -T {ds} sh -s < {path}"),
        ),
    }
}

/// What a grant gives, in a sentence.
fn access_summary(access: &MonitorAccess) -> String {
    let ds = &access.datastore;
    match &access.grant {
        Grant::Postgres { user, member_of, .. } => format!(
            "`{ds}`: the postgresql receiver logs in as `{user}`, a member of `{member_of}`. Create the role once (again to\n  \
             change its password) as a superuser, with psql 15 or newer and the password in psql's environment. The\n  \
             receiver (0.152.0) puts the password unquoted into a libpq connection string: keep spaces, quotes and\n  \
             backslashes out of it."
        ),
        Grant::Redis { user, commands, .. } => format!(
            "`{ds}`: the redis receiver logs in as the ACL user `{user}`, allowed `{}` and nothing else. Create it with an\n  \
             admin's password in `REDISCLI_AUTH`. The server keeps it until it restarts unless it has an `aclfile`, to\n  \
             which the script saves it: otherwise run it after each start, or add the user to your configuration.",
            commands.join(" ").to_uppercase()
        ),
        Grant::Elasticsearch { role, user, .. } => format!(
            "`{ds}`: the elasticsearch receiver logs in as `{user}`, with the role `{role}` (cluster and index privilege\n  \
             `monitor`). Create both with the credentials of a user that manages security."
        ),
        Grant::Kafka { .. } => format!(
            "`{ds}`: when its brokers run an authorizer, the kafka_metrics receiver needs `Describe` on topics and consumer\n  \
             groups, or it sees only the broker count. The stack gives it no Kafka credentials, so it connects as\n  \
             `User:ANONYMOUS` on an unauthenticated listener, and the ACLs allow that principal (`KAFKA_MONITOR_PRINCIPAL`\n  \
             names another): any unauthenticated client of that listener may then list topics, groups and offsets."
        ),
    }
}

fn access_section(plan: &Plan, out: &mut String) {
    let compose = plan.targets.contains(&Target::Compose);
    for access in &plan.deployment.access {
        let (anywhere, in_compose) = access_commands(access);
        let _ = writeln!(out, "- {}\n\n  ```sh\n  {anywhere}\n  ```\n", access_summary(access));
        if compose {
            let _ = writeln!(out, "  With compose, inside its container:\n\n  ```sh\n  {in_compose}\n  ```\n");
        }
    }
    for name in redis_default_users(plan) {
        let _ = writeln!(
            out,
            "- `{name}`: the redis receiver logs in as the default user, with every permission. Give it a `username` in\n  \
             the stack, and otelplan writes the script that creates an ACL user allowed `INFO` only."
        );
    }
}

/// Redis servers the receiver reads as the default user (the stack names no ACL user).
fn redis_default_users(plan: &Plan) -> Vec<&str> {
    plan.roles
        .iter()
        .flat_map(|r| &r.receivers)
        .filter(|r| matches!(r.spec, ReceiverSpec::Redis { username: None, .. }))
        .filter_map(|r| r.id.name.as_deref())
        .collect()
}

/// What the Kafka buffer does, and how to run it: the ingest tier's consumer lag is the backlog.
fn buffer_section(plan: &Plan, out: &mut String) {
    let Some(b) = &plan.buffer else { return };
    let topics: Vec<String> = b.topics.values().map(|t| format!("`{t}`")).collect();
    let broker = b.brokers.first().map_or_else(String::new, |a| format!("{}:{}", a.host, a.port));
    let kafka = if b.deployed {
        format!(
            "The Kafka here is a single-node sandbox (KRaft) with a {} GiB volume; a cluster of your own\n\
             with replicated topics is the production choice.",
            b.volume_gib
        )
    } else {
        format!(
            "Create the topics before the gateway starts: `{script}` creates them with {} partitions each\n\
             and a retention of twice the outage to survive (a broker that creates them itself uses its\n\
             `num.partitions` and default retention). Run it where `kafka-topics.sh` can reach the brokers;\n\
             its comments name the settings it reads.",
            b.partitions,
            script = crate::emit::provisioning::BUFFER_TOPICS,
        )
    };
    let _ = write!(
        out,
        "## The Kafka buffer\n\n\
         The gateway does not write to the stores: it writes each signal to a Kafka topic of its own\n\
         ({topics}, OTLP protobuf, {partitions} partitions each), and the ingest tier (`{stack}-ingest`,\n\
         consumer group `{group}`) reads them and writes to the stores. While a store is away its data\n\
         waits in Kafka rather than in the gateway's queues: the ingest tier marks a message consumed\n\
         only once the store has it, so no offset is committed past what was written. {kafka}\n\n\
         Runbook:\n\n\
         - The backlog is the consumer group's lag: `kafka-consumer-groups.sh --bootstrap-server {broker}\n  \
         --describe --group {group}` shows it per partition (LAG). It grows during a store outage and\n  \
         falls to about zero once the store is back and the ingest tier has caught up.\n\
         - A lag that keeps growing while the stores are up means the ingest tier is too small: raise its\n  \
         replicas (up to {max}, one per partition; more would sit idle), or the partitions first.\n\
         - Messages older than the topics' retention ({retention} minutes on a deployed Kafka) are deleted\n  \
         unread: an outage must end, and the lag drain, within it.\n\n",
        topics = topics.join(", "),
        partitions = b.partitions,
        stack = plan.stack_name,
        group = b.group_id,
        max = b.ingest_max_replicas,
        retention = b.retention_minutes,
    );
}

fn capacity_section(plan: &Plan, out: &mut String) {
    let gateway = plan.roles.iter().find(|r| r.role == RoleKind::Gateway);
    out.push_str("## Capacity\n\n");
    match (&plan.load, &plan.sizing) {
        (Some(load), Some(sizing)) => {
            out.push_str(
                "Sized for the load the stack file declares, from otelplan's measured capacity table\n\
                 (`data/capacity.yaml` in otelplan's repository; settings the file gives itself win):\n\n```text\n",
            );
            for line in crate::plan::capacity::describe(load, sizing, gateway) {
                let _ = writeln!(out, "{line}");
            }
            out.push_str("```\n\n");
        }
        _ if gateway.is_some() => out.push_str(
            "The stack file declares no `load`, so the gateway has the default size. Declare the peak\n\
             rates (`load.spans_per_second`, …) and otelplan sizes replicas, memory, queues and volumes\n\
             from its measured capacity table.\n\n",
        ),
        _ => out.push_str("No gateway: nothing here is sized from a declared load.\n\n"),
    }
}

fn datastores_section(plan: &Plan, out: &mut String) {
    let d = &plan.deployment;
    if d.file_logs.is_empty()
        && d.stdout_logs.is_empty()
        && d.jmx.is_empty()
        && d.access.is_empty()
        && redis_default_users(plan).is_empty()
    {
        return;
    }
    out.push_str("## What your datastores must do\n\n");
    access_section(plan, out);
    for hook in &d.file_logs {
        let _ = writeln!(
            out,
            "- `{}` writes its log files to `{}`, shared with the agent that tails them (group {} reads them).",
            hook.datastore, hook.dir, hook.group,
        );
        match &hook.postgres {
            Some(pg) => postgres_logging(hook, pg, out),
            None => {
                let _ = writeln!(
                    out,
                    "  {}. Their rotation is yours; the shared directory has no size limit.",
                    datastore_advice(hook.kind, &hook.dir)
                );
            }
        }
    }
    for hook in &d.stdout_logs {
        let _ = writeln!(
            out,
            "- `{}` logs to stdout/stderr; the node agent reads its container logs (compose: the overlay labels the container).",
            hook.datastore
        );
    }
    for hook in &d.jmx {
        let _ = writeln!(
            out,
            "- `{}` runs the OpenTelemetry Java agent (added through `JAVA_TOOL_OPTIONS`), which reports the broker's JMX metrics.",
            hook.datastore
        );
    }
    out.push('\n');
}

fn builder_section(plan: &Plan, out: &mut String) {
    if plan.roles.is_empty() {
        return;
    }
    let d = plan.distribution;
    let Some(builder) = &d.builder_module else {
        let _ = write!(
            out,
            "## The collector\n\n\
             The deployment files run `{image}`,\n\
             Elastic's {title} (`collector.distribution: edot`), whose components are those of\n\
             OpenTelemetry Collector {v}. It is Elastic's own build: no builder manifest is written, as\n\
             Elastic's support does not cover custom builds.\n\n",
            image = d.image_ref(plan.collector_version),
            title = d.title,
            v = plan.collector_version,
        );
        return;
    };
    let _ = write!(
        out,
        "## A collector with only these components\n\n\
         The deployment files run `{image}:{v}`, the whole {title} distribution.\n\
         Upstream advises running a collector built from only the components you use: `{path}`\n\
         lists exactly those of this tree's configs, at collector {v}. Build it with the\n\
         OpenTelemetry Collector Builder (Go and the Go module proxy are all it needs):\n\n\
         ```sh\ngo install {builder}@v{v}\nbuilder --config {path}\n```\n\n\
         It writes the sources and the binary `otelcol-{stack}` under `./otelcol-{stack}/`. The deployment\n\
         files keep the distribution's image: to run your own build, put the binary in an image of\n\
         yours (it reads its config from `--config`, as the files pass it) and change `image:` in\n\
         `compose/` and `kubernetes/`.\n\n",
        image = d.image,
        v = plan.collector_version,
        title = d.title,
        path = crate::emit::builder::PATH,
        builder = builder,
        stack = plan.stack_name,
    );
}

/// Render the tree's README.
pub(crate) fn emit(plan: &Plan, tree: &mut OutputTree) {
    let mut out = format!(
        "<!-- {} -->\n# `{}`: topology {} — {}\n\n{}\n\nChosen as: {}\n\n",
        crate::emit::yaml::HEADER,
        plan.stack_name,
        plan.topology.id.letter(),
        plan.topology.title,
        plan.topology.summary,
        plan.reason
    );
    out.push_str("## What is here\n\n");
    let files: Vec<&String> = tree.keys().collect();
    let describe = |path: &str| -> &'static str {
        match path.split('/').next().unwrap_or("") {
            "collector" => "collector configs (the values compose runs, or Kubernetes's for a Kubernetes-only stack)",
            "apm-server" => "APM Server's configuration",
            "elasticsearch" => "the setup job of the deployed Elasticsearch: its script and one JSON body per request",
            "prometheus" => "the deployed Prometheus's configuration (promoted resource attributes, retention)",
            "loki" => "the deployed Loki's configuration (retention, no usage reporting)",
            "jaeger" => "the deployed Jaeger's configuration (Badger on its volume, retention)",
            "instrumentation" => "the OpenTelemetry settings and code of each Django service",
            "compose" => "the docker compose target",
            "kubernetes" => "the Kubernetes target (kustomize)",
            "alerts" => "alert rules on the collectors' own metrics (loss and backlog)",
            "provisioning" => "what to apply to your own datastores (see \"What your datastores must do\")",
            _ => "",
        }
    };
    let mut dirs: Vec<&str> = files.iter().filter_map(|p| p.split_once('/').map(|(d, _)| d)).collect();
    dirs.dedup();
    for dir in dirs {
        let _ = writeln!(out, "- `{dir}/`: {}", describe(dir));
    }
    out.push('\n');
    secrets_section(plan, &mut out);
    if plan.targets.contains(&Target::Compose) {
        compose_section(plan, &mut out);
    }
    if plan.targets.contains(&Target::Kubernetes) {
        kubernetes_section(plan, &mut out);
    }
    buffer_section(plan, &mut out);
    capacity_section(plan, &mut out);
    datastores_section(plan, &mut out);
    tls_section(plan, &mut out);
    builder_section(plan, &mut out);
    tree.insert("README.md".into(), out);
}
