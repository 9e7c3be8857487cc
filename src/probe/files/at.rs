//! Handles that make a check's repeated `stat` cheap: an entry relative to a directory handle
//! (no walk of the whole path), or a file through a handle on the file itself (no path at
//! all). Linux only (there a feed says when a handle may point at the wrong file); elsewhere
//! there are no handles and callers stat by path.

use std::ffi::OsStr;
use std::path::Path;
use std::time::SystemTime;

/// What a check needs to know about one entry, without following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub symlink: bool,
    pub regular: bool,
    /// The modification time, of whatever kind of file it is.
    pub mtime: Option<SystemTime>,
}

/// The open-files limit (soft and hard), if it can be read.
pub fn open_files_limit() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscall on a local struct.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}

/// File checks keep a handle or two each (a log's, a glob's directory and newest file): lift
/// the soft limit on open files to the hard one (at most 65,536) so a large fleet does not
/// run out. False when it could not be raised
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
    let raised = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 };
    BUDGET.store(UNKNOWN, std::sync::atomic::Ordering::Relaxed);
    raised
}

/// How many handles file checks may hold: half the open-files limit, read once (and again
/// after [`raise_open_files_limit`]), not at every open.
static BUDGET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(UNKNOWN);
const UNKNOWN: usize = usize::MAX;

#[cfg(target_os = "linux")]
pub use linux::{DirHandle, FileHandle};

#[cfg(not(target_os = "linux"))]
pub use other::{DirHandle, FileHandle};

