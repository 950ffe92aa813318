//! Plan stage: the one-shot setup of a deployed Elasticsearch, run as its `elastic` superuser —
//! the writer that ingests telemetry (its role and user, under a password variable otelplan
//! names), the lifecycle that deletes each signal after its retention, and `kibana_system`'s
//! password. Decided here as a list of requests; the emitters write them as a script and JSON
//! bodies, and run them as a compose service or a Kubernetes Job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::env_ref::EnvRef;
use crate::model::keywords::Signal;
use crate::plan::address::Addr;
use crate::plan::backend_spec::RetentionSpec;
use crate::plan::collector::EsAuth;
use crate::topology::{BackendKind, Topology};

/// Who writes telemetry into Elasticsearch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EsWriter {
    /// APM Server, in front of Elasticsearch (A, B).
    ApmServer,
    /// The collectors' `elasticsearch` exporter (D).
    Collector,
}

impl EsWriter {
    /// The writer in `topology`: APM Server where it fronts Elasticsearch, else the collectors.
    pub(crate) fn of(topology: &Topology) -> EsWriter {
        if topology.intakes.get(&BackendKind::ApmServer) == Some(&BackendKind::Elasticsearch) {
            EsWriter::ApmServer
        } else {
            EsWriter::Collector
        }
    }
}

/// Index privileges on some indices, as Elasticsearch's role API takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndexPrivileges {
    /// Index names or patterns.
    pub(crate) names: Vec<String>,
    /// Privileges on them.
    pub(crate) privileges: Vec<String>,
}

/// A writer's user and role, as data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriterSpec {
    /// User (and role) name.
    pub(crate) user: String,
    /// The variable holding its password (otelplan names it).
    pub(crate) password: String,
    /// Cluster privileges.
    pub(crate) cluster: Vec<String>,
    /// Index privileges.
    pub(crate) indices: Vec<IndexPrivileges>,
}

/// When a backing index rolls over.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolloverSpec {
    /// Age, as Elasticsearch writes it (`1d`).
    pub(crate) max_age: String,
    /// Primary shard size (`10gb`).
    pub(crate) max_primary_shard_size: String,
}

/// The lifecycle the setup gives the telemetry data streams.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LifecycleSpec {
    /// Policies are named `<prefix>-<signal>`.
    pub(crate) policy_prefix: String,
    /// When a backing index rolls over.
    pub(crate) rollover: RolloverSpec,
    /// The component template, per signal, that carries the policy.
    pub(crate) component_templates: BTreeMap<Signal, String>,
}

/// How long the job waits and runs.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitSpec {
    /// Attempts to reach Elasticsearch.
    pub(crate) attempts: u32,
    /// Seconds between attempts.
    pub(crate) pause_seconds: u32,
}

/// `elasticsearch_setup` in `data/backends.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupSpec {
    /// Each writer's user and role.
    pub(crate) writers: BTreeMap<EsWriter, WriterSpec>,
    /// Data stream lifecycle.
    pub(crate) lifecycle: LifecycleSpec,
    /// Waiting for Elasticsearch.
    pub(crate) wait: WaitSpec,
    /// Seconds Kubernetes lets the Job run, retries included.
    pub(crate) deadline_seconds: u32,
    /// Seconds a finished Job is kept.
    pub(crate) keep_finished_seconds: u32,
}

impl SetupSpec {
    /// The spec of `writer` (the catalog is checked to have every writer).
    pub(crate) fn writer(&self, writer: EsWriter) -> anyhow::Result<&WriterSpec> {
        self.writers.get(&writer).ok_or_else(|| {
            anyhow::anyhow!("data/backends.yaml lacks the Elasticsearch writer {writer:?} (this is a bug in otelplan)")
        })
    }
}

/// The credential `writer` uses for a deployed sandbox: its own user, whose password variable
/// otelplan names (never the `elastic` superuser).
pub(crate) fn sandbox_auth(spec: &SetupSpec, writer: EsWriter) -> anyhow::Result<EsAuth> {
    let w = spec.writer(writer)?;
    Ok(EsAuth::Basic { user: w.user.clone(), password: EnvRef::named(&w.password) })
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Method {
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
}

impl Method {
    /// As HTTP writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Put => "PUT",
            Method::Post => "POST",
        }
    }
}

/// One request the setup sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EsRequest {
    /// What it does, for the job's log.
    pub(crate) what: String,
    /// Method.
    pub(crate) method: Method,
    /// Path (with a leading `/`).
    pub(crate) path: String,
    /// The body's file name (letters, digits, `-`, `_`, `.`: a ConfigMap key).
    pub(crate) file: String,
    /// The body.
    pub(crate) body: Value,
    /// The container variable whose value the job adds to the body as `password`.
    pub(crate) password: Option<String>,
}

