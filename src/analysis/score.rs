//! Plan stage, for `topology: auto` and `compare`: each topology's plan for this stack, its
//! figures, a score from 1 (weak) to 3 (strong) per priority computed from those figures, the
//! ranking by the stack's ordered priorities and the reasoning behind it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::choose::missing_backends;
use crate::analysis::facts::Facts;
use crate::analysis::figures::{figures, Figures};
use crate::model::keywords::{Priority, TopologyId};
use crate::plan::build::plan_hypothetical;
use crate::plan::distribution::Stability;
use crate::plan::Plan;
use crate::topology::{BackendKind, Topology};
use crate::validate::ValidStack;

/// One topology as it would be for the stack.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its description.
    pub(crate) topology: Topology,
    /// Backends it needs that the stack does not describe (empty: it renders).
    pub(crate) needs: Vec<BackendKind>,
    /// Its plan, with stand-ins for the missing backends.
    pub(crate) plan: Plan,
    /// Its figures.
    pub(crate) figures: Figures,
}

/// Plans and figures of all four topologies for `valid`.
pub(crate) fn entries(valid: &ValidStack, facts: &Facts) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for id in TopologyId::all() {
        let topology = Topology::load(id)?;
        let needs: Vec<BackendKind> = missing_backends(valid, &topology).into_iter().map(|m| m.backend).collect();
        let plan = plan_hypothetical(valid, id)?;
        let figures = figures(&plan, &needs, facts)?;
        out.push(Entry { topology, needs, plan, figures });
    }
    Ok(out)
}

/// How well a topology serves one priority, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Score {
    /// 1 (weak) to 3 (strong).
    pub(crate) value: u8,
    /// The figures behind it, as a clause.
    pub(crate) why: String,
}

/// One topology's scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// The topology.
    pub(crate) id: TopologyId,
    /// Its title.
    pub(crate) title: String,
    /// Backends the stack lacks for it.
    pub(crate) needs: Vec<BackendKind>,
    /// A score per priority (all six).
    pub(crate) scores: BTreeMap<Priority, Score>,
    /// The sum over all six priorities.
    pub(crate) total: u32,
}

impl Row {
    /// The score on `p`.
    pub(crate) fn value(&self, p: Priority) -> u8 {
        self.scores.get(&p).map_or(0, |s| s.value)
    }

    fn why(&self, p: Priority) -> &str {
        self.scores.get(&p).map_or("", |s| s.why.as_str())
    }
}

/// Every topology scored, ranked by the stack's priorities, and the reasoning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scoreboard {
    /// The stack's ordered priorities.
    pub(crate) priorities: Vec<Priority>,
    /// One row per topology, A to D.
    pub(crate) rows: Vec<Row>,
    /// The topologies that render (no backend missing), best first; when none renders, all
    /// four.
    pub(crate) ranked: Vec<TopologyId>,
    /// Whether `ranked` holds renderable topologies.
    pub(crate) renderable: bool,
    /// The priority that settled the choice, if one did.
    pub(crate) decisive: Option<Priority>,
    /// One paragraph of why the first one wins.
    pub(crate) paragraph: String,
}

