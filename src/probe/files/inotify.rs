//! Linux: directory changes from inotify, read without blocking.

use super::feed::{Change, ChangeFeed, WatchId};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What changes which file a name is, plus the directory's own end. `IN_EXCL_UNLINK`: no
/// events from files already unlinked. `IN_MASK_ADD`: watching again only adds.
const NAMES: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_EXCL_UNLINK
    | libc::IN_MASK_ADD;

/// What changes a file under its name: writes and touches.
const CONTENT: u32 = libc::IN_MODIFY | libc::IN_ATTRIB | libc::IN_CLOSE_WRITE;

/// Events that move a name.
const MOVED: u32 = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;

/// An inotify instance in non-blocking mode.
pub struct Inotify {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Inotify {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the fd it returns is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Inotify {
            // SAFETY: fd is a fresh descriptor nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            buf: vec![0; 64 * 1024],
        })
    }
}

impl ChangeFeed for Inotify {
    fn watch(&mut self, dir: &Path, content: bool) -> std::io::Result<WatchId> {
        let c = super::at::c_string(dir.as_os_str())?;
        let mask = if content { NAMES | CONTENT } else { NAMES };
        // SAFETY: fd is open and c is a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) };
        if wd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(wd)
    }

    fn drain(&mut self, f: &mut dyn FnMut(Change<'_>)) {
        const HEAD: usize = std::mem::size_of::<libc::inotify_event>();
        loop {
            // SAFETY: buf is writable for its length; the fd is non-blocking.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                )
            };
            if n <= 0 {
                // EAGAIN: nothing more. Any other error: report a loss so callers re-read.
                if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock
                {
                    f(Change::Overflow);
                }
                return;
            }
            let mut at = 0usize;
            let n = n as usize;
            while at + HEAD <= n {
                // SAFETY: the kernel wrote whole events; read_unaligned copes with any alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(self.buf[at..].as_ptr().cast()) };
                let name_bytes = &self.buf[at + HEAD..at + HEAD + ev.len as usize];
                let name_len = name_bytes
                    .iter()
                    .position(|b| *b == 0)
                    .unwrap_or(name_bytes.len());
                let name = OsStr::from_bytes(&name_bytes[..name_len]);
                at += HEAD + ev.len as usize;
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    f(Change::Overflow);
                } else if ev.mask
                    & (libc::IN_IGNORED
                        | libc::IN_DELETE_SELF
                        | libc::IN_MOVE_SELF
                        | libc::IN_UNMOUNT)
                    != 0
                {
                    if ev.mask & libc::IN_MOVE_SELF != 0 {
                        // A moved directory keeps its watch; end it, so its path is watched afresh.
                        // SAFETY: plain syscall on our fd.
                        unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), ev.wd) };
                    }
                    f(Change::Gone { watch: ev.wd });
                } else if name_len > 0 {
                    f(Change::Entry {
                        watch: ev.wd,
                        name,
                        moved: ev.mask & MOVED != 0,
                    });
                }
                // Events on the directory itself (a touch of it) change no entry: ignored.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(feed: &mut Inotify) -> Vec<String> {
        let mut seen = Vec::new();
        feed.drain(&mut |c| {
            seen.push(match c {
                Change::Entry { name, moved, .. } => format!(
                    "{} {}",
                    if moved { "moved" } else { "entry" },
                    name.to_string_lossy()
                ),
                Change::Gone { .. } => "gone".into(),
                Change::Overflow => "overflow".into(),
            })
        });
        seen
    }

    #[test]
    fn reports_writes_touches_and_renames_by_name_and_the_end_of_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join("out");
        std::fs::create_dir(&watched).unwrap();
        let mut feed = Inotify::new().unwrap();
        feed.watch(&watched, true).unwrap();
        assert!(changes(&mut feed).is_empty());

        std::fs::write(watched.join("a.json"), "{}").unwrap();
        std::fs::File::options()
            .write(true)
            .open(watched.join("a.json"))
            .unwrap()
            .set_modified(std::time::SystemTime::now())
            .unwrap();
        std::fs::rename(watched.join("a.json"), watched.join("b.json")).unwrap();
        let seen = changes(&mut feed);
        assert!(seen.contains(&"moved a.json".to_string()), "{seen:?}");
        assert!(seen.contains(&"entry a.json".to_string()), "{seen:?}");
        assert!(seen.contains(&"moved b.json".to_string()), "{seen:?}");
        assert!(!seen.contains(&"gone".to_string()), "{seen:?}");

        std::fs::remove_file(watched.join("b.json")).unwrap();
        std::fs::remove_dir(&watched).unwrap();
        let seen = changes(&mut feed);
        assert!(seen.contains(&"gone".to_string()), "{seen:?}");
    }

    #[test]
    fn a_directory_watched_for_names_hears_no_writes_until_watched_for_content() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "x").unwrap();
        let mut feed = Inotify::new().unwrap();
        let w = feed.watch(dir.path(), false).unwrap();
        let write = || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            f.write_all(b"more").unwrap();
            f.set_modified(std::time::SystemTime::now()).unwrap();
        };
        write();
        assert!(changes(&mut feed).is_empty());
        std::fs::rename(&log, dir.path().join("a.log.1")).unwrap();
        std::fs::write(&log, "new").unwrap();
        let seen = changes(&mut feed);
        assert!(seen.contains(&"moved a.log".to_string()), "{seen:?}");
        assert!(seen.contains(&"moved a.log.1".to_string()), "{seen:?}");
        assert!(!seen.iter().any(|s| s.starts_with("entry")), "{seen:?}");

        // Watched again with content: the same watch, and writes are heard now.
        assert_eq!(feed.watch(dir.path(), true).unwrap(), w);
        write();
        assert!(changes(&mut feed).contains(&"entry a.log".to_string()));
        // Watching again without content takes nothing away.
        feed.watch(dir.path(), false).unwrap();
        write();
        assert!(changes(&mut feed).contains(&"entry a.log".to_string()));
    }

    #[test]
    fn a_missing_directory_cannot_be_watched() {
        let mut feed = Inotify::new().unwrap();
        let e = feed
            .watch(Path::new("/nonexistent/akashic/dir"), false)
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
