//! Private by default: the state_dir is its owner's alone (0700), every file akashic writes in
//! it is 0600 whatever the umask, nothing in it is followed through a symbolic link, and the
//! control socket's peer is asked who it is.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every file akashic writes under its state_dir.
pub const FILE_MODE: u32 = 0o600;
/// The mode of the state_dir and the folders akashic makes in it.
pub const DIR_MODE: u32 = 0o700;

/// The names akashic owns directly under its state_dir: a symbolic link planted at one of
/// them is refused at start (besides every open refusing to follow one).
const OWNED: &[&str] = &[
    "incidents.db",
    "incidents.db-wal",
    "incidents.db-shm",
    "memory.db",
    "memory.db-wal",
    "memory.db-shm",
    "memory.idx",
    "heartbeat.json",
    "services.json",
    "recommendations.json",
    "DIGEST.md",
    "akashic.sock",
    "postmortems",
    "children",
];

#[derive(Debug, thiserror::Error)]
pub enum SecureError {
    #[error("cannot create state_dir {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state_dir {} belongs to uid {owner}, not to this user (uid {me}); remove it, or set [daemon] state_dir to a folder you own", path.display())]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error("state_dir {} can be written by {who} (mode {mode:03o}); run `chmod 700 {}`, or set [daemon] state_dir to a private folder", path.display(), path.display())]
    Writable {
        path: PathBuf,
        mode: u32,
        who: &'static str,
    },
    #[error("{} is a symbolic link; akashic follows no link inside its state_dir: remove it (`rm {}`) and start again", path.display(), path.display())]
    Link { path: PathBuf },
    #[error("{} is not a folder; remove it, or set [daemon] state_dir to a folder", path.display())]
    NotDir { path: PathBuf },
    #[error("cannot make {} private", path.display())]
    Chmod {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Makes `dir` a private state_dir: created 0700 when missing, tightened to 0700 when it is
/// this user's; refused when another uid owns it, when group or others can write it, when it
/// is a link owned by someone else, or when a link sits at a name akashic writes in it. Its
/// `postmortems/` and `children/` folders are made the same way.
pub fn ensure_state_dir(dir: &Path) -> Result<(), SecureError> {
    let create = |source| SecureError::Create {
        path: dir.to_path_buf(),
        source,
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(create)?;
    }
    match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(create(e)),
    }
    let link = std::fs::symlink_metadata(dir).map_err(create)?;
    if link.file_type().is_symlink() && link.uid() != euid() {
        return Err(SecureError::Link {
            path: dir.to_path_buf(),
        });
    }
    private_dir(dir)?;
    for name in OWNED {
        let p = dir.join(name);
        if let Ok(m) = std::fs::symlink_metadata(&p) {
            if m.file_type().is_symlink() {
                return Err(SecureError::Link { path: p });
            }
        }
    }
    for sub in ["postmortems", "children"] {
        let p = dir.join(sub);
        match std::fs::DirBuilder::new().mode(DIR_MODE).create(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(SecureError::Create { path: p, source: e }),
        }
        private_dir(&p)?;
        for entry in std::fs::read_dir(&p).map_err(|source| SecureError::Create {
            path: p.clone(),
            source,
        })? {
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                return Err(SecureError::Link { path: entry.path() });
            }
        }
    }
    Ok(())
}

/// Checks one folder (followed, for the state_dir itself): this user's, written by nobody
/// else; tightened to 0700.
fn private_dir(dir: &Path) -> Result<(), SecureError> {
    let m = std::fs::metadata(dir).map_err(|source| SecureError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    if !m.is_dir() {
        return Err(SecureError::NotDir {
            path: dir.to_path_buf(),
        });
    }
    let me = euid();
    if m.uid() != me {
        return Err(SecureError::NotOwned {
            path: dir.to_path_buf(),
            owner: m.uid(),
            me,
        });
    }
    let mode = m.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(SecureError::Writable {
            path: dir.to_path_buf(),
            mode,
            who: if mode & 0o002 != 0 {
                "every user"
            } else {
                "its group"
            },
        });
    }
    if mode & 0o777 != DIR_MODE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE)).map_err(
            |source| SecureError::Chmod {
                path: dir.to_path_buf(),
                source,
            },
        )?;
    }
    Ok(())
}

/// How a private file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Read only; never created.
    Read,
    /// Written in place, never created (a touch).
    Write,
    /// Appended to, created when missing.
    Append,
    /// Created anew; an existing file or link at the name is an error.
    CreateNew,
    /// Created when missing, kept as is otherwise (a database file made private before use).
    Ensure,
}

