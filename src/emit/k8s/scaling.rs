//! Autoscalers and disruption budgets for scaled workloads.

use serde_json::{json, Value};

use super::{Ctx, Manifest};
use crate::plan::sizing;

/// A `HorizontalPodAutoscaler` for `name` between `min` and `max` replicas.
pub(super) fn autoscaler(
    cx: &Ctx<'_>,
    m: &mut Manifest,
    name: &str,
    labels: &Value,
    kind: &str,
    min: u32,
    max: u32,
) -> anyhow::Result<()> {
    m.add(
        cx.t,
        "k8s/hpa.yaml.j2",
        &json!({
            "name": name,
            "labels": labels,
            "target_kind": kind,
            "min": min,
            "max": max,
            "cpu_percent": sizing::AUTOSCALE_CPU_PERCENT,
            "scale_down_window_seconds": sizing::SCALE_DOWN_WINDOW_SECONDS,
            "scale_down_period_seconds": sizing::SCALE_DOWN_PERIOD_SECONDS,
        }),
    )
}

/// A `PodDisruptionBudget` that lets one replica of `name` go at a time.
pub(super) fn disruption_budget(cx: &Ctx<'_>, m: &mut Manifest, name: &str, labels: &Value) -> anyhow::Result<()> {
    m.add(cx.t, "k8s/pdb.yaml.j2", &json!({ "name": name, "labels": labels, "selector": cx.selector(name) }))
}
