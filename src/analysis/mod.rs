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
    let mut warnings = warnings;
    warnings.extend(plan.warnings.iter().cloned());
    Ok(Ok(Analysis { plan, choice, warnings }))
}
