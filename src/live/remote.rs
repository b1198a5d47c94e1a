//! Remote Kustomizations (`spec.kubeConfig`): where each one applies, and a
//! live source per spoke.
//!
//! Input: a Kustomization's `spec.kubeConfig` and `spec.serviceAccountName`,
//! the hub's live source (which holds the kubeconfig Secrets), and the
//! cluster options. Output: a [`Spoke`] per distinct (Secret namespace, name,
//! key, service account), and for each a [`Live`] source on the spoke, or one
//! [`RemoteError`] naming the Secret and what failed, for each of that
//! spoke's Kustomizations.
//!
//! As kustomize-controller v1.9 does (fluxcd/pkg runtime/client
//! `impersonator.go`): the Secret is read in the Kustomization's namespace
//! on the hub, its kubeconfig checked by [`crate::k8s::kubeconfig`], and
//! `spec.serviceAccountName` impersonated on the spoke. Rendering and
//! `postBuild.substituteFrom` stay on the hub, as in Flux.

use serde_json::Value;

use super::cluster::{Cluster, ClusterOptions, Connection};
use super::{Live, LiveError};
use crate::flux::Kustomization;
use crate::k8s::kubeconfig::{self, KubeconfigError};

/// A cluster a Kustomization applies to through a kubeconfig Secret, and
/// who it is seen as there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Spoke {
    /// The Secret's namespace: the Kustomization's.
    pub namespace: String,
    /// `spec.kubeConfig.secretRef.name`.
    pub secret: String,
    /// `spec.kubeConfig.secretRef.key` (`None`: `value`, then `value.yaml`).
    pub key: Option<String>,
    /// `spec.serviceAccountName`, impersonated on the spoke.
    pub service_account: Option<String>,
}

impl Spoke {
    /// Where `ks` applies: `Ok(None)` for the cluster checked (no
    /// `spec.kubeConfig`), a spoke for a `secretRef`, an error for what
    /// drift-check cannot follow.
    pub fn of(ks: &Kustomization) -> Result<Option<Self>, RemoteError> {
        match &ks.spec.kube_config {
            None => Ok(None),
            Some(reference) => Self::new(
                &ks.namespace,
                reference,
                ks.spec.service_account_name.as_deref(),
            )
            .map(Some),
        }
    }

    /// The spoke of a `spec.kubeConfig` reference (a Kustomization's or a
    /// HelmRelease's) of an object in `namespace`, applying as
    /// `service_account`.
    pub fn new(
        namespace: &str,
        reference: &Value,
        service_account: Option<&str>,
    ) -> Result<Self, RemoteError> {
        let text = |pointer: &str| {
            reference
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if let Some(secret) = text("/secretRef/name") {
            return Ok(Self {
                namespace: namespace.to_string(),
                secret,
                key: text("/secretRef/key"),
                service_account: service_account
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            });
        }
        if let Some(config_map) = text("/configMapRef/name") {
            return Err(RemoteError::WorkloadIdentity {
                config_map: format!("{namespace}/{config_map}"),
            });
        }
        Err(RemoteError::NoReference)
    }

    /// `namespace/name` of the Secret.
    pub fn secret_id(&self) -> String {
        format!("{}/{}", self.namespace, self.secret)
    }

    /// The cluster's name in reports: the Secret (`namespace/name`, and
    /// `:key` when one is named), which is how Flux users know their spokes.
    pub fn cluster(&self) -> String {
        match &self.key {
            Some(key) => format!("{}:{key}", self.secret_id()),
            None => self.secret_id(),
        }
    }
}

/// A spoke that cannot be checked; each of its Kustomizations gets this
/// as "could not check".
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `spec.kubeConfig.configMapRef`: Flux 2.7 workload identity.
    #[error(
        "could not check: workload identity (spec.kubeConfig.configMapRef {config_map}) is not supported: give it a kubeconfig Secret (spec.kubeConfig.secretRef) to check it"
    )]
    WorkloadIdentity { config_map: String },
    /// `spec.kubeConfig` names neither a Secret nor a ConfigMap.
    #[error("could not check: spec.kubeConfig has neither secretRef.name nor configMapRef.name")]
    NoReference,
    /// The live state is a snapshot: it holds no spoke.
    #[error("it applies to another cluster (spec.kubeConfig), which a live snapshot does not hold")]
    Snapshot,
    /// The token may not read the Secret on the hub.
    #[error(
        "could not check: cannot read Secret {secret} (forbidden: grant get on it with job/components/kubeconfig-secrets)"
    )]
    Forbidden { secret: String },
    /// The Secret does not exist on the hub.
    #[error("could not check: Secret {secret} (spec.kubeConfig.secretRef) not found")]
    NotFound { secret: String },
    /// Reading the Secret failed otherwise.
    #[error("could not check: cannot read Secret {secret}: {source}")]
    Read {
        secret: String,
        #[source]
        source: Box<LiveError>,
    },
    /// The Secret's kubeconfig cannot be used.
    #[error("could not check: {0}")]
    Kubeconfig(#[from] KubeconfigError),
    /// The spoke did not answer, or refused the credentials.
    #[error("could not check: the cluster of Secret {secret} ({server}): {source}")]
    Unreachable {
        secret: String,
        server: String,
        #[source]
        source: Box<LiveError>,
    },
}

