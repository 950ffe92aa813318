//! Reporting: `otelplan compare`'s output — the JSON contract, the sheet (one row per figure,
//! one column per topology) as an aligned table or Markdown, and the HTML page with the
//! diagrams. Every figure comes from `analysis` (each topology's plan for this stack); a
//! topology whose backends the stack lacks is planned with stand-ins and listed with what it
//! `needs`, so compare never fails for that.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analysis::facts::{Correction, Facts, Resources};
use crate::analysis::figures::{Capacity, Figures};
use crate::analysis::score::{align, and_list, entries, Entry, Scoreboard};
use crate::cli::CompareFormat;
use crate::emit::svg::{self, DiagramView};
use crate::model::keywords::{Priority, Signal};
use crate::model::reader::Keyword;
use crate::plan::component_check::kinds_in_use;
use crate::templates::{Templates, COMPARE_HTML};
use crate::topology::claims_for;
use crate::validate::ValidStack;

/// The comparison of `valid` in `format`.
pub(crate) fn compare(valid: &ValidStack, format: CompareFormat) -> anyhow::Result<String> {
    let facts = Facts::load()?;
    let entries = entries(valid, &facts)?;
    let board = Scoreboard::new(valid, &entries, &facts);
    let sheet = Sheet::new(valid, &entries, &board, &facts);
    match format {
        CompareFormat::Json => Ok(format!("{}\n", serde_json::to_string_pretty(&json(valid, &entries, &board))?)),
        CompareFormat::Table => Ok(sheet.table()),
        CompareFormat::Markdown => Ok(sheet.markdown()),
        CompareFormat::Html => html(&sheet, &entries, &board),
    }
}

/// Re-flow `text` into lines of at most `width` characters (longer words stand alone), each
/// starting with `indent`.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> String {
    hang(text, width, indent, indent)
}

