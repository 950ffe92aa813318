//! Pass `scraper`: the single-replica collector that runs every datastore receiver (never the
//! scaled gateway, which would scrape each datastore once per replica), one pipeline per
//! datastore naming it as `service.name`.

use crate::model::endpoint::Scheme;
use crate::model::keywords::Signal;
use crate::plan::address::{Addr, Scope};
use crate::plan::collector::{ComponentId, ComponentKind as K, EsAuth, Receiver, ReceiverSpec};
use crate::plan::draft::{role_id, service_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::RoleKind;
use crate::settings::{ClientTls, Role, Scrape};

/// The receiver for `scrape`, with the edge's protocol and port.
fn receiver(ds: &str, scrape: &Scrape, tls: Option<&ClientTls>) -> (Receiver, Protocol, u16) {
    let at = |endpoint| Addr::from_endpoint(endpoint, Scope::App).with_tls(tls.cloned());
    let receiver = |kind, spec| Receiver { id: ComponentId::named(kind, ds), spec, checkpoints: false };
    match scrape {
        Scrape::Postgres { endpoint, databases, username, password } => {
            let addr = at(endpoint);
            let port = addr.port;
            let spec = ReceiverSpec::Postgresql {
                endpoint: addr,
                databases: databases.clone(),
                username: username.clone(),
                password: password.clone(),
            };
            (receiver(K::PostgresqlReceiver, spec), Protocol::Postgresql, port)
        }
        Scrape::Redis { endpoint, username, password } => {
            let addr = at(endpoint);
            let port = addr.port;
            let spec = ReceiverSpec::Redis { endpoint: addr, username: username.clone(), password: password.clone() };
            (receiver(K::RedisReceiver, spec), Protocol::Redis, port)
        }
        Scrape::Elasticsearch { endpoint, credentials } => {
            let addr = at(endpoint).with_default_scheme(Scheme::Http);
            let port = addr.port;
            let auth = credentials.as_ref().map_or(EsAuth::None, |(user, password)| EsAuth::Basic {
                user: user.clone(),
                password: password.clone(),
            });
            (
                receiver(K::ElasticsearchReceiver, ReceiverSpec::Elasticsearch { endpoint: addr, auth }),
                Protocol::ElasticsearchHttp,
                port,
            )
        }
        Scrape::Kafka { brokers } => {
            let brokers: Vec<Addr> = brokers.iter().map(at).collect();
            let port = brokers.first().map_or(9092, |b| b.port);
            (receiver(K::KafkaMetricsReceiver, ReceiverSpec::KafkaMetrics { brokers }), Protocol::Kafka, port)
        }
    }
}

/// Add the scraper, when some datastore is scraped.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let valid = d.valid;
    let scraped: Vec<(&str, &Scrape, Option<&ClientTls>)> = valid
        .services
        .iter()
        .filter_map(|s| match &s.role {
            Role::Datastore(ds) => ds.scrape.as_ref().map(|scrape| (s.name.as_str(), scrape, ds.tls.as_ref())),
            Role::App(_) => None,
        })
        .collect();
    if scraped.is_empty() {
        return Ok(());
    }
    let mut role = d.new_role(RoleKind::Scraper)?;
    for (ds, scrape, tls) in scraped {
        let (receiver, protocol, port) = receiver(ds, scrape, tls);
        d.edge(&service_id(ds), &role_id(&RoleKind::Scraper), Signal::Metrics, protocol, Some(port));
        d.datastore_pipeline(&mut role, Signal::Metrics, ds, receiver);
    }
    d.add_role(role, false);
    Ok(())
}
