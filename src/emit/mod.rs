//! Emit stage: translate the plan into the output tree (path → file content). Emitters decide
//! nothing; every choice is in the plan.

pub(crate) mod apm_server;
pub(crate) mod app_env;
pub(crate) mod collector;
pub(crate) mod component_names;
pub(crate) mod yaml;

use std::collections::BTreeMap;

use crate::plan::Plan;

/// The files of a render: relative path (with `/`) → content.
pub type OutputTree = BTreeMap<String, String>;

/// Every file of the tree for `plan`.
pub(crate) fn emit(plan: &Plan) -> anyhow::Result<OutputTree> {
    let mut tree = OutputTree::new();
    let flavor = plan.primary;
    for role in &plan.roles {
        let path = format!("collector/{}", role.file_name());
        let text = collector::render(plan, role, flavor).map_err(|e| anyhow::anyhow!("rendering {path}: {e}"))?;
        tree.insert(path, text);
    }
    if let Some(apm) = &plan.apm_server {
        tree.insert("apm-server/apm-server.yml".to_string(), apm_server::render(plan, apm, flavor)?);
    }
    for app in &plan.apps {
        tree.insert(format!("instrumentation/{}.env", app.service), app_env::render(plan, app, flavor));
    }
    Ok(tree)
}
