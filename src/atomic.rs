//! Writing a file whole or not at all: a private temp file beside it, then a rename.

use crate::secure::{self, Open};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Writes `contents` to `path` atomically, creating its folder (0700). A reader sees the old
/// file or the new one, never half of one; a failed rename leaves no temp file behind. The
/// file is 0600 whatever the umask; a link at the name is replaced, never followed, and the
/// temp file is created anew (a link or file planted at its name is removed first).
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(secure::DIR_MODE)
            .create(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = match secure::open(&tmp, Open::CreateNew) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            secure::open(&tmp, Open::CreateNew)?
        }
        other => other?,
    };
    file.write_all(contents.as_ref())
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("a/b/DIGEST.md");
        write(&p, "one").unwrap();
        write(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn atomic_write_is_private_and_replaces_a_planted_link() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("root-only");
        std::fs::write(&target, "keep").unwrap();
        let p = tmp.path().join("services.json");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let stale = tmp
            .path()
            .join(format!(".services.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&target, &stale).unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        write(&p, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.file_type().is_file());
        assert_eq!(m.mode() & 0o777, 0o600);
    }
}
