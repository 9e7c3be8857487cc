//! The pid file of an owned child (`<state_dir>/children/<service>.pid`) and leftover recognition.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ProcessError;

/// How long reading a live process's command line may take.
const CMDLINE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a live pid's command line that is empty or does not match (a process in the
/// middle of an `exec`, such as a child leaving its start gate) is read again, and how far
/// apart: up to a second, since an `exec` on a loaded machine can take longer than 100 ms.
const CMDLINE_TRIES: usize = 50;
const CMDLINE_RETRY: Duration = Duration::from_millis(20);

/// What akashic records about a child it spawned, so a later akashic can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFile {
    pub pid: u32,
    pub pgid: u32,
    /// Fingerprints of the argv it was started with, not the argv: that may hold secrets.
    #[serde(default)]
    pub print: Option<CommandPrint>,
    /// The argv itself, as pid files of earlier versions recorded it (read, never written).
    #[serde(default, skip_serializing)]
    pub command: Vec<String>,
}

/// The length and FNV-1a of one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Print {
    len: usize,
    fnv: u64,
}

impl Print {
    fn of(text: &str) -> Print {
        Print {
            len: text.len(),
            fnv: crate::fnv::fnv1a(text.as_bytes()),
        }
    }

    /// The end of `text` this print would be of, if it is.
    fn tail_of<'a>(&self, text: &'a str) -> Option<&'a str> {
        let tail = text.get(text.len().checked_sub(self.len)?..)?;
        (Print::of(tail) == *self).then_some(tail)
    }
}

/// What [`command_matches`] needs of an argv, kept as fingerprints: the argv joined by spaces,
/// and `/program-name args…` (the program as PATH resolves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPrint {
    whole: Print,
    resolved: Print,
}

impl CommandPrint {
    /// `None` for an empty argv.
    pub fn of(argv: &[String]) -> Option<CommandPrint> {
        let (whole, resolved) = match_forms(argv)?;
        Some(CommandPrint {
            whole: Print::of(&whole),
            resolved: Print::of(&resolved),
        })
    }

    /// [`command_matches`] against the fingerprints.
    pub fn matches(&self, live: &str) -> bool {
        let live = live.trim();
        if let Some(tail) = self.whole.tail_of(live) {
            let before = &live[..live.len() - tail.len()];
            if before.is_empty() || before.ends_with(' ') {
                return true;
            }
        }
        self.resolved.tail_of(live).is_some()
    }
}

/// The argv joined by spaces, and `/<program's file name> args…`.
fn match_forms(argv: &[String]) -> Option<(String, String)> {
    let (program, args) = argv.split_first()?;
    let base = Path::new(program)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.clone());
    let resolved = std::iter::once(base)
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    Some((argv.join(" "), format!("/{resolved}")))
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
    /// A live pid in the middle of an `exec` (the start gate handing over to the program)
    /// reads an empty or a cut-off command line (`/bin/sh -c read -r _ <&3 || exit` was read
    /// in a loop of the process tests): a line that does not match is read again, briefly,
    /// before the pid is judged another program's.
    pub async fn is_running(&self) -> bool {
        for _ in 0..CMDLINE_TRIES {
            if !super::pid_alive(self.pid) {
                return false;
            }
            let matches = match (command_line(self.pid).await, &self.print) {
                (None, _) => return false,
                (Some(live), _) if live.is_empty() => false,
                (Some(live), Some(print)) => print.matches(&live),
                (Some(live), None) => command_matches(&live, &self.command),
            };
            if matches {
                return true;
            }
            tokio::time::sleep(CMDLINE_RETRY).await;
        }
        false
    }
}

/// Does a live command line (argv joined by spaces) belong to a process started as `argv`?
/// Exact, or behind an interpreter (`/bin/bash ./bot.sh x` for `./bot.sh x`), or with
/// the program resolved on PATH (`/usr/bin/python3 bot.py` for `python3 bot.py`).
pub fn command_matches(live: &str, argv: &[String]) -> bool {
    let Some((want, resolved)) = match_forms(argv) else {
        return false;
    };
    let live = live.trim();
    live == want || live.ends_with(&format!(" {want}")) || live.ends_with(&resolved)
}

/// The command line of a live process, argv joined by spaces; empty while it is in the middle
/// of an `exec`; `None` when it cannot be read (gone, not ours, too slow).
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
    Some(words.join(" "))
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
    out.status.success().then_some(line)
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
    fn fingerprints_match_as_the_command_line_does() {
        let cases = [
            ("./bot.sh --live", &["./bot.sh", "--live"][..]),
            ("/bin/bash ./bot.sh --live", &["./bot.sh", "--live"]),
            ("/usr/bin/python3 bot.py", &["python3", "bot.py"]),
            ("./bot.sh", &["./bot.sh", "--live"]),
            ("vim ./bot.sh --live-ish", &["./bot.sh", "--live"]),
            ("x./bot.sh --live", &["./bot.sh", "--live"]),
            ("sleep 300", &["sleep", "30"]),
            ("é", &["sleep", "30"]),
        ];
        for (live, words) in cases {
            let a = argv(words);
            let print = CommandPrint::of(&a).unwrap();
            assert_eq!(print.matches(live), command_matches(live, &a), "{live}");
        }
        assert_eq!(CommandPrint::of(&[]), None);
    }

    #[test]
    fn pid_file_round_trips_and_is_removed_only_for_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = PidFile::path(dir.path(), "bot");
        let file = PidFile {
            pid: 42,
            pgid: 42,
            print: CommandPrint::of(&argv(&["python3", "bot.py", "--key=sk-secret"])),
            command: Vec::new(),
        };
        file.write(&path).unwrap();
        assert_eq!(PidFile::read(&path), Some(file));
        assert!(!std::fs::read_to_string(&path)
            .unwrap()
            .contains("sk-secret"));
        // A pid file of an earlier version, with the argv itself, still reads.
        std::fs::write(
            &path,
            r#"{"pid":42,"pgid":42,"command":["python3","bot.py"]}"#,
        )
        .unwrap();
        assert_eq!(
            PidFile::read(&path).unwrap().command,
            argv(&["python3", "bot.py"])
        );
        PidFile::remove_if(&path, 43);
        assert!(path.exists());
        PidFile::remove_if(&path, 42);
        assert!(!path.exists());
    }
}