/// A path or name as the C string a system call takes; a NUL inside it is invalid input.
#[cfg(target_os = "linux")]
pub(super) fn c_string(s: &OsStr) -> std::io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(s.as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Handles open now. They may use at most half of the open-files limit, so a large
    /// fleet's file checks never starve its sockets and logs (past it, checks stat by path).
    static OPEN: AtomicUsize = AtomicUsize::new(0);

    fn budget() -> usize {
        match BUDGET.load(Ordering::Relaxed) {
            UNKNOWN => {
                let b = open_files_limit().map_or(0, |l| {
                    usize::try_from(l.rlim_cur / 2).unwrap_or(UNKNOWN - 1)
                });
                BUDGET.store(b, Ordering::Relaxed);
                b
            }
            b => b,
        }
    }

    /// An `O_PATH` descriptor, counted against the budget: no read access, no atime, and
    /// nothing held but the inode.
    struct Counted(OwnedFd);

    impl Drop for Counted {
        fn drop(&mut self) {
            OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }

    impl Counted {
        /// `Ok(None)`: the budget is spent.
        fn open(path: &Path, flags: libc::c_int) -> std::io::Result<Option<Counted>> {
            Self::open_at(None, path, flags)
        }

        /// Opens `path`, relative to `dir` when given.
        fn open_at(
            dir: Option<&Counted>,
            path: &Path,
            flags: libc::c_int,
        ) -> std::io::Result<Option<Counted>> {
            if OPEN.fetch_add(1, Ordering::Relaxed) >= budget() {
                OPEN.fetch_sub(1, Ordering::Relaxed);
                return Ok(None);
            }
            let opened = c_string(path.as_os_str()).and_then(|c| {
                let at = dir.map_or(libc::AT_FDCWD, |d| d.0.as_raw_fd());
                // SAFETY: `at` is AT_FDCWD or an open directory; c is NUL-terminated.
                let fd =
                    unsafe { libc::openat(at, c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | flags) };
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // SAFETY: fd is fresh and ours.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            });
            match opened {
                Ok(fd) => Ok(Some(Counted(fd))),
                Err(e) => {
                    OPEN.fetch_sub(1, Ordering::Relaxed);
                    Err(e)
                }
            }
        }
    }

    fn stat_result(r: libc::c_int, st: &libc::stat) -> std::io::Result<Stat> {
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let kind = st.st_mode & libc::S_IFMT;
        Ok(Stat {
            symlink: kind == libc::S_IFLNK,
            regular: kind == libc::S_IFREG,
            mtime: mtime_of(st.st_mtime, st.st_mtime_nsec),
        })
    }

    /// A handle on a directory, to stat its entries without walking its path again.
    pub struct DirHandle(Counted);

    impl DirHandle {
        pub fn open(dir: &Path) -> Option<DirHandle> {
            Counted::open(dir, libc::O_DIRECTORY)
                .ok()
                .flatten()
                .map(DirHandle)
        }

        /// A handle on the entry `name` itself; `None` when it cannot be opened or the
        /// budget is spent.
        pub fn open_file(&self, name: &OsStr) -> Option<FileHandle> {
            Counted::open_at(Some(&self.0), Path::new(name), libc::O_NOFOLLOW)
                .ok()
                .flatten()
                .map(FileHandle)
        }

        pub fn entry(&self, name: &OsStr) -> std::io::Result<Stat> {
            let c = c_string(name)?;
            // SAFETY: an all-zero stat is a valid value to be overwritten.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: valid dirfd, NUL-terminated name, writable stat buffer.
            let r = unsafe {
                libc::fstatat(
                    self.0 .0.as_raw_fd(),
                    c.as_ptr(),
                    &mut st,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            stat_result(r, &st)
        }
    }

    /// A handle on one file (or on a symlink itself, which is not followed): `stat` through
    /// it costs no path walk, and it keeps reading the same file until it is dropped.
    pub struct FileHandle(Counted);

    impl FileHandle {
        /// `Ok(None)`: the handle budget is spent; stat by path.
        pub fn open(path: &Path) -> std::io::Result<Option<FileHandle>> {
            Ok(Counted::open(path, libc::O_NOFOLLOW)?.map(FileHandle))
        }

        pub fn stat(&self) -> std::io::Result<Stat> {
            // SAFETY: an all-zero stat is a valid value to be overwritten.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: valid fd, writable stat buffer.
            let r = unsafe { libc::fstat(self.0 .0.as_raw_fd(), &mut st) };
            stat_result(r, &st)
        }
    }

    /// A `stat` time as a `SystemTime`, before 1970 included. (Generic: the fields' widths
    /// differ between targets.)
    fn mtime_of(secs: impl Into<i64>, nsecs: impl Into<i64>) -> Option<SystemTime> {
        let (secs, nsecs) = (secs.into(), nsecs.into());
        let nanos = std::time::Duration::from_nanos(u64::try_from(nsecs).ok()?);
        let base = if secs >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs as u64))
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(std::time::Duration::from_secs(secs.unsigned_abs()))
        };
        base?.checked_add(nanos)
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
        pub fn open_file(&self, _name: &OsStr) -> Option<FileHandle> {
            match *self {}
        }
        pub fn entry(&self, _name: &OsStr) -> std::io::Result<Stat> {
            match *self {}
        }
    }

    /// No handles here: [`FileHandle::open`] always says so, and checks stat by path.
    pub enum FileHandle {}

    impl FileHandle {
        pub fn open(_path: &Path) -> std::io::Result<Option<FileHandle>> {
            Ok(None)
        }
        pub fn stat(&self) -> std::io::Result<Stat> {
            match *self {}
        }
    }
}

/// An entry by path, for when there is no handle.
pub fn entry_by_path(path: &Path) -> std::io::Result<Stat> {
    let m = std::fs::symlink_metadata(path)?;
    Ok(Stat {
        symlink: m.file_type().is_symlink(),
        regular: m.is_file(),
        mtime: m.modified().ok(),
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

    #[test]
    fn a_file_handle_reads_what_a_path_reads_and_keeps_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "x").unwrap();
        std::os::unix::fs::symlink("a.log", dir.path().join("link")).unwrap();
        let Some(h) = FileHandle::open(&log).unwrap() else {
            return; // no handles on this platform
        };
        let by_path = |p: &Path| entry_by_path(p).unwrap();
        assert_eq!(h.stat().unwrap(), by_path(&log));
        let link = FileHandle::open(&dir.path().join("link")).unwrap().unwrap();
        assert!(link.stat().unwrap().symlink);
        let sub = FileHandle::open(dir.path()).unwrap().unwrap();
        assert_eq!(sub.stat().unwrap(), by_path(dir.path()));

        // Before 1970, to the nanosecond, as the path reads it.
        let old = SystemTime::UNIX_EPOCH - std::time::Duration::new(86_400, 250);
        std::fs::File::options()
            .write(true)
            .open(&log)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(h.stat().unwrap(), by_path(&log));

        // Renamed away and replaced: the handle still reads the file it was opened on.
        std::fs::rename(&log, dir.path().join("a.log.1")).unwrap();
        std::fs::write(&log, "new").unwrap();
        assert_eq!(h.stat().unwrap().mtime, Some(old));
        assert_eq!(
            FileHandle::open(&dir.path().join("missing"))
                .err()
                .map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
    }
}
