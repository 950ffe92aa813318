//! Deployed backends made safe to run: ingestion never uses a sandbox's superuser, and the setup
//! job re-applies cleanly and ends on its own.

use serde_yaml::Value;

use crate::common::{dkp, files, render, Test};

fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect()
}

/// Every Kubernetes container in the tree: (object name, container).
fn containers(out: &crate::common::Output) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (path, text) in files(&out.path("out/kubernetes")) {
        if !path.ends_with(".yaml") {
            continue;
        }
        for doc in docs(&text) {
            let pod = &doc["spec"]["template"]["spec"];
            for c in pod["containers"].as_sequence().into_iter().flatten() {
                found.push((doc["metadata"]["name"].as_str().unwrap_or_default().to_string(), c.clone()));
            }
        }
    }
    found
}

#[test]
fn ingestion_never_uses_the_superuser_of_a_deployed_sandbox() {
    for topology in ["A", "B", "D"] {
        let out = render(&dkp(), topology);
        let setup = out.read("out/elasticsearch/setup/setup.sh");
        // The configs of whatever writes to Elasticsearch name a user the setup job creates.
        for (path, text) in files(&out.path("out")) {
            let is_config = path.contains("collector/") && path.ends_with(".yaml") || path.ends_with("apm-server.yml");
            if !is_config {
                continue;
            }
            assert!(!text.contains("ELASTIC_PASSWORD"), "{topology} {path}: reads the superuser's password");
            let doc = &docs(&text)[0];
            let user = doc["exporters"]["elasticsearch"]["user"]
                .as_str()
                .or_else(|| doc["output"]["elasticsearch"]["username"].as_str());
            if let Some(user) = user {
                assert_ne!(user, "elastic", "{topology} {path}");
                assert!(setup.contains(&format!("'/_security/user/{user}'")), "{topology}: the setup creates `{user}`");
            }
        }
        // Only Elasticsearch itself and its setup job get the superuser's password.
        let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
        for (name, service) in compose["services"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            let env = serde_yaml::to_string(&service["environment"]).unwrap();
            if env.contains("ELASTIC_PASSWORD") {
                assert!(name == "elasticsearch" || name == "dkp-elasticsearch-setup", "{topology}: compose `{name}`");
            }
        }
        for (name, c) in containers(&out) {
            if serde_yaml::to_string(&c["env"]).unwrap().contains("key: ELASTIC_PASSWORD") {
                assert!(
                    name == "elasticsearch" || name.starts_with("dkp-elasticsearch-setup-"),
                    "{topology}: Kubernetes `{name}`"
                );
            }
        }
        let env_example = out.read("out/compose/.env.example");
        let readme = out.read("out/README.md");
        let writer = if topology == "D" { "OTELCOL_WRITER_PASSWORD" } else { "APM_SERVER_WRITER_PASSWORD" };
        assert!(env_example.contains(&format!("\n{writer}=\n")), "{topology}: .env.example names {writer}");
        assert!(readme.contains(&format!("| `{writer}` | `observability` | `{writer}` |")), "{topology}: {readme}");
    }
}

