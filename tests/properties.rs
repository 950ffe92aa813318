//! Property tests over the in-memory API: random valid stacks (Django services, datastores of
//! every kind with random optional fields, backends for every topology) render in each of the
//! four topologies; every emitted YAML document and JSON file parses; the free text a stack may
//! carry (`environment`, database names, user names, log paths, the Loki tenant) holding quotes,
//! `#`, `:`, `$(…)`, `{{ }}`, `$`, markup and non-ASCII reads back unchanged through each
//! format's reader (collector, compose, Kubernetes, dotenv, SVG and HTML) and nothing is left
//! for a reader to expand but the stack's own `${NAME}` secrets. Values the model refuses
//! (control characters, `${` outside secret fields) are refused with an error that says why.
//!
//! Case counts are small and the seed fixed so `cargo test` stays fast and reproducible;
//! `PROPTEST_CASES=500 PROPTEST_RNG_SEED=$RANDOM cargo test properties` explores further.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_yaml::Value;

/// How many cases each property runs and from which seed: fixed, so `cargo test` is
/// reproducible, unless `PROPTEST_CASES` or `PROPTEST_RNG_SEED` say otherwise.
fn config(default_cases: u32) -> Config {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("PROPTEST_CASES").map_or(default_cases, |n| u32::try_from(n).unwrap()),
        rng_seed: RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(7)),
        failure_persistence: None,
        ..Config::default()
    }
}

use crate::support::stacks::{free_text, q, stack, Kind, Stack, Writer};

// ----- readers -----

/// Every document of a YAML file, each parsed.
fn documents(path: &str, text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{path} does not parse: {e}\n{text}"))
        })
        .collect()
}

/// Every string in `v` (keys and values).
fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Sequence(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Mapping(m) => {
            for (k, v) in m {
                strings(k, out);
                strings(v, out);
            }
        }
        Value::Tagged(t) => strings(&t.value, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// What the collector and compose read from a string: `$$` is a literal `$`.
fn unescape_dollars(text: &str) -> String {
    text.replace("$$", "$")
}

/// Check that the only `$` a reader would act on in `text` starts one of the stack's secret
/// references, written `open NAME …`: `${env:NAME}` for the collector, `${NAME}` or
/// `${NAME:?…}` for compose. `$$` is a literal `$` for both.
fn only_secrets_expand(what: &str, text: &str, open: &str, secrets: &BTreeSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        if let Some(escaped) = rest[at + 1..].strip_prefix('$') {
            rest = escaped;
            continue;
        }
        let reference = rest[at..].strip_prefix(open).unwrap_or_else(|| panic!("{what}: a bare `$` in {text:?}"));
        rest = secret_name(what, text, reference, open, secrets);
    }
}

/// The same for Kubernetes, which expands `$(NAME)` in `env` values, `command` and `args`,
/// reads `$$` as `$` and leaves any other `$` alone (a shell's `${X}` in a command is the
/// shell's).
fn only_secrets_expand_k8s(what: &str, text: &str, secrets: &BTreeSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        rest = if let Some(escaped) = after.strip_prefix('$') {
            escaped
        } else if let Some(reference) = after.strip_prefix('(') {
            secret_name(what, text, reference, "$(", secrets)
        } else {
            after
        };
    }
}

/// The same for one `env` value of a Kubernetes container: each `$(NAME)` names an entry listed
/// before it in the same `env` (Kubernetes expands only those), which reads a secret of the stack
/// or a field of the pod.
fn only_earlier_entries_expand(what: &str, text: &str, earlier: &BTreeSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        rest = if let Some(escaped) = after.strip_prefix('$') {
            escaped
        } else if let Some(reference) = after.strip_prefix('(') {
            let name: String = reference.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(
                earlier.contains(&name),
                "{what}: `$({name})` names no secret or pod field listed before it, in {text:?}"
            );
            &reference[name.len()..]
        } else {
            after
        };
    }
}

