//! SOPS-encrypted files that generators read, decrypted in memory before
//! the build, as kustomize-controller decrypts them on disk.
//!
//! kustomize-controller (`internal/decryptor` `DecryptSources`, v1.9) walks
//! the kustomization at `spec.path` and those its `resources` and
//! `components` directories hold, and decrypts, before `kustomize build`:
//! each `secretGenerator` `files` entry (format from the key's extension:
//! `.yaml`/`.yml`, `.json`, `.env`, `.ini`, `.dockerconfigjson` as JSON,
//! anything else binary), each `envs` entry (from the path's extension,
//! dotenv when binary) and each `patches` `path`; a file is decrypted when
//! it holds the SOPS MAC marker of that format. `configMapGenerator` inputs
//! are not decrypted. drift-check does the same into a [`Plain`] the build
//! reads through ([`Root::with_plain`]), never to disk: the generated
//! Secret then has the decrypted values, and the name hash, Flux's has.
//! A file the keys do not open, or one drift-check cannot write back
//! exactly as SOPS does ([`super::emit`]), stays encrypted: one note, and
//! its values are not compared.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::decrypt::{self, Keys};
use super::emit::{self, DotenvLine};
use crate::render::kustomize::KustFile;
use crate::render::load::{self, Plain, Root};

/// A SOPS store format (getsops/sops `formats.Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Binary,
    Dotenv,
    Ini,
    Json,
    Yaml,
}

impl Format {
    /// kustomize-controller's `formatForPath`: SOPS's `FormatForPath`, and
    /// `.dockerconfigjson` as JSON.
    fn for_path(path: &str) -> Self {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            Format::Yaml
        } else if path.ends_with(".json") || path.ends_with(".dockerconfigjson") {
            Format::Json
        } else if path.ends_with(".ini") {
            Format::Ini
        } else if path.ends_with(".env") {
            Format::Dotenv
        } else {
            Format::Binary
        }
    }

    /// The bytes that mark a file of this format as SOPS-encrypted
    /// (`sopsFormatToMarkerBytes`; binary files are a JSON envelope).
    fn marker(self) -> &'static [u8] {
        match self {
            Format::Binary | Format::Json => b"\"mac\": \"ENC[",
            Format::Dotenv => b"sops_mac=ENC[",
            Format::Ini => b"[sops]",
            Format::Yaml => b"mac: ENC[",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Dotenv => "dotenv",
            Format::Ini => "INI",
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        }
    }
}

/// What the walk decrypted: the files, and every decrypted value (and whole
/// decrypted file), to mask wherever the build puts them.
#[derive(Default)]
pub struct Decrypted {
    pub plain: Plain,
    pub values: BTreeSet<String>,
}

/// Decrypts the generator inputs and patch files of the kustomization `kust`
/// of `dir` and of the kustomizations below it. Files that do not open are
/// notes; files that are missing or refused are left to the build, which
/// names them.
pub fn decrypt_sources(
    root: &Root,
    dir: &Path,
    kust: &KustFile,
    keys: &Keys,
    notes: &mut Vec<String>,
) -> Decrypted {
    let mut walk = Walk {
        root,
        keys,
        dirs: BTreeSet::new(),
        files: BTreeSet::new(),
        out: Decrypted::default(),
        notes,
    };
    walk.kustomization(dir, kust, &root.rel(dir));
    walk.out
}

struct Walk<'a> {
    root: &'a Root,
    keys: &'a Keys,
    dirs: BTreeSet<PathBuf>,
    files: BTreeSet<PathBuf>,
    out: Decrypted,
    notes: &'a mut Vec<String>,
}

