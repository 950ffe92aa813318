//! Plan stage: the collector roles as data (`data/roles.yaml`, embedded): how each role is
//! placed and sized. The planner's passes create roles; the sizing module reads these numbers;
//! emitters translate a role's placement into objects.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const SOURCE: &str = include_str!("../../data/roles.yaml");

/// How a role's collectors are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Placement {
    /// Several replicas behind a Service, an autoscaler between a minimum and a maximum.
    Scaled,
    /// Exactly one replica.
    Single,
    /// One on every node.
    PerNode,
    /// Beside a datastore, sharing its files (in its pod on Kubernetes).
    Sidecar,
    /// A fixed set of replicas, each one addressed by the senders (which route by trace id).
    Ring,
}

/// One role kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleSpec {
    /// How people call it.
    pub(crate) title: String,
    /// Placement.
    pub(crate) placement: Placement,
    /// Its container gets `collector.memory_limit_mib` divided by this.
    pub(crate) memory_divisor: u32,
    /// CPU request per replica, millicores.
    pub(crate) cpu_millicores: u32,
    /// Size of its own storage volume (queue, read positions), where it has one.
    #[serde(default)]
    pub(crate) storage_gib: Option<u32>,
    /// Whether it enriches telemetry with pod metadata from the Kubernetes API.
    #[serde(default)]
    pub(crate) pod_metadata: bool,
    /// Whether it receives OTLP from other workloads (ports 4317 and 4318 behind a Service).
    #[serde(default)]
    pub(crate) listens_otlp: bool,
}

/// Every role kind, by its key (`gateway`, `scraper`, `file-agent`, `node-agent`).
pub(crate) fn roles() -> anyhow::Result<&'static BTreeMap<String, RoleSpec>> {
    static PARSED: OnceLock<Result<BTreeMap<String, RoleSpec>, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| serde_yaml::from_str(SOURCE).map_err(|e| format!("data/roles.yaml: {e}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e} (this is a bug in otelplan)"))
}

/// The role kind `key`.
pub(crate) fn role(key: &str) -> anyhow::Result<&'static RoleSpec> {
    roles()?.get(key).ok_or_else(|| anyhow::anyhow!("data/roles.yaml has no role `{key}` (this is a bug in otelplan)"))
}