/// The setup of a deployed Elasticsearch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EsSetup {
    /// Its workload name (compose service; the Kubernetes Job's name before its content hash).
    pub(crate) name: String,
    /// Image with tag (Elasticsearch's: it has bash and curl).
    pub(crate) image: String,
    /// The Elasticsearch it sets up.
    pub(crate) elasticsearch: Addr,
    /// The container variables that hold passwords, and the secrets they come from: the
    /// superuser's first.
    pub(crate) passwords: Vec<(String, EnvRef)>,
    /// The requests, in order.
    pub(crate) requests: Vec<EsRequest>,
    /// Attempts to reach Elasticsearch before giving up.
    pub(crate) wait_attempts: u32,
    /// Seconds between them.
    pub(crate) wait_pause_seconds: u32,
    /// Seconds Kubernetes lets the Job run.
    pub(crate) deadline_seconds: u32,
    /// Seconds a finished Job is kept.
    pub(crate) keep_finished_seconds: u32,
}

/// The container variable of the superuser's password.
pub(crate) const SUPERUSER_PASSWORD_VAR: &str = "ELASTIC_PASSWORD";
/// The container variable of `kibana_system`'s password.
const KIBANA_PASSWORD_VAR: &str = "KIBANA_SYSTEM_PASSWORD";

/// What the setup needs to know about the sandbox.
pub(crate) struct SetupInput<'a> {
    /// Workload name.
    pub(crate) name: String,
    /// Image.
    pub(crate) image: String,
    /// Where Elasticsearch listens.
    pub(crate) elasticsearch: Addr,
    /// The `elastic` user's password.
    pub(crate) superuser_password: EnvRef,
    /// `kibana_system`'s password.
    pub(crate) kibana_password: EnvRef,
    /// Who writes telemetry.
    pub(crate) writer: EsWriter,
    /// How long each signal is kept.
    pub(crate) retention: &'a RetentionSpec,
}

fn policy_requests(spec: &LifecycleSpec, retention: &RetentionSpec) -> Vec<EsRequest> {
    let mut out = Vec::new();
    for (signal, template) in &spec.component_templates {
        let Some(days) = retention.days(*signal) else { continue };
        let policy = format!("{}-{}", spec.policy_prefix, signal.as_str());
        out.push(EsRequest {
            what: format!("lifecycle policy `{policy}`: {} deleted after {days} days", signal.as_str()),
            method: Method::Put,
            path: format!("/_ilm/policy/{policy}"),
            file: format!("policy-{}.json", signal.as_str()),
            body: json!({ "policy": {
                "_meta": { "managed_by": "otelplan", "description": format!("{} kept {days} days", signal.as_str()) },
                "phases": {
                    "hot": { "actions": { "rollover": spec.rollover } },
                    "delete": { "min_age": format!("{days}d"), "actions": { "delete": {} } },
                },
            } }),
            password: None,
        });
        out.push(EsRequest {
            what: format!("component template `{template}`: {} data streams use `{policy}`", signal.as_str()),
            method: Method::Put,
            path: format!("/_component_template/{template}"),
            file: format!("template-{}.json", signal.as_str()),
            body: json!({
                "template": { "settings": { "index": { "lifecycle": { "name": policy, "prefer_ilm": true } } } },
                "_meta": { "managed_by": "otelplan", "description": format!("{} retention", signal.as_str()) },
            }),
            password: None,
        });
    }
    out
}

fn writer_requests(w: &WriterSpec, password_var: &str) -> [EsRequest; 2] {
    [
        EsRequest {
            what: format!("role `{}`", w.user),
            method: Method::Put,
            path: format!("/_security/role/{}", w.user),
            file: format!("role-{}.json", w.user),
            body: json!({
                "cluster": w.cluster,
                "indices": w.indices,
                "metadata": { "managed_by": "otelplan" },
            }),
            password: None,
        },
        EsRequest {
            what: format!("user `{}`", w.user),
            method: Method::Put,
            path: format!("/_security/user/{}", w.user),
            file: format!("user-{}.json", w.user),
            body: json!({ "roles": [w.user], "full_name": "telemetry writer (otelplan)", "metadata": { "managed_by": "otelplan" } }),
            password: Some(password_var.to_string()),
        },
    ]
}