/// The names of the entries of a Kubernetes `env` list that read a secret of the stack or a
/// field of the pod: the ones a later value may splice in.
fn spliceable(entry: &Value, secrets: &BTreeSet<String>) -> Option<String> {
    let name = entry["name"].as_str()?;
    let from = entry.get("valueFrom")?;
    let secret = from.get("secretKeyRef").and_then(|r| r["key"].as_str()).is_some_and(|k| secrets.contains(k));
    (secret || from.get("fieldRef").is_some()).then(|| name.to_string())
}

/// Read the secret name at the start of `reference`, check it, return what follows.
fn secret_name<'t>(what: &str, text: &str, reference: &'t str, open: &str, secrets: &BTreeSet<String>) -> &'t str {
    let name: String = reference.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert!(secrets.contains(&name), "{what}: `{open}{name}` is no secret of the stack, in {text:?}");
    &reference[name.len()..]
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The environment an `OTEL_RESOURCE_ATTRIBUTES` value carries (its first attribute; a `,` in
/// the value is percent-encoded).
fn environment_of(attributes: &str) -> String {
    let encoded = attributes.strip_prefix("deployment.environment.name=").unwrap_or_else(|| panic!("{attributes}"));
    percent_decode(encoded.split(',').next().unwrap_or_default())
}

/// A dotenv value as compose's `env_file` reads it: bare, or double-quoted with `\\`, `\"`,
/// `\n` escapes and `$$` for `$`.
fn dotenv_value(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        assert!(!raw.contains(['$', '"', '\'', ' ', '#']), "unquoted dotenv value {raw:?}");
        return raw.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => panic!("a dangling `\\` in {raw:?}"),
            },
            '$' => {
                assert_eq!(chars.next(), Some('$'), "a bare `$` in {raw:?}");
                out.push('$');
            }
            '"' => panic!("an unescaped quote in {raw:?}"),
            c => out.push(c),
        }
    }
    out
}

