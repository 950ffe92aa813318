//! Emit stage, diagrams: `diagram.svg`, the plan's data flow drawn from its graph (layout in
//! `layout`), styled here and written through `templates/svg/diagram.svg.j2`, whose every
//! value is HTML-escaped. Red traces, blue metrics, green logs; a legend; replicas on the boxes;
//! protocol and port in each arrow's tooltip.

use std::fmt::Write as _;

use serde::Serialize;

use crate::emit::drawing::{drawing, GROUP_ABOVE};
use crate::emit::layout::{layout, text_width, Category, DiagramNode, Drawing, Layout, PlacedEdge, PAD_X};
use crate::emit::OutputTree;
use crate::model::keywords::Signal;
use crate::plan::Plan;
use crate::templates::{Templates, DIAGRAM_SVG};
use crate::topology::BackendKind;

/// Where a rendered tree keeps its diagram.
pub(crate) const PATH: &str = "diagram.svg";

const MARGIN: i64 = 24;
const TITLE_SIZE: i64 = 17;
const NAME_SIZE: i64 = 13;
const DETAIL_SIZE: i64 = 11;
const LEGEND_Y: i64 = 62;
const HEADER_Y: i64 = 104;
const GRAPH_TOP: i64 = 116;
const FOOT: i64 = 44;

/// The colour of a signal's arrows.
pub(crate) fn signal_color(s: Signal) -> &'static str {
    match s {
        Signal::Traces => "#d62728",
        Signal::Metrics => "#1f5fbf",
        Signal::Logs => "#238b3a",
    }
}

/// Fill and stroke of a box.
fn palette(c: Category) -> (&'static str, &'static str) {
    match c {
        Category::App => ("#f4f4f5", "#52525b"),
        Category::Datastore => ("#fef6d8", "#a16207"),
        Category::Collector => ("#fde8d7", "#c2410c"),
        Category::Intake => ("#efe7fd", "#6d28d9"),
        Category::Buffer => ("#dcfce7", "#15803d"),
        Category::Store => ("#e4ecf5", "#334155"),
    }
}

/// A line of text.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TextView {
    /// Left (or centre, with `middle`).
    pub(crate) x: i64,
    /// Baseline.
    pub(crate) y: i64,
    /// Font size, px.
    pub(crate) size: i64,
    /// Bold.
    pub(crate) bold: bool,
    /// Centred on `x`.
    pub(crate) middle: bool,
    /// Colour.
    pub(crate) fill: &'static str,
    /// The text (escaped by the template).
    pub(crate) text: String,
}

/// A rectangle: a box of the graph or a legend swatch.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RectView {
    /// Left.
    pub(crate) x: i64,
    /// Top.
    pub(crate) y: i64,
    /// Width.
    pub(crate) w: i64,
    /// Height.
    pub(crate) h: i64,
    /// Fill colour.
    pub(crate) fill: &'static str,
    /// Stroke colour.
    pub(crate) stroke: &'static str,
    /// Dashed outline (a backend the stack lacks).
    pub(crate) dashed: bool,
    /// Tooltip (empty: none).
    pub(crate) tooltip: String,
    /// Text lines inside.
    pub(crate) texts: Vec<TextView>,
}

/// An arrow: a path with an arrowhead.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ArrowView {
    /// SVG path data.
    pub(crate) d: String,
    /// Colour.
    pub(crate) color: &'static str,
    /// The marker's id.
    pub(crate) marker: String,
    /// Tooltip: what, how, where.
    pub(crate) tooltip: String,
}

/// An arrowhead definition.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MarkerView {
    /// Its id.
    pub(crate) id: String,
    /// Colour.
    pub(crate) color: &'static str,
}

/// Everything the template draws.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DiagramView {
    /// Prefix of every id, so several diagrams can share one HTML page.
    pub(crate) prefix: String,
    /// Canvas width.
    pub(crate) width: i64,
    /// Canvas height.
    pub(crate) height: i64,
    /// Accessible title.
    pub(crate) title: String,
    /// Arrowheads.
    pub(crate) markers: Vec<MarkerView>,
    /// Free text: title, legend labels, column headers, footnote.
    pub(crate) texts: Vec<TextView>,
    /// Legend swatches.
    pub(crate) swatches: Vec<RectView>,
    /// Legend arrows.
    pub(crate) samples: Vec<ArrowView>,
    /// Boxes.
    pub(crate) boxes: Vec<RectView>,
    /// Arrows.
    pub(crate) arrows: Vec<ArrowView>,
}

