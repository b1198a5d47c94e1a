use super::*;
use serde_json::json;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn evaluates_flux_envsubst_syntax() {
    let vars = vars(&[
        ("NAME", "docs-portal"),
        ("EMPTY", ""),
        ("REGION", "eu-west-1"),
        ("PATH_", "a/b/c.tar.gz"),
    ]);
    let lookup = |n: &str| vars.get(n).cloned();
    let cases = [
        ("${NAME}", "docs-portal"),
        ("app-${NAME}-x", "app-docs-portal-x"),
        ("${UNSET}", ""),
        ("${UNSET:=fallback}", "fallback"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${NAME:=fallback}", "docs-portal"),
        ("${UNSET=fallback}", "fallback"),
        ("${UNSET:=${NAME}-2}", "docs-portal-2"),
        ("$${NAME}", "${NAME}"),
        ("cost: $$5", "cost: $5"),
        ("$NAME", "$NAME"),
        ("${#NAME}", "11"),
        ("${NAME^^}", "DOCS-PORTAL"),
        ("${NAME^}", "Docs-portal"),
        ("${NAME:0:4}", "docs"),
        ("${NAME:5}", "portal"),
        ("${REGION/-/_}", "eu_west-1"),
        ("${REGION//-/_}", "eu_west_1"),
        ("${PATH_##*/}", "c.tar.gz"),
        ("${PATH_%%.*}", "a/b/c"),
        ("${PATH_%.*}", "a/b/c.tar"),
        ("${PATH_#*/}", "b/c.tar.gz"),
    ];
    for (input, want) in cases {
        assert_eq!(eval(input, &lookup, false).as_deref(), Ok(want), "{input}");
    }
    for (input, error) in [
        ("${NAME", MISSING_BRACE),
        ("${ NAME}", "unable to parse variable name"),
        ("${NAME-x}", MISSING_BRACE),
    ] {
        assert_eq!(eval(input, &lookup, false), Err(error.into()), "{input}");
    }
    assert_eq!(
        eval("${UNSET}", &lookup, true),
        Err("variable not set (strict mode): \"UNSET\"".into())
    );
    assert_eq!(
        eval("${UNSET:=x}", &lookup, true).as_deref(),
        Ok("x"),
        "defaults are allowed in strict mode"
    );
}

#[test]
fn retypes_plain_scalars_like_flux_yaml_round_trip() {
    let mut deploy = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "${NAME}", "labels": {"${KEY}": "x"}},
        "spec": {
            "replicas": "${N}",
            "paused": "${FLAG}",
            "note": "replicas: ${N}",
            "multi": "line 1\n${N}\n",
            "unset": "${UNSET}",
            "port": "\"8080\"",
            "image": "nginx:${TAG}"
        }
    });
    let vars = vars(&[
        ("NAME", "web"),
        ("KEY", "team"),
        ("N", "3"),
        ("FLAG", "true"),
        ("TAG", "1.25"),
    ]);
    object(&mut deploy, &vars, &BTreeSet::new(), Mode::default()).unwrap();
    assert_eq!(
        deploy,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"team": "x"}},
            "spec": {
                "replicas": 3,
                "paused": true,
                "note": "replicas: 3",
                "multi": "line 1\n3\n",
                "unset": null,
                "port": "\"8080\"",
                "image": "nginx:1.25"
            }
        })
    );
}

#[test]
fn skips_disabled_objects_and_runs_nothing_without_variables() {
    let disabled = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": {SUBSTITUTE_ANNOTATION: "disabled"}},
        "data": {"x": "${N}"}});
    let mut out = disabled.clone();
    object(
        &mut out,
        &vars(&[("N", "1")]),
        &BTreeSet::new(),
        Mode::default(),
    )
    .unwrap();
    assert_eq!(out, disabled);
    let escaped = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a"}, "data": {"x": "$${N}"}});
    let mut out = escaped.clone();
    object(
        &mut out,
        &BTreeMap::new(),
        &BTreeSet::new(),
        Mode::default(),
    )
    .unwrap();
    assert_eq!(out, escaped, "Flux substitutes nothing without variables");
}