impl Walk<'_> {
    fn kustomization(&mut self, dir: &Path, kust: &KustFile, file: &str) {
        if !self.dirs.insert(dir.to_path_buf()) {
            return;
        }
        let strings = |value: &Value, field: &str| -> Vec<String> {
            value
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        for generator in &kust.secret_generator {
            for entry in strings(generator, "files") {
                let (key, path) = entry.split_once('=').unwrap_or((&entry, &entry));
                self.file(dir, path, Format::for_path(key), file);
            }
            for env in strings(generator, "envs") {
                let format = match Format::for_path(&env) {
                    Format::Binary => Format::Dotenv,
                    other => other,
                };
                self.file(dir, &env, format, file);
            }
        }
        for patch in &kust.patches {
            if let Some(path) = patch.get("path").and_then(Value::as_str)
                && !load::is_remote(path)
            {
                self.file(dir, path, Format::for_path(path), file);
            }
        }
        for entry in kust.resources.iter().chain(&kust.components) {
            if load::is_remote(entry) {
                continue;
            }
            let Ok(path) = self.root.resolve(dir, entry, file, "resources") else {
                continue;
            };
            if !self.root.is_dir(&path).unwrap_or(false) {
                continue;
            }
            let Ok(Some(kpath)) = self.root.kustomization_file(&path) else {
                continue;
            };
            if let Ok(sub) = KustFile::read(self.root, &kpath) {
                self.kustomization(&path, &sub, &self.root.rel(&kpath));
            }
        }
    }

    fn file(&mut self, dir: &Path, entry: &str, format: Format, file: &str) {
        let Ok(path) = self.root.resolve(dir, entry, file, "secretGenerator") else {
            return;
        };
        if !self.files.insert(path.clone()) {
            return;
        }
        let Ok(bytes) = self.root.read_bytes(&path) else {
            return;
        };
        if !bytes
            .windows(format.marker().len())
            .any(|w| w == format.marker())
        {
            return;
        }
        let rel = self.root.rel(&path);
        match decrypt_file(self.root, &bytes, format, &rel, self.keys) {
            Ok((content, values)) => {
                self.out.values.extend(values);
                if let Ok(text) = String::from_utf8(content.clone()) {
                    self.out.values.insert(text);
                }
                self.out.plain.insert(path, content);
            }
            Err(why) => self.notes.push(format!(
                "{rel}: SOPS-encrypted {} file not decrypted, its values not compared: {why}",
                format.name()
            )),
        }
    }
}

/// One file decrypted and written as SOPS writes it, with its decrypted
/// values; why not, naming no value.
fn decrypt_file(
    root: &Root,
    bytes: &[u8],
    format: Format,
    rel: &str,
    keys: &Keys,
) -> Result<(Vec<u8>, Vec<String>), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
    match format {
        Format::Dotenv => dotenv(text, keys),
        Format::Json | Format::Binary => {
            let document: Value =
                serde_json::from_str(text).map_err(|e| format!("not JSON: line {}", e.line()))?;
            let (document, values) = open(document, keys)?;
            if format == Format::Json {
                Ok((emit::json(&document).map_err(|e| e.0.to_string())?, values))
            } else {
                match document.get("data") {
                    Some(Value::String(data)) => Ok((data.clone().into_bytes(), values)),
                    _ => Err("a binary SOPS file without a data string".into()),
                }
            }
        }
        Format::Yaml => {
            let mut documents = root.parse_documents(text, rel).map_err(|e| e.to_string())?;
            if documents.len() != 1 {
                return Err("several YAML documents (not written back exactly)".into());
            }
            let (document, values) = open(documents.remove(0), keys)?;
            Ok((
                emit::yaml(&document, text).map_err(|e| e.0.to_string())?,
                values,
            ))
        }
        Format::Ini => Err("INI files are not supported".into()),
    }
}

/// A parsed SOPS document decrypted, its `sops` metadata removed.
fn open(document: Value, keys: &Keys) -> Result<(Map<String, Value>, Vec<String>), String> {
    let Value::Object(mut map) = document else {
        return Err("not a mapping".into());
    };
    let Some(Value::Object(sops)) = map.shift_remove("sops") else {
        return Err("no sops metadata".into());
    };
    let mut document = Value::Object(map);
    let paths = decrypt::object(&mut document, &sops, keys).map_err(|e| e.to_string())?;
    let values = paths
        .iter()
        .filter_map(|p| document.pointer(p))
        .map(leaf_text)
        .collect();
    match document {
        Value::Object(map) => Ok((map, values)),
        _ => unreachable!("decrypting keeps a mapping a mapping"),
    }
}