/// Every text of an XML or HTML document, unescaped, and every element name. `strict`: end
/// tags must match (SVG); HTML's void elements (`<meta>`, `<br>`) are not closed.
fn markup(what: &str, text: &str, strict: bool) -> (Vec<String>, BTreeSet<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = strict;
    let (mut texts, mut elements) = (Vec::new(), BTreeSet::new());
    // A text arrives in pieces: runs of characters and entity references.
    let mut current = String::new();
    loop {
        let event = reader.read_event().unwrap_or_else(|e| panic!("{what} does not parse: {e}"));
        match &event {
            Event::Text(t) => {
                current.push_str(&t.decode().unwrap_or_else(|e| panic!("{what}: {e}")));
                continue;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap_or_else(|e| panic!("{what}: {e}")) {
                    Some(c) => c,
                    None => match r.decode().unwrap_or_else(|e| panic!("{what}: {e}")).as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("{what}: unknown entity `&{other};`"),
                    },
                };
                current.push(c);
                continue;
            }
            _ => {}
        }
        if !current.is_empty() {
            texts.push(std::mem::take(&mut current));
        }
        match event {
            Event::Start(e) | Event::Empty(e) => {
                elements.insert(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                for a in e.attributes() {
                    let a = a.unwrap_or_else(|e| panic!("{what}: {e}"));
                    texts.push(a.unescape_value().unwrap_or_else(|e| panic!("{what}: {e}")).into_owned());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (texts, elements)
}

// ----- the checks -----

fn is_collector_config(path: &str) -> bool {
    path.starts_with("collector/")
        || path.starts_with("kubernetes/collector/")
        || path.starts_with("kubernetes/app-patches/collector/")
}

/// The value of a mapping entry whose key is `key` or, for renamed components, `old`, followed
/// by `/` and the instance name.
fn component<'v>(section: &'v Value, types: &[&str], instance: &str) -> Option<&'v Value> {
    types.iter().find_map(|t| section.get(format!("{t}/{instance}")))
}

/// The collector configs: free text reads back, nothing but secrets expands.
fn check_collector(stack: &Stack, path: &str, doc: &Value, secrets: &BTreeSet<String>) {
    let mut all = Vec::new();
    strings(doc, &mut all);
    for s in all {
        only_secrets_expand(path, s, "${env:", secrets);
    }
    for (key, processor) in doc["processors"].as_mapping().into_iter().flatten() {
        if !key.as_str().is_some_and(|k| k.starts_with("resource")) {
            continue;
        }
        for attribute in processor["attributes"].as_sequence().unwrap() {
            if attribute["key"] == "deployment.environment.name" {
                let value = unescape_dollars(attribute["value"].as_str().unwrap());
                assert_eq!(value, stack.environment, "{path}");
            }
        }
    }
    let receivers = &doc["receivers"];
    let in_scraper = path.ends_with("/scraper.yaml");
    for (i, d) in stack.datastores.iter().enumerate() {
        let name = stack.datastore_name(i);
        // The user name each receiver is written with: PostgreSQL is scraped only with a
        // monitoring user and password, Elasticsearch logs in only with both.
        let (scraped, user) = match &d.kind {
            Kind::Postgres { .. } => (d.username.is_some() && d.password, d.username.clone()),
            Kind::Redis => (true, d.username.clone()),
            Kind::Elasticsearch => (true, d.username.clone().filter(|_| d.password)),
            Kind::Kafka { .. } => (false, None),
        };
        let receiver = component(receivers, &["postgresql", "redis", "elasticsearch"], &name);
        if in_scraper && scraped {
            assert!(receiver.is_some(), "{path}: no receiver for `{name}`");
        }
        if let Some(receiver) = receiver {
            let read = receiver.get("username").and_then(Value::as_str).map(unescape_dollars);
            assert_eq!(read, user, "{path}: {name}'s user name");
            if let Kind::Postgres { databases } = &d.kind {
                let read: BTreeSet<String> = receiver
                    .get("databases")
                    .and_then(Value::as_sequence)
                    .map(|l| l.iter().map(|v| unescape_dollars(v.as_str().unwrap())).collect())
                    .unwrap_or_default();
                assert_eq!(read, databases.iter().cloned().collect::<BTreeSet<_>>(), "{path}: {name}'s databases");
            }
        }
        if let Some(receiver) = component(receivers, &["file_log", "filelog"], &name) {
            let include: Vec<String> = receiver["include"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| unescape_dollars(v.as_str().unwrap()))
                .collect();
            assert_eq!(include, vec![d.logs.path().unwrap()], "{path}: {name}'s log files");
        } else if path.ends_with(&format!("/agent-{name}.yaml")) {
            panic!("{path}: no file log receiver");
        }
    }
    if let (Some(es), Some(user)) = (doc["exporters"].get("elasticsearch"), stack.ingest_user(Writer::Collector)) {
        let read = es.get("user").and_then(Value::as_str).map(unescape_dollars);
        assert_eq!(read, Some(user), "{path}: the Elasticsearch user");
    }
    if let Some(loki) = component(&doc["exporters"], &["otlp_http", "otlphttp"], "loki") {
        let header = loki.get("headers").and_then(|h| h.get("X-Scope-OrgID")).and_then(Value::as_str);
        assert_eq!(header.map(unescape_dollars).as_ref(), stack.tenant.as_ref(), "{path}: the Loki tenant");
    }
}

/// `apm-server.yml`: libbeat expands `${NAME}` (there is no `$$`), so the only `${` are the
/// stack's secrets, and the Elasticsearch user name reads back as written.
fn check_apm_server(stack: &Stack, path: &str, doc: &Value, secrets: &BTreeSet<String>) {
    let mut all = Vec::new();
    strings(doc, &mut all);
    for s in all {
        for (at, _) in s.match_indices("${") {
            let name: String = s[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(secrets.contains(&name), "{path}: `${{{name}` is no secret of the stack, in {s:?}");
        }
    }
    let es = &doc["output"]["elasticsearch"];
    let read = es.get("username").and_then(Value::as_str).map(str::to_string);
    assert_eq!(read, stack.ingest_user(Writer::ApmServer), "{path}: the Elasticsearch user");
}

/// Compose files: nothing but secrets is interpolated; the app environment and the log
/// directories read back.
fn check_compose(stack: &Stack, path: &str, doc: &Value, secrets: &BTreeSet<String>, dirs: &mut BTreeSet<String>) {
    let mut all = Vec::new();
    strings(doc, &mut all);
    for s in all {
        only_secrets_expand(path, s, "${", secrets);
    }
    for (_, service) in doc["services"].as_mapping().into_iter().flatten() {
        if let Some(attributes) = service.get("environment").and_then(|e| e.get("OTEL_RESOURCE_ATTRIBUTES")) {
            assert_eq!(environment_of(&unescape_dollars(attributes.as_str().unwrap())), stack.environment, "{path}");
        }
        for volume in service.get("volumes").and_then(Value::as_sequence).into_iter().flatten() {
            if volume.get("type").and_then(Value::as_str) == Some("volume") {
                dirs.insert(unescape_dollars(volume["target"].as_str().unwrap()));
            }
        }
    }
}

/// Kubernetes manifests: only `env` values are expanded (`$(NAME)`, `$$` for `$`), and only
/// secrets are referenced there; mount paths are taken literally.
fn check_kubernetes(stack: &Stack, path: &str, doc: &Value, secrets: &BTreeSet<String>, dirs: &mut BTreeSet<String>) {
    fn visit(v: &Value, f: &mut dyn FnMut(&serde_yaml::Mapping)) {
        match v {
            Value::Mapping(m) => {
                f(m);
                m.values().for_each(|v| visit(v, f));
            }
            Value::Sequence(items) => items.iter().for_each(|v| visit(v, f)),
            _ => {}
        }
    }
    visit(doc, &mut |m| {
        let mut earlier = BTreeSet::new();
        for env in m.get("env").and_then(Value::as_sequence).into_iter().flatten() {
            earlier.extend(spliceable(env, secrets));
            let Some(value) = env.get("value").and_then(Value::as_str) else { continue };
            only_earlier_entries_expand(path, value, &earlier);
            if env["name"] == "OTEL_RESOURCE_ATTRIBUTES" {
                assert_eq!(environment_of(&unescape_dollars(value)), stack.environment, "{path}");
            }
        }
        for key in ["command", "args"] {
            for arg in m.get(key).and_then(Value::as_sequence).into_iter().flatten() {
                only_secrets_expand_k8s(path, arg.as_str().unwrap_or_default(), secrets);
            }
        }
        for mount in m.get("volumeMounts").and_then(Value::as_sequence).into_iter().flatten() {
            if mount["name"] == "otelplan-logs" {
                dirs.insert(mount["mountPath"].as_str().unwrap().to_string());
            }
        }
    });
}

/// The dotenv files of the Django services.
fn check_dotenv(stack: &Stack, path: &str, text: &str, secrets: &BTreeSet<String>) {
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (key, raw) = line.split_once('=').unwrap_or_else(|| panic!("{path}: {line}"));
        // A secret reference stays a reference at the end of a value: `…${NAME}`.
        let (raw, reference) = match raw.rfind("${") {
            Some(at) if raw.ends_with('}') => (&raw[..at], Some(&raw[at + 2..raw.len() - 1])),
            _ => (raw, None),
        };
        if let Some(name) = reference {
            assert!(secrets.contains(name), "{path}: `{name}` is no secret of the stack");
        }
        let value = dotenv_value(raw);
        if key == "OTEL_RESOURCE_ATTRIBUTES" {
            assert_eq!(environment_of(&value), stack.environment, "{path}");
        }
    }
}

/// Element names a diagram or the compare page may hold: no script, no foreign content.
const SVG_ELEMENTS: &[&str] = &["defs", "g", "marker", "path", "rect", "svg", "text", "title"];

/// The diagram: well-formed, only drawing elements, and the names read back.
fn check_svg(stack: &Stack, what: &str, text: &str) {
    let (texts, elements) = markup(what, text, true);
    for e in &elements {
        assert!(SVG_ELEMENTS.contains(&e.as_str()), "{what}: unexpected element <{e}>");
    }
    assert!(texts.iter().any(|t| t.starts_with(&format!("{} · topology ", stack.name))), "{what}: no title");
    for i in 0..stack.djangos.len() {
        let name = format!("web{i}");
        assert!(stack.djangos.len() > 5 || texts.contains(&name), "{what}: `{name}` is not drawn: {texts:?}");
    }
}

fn render(text: &str, topology: &str) -> otelplan::OutputTree {
    otelplan::render(text, Some(topology)).unwrap_or_else(|d| panic!("topology {topology}: {d:#?}\n{text}"))
}

/// Render `stack` in `topology` and check every file.
fn check_tree(stack: &Stack, text: &str, topology: &str) {
    let tree = render(text, topology);
    let secrets = stack.secrets();
    let (mut compose_dirs, mut k8s_dirs) = (BTreeSet::new(), BTreeSet::new());
    for (path, content) in &tree {
        let what = format!("{topology} {path}");
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            for doc in documents(&what, content) {
                if is_collector_config(path) {
                    check_collector(stack, &what, &doc, &secrets);
                } else if path == "apm-server/apm-server.yml" {
                    check_apm_server(stack, &what, &doc, &secrets);
                } else if path.starts_with("compose/") && !path.starts_with("compose/grafana/") {
                    check_compose(stack, &what, &doc, &secrets, &mut compose_dirs);
                } else if path.starts_with("kubernetes/") && !path.starts_with("kubernetes/grafana/") {
                    check_kubernetes(stack, &what, &doc, &secrets, &mut k8s_dirs);
                }
            }
        } else if path.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(content).unwrap_or_else(|e| panic!("{what}: {e}"));
        } else if path.ends_with(".env") {
            check_dotenv(stack, &what, content, &secrets);
        } else if path.ends_with(".svg") {
            check_svg(stack, &what, content);
        }
    }
    // Each log directory reaches the volume its agent shares, literally.
    for d in &stack.datastores {
        let Some(path) = d.logs.path() else { continue };
        let dir = path.rsplit_once('/').unwrap().0.to_string();
        if stack.targets.contains(&"compose") {
            assert!(compose_dirs.contains(&dir), "{topology}: compose mounts {compose_dirs:?}, not {dir:?}");
        }
        if stack.targets.contains(&"kubernetes") {
            assert!(k8s_dirs.contains(&dir), "{topology}: Kubernetes mounts {k8s_dirs:?}, not {dir:?}");
        }
    }
}

