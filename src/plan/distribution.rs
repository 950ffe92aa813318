//! Plan stage: the collector distribution as data (`data/distributions/*.yaml`, embedded) — its
//! image, user and config path, the release configs are written for by default, and one table of
//! every component otelplan can write: type names and their renames by release, Go module,
//! stability per signal. Emitters read names from here; the builder manifests are generated
//! from it; CI compares it with the real binary.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::keywords::DistributionId;
use crate::model::version::CollectorVersion;
use crate::plan::collector::ComponentKind;

/// A component's maturity as the collector's metadata states it, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stability {
    /// Scheduled for removal.
    Deprecated,
    /// No active code owners.
    Unmaintained,
    /// Not ready for production; may change or go away.
    Development,
    /// Usable, configuration may still change.
    Alpha,
    /// Configuration changes are rare and announced.
    Beta,
    /// Covered by the collector's stability guarantees.
    Stable,
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stability::Deprecated => "deprecated",
            Stability::Unmaintained => "unmaintained",
            Stability::Development => "development",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
        })
    }
}

/// The class of a collector component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ComponentClass {
    /// Takes data in.
    Receiver,
    /// Transforms data in a pipeline.
    Processor,
    /// Sends data out.
    Exporter,
    /// Exports from some pipelines and receives in others (turns traces into metrics).
    Connector,
    /// Serves the collector itself (health, storage).
    Extension,
}

impl fmt::Display for ComponentClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentClass::Receiver => "receiver",
            ComponentClass::Processor => "processor",
            ComponentClass::Exporter => "exporter",
            ComponentClass::Connector => "connector",
            ComponentClass::Extension => "extension",
        })
    }
}

const CONTRIB: &str = include_str!("../../data/distributions/contrib.yaml");
const EDOT: &str = include_str!("../../data/distributions/edot.yaml");

/// A type name that changed in a release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rename {
    /// The name before `since`; from `since` on, a deprecated alias.
    pub(crate) from: String,
    /// The first release with the new name.
    #[serde(rename = "in", deserialize_with = "version")]
    pub(crate) since: CollectorVersion,
}

/// One component of the distribution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Component {
    /// otelplan's name for it.
    pub(crate) kind: ComponentKind,
    /// Receiver, processor, exporter or extension.
    pub(crate) class: ComponentClass,
    /// Its newest type name.
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// The rename it went through, if any.
    #[serde(default)]
    pub(crate) renamed: Option<Rename>,
    /// The Go module it is built from.
    pub(crate) module: String,
    /// The release from which the module is tagged on the v1 line (v1.0.0 there).
    #[serde(default, deserialize_with = "optional_version")]
    pub(crate) module_v1_since: Option<CollectorVersion>,
    /// Stability per signal it supports (`traces`, `metrics`, `logs`; `extension`; for a
    /// connector, the signal it takes in).
    pub(crate) stability: BTreeMap<String, Stability>,
    /// Feature gates a collector using it runs with (`--feature-gates`), each available in
    /// every release otelplan writes for.
    #[serde(default)]
    pub(crate) feature_gates: Vec<String>,
}

impl Component {
    /// Its type name in `version`.
    pub(crate) fn type_name(&self, version: CollectorVersion) -> &str {
        match &self.renamed {
            Some(r) if version < r.since => &r.from,
            _ => &self.type_name,
        }
    }

    /// The deprecated alias `version` accepts for it, if any.
    pub(crate) fn deprecated_alias(&self, version: CollectorVersion) -> Option<&str> {
        self.renamed.as_ref().filter(|r| version >= r.since).map(|r| r.from.as_str())
    }

    /// Its module at `version`, as the builder names it: `MODULE vX.Y.Z`.
    pub(crate) fn gomod(&self, version: CollectorVersion) -> String {
        let tag = match self.module_v1_since {
            Some(since) if version >= since => {
                let CollectorVersion(_, minor, patch) = version;
                format!("v1.{}.{patch}", minor - since.1)
            }
            _ => format!("v{version}"),
        };
        format!("{} {tag}", self.module)
    }
}

