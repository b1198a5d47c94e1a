//! Stage `render`: what Flux's kustomize-controller would apply for one
//! Kustomization.
//!
//! Input: the source tree (a checked-out commit), one Flux [`Kustomization`]
//! and the `postBuild.substituteFrom` values the caller read ([`Variables`]).
//! Output: the objects, in kustomize's output order, exactly as the
//! controller would send them to the API server:
//!
//! 1. `flux` finds or generates the kustomization at `spec.path` (the
//!    generated one over what the artifact holds: `sourceignore`) and
//!    injects the spec (`targetNamespace`, `namePrefix`/`nameSuffix`,
//!    `patches`, `images`, `components`), as fluxcd/pkg
//!    `kustomize_generator.go` does;
//! 2. `kustomize`, the engine (its own errors, [`KustomizeError`]; no Flux
//!    in it), builds it natively (no subprocess) — or, with
//!    [`render_with_kustomize_binary`], `external` runs the real binary on
//!    a copy of the tree;
//! 3. `flux::substitute` runs `postBuild` variable substitution (fluxcd/pkg
//!    `kustomize_varsub.go`);
//! 4. `flux` stamps the owner labels, then `spec.commonMetadata`.
//!
//! Over every checked Kustomization, [`batch`] renders each at the commit
//! Flux applied and at its head, and keeps what the renders read.
//!
//! [`render`] is pure apart from reading files under the source root, and a
//! render either fails with one [`RenderError`] or is complete: there is no
//! partial render. The native engine is checked against kustomize 5.5 on the
//! cases of `fixtures/conformance` (`conformance` tests).

pub mod batch;
mod external;
mod flux;
mod folded;
mod inputs;
mod kustomize;
pub mod sops;
pub mod stored;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use batch::{Batch, Made, SourceRef};
pub use inputs::substitution_sources;
pub use kustomize::KustomizeError;
use kustomize::load;

use crate::files::Limits;
use crate::flux::{Kustomization, SubstituteStrategy};
use crate::k8s::object::{Compact, Object, ObjectKey};

/// What a Kustomization's render reads from the cluster: the ConfigMap and
/// Secret data of `postBuild.substituteFrom` by (kind, name), and what its
/// `spec.decryption` decrypts with.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub data: BTreeMap<(String, String), BTreeMap<String, String>>,
    pub decryption: sops::Decryption,
}

/// Values the caller read for `postBuild.substituteFrom`, keyed by (kind, name) — kind is "ConfigMap" or
/// "Secret" — from the Kustomization's namespace. A reference absent from the map is "not found".
/// Values are the decoded strings (a Secret's `data` base64-decoded), as Flux reads them.
#[derive(Clone, Debug, Default)]
pub struct Variables {
    pub sources: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// `substituteFrom` was not read (no cluster or snapshot): its
    /// references are skipped, found or not, and only `substitute` is used,
    /// as `flux build ks --dry-run` does (fluxcd/pkg `SubstituteWithDryRun`).
    pub dry_run: bool,
    /// An unset variable without a default is an error, as kustomize-controller
    /// with `--feature-gates=StrictPostBuildSubstitutions=true` makes it.
    pub strict: bool,
    /// What SOPS-encrypted objects are decrypted with (none: not decrypted,
    /// their encrypted values are not compared).
    pub decryption: sops::Decryption,
}

/// How to render.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The external kustomize binary for the build step (`None`: the native engine).
    pub kustomize_bin: Option<PathBuf>,
    /// Strict postBuild substitution (see [`Variables::strict`]).
    pub strict_substitution: bool,
    /// Decrypt SOPS-encrypted objects with the Kustomization's own keys
    /// ([`Sources::decryption`], read only when this is on).
    pub sops_decrypt: bool,
    /// How much one file of the source tree may hold.
    pub limits: Limits,
}

/// A Kustomization's render in this run.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub ks: Kustomization,
    /// Its objects, `None` when rendering failed.
    pub objects: Option<Vec<Compact>>,
    /// The commit rendered: the one Flux last applied when it could be read,
    /// else the head.
    pub revision: Option<String>,
    /// The commit Flux last applied could not be read (an error of stage
    /// `source` says so): `revision` is the head, standing in for it, and no
    /// drift of this Kustomization is explained as a pending reconcile,
    /// which only a render of the applied commit can tell.
    pub applied_unread: bool,
    /// When Flux has not applied the head yet: the head's render and commit,
    /// compared too, so that drift only the head has is "reconcile pending".
    pub head: Option<(Vec<Compact>, Option<String>)>,
}

