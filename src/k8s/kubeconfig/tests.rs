//! Flux's rules for a kubeconfig Secret: which key, what is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

const SECRET: &str = "flux-system/spoke-kubeconfig";

fn kubeconfig(cluster: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: spoke\n\
         clusters:\n- name: spoke\n  cluster:\n    server: https://127.0.0.1:6443\n{cluster}\
         users:\n- name: flux\n  user:\n{user}\
         contexts:\n- name: spoke\n  context: {{cluster: spoke, user: flux}}\n"
    )
}

fn plain() -> String {
    kubeconfig(
        "    certificate-authority-data: Zm9v\n",
        "    token: s3cr3t-token\n",
    )
}

fn data(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn refused(text: &str, allow: Allow) -> String {
    parse(text.as_bytes(), allow, SECRET, "value")
        .err()
        .unwrap()
        .to_string()
}

#[test]
fn the_key_is_the_one_named_else_value_else_value_yaml() {
    let both = data(&[("value", "a"), ("value.yaml", "b"), ("other", "c")]);
    assert_eq!(pick(&both, None, SECRET).unwrap(), ("value", &b"a"[..]));
    assert_eq!(
        pick(&both, Some("other"), SECRET).unwrap(),
        ("other", &b"c"[..])
    );
    let yaml = data(&[("value.yaml", "b")]);
    assert_eq!(
        pick(&yaml, None, SECRET).unwrap(),
        ("value.yaml", &b"b"[..])
    );
    assert_eq!(
        pick(&yaml, Some("value"), SECRET)
            .err()
            .unwrap()
            .to_string(),
        "Secret flux-system/spoke-kubeconfig has no key \"value\" with a kubeconfig (spec.kubeConfig.secretRef.key)"
    );
    assert_eq!(
        pick(&data(&[("token", "x")]), None, SECRET)
            .err()
            .unwrap()
            .to_string(),
        "Secret flux-system/spoke-kubeconfig has no key \"value\" or \"value.yaml\" with a kubeconfig"
    );
}

#[test]
fn garbage_is_not_a_kubeconfig_and_is_never_quoted() {
    for garbage in [
        "s3cr3t-garbage: [",
        "just s3cr3t text",
        "- s3cr3t\n- list\n",
    ] {
        let message = refused(garbage, Allow::default());
        assert_eq!(
            message,
            "Secret flux-system/spoke-kubeconfig, key \"value\": not a kubeconfig (not YAML with clusters, users and contexts (apiVersion: v1, kind: Config))",
            "{garbage}"
        );
    }
    assert_eq!(
        parse(&[0xff, 0xfe], Allow::default(), SECRET, "value")
            .err()
            .unwrap()
            .to_string(),
        "Secret flux-system/spoke-kubeconfig, key \"value\": not a kubeconfig (not UTF-8 text)"
    );
    assert_eq!(
        refused("apiVersion: v1\nkind: Config\n", Allow::default()),
        "Secret flux-system/spoke-kubeconfig, key \"value\": not a kubeconfig (no clusters)"
    );
}

#[test]
fn an_exec_plugin_is_refused_unless_allowed() {
    let exec = kubeconfig(
        "    certificate-authority-data: Zm9v\n",
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n      args: [eks, get-token]\n",
    );
    assert_eq!(
        refused(&exec, Allow::default()),
        "Secret flux-system/spoke-kubeconfig, key \"value\": user \"flux\" runs an exec credential plugin (aws), refused as kustomize-controller refuses it without --insecure-kubeconfig-exec (allow it with --insecure-kubeconfig-exec or `insecureKubeconfigExec: true`)"
    );
    let allowed = Allow {
        exec: true,
        ..Allow::default()
    };
    assert!(parse(exec.as_bytes(), allowed, SECRET, "value").is_ok());
}

#[test]
fn insecure_tls_is_refused_unless_allowed() {
    let insecure = kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n");
    assert_eq!(
        refused(&insecure, Allow::default()),
        "Secret flux-system/spoke-kubeconfig, key \"value\": cluster \"spoke\" sets insecure-skip-tls-verify, refused as kustomize-controller ignores it without --insecure-kubeconfig-tls (give certificate-authority-data, or allow it with --insecure-kubeconfig-tls or `insecureKubeconfigTls: true`)"
    );
    let allowed = Allow {
        insecure_tls: true,
        ..Allow::default()
    };
    assert!(parse(insecure.as_bytes(), allowed, SECRET, "value").is_ok());
    // `false` is the default, not a request.
    let verified = kubeconfig(
        "    insecure-skip-tls-verify: false\n    certificate-authority-data: Zm9v\n",
        "    token: t\n",
    );
    assert!(parse(verified.as_bytes(), Allow::default(), SECRET, "value").is_ok());
}

#[test]
fn an_auth_provider_is_refused_even_when_exec_is_allowed() {
    let provider = kubeconfig(
        "    certificate-authority-data: Zm9v\n",
        "    auth-provider:\n      name: oidc\n      config: {client-id: x}\n",
    );
    let all = Allow {
        exec: true,
        insecure_tls: true,
    };
    assert_eq!(
        refused(&provider, all),
        "Secret flux-system/spoke-kubeconfig, key \"value\": user \"flux\" uses the auth-provider \"oidc\", which kustomize-controller does not use either (use a token, a client certificate or an exec plugin)"
    );
}

#[test]
fn files_are_refused_as_flux_refuses_them() {
    let cases = [
        (
            kubeconfig("    certificate-authority: /etc/ca.crt\n", "    token: t\n"),
            "cluster \"spoke\" references a certificate-authority file; only inline data is supported, as in Flux (use certificate-authority-data)",
        ),
        (
            kubeconfig("", "    tokenFile: /var/run/token\n"),
            "user \"flux\" references a tokenFile file; only inline data is supported, as in Flux (use token)",
        ),
        (
            kubeconfig(
                "",
                "    client-certificate: /c.crt\n    client-key-data: Zm9v\n",
            ),
            "user \"flux\" references a client-certificate file; only inline data is supported, as in Flux (use client-certificate-data)",
        ),
        (
            kubeconfig(
                "",
                "    client-certificate-data: Zm9v\n    client-key: /c.key\n",
            ),
            "user \"flux\" references a client-key file; only inline data is supported, as in Flux (use client-key-data)",
        ),
    ];
    for (text, why) in cases {
        assert_eq!(
            refused(&text, Allow::default()),
            format!("Secret flux-system/spoke-kubeconfig, key \"value\": {why}")
        );
    }
}

#[tokio::test]
async fn the_service_account_is_impersonated_and_the_kubeconfigs_own_impersonation_dropped() {
    let text = kubeconfig(
        "",
        "    token: t\n    as: cluster-admin\n    as-groups: [system:masters]\n",
    );
    let parsed = parse(text.as_bytes(), Allow::default(), SECRET, "value").unwrap();
    let user = service_account_user("apps", "deployer");
    assert_eq!(user, "system:serviceaccount:apps:deployer");
    let config = super::config(parsed, Some(user), Duration::from_secs(9), SECRET, "value")
        .await
        .unwrap();
    assert_eq!(
        config.auth_info.impersonate.as_deref(),
        Some("system:serviceaccount:apps:deployer")
    );
    assert_eq!(config.auth_info.impersonate_groups, None);
    assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
    assert_eq!(config.read_timeout, Some(Duration::from_secs(9)));

    let parsed = parse(text.as_bytes(), Allow::default(), SECRET, "value").unwrap();
    let config = super::config(parsed, None, Duration::from_secs(9), SECRET, "value")
        .await
        .unwrap();
    assert_eq!(config.auth_info.impersonate, None);
}

#[tokio::test]
async fn a_kubeconfig_without_current_context_is_one_error_naming_the_secret() {
    let text = plain().replace("current-context: spoke\n", "");
    let parsed = parse(text.as_bytes(), Allow::default(), SECRET, "value").unwrap();
    let message = super::config(parsed, None, Duration::from_secs(9), SECRET, "value")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("Secret flux-system/spoke-kubeconfig, key \"value\": "),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
}