impl Scoreboard {
    /// Score every entry for `valid`'s priorities and rank them.
    pub(crate) fn new(valid: &ValidStack, entries: &[Entry], facts: &Facts) -> Scoreboard {
        let fewest = entries.iter().map(|e| e.figures.workloads).min().unwrap_or(0);
        let rows: Vec<Row> = entries.iter().map(|e| row(e, fewest, facts)).collect();
        let renderable = rows.iter().any(|r| r.needs.is_empty());
        // A topology that cannot have what the stack asks for (tail sampling without a gateway)
        // is never ranked; `choose` refuses it by name when it is the only one left.
        let refused: Vec<TopologyId> = entries
            .iter()
            .filter(|e| crate::analysis::choose::tail_refusal(valid, &e.topology).is_some())
            .map(|e| e.topology.id)
            .collect();
        let mut ranked: Vec<&Row> = rows
            .iter()
            .filter(|r| r.needs.is_empty() || !renderable)
            .filter(|r| !refused.contains(&r.id) || refused.len() == rows.len())
            .collect();
        ranked
            .sort_by(|a, b| rank_key(b, &valid.priorities).cmp(&rank_key(a, &valid.priorities)).then(a.id.cmp(&b.id)));
        let ranked: Vec<TopologyId> = ranked.iter().map(|r| r.id).collect();
        let (decisive, paragraph) = reasoning(&valid.stack.name.value, &valid.priorities, &rows, &ranked, renderable);
        Scoreboard { priorities: valid.priorities.clone(), rows, ranked, renderable, decisive, paragraph }
    }

    /// The best topology.
    pub(crate) fn best(&self) -> Option<&Row> {
        self.ranked.first().and_then(|id| self.row(*id))
    }

    /// The row of `id`.
    pub(crate) fn row(&self, id: TopologyId) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// One line: what was chosen, among which, and the deciding priority.
    pub(crate) fn summary(&self) -> String {
        let Some(best) = self.best() else { return String::new() };
        let mut ids: Vec<&str> = self.ranked.iter().map(|id| id.letter()).collect();
        ids.sort_unstable();
        let mut line =
            format!("topology {} ({}) chosen by `auto` among {}", best.id.letter(), best.title, ids.join(", "));
        if self.ranked.len() == 1 {
            line.push_str(", the only topology whose backends the stack describes");
            return line;
        }
        match self.decisive {
            Some(p) => {
                let _ = write!(line, ": it rates best on `{}` — {}", p.as_str(), best.why(p));
            }
            None => line.push_str(": it ties on the listed priorities and scores best over all of them"),
        }
        line
    }

    /// The score table as aligned text: the listed priorities in order, then the total over
    /// all six.
    pub(crate) fn table(&self) -> String {
        let mut header = vec!["topology".to_string()];
        header.extend(self.priorities.iter().map(|p| p.as_str().to_string()));
        header.push("total".into());
        let mut lines = vec![header];
        for r in &self.rows {
            let mut cells = vec![r.id.letter().to_string()];
            cells.extend(self.priorities.iter().map(|p| r.value(*p).to_string()));
            cells.push(r.total.to_string());
            if !r.needs.is_empty() {
                let names: Vec<String> = r.needs.iter().map(|k| format!("`{}`", k.key())).collect();
                cells.push(format!("(needs {})", names.join(", ")));
            }
            lines.push(cells);
        }
        align(&lines)
    }
}

/// Columns padded to their widest cell, two spaces apart, without trailing blanks.
pub(crate) fn align(lines: &[Vec<String>]) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| lines.iter().filter_map(|l| l.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let _ = write!(text, "{cell:<width$}  ", width = widths.get(i).copied().unwrap_or(0));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn rank_key(r: &Row, priorities: &[Priority]) -> (Vec<u8>, u32) {
    (priorities.iter().map(|p| r.value(*p)).collect(), r.total)
}

fn row(e: &Entry, fewest: usize, facts: &Facts) -> Row {
    let f = &e.figures;
    let mut scores = BTreeMap::new();
    scores.insert(Priority::LongTermSupport, long_term_support(f, facts));
    scores.insert(Priority::Portability, portability(f));
    scores.insert(Priority::Resilience, resilience(f));
    scores.insert(Priority::Simplicity, simplicity(f, fewest));
    scores.insert(Priority::Correlation, correlation(f, facts));
    scores.insert(Priority::Security, security(f));
    let total = scores.values().map(|s| u32::from(s.value)).sum();
    Row { id: e.topology.id, title: e.topology.title.clone(), needs: e.needs.clone(), scores, total }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let head: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", head.join(", "), last.as_ref())
        }
    }
}

