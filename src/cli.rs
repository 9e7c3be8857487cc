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
    /// Confirm or correct a post-mortem's root-cause category (exit 1 for an unknown id, 2 for a
    /// category outside the taxonomy); memory is updated and later incidents of the same pattern use it.
    ///
    /// Example: akashic label 01JQ4Z rate_limit --root-cause "vendor quota code E_QUOTA_77, no backoff"
    Label(LabelArgs),
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
    /// Run a demo fleet of three real services in which one freezes while still answering 200:
    /// watch akashic detect it, capture evidence, restart it, confirm recovery and write the post-mortem.
    /// With `--scenario shared-dependency`, a TCP database goes away for 20 s under three services:
    /// their restarts are held, it is restarted, and one post-mortem names them all.
    ///
    /// Example: akashic demo --scenario shared-dependency
    Demo(DemoArgs),
    /// Write the session-start digest: health now, failure patterns of the last 90 days,
    /// open recommendations and the last post-mortems, for one service or the fleet.
    ///
    /// Example: akashic digest --service trading-bot --out .akashic/DIGEST.md
    Digest(DigestArgs),
    /// Close a recommendation, or list them; a closed one whose pattern recurs is flagged as a regression.
    ///
    /// Example: akashic rec done r-1a2b3c4d
    #[command(subcommand)]
    Rec(RecCmd),
    /// Find what will break a service under its supervisor: PATH, env vars, TCC paths,
    /// writable paths, endpoints, the embedding model (exit 1 if any finding is an error).
    ///
    /// Example: akashic doctor --json
    Doctor(JsonArgs),
    /// Install akashic as a LaunchAgent or systemd user unit, or print a plist for a service.
    ///
    /// Example: akashic service install --launchd --print
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Serve the Model Context Protocol on stdio for coding agents: tools ask, incidents, show,
    /// status and digest, and each configured digest as a resource (specs/web.md).
    ///
    /// Example: akashic --config ~/.config/akashic/akashic.toml mcp
    Mcp,
    /// A small real service for the demo and the tests (binds a port, writes a log and output files).
    #[command(hide = true)]
    DemoService(DemoServiceArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo's config, logs and state go [default: a new folder under the temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Give up after this long.
    #[arg(long = "for", value_name = "DURATION", default_value = "90s")]
    pub for_: humantime::Duration,
    /// What goes wrong: `freeze` (a service freezes while answering 200) or
    /// `shared-dependency` (a TCP database goes away for 20 s under three services).
    #[arg(long, value_enum, default_value = "freeze")]
    pub scenario: crate::demo::fleet::Scenario,
}

#[derive(Debug, Args)]
pub struct DemoServiceArgs {
    #[arg(long)]
    pub port: u16,
    #[arg(long)]
    pub log: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "1s")]
    pub every: humantime::Duration,
    #[arg(long)]
    pub freeze_after: Option<humantime::Duration>,
    #[arg(long)]
    pub freeze_once: Option<PathBuf>,
    #[arg(long)]
    pub freeze_while: Option<PathBuf>,
    #[arg(long)]
    pub crash_after: Option<humantime::Duration>,
    #[arg(long)]
    pub produce_nothing: bool,
    #[arg(long)]
    pub start_delay: Option<humantime::Duration>,
    /// Produce only while this address (host:port) accepts a connection.
    #[arg(long, value_name = "ADDR")]
    pub needs: Option<String>,
    /// Go away (exit) after this long, once: for `--away-for`, a restarted copy does not
    /// listen either (the deadline is kept in `--away-once`).
    #[arg(long, requires_all = ["away_for", "away_once"])]
    pub away_after: Option<humantime::Duration>,
    #[arg(long)]
    pub away_for: Option<humantime::Duration>,
    #[arg(long)]
    pub away_once: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Only this service.
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// Write it (atomically) to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Size budget in tokens (about four characters each); the least relevant lines are cut first.
    #[arg(long, value_name = "N", default_value_t = crate::digest::DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Print the digest's data as one JSON object instead of Markdown.
    #[arg(long, conflicts_with = "out")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RecCmd {
    /// Mark a recommendation done (its id as the digest shows it, e.g. r-1a2b3c4d).
    Done(RecDoneArgs),
    /// List recommendations: open, closed, regressed.
    List(JsonArgs),
}

