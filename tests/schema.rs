//! The committed JSON Schema is the one the model generates, and every example follows it.

use crate::common::{repo, Test};

#[test]
fn committed_schema_is_up_to_date() {
    let out = Test::new().args(&["schema"]).run();
    assert_eq!(out.code, 0);
    let committed = std::fs::read_to_string(repo().join("schemas/stack.schema.json")).unwrap();
    assert!(
        committed == out.stdout,
        "schemas/stack.schema.json is stale: run `cargo run -- schema > schemas/stack.schema.json`"
    );
}

#[test]
fn schema_describes_the_format() {
    let out = Test::new().args(&["schema"]).run();
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "version",
        "name",
        "environment",
        "topology",
        "priorities",
        "targets",
        "collector",
        "backends",
        "kubernetes",
        "services",
    ] {
        assert!(props.contains_key(key), "schema lacks `{key}`");
    }
    assert_eq!(schema["additionalProperties"], serde_json::Value::Bool(false));
    let mut required: Vec<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort_unstable();
    assert_eq!(required, ["name", "services", "version"]);
}

#[test]
fn every_example_points_at_the_schema() {
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/stack.schema.json\n"),
            "{} lacks the schema modeline",
            path.display()
        );
    }
}
