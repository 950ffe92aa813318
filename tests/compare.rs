//! `otelplan compare`: the JSON contract for all four topologies, snapshots of the table and
//! Markdown for the DKP example, the HTML page, and stacks that lack backends.

use crate::common::Test;

fn compare(example: &str, format: &str) -> String {
    let out = Test::new().example(example).args(&["compare", "stack.yaml", "--format", format]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

#[test]
fn json_carries_every_field_for_all_four_topologies() {
    let v: serde_json::Value = serde_json::from_str(&compare("dkp.yaml", "json")).unwrap();
    assert_eq!(v["stack"], "dkp");
    assert_eq!(v["collector_version"], "0.152.0");
    assert_eq!(v["recommended"]["id"], "D");
    assert!(v["recommended"]["reason"].as_str().unwrap().contains("On simplicity, D rates 3"));
    let ids: Vec<&str> = v["topologies"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "C", "D"]);
    for t in v["topologies"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        assert_eq!(t["needs"], serde_json::json!([]), "{id}");
        assert!(t["workloads"].as_u64().unwrap() >= 2, "{id}");
        for signal in ["traces", "metrics", "logs"] {
            assert!(!t["single_points_of_failure"][signal].as_array().unwrap().is_empty(), "{id} {signal}");
            assert!(t["hops"][signal].as_u64().unwrap() >= 2, "{id} {signal}");
        }
        assert!(!t["backends"].as_array().unwrap().is_empty(), "{id}");
        for c in t["components"].as_array().unwrap() {
            assert!(["receiver", "processor", "exporter", "extension"].contains(&c["class"].as_str().unwrap()));
            assert!(!c["type"].as_str().unwrap().is_empty());
            assert!(["development", "alpha", "beta", "stable"].contains(&c["stability"].as_str().unwrap()), "{c}");
            assert!(c["deprecated"].is_boolean());
        }
        assert!(t["ports"].as_array().unwrap().iter().all(serde_json::Value::is_u64), "{id}");
        assert!(t["secrets"].as_array().unwrap().iter().all(serde_json::Value::is_string), "{id}");
        assert!(t["resources"]["cpu_millicores"].as_u64().unwrap() > 0, "{id}");
        assert!(t["resources"]["memory_mib"].as_u64().unwrap() > 0, "{id}");
        assert!(!t["pros"].as_array().unwrap().is_empty() && !t["cons"].as_array().unwrap().is_empty(), "{id}");
    }
    let d = &v["topologies"][3];
    assert_eq!(d["single_points_of_failure"]["traces"], serde_json::json!(["elasticsearch"]));
    assert_eq!(d["hops"], serde_json::json!({ "traces": 2, "metrics": 3, "logs": 3 }));
    let es =
        d["components"].as_array().unwrap().iter().find(|c| c["class"] == "exporter" && c["type"] == "elasticsearch");
    assert_eq!(es.unwrap()["deprecated"], false, "the elasticsearch exporter was never deprecated");
    let a = &v["topologies"][0];
    assert_eq!(
        a["single_points_of_failure"]["traces"],
        serde_json::json!(["apm-server", "elasticsearch"]),
        "the two-replica gateway is a capacity risk, not a single point of failure"
    );
}

#[test]
fn table_snapshot() {
    insta::assert_snapshot!(compare("dkp.yaml", "table"));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(compare("dkp.yaml", "markdown"));
}

#[test]
fn table_and_markdown_show_the_same_figures() {
    let table = compare("dkp.yaml", "table");
    let markdown = compare("dkp.yaml", "markdown");
    for figure in ["workloads", "hops (traces / metrics / logs)", "capacity risks (replicated)", "score: total"] {
        let row = |text: &str, sep: &str| -> Vec<String> {
            let line = text.lines().find(|l| l.trim_start_matches("| ").starts_with(figure)).unwrap();
            line.trim_start_matches("| ")[figure.len()..]
                .split(sep)
                .map(|c| c.trim().trim_matches('|').trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        };
        assert_eq!(row(&table, "  "), row(&markdown, " | "), "{figure}");
    }
}

#[test]
fn missing_backends_become_needs() {
    let v: serde_json::Value = serde_json::from_str(&compare("minimal.yaml", "json")).unwrap();
    let needs = |i: usize| v["topologies"][i]["needs"].clone();
    assert_eq!(needs(0), serde_json::json!(["apm_server"]));
    assert_eq!(needs(1), serde_json::json!(["apm_server"]));
    assert_eq!(needs(2), serde_json::json!(["jaeger", "prometheus", "loki"]));
    assert_eq!(needs(3), serde_json::json!([]));
    assert_eq!(v["recommended"]["id"], "D", "the only one that renders");
    let table = compare("minimal.yaml", "table");
    assert!(table.contains("needs jaeger, prometheus, loki"), "{table}");
}

#[test]
fn a_stack_without_backends_is_still_compared() {
    let out = Test::new()
        .stack("version: 1\nname: bare\nservices:\n  web: { kind: django }\n")
        .args(&["compare", "stack.yaml", "--format", "json"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["recommended"]["reason"].as_str().unwrap().starts_with("No topology renders"));
}

#[test]
fn upstream_corrections_are_cited_and_d_is_not_called_deprecated() {
    for format in ["table", "markdown", "html", "json"] {
        let text = compare("dkp.yaml", format);
        if format == "json" {
            // The contract carries the component facts: the exporter is not deprecated.
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let d = v["topologies"].as_array().unwrap().iter().find(|t| t["id"] == "D").unwrap();
            let es = d["components"].as_array().unwrap().iter().find(|c| c["type"] == "elasticsearch").unwrap();
            assert_eq!(es["deprecated"], false);
        } else {
            // The page says the report was wrong about it.
            assert!(text.contains("was never deprecated"), "{format}");
        }
        for link in [
            "https://github.com/open-telemetry/opentelemetry-collector-contrib/issues/14525",
            "https://www.elastic.co/guide/en/observability/current/apm-api-otlp.html",
        ] {
            assert!(text.contains(link) || text.contains(&link.replace('/', "&#x2f;")), "{format}: {link}");
        }
    }
}

#[test]
fn html_is_one_self_contained_page_with_four_diagrams() {
    let out =
        Test::new().example("dkp.yaml").args(&["compare", "stack.yaml", "--format", "html", "-o", "c.html"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let html = out.read("c.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg xmlns=").count(), 4);
    for id in ["a-", "b-", "c-", "d-"] {
        assert!(html.contains(&format!("id=\"{id}arrow-traces\"")), "{id}");
    }
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains(" src="));
    assert!(!html.contains("url(http") && !html.contains("@import"));
    assert!(html.contains("<table>") && html.contains("score: total"));
    assert!(html.contains("<span class=\"badge best\">recommended</span>"));
}

#[test]
fn a_large_stack_compares_quickly_and_fully() {
    let out =
        Test::new().stack(&crate::diagram::big_stack()).args(&["compare", "stack.yaml", "--format", "json"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let d = &v["topologies"][3];
    assert_eq!(
        d["single_points_of_failure"]["logs"].as_array().unwrap().len(),
        20 + 2,
        "20 file agents, node agent, store"
    );
}

#[test]
fn invalid_stacks_fail_like_validate() {
    let out = Test::new().stack("version: 1\nname: x\n").args(&["compare", "stack.yaml"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
}

/// CPU millicores and memory MiB of a container's requests.
fn requests(container: &serde_yaml::Value) -> (u64, u64) {
    let r = &container["resources"]["requests"];
    let cpu = r["cpu"].as_str().unwrap().strip_suffix('m').unwrap().parse::<u64>().unwrap();
    let memory = r["memory"].as_str().unwrap().strip_suffix("Mi").unwrap().parse::<u64>().unwrap();
    (cpu, memory)
}

/// What the Kubernetes manifests of a tree request: every workload's containers times its
/// replicas (an autoscaled one's minimum, a DaemonSet's and a Job's once), plus the sidecars the
/// app patches add to the team's workloads (containers with an image; init containers run to
/// completion before the others and are not counted).
fn manifest_requests(tree: &std::path::Path) -> (u64, u64) {
    let mut docs = Vec::new();
    for dir in ["kubernetes", "kubernetes/app-patches"] {
        for entry in std::fs::read_dir(tree.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("kustomization.yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                for doc in serde_yaml::Deserializer::from_str(&text) {
                    docs.push(<serde_yaml::Value as serde::Deserialize>::deserialize(doc).unwrap());
                }
            }
        }
    }
    let min_replicas = |name: &str| {
        docs.iter()
            .find(|d| d["kind"] == "HorizontalPodAutoscaler" && d["spec"]["scaleTargetRef"]["name"] == name)
            .map(|d| d["spec"]["minReplicas"].as_u64().unwrap())
    };
    let (mut cpu, mut memory) = (0, 0);
    for d in &docs {
        let kind = d["kind"].as_str().unwrap_or_default();
        if !["Deployment", "StatefulSet", "DaemonSet", "Job"].contains(&kind) {
            continue;
        }
        let name = d["metadata"]["name"].as_str().unwrap();
        let replicas = d["spec"]["replicas"].as_u64().or_else(|| min_replicas(name)).unwrap_or(1);
        for c in d["spec"]["template"]["spec"]["containers"].as_sequence().unwrap() {
            if c.get("image").is_none() {
                continue; // the team's own container, which a patch only adds settings to
            }
            let (c_cpu, c_memory) = requests(c);
            cpu += c_cpu * replicas;
            memory += c_memory * replicas;
        }
    }
    (cpu, memory)
}

#[test]
fn compare_resources_are_what_the_manifests_request() {
    for example in ["dkp.yaml", "kubernetes.yaml", "grafana.yaml", "sampling.yaml"] {
        let v: serde_json::Value = serde_json::from_str(&compare(example, "json")).unwrap();
        for t in v["topologies"].as_array().unwrap() {
            let id = t["id"].as_str().unwrap();
            if !t["needs"].as_array().unwrap().is_empty() || !t["refused"].is_null() {
                continue;
            }
            let out = Test::new().example(example).args(&["render", "stack.yaml", "--topology", id, "-o", "out"]).run();
            assert_eq!(out.code, 0, "{}", out.stderr);
            let (cpu, memory) = manifest_requests(&out.dir.path().join("out"));
            assert!(cpu > 0 && memory > 0, "{example} {id}");
            assert_eq!(t["resources"]["cpu_millicores"].as_u64().unwrap(), cpu, "{example} {id}: CPU");
            assert_eq!(t["resources"]["memory_mib"].as_u64().unwrap(), memory, "{example} {id}: memory");
        }
    }
}

#[test]
fn edot_removes_ds_missing_aggregations_and_says_who_computes_them() {
    let v: serde_json::Value = serde_json::from_str(&compare("edot.yaml", "json")).unwrap();
    let d = v["topologies"].as_array().unwrap().iter().find(|t| t["id"] == "D").unwrap();
    let texts =
        |key: &str| d[key].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(texts("cons").iter().all(|c| !c.contains("has no `elasticapm`")), "{:?}", texts("cons"));
    assert!(texts("pros").iter().any(|p| p.contains("On EDOT the gateway computes")), "{:?}", texts("pros"));
    let connector = d["components"].as_array().unwrap().iter().find(|c| c["class"] == "connector").unwrap();
    assert_eq!(
        (connector["type"].as_str(), connector["stability"].as_str()),
        (Some("elasticapm"), Some("development"))
    );
    let table = compare("edot.yaml", "table");
    assert!(table.contains("EDOT's `elasticapm` connector in"), "{table}");
    // The contrib DKP stack keeps the drawback.
    let dkp: serde_json::Value = serde_json::from_str(&compare("dkp.yaml", "json")).unwrap();
    let d = dkp["topologies"].as_array().unwrap().iter().find(|t| t["id"] == "D").unwrap();
    assert!(d["cons"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().contains("has no `elasticapm`")));
}
