//! The `tls` settings of datastores, backends and the collectors' own intake (parse stage):
//! file paths as the containers see them, never their contents.

use schemars::JsonSchema;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::node::Node;
use crate::model::reader::{boolean, short_text, MapView};
use crate::span::Spanned;

/// How otelplan's collectors connect to a datastore or a backend over TLS.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsClient {
    /// The CA certificate that signed the server's certificate (default: the system's roots).
    pub(crate) ca_file: Option<Spanned<String>>,
    /// A client certificate, for servers that require one (with `key_file`).
    pub(crate) cert_file: Option<Spanned<String>>,
    /// The client certificate's key.
    pub(crate) key_file: Option<Spanned<String>>,
    /// Skip verifying the server's certificate (default false; only where you write it).
    pub(crate) insecure: Option<Spanned<bool>>,
}

/// TLS on the collectors' OTLP intake.
#[derive(Debug, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_field_names, reason = "the field names of the stack format")]
pub(crate) struct TlsServer {
    /// The intake's certificate.
    pub(crate) cert_file: Spanned<String>,
    /// Its key.
    pub(crate) key_file: Spanned<String>,
    /// Require client certificates signed by this CA (mutual TLS).
    pub(crate) client_ca_file: Option<Spanned<String>>,
    /// The CA senders verify the intake's certificate with (default: the system's roots).
    pub(crate) ca_file: Option<Spanned<String>>,
}

/// A file path as a container sees it: absolute, no `..`.
fn path(node: &Node, path: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    let text = short_text(node, path, 1024, d)?;
    if !text.value.starts_with('/') || text.value.contains("..") || text.value.ends_with('/') {
        d.push(
            Diagnostic::error(text.span, format!("`{path}` must be the absolute path of a file, without `..`"))
                .hint("name the file as the containers see it, for example `/etc/otelplan/tls/ca.crt`; otelplan never reads it"),
        );
        return None;
    }
    Some(text)
}

impl TlsClient {
    /// Read a `tls` mapping of a datastore or backend.
    pub(crate) fn read(node: &Node, at: &str, d: &mut Diagnostics) -> Option<TlsClient> {
        let m = MapView::open(node, at, &["ca_file", "cert_file", "key_file", "insecure"], d)?;
        let file = |key: &str, d: &mut Diagnostics| m.get(key).and_then(|n| path(n, &m.child(key), d));
        let tls = TlsClient {
            ca_file: file("ca_file", d),
            cert_file: file("cert_file", d),
            key_file: file("key_file", d),
            insecure: m.get("insecure").and_then(|n| boolean(n, &m.child("insecure"), d)),
        };
        match (&tls.cert_file, &tls.key_file) {
            (Some(c), None) => {
                d.push(
                    Diagnostic::error(c.span, format!("`{at}.cert_file` is given without `key_file`"))
                        .hint("a client certificate needs its key: add `key_file`"),
                );
                None
            }
            (None, Some(k)) => {
                d.push(
                    Diagnostic::error(k.span, format!("`{at}.key_file` is given without `cert_file`"))
                        .hint("add the certificate the key belongs to, `cert_file`"),
                );
                None
            }
            _ => Some(tls),
        }
    }
}

impl TlsServer {
    /// Read `collector.tls`.
    pub(crate) fn read(node: &Node, at: &str, d: &mut Diagnostics) -> Option<TlsServer> {
        let m = MapView::open(node, at, &["cert_file", "key_file", "client_ca_file", "ca_file"], d)?;
        let cert_file = path(m.required("cert_file", d)?, &m.child("cert_file"), d);
        let key_file = path(m.required("key_file", d)?, &m.child("key_file"), d);
        let client_ca_file = m.get("client_ca_file").and_then(|n| path(n, &m.child("client_ca_file"), d));
        let ca_file = m.get("ca_file").and_then(|n| path(n, &m.child("ca_file"), d));
        Some(TlsServer { cert_file: cert_file?, key_file: key_file?, client_ca_file, ca_file })
    }
}