fn text(x: i64, y: i64, size: i64, bold: bool, fill: &'static str, text: &str) -> TextView {
    TextView { x, y, size, bold, middle: false, fill, text: text.to_string() }
}

/// Width and text height of a box.
fn measure(n: &DiagramNode) -> (i64, i64) {
    let w = text_width(&n.title, NAME_SIZE, true).max(text_width(&n.subtitle, DETAIL_SIZE, false));
    (w + 2 * PAD_X, 46)
}

fn marker_id(prefix: &str, s: Signal) -> String {
    format!("{prefix}arrow-{}", s.as_str())
}

/// The legend row: a sample arrow per signal, a swatch per kind of box drawn; its width.
fn legend(prefix: &str, d: &Drawing, view: &mut DiagramView) -> i64 {
    let mut x = MARGIN;
    for s in Signal::ALL {
        view.samples.push(ArrowView {
            d: format!("M{x} {LEGEND_Y} L{} {LEGEND_Y}", x + 30),
            color: signal_color(s),
            marker: marker_id(prefix, s),
            tooltip: format!("{} arrows", s.as_str()),
        });
        view.texts.push(text(x + 38, LEGEND_Y + 4, 12, false, "#1f2937", s.as_str()));
        x += 38 + text_width(s.as_str(), 12, false) + 22;
    }
    x += 12;
    let mut categories: Vec<Category> = d.nodes.iter().map(|n| n.category).collect();
    categories.sort_unstable();
    categories.dedup();
    let mut kinds: Vec<(String, &'static str, &'static str, bool)> =
        categories.into_iter().map(|c| (c.label().to_string(), palette(c).0, palette(c).1, false)).collect();
    if d.nodes.iter().any(|n| n.missing) {
        kinds.push(("not in the stack".to_string(), "#ffffff", "#334155", true));
    }
    for (label, fill, stroke, dashed) in kinds {
        view.swatches.push(RectView {
            x,
            y: LEGEND_Y - 7,
            w: 16,
            h: 12,
            fill,
            stroke,
            dashed,
            tooltip: String::new(),
            texts: Vec::new(),
        });
        view.texts.push(text(x + 22, LEGEND_Y + 4, 12, false, "#1f2937", &label));
        x += 22 + text_width(&label, 12, false) + 18;
    }
    x - 18 + MARGIN
}

/// Column headers: what each column holds.
fn headers(l: &Layout, view: &mut DiagramView) {
    for c in &l.columns {
        let names: Vec<&str> = c
            .categories
            .iter()
            .map(|k| match k {
                Category::App | Category::Datastore => "sources",
                Category::Collector => "collectors",
                Category::Intake => "intake",
                Category::Buffer => "buffer",
                Category::Store => "stores",
            })
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        if names.is_empty() {
            continue;
        }
        let mut t = text(MARGIN + c.x + c.w / 2, HEADER_Y, 12, true, "#6b7280", &names.join(" & "));
        t.middle = true;
        view.texts.push(t);
    }
}

/// The boxes, each with its name and details.
fn boxes(drawing: &Drawing, laid: &Layout, view: &mut DiagramView) {
    for p in &laid.nodes {
        let n = &drawing.nodes[p.node];
        let (fill, stroke) = palette(n.category);
        let (x, y) = (MARGIN + p.x, GRAPH_TOP + p.y);
        let mid = y + p.h / 2;
        view.boxes.push(RectView {
            x,
            y,
            w: p.w,
            h: p.h,
            fill: if n.missing { "#ffffff" } else { fill },
            stroke,
            dashed: n.missing,
            tooltip: n.tooltip.clone(),
            texts: vec![
                text(x + PAD_X, mid - 2, NAME_SIZE, true, "#111827", &n.title),
                text(x + PAD_X, mid + 14, DETAIL_SIZE, false, "#374151", &n.subtitle),
            ],
        });
    }
}

