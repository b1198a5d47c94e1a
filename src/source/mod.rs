//! Stage `source`: the git tree to render.
//!
//! Input: `--repo`, here a local directory (a checkout, or a plain tree).
//! Output: a [`Checkout`]: the root to render from, its URL for reports, and
//! the commit when known. (Cloning with gix at the revision Flux applied is
//! the next step of this stage.)

use std::path::{Path, PathBuf};

/// A tree ready to render.
#[derive(Clone, Debug)]
pub struct Checkout {
    pub root: PathBuf,
    /// Where it came from, for reports (a URL or the directory as given).
    pub url: String,
    /// The commit, when known.
    pub revision: Option<String>,
    /// How the tree was read, when people should know.
    pub note: Option<String>,
}

/// The repo could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `--repo` names a directory that does not exist or is not a directory.
    #[error("{}: not a directory (--repo takes the infra repo's checkout)", path.display())]
    NotADirectory { path: PathBuf },
}

/// Uses a local directory as it is, uncommitted changes included.
pub fn local(path: &Path) -> Result<Checkout, SourceError> {
    if !path.is_dir() {
        return Err(SourceError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(Checkout {
        root: path.to_path_buf(),
        url: path.display().to_string(),
        revision: None,
        note: Some("local directory, used as it is (uncommitted changes included)".into()),
    })
}