/// `compare`: the JSON parses, the HTML page is well-formed markup of the expected elements
/// with every diagram, and the stack's name reads back.
fn check_compare(stack: &Stack, text: &str) {
    let json = otelplan::compare(text, "json").unwrap_or_else(|d| panic!("{d:#?}"));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["stack"], stack.name.as_str());
    let html = otelplan::compare(text, "html").unwrap_or_else(|d| panic!("{d:#?}"));
    let body = html.split_once("<!DOCTYPE html>").map_or(html.as_str(), |(_, b)| b);
    let (texts, elements) = markup("compare.html", body, false);
    for e in &elements {
        let allowed = SVG_ELEMENTS.contains(&e.as_str())
            || [
                "a", "body", "br", "code", "dd", "div", "dl", "dt", "h1", "h2", "h3", "head", "html", "li", "meta",
                "p", "section", "span", "strong", "style", "table", "tbody", "td", "th", "thead", "tr", "ul",
            ]
            .contains(&e.as_str());
        assert!(allowed, "compare.html: unexpected element <{e}>");
    }
    assert!(texts.iter().any(|t| *t == format!("Topologies compared for {}", stack.name)), "{texts:?}");
    assert_eq!(html.matches("<svg ").count(), 4, "one diagram per topology");
}

proptest! {
    #![proptest_config(config(12))]

    /// Random valid stacks render in every topology, and every file reads back as written.
    #[test]
    fn random_stacks_render_and_read_back(stack in stack()) {
        let text = stack.text();
        for topology in otelplan::topologies() {
            if topology == "B" && stack.needs_gateway() {
                // Tail sampling and a Kafka buffer need a gateway: a located error, nothing rendered.
                let errors = otelplan::render(&text, Some(topology)).expect_err("B refuses");
                let shown = format!("{errors:?}");
                prop_assert!(shown.contains("sampling.tail") || shown.contains("collector.buffer"), "{shown}");
                continue;
            }
            check_tree(&stack, &text, topology);
        }
        check_compare(&stack, &text);
    }
}

