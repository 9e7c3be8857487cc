//! One daemon per state_dir: an exclusive `flock` on the state_dir itself, held for the daemon's
//! life and released by the kernel however it ends (kill -9 included). Locking the directory
//! needs no new file, so it works on a full disk too.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another akashic (pid {pid}) is running with state_dir {}; stop it first, or give this one another [daemon] state_dir", dir.display())]
    Held { dir: PathBuf, pid: String },
    #[error("cannot lock state_dir {}", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DaemonLock {
    _dir: std::fs::File,
}

impl DaemonLock {
    /// Takes the lock, waiting up to `wait` for an akashic that is still exiting.
    pub fn acquire(state_dir: &Path, wait: Duration) -> Result<DaemonLock, LockError> {
        let io = |source| LockError::Io {
            dir: state_dir.to_path_buf(),
            source,
        };
        let dir = std::fs::File::open(state_dir).map_err(io)?;
        let deadline = Instant::now() + wait;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(DaemonLock { _dir: dir });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(err));
            }
            if Instant::now() >= deadline {
                return Err(LockError::Held {
                    dir: state_dir.to_path_buf(),
                    pid: crate::heartbeat::read_pid(state_dir)
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_daemon_is_told_who_holds_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let first = DaemonLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let err = DaemonLock::acquire(dir.path(), Duration::from_millis(150)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "another akashic (pid unknown) is running with state_dir {}; stop it first, or give this one another [daemon] state_dir",
                dir.path().display()
            )
        );
        drop(first);
        DaemonLock::acquire(dir.path(), Duration::ZERO).unwrap();
    }
}
