//! Synthetic stack files of any size, for the benchmark, the performance measurements and
//! the tests that need a large stack. Not part of the pipeline: a generator of its input.
//!
//! A stack of `n` services is mostly Django services (four in five) plus datastores of every
//! kind, with the optional fields varied from service to service, all five backends described
//! (some deployed) and `topology: auto`, so a render plans and scores every topology as it
//! does for `examples/dkp.yaml`. The text is deterministic: the same `n` gives the same file.

use std::fmt::Write as _;

/// The head of every synthetic stack: settings and every backend.
const HEAD: &str = r#"version: 1
name: synthetic
environment: load-test
topology: auto
priorities: [long-term-support, portability, resilience, simplicity, correlation]
collector: { gateway_replicas: 3, memory_limit_mib: 1024, persistent_queue: true }
backends:
  elasticsearch: { endpoint: "http://elasticsearch:9200", deploy: true, username: elastic, password: "${ELASTIC_PASSWORD}" }
  apm_server: { endpoint: "http://apm-server:8200", deploy: true, secret_token: "${ELASTIC_APM_SECRET_TOKEN}" }
  jaeger: { endpoint: "http://jaeger:4317", deploy: true }
  prometheus: { endpoint: "http://prometheus:9090" }
  loki: { endpoint: "http://loki:3100", deploy: true, tenant: synthetic }
kubernetes: { namespace: observability, app_namespace: apps }
services:
"#;

/// A stack file with `n` services in all (at least one, a Django service).
pub fn stack(n: usize) -> String {
    let mut out = String::with_capacity(HEAD.len() + 64 * n.max(1));
    out.push_str(HEAD);
    for i in 0..n.max(1) {
        let line = match i % 20 {
            4 => postgres(i),
            9 => redis(i),
            14 => elasticsearch(i),
            19 => kafka(i),
            _ => django(i),
        };
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// A Django service; every few have fewer signals, listed instrumentations or a workload.
fn django(i: usize) -> String {
    let mut fields = format!("kind: django, replicas: {}", 1 + i % 3);
    match i % 7 {
        1 => fields.push_str(", signals: [traces, logs]"),
        3 => fields.push_str(", instrumentations: [psycopg2, redis]"),
        5 => {
            let _ = write!(fields, ", kubernetes: {{ kind: StatefulSet, name: legacy-{i}, container: app }}");
        }
        _ => {}
    }
    format!("app-{i}: {{ {fields} }}")
}

/// A PostgreSQL server: a monitoring user, databases, file or container logs.
fn postgres(i: usize) -> String {
    let logs = match i % 3 {
        0 => ", logs: { path: /var/log/postgresql/*.log }",
        1 => ", logs: stdout",
        _ => "",
    };
    format!(
        "pg-{i}: {{ kind: postgres, endpoint: \"pg-{i}:5432\", databases: [app, reports], username: monitor, password: \"${{PG_PASSWORD}}\"{logs} }}"
    )
}

/// A Redis server, with an ACL user on every other one.
fn redis(i: usize) -> String {
    let auth = if i % 2 == 0 { ", username: monitor, password: \"${REDIS_PASSWORD}\"" } else { "" };
    let logs = if i % 3 == 0 { ", logs: stdout" } else { "" };
    format!("cache-{i}: {{ kind: redis, endpoint: \"cache-{i}:6379\"{auth}{logs} }}")
}

/// The application's Elasticsearch cluster.
fn elasticsearch(i: usize) -> String {
    let logs = if i % 3 == 0 { ", logs: { path: /usr/share/elasticsearch/logs/*.json }" } else { "" };
    format!(
        "search-{i}: {{ kind: elasticsearch, endpoint: \"http://search-{i}:9200\", username: monitor, password: \"${{SEARCH_PASSWORD}}\"{logs} }}"
    )
}

/// A Kafka cluster of one to three brokers, scraped or with the Java agent.
fn kafka(i: usize) -> String {
    let brokers: Vec<String> = (0..=i % 3).map(|b| format!("\"kafka-{i}-{b}:9092\"")).collect();
    let metrics = if i % 2 == 0 { "jmx" } else { "receiver" };
    format!("events-{i}: {{ kind: kafka, brokers: [{}], metrics: {metrics} }}", brokers.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_renders() {
        for n in [1, 20, 100] {
            let text = stack(n);
            assert_eq!(text.lines().filter(|l| l.contains(": { kind: ")).count(), n);
            let tree = crate::render(&text, None).unwrap_or_else(|d| panic!("{n}: {d:?}"));
            assert!(tree.contains_key("collector/gateway.yaml"));
        }
    }

    #[test]
    fn ten_thousand_services_fit_the_size_cap() {
        let bytes = stack(10_000).len();
        assert!(u64::try_from(bytes).unwrap() < crate::source::MAX_STACK_BYTES, "{bytes} bytes");
    }
}
