//! The one way drift-check reaches a cluster. Input: [`ClusterOptions`] (a
//! kubeconfig file and context, or the pod's service account; the request
//! timeout). Output: a [`Connection`] — kube's client configuration with
//! the timeouts set, and the cluster's name for reports. Makes no request.
//!
//! Used by the live stage (`live::cluster`, which adds its request counter)
//! and by the notify stage (the Matrix sink's state ConfigMap).

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{Config, InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};

/// How to reach the cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// A kubeconfig file; `KUBECONFIG` or `~/.kube/config` when `None`, then
    /// the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context other than the current one.
    pub context: Option<String>,
    /// The limit for each API request.
    pub timeout: Duration,
    /// How many LISTs (or dry-runs) run at once.
    pub concurrency: usize,
    /// What a spoke's kubeconfig, read from a hub Secret, may do
    /// (`--insecure-kubeconfig-exec`, `--insecure-kubeconfig-tls`).
    pub remote: super::kubeconfig::Allow,
}

/// No client could be configured.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig file given cannot be read, or lacks the context asked for.
    #[error("{}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: KubeconfigError,
    },
    /// `KUBECONFIG` / `~/.kube/config` cannot be read, or lacks the context asked for.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// Neither a kubeconfig nor a pod's service account was found.
    #[error(transparent)]
    Infer(#[from] InferConfigError),
    /// The configuration does not make a client (e.g. bad TLS material).
    #[error(transparent)]
    Build(#[from] kube::Error),
}

/// A cluster's client configuration, before the client is built.
pub struct Connection {
    /// kube's configuration: connect, read and write timeouts are the request timeout.
    pub config: Config,
    /// The kubeconfig context, `in-cluster` for a pod's service account, or
    /// `kubernetes` when the kubeconfig has no current context.
    pub name: String,
}

impl Connection {
    /// Reads the kubeconfig (the file given, else `KUBECONFIG` or
    /// `~/.kube/config`, at the context given or the current one) or the pod's
    /// service account.
    pub async fn new(options: &ClusterOptions) -> Result<Self, ClientError> {
        let kube_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let (mut config, name) = match &options.kubeconfig {
            Some(path) => {
                let file = |source| ClientError::File {
                    path: path.clone(),
                    source,
                };
                let kubeconfig = Kubeconfig::read_from(path).map_err(file)?;
                let name = options
                    .context
                    .clone()
                    .or(kubeconfig.current_context.clone());
                let config = Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                    .await
                    .map_err(file)?;
                (config, name)
            }
            None if options.context.is_some() => (
                Config::from_kubeconfig(&kube_options).await?,
                options.context.clone(),
            ),
            None => {
                let name = Kubeconfig::read().ok().and_then(|k| k.current_context);
                (Config::infer().await?, name.or(Some("in-cluster".into())))
            }
        };
        let timeout = options.timeout.max(Duration::from_secs(1));
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        Ok(Self {
            config,
            name: name.unwrap_or_else(|| "kubernetes".into()),
        })
    }

    /// The API server's URL, for messages.
    pub fn server(&self) -> String {
        self.config.cluster_url.to_string()
    }

    /// A plain client.
    pub fn client(self) -> Result<kube::Client, ClientError> {
        Ok(kube::Client::try_from(self.config)?)
    }
}

/// A plain client for these options (the name is not needed).
pub async fn client(options: &ClusterOptions) -> Result<kube::Client, ClientError> {
    Connection::new(options).await?.client()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kubeconfig_names_the_cluster_by_its_context_and_sets_the_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\n\
             clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\n\
             - name: d\n  cluster: {server: 'https://127.0.0.2:6443'}\n\
             users:\n- name: u\n  user: {token: t}\n\
             contexts:\n- name: prod\n  context: {cluster: c, user: u}\n\
             - name: staging\n  context: {cluster: d, user: u}\n",
        )
        .unwrap();
        let mut options = ClusterOptions {
            kubeconfig: Some(path.clone()),
            timeout: Duration::from_secs(7),
            ..Default::default()
        };
        let current = Connection::new(&options).await.unwrap();
        assert_eq!(current.name, "prod");
        assert_eq!(current.server(), "https://127.0.0.1:6443/");
        assert_eq!(
            (
                current.config.connect_timeout,
                current.config.read_timeout,
                current.config.write_timeout
            ),
            (
                Some(Duration::from_secs(7)),
                Some(Duration::from_secs(7)),
                Some(Duration::from_secs(7))
            )
        );
        options.context = Some("staging".into());
        let other = Connection::new(&options).await.unwrap();
        assert_eq!(
            (other.name.as_str(), other.server().as_str()),
            ("staging", "https://127.0.0.2:6443/")
        );
        options.kubeconfig = Some(dir.path().join("absent"));
        let err = Connection::new(&options).await.err().unwrap();
        assert!(
            crate::error::error_chain(&err)
                .starts_with(&format!("{}: ", dir.path().join("absent").display())),
            "{err}"
        );
    }
}
