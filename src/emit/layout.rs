//! Emit stage, diagrams: a drawing (boxes and arrows, `drawing.rs` makes one from a plan) laid
//! out in layers. Ranks follow the flow (sources left, stores right), long edges pass through
//! reserved lanes, each layer is ordered by barycentre sweeps that keep the order with the
//! fewest crossings, and boxes are placed as near their neighbours as the gaps allow. Every
//! arrow gets its own lane, so boxes, arrows and arrowheads never overlap. Integer coordinates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::keywords::Signal;

/// Vertical distance between two parallel arrows.
pub(crate) const LANE: i64 = 10;
/// Horizontal room between two columns, for the arrows.
const COLUMN_GAP: i64 = 120;
/// Vertical room between two boxes of a column.
const BOX_GAP: i64 = 22;
/// Vertical room next to a lane of passing arrows.
const LANE_GAP: i64 = 10;
/// Inner horizontal padding of a box.
pub(crate) const PAD_X: i64 = 12;
/// Smallest box.
const MIN_WIDTH: i64 = 130;
const MIN_HEIGHT: i64 = 46;
/// Placement rounds (alternating left-to-right and right-to-left).
const PLACEMENT_ROUNDS: usize = 24;
/// Ordering sweeps (alternating down and up).
const ORDER_SWEEPS: usize = 24;

/// A count as a coordinate.
fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Where an item sits.
#[derive(Debug, Clone, Copy)]
struct Rect {
    left: i64,
    top: i64,
    width: i64,
    height: i64,
}

impl Rect {
    fn centre(self) -> i64 {
        self.top + self.height / 2
    }
}

/// What a box stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Category {
    /// Django services.
    App,
    /// Datastores.
    Datastore,
    /// Collector roles.
    Collector,
    /// Backends that forward to a store (APM Server).
    Intake,
    /// The Kafka buffer between the gateway and the ingest tier.
    Buffer,
    /// Backends where telemetry comes to rest.
    Store,
}

impl Category {
    /// How the legend and column headers name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Category::App => "Django service",
            Category::Datastore => "datastore",
            Category::Collector => "collector",
            Category::Intake => "intake",
            Category::Buffer => "buffer",
            Category::Store => "store",
        }
    }
}

/// A box of the drawing: one plan node, or a group of similar ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiagramNode {
    /// Sort key (category first, then id).
    pub(crate) key: String,
    /// What it is.
    pub(crate) category: Category,
    /// First line (bold).
    pub(crate) title: String,
    /// Second line.
    pub(crate) subtitle: String,
    /// Tooltip.
    pub(crate) tooltip: String,
    /// A backend the stack lacks (drawn dashed).
    pub(crate) missing: bool,
    /// How many plan nodes it stands for.
    pub(crate) members: usize,
}

/// An arrow of the drawing: one signal between two boxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiagramEdge {
    /// Sender box.
    pub(crate) from: usize,
    /// Receiver box.
    pub(crate) to: usize,
    /// Signal.
    pub(crate) signal: Signal,
    /// Protocol and port(s), for the tooltip.
    pub(crate) tooltip: String,
    /// A collector's own metrics, which may run against the flow.
    pub(crate) own: bool,
}

/// The plan graph with similar services grouped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Drawing {
    /// Boxes, sorted by key.
    pub(crate) nodes: Vec<DiagramNode>,
    /// Arrows, sorted by boxes and signal.
    pub(crate) edges: Vec<DiagramEdge>,
}

/// Sources in column 0; every other box one column right of its furthest sender (column 1 at
/// least). A collector's own metrics do not rank: they may run against the flow (the samplers
/// report to the gateway that feeds them), and ranking by them would make a cycle.
pub(crate) fn ranks(d: &Drawing) -> Vec<usize> {
    let n = d.nodes.len();
    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut succs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for e in &d.edges {
        if e.from != e.to && !e.own {
            preds[e.to].insert(e.from);
            succs[e.from].insert(e.to);
        }
    }
    let is_source = |i: usize| matches!(d.nodes[i].category, Category::App | Category::Datastore);
    let mut rank: Vec<usize> = (0..n).map(|i| usize::from(!is_source(i))).collect();
    let mut left: Vec<usize> = preds.iter().map(BTreeSet::len).collect();
    let mut ready: Vec<usize> = (0..n).filter(|i| left[*i] == 0).collect();
    while let Some(i) = ready.pop() {
        for &s in &succs[i] {
            rank[s] = rank[s].max(rank[i] + 1);
            left[s] -= 1;
            if left[s] == 0 {
                ready.push(s);
            }
        }
    }
    rank
}

