//! Emit stage: `provisioning/`, what the team applies to its own datastores — per datastore,
//! the server settings otelplan's agents rely on (as the server's own configuration), and the
//! access its receiver logs in with (as a script for the server's own client: psql, redis-cli,
//! curl, kafka-acls.sh). Secrets stay in the environment: each script reads the stack's
//! variable when it runs and hands it to the client on its standard input or a file
//! descriptor, never its command line. Every value from the stack is quoted for the language it
//! lands in.

use std::fmt::Write as _;

use crate::emit::yaml::HEADER;
use crate::emit::OutputTree;
use crate::model::env_ref::EnvRef;
use crate::plan::address::Addr;
use crate::plan::app::percent_encode;
use crate::plan::buffer::BufferPlan;
use crate::plan::provision::{Grant, KafkaAcl, KafkaResource, PgLogging};
use crate::plan::Plan;

/// A value as `postgresql.conf` reads it: single-quoted, with `'` doubled and `\` escaped.
fn pg_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// The settings as `postgresql.conf` lines.
pub(crate) fn pg_conf_lines(pg: &PgLogging) -> String {
    pg.settings.iter().fold(String::new(), |mut out, (name, value)| {
        let _ = writeln!(out, "{name} = {}", pg_quote(value));
        out
    })
}

/// The file a grant is written to, under `provisioning/<datastore>/`.
pub(crate) fn script_name(grant: &Grant) -> &'static str {
    match grant {
        Grant::Postgres { .. } => "monitoring-role.sql",
        Grant::Redis { .. } => "acl-user.sh",
        Grant::Elasticsearch { .. } => "monitoring-user.sh",
        Grant::Kafka { .. } => "acls.sh",
    }
}

/// A POSIX shell word: single-quoted, each `'` as `'\''`.
fn sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A psql meta-command argument: single-quoted, `\` and `'` escaped as psql reads them.
fn psql_arg(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', "''"))
}

/// An SQL string literal (`standard_conforming_strings`, on by default since PostgreSQL 9.1).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `text` as comment lines, each after `prefix`.
fn comment(prefix: &str, text: &str) -> String {
    text.lines().fold(String::new(), |mut out, line| {
        let _ = writeln!(out, "{prefix} {line}");
        out
    })
}

/// The psql script that creates (or updates) the PostgreSQL monitoring role.
fn postgres_role(datastore: &str, user: &str, member_of: &str, password: &EnvRef, databases: &[String]) -> String {
    let var = password.name();
    let mut out = format!("-- {HEADER}\n");
    out.push_str(&comment(
        "--",
        &format!(
            "The login role the postgresql receiver uses on `{datastore}`: a member of {member_of}, allowed to connect\n\
             to the databases it reads. Run it as a superuser with psql 15 or newer and the password in psql's\n\
             environment as `{var}`: psql reads it there (\\getenv), so it is in no file and on no command line,\n\
             and the session keeps it out of the server's log. Running it again sets the password again."
        ),
    ));
    out.push_str(
        "\\set ON_ERROR_STOP on\n\
         -- Statements below carry the password: keep them out of the server's log and pg_stat_statements.\n\
         SET log_statement = 'none';\n\
         SET log_min_duration_statement = -1;\n\
         SET log_min_error_statement = 'panic';\n\
         SET pg_stat_statements.track_utility = off;\n",
    );
    let _ = writeln!(out, "\\set monitor_user {}", psql_arg(user));
    let _ = writeln!(out, "\\getenv monitor_password {var}");
    out.push_str(
        "\\if :{?monitor_password}\n\
         SELECT :'monitor_password' = '' AS monitor_password_empty \\gset\n\
         \\else\n\
         \\set monitor_password_empty true\n\
         \\endif\n\
         \\if :monitor_password_empty\n",
    );
    let _ = writeln!(
        out,
        "DO $$ BEGIN RAISE EXCEPTION 'set {var} in the environment of psql: the password of the monitoring role'; END $$;"
    );
    out.push_str(
        "\\endif\n\
         SELECT format('CREATE ROLE %I', :'monitor_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_user') \\gexec\n\
         ALTER ROLE :\"monitor_user\" WITH LOGIN PASSWORD :'monitor_password';\n",
    );
    let _ = writeln!(
        out,
        "SELECT format('GRANT {member_of} TO %I', :'monitor_user') WHERE NOT pg_has_role(:'monitor_user', {}, 'member') \\gexec",
        sql_literal(member_of)
    );
    let which = if databases.is_empty() {
        "datallowconn AND NOT datistemplate".to_string()
    } else {
        format!("datname IN ({})", databases.iter().map(|d| sql_literal(d)).collect::<Vec<_>>().join(", "))
    };
    let _ = writeln!(
        out,
        "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', datname, :'monitor_user') FROM pg_database WHERE {which} \\gexec"
    );
    out
}

