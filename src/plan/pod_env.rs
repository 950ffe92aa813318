//! Plan stage: the environment of a Kubernetes container that reads its own pod's fields through
//! the downward API, and splices them into later values (Kubernetes expands `$(NAME)` from the
//! variables listed before it). Only the Kubernetes patches carry these values: an env file or a
//! compose service has no pod to read.

use serde::Serialize;

use crate::plan::app::EnvValue;

/// A field of the pod, read through the downward API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) enum PodField {
    /// `metadata.namespace`.
    Namespace,
    /// `metadata.name`.
    Name,
    /// `metadata.uid`.
    Uid,
    /// `spec.nodeName`.
    NodeName,
}

impl PodField {
    /// Every field, in the order the variables are listed.
    pub(crate) const ALL: [PodField; 4] = [PodField::Namespace, PodField::Name, PodField::Uid, PodField::NodeName];

    /// The downward API's `fieldRef.fieldPath`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            PodField::Namespace => "metadata.namespace",
            PodField::Name => "metadata.name",
            PodField::Uid => "metadata.uid",
            PodField::NodeName => "spec.nodeName",
        }
    }

    /// The variable the field is read into: prefixed, so it cannot replace one of the team's.
    pub(crate) fn variable(self) -> &'static str {
        match self {
            PodField::Namespace => "OTELPLAN_POD_NAMESPACE",
            PodField::Name => "OTELPLAN_POD_NAME",
            PodField::Uid => "OTELPLAN_POD_UID",
            PodField::NodeName => "OTELPLAN_NODE_NAME",
        }
    }

    /// The resource attribute it becomes (OpenTelemetry semantic conventions), the same ones
    /// the collector's `k8s_attributes` processor adds. Their values need no percent-encoding:
    /// names, namespaces, uids and node names hold only lowercase letters, digits, `-` and `.`.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            PodField::Namespace => "k8s.namespace.name",
            PodField::Name => "k8s.pod.name",
            PodField::Uid => "k8s.pod.uid",
            PodField::NodeName => "k8s.node.name",
        }
    }
}

/// A piece of a spliced value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum Piece {
    /// Literal text.
    Text(String),
    /// The value of an earlier variable of the same container.
    Var(&'static str),
}

/// One value of a Kubernetes container's environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum PodEnvValue {
    /// A literal or a secret, as every target has them.
    Plain(EnvValue),
    /// A field of the pod.
    Field(PodField),
    /// Text and earlier variables, joined.
    Spliced(Vec<Piece>),
}

impl From<EnvValue> for PodEnvValue {
    fn from(value: EnvValue) -> Self {
        PodEnvValue::Plain(value)
    }
}