/// A free-text field of the stack, for the refusal property.
#[derive(Debug, Clone, Copy)]
enum Field {
    Environment,
    Tenant,
    EsUser,
    DatastoreUser,
    Database,
    LogPath,
}

/// A stack with `value` in `field` (everything else plain).
fn stack_with(field: Field, value: &str) -> String {
    let mut environment = q("staging");
    let mut tenant = q("team");
    let mut es_user = q("writer");
    let mut user = q("monitor");
    let mut database = q("app");
    let mut path = q("/var/log/postgresql/pg.log");
    let slot = match field {
        Field::Environment => &mut environment,
        Field::Tenant => &mut tenant,
        Field::EsUser => &mut es_user,
        Field::DatastoreUser => &mut user,
        Field::Database => &mut database,
        Field::LogPath => &mut path,
    };
    *slot = q(value);
    format!(
        "version: 1\nname: x\nenvironment: {environment}\nbackends:\n  elasticsearch: {{ endpoint: \"http://es:9200\", username: {es_user}, password: \"${{PW}}\" }}\n  loki: {{ endpoint: \"http://loki:3100\", tenant: {tenant} }}\nservices:\n  web: {{ kind: django }}\n  db: {{ kind: postgres, endpoint: \"db:5432\", username: {user}, password: \"${{PG}}\", databases: [{database}], logs: {{ path: {path} }} }}\n"
    )
}