/// A thing that takes room in a column: a box, or the lanes of a long edge passing through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Node(usize),
    Pass(usize),
}

/// The arrows between one pair of boxes, drawn side by side.
#[derive(Debug, Clone)]
struct Bundle {
    /// Arrow indices (into `Drawing::edges`), in signal order.
    edges: Vec<usize>,
    /// The items it passes: sender box, passes, receiver box.
    chain: Vec<usize>,
}

/// A laid-out box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlacedNode {
    /// Index into `Drawing::nodes`.
    pub(crate) node: usize,
    /// Left.
    pub(crate) x: i64,
    /// Top.
    pub(crate) y: i64,
    /// Width.
    pub(crate) w: i64,
    /// Height.
    pub(crate) h: i64,
}

/// A laid-out arrow: an SVG path from its sender's right side to its receiver's left side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlacedEdge {
    /// Index into `Drawing::edges`.
    pub(crate) edge: usize,
    /// Points of the path: start, then per column passed its entry and exit, then the end.
    pub(crate) points: Vec<(i64, i64)>,
}

impl PlacedEdge {
    /// The SVG path: curves between columns, straight through passes.
    pub(crate) fn path(&self) -> String {
        let mut path = String::new();
        let mut previous: Option<(i64, i64)> = None;
        for (k, &(x, y)) in self.points.iter().enumerate() {
            match previous {
                None => {
                    let _ = write!(path, "M{x} {y}");
                }
                Some((px, py)) if k % 2 == 1 => {
                    let mid = (px + x) / 2;
                    let _ = write!(path, " C{mid} {py} {mid} {y} {x} {y}");
                }
                Some(_) => {
                    let _ = write!(path, " L{x} {y}");
                }
            }
            previous = Some((x, y));
        }
        path
    }
}

/// A column: its left edge, width and kinds of boxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    /// Left.
    pub(crate) x: i64,
    /// Width.
    pub(crate) w: i64,
    /// Categories of its boxes.
    pub(crate) categories: BTreeSet<Category>,
}

/// The geometry of a drawing, from (0, 0).
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// Boxes.
    pub(crate) nodes: Vec<PlacedNode>,
    /// Arrows.
    pub(crate) edges: Vec<PlacedEdge>,
    /// Columns, left to right.
    pub(crate) columns: Vec<Column>,
    /// Width.
    pub(crate) width: i64,
    /// Height.
    pub(crate) height: i64,
}

/// How wide a text is in a sans-serif font at `size` px (generous: `DejaVu` Sans metrics, bold
/// a tenth wider), rounded up.
pub(crate) fn text_width(text: &str, size: i64, bold: bool) -> i64 {
    let mut milli: i64 = 0;
    for c in text.chars() {
        milli += match c {
            'i' | 'j' | 'l' | '|' | '\'' => 280,
            ' ' | '.' | ',' | ':' | ';' | '·' | '!' => 320,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 420,
            'm' => 980,
            'w' | 'M' | 'W' | '…' | '%' | '@' => 1000,
            '×' | '→' => 840,
            'A'..='Z' => 760,
            _ => 640,
        };
    }
    let milli = if bold { milli * 11 / 10 } else { milli };
    (milli * size + 999) / 1000
}

/// Lay `d` out; `size` measures a box (title and subtitle) as (width, height of its text).
pub(crate) fn layout(d: &Drawing, size: &dyn Fn(&DiagramNode) -> (i64, i64)) -> Layout {
    let rank = ranks(d);
    let count = rank.iter().max().map_or(0, |m| m + 1);
    let (items, layers, bundles) = items(d, &rank, count);
    let layers = order(layers, &bundles);
    let lanes = lane_counts(&bundles, items.len());
    let heights: Vec<i64> = items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Item::Node(n) => {
                let (_, text_h) = size(&d.nodes[*n]);
                let (inn, out) = lanes[i];
                (inn.max(out) * LANE + 16).max(text_h).max(MIN_HEIGHT)
            }
            Item::Pass(b) => int(bundles[*b].edges.len()) * LANE,
        })
        .collect();
    let cols = columns_of(d, &items, &layers, size);
    let tops = place(&items, &layers, &bundles, &heights);
    let column_of: BTreeMap<usize, usize> =
        layers.iter().enumerate().flat_map(|(c, l)| l.iter().map(move |i| (*i, c))).collect();
    let rect = |i: usize| -> Rect {
        let column = column_of.get(&i).and_then(|c| cols.get(*c));
        let (left, width) = column.map_or((0, 0), |c| (c.x, c.w));
        Rect { left, top: tops[i], width, height: heights[i] }
    };
    let mut nodes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Item::Node(n) = item {
            let r = rect(i);
            nodes.push(PlacedNode { node: *n, x: r.left, y: r.top, w: r.width, h: r.height });
        }
    }
    nodes.sort_by_key(|p| p.node);
    let edges = route(d, &bundles, &rect);
    let width = cols.last().map_or(0, |c| c.x + c.w);
    let height =
        nodes.iter().map(|n| n.y + n.h).chain(tops.iter().zip(&heights).map(|(t, h)| t + h)).max().unwrap_or(0);
    Layout { nodes, edges, columns: cols, width, height }
}