/// The shell script that sets up the Redis ACL user.
fn redis_user(datastore: &str, host: &str, port: u16, user: &str, commands: &[&str], password: &EnvRef) -> String {
    let var = password.name();
    let allowed: Vec<String> = commands.iter().map(|c| format!("+{c}")).collect();
    let mut out = format!("#!/bin/sh\n# {HEADER}\n");
    out.push_str(&comment(
        "#",
        &format!(
            "The ACL user the redis receiver logs in as on `{datastore}`: allowed {} only, no keys, no channels.\n\
             Needs redis-cli, an admin's password in REDISCLI_AUTH (REDIS_ADMIN_USER names an ACL admin user), and\n\
             the user's password in `{var}`, which reaches redis-cli on its standard input, never its command line.\n\
             REDIS_HOST and REDIS_PORT say where the server is. Running it again resets the user to exactly this.",
            allowed.join(" ")
        ),
    ));
    out.push_str("set -eu\n");
    let _ = writeln!(out, ": \"${{REDIS_HOST:={host}}}\"");
    let _ = writeln!(out, ": \"${{REDIS_PORT:={port}}}\"");
    let _ = writeln!(out, ": \"${{{var}:?set {var}: the password of the monitoring user}}\"");
    out.push_str(
        "cli() {\n  \
         if [ -n \"${REDIS_ADMIN_USER:-}\" ]; then set -- --user \"$REDIS_ADMIN_USER\" \"$@\"; fi\n  \
         redis-cli -h \"$REDIS_HOST\" -p \"$REDIS_PORT\" \"$@\"\n\
         }\n",
    );
    let _ = writeln!(
        out,
        "reply=$(printf '>%s' \"${var}\" | cli -x ACL SETUSER {} reset on {})",
        sh(user),
        allowed.iter().map(|c| sh(c)).collect::<Vec<_>>().join(" ")
    );
    out.push_str(
        "if [ \"$reply\" != OK ]; then echo \"acl-user.sh: ACL SETUSER: $reply\" >&2; exit 1; fi\n\
         if [ -n \"$(cli CONFIG GET aclfile | sed -n 2p)\" ]; then\n  \
         cli ACL SAVE >/dev/null\n\
         else\n  \
         echo \"acl-user.sh: the server has no aclfile, so the user lasts until it restarts: run this again then, or add the user to its configuration\" >&2\n\
         fi\n",
    );
    out
}

/// What an Elasticsearch role and user need to be created.
struct EsUser<'a> {
    datastore: &'a str,
    url: String,
    role: &'a str,
    cluster: &'a [&'static str],
    indices: &'a [&'static str],
    user: &'a str,
    password: &'a EnvRef,
}

