//! Errors of the restart backends.

use std::path::PathBuf;
use std::time::Duration;

/// A restart backend failed; messages read well after "failed to".
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("start the service: its command is empty")]
    EmptyCommand,
    #[error("spawn `{program}` in {cwd}")]
    Spawn {
        program: String,
        cwd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("open output file {path}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run `{command}`: {status}; stderr: {stderr}")]
    Failed {
        command: String,
        /// e.g. `exited with code 3`.
        status: String,
        /// The last lines the command wrote to stderr (or stdout when stderr was empty).
        stderr: String,
    },
    #[error("run `{command}`: no answer within {}", humantime::format_duration(*.after))]
    Timeout { command: String, after: Duration },
    #[error("signal process group {pgid}")]
    Signal {
        pgid: u32,
        #[source]
        source: nix::Error,
    },
    #[error("stop process group {pgid}: still alive {} after SIGKILL", humantime::format_duration(*.waited))]
    Unkillable { pgid: u32, waited: Duration },
    #[error("write pid file {path}")]
    PidFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
