//! Every example, rendered in every topology: the whole output tree is one snapshot (or, for a
//! topology whose backends the example lacks, the error).

use crate::common::{tree_text, Test};

#[test]
fn examples_render_in_every_topology() {
    insta::glob!("../examples", "*.yaml", |path| {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for topology in otelplan::topologies() {
            let out =
                Test::new().example(&name).args(&["render", "stack.yaml", "-o", "out", "--topology", topology]).run();
            let snapshot = format!("{}-{topology}", name.trim_end_matches(".yaml"));
            if out.code == 0 {
                insta::assert_snapshot!(snapshot, tree_text(&out.path("out")));
            } else {
                assert_eq!(out.code, 2, "{name} {topology}: {}", out.stderr);
                assert!(!out.path("out").exists(), "{name} {topology}: a failed render wrote files");
                assert!(out.stderr.contains("needs"), "{name} {topology}: {}", out.stderr);
                insta::assert_snapshot!(snapshot, out.stderr);
            }
        }
    });
}

#[test]
fn dkp_renders_in_all_four_topologies() {
    for topology in otelplan::topologies() {
        let out = Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "--topology", topology]).run();
        assert_eq!(out.code, 0, "{topology}: {}", out.stderr);
        assert!(out.path("otelplan-out/collector/gateway.yaml").exists() || topology == "B");
        assert!(out.path("otelplan-out/instrumentation/web.env").exists());
    }
}