/// 3 when nothing is deprecated and no intake is one upstream advises against; 2 when only
/// deprecated component names are written (a rename away); 1 when the data path relies on an
/// intake upstream no longer recommends. Stability levels are reported, not scored: they rate
/// how settled a component's configuration is, not whether it has a future upstream.
fn long_term_support(f: &Figures, facts: &Facts) -> Score {
    let advised_against: Vec<String> = f
        .backends
        .iter()
        .filter_map(|k| facts.backends.get(k))
        .filter(|b| !b.otlp_intake_recommended)
        .map(|b| format!("{}'s OTLP intake", b.title))
        .collect();
    let deprecated: Vec<String> =
        f.components.iter().filter(|c| c.deprecated).map(|c| format!("{} {}", c.class, c.type_name)).collect();
    let immature: Vec<String> = f
        .components
        .iter()
        .filter(|c| c.stability.is_some_and(|s| s <= Stability::Development))
        .map(|c| format!("the {} {}", c.type_name, c.class))
        .collect();
    let mut why = if advised_against.is_empty() {
        "no intake that upstream advises against and nothing deprecated".to_string()
    } else {
        format!("relies on {}, which upstream no longer recommends for new setups", and_list(&advised_against))
    };
    if !deprecated.is_empty() {
        let _ = write!(
            why,
            ", and writes names collector {} deprecates: {}",
            crate::model::version::CollectorVersion::pinned(),
            and_list(&deprecated)
        );
    }
    if !immature.is_empty() {
        let _ = write!(why, ", though {} is at development stability for a signal it carries", and_list(&immature));
    }
    let value = if !advised_against.is_empty() {
        1
    } else if !deprecated.is_empty() {
        2
    } else {
        3
    };
    Score { value, why }
}

/// 3 when one node writes to the backends (move by changing its exporters), 2 when several
/// collectors do, 1 when Django services write to a backend themselves.
fn portability(f: &Figures) -> Score {
    if f.apps_write_backends {
        return Score {
            value: 1,
            why: "Django services export straight to a backend: moving means reconfiguring every one".into(),
        };
    }
    match f.backend_writers.as_slice() {
        [] => Score { value: 3, why: "nothing writes to a backend".into() },
        [one] => {
            Score { value: 3, why: format!("only {one} writes to a backend: moving means changing its exporters") }
        }
        many => Score {
            value: 2,
            why: format!("collectors {} write to backends, so moving means changing each", and_list(many)),
        },
    }
}

/// 3 minus the single points of failure beyond the first (the store) that a Django service's
/// telemetry passes, minus one more when services send straight to a single-replica backend
/// with no collector to buffer for them; at least 1.
fn resilience(f: &Figures) -> Score {
    let worst = f.flows.values().map(|s| s.app_spofs).max().unwrap_or(0);
    let direct = f.flows.values().any(|s| s.apps_unbuffered);
    let volatile = !f.durable_queues;
    let value = 3usize
        .saturating_sub(worst.saturating_sub(1))
        .saturating_sub(usize::from(direct))
        .saturating_sub(usize::from(volatile))
        .max(1);
    let mut why = format!(
        "a Django service's telemetry passes at most {} on its way to the store",
        plural(worst, "single-replica node", "single-replica nodes")
    );
    if direct {
        why.push_str(", and services send straight to a single-replica backend, with no collector to buffer for them");
    }
    if volatile {
        why.push_str(
            ", and the collectors queue in memory (`persistent_queue: false`): a restart loses what they hold",
        );
    }
    if !f.single_under_compose.is_empty() {
        let _ = write!(
            why,
            "; under compose {} runs as one replica, a single point of failure there",
            and_list(&f.single_under_compose)
        );
    }
    let mut risks: Vec<String> =
        f.flows.values().flat_map(|s| s.capacity_risks.iter().map(|(n, r)| format!("{n} with {r} replicas"))).collect();
    risks.sort();
    risks.dedup();
    if !risks.is_empty() {
        let verb = if risks.len() == 1 { "is" } else { "are" };
        let _ = write!(why, ", and {} {verb} a capacity risk, not a single point of failure", and_list(&risks));
    }
    Score { value: u8::try_from(value).unwrap_or(1), why }
}

