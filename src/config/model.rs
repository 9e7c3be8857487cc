//! Validated configuration: the domain types the rest of akashic uses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A whole, validated `akashic.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub memory: MemoryConfig,
    /// Absent: post-mortems come from the template path only.
    pub llm: Option<LlmConfig>,
    pub notify: Option<NotifyConfig>,
    pub agent: AgentConfig,
    pub services: Vec<ServiceConfig>,
}

/// `[agent]`: how post-mortems read evidence.
#[derive(Debug, Clone, Default)]
pub struct AgentConfig {
    /// `signatures = "FILE"`: the user's own signatures, in front of the built-in table.
    pub signatures_file: Option<PathBuf>,
    /// The table post-mortems use (built-in, plus the user's file).
    pub signatures: crate::agent::signatures::Signatures,
}

impl Config {
    /// Where the fleet-wide digest goes: `[daemon] digest`, else `<state_dir>/DIGEST.md`.
    pub fn fleet_digest_path(&self) -> PathBuf {
        self.daemon
            .digest
            .clone()
            .unwrap_or_else(|| self.daemon.state_dir.join("DIGEST.md"))
    }

    /// The service with this name.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub state_dir: PathBuf,
    /// Default probe interval.
    pub tick: Duration,
    /// Time budget for the forensics snapshot taken before a kill.
    pub forensics_budget: Duration,
    /// The fleet-wide session-start digest; `None` = `<state_dir>/DIGEST.md`.
    pub digest: Option<PathBuf>,
    /// The status page, `/metrics` and `/api` (specs/web.md); `None` = no port opened.
    pub http: Option<HttpConfig>,
}

/// Where the web server listens, and the token every request must carry (if any).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// As written (`127.0.0.1:9333`, `localhost:9333`, `[::1]:9333`), for messages.
    pub address: String,
    pub addrs: Vec<std::net::SocketAddr>,
    pub token: Option<crate::web::Token>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MemoryBackend {
    Embedded,
    Qdrant {
        url: String,
        collection: String,
        api_key_env: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct MemoryConfig {
    pub backend: MemoryBackend,
    /// Where the setup step put the embedding model; `None` = default search path.
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub base_url: String,
    pub model: String,
    pub api_key_env: Option<String>,
    pub timeout: Duration,
    pub max_tokens: u32,
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub webhook: String,
    pub reminder: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBudget {
    pub max: u32,
    pub within: Duration,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    pub repo: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub digest: Option<PathBuf>,
    pub grace: Duration,
    pub recovery_window: Duration,
    pub restart_budget: RestartBudget,
    pub env_required: Vec<String>,
    pub migrated_from: Option<PathBuf>,
    /// Absent: akashic observes and escalates, it never restarts.
    pub restart: Option<RestartSpec>,
    pub checks: Vec<CheckSpec>,
    /// `kind = "child"` only: leave the child running when akashic stops.
    pub leave_running: bool,
    /// `depends_on`: services or `[[dependency]]` names this one needs (specs/fleet.md).
    pub depends_on: Vec<String>,
    /// `[[service.on_recurrence]]`: what to do when the same failure pattern comes back.
    pub on_recurrence: Vec<RecurrenceRule>,
    /// A `[[dependency]]`: watched, never restarted (its incidents are observed only).
    pub dependency: bool,
}

/// One `[[service.on_recurrence]]` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrenceRule {
    /// Only this root-cause category; `None`: any.
    pub category: Option<crate::core::category::Category>,
    /// This incident is at least the count-th of its pattern...
    pub count: u32,
    /// ...inside this window.
    pub within: Duration,
    pub then: RecurrenceAction,
}

/// What a recurrence rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum RecurrenceAction {
    /// Restart as before, marked recurring.
    Restart,
    /// Run `run` (cwd = the service's cwd) for at most `timeout`, then restart.
    Remedy {
        run: Vec<String>,
        cwd: Option<PathBuf>,
        timeout: Duration,
    },
    /// Do not restart; tell a person.
    Escalate,
    /// Restart, and send a notification saying it recurs.
    Notify,
}

impl RecurrenceAction {
    /// The `then` key's value.
    pub fn name(&self) -> &'static str {
        match self {
            RecurrenceAction::Restart => "restart",
            RecurrenceAction::Remedy { .. } => "remedy",
            RecurrenceAction::Escalate => "escalate",
            RecurrenceAction::Notify => "notify",
        }
    }
}

impl ServiceConfig {
    /// The log akashic reads into post-mortems: `log`, else the child's stdout file.
    pub fn log_path(&self) -> Option<&PathBuf> {
        self.log.as_ref().or(match &self.restart {
            Some(RestartSpec::Child(c)) => c.stdout.as_ref(),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub command: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub stdout: Option<PathBuf>,
    pub stop_grace: Duration,
}

#[derive(Debug, Clone)]
pub enum RestartSpec {
    Child(ChildSpec),
    Launchd {
        label: String,
        plist: Option<PathBuf>,
        program: Vec<String>,
        env: BTreeMap<String, String>,
    },
    Systemd {
        unit: String,
        user: bool,
        env: BTreeMap<String, String>,
    },
    Command {
        run: Vec<String>,
    },
}

impl RestartSpec {
    /// The `kind` key's value.
    pub fn kind_name(&self) -> &'static str {
        match self {
            RestartSpec::Child(_) => "child",
            RestartSpec::Launchd { .. } => "launchd",
            RestartSpec::Systemd { .. } => "systemd",
            RestartSpec::Command { .. } => "command",
        }
    }
}

/// One check of a service, with its schedule and debounce.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub interval: Duration,
    /// Consecutive failures before the check counts as failed.
    pub failures: u32,
    pub kind: CheckKind,
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    LogStale {
        path: PathBuf,
        max_age: Duration,
    },
    Http {
        url: String,
        status: u16,
        body_contains: Option<String>,
        timeout: Duration,
    },
    Port {
        addr: String,
        timeout: Duration,
    },
    Artifact(ArtifactSpec),
}

#[derive(Debug, Clone)]
pub enum ArtifactSpec {
    /// Newest file matching the glob is younger than `max_age`.
    Glob { pattern: String, max_age: Duration },
    /// The query returns a unix timestamp younger than `max_age`.
    SqliteTimestamp {
        db: PathBuf,
        query: String,
        max_age: Duration,
    },
    /// The query returns a count that must grow by `min_growth` within `within`.
    SqliteCount {
        db: PathBuf,
        query: String,
        min_growth: i64,
        within: Duration,
    },
    /// The command prints a number that must grow by `min_growth` within `within`.
    Command {
        command: Vec<String>,
        min_growth: i64,
        within: Duration,
        timeout: Duration,
    },
}

impl CheckKind {
    /// The `kind` key's value.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::LogStale { .. } => "log_stale",
            CheckKind::Http { .. } => "http",
            CheckKind::Port { .. } => "port",
            CheckKind::Artifact(_) => "artifact",
        }
    }

    /// Staleness checks need time to show progress after a restart; liveness checks do not.
    pub fn is_progress(&self) -> bool {
        matches!(self, CheckKind::LogStale { .. } | CheckKind::Artifact(_))
    }
}
