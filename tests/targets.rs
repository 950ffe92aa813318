//! Deployment targets: only the stack's targets are written, names fit Kubernetes, secrets stay
//! references, deployed backends follow the topology, and free text stays inert.

use crate::common::{dkp, files, render};

#[test]
fn only_the_stack_targets_are_written() {
    let compose_only = render(&dkp().replace("targets: [compose, kubernetes]", "targets: [compose]"), "A");
    assert!(compose_only.path("out/compose/docker-compose.yaml").exists());
    assert!(!compose_only.path("out/kubernetes").exists());
    let k8s_only = render(&dkp().replace("targets: [compose, kubernetes]", "targets: [kubernetes]"), "A");
    assert!(!k8s_only.path("out/compose").exists());
    assert!(k8s_only.path("out/kubernetes/kustomization.yaml").exists());
    let none = render(&dkp().replace("targets: [compose, kubernetes]", "targets: []"), "A");
    assert!(!none.path("out/compose").exists() && !none.path("out/kubernetes").exists());
    assert!(none.path("out/collector/gateway.yaml").exists(), "the configuration itself is always written");
}

#[test]
fn deployed_backends_follow_the_topology() {
    let d = render(&dkp(), "D");
    let compose = d.read("out/compose/docker-compose.yaml");
    assert!(compose.contains("\n  elasticsearch:\n"), "{compose}");
    for absent in ["\n  apm-server:\n", "\n  jaeger:\n", "\n  loki:\n"] {
        assert!(!compose.contains(absent), "D deploys no {absent}");
    }
    let c = render(&dkp(), "C");
    let compose = c.read("out/compose/docker-compose.yaml");
    for present in ["\n  jaeger:\n", "\n  prometheus:\n", "\n  loki:\n", "\n  dkp-grafana:\n"] {
        assert!(compose.contains(present), "C deploys {present}");
    }
    assert!(!compose.contains("\n  elasticsearch:\n"));
    assert!(c.path("out/kubernetes/grafana.yaml").exists());
}

#[test]
fn kubernetes_names_fit_in_63_characters() {
    let long = "version: 1\nname: a-forty-character-stack-name-for-tests\ntopology: D\nbackends:\n  elasticsearch:\n    endpoint: http://elasticsearch:9200\nservices:\n  web: { kind: django }\n  a-datastore-name-of-30-chars-x:\n    kind: postgres\n    endpoint: pg:5432\n    logs: { path: /var/log/pg/*.log }\n";
    let out = render(long, "D");
    for (path, text) in files(&out.path("out/kubernetes")) {
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("name: ") {
                let name = name.trim_matches('"');
                assert!(name.len() <= 63, "{path}: `{name}` is longer than 63 characters");
            }
        }
    }
}

#[test]
fn secrets_never_appear_as_values() {
    let out = render(&dkp(), "B");
    let names = [
        "ELASTIC_PASSWORD",
        "ELASTIC_APM_SECRET_TOKEN",
        "PG_MONITOR_PASSWORD",
        "REDIS_PASSWORD",
        "SEARCH_MONITOR_PASSWORD",
    ];
    for (path, text) in files(&out.path("out")) {
        for name in names {
            for (i, _) in text.match_indices(name) {
                let before = &text[..i];
                let after = &text[i + name.len()..];
                let reference = before.ends_with("${")
                    || before.ends_with("${env:")
                    || before.ends_with("$(")
                    || before.ends_with("key: ")
                    || before.ends_with("- ")
                    || before.ends_with("| `")
                    || before.ends_with("--from-literal=")
                    || before.ends_with("set ")
                    || before.ends_with("name: ")
                    || before.ends_with("-e ")
                    || before.ends_with("\"$")
                    || before.ends_with("\\getenv monitor_password ")
                    || after.starts_with('=')
                    || before.ends_with('`');
                assert!(
                    reference,
                    "{path}: `{name}` appears outside a reference: …{}…",
                    &text[i.saturating_sub(30)..(i + name.len() + 10).min(text.len())]
                );
            }
        }
        assert!(!text.contains("changeme") && !text.contains("hunter2"));
    }
}

#[test]
fn free_text_stays_inert_in_every_format() {
    let nasty = "prod: #1 $(HOME) {{x}} \"q\" 'r' é $HOME";
    let stack =
        dkp().replace("environment: production", &format!("environment: {}", serde_json::to_string(nasty).unwrap()));
    let out = render(&stack, "A");
    let gateway: serde_yaml::Value = serde_yaml::from_str(&out.read("out/collector/gateway.yaml")).unwrap();
    let value = gateway["processors"]["resource/environment"]["attributes"][0]["value"].as_str().unwrap();
    assert_eq!(value.replace("$$", "$"), nasty, "the collector reads `$$` as `$`");
    assert!(!value.contains("${"), "nothing for the collector to expand");
    for (path, text) in files(&out.path("out")) {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let _: serde_yaml::Value =
                    serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}"));
            }
        }
    }
    let env = out.read("out/instrumentation/web.env");
    assert!(
        env.contains("OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod%3A%20%231%20%24%28HOME%29"),
        "{env}"
    );
}

#[test]
fn the_gateway_scales_on_cpu_slowly_down_and_keeps_its_queues() {
    let out = render(&dkp(), "D");
    let text = out.read("out/kubernetes/gateway.yaml");
    let docs: Vec<serde_yaml::Value> =
        serde_yaml::Deserializer::from_str(&text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect();
    let hpa = docs.iter().find(|d| d["kind"] == "HorizontalPodAutoscaler").unwrap();
    let metrics = hpa["spec"]["metrics"].as_sequence().unwrap();
    assert_eq!(metrics.len(), 1, "CPU only: {metrics:?}");
    assert_eq!(metrics[0]["resource"]["name"], "cpu");
    let down = &hpa["spec"]["behavior"]["scaleDown"];
    assert!(down["stabilizationWindowSeconds"].as_u64().unwrap() >= 600, "{down:?}");
    assert_eq!(down["policies"][0]["value"], 1);
    let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"], "Retain");
    let gateway = out.read("out/collector/gateway.yaml");
    let config: serde_yaml::Value = serde_yaml::from_str(&gateway).unwrap();
    let es = &config["exporters"]["elasticsearch"];
    assert_eq!(es["sending_queue"]["block_on_overflow"], false, "a full queue refuses, never blocks");
    assert_eq!(es["sending_queue"]["sizer"], "bytes");
    let statuses: Vec<u64> =
        es["retry"]["retry_on_status"].as_sequence().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(statuses, [429, 503], "no retry after a status that may mean indexed (no duplicates)");
}
