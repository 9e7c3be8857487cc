//! Running supervisor commands (`launchctl`, `systemctl`, a restart command) with a timeout.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use super::signal::describe_exit;
use super::ProcessError;

/// How much of a failed command's stderr an error keeps.
const TAIL_CHARS: usize = 2000;

/// The environment supervisor commands run with: akashic's own, plus overrides.
/// Programs are looked up on `PATH` (an overridden `PATH` included), so tests can
/// put stand-in `launchctl`/`systemctl` first without touching the process env.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    env: Vec<(OsString, OsString)>,
}

impl Tools {
    /// Adds a variable to every supervisor command's environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs `argv`; Ok(stdout) on exit 0, else an error naming the command, its status and stderr tail.
    pub(crate) async fn run(
        &self,
        argv: &[String],
        timeout: Duration,
    ) -> Result<String, ProcessError> {
        let (program, args) = argv.split_first().ok_or(ProcessError::EmptyCommand)?;
        let command = display_argv(argv);
        let child = tokio::process::Command::new(program)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                program: program.clone(),
                cwd: current_dir(),
                source,
            })?;
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(source)) => {
                return Err(ProcessError::Spawn {
                    program: program.clone(),
                    cwd: current_dir(),
                    source,
                })
            }
            Err(_) => {
                return Err(ProcessError::Timeout {
                    command,
                    after: timeout,
                })
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = if stderr.trim().is_empty() {
            stdout.as_str()
        } else {
            &stderr
        };
        Err(ProcessError::Failed {
            command,
            status: describe_exit(output.status),
            stderr: tail(said),
        })
    }
}

/// The last `TAIL_CHARS` characters of `text`, trimmed; `(empty)` when there is nothing.
fn tail(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty)".to_string();
    }
    let skip = text.chars().count().saturating_sub(TAIL_CHARS);
    match skip {
        0 => text.to_string(),
        n => format!("...{}", text.chars().skip(n).collect::<String>()),
    }
}

fn current_dir() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "(unknown)".to_string())
}

/// An argv as a shell-like line: words with spaces or quotes are single-quoted.
pub(crate) fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_display_quotes_only_what_needs_it() {
        let argv = ["sh", "-c", "echo 'hi' && exit 1"].map(String::from);
        assert_eq!(display_argv(&argv), r"sh -c 'echo '\''hi'\'' && exit 1'");
        assert_eq!(display_argv(&["a".into(), String::new()]), "a ''");
    }

    #[test]
    fn tail_keeps_the_end() {
        let long = "x".repeat(TAIL_CHARS + 10) + "END";
        let t = tail(&long);
        assert!(t.starts_with("...") && t.ends_with("END"));
        assert_eq!(tail("  \n"), "(empty)");
    }

    #[tokio::test]
    async fn failure_names_command_status_and_stderr() {
        let argv = ["sh", "-c", "echo boom >&2; exit 3"].map(String::from);
        let err = Tools::default()
            .run(&argv, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "run `sh -c 'echo boom >&2; exit 3'`: exited with code 3; stderr: boom"
        );
    }

    #[tokio::test]
    async fn a_hung_command_times_out() {
        let argv = ["sleep", "30"].map(String::from);
        let err = Tools::default()
            .run(&argv, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "run `sleep 30`: no answer within 100ms");
    }
}