#[test]
fn strict_mode_makes_an_unset_variable_an_error_naming_it() {
    let vars = BTreeMap::from([("cluster".to_string(), "prod".to_string())]);
    let doc = || {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"a": "${cluster}", "b": "${region}", "c": "${zone:=ch-gva-2}"}})
    };
    let mut lenient = doc();
    object(&mut lenient, &vars, &BTreeSet::new(), Mode::default()).unwrap();
    assert_eq!(
        lenient["data"],
        serde_json::json!({"a": "prod", "b": null, "c": "ch-gva-2"})
    );
    let err = object(&mut doc(), &vars, &BTreeSet::new(), STRICT)
        .unwrap_err()
        .to_string();
    // kustomize-controller's Ready message (BuildFailed), word for word.
    assert_eq!(
        err,
        "post build failed for 'ConfigMap.v1.[noGrp]/c': envsubst error: variable substitution failed: variable not set (strict mode): \"region\""
    );
}

const STRICT: Mode = Mode {
    strict: true,
    always: false,
};

#[test]
fn the_always_strategy_substitutes_defaults_without_any_variable() {
    let doc = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": "${replicas:=2}", "template": {"metadata": {"labels": {"tier": "${tier:-web}"}}}}});
    // WithVariables (the default): no variable, no substitution at all.
    let mut with_variables = doc.clone();
    object(
        &mut with_variables,
        &BTreeMap::new(),
        &BTreeSet::new(),
        STRICT,
    )
    .unwrap();
    assert_eq!(with_variables, doc);
    // Always: the defaults apply, re-typed as Flux's YAML round trip does.
    let always = Mode {
        strict: true,
        always: true,
    };
    let mut out = doc.clone();
    object(&mut out, &BTreeMap::new(), &BTreeSet::new(), always).unwrap();
    assert_eq!(out["spec"]["replicas"], json!(2));
    assert_eq!(out["spec"]["template"]["metadata"]["labels"]["tier"], "web");
    // And strict still refuses a bare unset variable.
    let mut bare = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": "${replicas}"}});
    assert_eq!(
        object(&mut bare, &BTreeMap::new(), &BTreeSet::new(), always)
            .unwrap_err()
            .to_string(),
        "post build failed for 'Deployment.v1.apps/web': envsubst error: variable substitution failed: variable not set (strict mode): \"replicas\""
    );
}

#[test]
fn an_object_labelled_or_annotated_substitute_disabled_is_left_alone_even_when_strict() {
    let always = Mode {
        strict: true,
        always: true,
    };
    for metadata in [
        json!({"name": "a", "labels": {SUBSTITUTE_ANNOTATION: "disabled"}}),
        json!({"name": "a", "annotations": {SUBSTITUTE_ANNOTATION: "disabled"}}),
    ] {
        let doc = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
            "data": {"x": "${UNSET}", "y": "${SET}"}});
        let mut out = doc.clone();
        object(&mut out, &vars(&[("SET", "1")]), &BTreeSet::new(), always).unwrap();
        assert_eq!(out, doc);
    }
    // Any other value substitutes.
    let mut enabled = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": {SUBSTITUTE_ANNOTATION: "enabled"}},
        "data": {"y": "${SET}"}});
    object(
        &mut enabled,
        &vars(&[("SET", "x")]),
        &BTreeSet::new(),
        always,
    )
    .unwrap();
    assert_eq!(enabled["data"]["y"], "x");
}

#[test]
fn a_dry_run_skips_substitute_from_found_or_not_and_keeps_substitute() {
    let sources = Variables {
        dry_run: true,
        ..Variables::default()
    };
    let post_build: PostBuild = serde_json::from_value(json!({
        "substitute": {"C": "inline"},
        "substituteFrom": [{"kind": "ConfigMap", "name": "absent"}]
    }))
    .unwrap();
    assert_eq!(
        variables(&post_build, &sources).unwrap(),
        vars(&[("C", "inline")])
    );
}

