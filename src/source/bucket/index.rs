//! The revision source-controller gives a bucket's objects
//! (`internal/index.Digester`): the SHA-256 of one line `<key> <etag>\n` per
//! object, keys sorted, as `sha256:<hex>`.

use std::collections::BTreeMap;

use sha2::Digest;

/// Keys and their ETags (without quotes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index(BTreeMap<String, String>);

impl Index {
    pub fn add(&mut self, key: &str, etag: &str) {
        self.0.insert(key.to_string(), etag.to_string());
    }

    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `sha256:<hex>` of the sorted `<key> <etag>\n` lines.
    pub fn revision(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        for (key, etag) in &self.0 {
            hasher.update(key.as_bytes());
            hasher.update(b" ");
            hasher.update(etag.as_bytes());
            hasher.update(b"\n");
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256:{hex}")
    }
}

/// Whether an applied revision (`sha256:<hex>`, or the bare hex older Flux
/// versions recorded) names `current`.
pub fn revision_matches(applied: &str, current: &str) -> bool {
    let hex = |r: &str| {
        r.trim()
            .strip_prefix("sha256:")
            .unwrap_or(r.trim())
            .to_string()
    };
    hex(applied).eq_ignore_ascii_case(&hex(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_of_sorted_key_etag_lines() {
        let mut index = Index::default();
        index.add("b.yaml", "e2");
        index.add("a.yaml", "e1");
        // printf 'a.yaml e1\nb.yaml e2\n' | sha256sum
        assert_eq!(
            index.revision(),
            "sha256:8afc363cdafbc875e4cad9d466387e498c6cdc1c92dbb0ae0a51c6640e669aec"
        );
        assert_eq!(
            Index::default().revision(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(revision_matches(&index.revision(), &index.revision()));
        assert!(revision_matches(
            index.revision().trim_start_matches("sha256:"),
            &index.revision()
        ));
        assert!(!revision_matches("sha256:00", &index.revision()));
    }
}
