//! Emit stage: translate the plan into the output tree (path → file content). Emitters decide
//! nothing; every choice is in the plan.

pub(crate) mod alerts;
pub(crate) mod apm_server;
pub(crate) mod app_env;
pub(crate) mod builder;
pub(crate) mod collector;
pub(crate) mod compose;
pub(crate) mod django;
pub(crate) mod drawing;
pub(crate) mod es_setup;
pub(crate) mod grafana;
pub(crate) mod k8s;
pub(crate) mod layout;
pub(crate) mod provisioning;
pub(crate) mod readme;
pub(crate) mod store_config;
pub(crate) mod svg;
pub(crate) mod yaml;

use std::collections::BTreeMap;

use crate::model::keywords::Target;
use crate::plan::Plan;
use crate::templates::Templates;

/// The files of a render: relative path (with `/`) → content.
pub type OutputTree = BTreeMap<String, String>;

/// Every file of the tree for `plan`.
pub(crate) fn emit(plan: &Plan, templates: &Templates) -> anyhow::Result<OutputTree> {
    let mut tree = OutputTree::new();
    let flavor = plan.primary;
    for role in &plan.roles {
        let path = format!("collector/{}", role.file_name());
        let text = collector::render(plan, role, flavor);
        tree.insert(path, text);
    }
    if !plan.roles.is_empty() && plan.distribution.builder_module.is_some() {
        tree.insert(builder::PATH.to_string(), builder::render(plan));
    }
    if let Some(apm) = &plan.apm_server {
        tree.insert("apm-server/apm-server.yml".to_string(), apm_server::render(plan, apm, flavor));
    }
    tree.extend(store_config::files(plan)?);
    if let Some(setup) = &plan.deployment.elasticsearch_setup {
        for (name, text) in es_setup::files(setup)? {
            tree.insert(format!("{}/{name}", es_setup::DIR), text);
        }
    }
    // Before the targets: a deployed Prometheus mounts the rule file.
    alerts::emit(plan, &mut tree);
    if plan.targets.contains(&Target::Compose) {
        compose::emit(plan, &mut tree);
    }
    if plan.targets.contains(&Target::Kubernetes) {
        k8s::emit(plan, templates, &mut tree)?;
    }
    for app in &plan.apps {
        tree.insert(format!("instrumentation/{}.env", app.service), app_env::render(plan, app, flavor));
    }
    django::emit(plan, &mut tree);
    provisioning::emit(plan, &mut tree);
    svg::emit(plan, templates, &mut tree)?;
    readme::emit(plan, &mut tree);
    Ok(tree)
}