/// 3 for the fewest workloads among the four topologies, 2 for one more, 1 beyond.
fn simplicity(f: &Figures, fewest: usize) -> Score {
    let more = f.workloads.saturating_sub(fewest);
    let value = match more {
        0 => 3,
        1 => 2,
        _ => 1,
    };
    let mut why = format!("{} to run", plural(f.workloads, "workload", "workloads"));
    if more == 0 {
        why.push_str(", the fewest of the four");
    } else {
        let _ = write!(why, ", {more} more than the fewest");
    }
    Score { value, why }
}

/// 3 when every signal lands in one store and an intake or a collector computes APM
/// aggregations, 2 for one store without them, 1 for several stores.
fn correlation(f: &Figures, facts: &Facts) -> Score {
    let intake = f.backends.iter().filter_map(|k| facts.backends.get(k)).find(|b| b.apm_aggregations);
    let aggregator = intake.map(|b| b.title.clone()).or_else(|| {
        (!f.apm_aggregating_collectors.is_empty())
            .then(|| format!("EDOT's `elasticapm` connector in {}", and_list(&f.apm_aggregating_collectors)))
    });
    match (f.stores.as_slice(), aggregator) {
        ([one], Some(by)) => Score {
            value: 3,
            why: format!("every signal lands in {one}, and {by} computes the aggregated metrics of Kibana's APM UI"),
        },
        ([one], None) if f.backends.contains(&BackendKind::Elasticsearch) => Score {
            value: 2,
            why: format!(
                "every signal lands in {one}, but without APM Server or EDOT's `elasticapm` components Kibana's APM UI lacks its aggregated metrics"
            ),
        },
        ([] | [_], _) => Score { value: 2, why: "every signal lands in one store".into() },
        (many, _) => Score {
            value: 1,
            why: format!("signals land in {}, joined only by trace ids and resource attributes", and_list(many)),
        },
    }
}

/// 3 minus one when Django services hold a backend credential, minus one per backend to secure
/// beyond the first; at least 1.
fn security(f: &Figures) -> Score {
    let apps = usize::from(!f.app_secrets.is_empty());
    let extra = f.backends.len().saturating_sub(1).min(2);
    let superuser = usize::from(!f.superuser_writers.is_empty());
    let value = 3usize.saturating_sub(apps + extra + superuser).max(1);
    let names: Vec<&str> = f.backends.iter().map(|k| k.key()).collect();
    let mut why = if f.app_secrets.is_empty() {
        "Django services hold no backend credential".to_string()
    } else {
        format!("every Django service holds {}", and_list(&f.app_secrets))
    };
    let _ = write!(why, ", and {} to secure: {}", plural(names.len(), "backend", "backends"), and_list(&names));
    if superuser == 1 {
        let _ = write!(
            why,
            "; {} write{} as Elasticsearch's `elastic` superuser",
            and_list(&f.superuser_writers),
            if f.superuser_writers.len() == 1 { "s" } else { "" }
        );
    }
    Score { value: u8::try_from(value).unwrap_or(1), why }
}

fn sorted(ids: &[TopologyId]) -> Vec<TopologyId> {
    let mut out = ids.to_vec();
    out.sort_unstable();
    out
}

fn letters(ids: &[TopologyId]) -> String {
    and_list(&ids.iter().map(|i| i.letter()).collect::<Vec<_>>())
}

