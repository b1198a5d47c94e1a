//! Unpacking a fetched artifact (an OCI layer, a copied `.tgz`) into the
//! directory a source's tree is rendered from, with the rules Flux's own
//! untar applies (fluxcd/pkg `tar.Untar`, as source-controller and
//! kustomize-controller call it) and the bounds of one fetch:
//!
//! - the body must be gzip (`requires gzip-compressed body`);
//! - no entry name that is empty, absolute, holds a backslash or a `..`
//!   component (fluxcd/pkg `validRelPath` refuses `../`; a trailing `..` is
//!   refused here too);
//! - symbolic and hard links are not written (source-controller passes
//!   `WithSkipSymlinks`); one that points out of the tree is an error, since
//!   an artifact that tries it was made to attack its reader;
//! - devices, fifos and other special files are an error;
//! - the bytes written stop at [`FetchLimits::unpacked_bytes`] and the files
//!   at [`FetchLimits::files`]: a decompression bomb ends there, counted
//!   from the tar headers before anything is written, then from the bytes
//!   actually read.
//!
//! Nothing is ever written through a link: links are never created, and the
//! destination starts empty.

pub mod ignore;

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::fetch::FetchLimits;

/// What an artifact unpacked to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// Regular files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Links left out (as Flux leaves them out).
    pub links_skipped: u64,
}

/// Why an artifact could not be unpacked. The caller names the artifact.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The body does not start with gzip's magic bytes.
    #[error("is not a tar.gz (no gzip header)")]
    NotGzip,
    /// The gzip stream or the tar inside it is broken.
    #[error("is not a valid tar.gz: {0}")]
    Corrupt(String),
    /// An entry's name is absolute, empty, or climbs out of the tree.
    #[error("entry {entry:?}: path outside the tree (absolute, empty or with `..`), refused")]
    PathOutside { entry: String },
    /// A symbolic or hard link points out of the tree.
    #[error("entry {entry:?}: link to {target:?} points out of the tree, refused")]
    LinkOutside { entry: String, target: String },
    /// A device, fifo or other special file.
    #[error("entry {entry:?}: unsupported file type ({kind})")]
    Unsupported { entry: String, kind: String },
    /// More bytes than the limit (a decompression bomb, or simply too big).
    #[error(
        "unpacks to more than {limit} bytes (at entry {entry:?}): refused as a decompression bomb"
    )]
    TooLarge { entry: String, limit: u64 },
    /// More files than the limit.
    #[error("holds more than {limit} files: refused")]
    TooManyFiles { limit: u64 },
    /// The destination cannot be written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Unpacks the gzip-compressed tar read from `body` into `dest` (created
/// when missing) under Flux's rules and `limits`.
pub fn untar_gz(
    body: impl Read,
    dest: &Path,
    limits: &FetchLimits,
) -> Result<Unpacked, UnpackError> {
    let mut body = std::io::BufReader::new(body);
    let mut magic = [0u8; 2];
    let mut read = 0;
    while read < 2 {
        match body.read(&mut magic[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(UnpackError::Corrupt(e.to_string())),
        }
    }
    if read < 2 || magic != [0x1f, 0x8b] {
        return Err(UnpackError::NotGzip);
    }
    let gz = flate2::read::GzDecoder::new(std::io::Cursor::new(magic).chain(body));
    let mut archive = tar::Archive::new(gz);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { path, source }
    };
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let mut out = Unpacked::default();
    let mut declared: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|e| UnpackError::Corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| UnpackError::Corrupt(e.to_string()))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let relative = relative_path(&name).ok_or_else(|| UnpackError::PathOutside {
            entry: name.clone(),
        })?;
        let kind = entry.header().entry_type();
        declared = declared.saturating_add(entry.header().size().unwrap_or(0));
        if declared > limits.unpacked_bytes {
            return Err(UnpackError::TooLarge {
                entry: name,
                limit: limits.unpacked_bytes,
            });
        }
        let target = dest.join(&relative);
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if out.files >= limits.files {
                    return Err(UnpackError::TooManyFiles {
                        limit: limits.files,
                    });
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let mode = entry.header().mode().unwrap_or(0o644);
                let file = create_file(&target, mode).map_err(io(&target))?;
                let room = limits.unpacked_bytes - out.bytes;
                let mut bounded = (&mut entry).take(room.saturating_add(1));
                let mut writer = std::io::BufWriter::new(file);
                let written =
                    std::io::copy(&mut bounded, &mut writer).map_err(|e| match e.kind() {
                        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                            UnpackError::Corrupt(e.to_string())
                        }
                        _ => UnpackError::Io {
                            path: target.clone(),
                            source: e,
                        },
                    })?;
                if written > room {
                    return Err(UnpackError::TooLarge {
                        entry: name,
                        limit: limits.unpacked_bytes,
                    });
                }
                use std::io::Write;
                writer.flush().map_err(io(&target))?;
                out.bytes += written;
                out.files += 1;
            }
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io(&target))?;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                // A symlink resolves from its own directory, a hard link
                // from the top of the archive.
                let base = if kind == tar::EntryType::Symlink {
                    relative.parent().map(Path::to_path_buf).unwrap_or_default()
                } else {
                    PathBuf::new()
                };
                if !stays_inside(&base, &link) {
                    return Err(UnpackError::LinkOutside {
                        entry: name,
                        target: link,
                    });
                }
                out.links_skipped += 1;
            }
            // Headers that only carry metadata for the next entry.
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => {}
            other => {
                return Err(UnpackError::Unsupported {
                    entry: name,
                    kind: format!("{other:?}"),
                });
            }
        }
    }
    Ok(out)
}