#[derive(Debug, Args)]
pub struct RecDoneArgs {
    /// The recommendation id.
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Print a launchd plist for a monitored service from its config (program, env, log paths).
    ///
    /// Example: akashic service plist trading-bot > ~/Library/LaunchAgents/com.me.trading-bot.plist
    Plist(PlistArgs),
    /// Install akashic itself as a LaunchAgent (macOS default) or systemd user unit (Linux default) and load it.
    ///
    /// Example: akashic --config ~/akashic.toml service install --print
    Install(InstallArgs),
    /// Unload and remove what `service install` installed.
    Uninstall(SupervisorArgs),
}

#[derive(Debug, Args)]
pub struct PlistArgs {
    /// The service, as named in the config.
    pub service: String,
}

#[derive(Debug, Args)]
pub struct SupervisorArgs {
    /// Use launchd (a LaunchAgent in ~/Library/LaunchAgents).
    #[arg(long, conflicts_with = "systemd")]
    pub launchd: bool,
    /// Use systemd (a user unit in ~/.config/systemd/user).
    #[arg(long)]
    pub systemd: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub supervisor: SupervisorArgs,
    /// Print the plist or unit instead of installing it.
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the config without touching services; list every problem, and every program it
    /// runs that is not found (exit 78 if invalid).
    Check(JsonArgs),
    /// Print the example config, every key explained: start yours from it.
    ///
    /// Example: akashic config example > ~/.config/akashic/akashic.toml
    Example(JsonArgs),
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
    #[arg(long = "for", value_name = "DURATION")]
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
pub struct LabelArgs {
    /// The incident id, as `akashic incidents` lists it.
    pub id: String,
    /// The right category: rate_limit, resource_exhaustion, deadlock, dependency_unavailable,
    /// config_error, auth_failure, crash, network, data_error or unknown.
    pub category: String,
    /// The root cause in your words (replaces the drafted one).
    #[arg(long, value_name = "TEXT")]
    pub root_cause: Option<String>,
    /// A note kept in the incident's timeline.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
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
    /// Only post-mortems from this time on: RFC 3339, a date (2026-03-01) or an age (30d).
    /// Without it, a time the question names ("since March", "last week") is used.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only post-mortems up to this time (a date includes its whole day); same forms as --since.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
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
        Command::Config(ConfigCmd::Example(a)) => crate::cmd::config_example::run(a.json),
        Command::Check(a) => crate::cmd::check::run(config.as_deref(), a.json),
        Command::Watch(a) => crate::cmd::watch::run(config.as_deref(), a.for_.map(Into::into)),
        Command::Status(a) => crate::cmd::status::run(config.as_deref(), a.json),
        Command::Incidents(a) => {
            crate::cmd::incidents::run(config.as_deref(), a.service.as_deref(), a.json)
        }
        Command::Show(a) => crate::cmd::show::run(config.as_deref(), &a.id, a.json),
        Command::Label(a) => crate::cmd::label::run(config.as_deref(), &a),
        Command::Resume(a) => crate::cmd::resume::run(config.as_deref(), &a.service),
        Command::Ask(a) => crate::cmd::ask::run(config.as_deref(), &a),
        Command::Memory(m) => crate::cmd::memory::run(config.as_deref(), &m),
        Command::Eval(a) => crate::cmd::eval::run(config.as_deref(), &a),
        Command::Demo(a) => crate::cmd::demo::run(&a),
        Command::Digest(a) => crate::cmd::digest::run(config.as_deref(), &a),
        Command::Rec(c) => crate::cmd::rec::run(config.as_deref(), &c),
        Command::Mcp => crate::cmd::mcp::run(config.as_deref()),
        Command::Doctor(a) => crate::cmd::doctor::run(config.as_deref(), a.json),
        Command::Service(c) => crate::cmd::service::run(config.as_deref(), &c),
        Command::DemoService(a) => {
            Ok(crate::demo::service::run(crate::demo::service::Behaviour {
                port: a.port,
                log: a.log,
                out: a.out,
                every: a.every.into(),
                freeze_after: a.freeze_after.map(Into::into),
                freeze_once: a.freeze_once,
                freeze_while: a.freeze_while,
                crash_after: a.crash_after.map(Into::into),
                produce_nothing: a.produce_nothing,
                start_delay: a.start_delay.map(Into::into),
                needs: a.needs,
                away: a.away_after.zip(a.away_for).zip(a.away_once).map(
                    |((after, away_for), file)| crate::demo::service::Away {
                        after: after.into(),
                        away_for: away_for.into(),
                        file,
                    },
                ),
            }))
        }
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
