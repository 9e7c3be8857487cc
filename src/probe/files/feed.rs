//! The port through which the operating system says that something in a directory changed.
//!
//! A feed only ever *invalidates*: what a check reports still comes from `stat`. Linux has
//! inotify ([`super::inotify`]); elsewhere [`NoFeed`] watches nothing, so every check stats.

use std::ffi::OsStr;
use std::path::Path;

/// A watch on one directory, as the feed numbers it. Two paths to one directory may share it.
pub type WatchId = i32;

/// One change a feed reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// An entry of a watched directory changed. `moved`: the name may now be another file's,
    /// or no file's (created, removed, renamed); otherwise the same file was written or
    /// touched, which a feed reports only for directories watched with `content`.
    Entry {
        watch: WatchId,
        name: &'a OsStr,
        moved: bool,
    },
    /// The watched directory itself went away (removed, moved, unmounted): the watch is over.
    Gone { watch: WatchId },
    /// The feed lost changes (its queue overflowed): nothing it said before can be trusted.
    Overflow,
}

/// A source of directory changes.
pub trait ChangeFeed: Send {
    /// Starts reporting which names of `dir` are created, removed or renamed, and with
    /// `content` also which are written or touched. Watching a directory again adds to what
    /// is reported for it (never takes away) and keeps its watch.
    fn watch(&mut self, dir: &Path, content: bool) -> std::io::Result<WatchId>;
    /// Hands every change since the last call to `f`; never blocks.
    fn drain(&mut self, f: &mut dyn FnMut(Change<'_>));
}

/// A feed that watches nothing: every file check reads the file system each time.
pub struct NoFeed;

impl ChangeFeed for NoFeed {
    fn watch(&mut self, _dir: &Path, _content: bool) -> std::io::Result<WatchId> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
    fn drain(&mut self, _f: &mut dyn FnMut(Change<'_>)) {}
}

/// The platform's feed: inotify on Linux, none elsewhere (checks there stat every time).
pub fn platform() -> Box<dyn ChangeFeed> {
    #[cfg(target_os = "linux")]
    match super::inotify::Inotify::new() {
        Ok(f) => return Box::new(f),
        Err(e) => {
            tracing::warn!(error = %e, "inotify is unavailable; file checks will stat every time")
        }
    }
    Box::new(NoFeed)
}