fn leaf_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A dotenv file as SOPS's dotenv store reads it (`KEY=value` lines, `\n`
/// for newlines, `#` comments, `sops_*` metadata flattened), decrypted.
fn dotenv(text: &str, keys: &Keys) -> Result<(Vec<u8>, Vec<String>), String> {
    let mut lines = Vec::new();
    let mut variables = Map::new();
    let mut metadata = Map::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.starts_with("ENC[") {
                return Err("an encrypted comment (not written back exactly)".into());
            }
            lines.push(DotenvLine::Comment(comment.to_string()));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: no = in it", i + 1))?;
        let value = value.replace("\\n", "\n");
        if let Some(field) = key.strip_prefix("sops_") {
            metadata.insert(field.to_string(), Value::from(value));
        } else {
            variables.insert(key.to_string(), Value::from(value));
            lines.push(DotenvLine::Variable(key.to_string(), Value::Null));
        }
    }
    let mut plain = Value::Object(variables);
    let paths =
        decrypt::object(&mut plain, &unflatten(metadata), keys).map_err(|e| e.to_string())?;
    let values = paths
        .iter()
        .filter_map(|p| plain.pointer(p))
        .map(leaf_text)
        .collect();
    for line in &mut lines {
        if let DotenvLine::Variable(key, value) = line {
            *value = plain.get(key.as_str()).cloned().unwrap_or_default();
        }
    }
    let content = emit::dotenv(&lines).map_err(|e| e.0.to_string())?;
    Ok((content, values))
}

