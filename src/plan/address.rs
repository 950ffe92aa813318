//! Addresses in the plan, resolved per deployment flavour: a short host names something inside
//! the deployment — compose uses it as written, Kubernetes qualifies it with its namespace.

use serde::Serialize;

use crate::model::endpoint::{Endpoint, Scheme};

/// Which namespace a short host lives in on Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) enum Scope {
    /// The DKP workloads' namespace (`kubernetes.app_namespace`).
    App,
    /// Collectors and backends (`kubernetes.namespace`).
    Observability,
}

/// Where configuration values are meant to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Flavor {
    /// One compose project: short hosts as written.
    Compose,
    /// Kubernetes: short hosts qualified as `HOST.<namespace>.svc`.
    Kubernetes,
}

/// The namespaces short hosts resolve into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Namespaces {
    /// `kubernetes.app_namespace`.
    pub(crate) app: String,
    /// `kubernetes.namespace`.
    pub(crate) observability: String,
}

/// A network address in the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Addr {
    /// URL scheme, when the address is a URL.
    pub(crate) scheme: Option<Scheme>,
    /// The host as written (short, dotted or an address).
    pub(crate) host: String,
    /// Set when the host is short: the namespace it lives in.
    pub(crate) scope: Option<Scope>,
    /// Port.
    pub(crate) port: u16,
    /// URL base path (`""` or `/…`).
    pub(crate) path: String,
    /// TLS settings, when the connection uses TLS with files of its own.
    pub(crate) tls: Option<crate::settings::ClientTls>,
}

impl Serialize for Scheme {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

impl Addr {
    /// The address of a stack endpoint; a short host lives in `scope`.
    pub(crate) fn from_endpoint(ep: &Endpoint, scope: Scope) -> Addr {
        Addr {
            scheme: ep.scheme,
            host: ep.host.as_url_host(),
            scope: ep.host.is_short().then_some(scope),
            port: ep.port,
            path: ep.path.clone(),
            tls: None,
        }
    }

    /// The address of something otelplan runs (a collector role) in the observability scope.
    pub(crate) fn internal(name: &str, port: u16, scheme: Option<Scheme>) -> Addr {
        Addr { scheme, host: name.to_string(), scope: Some(Scope::Observability), port, path: String::new(), tls: None }
    }

    /// This process's own loopback address (never qualified with a namespace).
    pub(crate) fn loopback(port: u16, scheme: Option<Scheme>) -> Addr {
        Addr { scheme, host: "localhost".to_string(), scope: None, port, path: String::new(), tls: None }
    }

    /// The same address with a URL scheme (kept when it has one).
    #[must_use]
    pub(crate) fn with_default_scheme(mut self, scheme: Scheme) -> Addr {
        self.scheme.get_or_insert(scheme);
        self
    }

    /// The same address, talking TLS with `tls` when given (a URL becomes `https`).
    #[must_use]
    pub(crate) fn with_tls(mut self, tls: Option<crate::settings::ClientTls>) -> Addr {
        if tls.is_some() && self.scheme.is_some() {
            self.scheme = Some(Scheme::Https);
        }
        self.tls = tls;
        self
    }

    /// Whether the address talks TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.scheme == Some(Scheme::Https) || self.tls.is_some()
    }

    /// The host as reachable in `flavor`.
    pub(crate) fn resolved_host(&self, flavor: Flavor, ns: &Namespaces) -> String {
        match (flavor, self.scope) {
            (Flavor::Kubernetes, Some(Scope::App)) => format!("{}.{}.svc", self.host, ns.app),
            (Flavor::Kubernetes, Some(Scope::Observability)) => format!("{}.{}.svc", self.host, ns.observability),
            _ => self.host.clone(),
        }
    }

    /// `host:port` in `flavor`.
    pub(crate) fn host_port(&self, flavor: Flavor, ns: &Namespaces) -> String {
        format!("{}:{}", self.resolved_host(flavor, ns), self.port)
    }

    /// `scheme://host:port/path` in `flavor` (plain `http` when the address has no scheme).
    pub(crate) fn url(&self, flavor: Flavor, ns: &Namespaces) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.host_port(flavor, ns), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Namespaces {
        Namespaces { app: "dkp".into(), observability: "obs".into() }
    }

    #[test]
    fn short_hosts_are_qualified_on_kubernetes_only() {
        let db = Addr::from_endpoint(&Endpoint::parse("db:5432").unwrap(), Scope::App);
        assert_eq!(db.host_port(Flavor::Compose, &ns()), "db:5432");
        assert_eq!(db.host_port(Flavor::Kubernetes, &ns()), "db.dkp.svc:5432");
        let es = Addr::from_endpoint(&Endpoint::parse("http://elasticsearch:9200").unwrap(), Scope::Observability);
        assert_eq!(es.url(Flavor::Kubernetes, &ns()), "http://elasticsearch.obs.svc:9200");
        let ext = Addr::from_endpoint(&Endpoint::parse("https://es.example.com").unwrap(), Scope::Observability);
        assert_eq!(ext.url(Flavor::Kubernetes, &ns()), "https://es.example.com:443");
        let ip = Addr::from_endpoint(&Endpoint::parse("[::1]:5432").unwrap(), Scope::App);
        assert_eq!(ip.host_port(Flavor::Kubernetes, &ns()), "[::1]:5432");
    }
}
