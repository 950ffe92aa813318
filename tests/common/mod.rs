//! The test builder: copy inputs into a temporary directory, run the built `otelplan` there,
//! and look at its status, output and files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A test run of the binary, with what it must produce: `run` checks the expectations itself
/// and shows the whole output when one fails (just's `Test`).
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    status: Option<i32>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

/// What a run produced.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("tempdir"),
            args: Vec::new(),
            env: Vec::new(),
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Write `stack.yaml` with `text`.
    pub fn stack(self, text: &str) -> Self {
        self.file("stack.yaml", text)
    }

    /// Write any file (relative to the run's directory).
    pub fn file(self, name: &str, text: &str) -> Self {
        let path = self.dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
        self
    }

    /// Copy an example of the repository into the run's directory as `stack.yaml`.
    pub fn example(self, name: &str) -> Self {
        let text = fs::read_to_string(repo().join("examples").join(name)).expect("example");
        self.stack(&text)
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_string()));
        self
    }

    /// An environment variable of the run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The exit code the run must end with.
    pub fn status(mut self, code: i32) -> Self {
        self.status = Some(code);
        self
    }

    /// A text standard output must contain.
    pub fn stdout_has(mut self, text: &str) -> Self {
        self.stdout.push(text.to_string());
        self
    }

    /// A text standard error must contain.
    pub fn stderr_has(mut self, text: &str) -> Self {
        self.stderr.push(text.to_string());
        self
    }

    pub fn run(self) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_otelplan"))
            .args(&self.args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run otelplan");
        let output = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
            dir: self.dir,
        };
        let show = || {
            format!(
                "otelplan {}\n--- status {}\n--- stdout\n{}--- stderr\n{}",
                self.args.join(" "),
                output.code,
                output.stdout,
                output.stderr
            )
        };
        if let Some(code) = self.status {
            assert_eq!(output.code, code, "unexpected exit code\n{}", show());
        }
        for text in &self.stdout {
            assert!(output.stdout.contains(text.as_str()), "stdout lacks {text:?}\n{}", show());
        }
        for text in &self.stderr {
            assert!(output.stderr.contains(text.as_str()), "stderr lacks {text:?}\n{}", show());
        }
        output
    }
}

impl Output {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }
}

/// The repository root.
/// The bundled DKP example's text.
pub fn dkp() -> String {
    std::fs::read_to_string(repo().join("examples/dkp.yaml")).unwrap()
}

/// `render` of `stack` in `topology` into `out/`, which must succeed.
pub fn render(stack: &str, topology: &str) -> Output {
    let out = Test::new().stack(stack).args(&["render", "stack.yaml", "-o", "out", "--topology", topology]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, as `(relative path, content)`, sorted by path.
pub fn files(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("prefix").to_string_lossy().replace('\\', "/");
                out.push((rel, fs::read_to_string(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The whole tree as one text: each file under a `=== path ===` header.
pub fn tree_text(dir: &Path) -> String {
    files(dir).into_iter().map(|(path, text)| format!("=== {path} ===\n{text}")).collect::<Vec<_>>().join("\n")
}