/// The paragraph behind the ranking: priority by priority, who drops out and why.
fn reasoning(
    stack: &str,
    priorities: &[Priority],
    rows: &[Row],
    ranked: &[TopologyId],
    renderable: bool,
) -> (Option<Priority>, String) {
    let Some(best) = ranked.first().and_then(|id| rows.iter().find(|r| r.id == *id)) else {
        return (None, String::new());
    };
    let order: Vec<&str> = priorities.iter().map(|p| p.as_str()).collect();
    let mut text = if renderable {
        format!(
            "{} ({}) is the choice for `{stack}` among the topologies whose backends it describes ({}), ranked by {}.",
            best.id.letter(),
            best.title,
            letters(&sorted(ranked)),
            order.join(" > ")
        )
    } else {
        format!(
            "No topology renders with the backends `{stack}` describes; as it would be with them, {} ({}) ranks first by {}.",
            best.id.letter(),
            best.title,
            order.join(" > ")
        )
    };
    let mut needing: Vec<(&[BackendKind], Vec<TopologyId>)> = Vec::new();
    for r in rows.iter().filter(|r| !r.needs.is_empty() && renderable) {
        match needing.iter_mut().find(|(n, _)| *n == r.needs.as_slice()) {
            Some((_, ids)) => ids.push(r.id),
            None => needing.push((&r.needs, vec![r.id])),
        }
    }
    for (needs, ids) in needing {
        let names: Vec<String> = needs.iter().map(|k| format!("`{}`", k.key())).collect();
        let _ = write!(text, " {} would need {}.", letters(&ids), and_list(&names));
    }
    if ranked.len() == 1 {
        return (None, text);
    }
    let mut contenders: Vec<&Row> = ranked.iter().filter_map(|id| rows.iter().find(|r| r.id == *id)).collect();
    let mut ties: Vec<&str> = Vec::new();
    for p in priorities {
        let top = contenders.iter().map(|r| r.value(*p)).max().unwrap_or(0);
        let (kept, dropped): (Vec<&Row>, Vec<&Row>) = contenders.iter().partition(|r| r.value(*p) == top);
        if dropped.is_empty() {
            ties.push(p.as_str());
            continue;
        }
        if !ties.is_empty() {
            let ids: Vec<TopologyId> = contenders.iter().map(|r| r.id).collect();
            let _ = write!(text, " {} tie on {}.", letters(&sorted(&ids)), and_list(&ties));
            ties.clear();
        }
        let mut groups: Vec<(u8, &str, Vec<TopologyId>)> = Vec::new();
        for r in kept.iter().chain(&dropped) {
            match groups.iter_mut().find(|(v, w, _)| *v == r.value(*p) && *w == r.why(*p)) {
                Some((_, _, ids)) => ids.push(r.id),
                None => groups.push((r.value(*p), r.why(*p), vec![r.id])),
            }
        }
        groups.sort_by(|a, b| {
            b.0.cmp(&a.0).then(b.2.contains(&best.id).cmp(&a.2.contains(&best.id))).then(a.2.cmp(&b.2))
        });
        let said: Vec<String> = groups
            .into_iter()
            .map(|(value, why, ids)| format!("{} {value} ({why})", rate_phrase(&sorted(&ids))))
            .collect();
        let _ = write!(text, " On {}, {}", p.as_str(), said.join("; "));
        text.push('.');
        contenders = kept;
        if contenders.len() == 1 {
            return (Some(*p), text);
        }
    }
    if !ties.is_empty() {
        let ids: Vec<TopologyId> = contenders.iter().map(|r| r.id).collect();
        let _ = write!(text, " {} tie on {}.", letters(&sorted(&ids)), and_list(&ties));
    }
    let others: Vec<String> =
        contenders.iter().filter(|r| r.id != best.id).map(|r| format!("{}'s {}", r.id.letter(), r.total)).collect();
    let _ = write!(
        text,
        " With every listed priority tied, {} scores most over all six ({} against {}).",
        best.id.letter(),
        best.total,
        and_list(&others)
    );
    (None, text)
}

