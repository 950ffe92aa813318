//! The names otelplan derives from the stack's `name` for the workloads it runs: one place, read
//! by validation (a service may not take one) and by the planner (which gives them).

/// Suffixes of the workloads otelplan names `<stack>-<suffix>`, besides the file agents.
pub(crate) const WORKLOAD_SUFFIXES: [&str; 9] = [
    "gateway",
    "scraper",
    "node-agent",
    "volume-init",
    "kibana",
    "elasticsearch-setup",
    "grafana",
    "javaagent-init",
    "ingest",
];

/// The workload `suffix` of stack `stack` (before Kubernetes' length limit is applied).
pub(crate) fn workload(stack: &str, suffix: &str) -> String {
    format!("{stack}-{suffix}")
}

/// The file agent beside datastore `datastore`.
pub(crate) fn file_agent(stack: &str, datastore: &str) -> String {
    format!("{stack}-agent-{datastore}")
}