/// Opens `path` without following a link at its last component (`O_NOFOLLOW`: a link is an
/// error), and makes a file it may write 0600 whatever the umask. A file owned by another
/// uid is refused.
pub fn open(path: &Path, how: Open) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(FILE_MODE);
    match how {
        Open::Read => o.read(true),
        Open::Write => o.write(true),
        Open::Append => o.append(true).create(true),
        Open::CreateNew => o.write(true).create_new(true),
        Open::Ensure => o.write(true).create(true),
    };
    let f = o.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is a symbolic link; akashic does not follow it",
                    path.display()
                ),
            )
        } else {
            e
        }
    })?;
    if how != Open::Read {
        let m = f.metadata()?;
        if m.uid() != euid() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} belongs to uid {}, not to this user; remove it",
                    path.display(),
                    m.uid()
                ),
            ));
        }
        if m.mode() & 0o777 != FILE_MODE {
            f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(f)
}

/// Reads a whole file without following a link at its name.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    open(path, Open::Read)?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Makes a SQLite database and its `-wal` and `-shm` files exist as private files (0600, not
/// links, this user's) before SQLite opens them, so a umask never decides their mode.
pub fn prepare_sqlite(db: &Path) -> std::io::Result<()> {
    open(db, Open::Ensure)?;
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        open(Path::new(&name), Open::Ensure)?;
    }
    Ok(())
}

/// Makes a freshly bound socket file 0600.
pub fn private_socket(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
}

/// Whether a connected peer's uid may use the control socket: this user, or root.
pub fn peer_allowed(peer: u32) -> bool {
    peer == euid() || peer == 0
}

/// The uid of the process at the other end of a connected unix socket.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_uid(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED fills a ucred of the length given; both live on this stack frame.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// The uid of the process at the other end of a connected unix socket.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
pub fn peer_uid(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: getpeereid writes two integers we own.
    let rc = unsafe { libc::getpeereid(fd.as_raw_fd(), &mut uid, &mut gid) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_state_dir_and_its_folders_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("state");
        ensure_state_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("postmortems")), 0o700);
        assert_eq!(mode(&d.join("children")), 0o700);
    }

    #[test]
    fn an_open_state_dir_of_ours_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_state_dir(tmp.path()).unwrap();
        assert_eq!(mode(tmp.path()), 0o700);
    }

    #[test]
    fn a_world_writable_state_dir_is_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_state_dir(tmp.path()).unwrap_err().to_string();
        let p = tmp.path().display();
        assert_eq!(
            e,
            format!("state_dir {p} can be written by every user (mode 777); run `chmod 700 {p}`, or set [daemon] state_dir to a private folder")
        );
    }

    #[test]
    fn a_link_planted_at_an_owned_name_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, "x").unwrap();
        let d = tmp.path().join("state");
        std::fs::create_dir(&d).unwrap();
        symlink(&target, d.join("incidents.db")).unwrap();
        let e = ensure_state_dir(&d).unwrap_err();
        assert!(matches!(e, SecureError::Link { .. }), "{e}");
        let p = d.join("incidents.db");
        assert_eq!(
            e.to_string(),
            format!("{} is a symbolic link; akashic follows no link inside its state_dir: remove it (`rm {}`) and start again", p.display(), p.display())
        );
    }

    #[test]
    fn files_are_0600_whatever_the_umask_and_links_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        open(&f, Open::Ensure).unwrap();
        assert_eq!(mode(&f), 0o600);
        let target = tmp.path().join("target");
        std::fs::write(&target, "secret").unwrap();
        let link = tmp.path().join("link");
        symlink(&target, &link).unwrap();
        for how in [Open::Read, Open::Write, Open::Append, Open::Ensure] {
            let e = open(&link, how).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{how:?}: {e}");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret");
    }

    #[test]
    fn sqlite_files_are_made_private_before_use() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("x.db");
        prepare_sqlite(&db).unwrap();
        for n in ["x.db", "x.db-wal", "x.db-shm"] {
            assert_eq!(mode(&tmp.path().join(n)), 0o600, "{n}");
        }
    }

    #[test]
    fn the_peer_of_our_own_socket_is_us() {
        use std::os::fd::AsFd;
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let uid = peer_uid(a.as_fd()).unwrap();
        assert_eq!(uid, euid());
        assert!(peer_allowed(uid));
        assert!(!peer_allowed(65534) || euid() == 65534);
    }
}