#[test]
fn an_unknown_substitute_strategy_is_refused_by_name() {
    let err = serde_json::from_value::<PostBuild>(json!({"substituteStrategy": "Sometimes"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("unknown variant `Sometimes`, expected `WithVariables` or `Always`"),
        "{err}"
    );
}

#[test]
fn substitute_overrides_substitute_from_and_missing_sources_fail() {
    let mut sources = Variables::default();
    sources.sources.insert(
        ("ConfigMap".into(), "vars".into()),
        vars(&[("A", "from-cm"), ("B", "line\nbreak")]),
    );
    sources.sources.insert(
        ("Secret".into(), "secret-vars".into()),
        vars(&[("A", "from-secret")]),
    );
    let mut post_build: PostBuild = serde_json::from_value(json!({
        "substitute": {"C": "inline"},
        "substituteFrom": [
            {"kind": "ConfigMap", "name": "vars"},
            {"kind": "Secret", "name": "secret-vars"},
            {"kind": "Secret", "name": "absent", "optional": true}
        ]
    }))
    .unwrap();
    let got = variables(&post_build, &sources).unwrap();
    assert_eq!(
        got,
        vars(&[("A", "from-secret"), ("B", "linebreak"), ("C", "inline")])
    );
    post_build
        .substitute
        .insert("A".into(), "inline-wins".into());
    assert_eq!(
        variables(&post_build, &sources).unwrap()["A"],
        "inline-wins"
    );

    post_build.substitute_from[2].optional = false;
    assert_eq!(
        variables(&post_build, &sources).unwrap_err().to_string(),
        "postBuild.substituteFrom: Secret/absent not found"
    );
    post_build.substitute_from.pop();
    post_build.substitute.insert("bad-name".into(), "x".into());
    assert!(matches!(
        variables(&post_build, &sources),
        Err(RenderError::VariableName { name }) if name == "bad-name"
    ));
}

#[test]
fn substitution_errors_name_the_object_and_no_value() {
    let mut secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"},
        "stringData": {"password": "${PASSWORD", "user": "${USER}"}});
    let err = object(
        &mut secret,
        &vars(&[("PASSWORD", "hunter2"), ("USER", "u")]),
        &BTreeSet::new(),
        Mode::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "post build failed for 'Secret.v1.[noGrp]/db': envsubst error: variable substitution failed: missing closing brace"
    );
}

#[test]
fn records_where_a_secret_variable_was_substituted_whatever_its_length() {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"pw": "${PW}", "url": "https://h/${PW}?x=${PLAIN}", "plain": "${PLAIN}",
            "size": "${#PW}", "lit": "ab"},
        "list": ["${PLAIN}", "${PW}"], "keys": {"k-${PW}": "v"}});
    let vars = vars(&[("PW", "ab"), ("PLAIN", "ab")]);
    let mut paths = object(
        &mut cm,
        &vars,
        &BTreeSet::from(["PW".to_string()]),
        Mode::default(),
    )
    .unwrap();
    paths.sort();
    assert_eq!(
        paths,
        ["/data/pw", "/data/size", "/data/url", "/keys", "/list/1"]
    );
    assert_eq!(cm["data"]["plain"], "ab");
}

#[test]
fn a_secret_variable_overridden_by_a_later_config_map_or_inline_is_not_secret() {
    let mut sources = Variables::default();
    sources.sources.insert(
        ("Secret".into(), "s".into()),
        vars(&[("A", "1"), ("B", "2"), ("C", "3")]),
    );
    sources
        .sources
        .insert(("ConfigMap".into(), "c".into()), vars(&[("B", "x")]));
    let post_build: PostBuild = serde_json::from_value(json!({
        "substitute": {"C": "inline"},
        "substituteFrom": [{"kind": "Secret", "name": "s"}, {"kind": "ConfigMap", "name": "c"}]
    }))
    .unwrap();
    assert_eq!(
        secret_variables(&post_build, &sources),
        BTreeSet::from(["A".to_string()])
    );
}
