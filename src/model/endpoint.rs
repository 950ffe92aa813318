//! `Endpoint`: where something listens, as `host:port` or an `http`/`https` URL (parse stage).

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::node::{Node, Value};
use crate::span::Spanned;

/// URL scheme of an endpoint written as a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// The host part of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Host {
    /// A DNS name, as written (lowercased).
    Dns(String),
    /// An IPv4 address.
    Ipv4(String),
    /// An IPv6 address, without brackets.
    Ipv6(String),
}

impl Host {
    /// Whether the host names something inside the deployment (a DNS name without a dot).
    pub(crate) fn is_short(&self) -> bool {
        matches!(self, Host::Dns(name) if !name.contains('.'))
    }

    /// The host as it appears in a URL or `host:port` (IPv6 bracketed).
    pub(crate) fn as_url_host(&self) -> String {
        match self {
            Host::Dns(s) | Host::Ipv4(s) => s.clone(),
            Host::Ipv6(s) => format!("[{s}]"),
        }
    }

    /// The bare name (for a short DNS name) or address.
    pub(crate) fn text(&self) -> &str {
        match self {
            Host::Dns(s) | Host::Ipv4(s) | Host::Ipv6(s) => s,
        }
    }
}

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Endpoint {
    /// `None` for `host:port`.
    pub(crate) scheme: Option<Scheme>,
    /// The host.
    pub(crate) host: Host,
    /// The port, explicit or the scheme's default.
    pub(crate) port: u16,
    /// A base path of a URL (`""` when none, otherwise starting with `/`, no trailing `/`).
    pub(crate) path: String,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Some(Scheme::Http) => write!(f, "http://{}:{}{}", self.host.as_url_host(), self.port, self.path),
            Some(Scheme::Https) => write!(f, "https://{}:{}{}", self.host.as_url_host(), self.port, self.path),
            None => write!(f, "{}:{}", self.host.as_url_host(), self.port),
        }
    }
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
        && !s.split('.').all(|l| l.bytes().all(|c| c.is_ascii_digit()))
}

fn parse_host(s: &str) -> Result<Host, String> {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| Host::Ipv6(inner.to_string()))
            .map_err(|_| format!("`{inner}` is not an IPv6 address"));
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(Host::Ipv4(s.to_string()));
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err("an IPv6 address must be bracketed, as in `[::1]:5432`".into());
    }
    if is_dns_name(s) {
        return Ok(Host::Dns(s.to_ascii_lowercase()));
    }
    Err(format!("`{s}` is not a DNS name, an IPv4 address or a bracketed IPv6 address"))
}

fn split_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let close = s.find(']')?;
        let (host, rest) = s.split_at(close + 1);
        return match rest {
            "" => Some((host, None)),
            r => r.strip_prefix(':').map(|p| (host, Some(p))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p))),
        None => Some((s, None)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("`{p}` is not a port from 1 to 65535")),
    }
}

impl Endpoint {
    /// Parse `host:port` or `http(s)://host[:port][/path]`.
    pub(crate) fn parse(text: &str) -> Result<Endpoint, String> {
        let (scheme, rest) = if let Some(r) = text.strip_prefix("http://") {
            (Some(Scheme::Http), r)
        } else if let Some(r) = text.strip_prefix("https://") {
            (Some(Scheme::Https), r)
        } else if text.contains("://") {
            return Err("only `http://` and `https://` URLs are endpoints".into());
        } else {
            (None, text)
        };
        let (authority, path) = match (scheme, rest.find('/')) {
            (Some(_), Some(i)) => rest.split_at(i),
            (None, Some(_)) => return Err("a `host:port` endpoint has no path; write a URL for a path".into()),
            (_, None) => (rest, ""),
        };
        if authority.contains('@') {
            return Err("credentials do not belong in an endpoint; use the credential fields".into());
        }
        if path.contains(['?', '#']) || !path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)) {
            return Err("the URL path may hold only letters, digits and `-._~/%`, without a query".into());
        }
        let (host, port) = split_port(authority).ok_or("expected `host:port`")?;
        let host = parse_host(host)?;
        let port = match (port, scheme) {
            (Some(p), _) => parse_port(p)?,
            (None, Some(Scheme::Http)) => 80,
            (None, Some(Scheme::Https)) => 443,
            (None, None) => return Err("missing port: expected `host:port`".into()),
        };
        Ok(Endpoint { scheme, host, port, path: path.trim_end_matches('/').to_string() })
    }

    /// Read an endpoint node; `url_only`/`host_port_only` restrict the accepted form.
    pub(crate) fn read(node: &Node, path: &str, form: Form, d: &mut Diagnostics) -> Option<Spanned<Endpoint>> {
        let Value::Scalar { text, .. } = &node.value else {
            d.push(
                Diagnostic::error(
                    node.span,
                    format!("`{path}` must be an endpoint string, found {}", node.kind_name()),
                )
                .hint("write it as one string, for example `db:5432` or `http://elasticsearch:9200`"),
            );
            return None;
        };
        let hint = match form {
            Form::HostPort => "expected `host:port`, for example `db:5432`",
            Form::Any => "expected `host:port` or an `http://`/`https://` URL, for example `http://elasticsearch:9200`",
        };
        let parsed = Endpoint::parse(text).and_then(|e| match (form, e.scheme) {
            (Form::HostPort, Some(_)) => Err("this endpoint is `host:port`, without a scheme".into()),
            _ => Ok(e),
        });
        match parsed {
            Ok(e) => Some(Spanned::new(e, node.span)),
            Err(why) => {
                d.push(Diagnostic::error(node.span, format!("`{path}` is not a valid endpoint: {why}")).hint(hint));
                None
            }
        }
    }
}

/// Which endpoint forms a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `host:port` only (database and broker addresses).
    HostPort,
    /// `host:port` or a URL.
    Any,
}

impl JsonSchema for Endpoint {
    fn schema_name() -> Cow<'static, str> {
        "Endpoint".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 3,
            "description": "`host:port`, or an `http://` / `https://` URL with a port or the scheme's default. A host is a DNS name, an IPv4 address or a bracketed IPv6 address; a host without a dot names something inside the deployment."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let e = Endpoint::parse("db:5432").unwrap();
        assert_eq!((e.scheme, e.host.text(), e.port), (None, "db", 5432));
        let e = Endpoint::parse("http://elasticsearch:9200").unwrap();
        assert_eq!((e.scheme, e.port), (Some(Scheme::Http), 9200));
        assert_eq!(Endpoint::parse("https://es.example.com").unwrap().port, 443);
        assert_eq!(Endpoint::parse("http://x").unwrap().port, 80);
        let e = Endpoint::parse("[::1]:5432").unwrap();
        assert_eq!(e.host, Host::Ipv6("::1".into()));
        assert_eq!(e.to_string(), "[::1]:5432");
        assert_eq!(Endpoint::parse("http://l:3100/loki/").unwrap().to_string(), "http://l:3100/loki");
    }

    #[test]
    fn refuses_bad_forms() {
        for bad in [
            "db",
            "db:0",
            "db:99999",
            "db:x",
            "ftp://a:1",
            "::1:5432",
            "http://u:p@h:1",
            "a b:1",
            "-a:1",
            "http://h:1/?q",
            "1.2.3:4",
            "h:1/p",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn short_hosts() {
        assert!(Endpoint::parse("db:1").unwrap().host.is_short());
        assert!(!Endpoint::parse("db.example:1").unwrap().host.is_short());
        assert!(!Endpoint::parse("10.0.0.1:1").unwrap().host.is_short());
    }
}
