//! Emit stage: the Kubernetes target, a kustomize directory under `kubernetes/`. Each file here
//! maps the plan's workloads to one kind of object, rendered through the `templates/k8s/`
//! layouts; `kubernetes/app-patches/` is a Component for the team's own kustomization.
//!
//! - `container.rs`: a workload's container (environment, ports, probes, resources, security);
//! - `collector.rs`: collectors as Deployments, `StatefulSets` and `DaemonSets`;
//! - `program.rs`: deployed backends and their companions, and the setup Job;
//! - `service.rs`: Services and `NetworkPolicies`; `scaling.rs`: autoscalers and disruption budgets;
//! - `rbac.rs`: service accounts for pod metadata; `patches.rs`: the app-patches Component.

mod collector;
mod container;
mod patches;
mod program;
mod rbac;
mod scaling;
mod service;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::emit::yaml::HEADER;
use crate::emit::{apm_server, OutputTree};
use crate::model::env_ref::EnvRef;
use crate::plan::collector::CollectorRole;
use crate::plan::deploy::{k8s_name, DeployedBackend};
use crate::plan::workload::WorkloadKind;
use crate::plan::{Flavor, Plan};
use crate::templates::Templates;
use crate::topology::BackendKind;

/// The annotation that names the Secrets a workload reads but otelplan does not write.
const EXTERNAL_SECRETS: &str = "otelplan.io/external-secrets";
/// The volume that carries the TLS files.
const TLS_VOLUME: &str = "otelplan-tls";

/// The key of a TLS file in the stack's TLS Secret: its path, `/` and any character a Secret key
/// cannot hold written as `_`.
pub(crate) fn tls_key(path: &str) -> String {
    path.trim_start_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '_' })
        .collect()
}

/// One rendered manifest file, several documents joined by `---`.
struct Manifest {
    docs: Vec<String>,
}

impl Manifest {
    fn new() -> Self {
        Manifest { docs: Vec::new() }
    }

    fn add(&mut self, t: &Templates, template: &str, data: &Value) -> anyhow::Result<()> {
        self.docs.push(t.render(template, data)?);
        Ok(())
    }

    fn text(&self) -> String {
        let body: Vec<&str> = self.docs.iter().map(|d| d.trim_end_matches('\n')).collect();
        format!("# {HEADER}\n{}\n", body.join("\n---\n"))
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    t: &'a Templates,
}

impl Ctx<'_> {
    fn labels(&self, name: &str, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/instance": self.plan.stack_name,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "otelplan",
            "app.kubernetes.io/managed-by": "otelplan",
        })
    }

    fn selector(&self, name: &str) -> Value {
        json!({ "app.kubernetes.io/name": name, "app.kubernetes.io/instance": self.plan.stack_name })
    }

    fn secret(&self) -> &str {
        &self.plan.deployment.secret_name
    }

    /// A container env entry read from the stack's Secret (key = variable name).
    fn secret_env(&self, container_var: &str, source: &EnvRef) -> Value {
        json!({ "name": container_var, "valueFrom": { "secretKeyRef": { "name": self.secret(), "key": source.name() } } })
    }

    /// Annotations naming the external Secrets the workload reads: the variables' and, with
    /// `tls`, the TLS files'.
    fn secret_annotations(&self, reads_secrets: bool) -> Value {
        self.external_secrets(reads_secrets, false)
    }

    fn external_secrets(&self, reads_secrets: bool, tls: bool) -> Value {
        let mut names = Vec::new();
        if reads_secrets {
            names.push(self.secret());
        }
        if tls {
            names.push(&self.plan.deployment.tls_secret_name);
        }
        if names.is_empty() {
            json!({})
        } else {
            json!({ EXTERNAL_SECRETS: names.join(",") })
        }
    }

    /// The TLS files `files` as mounts of the stack's TLS Secret (one key per file, named
    /// after its path) and the volume they come from; `None` without files.
    fn tls_files(&self, files: &[String]) -> Option<(Vec<Value>, Value)> {
        if files.is_empty() {
            return None;
        }
        let mounts = files
            .iter()
            .map(|f| json!({ "name": TLS_VOLUME, "mountPath": f, "subPath": tls_key(f), "readOnly": true }))
            .collect();
        let items: Vec<Value> = files.iter().map(|f| json!({ "key": tls_key(f), "path": tls_key(f) })).collect();
        let volume = json!({ "name": TLS_VOLUME, "secret": { "secretName": self.plan.deployment.tls_secret_name, "items": items } });
        Some((mounts, volume))
    }
}

