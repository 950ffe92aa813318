//! Command-line behaviour: plan, validate, version, exit codes.

use crate::common::Test;

#[test]
fn plan_prints_the_choice_and_edges() {
    let out = Test::new()
        .example("dkp.yaml")
        .args(&["plan", "stack.yaml"])
        .status(0)
        .stdout_has("topology: D (")
        .stdout_has("chosen by `auto` among A, B, C, D")
        .stdout_has("  topology  long-term-support  portability  resilience  simplicity  correlation  total\n")
        .stdout_has("  D         3                  3            3           3           2            17\n")
        .stdout_has("reason:\n  D (collector gateway with the elasticsearch exporter) is the choice")
        .stdout_has("  web -> dkp-gateway  traces via otlp/http :4318\n")
        .stdout_has("  db -> dkp-scraper  metrics via postgresql :5432\n")
        .run();
    assert!(out.stdout.starts_with("topology: D ("), "{}", out.stdout);
    assert!(!out.path("otelplan-out").exists(), "plan writes nothing");
}

#[test]
fn topology_flag_overrides_the_file() {
    let out = Test::new().example("dkp.yaml").args(&["plan", "stack.yaml", "--topology", "b"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("topology: B ("), "{}", out.stdout);
    assert!(out.stdout.contains("  web -> apm-server  traces via otlp/http :8200\n"), "{}", out.stdout);
}

#[test]
fn auto_follows_priorities() {
    let dkp = std::fs::read_to_string(crate::common::repo().join("examples/dkp.yaml")).unwrap();
    let with = |priorities: &str| {
        let text = dkp.replace(
            "priorities: [long-term-support, portability, resilience, simplicity, correlation]",
            &format!("priorities: [{priorities}]"),
        );
        let out = Test::new().stack(&text).args(&["plan", "stack.yaml"]).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.lines().next().unwrap().to_string()
    };
    assert!(with("correlation, simplicity").starts_with("topology: B"));
    assert!(with("correlation, portability").starts_with("topology: A"));
    assert!(with("simplicity").starts_with("topology: D"));
    assert!(with("long-term-support, simplicity").starts_with("topology: D"));
    assert!(with("portability, correlation, long-term-support").starts_with("topology: A"));
    // Scores come from each topology's plan for this stack: B's apps hold the APM credential,
    // C has three stores to secure, so security alone picks D, and correlation then security A.
    assert!(with("security").starts_with("topology: D"));
    assert!(with("correlation, security").starts_with("topology: A"));
    assert!(
        with("correlation, resilience").starts_with("topology: A"),
        "A's gateway buffers for the apps, B's apps send to APM Server directly"
    );
}

#[test]
fn validate_reports_valid_stacks() {
    Test::new()
        .example("dkp.yaml")
        .args(&["validate", "stack.yaml"])
        .status(0)
        .stdout_has("valid stack `dkp` with 6 services, topology D")
        .run();
}

#[test]
fn version_names_the_collector_and_format() {
    Test::new()
        .args(&["--version"])
        .status(0)
        .stdout_has("collector-contrib 0.152.0")
        .stdout_has("stack format 1")
        .run();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(Test::new().args(&["render"]).run().code, 2);
    assert_eq!(Test::new().args(&["frobnicate"]).run().code, 2);
    assert_eq!(Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "--topology", "E"]).run().code, 2);
}

#[test]
fn missing_stack_file_is_reported() {
    let out = Test::new().args(&["render", "nope.yaml"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot read `nope.yaml`"), "{}", out.stderr);
    assert!(!out.path("otelplan-out").exists());
}

#[test]
fn validate_shows_the_planner_warnings() {
    let stack = std::fs::read_to_string(crate::common::repo().join("examples/dkp.yaml"))
        .unwrap()
        .replace("    secret_token: ${ELASTIC_APM_SECRET_TOKEN}\n", "")
        .replace("topology: auto", "topology: A");
    Test::new()
        .stack(&stack)
        .args(&["validate", "stack.yaml"])
        .status(0)
        .stderr_has("warning: APM Server has no `secret_token` or `api_key`")
        .stdout_has("topology A")
        .run();
}

#[test]
fn postgres_log_files_without_a_star_cannot_be_rotated_and_say_so() {
    let stack = std::fs::read_to_string(crate::common::repo().join("examples/dkp.yaml"))
        .unwrap()
        .replace("/var/log/postgresql/*.log", "/var/log/postgresql/server.log");
    let out = Test::new()
        .stack(&stack)
        .args(&["render", "stack.yaml", "-o", "out"])
        .status(0)
        .stderr_has("warning: `services.db.logs.path` names its files without a `*`, so otelplan cannot rotate them")
        .stderr_has("--> stack.yaml:52:19")
        .run();
    let conf = std::fs::read_to_string(out.path("out/provisioning/db/logging.conf")).unwrap();
    assert!(!conf.contains("log_filename"), "{conf}");
    assert!(conf.contains("log_line_prefix = '%m [%p] %q%u@%d '"), "{conf}");
    let patch = std::fs::read_to_string(out.path("out/kubernetes/app-patches/statefulset-db.yaml")).unwrap();
    assert!(!patch.contains("sizeLimit"), "no rotation, no size limit to evict the server by:\n{patch}");
}

#[test]
fn topologies_lists_every_topology_with_its_title() {
    let out = Test::new()
        .args(&["topologies"])
        .status(0)
        .stdout_has("D\tcollector gateway with the elasticsearch exporter\n")
        .run();
    let ids: Vec<&str> = out.stdout.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "C", "D"]);
}

