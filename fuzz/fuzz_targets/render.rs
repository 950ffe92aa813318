//! Fuzz target: any bytes as a stack file, through parse → validate → plan → render in
//! memory, in the file's own topology and each of the four, plus every `compare` format.
//! Invalid input must come back as diagnostics; a panic is a finding. Whatever renders must
//! also be well-formed: every YAML and JSON file of the tree parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Stack files larger than this are refused by `Source::load` before parsing.
const MAX_BYTES: usize = 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_BYTES {
        return;
    }
    // `Source::load` refuses non-UTF-8 files the same way.
    let Ok(text) = std::str::from_utf8(data) else { return };
    for topology in std::iter::once(None).chain(otelplan::topologies().into_iter().map(Some)) {
        if let Ok(tree) = otelplan::render(text, topology) {
            check_tree(&tree);
        }
    }
    for format in ["table", "markdown", "json", "html"] {
        let out = otelplan::compare(text, format);
        if format == "json" {
            if let Ok(json) = out {
                assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "compare json: {json}");
            }
        }
    }
});

/// Every YAML document and JSON file of a rendered tree parses.
fn check_tree(tree: &otelplan::OutputTree) {
    for (path, text) in tree {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            for doc in serde_yaml::Deserializer::from_str(text) {
                let parsed: Result<serde_yaml::Value, _> = serde::Deserialize::deserialize(doc);
                assert!(parsed.is_ok(), "{path} does not parse: {parsed:?}");
            }
        } else if path.ends_with(".json") {
            assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "{path} does not parse");
        }
    }
}
