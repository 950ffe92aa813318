//! The `sampling` section (parse stage): how many traces are kept — `head`, decided by the
//! SDKs when a trace starts, and `tail`, decided by a sampler tier once a trace is complete.

use schemars::JsonSchema;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::node::{plain_type, Node, PlainType, Value};
use crate::model::reader::{boolean, integer, MapView};
use crate::span::Spanned;

/// Trace sampling.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sampling {
    /// Sampling in the Django apps' SDKs, when a trace starts: the root span keeps this share
    /// of traces and every later span follows its parent's decision (`parentbased_traceidratio`).
    pub(crate) head: Option<HeadSampling>,
    /// Sampling once a trace is complete, by a tier of collectors behind the gateway: traces
    /// with an error or slower than a threshold are kept whole, the rest at a ratio. Needs a
    /// gateway, so topology B cannot have it.
    pub(crate) tail: Option<TailSampling>,
}

/// Head sampling.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeadSampling {
    /// The share of traces the SDKs keep, above 0 and at most 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub(crate) ratio: Spanned<f64>,
}

/// Tail sampling.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TailSampling {
    /// Keep every trace with a span whose status is an error (default true).
    #[schemars(extend("default" = true))]
    pub(crate) keep_errors: Option<Spanned<bool>>,
    /// Keep every trace that lasts at least this many milliseconds, first span start to last
    /// span end (default: no latency rule).
    #[schemars(range(min = 1, max = 3_600_000))]
    pub(crate) slower_than_ms: Option<Spanned<u64>>,
    /// The share of the other traces kept, from 0 to 1 (default 0.1).
    #[schemars(range(min = 0.0, max = 1.0), extend("default" = 0.1))]
    pub(crate) ratio: Option<Spanned<f64>>,
}

/// `tail.ratio` when the file does not say.
pub(crate) const DEFAULT_TAIL_RATIO: f64 = 0.1;

/// A ratio: a plain number from 0 to 1; `0` itself only where `zero` allows it.
fn ratio(node: &Node, path: &str, zero: bool, d: &mut Diagnostics) -> Option<Spanned<f64>> {
    let range = if zero { "from 0 to 1" } else { "above 0 and at most 1" };
    let parsed = match &node.value {
        Value::Scalar { text, plain: true } if matches!(plain_type(text), PlainType::Int | PlainType::Float) => {
            text.parse::<f64>().ok().filter(|r| r.is_finite())
        }
        _ => None,
    };
    let Some(r) = parsed else {
        d.push(
            Diagnostic::error(node.span, format!("`{path}` must be a number {range}, found {}", node.kind_name()))
                .hint("write a decimal such as `0.25`, unquoted"),
        );
        return None;
    };
    let low_ok = if zero { r >= 0.0 } else { r > 0.0 };
    if !low_ok || r > 1.0 {
        d.push(
            Diagnostic::error(node.span, format!("`{path}` is {r}, expected a number {range}"))
                .hint("a ratio is a share of traces: `0.25` keeps one trace in four"),
        );
        return None;
    }
    Some(Spanned::new(r, node.span))
}

impl Sampling {
    /// Read `sampling`.
    pub(crate) fn read(node: &Node, d: &mut Diagnostics) -> Option<Sampling> {
        let m = MapView::open(node, "sampling", &["head", "tail"], d)?;
        let head = m.get("head").and_then(|n| {
            let h = MapView::open(n, "sampling.head", &["ratio"], d)?;
            let r = h.required("ratio", d).and_then(|r| ratio(r, "sampling.head.ratio", false, d))?;
            Some(HeadSampling { ratio: r })
        });
        let tail = m.get("tail").and_then(|n| {
            let t = MapView::open(n, "sampling.tail", &["keep_errors", "slower_than_ms", "ratio"], d)?;
            let tail = TailSampling {
                keep_errors: t.get("keep_errors").and_then(|n| boolean(n, "sampling.tail.keep_errors", d)),
                slower_than_ms: t
                    .get("slower_than_ms")
                    .and_then(|n| integer(n, "sampling.tail.slower_than_ms", 1, 3_600_000, d)),
                ratio: t.get("ratio").and_then(|n| ratio(n, "sampling.tail.ratio", true, d)),
            };
            let keeps_nothing = tail.keep_errors.as_ref().is_some_and(|k| !k.value)
                && t.get("slower_than_ms").is_none()
                && tail.ratio.as_ref().is_some_and(|r| r.value == 0.0);
            if keeps_nothing {
                d.push(
                    Diagnostic::warning(n.span, "`sampling.tail` keeps no trace: every trace is dropped")
                        .hint("keep errors (`keep_errors: true`), slow traces (`slower_than_ms`) or a `ratio` above 0; to send no traces, leave `traces` out of the services' `signals`"),
                );
            }
            Some(tail)
        });
        Some(Sampling { head, tail })
    }
}

/// Tail sampling with its defaults applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TailPolicy {
    /// Keep every trace with an error.
    pub(crate) keep_errors: bool,
    /// Keep every trace at least this slow.
    pub(crate) slower_than_ms: Option<u64>,
    /// The share of the other traces kept.
    pub(crate) ratio: f64,
    /// Where `tail` is written, for messages about it.
    pub(crate) span: crate::span::Span,
}

impl Sampling {
    /// The head ratio, if any.
    pub(crate) fn head_ratio(&self) -> Option<f64> {
        self.head.as_ref().map(|h| h.ratio.value)
    }

    /// Tail sampling with its defaults, if any; `span` is where `sampling` is written.
    pub(crate) fn tail_policy(&self, span: crate::span::Span) -> Option<TailPolicy> {
        self.tail.as_ref().map(|t| TailPolicy {
            keep_errors: t.keep_errors.as_ref().is_none_or(|v| v.value),
            slower_than_ms: t.slower_than_ms.as_ref().map(|v| v.value),
            ratio: t.ratio.as_ref().map_or(DEFAULT_TAIL_RATIO, |v| v.value),
            span,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::source::Source;
    use crate::test_support::DKP;

    fn warnings(tail: &str) -> Vec<String> {
        let text = DKP.replacen("services:\n", &format!("sampling:\n  tail: {tail}\nservices:\n"), 1);
        let (_, warnings) = crate::check(&Source::from_text("t.yaml", &text)).unwrap();
        warnings.into_iter().filter(|w| w.message.contains("sampling.tail")).map(|w| w.message).collect()
    }

    #[test]
    fn a_tail_policy_that_keeps_nothing_is_warned_about() {
        let w = warnings("{ keep_errors: false, ratio: 0 }");
        assert_eq!(w, ["`sampling.tail` keeps no trace: every trace is dropped"]);
        for keeps in [
            "{ keep_errors: false, ratio: 0.01 }",
            "{ ratio: 0 }",
            "{ keep_errors: false, ratio: 0, slower_than_ms: 5 }",
        ] {
            assert!(warnings(keeps).is_empty(), "{keeps}");
        }
    }
}