/// SOPS metadata flattened into dotenv keys (`age__list_0__map_enc`,
/// `mac_only_encrypted`, …) as the `sops` mapping of a YAML file.
pub fn unflatten(flat: Map<String, Value>) -> Map<String, Value> {
    let mut sops = Map::new();
    for (key, value) in flat {
        let text = value.as_str().unwrap_or_default().to_string();
        if let Some((list, rest)) = key.split_once("__list_")
            && let Some((index, field)) = rest.split_once("__map_")
            && let Ok(index) = index.parse::<usize>()
            && index < 1000
        {
            let items = sops
                .entry(list.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = items {
                if items.len() <= index {
                    items.resize_with(index + 1, || Value::Object(Map::new()));
                }
                if let Value::Object(item) = &mut items[index] {
                    item.insert(field.to_string(), Value::from(text));
                }
            }
        } else if key == "mac_only_encrypted" {
            sops.insert(key, Value::from(text == "true"));
        } else {
            sops.insert(key, Value::from(text));
        }
    }
    sops
}

/// Adds to `paths` where decrypted values landed in an object: a Secret's
/// `data` (base64) or `stringData` value that is one, or any other string
/// field of 6 characters or more that is one (a decrypted patch's).
pub fn mask(object: &Value, values: &BTreeSet<String>, paths: &mut Vec<String>) {
    let secret = object.get("kind").and_then(Value::as_str) == Some("Secret");
    let mut found = Vec::new();
    walk_strings(object, &mut String::new(), &mut |pointer, text| {
        let hit = if secret && pointer.starts_with("/data/") {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .is_some_and(|plain| values.contains(&plain))
        } else if secret && pointer.starts_with("/stringData/") {
            values.contains(text)
        } else {
            text.len() >= 6 && values.contains(text)
        };
        if hit {
            found.push(pointer.to_string());
        }
    });
    for pointer in found {
        if !paths.contains(&pointer) {
            paths.push(pointer);
        }
    }
}

fn walk_strings(value: &Value, pointer: &mut String, visit: &mut impl FnMut(&str, &str)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&crate::k8s::object::escape_pointer_token(key));
                walk_strings(child, pointer, visit);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                walk_strings(child, pointer, visit);
                pointer.truncate(len);
            }
        }
        Value::String(text) => visit(pointer, text),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::files::Limits;

    fn keys() -> Keys {
        let data = BTreeMap::from([(
            "age.agekey".to_string(),
            include_str!("testdata/test.agekey").to_string(),
        )]);
        Keys::from_secret("Secret/flux-system/sops-age".into(), &data).unwrap()
    }

    /// A tree with the fixtures (encrypted by the real sops) where the
    /// kustomization at `app/` and its base read them.
    fn tree(kustomization: &str) -> (tempfile::TempDir, Root, KustFile) {
        let dir = tempfile::tempdir().unwrap();
        let files: [(&str, &[u8]); 6] = [
            ("app/kustomization.yaml", kustomization.as_bytes()),
            ("app/app.env", include_bytes!("testdata/app.env")),
            (
                "app/config.yaml",
                include_bytes!("testdata/config.sops.yaml"),
            ),
            ("app/creds.json", include_bytes!("testdata/creds.sops.json")),
            (
                "app/base/kustomization.yaml",
                b"secretGenerator:\n- name: token\n  files:\n  - token.txt\n",
            ),
            (
                "app/base/token.txt",
                include_bytes!("testdata/token.sops.txt"),
            ),
        ];
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let root = Root::new(dir.path(), Limits::default()).unwrap();
        let kpath = root.path().join("app/kustomization.yaml");
        let kust = KustFile::read(&root, &kpath).unwrap();
        (dir, root, kust)
    }

    #[test]
    fn generator_inputs_decrypt_to_the_bytes_sops_writes_for_each_format() {
        let (_dir, root, kust) = tree(
            "resources:\n- base\nsecretGenerator:\n- name: app\n  envs:\n  - app.env\n  files:\n  - config.yaml\n  - .dockerconfigjson=creds.json\n",
        );
        let mut notes = Vec::new();
        let dir = root.path().join("app");
        let decrypted = decrypt_sources(&root, &dir, &kust, &keys(), &mut notes);
        assert_eq!(notes, Vec::<String>::new());
        // Each as `sops --decrypt` writes it (SOPS's EmitPlainFile, which
        // kustomize-controller writes back to disk).
        for (file, plain) in [
            ("app/app.env", &include_bytes!("testdata/app.plain.env")[..]),
            (
                "app/config.yaml",
                include_bytes!("testdata/config.plain.yaml"),
            ),
            (
                "app/creds.json",
                include_bytes!("testdata/creds.plain.json"),
            ),
            (
                "app/base/token.txt",
                include_bytes!("testdata/token.plain.txt"),
            ),
        ] {
            let got = decrypted.plain.get(&root.path().join(file));
            assert_eq!(
                got.map(String::from_utf8_lossy),
                Some(String::from_utf8_lossy(plain)),
                "{file}"
            );
        }
        for value in [
            "k3y-canary",
            "yaml-canary-2c9d",
            "json-canary-8b1f",
            "bin-canary-55e0\nsecond line\n",
        ] {
            assert!(decrypted.values.contains(value), "{value}");
        }
    }

    #[test]
    fn files_a_config_map_reads_are_not_decrypted_and_a_wrong_key_is_one_note() {
        // kustomize-controller decrypts secretGenerator inputs only.
        let (_dir, root, kust) = tree(
            "configMapGenerator:\n- name: app\n  files:\n  - config.yaml\nsecretGenerator:\n- name: app\n  envs:\n  - app.env\n",
        );
        let other = BTreeMap::from([(
            "a.agekey".to_string(),
            "AGE-SECRET-KEY-1N343ZJ5YGLM64VH6MY8CVU2LFK5YWJMME7J204KWYSUVTCZCLG9QU5PUNG"
                .to_string(),
        )]);
        let other = Keys::from_secret("Secret/flux-system/other".into(), &other).unwrap();
        let mut notes = Vec::new();
        let dir = root.path().join("app");
        let decrypted = decrypt_sources(&root, &dir, &kust, &other, &mut notes);
        assert!(decrypted.plain.is_empty() && decrypted.values.is_empty());
        assert_eq!(
            notes,
            [
                "app/app.env: SOPS-encrypted dotenv file not decrypted, its values not compared: no key of Secret/flux-system/other decrypts its data key (it is encrypted for age1kmyd7hygcjuhmwvrctpk20lys8nhkl4e6xsg853nwvagecsgl3dqmztegh)"
            ]
        );
    }

    #[test]
    fn decrypted_values_are_masked_where_the_build_put_them() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let values = BTreeSet::from(["k3y-canary".to_string(), "ok".to_string()]);
        let secret = serde_json::json!({"kind": "Secret", "data": {"API_KEY": b64("k3y-canary"), "MODE": b64("fast")},
            "stringData": {"short": "ok"}});
        let mut paths = Vec::new();
        mask(&secret, &values, &mut paths);
        assert_eq!(paths, ["/data/API_KEY", "/stringData/short"]);
        let deployment = serde_json::json!({"kind": "Deployment", "spec": {"env": [{"value": "k3y-canary"}, {"value": "ok"}]}});
        let mut paths = Vec::new();
        mask(&deployment, &values, &mut paths);
        assert_eq!(paths, ["/spec/env/0/value"]);
    }
}
