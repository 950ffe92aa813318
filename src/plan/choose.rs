//! Plan stage, first step: which topology to render — the one named (by flag or file), or for
//! `auto` the best-rated one among those whose backends the stack describes.

use std::fmt::Write as _;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::keywords::{Priority, TopologyChoice, TopologyId};
use crate::span::Span;
use crate::topology::{BackendKind, Topology};
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
    let hint = format!("add `backends.{}.endpoint`, for example `{}`", m.backend.key(), m.backend.example_endpoint());
    let d = match span {
        Some(s) => Diagnostic::error(s, message),
        None => Diagnostic::file_error(message),
    };
    d.hint(hint)
}

/// Choose the topology: `flag` (from `--topology`) wins over the file's `topology`.
pub(crate) fn choose(stack: &ValidStack, flag: Option<TopologyId>) -> Result<Choice, Diagnostics> {
    let (file_choice, span) = stack.topology;
    let wanted = match (flag, file_choice) {
        (Some(id), _) => Some((id, stack.stack.backends_span, "named with `--topology`")),
        (None, TopologyChoice::Fixed(id)) => Some((id, span.or(stack.stack.backends_span), "named in the stack file")),
        (None, TopologyChoice::Auto) => None,
    };
    let mut diags = Diagnostics::default();
    if let Some((id, span, how)) = wanted {
        let topology = load(id, &mut diags)?;
        let missing = missing_backends(stack, &topology);
        if missing.is_empty() {
            return Ok(Choice {
                id,
                auto: false,
                reason: format!("topology {} ({}), {how}", id.letter(), topology.title),
            });
        }
        for m in &missing {
            diags.push(missing_diagnostic(id, m, span));
        }
        return Err(diags);
    }
    choose_auto(stack, span.or(stack.stack.backends_span), &mut diags)
}

fn load(id: TopologyId, diags: &mut Diagnostics) -> Result<Topology, Diagnostics> {
    Topology::load(id).map_err(|e| {
        diags.push(Diagnostic::file_error(e.to_string()));
        diags.clone()
    })
}

/// Rank `candidates` by `priorities`, best first: lexicographic on the ordered priorities,
/// then on the sum of all ratings, then by id.
pub(crate) fn rank(candidates: &[Topology], priorities: &[Priority]) -> Vec<TopologyId> {
    let mut ranked: Vec<&Topology> = candidates.iter().collect();
    ranked.sort_by(|a, b| {
        let key = |t: &Topology| {
            let ordered: Vec<u8> = priorities.iter().map(|p| t.score(*p)).collect();
            let total: u32 = t.ratings.values().map(|r| u32::from(r.score)).sum();
            (ordered, total)
        };
        key(b).cmp(&key(a)).then(a.id.cmp(&b.id))
    });
    ranked.into_iter().map(|t| t.id).collect()
}

fn choose_auto(stack: &ValidStack, span: Option<Span>, diags: &mut Diagnostics) -> Result<Choice, Diagnostics> {
    let mut candidates = Vec::new();
    let mut needs = Vec::new();
    for id in TopologyId::ALL {
        let t = load(id, diags)?;
        let missing = missing_backends(stack, &t);
        if missing.is_empty() {
            candidates.push(t);
        } else {
            let names: Vec<String> = missing.iter().map(|m| format!("`{}`", m.backend.key())).collect();
            needs.push(format!("{} needs {}", id.letter(), names.join(" and ")));
        }
    }
    let ranked = rank(&candidates, &stack.priorities);
    let Some(best) = ranked.first().and_then(|id| candidates.iter().find(|t| t.id == *id)) else {
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
    };
    Ok(Choice { id: best.id, auto: true, reason: auto_reason(best, &candidates, &stack.priorities) })
}

fn auto_reason(best: &Topology, candidates: &[Topology], priorities: &[Priority]) -> String {
    let ids: Vec<&str> = candidates.iter().map(|t| t.id.letter()).collect();
    let mut reason =
        format!("topology {} ({}) chosen by `auto` among {}", best.id.letter(), best.title, ids.join(", "));
    let others: Vec<&Topology> = candidates.iter().filter(|t| t.id != best.id).collect();
    if others.is_empty() {
        reason.push_str(", the only topology whose backends the stack describes");
        return reason;
    }
    let decisive = priorities.iter().find(|p| others.iter().all(|o| o.score(**p) != best.score(**p)));
    match decisive {
        Some(p) => {
            let why = best.ratings.get(p).map_or("", |r| r.why.as_str());
            let _ = write!(reason, ": it rates best on `{}`, where {why}", p.as_str());
        }
        None => reason.push_str(": it ties on the listed priorities and rates best over all of them"),
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Topology> {
        TopologyId::ALL.into_iter().map(|id| Topology::load(id).unwrap()).collect()
    }

    #[test]
    fn ranking_follows_priorities() {
        assert_eq!(rank(&all(), &[Priority::Correlation])[0..2], [TopologyId::A, TopologyId::B]);
        assert_eq!(rank(&all(), &[Priority::Simplicity])[0], TopologyId::D);
        assert_eq!(rank(&all(), &[Priority::Correlation, Priority::Simplicity])[0], TopologyId::B);
        assert_eq!(rank(&all(), &[Priority::Correlation, Priority::Portability])[0], TopologyId::A);
    }

    #[test]
    fn ranking_only_among_candidates() {
        let only_c: Vec<Topology> = all().into_iter().filter(|t| t.id == TopologyId::C).collect();
        assert_eq!(rank(&only_c, &[Priority::Correlation]), vec![TopologyId::C]);
    }
}
