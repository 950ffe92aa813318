//! `otelplan plan STACK`: print the chosen topology, why (for `auto`: the score table and a
//! paragraph of reasoning), and the data-flow edges.

use std::fmt::Write as _;
use std::path::Path;

use crate::analysis::Analysis;
use crate::cli::OutputFormat;
use crate::cmd::Exit;
use crate::model::keywords::TopologyId;
use crate::report;

/// What the plan keeps of the traces: the SDKs' ratio, the samplers' rules.
fn sampling_lines(plan: &crate::plan::Plan) -> Vec<String> {
    use crate::plan::collector::ProcessorSpec;
    let mut out = Vec::new();
    if let Some(ratio) = plan.apps.iter().find_map(|a| a.head_ratio.as_ref()) {
        out.push(format!("head: the SDKs keep {ratio} of the traces they start (parentbased_traceidratio)"));
    }
    for role in &plan.roles {
        for p in &role.processors {
            let ProcessorSpec::TailSampling(t) = &p.spec else { continue };
            let mut kept = Vec::new();
            if t.keep_errors {
                kept.push("every trace with an error".to_string());
            }
            if let Some(ms) = t.slower_than_ms {
                kept.push(format!("every trace of {ms} ms or more"));
            }
            kept.push(format!("{}% of the rest", f64::from(t.ratio_ppm) / 10_000.0));
            out.push(format!(
                "tail: {} ({} replicas, traces routed by trace id) keeps {}; decides {} s after a trace's first span, \
                 holding at most {} traces per replica",
                role.name,
                role.replicas,
                kept.join(", "),
                t.decision_wait_seconds,
                t.num_traces
            ));
        }
    }
    out
}

/// The text `plan` prints.
pub(crate) fn describe(analysis: &Analysis) -> anyhow::Result<String> {
    let plan = &analysis.plan;
    let mut out = format!("topology: {} ({})\nwhy: {}\n", plan.topology.id.letter(), plan.topology.title, plan.reason);
    match plan.distribution.components_version {
        None => {
            let _ = writeln!(out, "collector-contrib: {}", plan.collector_version);
        }
        Some(components) => {
            let d = plan.distribution;
            let _ =
                writeln!(out, "collector: {} {} (components of collector {components})", d.title, d.default_version);
        }
    }
    if let Some(board) = &analysis.choice.scoreboard {
        let _ = writeln!(out, "scores (3 strong to 1 weak, from this stack's plan in each topology):");
        for line in board.table().lines() {
            let _ = writeln!(out, "  {line}");
        }
        let _ = write!(out, "reason:\n{}", crate::report::compare::wrap(&board.paragraph, 100, "  "));
    }
    let _ = writeln!(out, "collectors:");
    if plan.roles.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for role in &plan.roles {
        let _ =
            writeln!(out, "  {} ({} replica{})", role.name, role.replicas, if role.replicas == 1 { "" } else { "s" });
    }
    let sampling = sampling_lines(plan);
    if !sampling.is_empty() {
        let _ = writeln!(out, "sampling:");
        for line in sampling {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let (Some(load), Some(sizing)) = (&plan.load, &plan.sizing) {
        let gateway = plan.roles.iter().find(|r| r.role == crate::plan::node::RoleKind::Gateway);
        let _ = writeln!(
            out,
            "sizing (from data/capacity.yaml, {}):",
            crate::plan::capacity::provenance(plan.topology.id.letter())?
        );
        for line in crate::plan::capacity::describe(load, sizing, gateway) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(b) = &plan.buffer {
        let topics: Vec<&str> = b.topics.values().map(String::as_str).collect();
        let _ = writeln!(out, "buffer (kafka{}):", if b.deployed { ", deployed" } else { "" });
        let _ = writeln!(out, "  topics: {} ({} partitions each)", topics.join(", "), b.partitions);
        let _ = writeln!(out, "  consumer group: {}", b.group_id);
        for line in &b.arithmetic {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "edges:");
    for e in plan.edges() {
        let port = e.port.map(|p| format!(" :{p}")).unwrap_or_default();
        let _ = writeln!(out, "  {} -> {}  {} via {}{port}", e.from, e.to, e.signal.as_str(), e.protocol);
    }
    Ok(out)
}

/// The plan as JSON: the choice, its scores, the collector roles and every edge.
fn to_json(analysis: &Analysis) -> serde_json::Value {
    let plan = &analysis.plan;
    let scores = analysis.choice.scoreboard.as_ref().map(|board| {
        board
            .rows
            .iter()
            .map(|row| {
                let per: serde_json::Map<String, serde_json::Value> =
                    board.priorities.iter().map(|p| (p.as_str().to_string(), serde_json::json!(row.value(*p)))).collect();
                serde_json::json!({ "id": row.id.letter(), "needs": row.needs.iter().map(|b| b.key()).collect::<Vec<_>>(), "scores": per, "total": row.total })
            })
            .collect::<Vec<_>>()
    });
    serde_json::json!({
        "ok": true,
        "topology": plan.topology.id.letter(),
        "title": plan.topology.title,
        "auto": analysis.choice.auto,
        "reason": plan.reason,
        "collector_version": plan.collector_version.to_string(),
        "scores": scores,
        "collectors": plan.roles.iter().map(|r| serde_json::json!({ "name": r.name, "role": r.role.short(), "replicas": r.replicas })).collect::<Vec<_>>(),
        "edges": plan.edges(),
        "buffer": plan.buffer.as_ref().map(|b| serde_json::json!({
            "deployed": b.deployed,
            "topics": b.topics.values().collect::<Vec<_>>(),
            "partitions": b.partitions,
            "group_id": b.group_id,
            "ingest_replicas": { "min": b.ingest_replicas, "max": b.ingest_max_replicas },
            "retention_minutes": b.retention_minutes,
            "volume_gib": b.volume_gib,
        })),
        "sizing": plan.sizing.as_ref().map(|s| serde_json::json!({
            "gateway_replicas": { "min": s.replicas, "max": crate::plan::sizing::max_replicas(s.replicas) },
            "memory_mib": s.memory_mib,
            "volume_gib": s.storage_gib,
            "queue_bytes": s.queue_bytes.iter().map(|(k, v)| (k.as_str().to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "outage_minutes_held": s.holds_minutes,
            "arithmetic": s.arithmetic,
            "per_day": s.daily.iter().map(|(k, (items, bytes))| (k.as_str().to_string(), serde_json::json!({ "items": items, "otlp_bytes": bytes }))).collect::<serde_json::Map<_, _>>(),
        })),
    })
}

/// Run `plan`.
pub(crate) fn run(path: &Path, topology: Option<TopologyId>, format: OutputFormat) -> anyhow::Result<Exit> {
    let (source, analysis) = match crate::cmd::analyse(path, topology, format)? {
        Ok(pair) => pair,
        Err(code) => return Ok(code),
    };
    report::diagnostics(&source, &analysis.warnings);
    match format {
        OutputFormat::Json => report::print_json(&to_json(&analysis))?,
        OutputFormat::Text => report::out(&describe(&analysis)?)?,
    }
    Ok(0)
}