fn rate_phrase(ids: &[TopologyId]) -> String {
    if ids.len() == 1 {
        format!("{} rates", letters(ids))
    } else {
        format!("{} rate", letters(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::DKP;

    fn board(text: &str) -> Scoreboard {
        let valid = crate::test_support::valid(text);
        let facts = Facts::load().unwrap();
        let entries = entries(&valid, &facts).unwrap();
        Scoreboard::new(&valid, &entries, &facts)
    }

    fn values(b: &Scoreboard, p: Priority) -> Vec<u8> {
        b.rows.iter().map(|r| r.value(p)).collect()
    }

    #[test]
    fn dkp_scores_follow_the_figures() {
        let b = board(DKP);
        assert_eq!(values(&b, Priority::LongTermSupport), [1, 1, 3, 3], "A and B rely on APM Server's OTLP intake");
        assert_eq!(values(&b, Priority::Portability), [3, 1, 3, 3], "B's apps write to APM Server");
        assert_eq!(values(&b, Priority::Resilience), [2, 1, 3, 3]);
        assert_eq!(values(&b, Priority::Simplicity), [2, 3, 1, 3], "workloads 6, 5, 7, 5");
        assert_eq!(values(&b, Priority::Correlation), [3, 3, 1, 2]);
        assert_eq!(
            values(&b, Priority::Security),
            [2, 1, 1, 3],
            "nothing writes as the `elastic` superuser; B's apps hold APM Server's credential, C's stores take writes without authentication"
        );
        assert_eq!(b.ranked[0], TopologyId::D);
        assert_eq!(b.decisive, Some(Priority::Simplicity));
        assert!(b.paragraph.contains("On simplicity, D rates 3 ("), "{}", b.paragraph);
        assert!(b.paragraph.contains("; A and B rate 1 (relies on APM Server"), "{}", b.paragraph);
        assert!(b.paragraph.contains("C and D tie on portability and resilience."), "{}", b.paragraph);
    }

    #[test]
    fn edot_gives_d_the_correlation_of_an_aggregating_intake() {
        let b = board(include_str!("../../examples/edot.yaml"));
        let d = b.row(TopologyId::D).unwrap();
        assert_eq!(d.value(Priority::Correlation), 3);
        let why = &d.scores[&Priority::Correlation].why;
        assert!(why.contains("EDOT's `elasticapm` connector in edot-gateway"), "{why}");
        assert_eq!(board(DKP).row(TopologyId::D).unwrap().value(Priority::Correlation), 2, "contrib");
    }

    #[test]
    fn the_choice_moves_with_the_priorities() {
        let with = |p: &str| {
            let text = DKP.replace(
                "priorities: [long-term-support, portability, resilience, simplicity, correlation]",
                &format!("priorities: [{p}]"),
            );
            board(&text).ranked[0]
        };
        assert_eq!(with("correlation, simplicity"), TopologyId::B);
        assert_eq!(with("correlation, security"), TopologyId::A);
        assert_eq!(with("security"), TopologyId::D);
    }

    #[test]
    fn a_single_gateway_costs_resilience() {
        let text = DKP.replace("gateway_replicas: 2", "gateway_replicas: 1");
        let b = board(&text);
        assert_eq!(values(&b, Priority::Resilience), [1, 1, 2, 2]);
        let why = &b.row(TopologyId::D).unwrap().scores[&Priority::Resilience].why;
        assert!(why.contains("passes at most 2 single-replica nodes"), "{why}");
    }

    #[test]
    fn without_backends_all_four_are_ranked_hypothetically() {
        let b = board("version: 1\nname: x\nservices:\n  web:\n    kind: django\n");
        assert!(!b.renderable);
        assert_eq!(b.ranked.len(), 4);
        assert!(b.paragraph.starts_with("No topology renders"), "{}", b.paragraph);
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(and_list::<&str>(&[]), "");
        assert_eq!(and_list(&["a"]), "a");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
    }
}
