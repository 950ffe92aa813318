//! Pass `capacity`: with a declared `load`, size the gateway from the measured capacity table
//! (`plan::capacity`) before any collector is planned; settings the stack gives explicitly win,
//! with a warning where they fall short of the load.

use crate::diagnostic::Diagnostic;
use crate::plan::capacity::{self, Table};
use crate::plan::draft::Draft;
use crate::plan::role_spec::role;
use crate::validate::DEFAULT_MEMORY_LIMIT_MIB;

/// A warning for each deployed store whose volume is sized (`data/backends.yaml`, `daily_mib`)
/// for less than a day of the declared load as OTLP bytes. Stored data is usually smaller than
/// OTLP (stores compress), so this errs towards warning; a sandbox's volume is never resized from
/// the load, since a StatefulSet's claim template cannot change once applied.
fn sandboxes_below_the_load(d: &mut Draft<'_>, sizing: &capacity::GatewaySizing) -> anyhow::Result<()> {
    let catalog = crate::plan::backend_spec::Catalog::get()?;
    let Some(span) = d.valid.stack.load.as_ref().and_then(|l| {
        l.spans_per_second.as_ref().or(l.log_records_per_second.as_ref()).or(l.metric_points_per_second.as_ref())
    }) else {
        return Ok(());
    };
    for (signal, (_, bytes)) in &sizing.daily {
        let Some(mut store) = d.topology.sinks.get(signal).copied() else { continue };
        if let Some(behind) = d.topology.intakes.get(&store) {
            store = *behind;
        }
        let deployed = d.sinks.get(&store).is_some_and(|s| s.deployed);
        let sized = catalog
            .backend(store)
            .data
            .as_ref()
            .and_then(|data| data.retention.signals.get(signal))
            .map(|r| u64::from(r.daily_mib) << 20);
        if let (true, Some(sized)) = (deployed, sized) {
            if *bytes > sized {
                d.warnings.push(
                    Diagnostic::warning(
                        span.span,
                        format!(
                            "the deployed `{}` is sized for about {} of {} a day, and the declared load sends {} a day as OTLP",
                            store.key(),
                            capacity::human_bytes(sized),
                            signal.as_str(),
                            capacity::human_bytes(*bytes)
                        ),
                    )
                    .hint(format!(
                        "the sandbox is sized for a small setup: point `backends.{}` at a store sized for this load",
                        store.key()
                    )),
                );
            }
        }
    }
    Ok(())
}

/// Size the gateway for the declared load.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let Some(load) = &d.valid.load else { return Ok(()) };
    let spec = role("gateway")?;
    let persistent = d.valid.collector.persistent_queue;
    let sizing = capacity::size_gateway(
        Table::get()?,
        d.topology.id.letter(),
        load,
        persistent,
        spec.cpu_millicores,
        DEFAULT_MEMORY_LIMIT_MIB,
    );
    let collector = d.valid.stack.collector.clone().unwrap_or_default();
    let gateway_used = d.topology.uses_gateway();
    if let Some(replicas) = collector.gateway_replicas.filter(|r| gateway_used && r.value < u64::from(sizing.replicas))
    {
        d.warnings.push(
            Diagnostic::warning(
                replicas.span,
                format!(
                    "`collector.gateway_replicas: {}` is below the {} replicas the declared load needs",
                    replicas.value, sizing.replicas
                ),
            )
            .hint("drop it to let otelplan size the gateway from `load`, or raise it (`otelplan plan` shows the arithmetic)"),
        );
    }
    if let Some(memory) = collector.memory_limit_mib.filter(|m| gateway_used && m.value < u64::from(sizing.memory_mib))
    {
        d.warnings.push(
            Diagnostic::warning(
                memory.span,
                format!(
                    "`collector.memory_limit_mib: {}` is below the {} MiB a gateway replica uses at the declared load",
                    memory.value, sizing.memory_mib
                ),
            )
            .hint("drop it to let otelplan size the gateway from `load`, or raise it"),
        );
    }
    if let Some(queue) = collector.persistent_queue.filter(|_| gateway_used && !persistent) {
        if sizing.holds_minutes < load.outage_minutes {
            d.warnings.push(
                Diagnostic::warning(
                    queue.span,
                    format!(
                        "the in-memory queues hold about {} minutes of the declared load, not the {} of `load.outage_minutes`; a longer outage loses data, and a restart loses what they hold",
                        sizing.holds_minutes, load.outage_minutes
                    ),
                )
                .hint("use `persistent_queue: true`: the queue is then sized on disk for the outage"),
            );
        }
    }
    let compose = d.valid.targets.contains(&crate::model::keywords::Target::Compose);
    if compose && gateway_used && sizing.busy_permille > 1000 {
        let model = d.valid.stack.load.as_ref();
        let span = model.and_then(|l| {
            l.spans_per_second.as_ref().or(l.log_records_per_second.as_ref()).or(l.metric_points_per_second.as_ref())
        });
        if let Some(span) = span.map(|s| s.span) {
            d.warnings.push(
                Diagnostic::warning(
                    span,
                    format!(
                        "compose runs one gateway container, and the declared load needs {:.1} replicas' worth of CPU ({}m each)",
                        capacity::float(sizing.busy_permille) / 1000.0,
                        spec.cpu_millicores
                    ),
                )
                .hint(
                    "one container may use more of the host's cores, but its disk queue (bbolt) writes one transaction at a time: \
                     carry this load on the Kubernetes target, or measure your host with benches/capacity.sh",
                ),
            );
        }
    }
    if let Some(distribution) =
        collector.distribution.filter(|v| gateway_used && v.value != crate::model::keywords::DistributionId::Contrib)
    {
        d.warnings.push(
            Diagnostic::warning(
                distribution.span,
                format!(
                    "the gateway is sized from figures measured with the contrib build; the `{}` gateway runs components that build lacks, whose cost is not measured",
                    distribution.value.as_str()
                ),
            )
            .hint("leave headroom (`collector.gateway_replicas`), or measure this build with benches/capacity.sh"),
        );
    }
    sandboxes_below_the_load(d, &sizing)?;
    d.sizing = Some(sizing);
    Ok(())
}
