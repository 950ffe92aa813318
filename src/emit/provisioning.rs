//! Emit stage: `provisioning/`, what the team applies to its own datastores — per datastore,
//! the server settings otelplan's agents rely on, as the server's own configuration files.

use std::fmt::Write as _;

use crate::emit::yaml::HEADER;
use crate::emit::OutputTree;
use crate::plan::provision::PgLogging;
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
}
