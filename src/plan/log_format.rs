//! How a datastore's log files are written and read (plan stage): the format otelplan asks a
//! server to write, which the file agent's `file_log` receiver then parses (the collector
//! emitter translates it into operators).

use serde::Serialize;

/// The format of a datastore's log files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum LogFormat {
    /// One record per line, as written (otelplan does not set the server's format).
    Lines,
    /// PostgreSQL's `stderr` format with [`PG_LOG_LINE_PREFIX`] and UTC timestamps: a message
    /// continues on lines that start with a tab (a multi-line statement), and its `DETAIL`,
    /// `HINT`, `CONTEXT`, `QUERY`, `STATEMENT` and `LOCATION` lines follow it with the prefix.
    PostgresStderr,
}

/// The `log_line_prefix` otelplan asks PostgreSQL for: time with milliseconds and zone, the
/// process id, and `user@database` for session processes (`%q` ends the prefix for the others).
/// It is Debian's packaged default, and extends PostgreSQL's own default (`%m [%p] `), which the
/// agent parses too.
pub(crate) const PG_LOG_LINE_PREFIX: &str = "%m [%p] %q%u@%d ";

/// The severities a PostgreSQL message starts with; the other labels (`DETAIL`, `STATEMENT`, …)
/// continue the message before them.
pub(crate) const PG_MESSAGE_SEVERITIES: [&str; 12] =
    ["DEBUG5", "DEBUG4", "DEBUG3", "DEBUG2", "DEBUG1", "INFO", "NOTICE", "WARNING", "ERROR", "LOG", "FATAL", "PANIC"];
