//! The deployment side of the plan: which backends run as sandboxes, their images, the hooks
//! into the team's own datastores (shared log directories, container-log labels, the Java
//! agent) and which secrets each namespace needs. The compose and Kubernetes emitters read it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::env_ref::EnvRef;
use crate::model::keywords::{ServiceKind, WorkloadKind};
use crate::plan::address::{Addr, Flavor, Namespaces};
use crate::plan::app::{percent_encode, EnvValue, APP_PROTOCOL};
use crate::plan::es_setup::EsSetup;
use crate::plan::ingress::StoreIngress;
use crate::plan::provision::{MonitorAccess, PgLogging};
use crate::plan::store_config::StoreConfig;
use crate::topology::BackendKind;

/// A small image with a shell, for one-shot setup steps (volume ownership).
pub(crate) const BUSYBOX_IMAGE: &str = "busybox:1.37.0";
/// The OpenTelemetry Operator's Java agent image (the tag Operator 0.160.0 pins in its
/// `versions.txt`); it holds the agent at `/javaagent.jar` and has `cp`.
pub(crate) const JAVA_AGENT_IMAGE: &str =
    "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:2.31.1";
/// Where the Java agent jar is mounted in the broker's container.
pub(crate) const JAVA_AGENT_DIR: &str = "/otel-auto-instrumentation";
/// A backend that otelplan runs as a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DeployedBackend {
    /// Which backend.
    pub(crate) kind: BackendKind,
    /// Its service name: the endpoint's host.
    pub(crate) name: String,
    /// Image with tag.
    pub(crate) image: String,
    /// The port of its endpoint.
    pub(crate) port: u16,
}

/// Kibana beside a deployed Elasticsearch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Kibana {
    /// Service name.
    pub(crate) name: String,
    /// Image with tag (the Elasticsearch version).
    pub(crate) image: String,
    /// The Elasticsearch it reads.
    pub(crate) elasticsearch: Addr,
}

/// Grafana with the stores of topology C as data sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Grafana {
    /// Service name.
    pub(crate) name: String,
    /// Data sources: (kind, base URL address).
    pub(crate) sources: Vec<(BackendKind, Addr)>,
}

/// A datastore's existing workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Workload {
    /// Kubernetes kind.
    pub(crate) kind: WorkloadKind,
    /// Workload name (compose: the service's name in the stack).
    pub(crate) name: String,
    /// Container name.
    pub(crate) container: String,
}

/// A datastore whose log files an agent tails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FileLogHook {
    /// The service's name in the stack.
    pub(crate) datastore: String,
    /// Its kind (for the README's advice).
    pub(crate) kind: ServiceKind,
    /// The directory shared with the agent: the glob's part before its first wildcard.
    pub(crate) dir: String,
    /// The agent's collector role name.
    pub(crate) agent: String,
    /// The shared volume's name.
    pub(crate) volume: String,
    /// Its existing workload.
    pub(crate) workload: Workload,
    /// The user that writes the datastore's log files (`logs.owner`, else its official
    /// image's).
    pub(crate) owner: u32,
    /// The group of those files; the agent joins it.
    pub(crate) group: u32,
    /// The server settings that write the files as the agent reads them (PostgreSQL).
    pub(crate) postgres: Option<PgLogging>,
    /// The size limit of the shared directory on Kubernetes, where otelplan's settings rotate
    /// the files (for other servers, their own rotation decides, which otelplan does not see).
    pub(crate) size_limit_mib: Option<u32>,
}

/// A Kafka cluster whose brokers get the Java agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct JmxHook {
    /// The service's name in the stack.
    pub(crate) datastore: String,
    /// Its existing workload.
    pub(crate) workload: Workload,
    /// Where the agent exports (OTLP/HTTP base URL).
    pub(crate) endpoint: Addr,
    /// Credential header, in B.
    pub(crate) auth: Option<(String, EnvRef)>,
}

/// A datastore whose container logs the node agent reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StdoutHook {
    /// The service's name in the stack.
    pub(crate) datastore: String,
    /// Its existing workload.
    pub(crate) workload: Workload,
}

