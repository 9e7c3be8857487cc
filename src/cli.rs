//! The command line: clap definitions and dispatch.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// A self-healing, self-explaining watchdog for a fleet of services.
#[derive(Debug, Parser)]
#[command(name = "akashic", version, about)]
pub struct Cli {
    /// Config file [default: $AKASHIC_CONFIG, else the platform config dir]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with the config file.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the config without touching services; list every problem (exit 78 if invalid).
    Check,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(ConfigCmd::Check) => {
            let path = crate::config::resolve_path(cli.config.as_deref());
            match crate::config::load(&path) {
                Ok(c) => {
                    println!("{}: ok ({} services)", path.display(), c.services.len());
                    crate::exit::OK
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    crate::exit::CONFIG
                }
            }
        }
    }
}
