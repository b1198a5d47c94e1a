//! The pushgateway in a fleet run: each cluster's metrics in its own group
//! (grouping key `cluster`, as a single-cluster run pushes them), each group
//! marked as a fleet member (`drift_check_fleet_member 1`), and — when the
//! whole configured fleet ran — the groups of marked clusters that are no
//! longer in it DELETEd: the pushgateway never forgets a group on its own,
//! so a cluster that left the fleet would alert on its last series forever.
//! The pushgateway itself is the memory of which clusters were pushed last
//! time: nothing else needs keeping between runs.

use std::collections::BTreeSet;

use tracing::info;

use super::config::PushgatewaySettings;
use super::sink::{Auth, PushgatewayError, auth, group_url};
use crate::notify::SinkError;
use crate::notify::fleet::{ClustersFailed, FleetDelivery, each_cluster};

/// The series that marks a group as pushed by a fleet run.
pub const MARKER: &str = "drift_check_fleet_member";

/// Pushes every cluster, marks their groups, deletes the departed ones.
pub async fn send(
    settings: &PushgatewaySettings,
    fleet: &FleetDelivery<'_>,
) -> Result<(), SinkError> {
    let mut failed = match each_cluster(settings, fleet).await {
        Ok(()) => Vec::new(),
        Err(e) => vec![crate::error::error_chain(&*e)],
    };
    let client = Client::new(settings)?;
    let members: BTreeSet<&str> = fleet
        .report
        .clusters
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for c in fleet.report.clusters.iter().filter(|c| c.report.is_some()) {
        let body = format!("# TYPE {MARKER} gauge\n{MARKER} 1\n");
        if let Err(e) = client
            .request(reqwest::Method::POST, &c.name, Some(body))
            .await
        {
            failed.push(format!(
                "cluster {}: {}",
                c.name,
                crate::error::error_chain(&e)
            ));
        }
    }
    if fleet.complete {
        match client.marked_groups().await {
            Ok(marked) => {
                for gone in marked.iter().filter(|c| !members.contains(c.as_str())) {
                    match client.request(reqwest::Method::DELETE, gone, None).await {
                        Ok(()) => {
                            info!(cluster = %gone, "Deleted the pushgateway group of a cluster that left the fleet")
                        }
                        Err(e) => failed.push(format!(
                            "cluster {gone} left the fleet, its group stays: {}",
                            crate::error::error_chain(&e)
                        )),
                    }
                }
            }
            Err(e) => failed.push(format!(
                "cannot list the groups of clusters that left the fleet: {}",
                crate::error::error_chain(&e)
            )),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ClustersFailed(failed).into())
    }
}

/// One HTTP client with the pushgateway's credentials.
struct Client<'a> {
    settings: &'a PushgatewaySettings,
    http: reqwest::Client,
    auth: Auth,
}

impl<'a> Client<'a> {
    fn new(settings: &'a PushgatewaySettings) -> Result<Self, PushgatewayError> {
        let auth = auth()?;
        if settings.insecure && !matches!(auth, Auth::None) {
            return Err(super::config::insecure_credentials(&settings.url).into());
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(PushgatewayError::Client)?;
        Ok(Self {
            settings,
            http,
            auth,
        })
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password.expose())),
        }
    }

    /// One request on a cluster's group (the body in the text format).
    async fn request(
        &self,
        method: reqwest::Method,
        cluster: &str,
        body: Option<String>,
    ) -> Result<(), PushgatewayError> {
        let url = group_url(&self.settings.url, cluster);
        let mut request = self.authorized(self.http.request(method.clone(), &url));
        if let Some(body) = body {
            request = request
                .header("content-type", "text/plain; version=0.0.4")
                .body(body);
        }
        let failed = |reason: String| PushgatewayError::Push {
            method: if method == reqwest::Method::DELETE {
                "DELETE"
            } else {
                "POST"
            },
            url: url.clone(),
            attempts: 1,
            reason,
        };
        let response = request
            .send()
            .await
            .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(failed(format!("HTTP {}", response.status())))
        }
    }

    /// The clusters whose group of job `drift_check` a fleet run marked.
    async fn marked_groups(&self) -> Result<BTreeSet<String>, PushgatewayError> {
        let url = format!("{}/api/v1/metrics", self.settings.url);
        let failed = |reason: String| PushgatewayError::Push {
            method: "GET",
            url: url.clone(),
            attempts: 1,
            reason,
        };
        let response = self
            .authorized(self.http.get(&url))
            .send()
            .await
            .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
        Ok(marked(&body))
    }
}

/// The clusters of the marked groups of job `drift_check` in the
/// pushgateway's `/api/v1/metrics` answer.
fn marked(body: &serde_json::Value) -> BTreeSet<String> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["labels"]["job"] == "drift_check" && g.get(MARKER).is_some())
        .filter_map(|g| g["labels"]["cluster"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marked_groups_of_the_job_are_fleet_members() {
        let body = serde_json::json!({"status": "success", "data": [
            {"labels": {"job": "drift_check", "cluster": "a"}, MARKER: {"metrics": []}},
            {"labels": {"job": "drift_check", "cluster": "solo"}, "drift_check_up": {}},
            {"labels": {"job": "other", "cluster": "b"}, MARKER: {"metrics": []}},
        ]});
        assert_eq!(marked(&body), BTreeSet::from(["a".to_string()]));
    }
}