#[test]
fn b_without_datastores_has_no_collector() {
    let out = Test::new()
        .stack(
            "version: 1\nname: solo\ntopology: B\nbackends:\n  elasticsearch: { endpoint: http://es:9200 }\n  apm_server: { endpoint: http://apm:8200, secret_token: \"${TOKEN}\" }\nservices:\n  web: { kind: django }\n",
        )
        .args(&["render", "stack.yaml"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.path("otelplan-out/collector").exists());
    let env = out.read("otelplan-out/instrumentation/web.env");
    assert!(env.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://apm:8200\n"), "{env}");
    assert!(env.contains("OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20${TOKEN}\n"), "{env}");
}

#[test]
fn apm_server_without_credentials_warns_and_renders() {
    let out = Test::new()
        .stack("version: 1\nname: open\ntopology: A\nbackends:\n  elasticsearch: { endpoint: http://es:9200 }\n  apm_server: { endpoint: http://apm:8200 }\nservices:\n  web: { kind: django }\n")
        .args(&["render", "stack.yaml"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: APM Server has no `secret_token` or `api_key`"), "{}", out.stderr);
    assert!(out.stderr.contains("stack.yaml:6:"), "{}", out.stderr);
    let apm = out.read("otelplan-out/apm-server/apm-server.yml");
    assert!(!apm.contains("auth"), "{apm}");
}

#[test]
fn secrets_stay_references_in_every_file() {
    let out = Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "--topology", "B"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let apm = out.read("otelplan-out/apm-server/apm-server.yml");
    assert!(apm.contains("secret_token: ${ELASTIC_APM_SECRET_TOKEN}"), "{apm}");
    assert!(apm.contains("password: ${APM_SERVER_WRITER_PASSWORD}"), "the sandbox's writer, not `elastic`: {apm}");
    assert!(!apm.contains("${env:"), "libbeat reads ${{env:X}} as a literal: {apm}");
    let scraper = out.read("otelplan-out/collector/scraper.yaml");
    assert!(scraper.contains("password: ${env:PG_MONITOR_PASSWORD}"), "{scraper}");
    assert!(scraper.contains("Authorization: Bearer ${env:ELASTIC_APM_SECRET_TOKEN}"), "{scraper}");
}

#[test]
fn kubernetes_only_stacks_get_kubernetes_values() {
    let out = Test::new().example("kubernetes.yaml").args(&["render", "stack.yaml", "--topology", "D"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let gateway = out.read("otelplan-out/collector/gateway.yaml");
    assert!(gateway.contains("endpoint: http://elasticsearch.telemetry.svc:9200"), "{gateway}");
    let scraper = out.read("otelplan-out/collector/scraper.yaml");
    assert!(scraper.contains("endpoint: ledger.payments.svc:5432"), "{scraper}");
    assert!(scraper.contains("endpoint: payments-gateway.telemetry.svc:4317"), "{scraper}");
}

#[test]
fn old_collector_versions_get_old_component_names() {
    let out = Test::new().example("grafana.yaml").args(&["render", "stack.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let gateway = out.read("otelplan-out/collector/gateway.yaml");
    assert!(gateway.contains("otlphttp/loki:"), "{gateway}");
    let scraper = out.read("otelplan-out/collector/scraper.yaml");
    assert!(scraper.contains("kafkametrics/events:"), "{scraper}");
    assert!(scraper.contains("- otlp/gateway"), "{scraper}");
}

#[test]
fn tls_settings_reach_every_config_and_mount() {
    let stack = r#"version: 1
name: sec
topology: A
collector:
  tls: { cert_file: /etc/tls/gw.crt, key_file: /etc/tls/gw.key, client_ca_file: /etc/tls/clients.crt, ca_file: /etc/tls/ca.crt }
backends:
  elasticsearch: { endpoint: "https://es.example.com:9200", username: writer, password: "${ES_PASSWORD}", tls: { ca_file: /etc/tls/es.crt } }
  apm_server: { endpoint: "https://apm.example.com:8200", secret_token: "${APM_TOKEN}", tls: { ca_file: /etc/tls/apm.crt } }
services:
  web: { kind: django }
  db: { kind: postgres, endpoint: "db:5432", username: mon, password: "${PG_PASSWORD}", tls: { ca_file: /etc/tls/pg.crt, insecure: true } }
  cache: { kind: redis, endpoint: "cache:6379", tls: { ca_file: /etc/tls/redis.crt } }
"#;
    let out = Test::new().stack(stack).args(&["render", "stack.yaml", "-o", "out"]).status(0).run();
    let yaml = |p: &str| -> serde_yaml::Value { serde_yaml::from_str(&out.read(p)).unwrap() };
    let gw = yaml("out/collector/gateway.yaml");
    let intake = &gw["receivers"]["otlp"]["protocols"]["grpc"]["tls"];
    assert_eq!(intake["cert_file"], "/etc/tls/gw.crt");
    assert_eq!(intake["client_ca_file"], "/etc/tls/clients.crt");
    assert_eq!(gw["exporters"]["otlp_grpc/apm_server"]["tls"]["ca_file"], "/etc/tls/apm.crt");
    assert!(gw["exporters"]["otlp_grpc/apm_server"]["tls"].get("insecure").is_none());
    let scraper = yaml("out/collector/scraper.yaml");
    let pg = &scraper["receivers"]["postgresql/db"]["tls"];
    assert_eq!((pg["ca_file"].as_str(), pg["insecure_skip_verify"].as_bool()), (Some("/etc/tls/pg.crt"), Some(true)));
    assert_eq!(scraper["receivers"]["redis/cache"]["tls"]["ca_file"], "/etc/tls/redis.crt");
    assert_eq!(scraper["exporters"]["otlp_grpc/gateway"]["tls"]["ca_file"], "/etc/tls/ca.crt");
    let apm = yaml("out/apm-server/apm-server.yml");
    assert_eq!(apm["output"]["elasticsearch"]["ssl"]["certificate_authorities"][0], "/etc/tls/es.crt");
    let env = out.read("out/instrumentation/web.env");
    assert!(env.contains("OTEL_EXPORTER_OTLP_ENDPOINT=https://sec-gateway:4318"), "{env}");
    assert!(env.contains("OTEL_EXPORTER_OTLP_CERTIFICATE=/etc/tls/ca.crt"), "{env}");
    let k8s = out.read("out/kubernetes/gateway.yaml");
    assert!(k8s.contains("secretName: sec-otelplan-tls") && k8s.contains("subPath: etc_tls_gw.crt"), "{k8s}");
    assert!(out.read("out/README.md").contains("## TLS files"));
}

#[test]
fn the_kafka_buffer_example_puts_kafka_between_the_gateway_and_the_ingest_tier() {
    let out = Test::new().example("kafka-buffer.yaml").args(&["render", "stack.yaml", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let gateway: serde_yaml::Value = serde_yaml::from_str(&out.read("out/collector/gateway.yaml")).unwrap();
    let ingest: serde_yaml::Value = serde_yaml::from_str(&out.read("out/collector/ingest.yaml")).unwrap();
    let kafka = &gateway["exporters"]["kafka/buffer"];
    assert_eq!(kafka["traces"]["topic"].as_str(), Some("shop.otlp.traces"));
    assert_eq!(kafka["logs"]["encoding"].as_str(), Some("otlp_proto"));
    assert_eq!(kafka["sending_queue"]["storage"].as_str(), Some("file_storage"), "the gateway keeps its disk queue");
    for signal in ["traces", "metrics", "logs"] {
        let exporters = gateway["service"]["pipelines"][signal]["exporters"].as_sequence().unwrap();
        assert_eq!(exporters, &[serde_yaml::Value::from("kafka/buffer")], "{signal}");
    }
    let receiver = &ingest["receivers"]["kafka/buffer"];
    assert_eq!(receiver["group_id"].as_str(), Some("shop-ingest"));
    assert_eq!(receiver["metrics"]["topics"][0].as_str(), Some("shop.otlp.metrics"));
    assert_eq!(receiver["message_marking"]["after"].as_bool(), Some(true));
    assert_eq!(receiver["message_marking"]["on_error"].as_bool(), Some(false));
    let queue = &ingest["exporters"]["elasticsearch"]["sending_queue"];
    assert_eq!(queue["wait_for_result"].as_bool(), Some(true));
    // The receiver waits for each message's result, one message per partition at a time: a queue
    // that waited for its batch to fill would hold every message a flush timeout.
    assert_eq!(queue["batch"]["min_size"].as_u64(), Some(0), "{queue:?}");
    // A fetch is held decompressed until exported: small, so memory_limiter never refuses all of it.
    let fetch = receiver["max_fetch_size"].as_u64().expect("max_fetch_size");
    let per_partition = receiver["max_partition_fetch_size"].as_u64().expect("max_partition_fetch_size");
    assert!(fetch <= 256 * 1024 && per_partition <= fetch, "{receiver:?}");
    // A memory_limiter refusal lasts one heap check; the receiver retries after no longer.
    assert_eq!(receiver["error_backoff"]["initial_interval"], ingest["processors"]["memory_limiter"]["check_interval"]);
    // The deployed Kafka: a StatefulSet with a claim and a Service, and a compose service.
    let k8s = out.read("out/kubernetes/kafka.yaml");
    assert!(k8s.contains("kind: \"StatefulSet\"") && k8s.contains("kind: Service"), "{k8s}");
    assert!(k8s.contains("image: apache/kafka:4.4.0") && k8s.contains("runAsNonRoot: true"), "{k8s}");
    assert!(out.read("out/kubernetes/kustomization.yaml").contains("kafka.yaml"));
    let compose: serde_yaml::Value = serde_yaml::from_str(&out.read("out/compose/docker-compose.yaml")).unwrap();
    assert!(compose["services"]["kafka"]["image"].as_str().is_some_and(|i| i.starts_with("apache/kafka:")));
    assert!(compose["services"]["shop-ingest"].is_mapping());
    // The store's password stays a reference, now in the ingest tier's config.
    let password = ingest["exporters"]["elasticsearch"]["password"].as_str();
    assert_eq!(password, Some("${env:OTELCOL_WRITER_PASSWORD}"));
}

#[test]
fn a_buffer_on_the_teams_kafka_ships_the_script_that_creates_its_topics() {
    let stack = std::fs::read_to_string(format!("{}/examples/kafka-buffer.yaml", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replace("      deploy: true\n      topic_prefix", "      deploy: false\n      topic_prefix")
        .replace("[\"kafka:9092\"]", "[\"kafka-0.example.internal:9092\", \"kafka-1.example.internal:9092\"]");
    assert!(stack.contains("deploy: false") && stack.contains("kafka-1.example"), "the example's buffer moved");
    let out = Test::new().stack(&stack).args(&["render", "stack.yaml", "-o", "out"]).status(0).run();
    let script = out.read("out/provisioning/kafka-buffer/topics.sh");
    let plan = Test::new().stack(&stack).args(&["plan", "stack.yaml", "--format", "json"]).status(0).run();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let (partitions, minutes) = (&plan["buffer"]["partitions"], plan["buffer"]["retention_minutes"].as_u64().unwrap());
    for topic in plan["buffer"]["topics"].as_array().unwrap() {
        let line = format!(
            "create --topic '{}' --partitions {partitions} --config retention.ms={}",
            topic.as_str().unwrap(),
            minutes * 60_000
        );
        assert!(script.contains(&line), "{line}\n{script}");
    }
    assert!(script.contains("KAFKA_BOOTSTRAP:=kafka-0.example.internal:9092,kafka-1.example.internal:9092"));
    assert!(script.contains("--if-not-exists"), "idempotent");
    assert!(out.read("out/README.md").contains("provisioning/kafka-buffer/topics.sh"));
    // A deployed sandbox creates its topics itself.
    let deployed =
        Test::new().example("kafka-buffer.yaml").args(&["render", "stack.yaml", "-o", "out"]).status(0).run();
    assert!(!deployed.dir.path().join("out/provisioning/kafka-buffer").exists());
}