/// The deployment side of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Deployment {
    /// Sandboxed backends the topology uses, by name.
    pub(crate) backends: Vec<DeployedBackend>,
    /// Kibana, when Elasticsearch is deployed.
    pub(crate) kibana: Option<Kibana>,
    /// The one-shot setup of a deployed Elasticsearch (writer user, retention, Kibana's user).
    pub(crate) elasticsearch_setup: Option<EsSetup>,
    /// The configuration otelplan writes for each deployed store that has one.
    pub(crate) store_configs: BTreeMap<BackendKind, StoreConfig>,
    /// The store the collectors' own metrics land in, where otelplan's alerts apply (`alerts/`).
    pub(crate) alerts: Option<BackendKind>,
    /// Who may connect to each deployed store without authentication of its own.
    pub(crate) store_ingress: Vec<StoreIngress>,
    /// Grafana, in topology C when a store is deployed.
    pub(crate) grafana: Option<Grafana>,
    /// Datastores with log files.
    pub(crate) file_logs: Vec<FileLogHook>,
    /// Datastores whose container logs are read.
    pub(crate) stdout_logs: Vec<StdoutHook>,
    /// Kafka clusters with the Java agent.
    pub(crate) jmx: Vec<JmxHook>,
    /// What each scraped datastore must grant its receiver.
    pub(crate) access: Vec<MonitorAccess>,
    /// The name of the Secret (in each namespace) that holds the referenced variables.
    pub(crate) secret_name: String,
    /// The name of the Secret that holds the TLS files the configs name.
    pub(crate) tls_secret_name: String,
    /// Variables the observability side reads.
    pub(crate) observability_secrets: BTreeSet<EnvRef>,
    /// Variables the app side reads (apps, sidecars, the Java agent).
    pub(crate) app_secrets: BTreeSet<EnvRef>,
    /// The variable holding the `elastic` superuser's password of a deployed Elasticsearch (its
    /// container and setup job read it; nothing that ingests does).
    pub(crate) elasticsearch_password: Option<EnvRef>,
    /// The variable holding `kibana_system`'s password (named by otelplan).
    pub(crate) kibana_password: EnvRef,
    /// The variable holding Kibana's saved-objects encryption key (named by otelplan).
    pub(crate) kibana_encryption_key: EnvRef,
    /// The variable holding Grafana's admin password (named by otelplan).
    pub(crate) grafana_password: EnvRef,
    /// The volume or hostPath name prefix for per-role storage (`<stack>`).
    pub(crate) prefix: String,
    /// The one-shot compose service that hands named volumes to their writers.
    pub(crate) volume_init: String,
    /// The one-shot that puts the Java agent on its volume.
    pub(crate) javaagent_init: String,
}

impl JmxHook {
    /// The broker's environment: the agent on the JVM and where it sends metrics.
    pub(crate) fn env(&self, flavor: Flavor, ns: &Namespaces, environment: &str) -> Vec<(String, EnvValue)> {
        let lit = |k: &str, v: String| (k.to_string(), EnvValue::Literal(v));
        let mut env = vec![
            lit("JAVA_TOOL_OPTIONS", format!("-javaagent:{JAVA_AGENT_DIR}/javaagent.jar")),
            lit("OTEL_SERVICE_NAME", self.datastore.clone()),
            lit("OTEL_RESOURCE_ATTRIBUTES", format!("deployment.environment.name={}", percent_encode(environment))),
            lit("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.url(flavor, ns)),
            lit("OTEL_EXPORTER_OTLP_PROTOCOL", APP_PROTOCOL.to_string()),
            lit("OTEL_METRICS_EXPORTER", "otlp".to_string()),
            lit("OTEL_TRACES_EXPORTER", "none".to_string()),
            lit("OTEL_LOGS_EXPORTER", "none".to_string()),
            lit("OTEL_JMX_TARGET_SYSTEM", "kafka-broker".to_string()),
        ];
        if let Some((scheme, secret)) = &self.auth {
            env.push((
                "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
                EnvValue::Secret { prefix: format!("Authorization={scheme}%20"), env: secret.clone() },
            ));
        }
        env
    }
}

/// A Kubernetes object name: at most 63 characters, long names shortened with a stable hash
/// suffix (FNV-1a of the whole name) so they stay unique and deterministic.
pub(crate) fn k8s_name(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let head = name[..54].trim_end_matches('-');
    format!("{head}-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_shortened_stably() {
        assert_eq!(k8s_name("dkp-gateway"), "dkp-gateway");
        let long = format!("{}-agent-{}", "a".repeat(40), "b".repeat(30));
        let short = k8s_name(&long);
        assert!(short.len() <= 63, "{short}");
        assert_eq!(short, k8s_name(&long));
        assert_ne!(short, k8s_name(&format!("{long}x")));
        assert!(short.starts_with("aaaa") && !short.contains("--"));
    }
}