impl Rendered {
    /// The identity of every object of these renders (at the applied commit).
    pub fn identities(rendered: &[Rendered]) -> std::collections::BTreeSet<ObjectKey> {
        rendered
            .iter()
            .flat_map(|r| r.objects.iter().flatten())
            .filter_map(|o| Some(o.reference()?.key()))
            .collect()
    }

    /// Every object rendered, at the applied commit and at the head.
    pub fn all_objects(&self) -> impl Iterator<Item = &Compact> {
        let at_head = self.head.iter().flat_map(|(objects, _)| objects);
        self.objects.iter().flatten().chain(at_head)
    }
}

/// One Kustomization's render, and where values from Secrets landed in it.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The objects, in kustomize's output order.
    pub objects: Vec<Object>,
    /// For each object (same order), the JSON Pointers of the values that
    /// postBuild substitution filled from a `substituteFrom` Secret: what
    /// `diff::mask` hides, whatever the values' length.
    pub secret_paths: Vec<Vec<String>>,
    /// What the reader should know about this render (e.g. values encrypted
    /// with SOPS that could not be decrypted, and why).
    pub notes: Vec<String>,
    /// Secrets generated from SOPS-encrypted files that were not decrypted:
    /// their name hash is not Flux's ([`sops::names`] finds the live name).
    pub unknown_hashes: Vec<sops::UnknownHash>,
}

/// Renders one Kustomization from the tree at `root` with its
/// `substituteFrom` data (`None`: not read, as `flux build ks --dry-run`),
/// natively or with the configured binary.
pub fn kustomization(
    root: &Path,
    ks: &Kustomization,
    sources: Option<&Sources>,
    options: &Options,
) -> Result<Output, RenderError> {
    let variables = Variables {
        sources: sources.map(|s| s.data.clone()).unwrap_or_default(),
        dry_run: sources.is_none(),
        strict: options.strict_substitution,
        decryption: sources
            .filter(|_| options.sops_decrypt)
            .map(|s| s.decryption.clone())
            .unwrap_or_default(),
    };
    let output = render_with(
        root,
        ks,
        &variables,
        options.kustomize_bin.as_deref(),
        options.limits,
    )?;
    tracing::info!(kustomization = %ks, objects = output.objects.len(), "Rendered");
    Ok(output)
}

/// Renders one Flux Kustomization from the source tree rooted at `root`, as kustomize-controller
/// would apply it: kustomize build of `root/spec.path` with Flux's generated kustomization and spec
/// injection, then postBuild substitution, then Flux owner labels and commonMetadata.
/// Objects in kustomize's output order.
pub fn render(
    root: &Path,
    kustomization: &Kustomization,
    variables: &Variables,
) -> Result<Vec<Object>, RenderError> {
    render_with(root, kustomization, variables, None, Limits::default()).map(|o| o.objects)
}

/// [`render`] with the real `kustomize` binary at `binary` doing the
/// kustomize build (Flux's preparation and post-processing stay the same),
/// for repositories using what the native engine refuses
/// ([`KustomizeError::Unsupported`], [`KustomizeError::Remote`]). The binary runs on
/// a temporary copy of the source tree.
pub fn render_with_kustomize_binary(
    root: &Path,
    kustomization: &Kustomization,
    variables: &Variables,
    binary: &Path,
) -> Result<Vec<Object>, RenderError> {
    render_with(
        root,
        kustomization,
        variables,
        Some(binary),
        Limits::default(),
    )
    .map(|o| o.objects)
}

