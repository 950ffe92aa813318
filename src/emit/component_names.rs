//! Component type names per collector version: the table of renames between 0.130 and the
//! pinned 0.159 (the old name is written for versions before each rename).

use crate::model::version::CollectorVersion;
use crate::plan::collector::ComponentKind;

/// One rename: from `since` on the component is `new`, before it `old`.
struct Rename {
    kind: ComponentKind,
    old: &'static str,
    new: &'static str,
    since: CollectorVersion,
}

/// Renames of the components otelplan writes (collector and contrib changelogs).
const RENAMES: [Rename; 5] = [
    Rename {
        kind: ComponentKind::K8sAttributesProcessor,
        old: "k8sattributes",
        new: "k8s_attributes",
        since: CollectorVersion(0, 146, 0),
    },
    Rename { kind: ComponentKind::OtlpGrpcExporter, old: "otlp", new: "otlp_grpc", since: CollectorVersion(0, 144, 0) },
    Rename {
        kind: ComponentKind::OtlpHttpExporter,
        old: "otlphttp",
        new: "otlp_http",
        since: CollectorVersion(0, 144, 0),
    },
    Rename {
        kind: ComponentKind::FileLogReceiver,
        old: "filelog",
        new: "file_log",
        since: CollectorVersion(0, 149, 0),
    },
    Rename {
        kind: ComponentKind::KafkaMetricsReceiver,
        old: "kafkametrics",
        new: "kafka_metrics",
        since: CollectorVersion(0, 152, 0),
    },
];

/// Renames of components otelplan knows but the core topologies do not use yet.
#[allow(dead_code, reason = "the Kubernetes variants use them")]
pub(crate) const OTHER_RENAMES: [(&str, &str, CollectorVersion); 1] =
    [("loadbalancing", "load_balancing", CollectorVersion(0, 153, 0))];

/// The name of a renamed component that is not a `ComponentKind` (see `OTHER_RENAMES`).
#[allow(dead_code, reason = "the Kubernetes variants use it")]
pub(crate) fn other_name(new: &str, version: CollectorVersion) -> &str {
    OTHER_RENAMES
        .iter()
        .find(|(_, n, _)| *n == new)
        .map_or(new, |(old, n, since)| if version < *since { old } else { n })
}

/// The type name of `kind` in collector `version`.
pub(crate) fn type_name(kind: ComponentKind, version: CollectorVersion) -> &'static str {
    if let Some(r) = RENAMES.iter().find(|r| r.kind == kind) {
        return if version < r.since { r.old } else { r.new };
    }
    match kind {
        ComponentKind::OtlpReceiver | ComponentKind::OtlpGrpcExporter => "otlp",
        ComponentKind::PostgresqlReceiver => "postgresql",
        ComponentKind::RedisReceiver => "redis",
        ComponentKind::ElasticsearchReceiver | ComponentKind::ElasticsearchExporter => "elasticsearch",
        ComponentKind::MemoryLimiterProcessor => "memory_limiter",
        ComponentKind::ResourceProcessor => "resource",
        ComponentKind::HealthCheckExtension => "health_check",
        ComponentKind::FileStorageExtension => "file_storage",
        // Renamed: the table above always answers for these.
        ComponentKind::OtlpHttpExporter
        | ComponentKind::FileLogReceiver
        | ComponentKind::KafkaMetricsReceiver
        | ComponentKind::K8sAttributesProcessor => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> CollectorVersion {
        CollectorVersion(0, minor, 0)
    }

    #[test]
    fn each_rename_switches_at_its_version() {
        let cases = [
            (ComponentKind::OtlpGrpcExporter, 144, "otlp", "otlp_grpc"),
            (ComponentKind::OtlpHttpExporter, 144, "otlphttp", "otlp_http"),
            (ComponentKind::FileLogReceiver, 149, "filelog", "file_log"),
            (ComponentKind::KafkaMetricsReceiver, 152, "kafkametrics", "kafka_metrics"),
        ];
        for (kind, since, old, new) in cases {
            assert_eq!(type_name(kind, v(130)), old);
            assert_eq!(type_name(kind, v(since - 1)), old);
            assert_eq!(type_name(kind, CollectorVersion(0, since - 1, 9)), old);
            assert_eq!(type_name(kind, v(since)), new);
            assert_eq!(type_name(kind, v(159)), new);
        }
        assert_eq!(type_name(ComponentKind::K8sAttributesProcessor, v(145)), "k8sattributes");
        assert_eq!(type_name(ComponentKind::K8sAttributesProcessor, v(146)), "k8s_attributes");
        assert_eq!(other_name("load_balancing", v(152)), "loadbalancing");
        assert_eq!(other_name("load_balancing", v(153)), "load_balancing");
    }

    #[test]
    fn unrenamed_components_keep_their_names() {
        assert_eq!(type_name(ComponentKind::OtlpReceiver, v(130)), "otlp");
        assert_eq!(type_name(ComponentKind::MemoryLimiterProcessor, v(130)), "memory_limiter");
    }
}
