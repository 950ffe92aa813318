//! What must exist on the team's own datastores for otelplan's collectors to work (plan stage):
//! the PostgreSQL settings its file agent relies on, and per scraped datastore the access its
//! receiver logs in with — the least each receiver's own requests need. The compose overlay and
//! the Kubernetes patches apply the settings; `provisioning/` carries the rest as files the team
//! runs against its servers.

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::plan::address::Addr;
use crate::plan::log_format::PG_LOG_LINE_PREFIX;

/// How many hourly log files PostgreSQL keeps: one per hour of the day (`%H`), each truncated
/// when its name comes round again, so the directory holds the last day.
pub(crate) const PG_LOG_FILES: u32 = 24;
/// The size limit of a PostgreSQL log directory shared on Kubernetes (an `emptyDir`): about
/// 40 MiB an hour for a day of hourly files. A pod whose `emptyDir` outgrows its limit is
/// evicted, so it is a backstop above the rotation, not the bound itself.
pub(crate) const PG_LOG_DIR_LIMIT_MIB: u32 = 1024;

/// The logging settings of a PostgreSQL server whose log files an agent tails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PgLogging {
    /// `(name, value)` in `postgresql.conf` order; values unquoted, as the server reads them.
    pub(crate) settings: Vec<(String, String)>,
    /// Whether the settings rotate the files by name (the log glob's file name has a `*`).
    pub(crate) rotated: bool,
}

impl PgLogging {
    /// The settings for files matching `file_pattern` (the glob's file name) in `dir`: the
    /// logging collector writes the `stderr` format the agent parses, group-readable, in UTC;
    /// where the pattern allows, one file per hour of the day, truncated a day later.
    pub(crate) fn new(dir: &str, file_pattern: &str) -> PgLogging {
        let set = |name: &str, value: &str| (name.to_string(), value.to_string());
        let mut settings =
            vec![set("logging_collector", "on"), set("log_destination", "stderr"), set("log_directory", dir)];
        let hourly = hourly_file_name(file_pattern);
        if let Some(name) = &hourly {
            settings.extend([
                set("log_filename", name),
                set("log_rotation_age", "60"),
                // Size-driven rotation reopens the hour's file for appending: it bounds nothing.
                set("log_rotation_size", "0"),
                set("log_truncate_on_rotation", "on"),
            ]);
        }
        settings.extend([
            set("log_file_mode", "0640"),
            set("log_line_prefix", PG_LOG_LINE_PREFIX),
            set("log_timezone", "UTC"),
        ]);
        PgLogging { settings, rotated: hourly.is_some() }
    }

    /// The server's command line: `postgres -c name=value …` (the official image's entrypoint
    /// runs it as the postgres user).
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec!["postgres".to_string()];
        for (name, value) in &self.settings {
            args.push("-c".to_string());
            args.push(format!("{name}={value}"));
        }
        args
    }
}

/// The PostgreSQL role the `postgresql` receiver's user gets: `pg_monitor` reads every
/// statistics view the receiver queries (its README asks for it, and for `SELECT` on
/// `pg_stat_database` at least).
pub(crate) const PG_MONITOR_ROLE: &str = "pg_monitor";
/// The database the `postgresql` receiver always connects to (it lists databases there).
pub(crate) const PG_MAINTENANCE_DB: &str = "postgres";
/// The Redis commands the `redis` receiver runs: `INFO all`, and nothing else (its client's
/// `HELLO`/`AUTH` handshake is open to every user).
pub(crate) const REDIS_COMMANDS: [&str; 1] = ["info"];
/// The Elasticsearch cluster privileges the `elasticsearch` receiver needs (its README:
/// `monitor` or `manage`): node, cluster and version information.
pub(crate) const ES_CLUSTER_PRIVILEGES: [&str; 1] = ["monitor"];
/// The index privileges it needs on every index for index statistics (`_all/_stats`, which
/// leaves out the indices a user may not monitor).
pub(crate) const ES_INDEX_PRIVILEGES: [&str; 1] = ["monitor"];

/// What a receiver needs granted on a datastore, for `provisioning/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct MonitorAccess {
    /// The service's name in the stack.
    pub(crate) datastore: String,
    /// What to grant.
    pub(crate) grant: Grant,
}