/// The shell script that creates (or updates) the Elasticsearch role and user.
fn elasticsearch_user(u: &EsUser<'_>) -> String {
    let var = u.password.name();
    let role_body = serde_json::json!({
        "cluster": u.cluster,
        "indices": [{ "names": ["*"], "privileges": u.indices }],
    });
    let roles = serde_json::json!([u.role]);
    let mut out = format!("#!/bin/sh\n# {HEADER}\n");
    out.push_str(&comment(
        "#",
        &format!(
            "The role and user the elasticsearch receiver logs in as on `{}`: role `{}` (cluster privileges\n\
             {}, index privileges {} on every index) and user `{}` with it. Needs curl, a user that manages\n\
             security in ELASTICSEARCH_ADMIN_USER (default elastic) with ELASTICSEARCH_ADMIN_PASSWORD, and the\n\
             user's password in `{var}`. Passwords reach curl on a file descriptor and its standard input, never\n\
             its command line. ELASTICSEARCH_URL says where the cluster is. Running it again updates both.",
            u.datastore,
            u.role,
            u.cluster.join(", "),
            u.indices.join(", "),
            u.user
        ),
    ));
    out.push_str("set -eu\n");
    let _ = writeln!(out, ": \"${{ELASTICSEARCH_URL:={}}}\"", u.url);
    out.push_str(": \"${ELASTICSEARCH_ADMIN_USER:=elastic}\"\n");
    out.push_str(
        ": \"${ELASTICSEARCH_ADMIN_PASSWORD:?set ELASTICSEARCH_ADMIN_PASSWORD: the password of ELASTICSEARCH_ADMIN_USER}\"\n",
    );
    let _ = writeln!(out, ": \"${{{var}:?set {var}: the password of the monitoring user}}\"");
    out.push_str(
        "# A JSON (and curl configuration) string: `\\` and `\"` escaped; control characters are refused.\n\
         quoted() {\n  \
         case \"$1\" in *[[:cntrl:]]*) echo \"monitoring-user.sh: a password has a control character\" >&2; exit 1 ;; esac\n  \
         printf '\"%s\"' \"$(printf '%s' \"$1\" | sed 's/[\\\\\"]/\\\\&/g')\"\n\
         }\n\
         # PUT the JSON on standard input to the path, as the admin user.\n\
         put() {\n  \
         curl -fsS -X PUT \"$ELASTICSEARCH_URL$1\" -H 'Content-Type: application/json' --data-binary @- -K /dev/fd/3 3<<EOF\n\
         user = $(quoted \"$ELASTICSEARCH_ADMIN_USER:$ELASTICSEARCH_ADMIN_PASSWORD\")\n\
         EOF\n  \
         echo\n\
         }\n",
    );
    // Refuse a bad password before any request (`quoted` in a here-document cannot stop the script).
    let _ = writeln!(
        out,
        "quoted \"$ELASTICSEARCH_ADMIN_USER:$ELASTICSEARCH_ADMIN_PASSWORD\" >/dev/null\nquoted \"${var}\" >/dev/null"
    );
    let _ = writeln!(
        out,
        "printf '%s' {} | put {}",
        sh(&role_body.to_string()),
        sh(&format!("/_security/role/{}", percent_encode(u.role)))
    );
    let _ = writeln!(
        out,
        "printf '{{\"password\":%s,\"roles\":%s}}' \"$(quoted \"${var}\")\" {} | put {}",
        sh(&roles.to_string()),
        sh(&format!("/_security/user/{}", percent_encode(u.user)))
    );
    out
}

/// `kafka-acls.sh`'s words for a resource.
fn kafka_resource(resource: KafkaResource) -> &'static str {
    match resource {
        KafkaResource::AnyTopic => "--topic '*'",
        KafkaResource::AnyGroup => "--group '*'",
    }
}

/// A shell function `name` that runs the Kafka tool `tool` (found on the PATH, in the image's
/// /opt/kafka/bin, or where `var` says) against `$KAFKA_BOOTSTRAP` with `args` and its own
/// arguments, with the admin client's settings from `$KAFKA_ADMIN_CONFIG` when given.
fn kafka_tool_function(name: &str, var: &str, tool: &str, args: &str) -> String {
    format!(
        "if [ -z \"${{{var}:-}}\" ]; then\n  \
         {var}=$(command -v {tool} || echo /opt/kafka/bin/{tool})\n\
         fi\n\
         {name}() {{\n  \
         if [ -n \"${{KAFKA_ADMIN_CONFIG:-}}\" ]; then set -- --command-config \"$KAFKA_ADMIN_CONFIG\" \"$@\"; fi\n  \
         \"${var}\" --bootstrap-server \"$KAFKA_BOOTSTRAP\" {args} \"$@\"\n\
         }}\n"
    )
}

