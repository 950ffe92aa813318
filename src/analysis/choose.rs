//! Plan stage, first step: which topology to render — the one named (by flag or file), or for
//! `auto` the best-scored one among those whose backends the stack describes, scored from each
//! topology's plan for this stack (`score`).

use crate::analysis::facts::Facts;
use crate::analysis::score::{entries, Entry, Scoreboard};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::keywords::{TopologyChoice, TopologyId};
use crate::plan::backend_spec::Catalog;
use crate::plan::Plan;
use crate::span::Span;
use crate::topology::{BackendKind, Destination, Topology};
use crate::validate::ValidStack;

/// The topology chosen and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    /// The topology.
    pub(crate) id: TopologyId,
    /// Whether `auto` chose it.
    pub(crate) auto: bool,
    /// One line of why.
    pub(crate) reason: String,
    /// For `auto`: every topology's scores and the reasoning.
    pub(crate) scoreboard: Option<Scoreboard>,
}

/// A backend a topology needs that the stack cannot provide, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Missing {
    /// The backend.
    pub(crate) backend: BackendKind,
    /// Whether it is described at all (then only its endpoint is missing).
    pub(crate) described: bool,
}

/// The backends `topology` needs that `stack` does not describe with an endpoint.
pub(crate) fn missing_backends(stack: &ValidStack, topology: &Topology) -> Vec<Missing> {
    let b = stack.backends();
    let endpoint = |k: BackendKind| -> Option<bool> {
        let common = match k {
            BackendKind::Elasticsearch => b.elasticsearch.as_ref().map(|x| &x.common),
            BackendKind::ApmServer => b.apm_server.as_ref().map(|x| &x.common),
            BackendKind::Jaeger => b.jaeger.as_ref().map(|x| &x.common),
            BackendKind::Prometheus => b.prometheus.as_ref().map(|x| &x.common),
            BackendKind::Loki => b.loki.as_ref().map(|x| &x.common),
        }?;
        Some(common.endpoint.is_some())
    };
    topology
        .needs()
        .into_iter()
        .filter_map(|k| match endpoint(k) {
            Some(true) => None,
            Some(false) => Some(Missing { backend: k, described: true }),
            None => Some(Missing { backend: k, described: false }),
        })
        .collect()
}

fn missing_diagnostic(id: TopologyId, m: &Missing, span: Option<Span>) -> Diagnostic {
    let message = if m.described {
        format!("topology {} needs `backends.{}.endpoint`, which is not given", id.letter(), m.backend.key())
    } else {
        format!("topology {} needs the backend `{}`, which `backends` does not describe", id.letter(), m.backend.key())
    };
    let example = Catalog::get().map(|c| c.backend(m.backend).example_endpoint.clone()).unwrap_or_default();
    let hint = format!("add `backends.{}.endpoint`, for example `{example}`", m.backend.key());
    let d = match span {
        Some(s) => Diagnostic::error(s, message),
        None => Diagnostic::file_error(message),
    };
    d.hint(hint)
}

/// Tail sampling needs a gateway to route every span of a trace to one sampler: a topology
/// whose apps send straight to APM Server (B) cannot have it.
pub(crate) fn tail_refusal(stack: &ValidStack, topology: &Topology) -> Option<Diagnostic> {
    let tail = stack.tail_sampling?;
    if topology.apps_send_to == Destination::Gateway {
        return None;
    }
    let message = format!(
        "tail sampling needs a collector gateway, which topology {} does not have: its apps send straight to APM Server",
        topology.id.letter()
    );
    Some(
        Diagnostic::error(tail.span, message)
            .hint("the gateway routes every span of a trace to one sampler; choose topology A, C or D")
            .hint("or remove `sampling.tail` and keep `sampling.head`, which works in every topology"),
    )
}