/// The arrows, moved below the header.
fn arrows(drawing: &Drawing, laid: &Layout, prefix: &str, view: &mut DiagramView) {
    for p in &laid.edges {
        let e = &drawing.edges[p.edge];
        let shifted =
            PlacedEdge { edge: p.edge, points: p.points.iter().map(|(x, y)| (x + MARGIN, y + GRAPH_TOP)).collect() };
        view.arrows.push(ArrowView {
            d: shifted.path(),
            color: signal_color(e.signal),
            marker: marker_id(prefix, e.signal),
            tooltip: e.tooltip.clone(),
        });
    }
}

/// The diagram of `plan` as a view model; `needs` lists backends the stack lacks (drawn
/// dashed), `prefix` starts every id.
pub(crate) fn view(plan: &Plan, needs: &[BackendKind], prefix: &str) -> DiagramView {
    let drawing = drawing(plan, needs);
    let laid = layout(&drawing, &measure);
    let title = format!("{} · topology {}: {}", plan.stack_name, plan.topology.id.letter(), plan.topology.title);
    let mut view = DiagramView {
        prefix: prefix.to_string(),
        width: 0,
        height: GRAPH_TOP + laid.height + FOOT,
        title: title.clone(),
        markers: Signal::ALL
            .into_iter()
            .map(|s| MarkerView { id: marker_id(prefix, s), color: signal_color(s) })
            .collect(),
        texts: vec![text(MARGIN, 34, TITLE_SIZE, true, "#111827", &title)],
        swatches: Vec::new(),
        samples: Vec::new(),
        boxes: Vec::new(),
        arrows: Vec::new(),
    };
    let legend_width = legend(prefix, &drawing, &mut view);
    headers(&laid, &mut view);
    boxes(&drawing, &laid, &mut view);
    arrows(&drawing, &laid, prefix, &mut view);
    let mut foot = "One arrow per signal and pair of boxes; hover an arrow for its protocol and port.".to_string();
    if drawing.nodes.iter().any(|n| n.members > 1) {
        let _ = write!(foot, " More than {GROUP_ABOVE} similar services are drawn as one box.");
    }
    view.texts.push(text(MARGIN, view.height - 18, 11, false, "#6b7280", &foot));
    let widest_text = view.texts.iter().map(|t| t.x + text_width(&t.text, t.size, t.bold)).max().unwrap_or(0);
    view.width = (MARGIN + laid.width + MARGIN).max(legend_width).max(widest_text + MARGIN);
    view
}

/// The diagram of `plan` as SVG text.
pub(crate) fn render(
    plan: &Plan,
    needs: &[BackendKind],
    prefix: &str,
    templates: &Templates,
) -> anyhow::Result<String> {
    templates.render(DIAGRAM_SVG, &minijinja::context! { diagram => view(plan, needs, prefix) })
}