/// Columns left to right, each as wide as its widest box.
fn columns_of(
    d: &Drawing,
    items: &[Item],
    layers: &[Vec<usize>],
    size: &dyn Fn(&DiagramNode) -> (i64, i64),
) -> Vec<Column> {
    let mut cols = Vec::new();
    let mut x = 0;
    for layer in layers {
        let mut w = MIN_WIDTH;
        let mut categories = BTreeSet::new();
        for &i in layer {
            if let Item::Node(n) = items[i] {
                w = w.max(size(&d.nodes[n]).0);
                categories.insert(d.nodes[n].category);
            }
        }
        cols.push(Column { x, w, categories });
        x += w + COLUMN_GAP;
    }
    cols
}

type Items = (Vec<Item>, Vec<Vec<usize>>, Vec<Bundle>);

/// Items per column: the boxes, and a pass for each column a long bundle crosses.
fn items(d: &Drawing, rank: &[usize], columns: usize) -> Items {
    let mut items: Vec<Item> = (0..d.nodes.len()).map(Item::Node).collect();
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, r) in rank.iter().enumerate() {
        layers[*r].push(i);
    }
    let mut pairs: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (i, e) in d.edges.iter().enumerate() {
        pairs.entry((e.from, e.to)).or_default().push(i);
    }
    let mut bundles = Vec::new();
    for ((from, to), mut edges) in pairs {
        edges.sort_by_key(|e| d.edges[*e].signal);
        // A pass in every column between the two boxes, in the order the arrow crosses them
        // (right to left for an arrow back to an earlier column).
        let mut between: Vec<usize> = (rank[from].min(rank[to]) + 1..rank[from].max(rank[to])).collect();
        if rank[to] < rank[from] {
            between.reverse();
        }
        let mut chain = vec![from];
        for r in between {
            chain.push(items.len());
            layers[r].push(items.len());
            items.push(Item::Pass(bundles.len()));
        }
        chain.push(to);
        bundles.push(Bundle { edges, chain });
    }
    (items, layers, bundles)
}

/// For each item: arrows arriving and leaving.
fn lane_counts(bundles: &[Bundle], count: usize) -> Vec<(i64, i64)> {
    let mut lanes = vec![(0i64, 0i64); count];
    for b in bundles {
        let n = int(b.edges.len());
        if let (Some(first), Some(last)) = (b.chain.first(), b.chain.last()) {
            lanes[*first].1 += n;
            lanes[*last].0 += n;
        }
    }
    lanes
}

/// Segments between adjacent columns: (left item, right item, weight).
fn segments(bundles: &[Bundle]) -> Vec<(usize, usize, i64)> {
    bundles.iter().flat_map(|b| b.chain.windows(2).map(move |w| (w[0], w[1], int(b.edges.len())))).collect()
}

/// Weighted crossings of the whole ordering.
fn crossings(layers: &[Vec<usize>], segs: &[(usize, usize, i64)]) -> i64 {
    let pos = positions(layers);
    let mut by_gap: BTreeMap<usize, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for (a, b, w) in segs {
        if let (Some((ca, pa)), Some((_, pb))) = (pos.get(a), pos.get(b)) {
            by_gap.entry(*ca).or_default().push((*pa, *pb, *w));
        }
    }
    let mut total = 0;
    for list in by_gap.values() {
        for (i, (a1, b1, w1)) in list.iter().enumerate() {
            for (a2, b2, w2) in &list[i + 1..] {
                if (a1 < a2 && b1 > b2) || (a1 > a2 && b1 < b2) {
                    total += w1 * w2;
                }
            }
        }
    }
    total
}

/// Item → (column, position in it).
fn positions(layers: &[Vec<usize>]) -> BTreeMap<usize, (usize, i64)> {
    let mut pos = BTreeMap::new();
    for (c, layer) in layers.iter().enumerate() {
        for (p, i) in layer.iter().enumerate() {
            pos.insert(*i, (c, int(p)));
        }
    }
    pos
}