/// The access one receiver logs in with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum Grant {
    /// A PostgreSQL login role, member of a predefined role, allowed to connect to the
    /// databases.
    Postgres {
        /// The role's name.
        user: String,
        /// The predefined role it is granted ([`PG_MONITOR_ROLE`]).
        member_of: &'static str,
        /// Its password.
        password: EnvRef,
        /// Databases it connects to ([`PG_MAINTENANCE_DB`] first); empty: every database.
        databases: Vec<String>,
    },
    /// A Redis ACL user allowed some commands only, and no keys or channels.
    Redis {
        /// The server.
        endpoint: Addr,
        /// The user's name.
        user: String,
        /// The commands it may run ([`REDIS_COMMANDS`]).
        commands: Vec<&'static str>,
        /// Its password.
        password: EnvRef,
    },
    /// An Elasticsearch role with the receiver's privileges, and a user with that role.
    Elasticsearch {
        /// The cluster.
        endpoint: Addr,
        /// The role's name.
        role: String,
        /// Its cluster privileges ([`ES_CLUSTER_PRIVILEGES`]).
        cluster: Vec<&'static str>,
        /// Its privileges on every index ([`ES_INDEX_PRIVILEGES`]).
        indices: Vec<&'static str>,
        /// The user's name.
        user: String,
        /// Its password.
        password: EnvRef,
    },
    /// Kafka ACLs for the principal the `kafka_metrics` receiver connects as, when the
    /// cluster has an authorizer.
    Kafka {
        /// The brokers.
        brokers: Vec<Addr>,
        /// What to allow.
        acls: Vec<KafkaAcl>,
    },
}

/// Kafka operations allowed on one kind of resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct KafkaAcl {
    /// The resource.
    pub(crate) resource: KafkaResource,
    /// Operations, as `kafka-acls.sh --operation` names them.
    pub(crate) operations: Vec<&'static str>,
}

/// A Kafka resource an ACL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum KafkaResource {
    /// Every topic (`*`).
    AnyTopic,
    /// Every consumer group (`*`).
    AnyGroup,
}

/// The ACLs of the `kafka_metrics` receiver's scrapers (brokers, topics, consumers) as otelplan
/// configures them: topic metadata and offsets (`Describe` on topics), consumer groups and their
/// committed offsets (`Describe` on groups). Listing brokers needs nothing; `DescribeConfigs`
/// serves only the retention metrics, which are off by default and otelplan leaves off. Without
/// these ACLs an authorizer hides topics and groups silently: the receiver reports only
/// `kafka.brokers`.
pub(crate) fn kafka_acls() -> Vec<KafkaAcl> {
    vec![
        KafkaAcl { resource: KafkaResource::AnyTopic, operations: vec!["Describe"] },
        KafkaAcl { resource: KafkaResource::AnyGroup, operations: vec!["Describe"] },
    ]
}

/// `log_filename` for files that `pattern` (a glob's file name) matches, one per hour of the
/// day: its first `*` becomes the hour (`%H`), after `postgresql-` when it starts the name.
/// `None` when the pattern has no `*`, or other wildcards a file name cannot be made from.
pub(crate) fn hourly_file_name(pattern: &str) -> Option<String> {
    if pattern.contains(['?', '[', ']', '{', '}']) {
        return None;
    }
    let escaped = pattern.replace('%', "%%");
    let (head, tail) = escaped.split_once('*')?;
    let head = if head.is_empty() { "postgresql-" } else { head };
    Some(format!("{head}%H{}", tail.replace('*', "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_star_of_the_file_name_becomes_the_hour() {
        assert_eq!(hourly_file_name("*.log").as_deref(), Some("postgresql-%H.log"));
        assert_eq!(hourly_file_name("pg-*.log").as_deref(), Some("pg-%H.log"));
        assert_eq!(hourly_file_name("100%-*.log").as_deref(), Some("100%%-%H.log"));
        assert_eq!(hourly_file_name("a*b*.log").as_deref(), Some("a%Hb.log"));
        assert_eq!(hourly_file_name("postgresql.log"), None);
        assert_eq!(hourly_file_name("pg-?.log"), None);
    }

    #[test]
    fn rotation_is_set_only_when_the_files_can_be_named_by_the_hour() {
        let hourly = PgLogging::new("/var/log/postgresql", "*.log");
        assert!(hourly.rotated);
        let get = |p: &PgLogging, name: &str| p.settings.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        assert_eq!(get(&hourly, "log_filename").as_deref(), Some("postgresql-%H.log"));
        assert_eq!(get(&hourly, "log_truncate_on_rotation").as_deref(), Some("on"));
        let fixed = PgLogging::new("/var/log/postgresql", "server.log");
        assert!(!fixed.rotated);
        assert_eq!(get(&fixed, "log_filename"), None);
        assert_eq!(get(&fixed, "log_line_prefix").as_deref(), Some(PG_LOG_LINE_PREFIX));
    }

    #[test]
    fn args_set_each_setting_on_the_command_line() {
        let args = PgLogging::new("/logs", "*.log").args();
        assert_eq!(&args[..3], ["postgres", "-c", "logging_collector=on"]);
        assert!(args.contains(&"log_line_prefix=%m [%p] %q%u@%d ".to_string()));
    }
}
