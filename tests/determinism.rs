//! Identical input gives byte-identical trees, whatever the order of the stack's map keys.

use crate::common::{files, Test};

#[test]
fn rendering_twice_gives_the_same_tree() {
    for topology in otelplan::topologies() {
        let a =
            Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "-o", "out", "--topology", topology]).run();
        let b =
            Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "-o", "out", "--topology", topology]).run();
        assert_eq!(a.code, 0);
        assert_eq!(files(&a.path("out")), files(&b.path("out")), "{topology}");
    }
}

fn reverse(v: serde_yaml::Value) -> serde_yaml::Value {
    match v {
        serde_yaml::Value::Mapping(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.reverse();
            serde_yaml::Value::Mapping(entries.into_iter().map(|(k, v)| (k, reverse(v))).collect())
        }
        serde_yaml::Value::Sequence(s) => serde_yaml::Value::Sequence(s.into_iter().map(reverse).collect()),
        other => other,
    }
}

/// The DKP example with every mapping's keys in reverse order.
fn reversed_dkp() -> String {
    let text = std::fs::read_to_string(crate::common::repo().join("examples/dkp.yaml")).unwrap();
    let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    serde_yaml::to_string(&reverse(value)).unwrap()
}

#[test]
fn key_order_does_not_change_the_tree() {
    let shuffled = reversed_dkp();
    assert!(shuffled.starts_with("services:"), "{shuffled}");
    for topology in otelplan::topologies() {
        let a =
            Test::new().example("dkp.yaml").args(&["render", "stack.yaml", "-o", "out", "--topology", topology]).run();
        let b = Test::new().stack(&shuffled).args(&["render", "stack.yaml", "-o", "out", "--topology", topology]).run();
        assert_eq!(b.code, 0, "{}", b.stderr);
        assert_eq!(files(&a.path("out")), files(&b.path("out")), "{topology}");
    }
}