/// Order each column: start from the boxes' sort order, sweep down and up moving items to the
/// barycentre of their neighbours, keep the ordering with the fewest crossings.
fn order(mut layers: Vec<Vec<usize>>, bundles: &[Bundle]) -> Vec<Vec<usize>> {
    let segs = segments(bundles);
    let mut left: BTreeMap<usize, Vec<(usize, i64)>> = BTreeMap::new();
    let mut right: BTreeMap<usize, Vec<(usize, i64)>> = BTreeMap::new();
    for (a, b, w) in &segs {
        right.entry(*a).or_default().push((*b, *w));
        left.entry(*b).or_default().push((*a, *w));
    }
    let mut best = layers.clone();
    let mut best_crossings = crossings(&layers, &segs);
    for sweep in 0..ORDER_SWEEPS {
        let down = sweep % 2 == 0;
        let columns: Vec<usize> =
            if down { (1..layers.len()).collect() } else { (0..layers.len().saturating_sub(1)).rev().collect() };
        for c in columns {
            let pos = positions(&layers);
            let neighbours = if down { &left } else { &right };
            let mut keyed: Vec<(i64, i64, usize)> = layers[c]
                .iter()
                .enumerate()
                .map(|(p, i)| {
                    let here = int(p) * 1000;
                    let key = neighbours.get(i).map_or(here, |list| {
                        let (sum, weight) = list.iter().fold((0i64, 0i64), |(s, w), (n, nw)| {
                            (s + pos.get(n).map_or(0, |(_, np)| *np) * 1000 * nw, w + nw)
                        });
                        if weight == 0 {
                            here
                        } else {
                            sum / weight
                        }
                    });
                    (key, here, *i)
                })
                .collect();
            keyed.sort_unstable();
            layers[c] = keyed.into_iter().map(|(_, _, i)| i).collect();
        }
        let now = crossings(&layers, &segs);
        if now < best_crossings {
            best_crossings = now;
            best.clone_from(&layers);
        }
    }
    best
}

/// The room between two neighbours of a column.
fn gap(a: Item, b: Item) -> i64 {
    match (a, b) {
        (Item::Node(_), Item::Node(_)) => BOX_GAP,
        _ => LANE_GAP,
    }
}

/// Tops of every item: each column in turn is fitted as near the centres of its neighbours as
/// its order and gaps allow (isotonic regression), alternating directions.
fn place(items: &[Item], layers: &[Vec<usize>], bundles: &[Bundle], heights: &[i64]) -> Vec<i64> {
    let mut neighbours: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (a, b, _) in segments(bundles) {
        neighbours.entry(a).or_default().push(b);
        neighbours.entry(b).or_default().push(a);
    }
    let mut top = vec![0i64; items.len()];
    for layer in layers {
        let mut y = 0;
        for (k, &i) in layer.iter().enumerate() {
            if k > 0 {
                y += gap(items[layer[k - 1]], items[i]);
            }
            top[i] = y;
            y += heights[i];
        }
    }
    for round in 0..PLACEMENT_ROUNDS {
        let columns: Vec<usize> =
            if round % 2 == 0 { (0..layers.len()).collect() } else { (0..layers.len()).rev().collect() };
        for c in columns {
            let layer = &layers[c];
            let mut offset = 0;
            let mut targets = Vec::with_capacity(layer.len());
            let mut offsets = Vec::with_capacity(layer.len());
            for (k, &i) in layer.iter().enumerate() {
                if k > 0 {
                    offset += heights[layer[k - 1]] + gap(items[layer[k - 1]], items[i]);
                }
                let centre = |j: usize| top[j] + heights[j] / 2;
                let wanted = neighbours
                    .get(&i)
                    .filter(|l| !l.is_empty())
                    .map_or(centre(i), |l| l.iter().map(|j| centre(*j)).sum::<i64>() / int(l.len()));
                targets.push(wanted - heights[i] / 2 - offset);
                offsets.push(offset);
            }
            for (k, z) in isotonic(&targets).into_iter().enumerate() {
                top[layer[k]] = z + offsets[k];
            }
        }
    }
    let lowest = top.iter().copied().min().unwrap_or(0);
    top.iter().map(|t| t - lowest).collect()
}