fn render_with(
    root: &Path,
    kustomization: &Kustomization,
    variables: &Variables,
    binary: Option<&Path>,
    limits: Limits,
) -> Result<Output, RenderError> {
    let root = load::Root::new(root, limits)?;
    let (dir, kust, file) = flux::root_kustomization(&root, kustomization)?;
    let mut notes = Vec::new();
    // kustomize-controller decrypts the files generators read before the
    // build; drift-check in memory.
    let mut decrypted = sops::files::Decrypted::default();
    if kustomization.spec.decryption.is_some()
        && let sops::Decryption::Keys(keys) = &variables.decryption
        && binary.is_none()
    {
        decrypted = sops::files::decrypt_sources(&root, &dir, &kust, keys, &mut notes);
    }
    let root = root.with_plain(std::mem::take(&mut decrypted.plain));
    let mut objects: Vec<Object> = match binary {
        None => {
            let resources = kustomize::build_root(&root, &dir, &kust, &file)?;
            // kustomize-controller checks every built object has an identity.
            for r in &resources {
                check_identity(&r.object, &r.origin, "after the kustomize build")?;
            }
            resources.into_iter().map(|r| r.object).collect()
        }
        Some(binary) => {
            let objects = external::build(&root, &dir, &kust, binary)?;
            let origin = format!("output of {}", binary.display());
            for object in &objects {
                check_identity(object, &origin, "after the kustomize build")?;
            }
            objects
        }
    };
    let mut secret_paths = vec![Vec::new(); objects.len()];
    let mut unknown_hashes = Vec::new();
    if kustomization.spec.decryption.is_some() {
        sops::render(
            &mut objects,
            &variables.decryption,
            &decrypted.values,
            &mut secret_paths,
            &mut notes,
            &mut unknown_hashes,
        )?;
    }
    if let Some(post_build) = &kustomization.spec.post_build {
        let vars = flux::substitute::variables(post_build, variables)?;
        let secret = flux::substitute::secret_variables(post_build, variables);
        let mode = flux::substitute::Mode {
            strict: variables.strict,
            always: post_build.substitute_strategy == SubstituteStrategy::Always,
        };
        for (object, paths) in objects.iter_mut().zip(&mut secret_paths) {
            let subject = kustomize::Resource::new(object.clone(), "").subject();
            paths.extend(flux::substitute::object(object, &vars, &secret, mode)?);
            check_identity(object, &subject, "after postBuild substitution")?;
        }
    }
    for object in &mut objects {
        flux::set_owner_labels(object, kustomization);
        flux::set_common_metadata(object, kustomization.spec.common_metadata.as_ref());
    }
    Ok(Output {
        objects,
        secret_paths,
        notes,
        unknown_hashes,
    })
}

/// Fails unless the object has an apiVersion, a kind and a name.
fn check_identity(object: &Object, origin: &str, when: &'static str) -> Result<(), RenderError> {
    let has = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let missing = [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ]
    .into_iter()
    .find(|(pointer, _)| !has(pointer))
    .map(|(_, name)| name);
    match missing {
        Some(missing) => Err(KustomizeError::Identity {
            origin: origin.to_string(),
            when,
            missing,
        }
        .into()),
        None => Ok(()),
    }
}

/// A serde error about the shape of a document, with every quoted value
/// removed (serde quotes the unexpected string, which may be a Secret's):
/// field names, written in backticks, stay.
pub(crate) fn describe(error: &serde_json::Error) -> String {
    static QUOTED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let quoted = QUOTED.get_or_init(|| {
        regex::Regex::new(r#""(?:[^"\\]|\\.)*""#).expect("a valid regular expression")
    });
    quoted.replace_all(&error.to_string(), "\"…\"").into_owned()
}

/// Why a Kustomization could not be rendered. Paths are relative to the
/// source root. No message quotes a value of a Secret or a variable.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The kustomize engine failed (a file, a kustomization, a transformer).
    #[error(transparent)]
    Kustomize(#[from] KustomizeError),
    /// The external kustomize binary could not run or failed (its last
    /// line of error output, quoted values removed).
    #[error("{binary}: kustomize build failed: {message}")]
    External { binary: String, message: String },
    /// A file of a directory Flux scans for its generated kustomization is
    /// not Kubernetes YAML.
    #[error("{file}: failed to decode Kubernetes YAML: {message}")]
    Generate { file: String, message: String },
    /// `postBuild.substituteFrom` names a ConfigMap or Secret that is not
    /// there and is not `optional`.
    #[error("postBuild.substituteFrom: {kind}/{name} not found")]
    VariablesNotFound { kind: String, name: String },
    /// A variable name does not match `^[_[:alpha:]][_[:alpha:][:digit:]]*$`.
    #[error(
        "postBuild: variable name {name:?} is invalid, must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$"
    )]
    VariableName { name: String },
    /// `spec.decryption` is set and an object is SOPS-encrypted with a
    /// field that names it encrypted too.
    #[error(
        "spec.decryption: {object} is SOPS-encrypted with its {field} encrypted too: drift-check cannot tell which live object it is without the key (encrypt only data and stringData: encrypted_regex: ^(data|stringData)$)"
    )]
    EncryptedIdentity { object: String, field: &'static str },
    /// The substitution syntax in an object is malformed, a variable is
    /// unset under strict substitution, or the result is not valid YAML.
    /// Worded as kustomize-controller's `BuildFailed` message (`object`:
    /// `Kind.version.group/name`, kustomize's `Gvk.String()`); names no value.
    #[error(
        "post build failed for '{object}': envsubst error: variable substitution failed: {message}"
    )]
    Substitute { object: String, message: String },
}

/// A file refused by the tree (a symlink out of the root, a FIFO, a file
/// over the size limit), as the engine reports it.
impl From<crate::files::FileError> for RenderError {
    fn from(error: crate::files::FileError) -> Self {
        RenderError::Kustomize(KustomizeError::File(error))
    }
}

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;
