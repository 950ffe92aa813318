//! Emit stage: `instrumentation/django/`, the code side of the Django services' telemetry — the
//! `otel_setup` module, a gunicorn configuration with its fork hooks, the pinned requirements for
//! the stack's client libraries and a README saying how to wire them in.
//!
//! The Python files and the README are static (`templates/django/`, embedded as they are: they
//! are not minijinja templates); only `requirements-otel.txt` depends on the plan.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::emit::yaml::HEADER;
use crate::emit::OutputTree;
use crate::model::keywords::Instrumentation;
use crate::plan::Plan;

/// The folder the files are written to.
const DIR: &str = "instrumentation/django";

/// The OpenTelemetry Python API, SDK and OTLP exporter release the module is written for.
const SDK_VERSION: &str = "1.45.1";

/// The contrib (instrumentation) release paired with [`SDK_VERSION`]: both require exactly
/// `opentelemetry-semantic-conventions` 0.66b1, so no other pair installs together.
const CONTRIB_VERSION: &str = "0.66b1";

/// `otel_setup.py`: `configure()` and `shutdown()`.
const OTEL_SETUP: &str = include_str!("../../templates/django/otel_setup.py");

/// `gunicorn.conf.py`: the arbiter marker and the `post_fork` / `worker_exit` hooks.
const GUNICORN_CONF: &str = include_str!("../../templates/django/gunicorn.conf.py");

/// `README.md`: how to install and wire the module.
const README: &str = include_str!("../../templates/django/README.md");

/// Which release line a package follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Line {
    /// API, SDK and exporters ([`SDK_VERSION`]).
    Sdk,
    /// Instrumentations ([`CONTRIB_VERSION`]).
    Contrib,
}

/// Packages `otel_setup.py` imports whatever the stack: API, SDK, the OTLP/HTTP exporter and the
/// Django and logging instrumentations.
const CORE: [(&str, Line); 5] = [
    ("opentelemetry-api", Line::Sdk),
    ("opentelemetry-sdk", Line::Sdk),
    ("opentelemetry-exporter-otlp-proto-http", Line::Sdk),
    ("opentelemetry-instrumentation-django", Line::Contrib),
    ("opentelemetry-instrumentation-logging", Line::Contrib),
];

/// The instrumentation package `otel_setup` imports for a client library; `None` for
/// elasticsearch-py, which traces natively from 8.13 (the old package stops at 0.64b0 and
/// conflicts with it).
fn instrumentation_package(instrumentation: Instrumentation) -> Option<&'static str> {
    match instrumentation {
        Instrumentation::Psycopg2 => Some("opentelemetry-instrumentation-psycopg2"),
        Instrumentation::Psycopg => Some("opentelemetry-instrumentation-psycopg"),
        Instrumentation::Redis => Some("opentelemetry-instrumentation-redis"),
        Instrumentation::Elasticsearch => None,
        Instrumentation::KafkaPython => Some("opentelemetry-instrumentation-kafka-python"),
        Instrumentation::ConfluentKafka => Some("opentelemetry-instrumentation-confluent-kafka"),
        Instrumentation::Celery => Some("opentelemetry-instrumentation-celery"),
        Instrumentation::Requests => Some("opentelemetry-instrumentation-requests"),
        Instrumentation::Urllib3 => Some("opentelemetry-instrumentation-urllib3"),
        Instrumentation::Httpx => Some("opentelemetry-instrumentation-httpx"),
    }
}

/// Add the `instrumentation/django/` files to `tree` when the stack has Django services.
pub(crate) fn emit(plan: &Plan, tree: &mut OutputTree) {
    // Written in every tree, even one without Django services yet: the module is the same and
    // the requirements name the core packages.
    let python_header = format!("# {HEADER}\n");
    tree.insert(format!("{DIR}/otel_setup.py"), format!("{python_header}{OTEL_SETUP}"));
    tree.insert(format!("{DIR}/gunicorn.conf.py"), format!("{python_header}{GUNICORN_CONF}"));
    tree.insert(format!("{DIR}/README.md"), format!("<!-- {HEADER} -->\n{README}"));
    tree.insert(format!("{DIR}/requirements-otel.txt"), requirements(plan));
}