/// Choose the topology: `flag` (from `--topology`) wins over the file's `topology`. For `auto`,
/// the chosen topology's plan comes back too: scoring built it.
pub(crate) fn choose(stack: &ValidStack, flag: Option<TopologyId>) -> Result<(Choice, Option<Plan>), Diagnostics> {
    let (file_choice, span) = stack.topology;
    // With neither `topology` nor `backends` written, point at the top of the stack file.
    let fallback = stack.stack.version.span;
    let wanted = match (flag, file_choice) {
        (Some(id), _) => Some((id, stack.stack.backends_span.or(Some(fallback)), "named with `--topology`")),
        (None, TopologyChoice::Fixed(id)) => {
            Some((id, span.or(stack.stack.backends_span).or(Some(fallback)), "named in the stack file"))
        }
        (None, TopologyChoice::Auto) => None,
    };
    let mut diags = Diagnostics::default();
    if let Some((id, span, how)) = wanted {
        let topology = load(id, &mut diags)?;
        if let Some(d) = buffer_without_gateway(stack, &topology) {
            diags.push(d);
            return Err(diags);
        }
        let missing = missing_backends(stack, &topology);
        if let Some(refusal) = tail_refusal(stack, &topology) {
            diags.push(refusal);
        }
        if missing.is_empty() && !diags.has_errors() {
            let choice = Choice {
                id,
                auto: false,
                reason: format!("topology {} ({}), {how}", id.letter(), topology.title),
                scoreboard: None,
            };
            return Ok((choice, None));
        }
        for m in &missing {
            diags.push(missing_diagnostic(id, m, span));
        }
        return Err(diags);
    }
    choose_auto(stack, span.or(stack.stack.backends_span).or(Some(fallback)), &mut diags)
}

/// `collector.buffer` in a topology without a gateway (B): nothing would write to Kafka.
fn buffer_without_gateway(stack: &ValidStack, topology: &Topology) -> Option<Diagnostic> {
    let buffer = stack.buffer.as_ref().filter(|_| !topology.uses_gateway())?;
    Some(
        Diagnostic::error(
            buffer.span,
            format!(
                "`collector.buffer` needs a gateway to write to Kafka, and topology {} has none",
                topology.id.letter()
            ),
        )
        .hint("choose topology A, C or D, or remove `collector.buffer`"),
    )
}

/// Whether `stack` can render in `id` beyond its backends (a buffer needs a gateway).
fn allows(stack: &ValidStack, id: TopologyId) -> bool {
    Topology::load(id).is_ok_and(|t| buffer_without_gateway(stack, &t).is_none())
}

fn load(id: TopologyId, diags: &mut Diagnostics) -> Result<Topology, Diagnostics> {
    Topology::load(id).map_err(|e| {
        diags.push(Diagnostic::file_error(e.to_string()));
        diags.clone()
    })
}

fn choose_auto(
    stack: &ValidStack,
    span: Option<Span>,
    diags: &mut Diagnostics,
) -> Result<(Choice, Option<Plan>), Diagnostics> {
    let mut renderable = false;
    let mut needs = Vec::new();
    for id in TopologyId::all() {
        let t = load(id, diags)?;
        let missing = missing_backends(stack, &t);
        if missing.is_empty() {
            renderable = true;
        } else {
            let names: Vec<String> = missing.iter().map(|m| format!("`{}`", m.backend.key())).collect();
            needs.push(format!("{} needs {}", id.letter(), names.join(" and ")));
        }
    }
    if !renderable {
        let message = "`topology: auto` found no topology whose backends the stack describes";
        let d = match span {
            Some(s) => Diagnostic::error(s, message),
            None => Diagnostic::file_error(message),
        };
        diags.push(
            d.hint(needs.join("; "))
                .hint("describe the backends of one topology under `backends`, each with its `endpoint`"),
        );
        return Err(diags.clone());
    }
    let (board, entries) = scoreboard(stack).map_err(|e| {
        diags.push(Diagnostic::file_error(format!("{e:#}")));
        diags.clone()
    })?;
    // With a buffer, the best topology that has a gateway.
    let best = board.ranked.iter().copied().find(|id| allows(stack, *id));
    let Some(best) = best else {
        diags.push(Diagnostic::file_error("`auto` ranked no topology (this is a bug in otelplan)"));
        return Err(diags.clone());
    };
    if let Some(refusal) = Topology::load(best).ok().and_then(|t| tail_refusal(stack, &t)) {
        diags.push(
            refusal.hint(format!("`topology: auto` ranked {} first; name another with `topology:`", best.letter())),
        );
        return Err(diags.clone());
    }
    // The best renders (no backend missing), so its plan has no stand-in: it is the real one.
    let plan = entries.into_iter().find(|e| e.topology.id == best && e.needs.is_empty()).map(|e| e.plan);
    Ok((Choice { id: best, auto: true, reason: board.summary(), scoreboard: Some(board) }, plan))
}