#[test]
fn a_declared_load_is_sized_with_its_arithmetic_everywhere() {
    let plan = Test::new()
        .example("kubernetes.yaml")
        .args(&["plan", "stack.yaml"])
        .status(0)
        .stdout_has("sizing (from data/capacity.yaml, topology A measured ")
        .stdout_has("  declared load: 6,000 spans/s, 3,000 log records/s, 2,000 metric points/s; outage 120 min\n")
        .stdout_has(" (the autoscaler's minimum; its maximum ")
        .stdout_has("backlog per replica: ")
        .stdout_has("  traces per day to the store: 518,400,000 items")
        .run();
    let json = Test::new().example("kubernetes.yaml").args(&["plan", "stack.yaml", "--format", "json"]).run();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let min = v["sizing"]["gateway_replicas"]["min"].as_u64().unwrap();
    assert!(plan.stdout.contains(&format!("  gateway: {min}–{} replicas", min * 3)), "{}", plan.stdout);
    // The tree says what it was sized for, and its manifests carry the sizes.
    let render = Test::new().example("kubernetes.yaml").args(&["render", "stack.yaml", "-o", "out"]).status(0).run();
    let readme = std::fs::read_to_string(render.path("out/README.md")).unwrap();
    assert!(readme.contains("## Capacity\n\nSized for the load the stack file declares"), "{readme}");
    let gateway = std::fs::read_to_string(render.path("out/kubernetes/gateway.yaml")).unwrap();
    assert!(gateway.contains(&format!("minReplicas: {min}\n")), "{gateway}");
    let volume = v["sizing"]["volume_gib"].as_u64().unwrap().max(2);
    assert!(gateway.contains(&format!("storage: \"{volume}Gi\"")), "{gateway}");
    // compare adds the capacity rows.
    Test::new()
        .example("kubernetes.yaml")
        .args(&["compare", "stack.yaml"])
        .status(0)
        .stdout_has("a gateway replica carries (t / m / l per s)")
        .stdout_has("gateway for the declared load")
        .stdout_has("backlog per outage hour")
        .run();
}

#[test]
fn a_load_on_edot_says_its_sizing_is_contribs() {
    let text = "version: 1\nname: shop\ntopology: D\nload: { spans_per_second: 1000 }\n\
                collector: { distribution: edot }\n\
                backends:\n  elasticsearch: { endpoint: \"http://es:9200\" }\n\
                services:\n  web: { kind: django }\n";
    Test::new()
        .stack(text)
        .args(&["validate", "stack.yaml"])
        .status(0)
        .stderr_has("warning: the gateway is sized from figures measured with the contrib build; the `edot` gateway")
        .stderr_has("  --> stack.yaml:5:28\n")
        .run();
    // The same stack on contrib has nothing to say about it.
    let out = Test::new()
        .stack(&text.replace("distribution: edot", "distribution: contrib"))
        .args(&["validate", "stack.yaml"])
        .status(0)
        .run();
    assert!(!out.stderr.contains("measured with the contrib build"), "{}", out.stderr);
}

#[test]
fn undersized_explicit_settings_are_warned_about() {
    let text = "version: 1\nname: shop\ntopology: A\nload: { spans_per_second: 90000 }\n\
                collector: { gateway_replicas: 2 }\n\
                backends:\n  apm_server: { endpoint: \"http://apm:8200\", secret_token: \"${T}\" }\n  elasticsearch: { endpoint: \"http://es:9200\" }\n\
                services:\n  web: { kind: django }\n";
    Test::new()
        .stack(text)
        .args(&["validate", "stack.yaml"])
        .status(0)
        .stderr_has("warning: `collector.gateway_replicas: 2` is below the ")
        .stderr_has("  --> stack.yaml:5:32\n")
        .run();
}
