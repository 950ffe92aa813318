//! Parse stage: the stack file's text into `Stack`, shape only (STYLE.md §1).

pub(crate) mod backend;
pub(crate) mod buffer;
pub(crate) mod endpoint;
pub(crate) mod env_ref;
pub(crate) mod keywords;
pub(crate) mod load;
pub(crate) mod loader;
pub(crate) mod names;
pub(crate) mod node;
pub(crate) mod reader;
pub(crate) mod sampling;
pub(crate) mod service;
pub(crate) mod stack;
pub(crate) mod tls;
pub(crate) mod version;

use crate::diagnostic::Diagnostics;
use crate::source::Source;

pub(crate) use stack::Stack;

/// Parse `source` into a `Stack`. Warnings come back with the stack; any error fails the parse
/// with every problem found.
pub(crate) fn parse(source: &Source) -> Result<(Stack, Diagnostics), Diagnostics> {
    let (root, mut diags) = loader::load(&source.text)?;
    let stack = Stack::read(&root, &mut diags);
    match stack {
        Some(stack) if !diags.has_errors() => Ok((stack, diags)),
        _ => Err(diags),
    }
}
