//! `otelplan check-patches KUSTOMIZE_DIR` / `otelplan check-patches COMPOSE_FILE… --overlay FILE`:
//! the team's own workloads against the patches otelplan writes for them (`patch_check`).

use std::path::{Path, PathBuf};

use crate::cmd::{Exit, Verbosity};
use crate::diagnostic::Severity;
use crate::patch_check::{compose, kustomize};
use crate::report;
use crate::source::Source;

/// Run `check-patches`: 0 when everything fits (warnings allowed), 1 when a patch does not fit
/// the team's workloads, 2 when the check cannot run.
pub(crate) fn run(paths: &[PathBuf], overlay: Option<&Path>, verbosity: Verbosity) -> anyhow::Result<Exit> {
    let checked = match (overlay, paths) {
        (Some(overlay), files) => compose::check(files, overlay).map_err(|d| (overlay.to_path_buf(), d)),
        (None, [dir]) => kustomize::check(dir).map_err(|d| (dir.clone(), d)),
        (None, _) => {
            report::failure(&anyhow::anyhow!(
                "give one kustomization directory, or your compose files with `--overlay FILE` \
                 (`otelplan check-patches k8s/prod`, `otelplan check-patches compose.yaml --overlay otelplan-out/compose/dkp.override.yaml`)"
            ));
            return Ok(2);
        }
    };
    let found = match checked {
        Ok(found) => found,
        Err((path, d)) => {
            report::findings(&Source::from_text(path, ""), &[d]);
            return Ok(2);
        }
    };
    for (source, items) in &found.files {
        report::findings(source, items);
    }
    if found.has_errors() {
        let n = found.files.iter().flat_map(|(_, d)| d).filter(|d| d.severity == Severity::Error).count();
        let noun = if n == 1 { "error" } else { "errors" };
        report::failure(&anyhow::anyhow!("the patches do not fit your workloads: {n} {noun} above"));
        return Ok(1);
    }
    if verbosity != Verbosity::Quiet {
        report::out(&format!("ok: {}\n", found.summary))?;
    }
    Ok(0)
}
