//! Bad input: every rule of the spec has a fixture in `fixtures/invalid/`. Each must fail with
//! exit code 2, name the file with line and column, write nothing, and print exactly the
//! pinned message.

use crate::common::Test;

#[test]
fn invalid_stacks_fail_with_located_errors() {
    insta::glob!("fixtures/invalid", "*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let out = Test::new().stack(&text).args(&["render", "stack.yaml", "-o", "out"]).run();
        let name = path.display().to_string();
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(!out.path("out").exists(), "{name}: the output directory was created");
        assert!(out.stderr.contains("--> stack.yaml:"), "{name}: no line:col in {}", out.stderr);
        assert!(out.stderr.contains("hint: "), "{name}: no hint in {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
        insta::assert_snapshot!(out.stderr);
    });
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let out = Test::new()
        .stack("version: 1\nname: Bad_Name\ntopolgy: A\nservices:\n  web: { kind: django, replica: 2 }\n  db: { kind: postgres, endpoint: db, password: hunter2 }\n")
        .args(&["validate", "stack.yaml"])
        .run();
    assert_eq!(out.code, 2);
    for at in ["stack.yaml:2:7", "stack.yaml:3:1", "stack.yaml:5:24", "stack.yaml:6:35", "stack.yaml:6:49"] {
        assert!(out.stderr.contains(at), "missing {at} in {}", out.stderr);
    }
    assert!(out.stderr.contains("has 5 errors"), "{}", out.stderr);
}

fn refused(bytes: &[u8], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.yaml"), bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otelplan"))
        .args(["render", "stack.yaml", "-o", "out"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expect), "expected `{expect}` in {stderr}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn hostile_files_are_refused() {
    refused(b"", "the stack file is empty");
    refused(b"# only a comment\n", "the stack file is empty");
    refused(b"version: 1\nname: \xff\xfe\n", "is not UTF-8 text");
    refused(&vec![b'#'; 2 * 1024 * 1024], "more than the 1048576 bytes");
    let bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n";
    refused(bomb.as_bytes(), "YAML aliases (`*name`) are not supported");
    refused(b"version: 1\n", "missing the required field `name`");
    refused(format!("{}1{}", "[".repeat(200), "]".repeat(200)).as_bytes(), "nesting deeper than");
    refused(b"version: 1\n---\nname: x\n", "a second YAML document");
    refused(b"- 1\n- 2\n", "must be a mapping");
}
