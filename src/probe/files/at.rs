//! Stat an entry relative to a directory handle, so a check that re-reads one changed file
//! does not walk its whole path again. Linux only (there a feed makes such reads common);
//! elsewhere there is no handle and callers stat by path.

use std::ffi::OsStr;
use std::path::Path;
use std::time::SystemTime;

/// What a check needs to know about one entry, without following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub symlink: bool,
    /// A regular file's modification time; `None` for anything else.
    pub mtime: Option<SystemTime>,
}

/// The open-files limit (soft and hard), if it can be read.
fn open_files_limit() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscall on a local struct.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}

/// File checks keep a directory handle each: lift the soft limit on open files to the hard
/// one (at most 65,536) so a large fleet does not run out. False when it could not be raised
/// (checks then stat by path past their share, see `DirHandle::open`).
pub fn raise_open_files_limit() -> bool {
    let Some(mut lim) = open_files_limit() else {
        return false;
    };
    let want = lim.rlim_max.min(65_536);
    if lim.rlim_cur >= want {
        return true;
    }
    lim.rlim_cur = want;
    // SAFETY: plain syscall on a local struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

#[cfg(target_os = "linux")]
pub use linux::DirHandle;

#[cfg(not(target_os = "linux"))]
pub use other::DirHandle;

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An `O_PATH` handle on a directory: no read access or atime involved.
    pub struct DirHandle(OwnedFd);

    /// Handles open now. They may use at most half of the open-files limit, so a large
    /// fleet's file checks never starve its sockets and logs (past it, checks stat by path).
    static OPEN: AtomicUsize = AtomicUsize::new(0);

    fn budget() -> usize {
        open_files_limit().map_or(0, |l| usize::try_from(l.rlim_cur / 2).unwrap_or(usize::MAX))
    }

    impl Drop for DirHandle {
        fn drop(&mut self) {
            OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }

    impl DirHandle {
        pub fn open(dir: &Path) -> Option<DirHandle> {
            let over = OPEN.fetch_add(1, Ordering::Relaxed) >= budget();
            let h = if over { None } else { Self::open_counted(dir) };
            if h.is_none() {
                OPEN.fetch_sub(1, Ordering::Relaxed);
            }
            h
        }

        fn open_counted(dir: &Path) -> Option<DirHandle> {
            let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
            // SAFETY: c is NUL-terminated; the returned fd is owned below.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            // SAFETY: fd is fresh and ours.
            (fd >= 0).then(|| DirHandle(unsafe { OwnedFd::from_raw_fd(fd) }))
        }

        pub fn entry(&self, name: &OsStr) -> std::io::Result<Entry> {
            let c = CString::new(name.as_bytes())
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
            // SAFETY: an all-zero stat is a valid value to be overwritten.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: valid dirfd, NUL-terminated name, writable stat buffer.
            let r = unsafe {
                libc::fstatat(
                    self.0.as_raw_fd(),
                    c.as_ptr(),
                    &mut st,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let kind = st.st_mode & libc::S_IFMT;
            let mtime = (kind == libc::S_IFREG).then(|| {
                SystemTime::UNIX_EPOCH
                    + std::time::Duration::new(st.st_mtime as u64, st.st_mtime_nsec as u32)
            });
            Ok(Entry {
                symlink: kind == libc::S_IFLNK,
                mtime: mtime.filter(|_| st.st_mtime >= 0),
            })
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    use super::*;

    /// No handles here: [`DirHandle::open`] always says so, and checks stat by path.
    pub enum DirHandle {}

    impl DirHandle {
        pub fn open(_dir: &Path) -> Option<DirHandle> {
            None
        }
        pub fn entry(&self, _name: &OsStr) -> std::io::Result<Entry> {
            match *self {}
        }
    }
}

/// An entry by path, for when there is no handle.
pub fn entry_by_path(path: &Path) -> std::io::Result<Entry> {
    let m = std::fs::symlink_metadata(path)?;
    Ok(Entry {
        symlink: m.file_type().is_symlink(),
        mtime: m.is_file().then(|| m.modified().ok()).flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_reads_what_a_path_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("a.log", dir.path().join("link")).unwrap();
        let Some(h) = DirHandle::open(dir.path()) else {
            return; // no handles on this platform
        };
        for name in ["a.log", "sub", "link"] {
            assert_eq!(
                h.entry(OsStr::new(name)).unwrap(),
                entry_by_path(&dir.path().join(name)).unwrap(),
                "{name}"
            );
        }
        assert_eq!(
            h.entry(OsStr::new("missing")).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }
}