/// A collector distribution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Distribution {
    /// Its product name.
    pub(crate) title: String,
    /// Container image without tag; the tag is the collector version.
    pub(crate) image: String,
    /// The user (and group) the image runs as.
    pub(crate) uid: u32,
    /// Where the image reads its config.
    pub(crate) config_path: String,
    /// The release otelplan writes configs for unless the stack names one, and CI validates with.
    #[serde(deserialize_with = "version")]
    pub(crate) default_version: CollectorVersion,
    /// For a distribution with its own release numbers (EDOT), the OpenTelemetry Collector
    /// release its components come from; `None`: its releases are the collector's.
    #[serde(default, deserialize_with = "optional_version")]
    pub(crate) components_version: Option<CollectorVersion>,
    /// v0 minor minus v1 minor of the core modules released together.
    #[serde(default)]
    pub(crate) stable_minor_offset: u32,
    /// The OpenTelemetry Collector Builder's module, for a distribution whose components one
    /// may build into a collector of one's own; `None`: no builder manifest is written.
    #[serde(default)]
    pub(crate) builder_module: Option<String>,
    /// confmap provider modules (v1 line).
    #[serde(default)]
    pub(crate) providers: Vec<String>,
    /// Every component, in the order the manifests list them.
    pub(crate) components: Vec<Component>,
}

fn version<'de, D: serde::Deserializer<'de>>(de: D) -> Result<CollectorVersion, D::Error> {
    let text = String::deserialize(de)?;
    CollectorVersion::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a version")))
}

fn optional_version<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<CollectorVersion>, D::Error> {
    version(de).map(Some)
}

impl Distribution {
    /// The contrib distribution, parsed once per process and checked to name no component
    /// kind twice.
    pub(crate) fn contrib() -> anyhow::Result<&'static Distribution> {
        static PARSED: OnceLock<Result<Distribution, String>> = OnceLock::new();
        PARSED
            .get_or_init(|| parse(CONTRIB).map_err(|e| format!("data/distributions/contrib.yaml: {e}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e} (this is a bug in otelplan)"))
    }

    /// Elastic's distribution (EDOT Collector), parsed once per process.
    pub(crate) fn edot() -> anyhow::Result<&'static Distribution> {
        static PARSED: OnceLock<Result<Distribution, String>> = OnceLock::new();
        PARSED
            .get_or_init(|| parse(EDOT).map_err(|e| format!("data/distributions/edot.yaml: {e}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e} (this is a bug in otelplan)"))
    }

    /// The distribution the stack names.
    pub(crate) fn of(id: DistributionId) -> anyhow::Result<&'static Distribution> {
        match id {
            DistributionId::Contrib => Distribution::contrib(),
            DistributionId::Edot => Distribution::edot(),
        }
    }

    /// The collector release whose component names configs use, when the stack asks for
    /// `version`: a distribution with its own release numbers has one fixed set.
    pub(crate) fn components_at(&self, version: CollectorVersion) -> CollectorVersion {
        self.components_version.unwrap_or(version)
    }

    /// The image to run for configs written for components at `version`: `image:tag`.
    pub(crate) fn image_ref(&self, version: CollectorVersion) -> String {
        let tag = if self.components_version.is_some() { self.default_version } else { version };
        format!("{}:{tag}", self.image)
    }

    /// The entry of `kind`; `None` when the distribution does not include it.
    pub(crate) fn component(&self, kind: ComponentKind) -> Option<&Component> {
        self.components.iter().find(|c| c.kind == kind)
    }

    /// The type name of `kind` in `version`.
    pub(crate) fn type_name(&self, kind: ComponentKind, version: CollectorVersion) -> &str {
        self.component(kind).map_or("unknown", |c| c.type_name(version))
    }

    /// The component of `class` written as `name` in `version`, and whether that name is a
    /// deprecated alias there.
    pub(crate) fn by_name(
        &self,
        class: ComponentClass,
        name: &str,
        version: CollectorVersion,
    ) -> Option<(&Component, bool)> {
        self.components.iter().filter(|c| c.class == class).find_map(|c| {
            if c.type_name(version) == name {
                Some((c, c.deprecated_alias(version) == Some(name)))
            } else if c.deprecated_alias(version) == Some(name) {
                Some((c, true))
            } else {
                None
            }
        })
    }

    /// The version of the v1-line core modules released with `version`.
    pub(crate) fn stable_version(&self, version: CollectorVersion) -> String {
        let CollectorVersion(_, minor, patch) = version;
        format!("v1.{}.{patch}", minor.saturating_sub(self.stable_minor_offset))
    }
}

