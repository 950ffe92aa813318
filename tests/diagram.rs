//! `otelplan diagram` and the `diagram.svg` of every rendered tree: drawn from the plan, one
//! arrow per edge and signal with its protocol and port, integer coordinates, no overlapping
//! boxes, self-contained, and grouped for large stacks.

use std::fmt::Write as _;

use crate::common::Test;

/// The value of every `name="…"` attribute in `svg`.
fn attributes<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
    let key = format!(" {name}=\"");
    svg.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &svg[i + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Boxes of the graph: the `<rect>` right after each `<g>`'s `<title>`.
fn boxes(svg: &str) -> Vec<(i64, i64, i64, i64)> {
    svg.split("<g>\n")
        .skip(1)
        .filter_map(|group| {
            let rect = format!(" {}", group.split("<rect ").nth(1)?);
            let num = |n: &str| attributes(&rect, n).first().and_then(|v| v.parse().ok());
            Some((num("x")?, num("y")?, num("width")?, num("height")?))
        })
        .collect()
}

fn dkp_diagram(topology: &str) -> (String, String) {
    let out =
        Test::new().example("dkp.yaml").args(&["diagram", "stack.yaml", "--topology", topology, "-o", "d.svg"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = Test::new().example("dkp.yaml").args(&["plan", "stack.yaml", "--topology", topology]).run();
    (out.read("d.svg"), plan.stdout)
}

#[test]
fn one_arrow_per_edge_and_signal_with_protocol_and_port() {
    for topology in otelplan::topologies() {
        let (svg, plan) = dkp_diagram(topology);
        let edges = plan.lines().skip_while(|l| *l != "edges:").skip(1).count();
        let arrows = svg.lines().filter(|l| l.starts_with("<path d=\"M") && l.contains("marker-end")).count();
        assert_eq!(arrows, edges + 3, "{topology}: one arrow per plan edge, plus the legend's three");
        for line in plan.lines().skip_while(|l| *l != "edges:").skip(1) {
            let (pair, how) = line.trim().split_once("  ").unwrap();
            let (from, to) = pair.split_once(" -> ").unwrap();
            let (signal, rest) = how.split_once(" via ").unwrap();
            let (protocol, port) = rest.split_once(" :").map_or((rest, None), |(p, n)| (p, Some(n)));
            let mut title = format!("<title>{from} → {to}: {signal} over {}", protocol.replace('/', "&#x2f;"));
            if let Some(port) = port {
                let _ = write!(title, ", port {port}");
            }
            assert!(svg.contains(&title), "{topology}: no arrow `{title}`");
        }
    }
}

#[test]
fn legend_colours_and_replicas() {
    let (svg, _) = dkp_diagram("A");
    for (signal, colour) in [("traces", "#d62728"), ("metrics", "#1f5fbf"), ("logs", "#238b3a")] {
        assert!(svg.contains(&format!(">{signal}</text>")), "legend names {signal}");
        assert!(svg.contains(&format!("stroke=\"{colour}\" stroke-width=\"2\" marker-end=\"url(#arrow-{signal})\"")));
    }
    assert!(svg.contains(">gateway · 2 replicas</text>"), "{svg}");
    assert!(svg.contains(">Django · 3 replicas</text>"));
    assert!(svg.contains(">APM Server intake · 1 replica</text>"));
}

#[test]
fn coordinates_are_integers_and_boxes_do_not_overlap() {
    for topology in otelplan::topologies() {
        let (svg, _) = dkp_diagram(topology);
        for name in ["x", "y", "width", "height"] {
            for v in attributes(&svg, name) {
                assert!(v.parse::<i64>().is_ok(), "{topology}: {name}=\"{v}\"");
            }
        }
        for d in attributes(&svg, "d") {
            assert!(
                d.split(|c: char| c.is_ascii_alphabetic() || c == ' ')
                    .filter(|t| !t.is_empty())
                    .all(|t| t.parse::<i64>().is_ok()),
                "{topology}: d=\"{d}\""
            );
        }
        let b = boxes(&svg);
        assert!(b.len() >= 9, "{topology}: {b:?}");
        for (i, p) in b.iter().enumerate() {
            for q in &b[i + 1..] {
                let apart = p.0 + p.2 <= q.0 || q.0 + q.2 <= p.0 || p.1 + p.3 <= q.1 || q.1 + q.3 <= p.1;
                assert!(apart, "{topology}: boxes {p:?} and {q:?} overlap");
            }
        }
    }
}

#[test]
fn diagrams_are_self_contained() {
    let (svg, _) = dkp_diagram("C");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n") && !svg.ends_with("\n\n"));
    assert!(!svg.contains("<script") && !svg.contains("href") && !svg.contains("@import"));
    assert_eq!(svg.matches("http:").count() + svg.matches("https:").count(), 1, "only the namespace");
    assert!(svg.contains("font-family=\"sans-serif\""));
}

#[test]
fn render_writes_the_same_diagram() {
    let out = Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "--topology", "D", "-o", "out"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (svg, _) = dkp_diagram("D");
    assert_eq!(out.read("out/diagram.svg"), svg);
}

#[test]
fn a_topology_the_stack_cannot_render_is_refused() {
    let out = Test::new().example("minimal.yaml").args(&["diagram", "stack.yaml", "--topology", "C"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("topology C needs"), "{}", out.stderr);
}

#[test]
fn without_output_the_svg_goes_to_stdout() {
    let out = Test::new().example("minimal.yaml").args(&["diagram", "stack.yaml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("<svg "));
}

/// A stack of 200 services: 150 Django services (some without metrics), 20 PostgreSQL servers
/// with log files, 15 Redis (half with stdout logs), 10 Elasticsearch clusters, 5 Kafka.
pub fn big_stack() -> String {
    let mut s = String::from(
        "version: 1\nname: big\ntopology: D\ncollector: { gateway_replicas: 3 }\nbackends:\n  elasticsearch: { endpoint: http://elasticsearch:9200, deploy: true, username: elastic, password: \"${ELASTIC_PASSWORD}\" }\nservices:\n",
    );
    for i in 1..=150 {
        let signals = if i % 10 == 0 { ", signals: [traces, logs]" } else { "" };
        let _ = writeln!(s, "  svc-{i:03}: {{ kind: django, replicas: {}{signals} }}", 1 + i % 3);
    }
    for i in 1..=20 {
        let _ = writeln!(
            s,
            "  pg-{i:02}: {{ kind: postgres, endpoint: pg-{i:02}:5432, username: mon, password: \"${{PG_PASSWORD}}\", logs: {{ path: /var/log/postgresql/*.log }} }}"
        );
    }
    for i in 1..=15 {
        let logs = if i % 2 == 1 { ", logs: stdout" } else { "" };
        let _ = writeln!(s, "  redis-{i:02}: {{ kind: redis, endpoint: redis-{i:02}:6379{logs} }}");
    }
    for i in 1..=10 {
        let _ = writeln!(s, "  es-{i:02}: {{ kind: elasticsearch, endpoint: http://es-{i:02}:9200, logs: stdout }}");
    }
    for i in 1..=5 {
        let _ = writeln!(s, "  kafka-{i}: {{ kind: kafka, brokers: [kafka-{i}:9092] }}");
    }
    s
}

#[test]
fn large_stacks_are_grouped() {
    let out = Test::new().stack(&big_stack()).args(&["diagram", "stack.yaml", "-o", "big.svg"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let svg = out.read("big.svg");
    assert!(svg.contains(">135 Django services</text>"), "services that send all three signals");
    assert!(svg.contains(">15 Django services</text>"), "services without metrics");
    assert!(svg.contains(">20 PostgreSQL servers</text>"));
    assert!(svg.contains(">20 file log agents</text>"));
    assert!(svg.contains(">kafka-1</text>"), "five of a kind stay single");
    assert!(svg.contains("More than 5 similar services are drawn as one box."));
    let b = boxes(&svg);
    assert!(b.len() < 20, "{} boxes", b.len());
    let width: i64 = attributes(&svg, "width")[0].parse().unwrap();
    let height: i64 = attributes(&svg, "height")[0].parse().unwrap();
    assert!(width < 1800 && height < 1200, "{width}×{height}");
}

/// Each box's horizontal extent, by name (the `<title>` of its group, up to the colon).
fn box_extents(svg: &str) -> std::collections::BTreeMap<String, (i64, i64)> {
    svg.split("<g>\n")
        .skip(1)
        .filter_map(|group| {
            let title = group.strip_prefix("<title>")?.split("</title>").next()?;
            let name = title.split(':').next()?.to_string();
            let rect = format!(" {}", group.split("<rect ").nth(1)?);
            let num = |n: &str| attributes(&rect, n).first().and_then(|v| v.parse::<i64>().ok());
            let (x, w) = (num("x")?, num("width")?);
            Some((name, (x, x + w)))
        })
        .collect()
}

/// The diagram of `stack` in `topology`.
fn diagram_of(stack: Test, topology: &str) -> String {
    stack.args(&["diagram", "stack.yaml", "--topology", topology, "-o", "d.svg"]).status(0).run().read("d.svg")
}

/// Every arrow between boxes (the legend's have no ` → `): its title and its path.
fn arrows(svg: &str) -> Vec<(&str, &str)> {
    svg.lines()
        .filter(|l| l.starts_with("<path d=\"M") && l.contains(" → "))
        .map(|line| (line.split("<title>").nth(1).unwrap(), attributes(line, "d")[0]))
        .collect()
}

#[test]
fn arrows_stay_between_their_boxes_even_back_to_an_earlier_column() {
    // The sampler tier reports its own metrics to the gateway that feeds it: an arrow from a
    // later column to an earlier one, which must not run across either box.
    for topology in ["A", "C", "D"] {
        let svg = diagram_of(Test::new().example("sampling.yaml"), topology);
        let boxes = box_extents(&svg);
        let mut back = 0;
        for (title, d) in arrows(&svg) {
            let xs: Vec<i64> = d
                .split(|c: char| c.is_ascii_alphabetic())
                .filter_map(|p| p.split_whitespace().next().and_then(|x| x.parse().ok()))
                .collect();
            let (start, end) = (xs[0], *xs.last().unwrap());
            let (from, to) = title.split(':').next().unwrap().split_once(" → ").unwrap();
            let (lo, hi) = (start.min(end), start.max(end));
            for name in [from, to] {
                let (left, right) = boxes[name];
                assert!(hi <= left + 1 || lo >= right - 1, "{topology}: `{title}` ({d}) runs across `{name}`");
            }
            back += usize::from(end < start);
        }
        assert!(back > 0, "{topology}: the sampler's own metrics draw an arrow back to the gateway");
    }
}

/// The start and end x of every curve of an SVG path (`M x y`, then `C … x y` and `L x y`).
fn curves(d: &str) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = 0;
    for part in d.split_inclusive(|c: char| c.is_ascii_alphabetic()).collect::<String>().split(['M', 'C', 'L']) {
        let numbers: Vec<i64> = part.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        let Some(&x) = numbers.len().checked_sub(2).and_then(|i| numbers.get(i)) else { continue };
        if numbers.len() == 6 {
            out.push((at, x));
        }
        at = x;
    }
    out
}

#[test]
fn an_arrow_back_across_columns_passes_between_the_boxes_it_crosses() {
    // With a Kafka buffer, the samplers sit behind the ingest tier, three columns right of the
    // gateway they report their own metrics to: that arrow crosses the buffer's and the ingest
    // tier's columns, and must pass between their boxes, one column at a time.
    let text = std::fs::read_to_string(format!("{}/examples/sampling.yaml", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replacen("collector:\n", "collector:\n  buffer:\n    kafka: { brokers: [\"kafka:9092\"], deploy: true }\n", 1);
    assert!(text.contains("buffer:"), "the example's collector section moved");
    for topology in ["A", "C", "D"] {
        let svg = diagram_of(Test::new().stack(&text), topology);
        let boxes = box_extents(&svg);
        let mut back = 0;
        for (title, d) in arrows(&svg) {
            let title = title.split(':').next().unwrap();
            for (a, b) in curves(d) {
                let (lo, hi) = (a.min(b), a.max(b));
                for (name, (left, right)) in &boxes {
                    assert!(!(lo < *left && *right < hi), "{topology}: a curve of `{title}` ({d}) jumps over `{name}`");
                }
            }
            back += usize::from(title.contains("sampler → ") && title.contains("gateway"));
        }
        assert!(back > 0, "{topology}: the samplers' own metrics go back to the gateway");
    }
}