/// The shell script that adds the Kafka ACLs.
fn kafka_acls(datastore: &str, bootstrap: &str, acls: &[KafkaAcl]) -> String {
    let mut out = format!("#!/bin/sh\n# {HEADER}\n");
    out.push_str(&comment(
        "#",
        &format!(
            "The ACLs the kafka_metrics receiver needs on `{datastore}` when its brokers run an authorizer (without\n\
             one, any client may describe the cluster and this is not needed). The stack gives the receiver no\n\
             Kafka credentials, so it connects as the principal of an unauthenticated listener, User:ANONYMOUS;\n\
             set KAFKA_MONITOR_PRINCIPAL when its connection maps to another. Needs kafka-acls.sh (KAFKA_ACLS\n\
             names it) and, when the brokers ask for them, the admin client's settings in KAFKA_ADMIN_CONFIG\n\
             (a --command-config file). KAFKA_BOOTSTRAP says where the brokers are. Adding an ACL again changes\n\
             nothing."
        ),
    ));
    out.push_str("set -eu\n");
    let _ = writeln!(out, ": \"${{KAFKA_BOOTSTRAP:={bootstrap}}}\"");
    out.push_str(": \"${KAFKA_MONITOR_PRINCIPAL:=User:ANONYMOUS}\"\n");
    out.push_str(&kafka_tool_function(
        "allow",
        "KAFKA_ACLS",
        "kafka-acls.sh",
        "--add --allow-principal \"$KAFKA_MONITOR_PRINCIPAL\"",
    ));
    for acl in acls {
        let operations: Vec<String> = acl.operations.iter().map(|o| format!("--operation {o}")).collect();
        let _ = writeln!(out, "allow {} {}", kafka_resource(acl.resource), operations.join(" "));
    }
    out
}

/// Where the script that creates the buffer's topics goes in the tree.
pub(crate) const BUFFER_TOPICS: &str = "provisioning/kafka-buffer/topics.sh";

/// The shell script that creates the buffer's topics on a Kafka cluster of the team's, with the
/// planned partitions and retention; creating them again changes nothing.
fn buffer_topics(plan: &Plan, b: &BufferPlan) -> String {
    let (flavor, ns) = (plan.primary, &plan.namespaces);
    let bootstrap: Vec<String> = b.brokers.iter().map(|a| a.host_port(flavor, ns)).collect();
    let mut out = format!("#!/bin/sh\n# {HEADER}\n");
    out.push_str(&comment(
        "#",
        &format!(
            "Creates the topics the gateway writes and the ingest tier (consumer group `{group}`) reads,\n\
             {partitions} partitions each (one per ingest replica at its most), keeping messages {retention}\n\
             minutes (twice the outage to survive, at least an hour). The gateway writes with acks=all, so\n\
             with KAFKA_REPLICATION_FACTOR (default 3) replicas a message is acknowledged once\n\
             KAFKA_MIN_INSYNC_REPLICAS (default 2) have it. Needs kafka-topics.sh (KAFKA_TOPICS names it) and,\n\
             when the brokers ask for them, the admin client's settings in KAFKA_ADMIN_CONFIG (a\n\
             --command-config file). KAFKA_BOOTSTRAP says where the brokers are. A topic that exists is\n\
             left as it is (check its partitions with --describe).",
            group = b.group_id,
            partitions = b.partitions,
            retention = b.retention_minutes,
        ),
    ));
    out.push_str("set -eu\n");
    // Broker addresses are host:port, validated: nothing in them the shell reads.
    let _ = writeln!(out, ": \"${{KAFKA_BOOTSTRAP:={}}}\"", bootstrap.join(","));
    out.push_str(": \"${KAFKA_REPLICATION_FACTOR:=3}\"\n: \"${KAFKA_MIN_INSYNC_REPLICAS:=2}\"\n");
    out.push_str(&kafka_tool_function(
        "create",
        "KAFKA_TOPICS",
        "kafka-topics.sh",
        "--create --if-not-exists \\\n    --replication-factor \"$KAFKA_REPLICATION_FACTOR\" --config \"min.insync.replicas=$KAFKA_MIN_INSYNC_REPLICAS\"",
    ));
    let retention_ms = b.retention_minutes * 60 * 1000;
    for topic in b.topics.values() {
        let _ = writeln!(
            out,
            "create --topic {} --partitions {} --config retention.ms={retention_ms}",
            sh(topic),
            b.partitions
        );
    }
    out
}