/// Like `wrap`, with `first` before the first line and `rest` before the others.
pub(crate) fn hang(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut indent = first;
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.chars().count() + 1 + word.chars().count() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
            indent = rest;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

// ----- JSON: the contract for scripts -----

/// `{ traces, metrics, logs }`.
#[derive(Debug, Serialize)]
struct PerSignal<T> {
    traces: T,
    metrics: T,
    logs: T,
}

impl<T> PerSignal<T> {
    fn from_fn(mut f: impl FnMut(Signal) -> T) -> Self {
        PerSignal { traces: f(Signal::Traces), metrics: f(Signal::Metrics), logs: f(Signal::Logs) }
    }
}

#[derive(Debug, Serialize)]
struct ComponentJson {
    class: String,
    #[serde(rename = "type")]
    type_name: String,
    stability: String,
    deprecated: bool,
}

#[derive(Debug, Serialize)]
struct TopologyJson {
    id: &'static str,
    needs: Vec<&'static str>,
    /// Why the topology cannot render this stack although its backends are described (tail
    /// sampling without a gateway); `null` when it can.
    refused: Option<String>,
    workloads: usize,
    single_points_of_failure: PerSignal<Vec<String>>,
    hops: PerSignal<usize>,
    backends: Vec<&'static str>,
    components: Vec<ComponentJson>,
    ports: Vec<u16>,
    secrets: Vec<String>,
    resources: Resources,
    capacity: Option<Capacity>,
    pros: Vec<String>,
    cons: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Recommended {
    id: &'static str,
    reason: String,
}

#[derive(Debug, Serialize)]
struct ComparisonJson {
    stack: String,
    collector_version: String,
    recommended: Recommended,
    topologies: Vec<TopologyJson>,
}

fn json(valid: &ValidStack, entries: &[Entry], board: &Scoreboard) -> ComparisonJson {
    let topologies = entries
        .iter()
        .map(|e| {
            let f = &e.figures;
            let flow = |s: Signal| f.flows.get(&s).cloned().unwrap_or_default();
            TopologyJson {
                id: e.topology.id.letter(),
                needs: e.needs.iter().map(|k| k.key()).collect(),
                refused: crate::analysis::choose::tail_refusal(valid, &e.topology).map(|d| d.message),
                workloads: f.workloads,
                single_points_of_failure: PerSignal::from_fn(|s| flow(s).spofs),
                hops: PerSignal::from_fn(|s| flow(s).hops),
                backends: f.backends.iter().map(|k| k.key()).collect(),
                components: f
                    .components
                    .iter()
                    .map(|c| ComponentJson {
                        class: c.class.to_string(),
                        type_name: c.type_name.clone(),
                        stability: c.stability.map_or_else(|| "unknown".to_string(), |s| s.to_string()),
                        deprecated: c.deprecated,
                    })
                    .collect(),
                ports: f.ports.clone(),
                secrets: f.secrets.clone(),
                resources: f.resources,
                capacity: f.capacity.clone(),
                pros: claims_for(&e.topology.pros, &kinds_in_use(&e.plan)),
                cons: claims_for(&e.topology.cons, &kinds_in_use(&e.plan)),
            }
        })
        .collect();
    let best = board.best();
    ComparisonJson {
        stack: valid.stack.name.value.clone(),
        collector_version: valid.collector.version.to_string(),
        recommended: Recommended { id: best.map_or("", |r| r.id.letter()), reason: board.paragraph.clone() },
        topologies,
    }
}

// ----- the sheet: the figures table and markdown (and HTML) show -----

/// A row of the summary: a figure for each topology.
#[derive(Debug, Clone, Serialize)]
struct SheetRow {
    label: String,
    cells: Vec<String>,
}

/// A labelled list in a topology's details.
#[derive(Debug, Clone, Serialize)]
struct Item {
    label: String,
    values: Vec<String>,
    /// Shown as a bulleted list (pros, cons, scores) rather than inline.
    list: bool,
}

/// One topology's details.
#[derive(Debug, Clone, Serialize)]
struct Detail {
    id: &'static str,
    title: String,
    recommended: bool,
    needs: Vec<String>,
    items: Vec<Item>,
}

/// Everything the table, the Markdown and the HTML page show.
#[derive(Debug, Clone, Serialize)]
struct Sheet {
    stack: String,
    collector_version: String,
    priorities: Vec<&'static str>,
    recommended: &'static str,
    recommended_title: String,
    reason: String,
    columns: Vec<&'static str>,
    rows: Vec<SheetRow>,
    details: Vec<Detail>,
    corrections: Vec<Correction>,
}

fn or_none(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_string()
    } else {
        values.join(", ")
    }
}

fn per_signal(f: &Figures, g: impl Fn(&crate::analysis::figures::SignalFigures) -> String) -> String {
    Signal::ALL.iter().map(|s| f.flows.get(s).map_or_else(|| "-".to_string(), &g)).collect::<Vec<_>>().join(" / ")
}

/// Capacity risks: each replicated node every path passes, with the signals.
fn capacity_risks(f: &Figures) -> Vec<String> {
    let mut by_node: Vec<(String, u32, Vec<&str>)> = Vec::new();
    for s in Signal::ALL {
        for (name, replicas) in f.flows.get(&s).map_or(&[][..], |x| x.capacity_risks.as_slice()) {
            match by_node.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, _, signals)) => signals.push(s.as_str()),
                None => by_node.push((name.clone(), *replicas, vec![s.as_str()])),
            }
        }
    }
    by_node.into_iter().map(|(n, r, s)| format!("{n} ({r} replicas; {})", s.join(", "))).collect()
}

/// The capacity rows: what a gateway replica carries, and with a declared load, the gateway and
/// the disk each topology needs for it.
fn capacity_rows(valid: &ValidStack, entries: &[Entry]) -> Vec<SheetRow> {
    let column = |f: &dyn Fn(&Entry) -> String| entries.iter().map(f).collect::<Vec<_>>();
    let mut rows = vec![SheetRow {
        // What a buffer buys: a store outage waits in Kafka, as the ingest tier's lag, rather
        // than in the gateway's queues.
        label: "a store outage waits in".into(),
        cells: column(&|e| match (&e.plan.buffer, e.figures.capacity.as_ref()) {
            (Some(b), _) if b.deployed => {
                format!("Kafka ({} min, {} GiB; lag of {})", b.retention_minutes, b.volume_gib, b.group_id)
            }
            (Some(b), _) => format!("Kafka (lag of {})", b.group_id),
            (None, Some(_)) => "the gateway's queues".into(),
            (None, None) => "the senders".into(),
        }),
    }];
    rows.push(SheetRow {
        label: "a gateway replica carries (t / m / l per s)".into(),
        cells: column(&|e| {
            e.figures.capacity.as_ref().map_or_else(
                || "no gateway".to_string(),
                |c| {
                    Signal::ALL
                        .iter()
                        .map(|s| c.per_replica.get(s).map_or("-".into(), |n| crate::plan::capacity::thousands(*n)))
                        .collect::<Vec<_>>()
                        .join(" / ")
                },
            )
        }),
    });
    if valid.load.is_some() {
        rows.push(SheetRow {
            label: "gateway for the declared load".into(),
            cells: column(&|e| match e.figures.capacity.as_ref() {
                Some(Capacity { replicas: Some((min, max)), memory_mib: Some(mib), volume_gib, .. }) => {
                    let volume = volume_gib.map(|g| format!(", {g} GiB volume")).unwrap_or_default();
                    format!("{min}–{max} × {mib} MiB{volume}")
                }
                _ => "no gateway".into(),
            }),
        });
        rows.push(SheetRow {
            label: "backlog per outage hour".into(),
            cells: column(&|e| match e.figures.capacity.as_ref() {
                Some(Capacity { backlog_bytes_per_hour: Some(b), .. }) => crate::plan::capacity::human_bytes(*b),
                Some(_) => "in memory only".into(),
                None => "no gateway queue".into(),
            }),
        });
    }
    rows
}

