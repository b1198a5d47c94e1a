//! The GitHub API requests of an installation token: the installation looked
//! up by owner when needed, then the token itself (the endpoints go-github
//! calls for fluxcd/pkg `githubapp`, with its headers).

use std::time::Duration;

use serde::Deserialize;

use super::{App, GitHubAppError, Installation, Token, TokenCache};
use crate::source::auth::Proxy;

/// The API's media type and version (go-github's defaults).
const ACCEPT: &str = "application/vnd.github.v3+json";
const API_VERSION: &str = "2022-11-28";

/// An HTTP client for the API: the Secret's `ca.crt` trusted besides the
/// system's, through the GitRepository's proxy, within `timeout`.
pub fn client(
    ca_pem: Option<&[u8]>,
    proxy: Option<&Proxy>,
    timeout: Duration,
) -> Result<reqwest::Client, GitHubAppError> {
    let error = |what: &str, e: reqwest::Error| {
        GitHubAppError::Client(format!("{what}: {}", crate::error::error_chain(&e)))
    };
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .user_agent(concat!("drift-check/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| error("ca.crt is not a PEM certificate", e))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(p) = proxy {
        let mut proxy = reqwest::Proxy::all(p.address.as_str())
            .map_err(|e| error("the proxy address is not a URL", e))?;
        if let Some((user, password)) = &p.basic {
            proxy = proxy.basic_auth(user, password);
        }
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| error("cannot be built", e))
}

impl TokenCache {
    /// The installation token of `app`: cached, or asked for with `http`.
    pub async fn token(&self, app: &App, http: &reqwest::Client) -> Result<Token, GitHubAppError> {
        self.get_or_fetch(app.cache_key(), || request_token(app, http))
            .await
    }
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
struct InstallationAnswer {
    id: u64,
}

/// GitHub's error body.
#[derive(Deserialize)]
struct ApiMessage {
    message: String,
}

/// A new installation token and how long it is valid.
async fn request_token(
    app: &App,
    http: &reqwest::Client,
) -> Result<(Token, Duration), GitHubAppError> {
    let jwt = app.jwt(chrono::Utc::now().timestamp())?;
    let installation = match &app.installation {
        Installation::Id(id) => *id,
        Installation::Owner(owner) => find_installation(app, http, &jwt, owner).await?,
    };
    let url = format!("{}app/installations/{installation}/access_tokens", app.api);
    let what = "create an installation access token";
    let answer: AccessToken = send(app, http.post(&url), &jwt, what, "POST", &url).await?;
    let lifetime = (answer.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tracing::info!(
        app = app.id,
        installation,
        expires_at = %answer.expires_at,
        "Got a GitHub App installation token"
    );
    Ok((Token::new(answer.token), lifetime))
}

/// The installation of `owner`: as an organization, else as a user.
async fn find_installation(
    app: &App,
    http: &reqwest::Client,
    jwt: &str,
    owner: &str,
) -> Result<u64, GitHubAppError> {
    let what = "find the installation of the owner";
    let org = format!("{}orgs/{owner}/installation", app.api);
    let first = match send::<InstallationAnswer>(app, http.get(&org), jwt, what, "GET", &org).await
    {
        Ok(found) => return Ok(found.id),
        Err(e) => e,
    };
    let user = format!("{}users/{owner}/installation", app.api);
    match send::<InstallationAnswer>(app, http.get(&user), jwt, what, "GET", &user).await {
        Ok(found) => Ok(found.id),
        // Neither: the organization's answer says most (as Flux joins both).
        Err(GitHubAppError::Api { status, .. }) if status.starts_with("404") => Err(first),
        Err(e) => Err(e),
    }
}

/// Sends an API request with the app's JWT; the answer read as `T`.
async fn send<T: serde::de::DeserializeOwned>(
    app: &App,
    request: reqwest::RequestBuilder,
    jwt: &str,
    what: &'static str,
    method: &'static str,
    url: &str,
) -> Result<T, GitHubAppError> {
    let shown = crate::redact::url(url);
    let failed = |reason: String| GitHubAppError::Request {
        app: app.id,
        what,
        method,
        url: shown.clone(),
        reason,
    };
    let response = request
        .bearer_auth(jwt)
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header("X-GitHub-Api-Version", API_VERSION)
        .send()
        .await
        .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| failed(crate::error::error_chain(&e.without_url())))?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<ApiMessage>(&body)
            .map(|m| format!(": {}", m.message.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        return Err(GitHubAppError::Api {
            app: app.id,
            what,
            method,
            url: shown,
            status: status.to_string(),
            detail,
        });
    }
    // Not serde's message: it may quote a value of the answer.
    serde_json::from_slice(&body).map_err(|e| {
        failed(format!(
            "the answer is not what GitHub sends (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}
