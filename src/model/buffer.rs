//! The `collector.buffer` section (parse stage): a Kafka cluster between the gateway and an
//! ingest tier of collectors, so a long store outage or a traffic spike waits in Kafka's log
//! instead of the gateway's queues.

use schemars::JsonSchema;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::endpoint::{Endpoint, Form};
use crate::model::node::Node;
use crate::model::reader::{boolean, list, short_text, MapView};
use crate::span::{Span, Spanned};

/// Where the gateway buffers telemetry before the stores.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Buffer {
    /// A Kafka cluster: the gateway writes each signal to a topic of its own, and an ingest tier
    /// of collectors in one consumer group reads them and writes to the stores.
    pub(crate) kafka: Spanned<KafkaBuffer>,
    /// Where the `buffer` key is written, for messages about it.
    #[schemars(skip)]
    pub(crate) span: Span,
}

/// The Kafka cluster of a buffer.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KafkaBuffer {
    /// Its brokers, `host:port` (at least one). A deployed Kafka runs under the first one's host
    /// and listens on its port.
    #[schemars(length(min = 1))]
    pub(crate) brokers: Spanned<Vec<Spanned<Endpoint>>>,
    /// Also run a single-node Kafka (`KRaft`) for it, a sandbox (default false).
    #[schemars(extend("default" = false))]
    pub(crate) deploy: Option<Spanned<bool>>,
    /// Topic names start with it: `<prefix>traces`, `<prefix>metrics`, `<prefix>logs`
    /// (letters, digits, `.`, `_`, `-`; default `otlp_`).
    #[schemars(extend("default" = "otlp_", "pattern" = r"^[A-Za-z0-9._-]{1,200}$"))]
    pub(crate) topic_prefix: Option<Spanned<String>>,
}

/// `topic_prefix` when the file does not say.
pub(crate) const DEFAULT_TOPIC_PREFIX: &str = "otlp_";

impl KafkaBuffer {
    /// Whether otelplan runs the Kafka.
    pub(crate) fn deployed(&self) -> bool {
        self.deploy.as_ref().is_some_and(|d| d.value)
    }

    /// The topic prefix, defaulted.
    pub(crate) fn prefix(&self) -> &str {
        self.topic_prefix.as_ref().map_or(DEFAULT_TOPIC_PREFIX, |p| p.value.as_str())
    }
}

impl Buffer {
    /// Read `collector.buffer`.
    pub(crate) fn read(node: &Node, key: Option<Span>, d: &mut Diagnostics) -> Option<Buffer> {
        let m = MapView::open(node, "collector.buffer", &["kafka"], d)?;
        let kafka = m.required("kafka", d)?;
        let k = MapView::open(kafka, "collector.buffer.kafka", &["brokers", "deploy", "topic_prefix"], d)?;
        let brokers = k
            .required("brokers", d)
            .and_then(|n| list(n, &k.child("brokers"), true, d, |n, p, d| Endpoint::read(n, p, Form::HostPort, d)));
        if let Some(b) = brokers.as_ref().filter(|b| b.value.is_empty()) {
            d.push(
                Diagnostic::error(
                    b.span,
                    "`collector.buffer.kafka.brokers` is empty, expected at least one `host:port`",
                )
                .hint("list the brokers, for example `brokers: [kafka:9092]`"),
            );
        }
        // Every field is read (and reported) before any missing one ends the section.
        let topic_prefix = k.get("topic_prefix").and_then(|n| topic_prefix(n, &k.child("topic_prefix"), d));
        let deploy = k.get("deploy").and_then(|n| boolean(n, &k.child("deploy"), d));
        let buffer = KafkaBuffer { brokers: brokers.filter(|b| !b.value.is_empty())?, deploy, topic_prefix };
        Some(Buffer { kafka: Spanned::new(buffer, kafka.span), span: key.unwrap_or(node.span) })
    }
}

/// A topic prefix: Kafka's legal topic characters, short enough for the longest topic name
/// (249 characters, Apache Kafka's `Topic.MAX_NAME_LENGTH`).
fn topic_prefix(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    let text = short_text(node, path, 200, d)?;
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if text.value.is_empty() || !text.value.chars().all(legal) {
        d.push(
            Diagnostic::error(text.span, format!("`{path}` may only hold letters, digits, `.`, `_` and `-`"))
                .hint("Kafka topic names allow only these characters; for example `topic_prefix: dkp_`"),
        );
        return None;
    }
    Some(text)
}