/// Add `diagram.svg` to the tree.
pub(crate) fn emit(plan: &Plan, templates: &Templates, tree: &mut OutputTree) -> anyhow::Result<()> {
    tree.insert(PATH.to_string(), render(plan, &[], "", templates)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::keywords::TopologyId;

    use crate::test_support::{hypothetical as plan, DKP};

    fn big() -> String {
        let mut s = "version: 1\nname: big\nservices:\n".to_string();
        for i in 0..150 {
            let signals = if i % 10 == 0 { ", signals: [traces]" } else { "" };
            let _ = writeln!(s, "  s{i}: {{ kind: django{signals} }}");
        }
        for i in 0..30 {
            let _ =
                writeln!(s, "  pg{i}: {{ kind: postgres, endpoint: pg{i}:5432, logs: {{ path: /var/log/pg/*.log }} }}");
        }
        for i in 0..20 {
            let _ = writeln!(s, "  r{i}: {{ kind: redis, endpoint: r{i}:6379, logs: stdout }}");
        }
        s
    }

    /// Boxes apart, text inside its box, arrows left to right from a box's right side to a
    /// box's left side, ends of arrows distinct, passes clear of every box.
    fn check(p: &Plan) {
        let d = drawing(p, &[]);
        let l = layout(&d, &measure);
        for (i, a) in l.nodes.iter().enumerate() {
            let n = &d.nodes[a.node];
            assert!(measure(n).0 <= a.w, "{} fits", n.title);
            for b in &l.nodes[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} and {b:?} overlap");
            }
        }
        let inside = |x: i64, y: i64| l.nodes.iter().any(|b| b.x <= x && x <= b.x + b.w && b.y <= y && y <= b.y + b.h);
        let mut starts = std::collections::BTreeSet::new();
        let mut ends = std::collections::BTreeSet::new();
        for e in &l.edges {
            let edge = &d.edges[e.edge];
            let from = l.nodes.iter().find(|n| n.node == edge.from).unwrap();
            let to = l.nodes.iter().find(|n| n.node == edge.to).unwrap();
            let (first, last) = (e.points[0], e.points[e.points.len() - 1]);
            assert_eq!(first.0, from.x + from.w);
            assert!(from.y < first.1 && first.1 < from.y + from.h, "starts on its box");
            assert_eq!(last.0, to.x - 1);
            assert!(to.y < last.1 && last.1 < to.y + to.h, "ends on its box");
            assert!(e.points.windows(2).all(|w| w[0].0 < w[1].0), "left to right");
            for pass in e.points[1..e.points.len() - 1].chunks(2) {
                assert!(!inside((pass[0].0 + pass[1].0) / 2, pass[0].1), "a pass crosses a box");
            }
            assert!(ends.insert(last), "two arrowheads at {last:?}");
            assert!(starts.insert(first), "two arrows leave at {first:?}");
        }
    }

    #[test]
    fn layouts_keep_boxes_and_arrows_apart() {
        for id in TopologyId::all() {
            check(&plan(DKP, id));
            check(&plan(&big(), id));
        }
    }

    #[test]
    fn many_similar_services_share_a_box() {
        let d = drawing(&plan(&big(), TopologyId::D), &[]);
        let titles: Vec<&str> = d.nodes.iter().map(|n| n.title.as_str()).collect();
        assert!(titles.contains(&"135 Django services"), "{titles:?}");
        assert!(titles.contains(&"15 Django services"), "{titles:?}");
        assert!(titles.contains(&"30 PostgreSQL servers"), "{titles:?}");
        assert!(titles.contains(&"30 file log agents"), "{titles:?}");
        assert!(titles.contains(&"20 Redis servers"), "{titles:?}");
        assert!(d.nodes.len() < 12, "{titles:?}");
    }

    #[test]
    fn a_missing_backend_is_dashed() {
        let text = "version: 1\nname: x\nservices:\n  web: { kind: django }\n";
        let p = plan(text, TopologyId::C);
        let d = drawing(&p, &[BackendKind::Jaeger, BackendKind::Prometheus, BackendKind::Loki]);
        assert_eq!(d.nodes.iter().filter(|n| n.missing).count(), 3);
        let v = view(&p, &[BackendKind::Jaeger, BackendKind::Prometheus, BackendKind::Loki], "c-");
        assert!(v.boxes.iter().filter(|b| b.dashed).count() == 3);
        assert!(v.texts.iter().any(|t| t.text == "not in the stack"));
    }

    #[test]
    fn every_text_is_escaped() {
        let templates = Templates::new(None).unwrap();
        let mut v = view(&plan(DKP, TopologyId::D), &[], "p-");
        v.title = "<script>alert(1)</script> & \"x\"".into();
        v.boxes[0].texts[0].text = "a<b>&c".into();
        v.arrows[0].tooltip = "</title><script>".into();
        let svg = templates.render(DIAGRAM_SVG, &minijinja::context! { diagram => v }).unwrap();
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &quot;x&quot;"), "{svg}");
        assert!(svg.contains(">a&lt;b&gt;&amp;c</text>"));
    }

    #[test]
    fn ids_carry_the_prefix() {
        let templates = Templates::new(None).unwrap();
        let svg = render(&plan(DKP, TopologyId::A), &[], "a-", &templates).unwrap();
        assert!(svg.contains("id=\"a-arrow-traces\"") && svg.contains("url(#a-arrow-logs)"));
        assert!(!svg.contains("id=\"arrow-"));
    }
}
