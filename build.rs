//! Build script: read the default collector release from `data/distributions/contrib.yaml`, the
//! one place it is written, so `--version` and the planner's default cannot disagree.

use std::fs;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = "data/distributions/contrib.yaml";
    println!("cargo:rerun-if-changed={path}");
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("reading {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let version = text.lines().find_map(|line| line.strip_prefix("default_version:")).map_or("", str::trim);
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        eprintln!("{path}: `default_version: {version}` is not MAJOR.MINOR.PATCH");
        return ExitCode::FAILURE;
    }
    println!("cargo:rustc-env=OTELPLAN_COLLECTOR_VERSION={version}");
    ExitCode::SUCCESS
}
