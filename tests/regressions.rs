//! Inputs that once broke otelplan, found by fuzzing (`fuzz/`) or the property tests, kept in
//! `fixtures/regressions/`. Each must render in every topology or be refused with diagnostics,
//! never panic, and every YAML and JSON file it renders must parse.

use serde_yaml::Value;

fn parse_yaml(path: &str, text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}\n{text}")))
        .collect()
}

#[test]
fn regression_inputs_render_or_are_refused() {
    let dir = crate::common::repo().join("tests/fixtures/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        seen += 1;
        let name = path.display().to_string();
        let bytes = std::fs::read(&path).unwrap();
        // Fuzz inputs may be any bytes; the CLI refuses what is not UTF-8 before parsing.
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        for topology in std::iter::once(None).chain(otelplan::topologies().into_iter().map(Some)) {
            let Ok(tree) = otelplan::render(text, topology) else { continue };
            for (file, content) in &tree {
                if file.ends_with(".yaml") || file.ends_with(".yml") {
                    parse_yaml(&format!("{name} {topology:?} {file}"), content);
                } else if file.ends_with(".json") {
                    serde_json::from_str::<serde_json::Value>(content).unwrap();
                }
            }
        }
        for format in ["table", "markdown", "json", "html"] {
            if let (Ok(out), "json") = (otelplan::compare(text, format), format) {
                serde_json::from_str::<serde_json::Value>(&out).unwrap();
            }
        }
    }
    assert!(seen > 0, "no regression inputs");
}

/// U+2028, U+2029 and U+0085 are line breaks to YAML 1.1 readers: values holding them read back
/// unchanged, and a comment holding one does not end early.
#[test]
fn yaml_line_separators_stay_in_their_value() {
    let text =
        std::fs::read_to_string(crate::common::repo().join("tests/fixtures/regressions/yaml-line-separators.yaml"))
            .unwrap();
    let tree = otelplan::render(&text, None).unwrap();
    let gateway = &parse_yaml("gateway", &tree["collector/gateway.yaml"])[0];
    let attributes = &gateway["processors"]["resource/environment"]["attributes"][0];
    assert_eq!(attributes["value"], "prod\u{2028}staging\u{2029} ");
    assert_eq!(gateway["exporters"]["elasticsearch"]["user"], "writer\u{2028}");
    let scraper = &parse_yaml("scraper", &tree["collector/scraper.yaml"])[0];
    assert_eq!(scraper["receivers"]["postgresql/db"]["username"], "monitor\u{2029}");
    assert_eq!(scraper["receivers"]["postgresql/db"]["databases"][0], "app\u{2028}");
    let agent = &parse_yaml("agent", &tree["collector/agent-db.yaml"])[0];
    assert_eq!(
        agent["receivers"]["file_log/db"]["include"][0],
        "/var/log/x\u{2028}kind: Secret\u{2028}y/postgresql.log"
    );
    let patch = parse_yaml("patch", &tree["kubernetes/app-patches/statefulset-db.yaml"]);
    assert_eq!(patch.len(), 1);
    assert_eq!(patch[0]["kind"], "StatefulSet", "the comment did not inject a key");
    for (path, content) in &tree {
        assert!(
            !content.contains(['\u{2028}', '\u{2029}', '\u{85}'])
                || !(path.ends_with(".yaml") || path.ends_with(".yml")),
            "{path} holds a raw YAML line break"
        );
    }
}
