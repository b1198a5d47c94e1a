use super::fetching::read_dir_secret;
use super::*;

#[test]
fn an_override_names_a_source_and_anything_else_is_the_infra_repo() {
    assert_eq!(
        Override::parse("flux-system/apps=../apps"),
        Some(Override {
            namespace: "flux-system".into(),
            name: "apps".into(),
            location: Location::Dir("../apps".into()),
        })
    );
    assert_eq!(
        Override::parse("team-a/config=https://git.example/a.git")
            .unwrap()
            .location,
        Location::Url("https://git.example/a.git".into())
    );
    assert_eq!(Override::parse("./infra"), None);
    assert_eq!(Override::parse("https://h/x.git?a=b"), None);
    assert_eq!(Override::parse("Flux/apps=x"), None);
}

#[test]
fn a_mounted_secret_is_read_without_kubelet_links() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("username"), "u").unwrap();
    std::fs::create_dir(dir.path().join("..2026_data")).unwrap();
    std::fs::write(dir.path().join("..data"), "x").unwrap();
    let data = read_dir_secret(dir.path()).unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["username"]);
}

#[test]
fn includes_copy_the_included_tree_and_cycles_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let git = |name: &str, include: Value| {
        serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"url": format!("https://h/{name}.git"), "include": include}})
    };
    let objects = [
        git(
            "app",
            serde_json::json!([{"repository": {"name": "shared"}, "fromPath": "base", "toPath": "lib"}]),
        ),
        git("shared", serde_json::json!([])),
        git("a", serde_json::json!([{"repository": {"name": "b"}}])),
        git("b", serde_json::json!([{"repository": {"name": "a"}}])),
    ];
    let mut sources = Sources {
        objects: objects
            .iter()
            .map(|o| (SourceId::of(o).unwrap(), o.clone()))
            .collect(),
        generators: Vec::new(),
        repos: Vec::new(),
        fetched: BTreeMap::new(),
        composed: Vec::new(),
        work: dir.path().to_path_buf(),
        _temp: None,
    };
    for name in ["app", "shared", "a", "b"] {
        let root = dir.path().join(name);
        std::fs::create_dir_all(root.join("base")).unwrap();
        std::fs::write(root.join("base/x.yaml"), name).unwrap();
        sources.fetched.insert(
            (SourceId::new("GitRepository", "flux-system", name), None),
            Ok(Tree {
                root,
                revision: format!("main@sha1:{name}"),
            }),
        );
    }
    sources.apply_includes();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app/lib/x.yaml")).unwrap(),
        "shared"
    );
    let err = |name: &str| {
        sources.fetched[&(SourceId::new("GitRepository", "flux-system", name), None)]
            .as_ref()
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(err("app"), None);
    assert_eq!(
        err("a").unwrap(),
        "GitRepository/flux-system/a: spec.include makes a cycle: GitRepository/flux-system/a -> GitRepository/flux-system/b -> GitRepository/flux-system/a"
    );
    assert!(err("b").unwrap().contains("spec.include makes a cycle"));
}