/// The script of one grant.
fn grant_script(plan: &Plan, datastore: &str, grant: &Grant) -> String {
    let (flavor, ns) = (plan.primary, &plan.namespaces);
    match grant {
        Grant::Postgres { user, member_of, password, databases } => {
            postgres_role(datastore, user, member_of, password, databases)
        }
        Grant::Redis { endpoint, user, commands, password } => {
            redis_user(datastore, &endpoint.resolved_host(flavor, ns), endpoint.port, user, commands, password)
        }
        Grant::Elasticsearch { endpoint, role, cluster, indices, user, password } => elasticsearch_user(&EsUser {
            datastore,
            url: endpoint.url(flavor, ns),
            role,
            cluster,
            indices,
            user,
            password,
        }),
        Grant::Kafka { brokers, acls } => {
            let bootstrap: Vec<String> = brokers.iter().map(|b: &Addr| b.host_port(flavor, ns)).collect();
            kafka_acls(datastore, &bootstrap.join(","), acls)
        }
    }
}

/// The provisioning files of every datastore.
pub(crate) fn emit(plan: &Plan, tree: &mut OutputTree) {
    for hook in &plan.deployment.file_logs {
        let Some(pg) = &hook.postgres else { continue };
        let text = format!(
            "# {HEADER}\n# The logging settings the agent that tails `{}`'s log files relies on. The compose overlay\n# and the Kubernetes patch pass them on the server's command line; for a server started\n# otherwise, include this file from its postgresql.conf (`include '…/logging.conf'`) and restart it.\n{}",
            hook.datastore,
            pg_conf_lines(pg)
        );
        tree.insert(format!("provisioning/{}/logging.conf", hook.datastore), text);
    }
    for access in &plan.deployment.access {
        let path = format!("provisioning/{}/{}", access.datastore, script_name(&access.grant));
        tree.insert(path, grant_script(plan, &access.datastore, &access.grant));
    }
    if let Some(b) = plan.buffer.as_ref().filter(|b| !b.deployed) {
        tree.insert(BUFFER_TOPICS.to_string(), buffer_topics(plan, b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_values_are_quoted_for_postgresql() {
        assert_eq!(pg_quote("%m [%p] "), "'%m [%p] '");
        assert_eq!(pg_quote("it's\\x"), "'it''s\\\\x'");
        let lines = pg_conf_lines(&PgLogging::new("/var/log/postgresql", "*.log"));
        assert!(lines.starts_with("logging_collector = 'on'\n"), "{lines}");
        assert!(lines.contains("log_line_prefix = '%m [%p] %q%u@%d '\n"), "{lines}");
    }

    #[test]
    fn stack_values_are_quoted_for_each_language() {
        assert_eq!(sh("it's $(x)"), r"'it'\''s $(x)'");
        assert_eq!(psql_arg(r"o'k\n"), r"'o''k\\n'");
        assert_eq!(sql_literal("o'k"), "'o''k'");
    }

    #[test]
    fn the_psql_script_reads_the_password_from_the_environment() {
        let pw = EnvRef::named("PG_MONITOR_PASSWORD");
        let sql = postgres_role("db", "otel's", "pg_monitor", &pw, &["postgres".into(), "dkp".into()]);
        assert!(sql.contains("\\getenv monitor_password PG_MONITOR_PASSWORD\n"), "{sql}");
        assert!(sql.contains("\\set monitor_user 'otel''s'\n"), "{sql}");
        assert!(sql.contains("WHERE datname IN ('postgres', 'dkp') \\gexec"), "{sql}");
        assert!(!sql.contains("${"), "{sql}");
    }
}
