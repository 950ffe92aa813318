//! Analysis, above the plan: which topology to render (`choose`), what each topology's plan
//! means for this stack (`figures`, `score`, `facts`). It builds plans with `plan::build` and
//! never the other way round; `compare` and `topology: auto` read the same figures.

pub(crate) mod choose;
pub(crate) mod facts;
pub(crate) mod figures;
pub(crate) mod score;

use crate::diagnostic::Diagnostic;
use crate::model::keywords::TopologyId;
use crate::plan::Plan;
use crate::source::Source;

pub(crate) use choose::Choice;

/// A stack planned in its chosen topology: the plan, why, and every warning (the stack file's,
/// then the plan's).
#[derive(Debug)]
pub(crate) struct Analysis {
    /// The plan.
    pub(crate) plan: Plan,
    /// How and why the topology was chosen.
    pub(crate) choice: Choice,
    /// Warnings of the stack file and of the plan, sorted by position.
    pub(crate) warnings: Vec<Diagnostic>,
}

/// One error per component the plan needs and its distribution lacks, at
/// `collector.distribution`.
fn lacking_diagnostics(
    valid: &crate::validate::ValidStack,
    plan: &Plan,
    lacking: &[crate::plan::component_check::Lacking],
) -> Vec<Diagnostic> {
    let span = valid.stack.collector.as_ref().and_then(|c| c.distribution.as_ref()).map(|d| d.span);
    let d = plan.distribution;
    let release = d.components_version.map_or(plan.collector_version, |_| d.default_version);
    lacking
        .iter()
        .map(|l| {
            let uses: Vec<String> = l
                .used_in
                .iter()
                .map(|(file, name)| match name {
                    Some(n) => format!("`{}/{n}` in collector/{file}", l.type_name),
                    None => format!("collector/{file}"),
                })
                .collect();
            let message = format!(
                "{} {release} has no `{}` {}, which this stack's configs need ({})",
                d.title,
                l.type_name,
                l.class,
                score::and_list(&uses)
            );
            let diagnostic = match span {
                Some(s) => Diagnostic::error(s, message),
                None => Diagnostic::file_error(message),
            };
            let services: Vec<String> = l
                .used_in
                .iter()
                .filter_map(|(_, name)| name.as_ref())
                .filter(|n| valid.stack.services.value.contains_key(n.as_str()))
                .map(|n| format!("`services.{n}`"))
                .collect();
            diagnostic
                .maybe_hint((!services.is_empty()).then(|| format!("{} needs it", score::and_list(&services))))
                .hint(format!(
                    "use `collector.distribution: contrib`, which includes the `{}` {}, or leave out what needs it",
                    l.type_name, l.class
                ))
        })
        .collect()
}

/// Parse, validate, choose and plan. The outer error is an operational failure; the inner
/// one the input's problems.
pub(crate) fn analyse(
    source: &Source,
    topology: Option<TopologyId>,
) -> anyhow::Result<Result<Analysis, Vec<Diagnostic>>> {
    let (valid, warnings) = match crate::check(source) {
        Ok(pair) => pair,
        Err(diags) => return Ok(Err(diags)),
    };
    let (choice, evaluated) = match choose::choose(&valid, topology) {
        Ok(pair) => pair,
        Err(diags) => return Ok(Err(diags.into_sorted())),
    };
    // `auto` has planned every topology to score it: the chosen one is reused, not built again.
    let mut plan = match evaluated {
        Some(plan) => plan,
        None => crate::plan::build::plan(&valid, choice.id)?,
    };
    plan.reason.clone_from(&choice.reason);
    let lacking = crate::plan::component_check::lacking(&plan)?;
    if !lacking.is_empty() {
        return Ok(Err(lacking_diagnostics(&valid, &plan, &lacking)));
    }
    let mut warnings = warnings;
    warnings.extend(plan.warnings.iter().cloned());
    Ok(Ok(Analysis { plan, choice, warnings }))
}
