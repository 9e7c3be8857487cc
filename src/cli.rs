//! The command line: clap definitions and dispatch to `cmd::*`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A self-healing, self-explaining watchdog for a fleet of services.
///
/// Example: akashic --config akashic.toml watch
#[derive(Debug, Parser)]
#[command(name = "akashic", version, about, long_about = None)]
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
    /// Run every check once; restart nothing (exit 1 if any service is unhealthy).
    ///
    /// Example: akashic check --json
    Check(JsonArgs),
    /// Run the watchdog daemon in the foreground; SIGTERM stops it cleanly.
    Watch(WatchArgs),
    /// Show each service's state as the running daemon last wrote it, and whether the daemon is alive.
    Status(JsonArgs),
    /// List incidents, newest first.
    ///
    /// Example: akashic incidents --service trading-bot --json
    Incidents(IncidentsArgs),
    /// Show one incident with its timeline and post-mortem (exit 1 for an unknown id).
    Show(ShowArgs),
    /// Let an escalated service be restarted again (resets its restart budget).
    Resume(ResumeArgs),
    /// Answer a question from memory, citing incident and post-mortem ids.
    ///
    /// Example: akashic ask "why does the trading bot freeze at night?" -k 5
    Ask(AskArgs),
    /// Manage the vector memory of post-mortems.
    #[command(subcommand)]
    Memory(MemoryCmd),
    /// Score post-mortem drafting on eval cases (specs/eval-cases.md).
    ///
    /// Example: akashic eval --cases evals/cases --no-llm --json
    Eval(EvalArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the config without touching services; list every problem (exit 78 if invalid).
    Check(JsonArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Stop after this long (for demos and tests), e.g. "60s".
    #[arg(long, value_name = "DURATION")]
    pub for_: Option<humantime::Duration>,
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// Only this service's incidents.
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The incident id, as `akashic incidents` lists it.
    pub id: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The service to resume.
    pub service: String,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question, in your own words.
    pub question: String,
    /// Only this service's post-mortems.
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// Only this category (taxonomy of specs/eval-cases.md).
    #[arg(long)]
    pub category: Option<String>,
    /// How many post-mortems to retrieve.
    #[arg(short = 'k', default_value_t = 5)]
    pub k: usize,
    /// Answer extractively even when a model is configured.
    #[arg(long)]
    pub no_llm: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCmd {
    /// Add past post-mortems from a JSON Lines file (specs/memory-import.md).
    Import(ImportArgs),
    /// Re-embed every stored post-mortem with the current model.
    Reindex,
    /// Copy the embedded memory into another backend.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The .jsonl file, one post-mortem a line.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Target backend: qdrant (uses [memory] url/collection/api_key_env).
    #[arg(long, value_name = "BACKEND")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of case files (*.toml).
    #[arg(long, value_name = "DIR")]
    pub cases: PathBuf,
    /// Force the template path even when a model is configured.
    #[arg(long)]
    pub no_llm: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    crate::cmd::logging::init(cli.verbose);
    let config = cli.config.clone();
    let res = match cli.command {
        Command::Config(ConfigCmd::Check(a)) => {
            crate::cmd::config_check::run(config.as_deref(), a.json)
        }
        Command::Check(a) => crate::cmd::check::run(config.as_deref(), a.json),
        Command::Watch(a) => crate::cmd::watch::run(config.as_deref(), a.for_.map(Into::into)),
        Command::Status(a) => crate::cmd::status::run(config.as_deref(), a.json),
        Command::Incidents(a) => {
            crate::cmd::incidents::run(config.as_deref(), a.service.as_deref(), a.json)
        }
        Command::Show(a) => crate::cmd::show::run(config.as_deref(), &a.id, a.json),
        Command::Resume(a) => crate::cmd::resume::run(config.as_deref(), &a.service),
        Command::Ask(a) => crate::cmd::ask::run(config.as_deref(), &a),
        Command::Memory(m) => crate::cmd::memory::run(config.as_deref(), &m),
        Command::Eval(a) => crate::cmd::eval::run(config.as_deref(), &a),
    };
    crate::cmd::finish(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
