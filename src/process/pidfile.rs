//! The pid file of an owned child (`<state_dir>/children/<service>.pid`) and leftover recognition.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ProcessError;

/// How long reading a live process's command line may take.
const CMDLINE_TIMEOUT: Duration = Duration::from_secs(2);

/// What akashic records about a child it spawned, so a later akashic can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFile {
    pub pid: u32,
    pub pgid: u32,
    /// The argv it was started with.
    pub command: Vec<String>,
}

impl PidFile {
    /// `<state_dir>/children/<service>.pid`.
    pub fn path(state_dir: &Path, service: &str) -> PathBuf {
        state_dir.join("children").join(format!("{service}.pid"))
    }

    /// Writes it atomically (temp file + rename), creating the directory.
    pub fn write(&self, path: &Path) -> Result<(), ProcessError> {
        let err = |source| ProcessError::PidFile {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_string(self).map_err(|e| err(std::io::Error::other(e)))?;
        crate::atomic::write(path, text + "\n").map_err(err)
    }

    /// The pid file at `path`, if there is a readable one.
    pub fn read(path: &Path) -> Option<PidFile> {
        let text = String::from_utf8(crate::secure::read(path).ok()?).ok()?;
        match serde_json::from_str(&text) {
            Ok(p) => Some(p),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring unreadable pid file");
                None
            }
        }
    }

    /// Removes the file if it still names `pid` (a newer spawn may have replaced it).
    pub fn remove_if(path: &Path, pid: u32) {
        if PidFile::read(path).is_some_and(|p| p.pid == pid) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Is the live process `pid` still the one this file describes (not a reused pid)?
    pub async fn is_running(&self) -> bool {
        if !super::pid_alive(self.pid) {
            return false;
        }
        match command_line(self.pid).await {
            Some(live) => command_matches(&live, &self.command),
            None => false,
        }
    }
}

/// Does a live command line (argv joined by spaces) belong to a process started as `argv`?
/// Exact, or behind an interpreter (`/bin/bash ./bot.sh x` for `./bot.sh x`), or with
/// the program resolved on PATH (`/usr/bin/python3 bot.py` for `python3 bot.py`).
pub fn command_matches(live: &str, argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let live = live.trim();
    let want = argv.join(" ");
    if live == want || live.ends_with(&format!(" {want}")) {
        return true;
    }
    let base = Path::new(program)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.clone());
    let resolved = std::iter::once(base)
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    live.ends_with(&format!("/{resolved}"))
}

/// The command line of a live process, argv joined by spaces.
pub async fn command_line(pid: u32) -> Option<String> {
    let read = read_command_line(pid);
    tokio::time::timeout(CMDLINE_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

#[cfg(target_os = "linux")]
async fn read_command_line(pid: u32) -> Option<String> {
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(format!("/proc/{pid}/cmdline")))
        .await
        .ok()?
        .ok()?;
    let words: Vec<String> = bytes
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(not(target_os = "linux"))]
async fn read_command_line(pid: u32) -> Option<String> {
    let out = tokio::process::Command::new("ps")
        .args(["-o", "command=", "-p", &pid.to_string()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn command_lines_match_exactly_or_behind_an_interpreter() {
        let a = argv(&["./bot.sh", "--live"]);
        assert!(command_matches("./bot.sh --live", &a));
        assert!(command_matches("/bin/bash ./bot.sh --live", &a));
        assert!(command_matches(
            "/usr/bin/python3 bot.py",
            &argv(&["python3", "bot.py"])
        ));
        assert!(!command_matches("./bot.sh", &a));
        assert!(!command_matches("vim ./bot.sh --live-ish", &a));
        assert!(!command_matches("sleep 300", &argv(&["sleep", "30"])));
        assert!(!command_matches("anything", &[]));
    }

    #[test]
    fn pid_file_round_trips_and_is_removed_only_for_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = PidFile::path(dir.path(), "bot");
        let file = PidFile {
            pid: 42,
            pgid: 42,
            command: argv(&["python3", "bot.py"]),
        };
        file.write(&path).unwrap();
        assert_eq!(PidFile::read(&path), Some(file));
        PidFile::remove_if(&path, 43);
        assert!(path.exists());
        PidFile::remove_if(&path, 42);
        assert!(!path.exists());
    }
}