/// The entry's path inside the tree, or `None` when it may not be written:
/// empty, absolute, with a backslash or a `..` component. `./` is dropped.
fn relative_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\\') || name.starts_with('/') {
        return None;
    }
    let mut path = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if path.as_os_str().is_empty() {
        // `./`: the top directory itself.
        return Some(PathBuf::new());
    }
    Some(path)
}

/// Whether `target`, resolved from `base` (a directory inside the tree),
/// stays inside the tree.
fn stays_inside(base: &Path, target: &str) -> bool {
    if target.starts_with('/') || target.contains('\\') {
        return false;
    }
    let mut depth: i64 = base.components().count() as i64;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Creates a file with the tar entry's permission bits (owner read/write
/// always, others never write). A later entry of the same name replaces the
/// earlier one, as with Flux's untar; what is there is always a file this
/// function wrote (links are never created), so nothing is followed.
fn create_file(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode((mode & 0o755) | 0o600)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            open()
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn limits() -> FetchLimits {
        FetchLimits {
            unpacked_bytes: 1 << 20,
            files: 100,
            ..FetchLimits::default()
        }
    }

    /// A tar.gz with raw headers, so that names the `tar` builder refuses
    /// (`../`, absolute) can be written as an attacker would.
    fn targz(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut header = tar::Header::new_gnu();
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            if !link.is_empty() {
                let l = link.as_bytes();
                header.as_old_mut().linkname[..l.len()].copy_from_slice(l);
            }
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn unpack(body: &[u8]) -> (tempfile::TempDir, Result<Unpacked, UnpackError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = untar_gz(body, &dir.path().join("tree"), &limits());
        (dir, result)
    }

    #[test]
    fn writes_files_and_directories() {
        let body = targz(&[
            ("apps/", tar::EntryType::Directory, b"", ""),
            ("apps/cm.yaml", tar::EntryType::Regular, b"a: 1\n", ""),
            ("./top.yaml", tar::EntryType::Regular, b"b: 2\n", ""),
        ]);
        let (dir, result) = unpack(&body);
        assert_eq!(
            result.unwrap(),
            Unpacked {
                files: 2,
                bytes: 10,
                links_skipped: 0
            }
        );
        let tree = dir.path().join("tree");
        assert_eq!(
            std::fs::read_to_string(tree.join("apps/cm.yaml")).unwrap(),
            "a: 1\n"
        );
        assert_eq!(
            std::fs::read_to_string(tree.join("top.yaml")).unwrap(),
            "b: 2\n"
        );
    }

    #[test]
    fn refuses_paths_out_of_the_tree() {
        for name in [
            "../escaped.yaml",
            "apps/../../x",
            "/etc/x",
            "a\\b",
            "apps/..",
        ] {
            let body = targz(&[(name, tar::EntryType::Regular, b"x", "")]);
            let (dir, result) = unpack(&body);
            match result {
                Err(UnpackError::PathOutside { entry }) => assert_eq!(entry, name),
                other => panic!("{name}: {other:?}"),
            }
            assert!(!dir.path().join("escaped.yaml").exists());
        }
    }

    #[test]
    fn skips_links_inside_and_refuses_links_out() {
        let body = targz(&[
            ("a.yaml", tar::EntryType::Regular, b"x", ""),
            ("dir/link", tar::EntryType::Symlink, b"", "../a.yaml"),
            ("hard", tar::EntryType::Link, b"", "a.yaml"),
        ]);
        let (dir, result) = unpack(&body);
        assert_eq!(result.unwrap().links_skipped, 2);
        assert!(!dir.path().join("tree/dir/link").exists());
        for (kind, target) in [
            (tar::EntryType::Symlink, "../../etc/passwd"),
            (tar::EntryType::Symlink, "/etc/passwd"),
            (tar::EntryType::Link, "../outside"),
        ] {
            let body = targz(&[("dir/link", kind, b"", target)]);
            let (_dir, result) = unpack(&body);
            let err = result.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("entry \"dir/link\": link to {target:?} points out of the tree, refused")
            );
        }
    }

    #[test]
    fn stops_a_decompression_bomb_at_the_limit() {
        let zeros = vec![0u8; 2 << 20];
        let body = targz(&[("bomb.yaml", tar::EntryType::Regular, &zeros, "")]);
        assert!(body.len() < 16 << 10, "{}", body.len());
        let (dir, result) = unpack(&body);
        assert_eq!(
            result.unwrap_err().to_string(),
            format!(
                "unpacks to more than {} bytes (at entry \"bomb.yaml\"): refused as a decompression bomb",
                1 << 20
            )
        );
        assert!(!dir.path().join("tree/bomb.yaml").exists());
    }

    #[test]
    fn refuses_too_many_files_special_files_and_non_gzip() {
        let many: Vec<String> = (0..101).map(|i| format!("f{i}")).collect();
        let entries: Vec<_> = many
            .iter()
            .map(|n| (n.as_str(), tar::EntryType::Regular, &b"x"[..], ""))
            .collect();
        let (_d, result) = unpack(&targz(&entries));
        assert_eq!(
            result.unwrap_err().to_string(),
            "holds more than 100 files: refused"
        );
        let (_d, result) = unpack(&targz(&[("fifo", tar::EntryType::Fifo, b"", "")]));
        assert_eq!(
            result.unwrap_err().to_string(),
            "entry \"fifo\": unsupported file type (Fifo)"
        );
        let (_d, result) = unpack(b"apiVersion: v1\n");
        assert_eq!(
            result.unwrap_err().to_string(),
            "is not a tar.gz (no gzip header)"
        );
        let (_d, result) = unpack(&[0x1f, 0x8b, 0, 1, 2, 3]);
        assert!(
            result
                .unwrap_err()
                .to_string()
                .starts_with("is not a valid tar.gz: "),
        );
    }
}
