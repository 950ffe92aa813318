//! Sampling: head sampling in the apps' environment, the tail-sampler tier in both targets (the
//! gateway routes traces by trace id to a fixed set of samplers; metrics and logs bypass them),
//! and topology B's refusal as `compare` shows it.

use crate::common::Test;

fn render(topology: &str) -> crate::common::Output {
    let out =
        Test::new().example("sampling.yaml").args(&["render", "stack.yaml", "--topology", topology, "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap()
}

fn docs(text: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| <serde_yaml::Value as serde::Deserialize>::deserialize(d).unwrap())
        .collect()
}

#[test]
fn the_gateway_routes_only_traces_to_the_samplers_in_both_targets() {
    for topology in ["A", "C", "D"] {
        let out = render(topology);
        for config in ["out/collector/gateway.yaml", "out/kubernetes/collector/gateway.yaml"] {
            let gw = yaml(&out.read(config));
            let lb = &gw["exporters"]["loadbalancing"];
            assert_eq!(lb["routing_key"], "traceID", "{topology} {config}");
            if config.contains("kubernetes") {
                assert_eq!(lb["resolver"]["dns"]["hostname"], "shop-sampler.observability.svc", "{topology}");
                assert!(lb["resolver"].get("static").is_none(), "{topology}");
            } else {
                let hosts = &lb["resolver"]["static"]["hostnames"];
                assert_eq!(hosts, &yaml("[shop-sampler-1:4317, shop-sampler-2:4317]"), "{topology}");
                assert!(lb["resolver"].get("dns").is_none(), "{topology}");
            }
            let pipelines = gw["service"]["pipelines"].as_mapping().unwrap();
            for (name, p) in pipelines {
                let routed = p["exporters"].as_sequence().unwrap().iter().any(|e| e == "loadbalancing");
                assert_eq!(routed, name == "traces", "{topology} {config}: {name:?}");
            }
            let sampler = yaml(&out.read(&config.replace("gateway", "sampler")));
            let processors = &sampler["service"]["pipelines"]["traces"]["processors"];
            assert_eq!(processors[1], "tail_sampling", "{topology} {config}");
            let policies: Vec<&str> = sampler["processors"]["tail_sampling"]["policies"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|p| p["type"].as_str().unwrap())
                .collect();
            assert_eq!(policies, ["status_code", "latency", "probabilistic"], "{topology} {config}");
        }
    }
}

#[test]
fn kubernetes_runs_a_statefulset_behind_a_headless_service_without_rbac() {
    let out = render("D");
    let manifests = docs(&out.read("out/kubernetes/sampler.yaml"));
    let set = manifests.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
    assert_eq!(set["spec"]["replicas"], 2, "as many samplers as gateway replicas");
    assert_eq!(set["spec"]["serviceName"], "shop-sampler");
    let service = manifests.iter().find(|d| d["kind"] == "Service").unwrap();
    assert_eq!(service["metadata"]["name"], "shop-sampler");
    assert_eq!(service["spec"]["clusterIP"], "None", "the DNS resolver needs every replica's address");
    assert!(manifests.iter().all(|d| d["kind"] != "HorizontalPodAutoscaler"), "a fixed set: scaling re-routes traces");
    assert!(!out.read("out/kubernetes/rbac.yaml").contains("shop-sampler"), "the DNS resolver reads no API");
    let policy = manifests.iter().find(|d| d["kind"] == "NetworkPolicy").unwrap();
    let from = policy["spec"]["ingress"][0]["from"].as_sequence().unwrap();
    assert_eq!(from.len(), 1, "only the gateway sends to the samplers: {from:?}");
    assert_eq!(from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "shop-gateway");
}

#[test]
fn compose_runs_the_fixed_set_the_gateway_lists_each_with_its_own_volume() {
    for topology in ["A", "C", "D"] {
        let out = render(topology);
        let compose = yaml(&out.read("out/compose/docker-compose.yaml"));
        let services = compose["services"].as_mapping().unwrap();
        let samplers: Vec<&str> =
            services.keys().map(|k| k.as_str().unwrap()).filter(|k| k.contains("sampler")).collect();
        assert_eq!(samplers, ["shop-sampler-1", "shop-sampler-2"], "{topology}");
        // Every address the gateway routes to is one of these services, and every one is routed to.
        let gw = yaml(&out.read("out/collector/gateway.yaml"));
        let routed: Vec<&str> = gw["exporters"]["loadbalancing"]["resolver"]["static"]["hostnames"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().split(':').next().unwrap())
            .collect();
        assert_eq!(routed, samplers, "{topology}");
        let gateway_waits = &compose["services"]["shop-gateway"]["depends_on"];
        let mut volumes = Vec::new();
        for sampler in &samplers {
            assert!(gateway_waits.get(*sampler).is_some(), "{topology}: {gateway_waits:?}");
            let s = &compose["services"][*sampler];
            assert!(s["depends_on"].get("shop-gateway").is_none(), "{topology}: no cycle: {s:?}");
            let mounts: Vec<&str> = s["volumes"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
            let [queue] = mounts.as_slice() else { panic!("{topology}: {mounts:?}") };
            assert!(queue.ends_with(":/var/lib/otelcol/file_storage"), "{queue}");
            volumes.push(queue.split(':').next().unwrap().to_string());
            assert_eq!(s["command"], compose["services"]["shop-sampler-1"]["command"], "one config for the set");
        }
        assert_eq!(volumes, ["shop-sampler-storage-1", "shop-sampler-storage-2"], "{topology}: a queue each");
        for v in &volumes {
            assert!(compose["volumes"].get(v.as_str()).is_some(), "{topology}: {v} declared");
        }
        let init = compose["services"]["shop-volume-init"]["command"][2].as_str().unwrap();
        assert!(init.contains("/volumes/shop-sampler-1") && init.contains("/volumes/shop-sampler-2"), "{init}");
    }
}

#[test]
fn head_sampling_is_parent_based_in_every_topology() {
    for topology in ["A", "C", "D"] {
        let env = render(topology).read("out/instrumentation/web.env");
        assert!(env.contains("OTEL_TRACES_SAMPLER=parentbased_traceidratio\n"), "{topology}: {env}");
        assert!(env.contains("OTEL_TRACES_SAMPLER_ARG=0.5\n"), "{topology}: {env}");
    }
    // Head sampling alone works where the apps send straight to APM Server.
    let head_only = "version: 1\nname: shop\nsampling:\n  head: { ratio: 0.5 }\nbackends:\n  \
        elasticsearch: { endpoint: http://elasticsearch:9200 }\n  apm_server: { endpoint: http://apm-server:8200 }\n\
        services:\n  web: { kind: django }\n";
    let out = Test::new().stack(head_only).args(&["render", "stack.yaml", "--topology", "B", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.read("out/instrumentation/web.env").contains("OTEL_TRACES_SAMPLER_ARG=0.5\n"));
    assert!(!out.path("out/collector/sampler.yaml").exists());
}

#[test]
fn compare_says_b_cannot_tail_sample() {
    let out = Test::new().example("sampling.yaml").args(&["compare", "stack.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let renders = out.stdout.lines().find(|l| l.starts_with("renders")).unwrap();
    assert!(renders.contains("no: tail sampling needs a gateway"), "{renders}");
    let json = Test::new().example("sampling.yaml").args(&["compare", "stack.yaml", "--format", "json"]).run();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    for t in v["topologies"].as_array().unwrap() {
        let refused = t["refused"].as_str().unwrap_or_default();
        assert_eq!(refused.contains("tail sampling needs a collector gateway"), t["id"] == "B", "{t}");
    }
    let traces_hops = out.stdout.lines().find(|l| l.starts_with("hops")).unwrap();
    assert!(traces_hops.contains("4 / 4 / 3"), "A: the sampler adds a hop to traces only: {traces_hops}");
}

#[test]
fn plan_shows_what_is_kept() {
    let out = Test::new().example("sampling.yaml").args(&["plan", "stack.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("  head: the SDKs keep 0.5 of the traces they start"), "{}", out.stdout);
    assert!(
        out.stdout.contains("every trace with an error, every trace of 500 ms or more, 10% of the rest"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("shop-gateway -> shop-sampler  traces via otlp/grpc :4317"), "{}", out.stdout);
    assert!(out.stdout.contains("shop-sampler -> elasticsearch  traces"), "{}", out.stdout);
    assert!(!out.stdout.contains("shop-gateway -> elasticsearch  traces"), "{}", out.stdout);
}

#[test]
fn init_documents_sampling() {
    let out = Test::new().args(&["init", "stack.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out.read("stack.yaml");
    assert!(text.contains("# sampling:\n#   head: { ratio: 0.5 }\n#   tail:\n"), "{text}");
    // Uncommented, it is a valid stack (the init stack's topology is `auto`).
    let on = text
        .replace("# sampling:\n#   head", "sampling:\n  head")
        .replace("#   tail:\n#     keep_errors: true", "  tail:\n    keep_errors: true")
        .replace("#     slower_than_ms", "    slower_than_ms")
        .replace("#     ratio: 0.1", "    ratio: 0.1");
    let v = Test::new().stack(&on).args(&["validate", "stack.yaml"]).run();
    assert_eq!(v.code, 0, "{}\n{on}", v.stderr);
}