/// The files of the Kubernetes target.
pub(crate) fn emit(plan: &Plan, t: &Templates, tree: &mut OutputTree) -> anyhow::Result<()> {
    let cx = Ctx { plan, t };
    let mut resources: Vec<String> = vec!["namespace.yaml".into()];
    let mut generators: Vec<Value> = Vec::new();
    let mut ns = Manifest::new();
    ns.add(t, "k8s/namespace.yaml.j2", &json!({ "name": plan.namespaces.observability, "labels": cx.labels(&plan.namespaces.observability, "namespace") }))?;
    tree.insert("kubernetes/namespace.yaml".into(), ns.text());
    if let Some(text) = rbac::manifest(&cx)? {
        tree.insert("kubernetes/rbac.yaml".into(), text);
        resources.push("rbac.yaml".into());
    }
    for w in &plan.workloads {
        let WorkloadKind::Collector(i) = w.kind else { continue };
        let Some(role) = plan.roles.get(i) else { continue };
        let Some(text) = collector::manifest(&cx, w, role)? else { continue };
        let config = format!("collector/{}", role.file_name());
        tree.insert(format!("kubernetes/{config}"), crate::emit::collector::render(plan, role, Flavor::Kubernetes));
        generators.push(json!({ "name": config_map(role), "files": [format!("config.yaml={config}")] }));
        let file = format!("{}.yaml", role.role.short());
        tree.insert(format!("kubernetes/{file}"), text);
        resources.push(file);
    }
    let store_configs: BTreeMap<String, String> = crate::emit::store_config::files(plan)?.into_iter().collect();
    for w in &plan.workloads {
        let WorkloadKind::Backend(kind) = w.kind else { continue };
        let Some(b) = deployed(plan, kind) else { continue };
        if let Some((files, generator)) = backend_config_files(plan, w, b, &store_configs, tree)? {
            for (file, text) in files {
                tree.insert(format!("kubernetes/{file}"), text);
            }
            generators.push(generator);
        }
        let file = format!("{}.yaml", b.name);
        tree.insert(format!("kubernetes/{file}"), program::backend_manifest(&cx, w, b)?);
        resources.push(file);
    }
    for w in plan.workloads.iter().filter(|w| w.kind == WorkloadKind::Buffer) {
        let file = format!("{}.yaml", w.name);
        tree.insert(format!("kubernetes/{file}"), program::buffer_manifest(&cx, w)?);
        resources.push(file);
    }
    if plan.deployment.kibana.is_some() {
        tree.insert("kubernetes/kibana.yaml".into(), program::kibana_manifest(&cx)?);
        resources.push("kibana.yaml".into());
    }
    if let Some(setup) = &plan.deployment.elasticsearch_setup {
        let files = crate::emit::es_setup::files(setup)?;
        let dir = crate::emit::es_setup::DIR;
        let files_map = k8s_name(&format!("{}-files", setup.name));
        for (name, text) in &files {
            tree.insert(format!("kubernetes/{dir}/{name}"), text.clone());
        }
        let entries: Vec<String> = files.iter().map(|(name, _)| format!("{name}={dir}/{name}")).collect();
        generators.push(json!({ "name": files_map, "files": entries }));
        tree.insert("kubernetes/elasticsearch-setup.yaml".into(), program::setup_manifest(&cx, &files_map, &files)?);
        resources.push("elasticsearch-setup.yaml".into());
    }
    if let Some(g) = &plan.deployment.grafana {
        tree.insert(
            "kubernetes/grafana/datasources.yaml".into(),
            crate::emit::grafana::datasources(plan, Flavor::Kubernetes).unwrap_or_default(),
        );
        generators
            .push(json!({ "name": grafana_config_map(&g.name), "files": ["otelplan.yaml=grafana/datasources.yaml"] }));
        tree.insert("kubernetes/grafana.yaml".into(), program::grafana_manifest(&cx)?);
        resources.push("grafana.yaml".into());
    }
    let mut kustomization = Manifest::new();
    kustomization.add(
        t,
        "k8s/kustomization.yaml.j2",
        &json!({ "namespace": plan.namespaces.observability, "resources": resources, "generators": generators }),
    )?;
    tree.insert("kubernetes/kustomization.yaml".into(), kustomization.text());
    patches::app_patches(&cx, tree)
}

/// A file of the tree: its path and text.
type TreeFile = (String, String);

/// The ConfigMap key of a file mounted at `mount`: its file name.
pub(super) fn config_key(mount: &str) -> &str {
    mount.rsplit('/').next().unwrap_or_default()
}

/// A deployed backend's configuration file and the other files of the tree it reads (their
/// paths, their texts, copied under `kubernetes/` for kustomize), and the ConfigMap generated
/// from them, whose hash suffix rolls the pod when a file changes.
fn backend_config_files(
    plan: &Plan,
    w: &crate::plan::workload::Workload,
    b: &DeployedBackend,
    store_configs: &BTreeMap<String, String>,
    tree: &OutputTree,
) -> anyhow::Result<Option<(Vec<TreeFile>, Value)>> {
    let (Some(file), Some(mount)) = (&w.config_file, &w.config) else { return Ok(None) };
    let text = match (&plan.apm_server, b.kind) {
        (Some(apm), BackendKind::ApmServer) => apm_server::render(plan, apm, Flavor::Kubernetes),
        _ => match store_configs.get(file) {
            Some(text) => text.clone(),
            None => return Ok(None),
        },
    };
    let mut files = vec![(file.clone(), text)];
    let mut entries = vec![format!("{}={file}", config_key(mount))];
    for f in &w.files {
        let text = tree.get(&f.tree).ok_or_else(|| {
            anyhow::anyhow!("`{}` reads {}, which nothing wrote (this is a bug in otelplan)", w.name, f.tree)
        })?;
        files.push((f.tree.clone(), text.clone()));
        entries.push(format!("{}={}", config_key(&f.mount), f.tree));
    }
    Ok(Some((files, json!({ "name": backend_config_map(b), "files": entries }))))
}

fn deployed(plan: &Plan, kind: BackendKind) -> Option<&DeployedBackend> {
    plan.deployment.backends.iter().find(|b| b.kind == kind)
}

fn config_map(role: &CollectorRole) -> String {
    k8s_name(&format!("{}-config", role.name))
}

fn backend_config_map(b: &DeployedBackend) -> String {
    k8s_name(&format!("{}-config", b.name))
}

fn grafana_config_map(name: &str) -> String {
    k8s_name(&format!("{name}-datasources"))
}