/// A live source on `spoke`: its kubeconfig read from the hub's Secret,
/// checked, and the spoke asked once whether it answers and accepts the
/// credentials (so that a spoke down is one clear error, not a failed LIST
/// per type).
pub async fn connect(
    hub: &Live,
    spoke: &Spoke,
    options: &ClusterOptions,
) -> Result<Live, RemoteError> {
    if matches!(hub, Live::Snapshot(_)) {
        return Err(RemoteError::Snapshot);
    }
    let secret = spoke.secret_id();
    let data = match hub.secret_data(&spoke.namespace, &spoke.secret).await {
        Ok(Some(data)) => data,
        Ok(None) => return Err(RemoteError::NotFound { secret }),
        Err(LiveError::Status { code: 403, .. }) => return Err(RemoteError::Forbidden { secret }),
        Err(source) => {
            return Err(RemoteError::Read {
                secret,
                source: Box::new(source),
            });
        }
    };
    let (key, bytes) = kubeconfig::pick(&data, spoke.key.as_deref(), &secret)?;
    let parsed = kubeconfig::parse(bytes, options.remote, &secret, key)?;
    let impersonate = spoke
        .service_account
        .as_deref()
        .map(|sa| kubeconfig::service_account_user(&spoke.namespace, sa));
    let config = kubeconfig::config(parsed, impersonate, options.timeout, &secret, key).await?;
    let connection = Connection {
        config,
        name: spoke.cluster(),
    };
    let cluster =
        Cluster::of_connection(connection, options).map_err(|source| RemoteError::Unreachable {
            secret: secret.clone(),
            server: "client".into(),
            source: Box::new(source),
        })?;
    if let Err(source) = cluster.probe().await {
        // The message names the server once, before the request.
        let what = "GET /version".to_string();
        let source = match source {
            LiveError::Request { message, .. } => LiveError::Request { what, message },
            LiveError::Timeout { seconds, .. } => LiveError::Timeout { what, seconds },
            other => other,
        };
        return Err(RemoteError::Unreachable {
            secret,
            server: cluster.server().to_string(),
            source: Box::new(source),
        });
    }
    tracing::info!(spoke = %spoke.cluster(), server = cluster.server(), "Connected to a spoke");
    Ok(Live::Cluster(cluster))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::discover;
    use crate::flux::Origin;

    fn ks(namespace: &str, spec: Value) -> Kustomization {
        let object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": namespace},
            "spec": spec});
        discover::from_object(&object, Origin::Live, "flux-system").unwrap()
    }

    const BASE: &str = r#"{"interval": "10m", "path": "./apps", "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}"#;

    fn spec(extra: Value) -> Value {
        let mut spec: Value = serde_json::from_str(BASE).unwrap();
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    }

    #[test]
    fn a_spoke_is_the_secret_in_the_kustomizations_namespace_its_key_and_service_account() {
        assert_eq!(Spoke::of(&ks("apps", spec(json!({})))).unwrap(), None);
        let spoke = Spoke::of(&ks(
            "apps",
            spec(
                json!({"kubeConfig": {"secretRef": {"name": "edge", "key": "config"}},
                        "serviceAccountName": "deployer"}),
            ),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            spoke,
            Spoke {
                namespace: "apps".into(),
                secret: "edge".into(),
                key: Some("config".into()),
                service_account: Some("deployer".into()),
            }
        );
        assert_eq!(spoke.cluster(), "apps/edge:config");
        let plain = Spoke::of(&ks(
            "flux-system",
            spec(json!({"kubeConfig": {"secretRef": {"name": "edge"}}})),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            (plain.cluster(), plain.key),
            ("flux-system/edge".into(), None)
        );
    }

    #[test]
    fn workload_identity_and_an_empty_reference_are_one_clear_error() {
        let identity = ks(
            "flux-system",
            spec(json!({"kubeConfig": {"configMapRef": {"name": "eks-prod"}}})),
        );
        assert_eq!(
            Spoke::of(&identity).err().unwrap().to_string(),
            "could not check: workload identity (spec.kubeConfig.configMapRef flux-system/eks-prod) is not supported: give it a kubeconfig Secret (spec.kubeConfig.secretRef) to check it"
        );
        let empty = ks("flux-system", spec(json!({"kubeConfig": {}})));
        assert_eq!(
            Spoke::of(&empty).err().unwrap().to_string(),
            "could not check: spec.kubeConfig has neither secretRef.name nor configMapRef.name"
        );
    }
}
