//! Helpers the unit tests share: the DKP example, and stacks checked and planned from text.

use crate::model::keywords::TopologyId;
use crate::plan::Plan;
use crate::source::Source;
use crate::validate::ValidStack;

/// The bundled DKP example.
pub(crate) const DKP: &str = include_str!("../examples/dkp.yaml");

/// `text` parsed and validated (a test input must be valid).
pub(crate) fn valid(text: &str) -> ValidStack {
    match crate::check(&Source::from_text("t.yaml", text)) {
        Ok((valid, _)) => valid,
        Err(diags) => panic!("the test stack is invalid: {diags:?}"),
    }
}

/// `text` planned in topology `id`.
pub(crate) fn plan(text: &str, id: TopologyId) -> Plan {
    match crate::plan::build::plan(&valid(text), id) {
        Ok(plan) => plan,
        Err(e) => panic!("planning {}: {e:#}", id.letter()),
    }
}

/// `text` planned in topology `id`, with stand-ins for the backends it lacks (as `compare`
/// plans).
pub(crate) fn hypothetical(text: &str, id: TopologyId) -> Plan {
    match crate::plan::build::plan_hypothetical(&valid(text), id) {
        Ok(plan) => plan,
        Err(e) => panic!("planning {}: {e:#}", id.letter()),
    }
}