/// The priorities in the order the sheet lists them: the stack's, then the others.
fn priority_order(board: &Scoreboard) -> Vec<Priority> {
    let mut out = board.priorities.clone();
    out.extend(Priority::ALL.iter().map(|(_, p)| *p).filter(|p| !board.priorities.contains(p)));
    out
}

impl Sheet {
    fn new(valid: &ValidStack, entries: &[Entry], board: &Scoreboard, facts: &Facts) -> Sheet {
        let best = board.best();
        let column = |f: &dyn Fn(&Entry) -> String| entries.iter().map(f).collect::<Vec<_>>();
        let mut rows = vec![
            SheetRow {
                label: "renders".into(),
                cells: column(&|e| {
                    if crate::analysis::choose::tail_refusal(valid, &e.topology).is_some() {
                        "no: tail sampling needs a gateway".into()
                    } else if e.needs.is_empty() {
                        "yes".into()
                    } else {
                        format!("needs {}", e.needs.iter().map(|k| k.key()).collect::<Vec<_>>().join(", "))
                    }
                }),
            },
            SheetRow { label: "workloads".into(), cells: column(&|e| e.figures.workloads.to_string()) },
            SheetRow {
                label: "hops (traces / metrics / logs)".into(),
                cells: column(&|e| per_signal(&e.figures, |s| s.hops.to_string())),
            },
            SheetRow {
                label: "single points of failure (t / m / l)".into(),
                cells: column(&|e| per_signal(&e.figures, |s| s.spofs.len().to_string())),
            },
            SheetRow {
                label: "capacity risks (replicated)".into(),
                cells: column(&|e| {
                    let mut names: Vec<String> = e
                        .figures
                        .flows
                        .values()
                        .flat_map(|s| s.capacity_risks.iter().map(|(n, r)| format!("{n} ×{r}")))
                        .collect();
                    names.sort();
                    names.dedup();
                    or_none(&names)
                }),
            },
            SheetRow {
                label: "backends".into(),
                cells: column(&|e| e.figures.backends.iter().map(|k| k.key()).collect::<Vec<_>>().join(", ")),
            },
            SheetRow {
                label: "components (deprecated)".into(),
                cells: column(&|e| {
                    let c = &e.figures.components;
                    format!("{} ({})", c.len(), c.iter().filter(|x| x.deprecated).count())
                }),
            },
            SheetRow {
                label: "least stable component".into(),
                cells: column(&|e| {
                    e.figures
                        .components
                        .iter()
                        .filter(|c| c.stability.is_some())
                        .min_by_key(|c| c.stability)
                        .map_or_else(String::new, |c| {
                            format!("{}: {}", c.stability.map_or(String::new(), |s| s.to_string()), c.type_name)
                        })
                }),
            },
            SheetRow {
                label: "ports".into(),
                cells: column(&|e| e.figures.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")),
            },
            SheetRow { label: "secrets".into(), cells: column(&|e| e.figures.secrets.len().to_string()) },
            SheetRow {
                label: "CPU requests".into(),
                cells: column(&|e| format!("{}m", e.figures.resources.cpu_millicores)),
            },
            SheetRow {
                label: "memory requests".into(),
                cells: column(&|e| format!("{} MiB", e.figures.resources.memory_mib)),
            },
        ];
        rows.extend(capacity_rows(valid, entries));
        for p in priority_order(board) {
            let listed = if board.priorities.contains(&p) { "" } else { " (not listed)" };
            rows.push(SheetRow {
                label: format!("score: {}{listed}", p.as_str()),
                cells: board.rows.iter().map(|r| r.value(p).to_string()).collect(),
            });
        }
        rows.push(SheetRow {
            label: "score: total".into(),
            cells: board.rows.iter().map(|r| r.total.to_string()).collect(),
        });
        Sheet {
            stack: valid.stack.name.value.clone(),
            collector_version: valid.collector.version.to_string(),
            priorities: board.priorities.iter().map(|p| p.as_str()).collect(),
            recommended: best.map_or("", |r| r.id.letter()),
            recommended_title: best.map_or_else(String::new, |r| r.title.clone()),
            reason: board.paragraph.clone(),
            columns: entries.iter().map(|e| e.topology.id.letter()).collect(),
            rows,
            details: entries.iter().map(|e| detail(e, board)).collect(),
            corrections: facts.corrections.clone(),
        }
    }

    /// Aligned text.
    fn table(&self) -> String {
        let mut out = format!(
            "otelplan compare: stack `{}`, collector-contrib {}\npriorities: {}\n\n",
            self.stack,
            self.collector_version,
            self.priorities.join(" > ")
        );
        let _ = writeln!(out, "recommended: {} ({})", self.recommended, self.recommended_title);
        out.push_str(&wrap(&self.reason, 100, "  "));
        out.push('\n');
        let mut lines =
            vec![std::iter::once("figure".to_string()).chain(self.columns.iter().map(|c| (*c).to_string())).collect()];
        for r in &self.rows {
            lines.push(std::iter::once(r.label.clone()).chain(r.cells.iter().cloned()).collect());
        }
        out.push_str(&align(&lines));
        for d in &self.details {
            let mark = if d.recommended { "  [recommended]" } else { "" };
            let _ = writeln!(out, "\n{} — {}{mark}", d.id, d.title);
            for item in &d.items {
                if item.list {
                    let _ = writeln!(out, "  {}:", item.label);
                    for v in &item.values {
                        out.push_str(&hang(&format!("- {v}"), 100, "    ", "      "));
                    }
                } else {
                    out.push_str(&hang(&format!("{}: {}", item.label, or_none(&item.values)), 100, "  ", "    "));
                }
            }
        }
        out.push_str("\nWhere upstream overturns the design report\n");
        for c in &self.corrections {
            let ids: Vec<&str> = c.topologies.iter().map(|t| t.letter()).collect();
            out.push_str(&hang(&format!("- {}: the report says: {}", and_list(&ids), c.report), 100, "  ", "    "));
            out.push_str(&wrap(&format!("upstream: {}", c.upstream), 100, "    "));
            for s in &c.sources {
                let _ = writeln!(out, "    {s}");
            }
        }
        out
    }

    /// A Markdown document with the same figures.
    fn markdown(&self) -> String {
        let mut out = format!("# Topologies compared for `{}`\n\n", self.stack);
        let _ = writeln!(
            out,
            "collector-contrib {} · priorities: {}\n",
            self.collector_version,
            self.priorities.join(" > ")
        );
        let _ = writeln!(out, "**Recommended: {}.** {}\n", self.recommended, md(&self.reason));
        let _ = writeln!(out, "| figure | {} |", self.columns.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(self.columns.len()));
        for r in &self.rows {
            let cells: Vec<String> = r.cells.iter().map(|c| md(c)).collect();
            let _ = writeln!(out, "| {} | {} |", md(&r.label), cells.join(" | "));
        }
        for d in &self.details {
            let mark = if d.recommended { " (recommended)" } else { "" };
            let _ = writeln!(out, "\n## {} — {}{mark}\n", d.id, md(&d.title));
            for item in &d.items {
                if item.list {
                    let _ = writeln!(out, "- **{}:**", md(&item.label));
                    for v in &item.values {
                        let _ = writeln!(out, "  - {}", md(v));
                    }
                } else {
                    let _ = writeln!(out, "- **{}:** {}", md(&item.label), md(&or_none(&item.values)));
                }
            }
        }
        out.push_str("\n## Where upstream overturns the design report\n\n");
        for c in &self.corrections {
            let ids: Vec<&str> = c.topologies.iter().map(|t| t.letter()).collect();
            let sources: Vec<String> = c.sources.iter().map(|s| format!("<{s}>")).collect();
            let _ = writeln!(
                out,
                "- **{}** — the report says: {} Upstream: {} Sources: {}",
                and_list(&ids),
                md(&c.report),
                md(&c.upstream),
                sources.join(", ")
            );
        }
        out
    }
}

/// Text for a Markdown table cell or line: `|` and newlines would break the table.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn detail(e: &Entry, board: &Scoreboard) -> Detail {
    let f = &e.figures;
    let id = e.topology.id;
    let item = |label: &str, values: Vec<String>| Item { label: label.to_string(), values, list: false };
    let list = |label: &str, values: Vec<String>| Item { label: label.to_string(), values, list: true };
    let mut items = Vec::new();
    for s in Signal::ALL {
        let spofs = f.flows.get(&s).map_or_else(Vec::new, |x| x.spofs.clone());
        items.push(item(&format!("single points of failure, {}", s.as_str()), spofs));
    }
    items.push(item("capacity risks (several replicas, so not single points of failure)", capacity_risks(f)));
    items.push(item("backends", f.backends.iter().map(|k| k.key().to_string()).collect()));
    items.push(item(
        "components",
        f.components
            .iter()
            .map(|c| {
                let stability = c.stability.map_or_else(|| "unknown".to_string(), |s| s.to_string());
                let deprecated = if c.deprecated {
                    format!(", a name collector {} deprecates", crate::model::version::CollectorVersion::pinned())
                } else {
                    String::new()
                };
                format!("{} {} ({stability}{deprecated})", c.class, c.type_name)
            })
            .collect(),
    ));
    items.push(item("ports", f.ports.iter().map(u16::to_string).collect()));
    items.push(item("secrets", f.secrets.clone()));
    let scores = board.row(id).map_or_else(Vec::new, |r| {
        priority_order(board)
            .into_iter()
            .map(|p| format!("{} {}: {}", p.as_str(), r.value(p), r.scores.get(&p).map_or("", |s| s.why.as_str())))
            .collect()
    });
    items.push(list("scores (3 strong, 1 weak)", scores));
    let kinds = kinds_in_use(&e.plan);
    items.push(list("pros", claims_for(&e.topology.pros, &kinds)));
    items.push(list("cons", claims_for(&e.topology.cons, &kinds)));
    Detail {
        id: id.letter(),
        title: e.topology.title.clone(),
        recommended: board.best().is_some_and(|r| r.id == id),
        needs: e.needs.iter().map(|k| k.key().to_string()).collect(),
        items,
    }
}