/// The non-decreasing sequence nearest to `t` (pool adjacent violators), rounded down.
pub(crate) fn isotonic(t: &[i64]) -> Vec<i64> {
    let mut blocks: Vec<(i64, i64)> = Vec::new();
    for &v in t {
        blocks.push((v, 1));
        while blocks.len() >= 2 {
            let (s2, c2) = blocks[blocks.len() - 1];
            let (s1, c1) = blocks[blocks.len() - 2];
            if s1 * c2 > s2 * c1 {
                blocks.pop();
                blocks.pop();
                blocks.push((s1 + s2, c1 + c2));
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .flat_map(|(s, c)| std::iter::repeat_n(s.div_euclid(c), usize::try_from(c).unwrap_or(0)))
        .collect()
}

/// Lanes on one side of every item: item → arrows in lane order (neighbour centre, bundle,
/// arrow).
type Sides = BTreeMap<usize, Vec<(i64, usize, usize)>>;

/// The y of arrow `e` among the lanes `list` of an item at `r`: the lanes are centred on it.
fn lane_y(r: Rect, list: &[(i64, usize, usize)], e: usize) -> i64 {
    let k = int(list.iter().position(|x| x.2 == e).unwrap_or(0));
    let n = int(list.len());
    r.top + (r.height - n * LANE) / 2 + LANE / 2 + k * LANE
}

/// Paths of every arrow: each box hands out lanes on its sides, sorted by where the arrows
/// go (so arrows leaving or entering a box never cross there), a pass gives each arrow of its
/// bundle its own lane.
fn route(d: &Drawing, bundles: &[Bundle], rect: &dyn Fn(usize) -> Rect) -> Vec<PlacedEdge> {
    let mut out = Sides::new();
    let mut inn = Sides::new();
    for (b, bundle) in bundles.iter().enumerate() {
        let chain = &bundle.chain;
        let (Some(&first), Some(&second)) = (chain.first(), chain.get(1)) else { continue };
        let (Some(&last), Some(&before)) = (chain.last(), chain.len().checked_sub(2).and_then(|k| chain.get(k))) else {
            continue;
        };
        for &e in &bundle.edges {
            out.entry(first).or_default().push((rect(second).centre(), b, e));
            inn.entry(last).or_default().push((rect(before).centre(), b, e));
        }
    }
    for list in out.values_mut().chain(inn.values_mut()) {
        list.sort_unstable_by_key(|(centre, bundle, e)| (*centre, *bundle, d.edges[*e].signal));
    }
    let mut placed = Vec::new();
    for bundle in bundles {
        let chain = &bundle.chain;
        let (Some(&first), Some(&last)) = (chain.first(), chain.last()) else { continue };
        let passes = chain.get(1..chain.len().saturating_sub(1)).unwrap_or_default();
        // An arrow back to an earlier column (a sampler's own metrics to the gateway that feeds
        // it) leaves its box on the left and enters the other on the right, so it stays between
        // the two instead of crossing both, and crosses the columns between in passes of its own.
        let back = rect(last).left < rect(first).left;
        for (k, &e) in bundle.edges.iter().enumerate() {
            let start = rect(first);
            let start_x = if back { start.left } else { start.left + start.width };
            let mut points = vec![(start_x, out.get(&first).map_or(0, |l| lane_y(start, l, e)))];
            for &pass in passes {
                let r = rect(pass);
                let lane = r.top + LANE / 2 + int(k) * LANE;
                let (entry, exit) = if back { (r.left + r.width, r.left) } else { (r.left, r.left + r.width) };
                points.push((entry, lane));
                points.push((exit, lane));
            }
            let end = rect(last);
            let end_x = if back { end.left + end.width + 1 } else { end.left - 1 };
            points.push((end_x, inn.get(&last).map_or(0, |l| lane_y(end, l, e))));
            placed.push(PlacedEdge { edge: e, points });
        }
    }
    placed.sort_by_key(|p| p.edge);
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_fits_a_non_decreasing_sequence() {
        assert_eq!(isotonic(&[1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(isotonic(&[3, 1]), vec![2, 2]);
        assert_eq!(isotonic(&[5, 1, 0, 10]), vec![2, 2, 2, 10]);
        assert_eq!(isotonic(&[-3, -5]), vec![-4, -4]);
    }

    #[test]
    fn text_width_is_generous_and_monotone() {
        assert!(text_width("web", 13, false) >= 24);
        assert!(text_width("web", 13, true) > text_width("web", 13, false));
        assert!(text_width("mmmm", 13, false) > text_width("iiii", 13, false));
    }

    #[test]
    fn paths_curve_between_columns_and_run_straight_through_passes() {
        let e = PlacedEdge { edge: 0, points: vec![(0, 10), (100, 20), (200, 20), (300, 5)] };
        assert_eq!(e.path(), "M0 10 C50 10 50 20 100 20 L200 20 C250 20 250 5 300 5");
    }
}