/// Every topology planned and scored for `stack`, ranked by its priorities.
pub(crate) fn scoreboard(stack: &ValidStack) -> anyhow::Result<(Scoreboard, Vec<Entry>)> {
    let facts = Facts::load()?;
    let entries = entries(stack, &facts)?;
    Ok((Scoreboard::new(stack, &entries, &facts), entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::Priority;
    use crate::test_support::{valid, DKP};

    #[test]
    fn auto_ranks_by_the_computed_scores() {
        let (choice, plan) = choose(&valid(DKP), None).unwrap();
        assert_eq!(plan.map(|p| p.topology.id), Some(choice.id), "auto hands back the plan it scored");
        assert_eq!(choice.id, TopologyId::D);
        assert!(choice.auto);
        assert!(choice.reason.contains("chosen by `auto` among A, B, C, D"), "{}", choice.reason);
        let board = choice.scoreboard.unwrap();
        assert_eq!(board.decisive, Some(Priority::Simplicity));
    }

    #[test]
    fn auto_only_among_renderable_topologies() {
        let text = "version: 1\nname: x\npriorities: [correlation]\nbackends:\n  jaeger: { endpoint: http://jaeger:4317 }\n  prometheus: { endpoint: http://prometheus:9090 }\n  loki: { endpoint: http://loki:3100 }\nservices:\n  web: { kind: django }\n";
        let (choice, _) = choose(&valid(text), None).unwrap();
        assert_eq!(choice.id, TopologyId::C, "C is the only one that renders, though it correlates worst");
        assert!(choice.reason.contains("the only topology"), "{}", choice.reason);
    }

    #[test]
    fn auto_never_ranks_a_topology_that_cannot_tail_sample() {
        // Simplicity first would rank B (the fewest workloads) first.
        let text = DKP.replacen("services:\n", "sampling:\n  tail: { ratio: 0.2 }\nservices:\n", 1);
        let simple = text.replace(
            "priorities: [long-term-support, portability, resilience, simplicity, correlation]",
            "priorities: [simplicity]",
        );
        let (choice, plan) = choose(&valid(&simple), None).unwrap();
        assert_ne!(choice.id, TopologyId::B);
        assert!(plan.unwrap().roles.iter().any(|r| r.role == crate::plan::node::RoleKind::Sampler));
        assert!(!choice.scoreboard.unwrap().summary().contains(" B,"), "B is not among those ranked");
        let named = choose(&valid(&text), Some(TopologyId::B)).unwrap_err();
        assert!(named.into_sorted().iter().any(|d| d.message.contains("tail sampling needs a collector gateway")));
    }

    #[test]
    fn a_named_topology_has_no_scoreboard() {
        let (choice, plan) = choose(&valid(DKP), Some(TopologyId::B)).unwrap();
        assert!(plan.is_none(), "a named topology is planned after the choice");
        assert!(!choice.auto);
        assert!(choice.scoreboard.is_none());
    }
}