// ----- HTML: the four diagrams side by side, then the sheet -----

#[derive(Debug, Serialize)]
struct DiagramCard {
    id: &'static str,
    title: String,
    recommended: bool,
    needs: Vec<&'static str>,
    diagram: DiagramView,
}

fn html(sheet: &Sheet, entries: &[Entry], board: &Scoreboard) -> anyhow::Result<String> {
    let cards: Vec<DiagramCard> = entries
        .iter()
        .map(|e| {
            let id = e.topology.id;
            DiagramCard {
                id: id.letter(),
                title: e.topology.title.clone(),
                recommended: board.best().is_some_and(|r| r.id == id),
                needs: e.needs.iter().map(|k| k.key()).collect(),
                diagram: svg::view(&e.plan, &e.needs, &format!("{}-", id.letter().to_ascii_lowercase())),
            }
        })
        .collect();
    let templates = Templates::new(None)?;
    templates.render(COMPARE_HTML, &minijinja::context! { sheet => sheet, cards => cards })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{valid, DKP};

    #[test]
    fn wrap_keeps_words_and_indent() {
        assert_eq!(wrap("aa bb cc", 7, "  "), "  aa bb\n  cc\n");
        assert_eq!(wrap("", 10, "  "), "");
        assert_eq!(hang("- aa bb cc", 9, "  ", "    "), "  - aa bb\n    cc\n");
    }

    #[test]
    fn json_carries_every_field_for_all_four() {
        let text = compare(&valid(DKP), CompareFormat::Json).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["stack"], "dkp");
        assert_eq!(v["collector_version"], crate::model::version::CollectorVersion::pinned().to_string());
        assert_eq!(v["recommended"]["id"], "D");
        let topologies = v["topologies"].as_array().unwrap();
        assert_eq!(topologies.len(), 4);
        for t in topologies {
            for key in [
                "id",
                "needs",
                "workloads",
                "single_points_of_failure",
                "hops",
                "backends",
                "components",
                "ports",
                "secrets",
                "resources",
                "pros",
                "cons",
            ] {
                assert!(t.get(key).is_some(), "{key} in {t}");
            }
        }
    }

    #[test]
    fn compare_never_fails_for_a_missing_backend() {
        let text = "version: 1\nname: tiny\nservices:\n  web:\n    kind: django\n";
        for format in [CompareFormat::Table, CompareFormat::Markdown, CompareFormat::Json, CompareFormat::Html] {
            assert!(compare(&valid(text), format).is_ok(), "{format:?}");
        }
    }

    #[test]
    fn the_table_never_calls_d_deprecated() {
        let table = compare(&valid(DKP), CompareFormat::Table).unwrap();
        assert!(!table.contains("D is deprecated"));
        assert!(table.contains("never deprecated"), "{table}");
        assert!(table.contains("https://github.com/open-telemetry/opentelemetry-collector-contrib/issues/14525"));
        assert!(table.contains("https://www.elastic.co/guide/en/observability/current/apm-api-otlp.html"));
    }
}