fn parse(text: &str) -> Result<Distribution, String> {
    let d: Distribution = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    for kind in ComponentKind::ALL {
        let n = d.components.iter().filter(|c| c.kind == kind).count();
        if n > 1 {
            return Err(format!("component kind `{kind:?}` is listed {n} times, expected at most once"));
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::collector::ComponentKind as K;
    use std::collections::BTreeSet;

    fn v(minor: u32) -> CollectorVersion {
        CollectorVersion(0, minor, 0)
    }

    #[test]
    fn each_rename_switches_at_its_release() {
        let d = Distribution::contrib().unwrap();
        let cases = [
            (K::OtlpGrpcExporter, 144, "otlp", "otlp_grpc"),
            (K::OtlpHttpExporter, 144, "otlphttp", "otlp_http"),
            (K::K8sAttributesProcessor, 146, "k8sattributes", "k8s_attributes"),
            (K::FileLogReceiver, 149, "filelog", "file_log"),
            (K::KafkaMetricsReceiver, 152, "kafkametrics", "kafka_metrics"),
            (K::LoadBalancingExporter, 153, "loadbalancing", "load_balancing"),
        ];
        for (kind, since, old, new) in cases {
            assert_eq!(d.type_name(kind, v(130)), old);
            assert_eq!(d.type_name(kind, CollectorVersion(0, since - 1, 9)), old);
            assert_eq!(d.type_name(kind, v(since)), new);
            assert_eq!(d.component(kind).unwrap().deprecated_alias(v(since - 1)), None);
            assert_eq!(d.component(kind).unwrap().deprecated_alias(v(since)), Some(old));
        }
        assert_eq!(d.type_name(K::OtlpReceiver, v(130)), "otlp");
        assert_eq!(d.type_name(K::MemoryLimiterProcessor, v(159)), "memory_limiter");
    }

    #[test]
    fn names_resolve_to_their_component_and_say_when_deprecated() {
        let d = Distribution::contrib().unwrap();
        let (c, deprecated) = d.by_name(ComponentClass::Exporter, "otlphttp", v(152)).unwrap();
        assert_eq!((c.kind, deprecated), (K::OtlpHttpExporter, true));
        let (c, deprecated) = d.by_name(ComponentClass::Exporter, "otlphttp", v(140)).unwrap();
        assert_eq!((c.kind, deprecated), (K::OtlpHttpExporter, false));
        // `otlp` is the receiver's own name, and the gRPC exporter's old one.
        let (c, deprecated) = d.by_name(ComponentClass::Receiver, "otlp", v(152)).unwrap();
        assert_eq!((c.kind, deprecated), (K::OtlpReceiver, false));
        assert!(d.by_name(ComponentClass::Processor, "otlp", v(152)).is_none());
    }

    #[test]
    fn modules_follow_the_release_and_the_v1_line() {
        let d = Distribution::contrib().unwrap();
        let k8s = d.component(K::K8sAttributesProcessor).unwrap();
        assert!(k8s.gomod(v(152)).ends_with("/processor/k8sattributesprocessor v0.152.0"));
        assert!(k8s.gomod(v(161)).ends_with(" v1.0.0"));
        assert!(k8s.gomod(CollectorVersion(0, 164, 1)).ends_with(" v1.3.1"));
        assert_eq!(d.stable_version(v(152)), "v1.58.0");
        assert_eq!(d.stable_version(v(159)), "v1.65.0");
    }

    #[test]
    fn the_elasticsearch_exporter_is_not_deprecated_and_its_metrics_are_in_development() {
        let d = Distribution::contrib().unwrap();
        let (es, deprecated) = d.by_name(ComponentClass::Exporter, "elasticsearch", d.default_version).unwrap();
        assert!(!deprecated);
        assert_eq!(es.stability.get("metrics"), Some(&Stability::Development));
        assert_eq!(es.stability.get("traces"), Some(&Stability::Beta));
    }

    #[test]
    fn a_kind_listed_twice_is_refused() {
        let text = CONTRIB.replace("kind: file_exporter", "kind: debug_exporter");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("listed 2 times"), "{err}");
    }

    fn lacking(d: &Distribution) -> Vec<K> {
        K::ALL.into_iter().filter(|k| d.component(*k).is_none()).collect()
    }

    #[test]
    fn contrib_lacks_only_elastics_own_components() {
        let d = Distribution::contrib().unwrap();
        assert_eq!(lacking(d), [K::ElasticApmProcessor, K::ElasticApmConnector]);
    }

    #[test]
    fn edot_lacks_only_the_elasticsearch_receiver() {
        let d = Distribution::edot().unwrap();
        assert_eq!(lacking(d), [K::ElasticsearchReceiver]);
        assert_eq!(d.default_version, CollectorVersion(9, 5, 2));
        assert_eq!(d.uid, 1000);
        assert!(d.builder_module.is_none(), "EDOT is Elastic's own build: no builder manifest");
    }

    #[test]
    fn edot_names_its_components_as_its_collector_release_does() {
        let d = Distribution::edot().unwrap();
        // Whatever version a caller passes, EDOT's components are those of contrib 0.157.0.
        let at = d.components_at(v(140));
        assert_eq!(at, v(157));
        assert_eq!(d.type_name(K::KafkaMetricsReceiver, at), "kafka_metrics");
        assert_eq!(d.type_name(K::OtlpGrpcExporter, at), "otlp_grpc");
        assert_eq!(d.type_name(K::ElasticApmConnector, at), "elasticapm");
        assert_eq!(d.image_ref(at), "docker.elastic.co/elastic-agent/elastic-otel-collector:9.5.2");
        let contrib = Distribution::contrib().unwrap();
        assert_eq!(contrib.components_at(v(140)), v(140));
        assert_eq!(contrib.image_ref(v(140)), "otel/opentelemetry-collector-contrib:0.140.0");
    }

    /// The names every class of the real binary accepts: its components and their aliases,
    /// from the "valid values" it lists when a config names an unknown type.
    fn accepted_names(bin: &str, class: ComponentClass) -> BTreeSet<String> {
        let section = format!("{class}s");
        let mut config = format!("{section}:\n  otelplan_unknown_type:\nservice:\n  pipelines: {{}}\n");
        if class != ComponentClass::Receiver {
            config.push_str("receivers:\n  otlp:\n");
        }
        let path = std::env::temp_dir().join(format!("otelplan-names-{}-{section}.yaml", std::process::id()));
        std::fs::write(&path, config).unwrap();
        let out = std::process::Command::new(bin).arg("validate").arg(format!("--config={}", path.display())).output();
        std::fs::remove_file(&path).unwrap();
        let out = out.unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
        let list = text.split("valid values: [").nth(1).and_then(|rest| rest.split(']').next());
        let list = list.unwrap_or_else(|| panic!("no list of valid {section} in: {text}"));
        list.split_whitespace().map(str::to_string).collect()
    }

    /// CI runs this with the binary tests/live/build.sh builds from tests/live/manifest.yaml:
    /// `OTELPLAN_OTELCOL=$(tests/live/build.sh | tail -n1) cargo test --lib -- --ignored real_collector`.
    #[test]
    #[ignore = "needs the real collector in OTELPLAN_OTELCOL (tests/live/build.sh)"]
    fn the_table_matches_the_real_collector() {
        let bin = std::env::var("OTELPLAN_OTELCOL").expect("OTELPLAN_OTELCOL names the collector to compare with");
        let d = Distribution::contrib().unwrap();
        let out = std::process::Command::new(&bin).arg("components").output().unwrap();
        assert!(out.status.success(), "{bin} components: {}", String::from_utf8_lossy(&out.stderr));
        let listed: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
        assert_eq!(listed["buildinfo"]["version"].as_str(), Some(d.default_version.to_string().as_str()));
        for class in
            [ComponentClass::Receiver, ComponentClass::Processor, ComponentClass::Exporter, ComponentClass::Extension]
        {
            let mut real: BTreeMap<String, BTreeMap<String, Stability>> = BTreeMap::new();
            for c in listed[format!("{class}s").as_str()].as_sequence().unwrap() {
                let levels = c["stability"].as_mapping().unwrap().iter().filter_map(|(signal, level)| {
                    let level = level.as_str().unwrap().to_lowercase();
                    let level: Stability = serde_yaml::from_str(&level).ok()?;
                    Some((signal.as_str().unwrap().to_string(), level))
                });
                real.insert(c["name"].as_str().unwrap().to_string(), levels.collect());
            }
            let ours: BTreeMap<String, BTreeMap<String, Stability>> = d
                .components
                .iter()
                .filter(|c| c.class == class)
                .map(|c| (c.type_name(d.default_version).to_string(), c.stability.clone()))
                .collect();
            assert_eq!(
                ours, real,
                "{class}s: names and stability of data/distributions/contrib.yaml vs `{bin} components`"
            );
            let aliases: BTreeSet<String> =
                accepted_names(&bin, class).into_iter().filter(|n| !real.contains_key(n)).collect();
            let our_aliases: BTreeSet<String> = d
                .components
                .iter()
                .filter(|c| c.class == class)
                .filter_map(|c| c.deprecated_alias(d.default_version).map(str::to_string))
                .collect();
            assert_eq!(our_aliases, aliases, "{class}s: deprecated aliases");
        }
    }
}
