//! Fuzz target: arbitrary text in every free-text field of a fixed, valid stack (the
//! environment, a datastore's user name and database, a log file name, the Loki tenant).
//! Whatever the model accepts must render in topologies C and D to YAML that parses and whose
//! collector configs read each value back unchanged (the collector reads `$$` as `$`); what it
//! refuses must come back as diagnostics. A panic or a value that reads back differently is a
//! finding.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.split('\u{0}');
    let mut next = || parts.next().unwrap_or("x").to_string();
    let (environment, user, database, file, tenant) = (next(), next(), next(), next(), next());
    let path = format!("/var/log/pg/{file}");
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let stack = format!(
        "version: 1\nname: fuzz\nenvironment: {}\nbackends:\n  elasticsearch: {{ endpoint: \"http://es:9200\", username: {}, password: \"${{ES}}\" }}\n  jaeger: {{ endpoint: \"http://jaeger:4317\" }}\n  prometheus: {{ endpoint: \"http://prometheus:9090\" }}\n  loki: {{ endpoint: \"http://loki:3100\", tenant: {} }}\nservices:\n  web: {{ kind: django }}\n  db: {{ kind: postgres, endpoint: \"db:5432\", username: {}, password: \"${{PG}}\", databases: [{}], logs: {{ path: {} }} }}\n",
        q(&environment),
        q(&user),
        q(&tenant),
        q(&user),
        q(&database),
        q(&path),
    );
    for topology in ["C", "D"] {
        let Ok(tree) = otelplan::render(&stack, Some(topology)) else { continue };
        let mut read = BTreeSet::new();
        for (name, content) in &tree {
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                continue;
            }
            for doc in serde_yaml::Deserializer::from_str(content) {
                let value: Value = match serde::Deserialize::deserialize(doc) {
                    Ok(v) => v,
                    Err(e) => panic!("{name} does not parse: {e}\n{content}"),
                };
                if name.starts_with("collector/") {
                    strings(&value, &mut read);
                }
            }
        }
        let mut expected = vec![&environment, &user, &database, &path];
        if topology == "C" {
            expected.push(&tenant);
        }
        for value in expected {
            assert!(read.contains(value.as_str()), "{topology}: {value:?} does not read back from the collector configs");
        }
    }
});

/// Every string of `v`, as the collector reads it (`$$` is `$`).
fn strings(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.replace("$$", "$"));
        }
        Value::Sequence(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        Value::Tagged(t) => strings(&t.value, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
