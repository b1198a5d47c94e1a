//! A local checkout as a git source: the work tree is the head, and the
//! commits Flux applied are written out from its own object database (no
//! network). A directory that is not the top of a work tree is used as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tracing::info;

use super::*;

/// A local checkout's object database, and where its trees are written.
pub(super) struct LocalCheckout {
    /// The top of the work tree, as given.
    dir: PathBuf,
    /// Trees are written here; removed when the run ends.
    trees_dir: tempfile::TempDir,
}

impl LocalCheckout {
    /// Writes the tree of `commit` (a full sha) out from the object
    /// database; a commit it does not have is [`SourceError::NotInCheckout`].
    pub(super) async fn tree(&self, commit: &str) -> Result<Checkout, SourceError> {
        let dir = self.dir.clone();
        let dest_dir = self.trees_dir.path().to_path_buf();
        let wanted = commit.to_string();
        let url = self.dir.display().to_string();
        tokio::task::spawn_blocking(move || {
            let id = git::local_commit(&dir, &wanted)
                .map_err(|message| SourceError::Git {
                    url: url.clone(),
                    action: "open the checkout",
                    message,
                })?
                .ok_or_else(|| SourceError::NotInCheckout {
                    dir: dir.clone(),
                    revision: wanted.clone(),
                })?;
            let root = dest_dir.join(id.to_string());
            if !root.is_dir() {
                git::write_local_tree(&dir, id, &root).map_err(|message| {
                    SourceError::Checkout {
                        url: url.clone(),
                        commit: id.to_string(),
                        message,
                    }
                })?;
            }
            Ok(Checkout {
                root,
                url,
                revision: Some(id.to_string()),
                note: None,
            })
        })
        .await
        .unwrap_or_else(|e| {
            Err(SourceError::Git {
                url: self.dir.display().to_string(),
                action: "read the checkout",
                message: e.to_string(),
            })
        })
    }
}

/// Opens a local directory. The top of a git checkout is a git source: its
/// head is the work tree as it is (uncommitted changes included), or with
/// `revision` that commit's tree from the object database, and older commits
/// come from the object database too. Any other directory (not in a
/// checkout, or below the top of one) is used as it is, and `revision`
/// cannot be honoured for it.
pub(super) async fn open(path: &Path, revision: Option<&str>) -> Result<Repo, SourceError> {
    if !path.is_dir() {
        return Err(SourceError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let dir = path.to_path_buf();
    let kind = tokio::task::spawn_blocking(move || git::inspect(&dir))
        .await
        .unwrap_or(git::Local::Plain);
    let (head, dirty) = match kind {
        git::Local::Checkout { head, dirty } => (head.to_string(), dirty),
        other => {
            if let git::Local::Inside { top } = &other {
                info!(
                    dir = %path.display(),
                    checkout = %top.display(),
                    "Below the top of a git checkout: used as a plain directory (point --repo at the top to render the commits Flux applied)"
                );
            }
            if let Some(revision) = revision {
                return Err(SourceError::RevisionOfPlainDirectory {
                    dir: path.to_path_buf(),
                    revision: revision.to_string(),
                });
            }
            return Ok(Repo {
                head: Checkout {
                    root: path.to_path_buf(),
                    url: path.display().to_string(),
                    revision: None,
                    note: Some(
                        "local directory, used as it is (uncommitted changes included)".into(),
                    ),
                },
                store: None,
                trees: BTreeMap::new(),
            });
        }
    };
    let trees_dir = tempfile::Builder::new()
        .prefix("drift-check-trees-")
        .tempdir()
        .map_err(|source| SourceError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let store = LocalCheckout {
        dir: path.to_path_buf(),
        trees_dir,
    };
    let head = match revision {
        None => Checkout {
            root: path.to_path_buf(),
            url: path.display().to_string(),
            note: Some(if dirty {
                format!(
                    "local checkout at {head}, with uncommitted changes: the head is its work tree as it is, changes included"
                )
            } else {
                format!("local checkout at {head}, no uncommitted changes")
            }),
            revision: Some(head),
        },
        Some(revision) => {
            let wanted = crate::flux::revision_commit(revision);
            let mut checkout = store.tree(wanted).await?;
            checkout.note = Some(format!(
                "revision {wanted} asked for, read from the local checkout (its HEAD is {head})"
            ));
            checkout
        }
    };
    info!(dir = %path.display(), revision = head.revision.as_deref(), dirty, "Opened the local checkout");
    Ok(Repo {
        head,
        store: Some(Store::Local(store)),
        trees: BTreeMap::new(),
    })
}
