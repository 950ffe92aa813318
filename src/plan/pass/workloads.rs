//! Pass `workloads`: every workload the deployment files run — collectors, deployed backends
//! and their companions — sized once (`plan::sizing`), from `data/backends.yaml` and
//! `data/roles.yaml`.

use crate::plan::backend_spec::Catalog;
use crate::plan::distribution::Distribution;
use crate::plan::draft::Draft;
use crate::plan::workload;

/// Plan the workloads.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let catalog = Catalog::get()?;
    let distribution = Distribution::of(d.valid.collector.distribution)?;
    let mut out = Vec::new();
    for (i, role) in d.roles.iter().enumerate() {
        out.push(workload::collector(i, role, distribution, d.valid.collector.version)?);
    }
    if let Some(deployment) = &d.deployment {
        out.extend(
            deployment.backends.iter().map(|b| workload::backend(catalog, b, deployment, d.apm_server.as_ref())),
        );
        out.extend(workload::companions(catalog, deployment));
        out.extend(d.buffer.as_ref().and_then(|b| workload::buffer_kafka(catalog, b, &deployment.prefix)));
    }
    d.workloads = out;
    Ok(())
}