fn field() -> impl Strategy<Value = Field> {
    prop::sample::select(vec![
        Field::Environment,
        Field::Tenant,
        Field::EsUser,
        Field::DatastoreUser,
        Field::Database,
        Field::LogPath,
    ])
}

/// What is inserted into a value, and the words the refusal must contain.
fn refused_insert() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop::sample::select(vec![
        ("\n", "control character"),
        ("\t", "control character"),
        ("\r", "control character"),
        ("\u{7}", "control character"),
        ("${HOME}", "only secret fields may reference the environment"),
        ("${", "only secret fields may reference the environment"),
    ])
}

proptest! {
    #![proptest_config(config(32))]

    /// The same stack renders with inert free text in any field, and is refused, with the reason,
    /// when the value holds a control character or `${`.
    #[test]
    fn free_text_is_accepted_or_refused_with_a_reason(
        field in field(),
        text in free_text(5),
        (insert, reason) in refused_insert(),
        at in any::<prop::sample::Index>(),
    ) {
        // A log path's file name: anything but `/` (a directory with a wildcard is refused).
        let text =
            if matches!(field, Field::LogPath) { format!("/var/log/pg/{}", text.replace('/', "_")) } else { text };
        otelplan::render(&stack_with(field, &text), Some("D"))
            .unwrap_or_else(|d| panic!("{field:?} {text:?} refused: {d:#?}"));
        let chars: Vec<char> = text.chars().collect();
        let cut = at.index(chars.len() + 1);
        let bad: String = chars[..cut].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(&chars[cut..]).collect();
        let errors = otelplan::render(&stack_with(field, &bad), Some("D"))
            .map(|_| ()).expect_err(&format!("{field:?} {bad:?} was accepted"));
        prop_assert!(
            errors.iter().any(|d| d.message.contains(reason)),
            "{:?} {:?}: expected an error saying `{}`, got {:#?}", field, bad, reason, errors
        );
    }
}