/// The setup of a deployed Elasticsearch.
pub(crate) fn plan(spec: &SetupSpec, input: SetupInput<'_>) -> anyhow::Result<EsSetup> {
    let writer = spec.writer(input.writer)?;
    let mut requests = policy_requests(&spec.lifecycle, input.retention);
    requests.extend(writer_requests(writer, &writer.password));
    requests.push(EsRequest {
        what: "`kibana_system`'s password".to_string(),
        method: Method::Post,
        path: "/_security/user/kibana_system/_password".to_string(),
        file: "password-kibana_system.json".to_string(),
        body: json!({}),
        password: Some(KIBANA_PASSWORD_VAR.to_string()),
    });
    for (i, r) in requests.iter_mut().enumerate() {
        r.file = format!("{:02}-{}", i + 1, r.file);
    }
    Ok(EsSetup {
        name: input.name,
        image: input.image,
        elasticsearch: input.elasticsearch,
        passwords: vec![
            (SUPERUSER_PASSWORD_VAR.to_string(), input.superuser_password),
            (KIBANA_PASSWORD_VAR.to_string(), input.kibana_password),
            (writer.password.clone(), EnvRef::named(&writer.password)),
        ],
        requests,
        wait_attempts: spec.wait.attempts,
        wait_pause_seconds: spec.wait.pause_seconds,
        deadline_seconds: spec.deadline_seconds,
        keep_finished_seconds: spec.keep_finished_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;
    use crate::plan::backend_spec::Catalog;

    fn setup(writer: EsWriter) -> EsSetup {
        let c = Catalog::get().unwrap();
        let es = c.backend(BackendKind::Elasticsearch);
        plan(
            &c.elasticsearch_setup,
            SetupInput {
                name: "dkp-elasticsearch-setup".into(),
                image: "es".into(),
                elasticsearch: Addr::internal("elasticsearch", 9200, None),
                superuser_password: EnvRef::named("ELASTIC_PASSWORD"),
                kibana_password: EnvRef::named("KIBANA_SYSTEM_PASSWORD"),
                writer,
                retention: &es.data.as_ref().unwrap().retention,
            },
        )
        .unwrap()
    }

    #[test]
    fn apm_server_writes_in_a_and_b_the_collectors_in_d() {
        let writer = |id| EsWriter::of(&Topology::load(TopologyId::parse(id).unwrap()).unwrap());
        assert_eq!(writer("A"), EsWriter::ApmServer);
        assert_eq!(writer("B"), EsWriter::ApmServer);
        assert_eq!(writer("D"), EsWriter::Collector);
    }

    #[test]
    fn ingestion_gets_its_own_user_never_the_superuser() {
        let c = Catalog::get().unwrap();
        for writer in [EsWriter::ApmServer, EsWriter::Collector] {
            let EsAuth::Basic { user, password } = sandbox_auth(&c.elasticsearch_setup, writer).unwrap() else {
                panic!("a writer authenticates with a user")
            };
            assert_ne!(user, "elastic");
            assert_ne!(password.name(), "ELASTIC_PASSWORD");
            let s = setup(writer);
            let created: Vec<&EsRequest> =
                s.requests.iter().filter(|r| r.path == format!("/_security/user/{user}")).collect();
            assert_eq!(created.len(), 1, "the setup creates the user it uses");
            assert_eq!(created[0].password.as_deref(), Some(password.name()));
            assert!(s.passwords.iter().any(|(var, env)| var == password.name() && env == &password));
        }
    }

    #[test]
    fn every_signal_gets_a_policy_that_deletes_it_after_its_retention() {
        let s = setup(EsWriter::Collector);
        for (signal, days) in [("traces", 7), ("logs", 7), ("metrics", 30)] {
            let policy = s.requests.iter().find(|r| r.path == format!("/_ilm/policy/otelplan-{signal}")).unwrap();
            assert_eq!(policy.body["policy"]["phases"]["delete"]["min_age"], format!("{days}d"));
            let template =
                s.requests.iter().find(|r| r.path == format!("/_component_template/{signal}@custom")).unwrap();
            let lifecycle = &template.body["template"]["settings"]["index"]["lifecycle"];
            assert_eq!(lifecycle["name"], format!("otelplan-{signal}"));
            assert_eq!(lifecycle["prefer_ilm"], true);
        }
        let files: Vec<&str> = s.requests.iter().map(|r| r.file.as_str()).collect();
        assert!(files.iter().all(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))), "{files:?}");
        assert!(files.windows(2).all(|w| w[0] < w[1]), "files sort in request order: {files:?}");
    }
}