#[test]
fn an_existing_cluster_is_reached_with_the_stack_credentials() {
    let out = Test::new().example("minimal.yaml").args(&["render", "stack.yaml", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let gateway: Value = serde_yaml::from_str(&out.read("out/collector/gateway.yaml")).unwrap();
    assert_eq!(gateway["exporters"]["elasticsearch"]["api_key"], "${env:ES_API_KEY}");
    assert!(!out.path("out/elasticsearch").exists(), "nothing to set up on a cluster otelplan does not run");
    let stack =
        dkp().replace("    deploy: true\n    username: elastic", "    deploy: false\n    username: otel_writer");
    let out = render(&stack, "D");
    let gateway: Value = serde_yaml::from_str(&out.read("out/collector/gateway.yaml")).unwrap();
    assert_eq!(gateway["exporters"]["elasticsearch"]["user"], "otel_writer");
    assert_eq!(gateway["exporters"]["elasticsearch"]["password"], "${env:ELASTIC_PASSWORD}");
}

fn setup_job(out: &crate::common::Output) -> Value {
    docs(&out.read("out/kubernetes/elasticsearch-setup.yaml")).remove(0)
}

fn claim_templates(out: &crate::common::Output) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files(&out.path("out/kubernetes")) {
        if path.ends_with(".yaml") {
            for doc in docs(&text) {
                if !doc["spec"]["volumeClaimTemplates"].is_null() {
                    found.push(format!(
                        "{path}: {}",
                        serde_yaml::to_string(&doc["spec"]["volumeClaimTemplates"]).unwrap()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn the_setup_job_ends_on_its_own_and_is_replaced_when_it_changes() {
    let first = render(&dkp(), "A");
    let again = render(&dkp(), "A");
    let job = setup_job(&first);
    assert!(job["spec"]["activeDeadlineSeconds"].as_u64().is_some_and(|s| s > 0), "bounded in time");
    assert!(job["spec"]["ttlSecondsAfterFinished"].as_u64().is_some_and(|s| s > 0), "deleted once finished");
    assert_eq!(job["metadata"]["name"], setup_job(&again)["metadata"]["name"], "an unchanged job keeps its name");
    let script = first.read("out/kubernetes/elasticsearch/setup/setup.sh");
    assert!(script.contains("--max-time 30") && script.contains("-ge 60 ]"), "every request and the wait are bounded");
    // A new Elasticsearch version changes the job's image: a new Job, while the volumes stay.
    let newer = render(
        &dkp().replace(
            "    deploy: true\n    username: elastic",
            "    deploy: true\n    version: 9.5.3\n    username: elastic",
        ),
        "A",
    );
    assert_ne!(job["metadata"]["name"], setup_job(&newer)["metadata"]["name"]);
    assert_eq!(claim_templates(&first), claim_templates(&newer), "claim templates never change with a version");
    assert!(!claim_templates(&first).is_empty());
}

#[test]
fn kibana_reads_its_encryption_key_from_a_secret() {
    let out = render(&dkp(), "D");
    let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
    let env = serde_yaml::to_string(&compose["services"]["dkp-kibana"]["environment"]).unwrap();
    assert!(env.contains("XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY=${KIBANA_ENCRYPTION_KEY:?"), "{env}");
    let kibana = containers(&out).into_iter().find(|(name, _)| name == "dkp-kibana").unwrap().1;
    let key =
        kibana["env"].as_sequence().unwrap().iter().find(|e| e["name"] == "XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY");
    assert_eq!(key.unwrap()["valueFrom"]["secretKeyRef"]["key"], "KIBANA_ENCRYPTION_KEY");
    assert!(out.read("out/compose/.env.example").contains("\nKIBANA_ENCRYPTION_KEY=\n"));
}

#[test]
fn prometheus_runs_with_its_own_configuration_and_retention() {
    let out = render(&dkp(), "C");
    let config: Value = serde_yaml::from_str(&out.read("out/prometheus/prometheus.yml")).unwrap();
    assert_eq!(config["storage"]["tsdb"]["retention"]["size"], "8192MB", "80% of its 10 GiB volume");
    let promoted = serde_yaml::to_string(&config["otlp"]["promote_resource_attributes"]).unwrap();
    assert!(promoted.contains("deployment.environment.name") && promoted.contains("k8s.pod.name"), "{promoted}");
    let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
    let mounts = serde_yaml::to_string(&compose["services"]["prometheus"]["volumes"]).unwrap();
    assert!(
        mounts.contains("source: ../prometheus/prometheus.yml\n  target: /etc/prometheus/prometheus.yml"),
        "{mounts}"
    );
    assert_eq!(out.read("out/kubernetes/prometheus/prometheus.yml"), out.read("out/prometheus/prometheus.yml"));
    assert!(out.read("out/kubernetes/kustomization.yaml").contains("prometheus.yml=prometheus/prometheus.yml"));
}

#[test]
fn the_deployed_prometheus_loads_the_alert_rules_in_both_targets() {
    let out = render(&dkp(), "C");
    let config: Value = serde_yaml::from_str(&out.read("out/prometheus/prometheus.yml")).unwrap();
    let rule_file = config["rule_files"][0].as_str().unwrap().to_string();
    let rules = out.read("out/alerts/prometheus-rules.yaml");
    assert!(rules.contains("OtelCollectorExportFailing"), "{rules}");
    // Compose mounts the tree's file where prometheus.yml names it.
    let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
    let volumes = compose["services"]["prometheus"]["volumes"].as_sequence().unwrap();
    let bind = volumes.iter().find(|v| v["target"] == rule_file.as_str()).expect("mounted");
    assert_eq!(bind["source"], "../alerts/prometheus-rules.yaml");
    assert_eq!(bind["read_only"], true);
    // Kubernetes: a key of Prometheus's ConfigMap, mounted at the same path.
    assert_eq!(out.read("out/kubernetes/alerts/prometheus-rules.yaml"), rules);
    let kustomization: Value = serde_yaml::from_str(&out.read("out/kubernetes/kustomization.yaml")).unwrap();
    let generator = kustomization["configMapGenerator"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "prometheus-config")
        .unwrap();
    let entry = generator["files"].as_sequence().unwrap().iter().find_map(|f| {
        let (key, path) = f.as_str().unwrap().split_once('=').unwrap();
        (path == "alerts/prometheus-rules.yaml").then(|| key.to_string())
    });
    let key = entry.expect("the rule file is in the ConfigMap");
    let (_, container) = containers(&out).into_iter().find(|(name, _)| name == "prometheus").unwrap();
    let mount = container["volumeMounts"].as_sequence().unwrap().iter().find(|m| m["mountPath"] == rule_file.as_str());
    assert_eq!(mount.expect("mounted")["subPath"], key.as_str());
}

#[test]
fn loki_runs_with_retention_and_without_usage_reports() {
    let out = render(&dkp(), "C");
    let config: Value = serde_yaml::from_str(&out.read("out/loki/loki.yaml")).unwrap();
    assert_eq!(config["compactor"]["retention_enabled"], true);
    assert_eq!(config["limits_config"]["retention_period"], "168h");
    assert_eq!(config["analytics"]["reporting_enabled"], false);
    let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
    let loki = &compose["services"]["loki"];
    assert_eq!(loki["command"][0], "-config.file=/etc/loki/config.yaml");
    assert!(serde_yaml::to_string(&loki["volumes"]).unwrap().contains("source: ../loki/loki.yaml"));
    let (_, container) = containers(&out).into_iter().find(|(name, _)| name == "loki").unwrap();
    let mounts = serde_yaml::to_string(&container["volumeMounts"]).unwrap();
    assert!(mounts.contains("mountPath: /etc/loki/config.yaml") && mounts.contains("subPath: config.yaml"), "{mounts}");
}

#[test]
fn jaeger_keeps_traces_on_a_volume() {
    let out = render(&dkp(), "C");
    let config: serde_json::Value = serde_json::from_str(&out.read("out/jaeger/config.json")).unwrap();
    let badger = &config["extensions"]["jaeger_storage"]["backends"]["traces"]["badger"];
    assert_eq!(badger["ephemeral"], false, "not the all-in-one memory store");
    assert_eq!(badger["ttl"]["spans"], "168h");
    let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
    let jaeger = &compose["services"]["jaeger"];
    assert_eq!(jaeger["command"][0], "--config=/etc/jaeger/config.json");
    assert!(serde_yaml::to_string(&jaeger["volumes"]).unwrap().contains("dkp-jaeger-data:/badger"));
    let init = serde_yaml::to_string(&compose["services"]["dkp-volume-init"]).unwrap();
    assert!(init.contains("chown -R 10001:10001 /volumes/jaeger"), "the new volume is handed to Jaeger: {init}");
    let manifest = docs(&out.read("out/kubernetes/jaeger.yaml")).remove(0);
    assert_eq!(manifest["kind"], "StatefulSet");
    assert_eq!(manifest["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "10Gi");
    assert_eq!(manifest["spec"]["template"]["spec"]["securityContext"]["fsGroup"], 10001);
}

#[test]
fn every_store_that_accepts_writes_in_c_has_a_network_policy() {
    let out = render(&dkp(), "C");
    let mut policies = Vec::new();
    let mut stores = Vec::new();
    for (path, text) in files(&out.path("out/kubernetes")) {
        if !path.ends_with(".yaml") {
            continue;
        }
        for doc in docs(&text) {
            match doc["kind"].as_str() {
                Some("NetworkPolicy") => policies.push(doc),
                Some("StatefulSet" | "Deployment")
                    if ["jaeger", "prometheus", "loki"].contains(&doc["metadata"]["name"].as_str().unwrap()) =>
                {
                    stores.push(doc);
                }
                _ => {}
            }
        }
    }
    assert_eq!(stores.len(), 3);
    for store in &stores {
        let name = store["metadata"]["name"].as_str().unwrap();
        let labels = &store["spec"]["template"]["metadata"]["labels"];
        let policy = policies
            .iter()
            .find(|p| {
                let selector = p["spec"]["podSelector"]["matchLabels"].as_mapping().unwrap();
                selector.iter().all(|(k, v)| labels[k] == *v)
            })
            .unwrap_or_else(|| panic!("no NetworkPolicy selects {name}"));
        let rules = policy["spec"]["ingress"].as_sequence().unwrap();
        assert!(!rules.is_empty());
        for rule in rules {
            let from =
                rule["from"].as_sequence().unwrap_or_else(|| panic!("{name}: a rule without `from` admits everyone"));
            for peer in from {
                assert_eq!(
                    peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], "observability",
                    "{name}"
                );
            }
        }
        // Every port the store's container offers for writes is covered by a rule from the gateway.
        let gateway_ports: Vec<u64> = rules
            .iter()
            .filter(|r| serde_yaml::to_string(&r["from"]).unwrap().contains("dkp-gateway"))
            .flat_map(|r| r["ports"].as_sequence().unwrap().iter().map(|p| p["port"].as_u64().unwrap()))
            .collect();
        let expected: &[u64] = match name {
            "jaeger" => &[4317, 4318],
            "prometheus" => &[9090],
            _ => &[3100],
        };
        assert_eq!(gateway_ports, expected, "{name}");
    }
}

#[test]
fn every_long_running_compose_service_drops_its_capabilities() {
    for (example, topologies) in [("dkp.yaml", &["A", "B", "C", "D"][..]), ("kafka-buffer.yaml", &["D"][..])] {
        for topology in topologies {
            let out = Test::new()
                .example(example)
                .args(&["render", "stack.yaml", "--topology", topology, "-o", "out"])
                .status(0)
                .run();
            let compose: Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
            for (name, service) in compose["services"].as_mapping().unwrap() {
                if service["restart"] != "unless-stopped" {
                    continue; // one-shot set-up (the volume hand-over chowns as root)
                }
                assert_eq!(
                    service["cap_drop"],
                    serde_yaml::from_str::<Value>("[ALL]").unwrap(),
                    "{example} {topology} {name:?}"
                );
                let options = serde_yaml::to_string(&service["security_opt"]).unwrap();
                assert!(options.contains("no-new-privileges:true"), "{example} {topology} {name:?}");
            }
        }
    }
}