/// `requirements-otel.txt`: every package `otel_setup` imports for the instrumentations of the
/// stack's Django services, each pinned with `==`, sorted by name.
fn requirements(plan: &Plan) -> String {
    requirements_for(plan.apps.iter().flat_map(|app| app.instrumentations.all()))
}

/// The requirements for services that use `instrumentations` (in any order, repeats allowed).
fn requirements_for(instrumentations: impl IntoIterator<Item = Instrumentation>) -> String {
    let clients = instrumentations.into_iter().filter_map(instrumentation_package).map(|p| (p, Line::Contrib));
    let packages: BTreeSet<(&str, Line)> = CORE.into_iter().chain(clients).collect();
    let mut out = format!("# {HEADER}\n");
    for (package, line) in packages {
        let version = match line {
            Line::Sdk => SDK_VERSION,
            Line::Contrib => CONTRIB_VERSION,
        };
        let _ = writeln!(out, "{package}=={version}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The package lines (without the header comment).
    fn packages(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn every_requirement_is_pinned() {
        let text = requirements_for([
            Instrumentation::Psycopg2,
            Instrumentation::Psycopg,
            Instrumentation::Redis,
            Instrumentation::Elasticsearch,
            Instrumentation::KafkaPython,
            Instrumentation::ConfluentKafka,
            Instrumentation::Celery,
            Instrumentation::Requests,
            Instrumentation::Urllib3,
            Instrumentation::Httpx,
        ]);
        assert!(text.starts_with("# generated by otelplan"));
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
        assert_eq!(text.lines().filter(|l| l.starts_with('#')).count(), 1, "only the header is a comment");
        for line in packages(&text) {
            let (name, version) = line.split_once("==").unwrap();
            assert!(name.starts_with("opentelemetry-") && !name.contains(char::is_whitespace), "{line}");
            assert!([SDK_VERSION, CONTRIB_VERSION].contains(&version), "{line}");
        }
        assert_eq!(packages(&text).len(), 14);
        assert!(!text.contains("instrumentation-elasticsearch"), "elasticsearch-py traces natively");
        assert!(text.contains("opentelemetry-sdk==1.45.1\n"));
        assert!(text.contains("opentelemetry-exporter-otlp-proto-http==1.45.1\n"));
        assert!(text.contains("opentelemetry-instrumentation-logging==0.66b1\n"));
    }

    #[test]
    fn requirements_follow_the_services_instrumentations() {
        let text = requirements_for([
            Instrumentation::Redis,
            Instrumentation::Elasticsearch,
            Instrumentation::Redis,
            Instrumentation::ConfluentKafka,
        ]);
        assert_eq!(
            packages(&text),
            [
                "opentelemetry-api==1.45.1",
                "opentelemetry-exporter-otlp-proto-http==1.45.1",
                "opentelemetry-instrumentation-confluent-kafka==0.66b1",
                "opentelemetry-instrumentation-django==0.66b1",
                "opentelemetry-instrumentation-logging==0.66b1",
                "opentelemetry-instrumentation-redis==0.66b1",
                "opentelemetry-sdk==1.45.1",
            ]
        );
        assert_eq!(packages(&requirements_for([])).len(), CORE.len());
    }

    #[test]
    fn requirements_cover_listed_and_candidate_libraries() {
        // A stack with PostgreSQL only: the listing service's one library, and the other
        // service's candidates (both drivers, Celery, the HTTP clients); nothing for Kafka.
        let text = "version: 1\nname: x\nbackends:\n  elasticsearch: { endpoint: http://es:9200 }\nservices:\n  web: { kind: django, instrumentations: [redis] }\n  worker: { kind: django }\n  db: { kind: postgres, endpoint: db:5432 }\n";
        let tree = crate::render(text, Some("D")).unwrap();
        let requirements = &tree[&format!("{DIR}/requirements-otel.txt")];
        let clients: Vec<&str> = packages(requirements)
            .into_iter()
            .filter_map(|l| l.strip_prefix("opentelemetry-instrumentation-"))
            .filter_map(|l| l.strip_suffix(&format!("=={CONTRIB_VERSION}")))
            .filter(|name| !["django", "logging"].contains(name))
            .collect();
        assert_eq!(clients, ["celery", "httpx", "psycopg", "psycopg2", "redis", "requests", "urllib3"]);
    }

    #[test]
    fn every_tree_with_django_services_has_the_files() {
        let text = include_str!("../../examples/dkp.yaml");
        for topology in ["A", "B", "C", "D"] {
            let tree = crate::render(text, Some(topology)).unwrap();
            for name in ["otel_setup.py", "gunicorn.conf.py", "requirements-otel.txt", "README.md"] {
                let file = tree.get(&format!("{DIR}/{name}")).unwrap_or_else(|| panic!("{topology}: no {name}"));
                assert!(file.contains("generated by otelplan"), "{topology}: {name}");
                assert!(file.ends_with('\n') && !file.ends_with("\n\n"), "{topology}: {name}");
            }
            let requirements = &tree[&format!("{DIR}/requirements-otel.txt")];
            // web lists psycopg2, redis, elasticsearch, kafka-python; worker lists nothing, so
            // every client of the stack's kinds and the general ones are its candidates.
            for client in ["psycopg2", "psycopg", "redis", "kafka-python", "confluent-kafka", "celery", "httpx"] {
                let line = format!("opentelemetry-instrumentation-{client}=={CONTRIB_VERSION}\n");
                assert!(requirements.contains(&line), "{topology}: {client}");
            }
            assert!(tree[&format!("{DIR}/otel_setup.py")].starts_with("# generated by otelplan"));
        }
    }

    #[test]
    fn module_imports_only_pinned_packages() {
        // Each instrumentation module the module may import belongs to a package that is pinned
        // whenever the stack uses its client library.
        let pairs = [
            ("\"opentelemetry.instrumentation.psycopg2\"", Instrumentation::Psycopg2),
            ("\"opentelemetry.instrumentation.psycopg\"", Instrumentation::Psycopg),
            ("\"opentelemetry.instrumentation.redis\"", Instrumentation::Redis),
            ("\"opentelemetry.instrumentation.kafka\"", Instrumentation::KafkaPython),
            ("\"opentelemetry.instrumentation.confluent_kafka\"", Instrumentation::ConfluentKafka),
            ("\"opentelemetry.instrumentation.celery\"", Instrumentation::Celery),
            ("\"opentelemetry.instrumentation.requests\"", Instrumentation::Requests),
            ("\"opentelemetry.instrumentation.urllib3\"", Instrumentation::Urllib3),
            ("\"opentelemetry.instrumentation.httpx\"", Instrumentation::Httpx),
        ];
        for (module, instrumentation) in pairs {
            assert!(OTEL_SETUP.contains(module), "{module}");
            assert!(instrumentation_package(instrumentation).is_some(), "{module}");
        }
        assert_eq!(OTEL_SETUP.matches("\"opentelemetry.instrumentation.").count(), pairs.len());
        assert!(OTEL_SETUP.contains("from opentelemetry.instrumentation.django import DjangoInstrumentor"));
        assert!(OTEL_SETUP.contains("from opentelemetry.instrumentation.logging import LoggingInstrumentor"));
        assert!(OTEL_SETUP.contains("from opentelemetry.exporter.otlp.proto.http."));
        assert!(!OTEL_SETUP.contains("opentelemetry.instrumentation.elasticsearch"));
        assert!(!OTEL_SETUP.contains("opentelemetry.sdk._logs import LoggingHandler"));
        assert!(OTEL_SETUP.contains("\ndef configure() -> None:"));
    }

    #[test]
    fn module_reads_the_variables_the_plan_writes() {
        for variable in [crate::plan::app::LISTED_ENV, crate::plan::app::CANDIDATES_ENV] {
            assert!(OTEL_SETUP.contains(&format!("= \"{variable}\"\n")), "{variable}");
        }
    }

    #[test]
    fn gunicorn_hooks_call_the_module() {
        assert!(GUNICORN_CONF.contains("def post_fork(server, worker):"));
        assert!(GUNICORN_CONF.contains("otel_setup.configure()"));
        assert!(GUNICORN_CONF.contains("\"OTELPLAN_PREFORK_PARENT_PID\""));
        assert!(OTEL_SETUP.contains("\"OTELPLAN_PREFORK_PARENT_PID\""));
    }

    #[test]
    fn static_files_end_with_one_newline() {
        for (name, text) in [("otel_setup.py", OTEL_SETUP), ("gunicorn.conf.py", GUNICORN_CONF), ("README.md", README)]
        {
            assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}");
            assert!(!text.contains('\r') && !text.contains('\t'), "{name}");
        }
    }
}
