//! One file per CLI command; each returns an exit code or an error for `finish`.

pub mod ask;
pub mod check;
pub mod config_check;
pub mod config_example;
pub mod demo;
pub mod digest;
pub mod doctor;
pub mod eval;
pub mod incident_view;
pub mod incidents;
pub mod label;
pub mod logging;
pub mod mcp;
pub mod memory;
pub mod rec;
pub mod resume;
pub mod service;
pub mod show;
pub mod status;
pub mod watch;

use crate::config::{Config, ConfigError};
use std::path::Path;

/// An error that ends a command: a config problem (exit 78) or anything else (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type CmdResult = Result<i32, CmdError>;

/// Loads and validates the config the command was given.
pub fn load_config(flag: Option<&Path>) -> Result<Config, ConfigError> {
    crate::config::load(&crate::config::resolve_path(flag))
}

/// Prints an error once, with its causes, and maps it to an exit code.
pub fn finish(res: CmdResult) -> i32 {
    match res {
        Ok(code) => code,
        Err(CmdError::Config(e)) => {
            eprintln!("error: {e}");
            crate::exit::CONFIG
        }
        Err(CmdError::Other(e)) => {
            eprintln!("error: {e:#}");
            crate::exit::FAILURE
        }
    }
}

/// Prints a line to stdout; a closed stdout (`| head`) ends the process quietly with 0.
pub fn out(s: impl std::fmt::Display) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{s}").is_err() {
        std::process::exit(crate::exit::OK);
    }
}

/// Prints a value as one JSON object on stdout.
pub fn out_json(v: &impl serde::Serialize) {
    out(serde_json::to_string_pretty(v).expect("output serializes"));
}
