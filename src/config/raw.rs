//! The serde shape of `akashic.toml`, exactly as written (specs/config.md); no meaning yet.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub daemon: Option<RawDaemon>,
    pub memory: Option<RawMemory>,
    pub llm: Option<RawLlm>,
    pub notify: Option<RawNotify>,
    pub agent: Option<RawAgent>,
    #[serde(default)]
    pub service: Vec<RawService>,
    #[serde(default)]
    pub dependency: Vec<RawDependency>,
}

/// `[[dependency]]`: something the fleet needs that akashic watches but does not restart.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDependency {
    pub name: Option<String>,
    #[serde(default)]
    pub check: Vec<RawCheck>,
}

/// `[[service.on_recurrence]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecurrence {
    pub category: Option<String>,
    pub count: Option<u32>,
    pub within: Option<String>,
    pub then: Option<String>,
    pub run: Option<Vec<String>>,
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub state_dir: Option<String>,
    pub tick: Option<String>,
    pub forensics_budget: Option<String>,
    pub digest: Option<String>,
    pub http: Option<String>,
    pub http_token_env: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMemory {
    pub backend: Option<String>,
    pub url: Option<String>,
    pub collection: Option<String>,
    pub api_key_env: Option<String>,
    pub model_dir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLlm {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub timeout: Option<String>,
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub signatures: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub webhook: Option<String>,
    pub reminder: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub max: Option<u32>,
    pub within: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Option<String>,
    pub repo: Option<String>,
    pub log: Option<String>,
    pub digest: Option<String>,
    pub grace: Option<String>,
    pub recovery_window: Option<String>,
    pub restart_budget: Option<RawBudget>,
    #[serde(default)]
    pub env_required: Vec<String>,
    pub migrated_from: Option<String>,
    pub leave_running: Option<bool>,
    pub restart: Option<RawRestart>,
    #[serde(default)]
    pub check: Vec<RawCheck>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub on_recurrence: Vec<RawRecurrence>,
}

/// One flat table for every restart kind: `kind` picks the variant during validation,
/// which then names each key that does not belong to that kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRestart {
    pub kind: Option<String>,
    pub command: Option<Vec<String>>,
    pub cwd: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub stdout: Option<String>,
    pub stop_grace: Option<String>,
    pub label: Option<String>,
    pub plist: Option<String>,
    pub program: Option<Vec<String>>,
    pub unit: Option<String>,
    pub user: Option<bool>,
    pub run: Option<Vec<String>>,
}

/// One flat table for every check kind, picked by `kind` during validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub kind: Option<String>,
    pub interval: Option<String>,
    pub failures: Option<u32>,
    pub path: Option<String>,
    pub max_age: Option<String>,
    pub url: Option<String>,
    pub status: Option<u16>,
    pub body_contains: Option<String>,
    pub timeout: Option<String>,
    pub addr: Option<String>,
    pub glob: Option<String>,
    pub sqlite: Option<String>,
    pub query: Option<String>,
    pub command: Option<Vec<String>>,
    pub min_growth: Option<i64>,
    pub within: Option<String>,
}

/// Keys each table accepts, for the pre-pass that reports every unknown key at once.
pub mod schema {
    pub const ROOT: &[&str] = &[
        "daemon",
        "memory",
        "llm",
        "notify",
        "agent",
        "service",
        "dependency",
    ];
    pub const DEPENDENCY: &[&str] = &["name", "check"];
    pub const RECURRENCE: &[&str] = &["category", "count", "within", "then", "run", "timeout"];
    pub const AGENT: &[&str] = &["signatures"];
    pub const DAEMON: &[&str] = &[
        "state_dir",
        "tick",
        "forensics_budget",
        "digest",
        "http",
        "http_token_env",
    ];
    pub const MEMORY: &[&str] = &["backend", "url", "collection", "api_key_env", "model_dir"];
    pub const LLM: &[&str] = &["base_url", "model", "api_key_env", "timeout", "max_tokens"];
    pub const NOTIFY: &[&str] = &["webhook", "reminder"];
    pub const SERVICE: &[&str] = &[
        "name",
        "repo",
        "log",
        "digest",
        "grace",
        "recovery_window",
        "restart_budget",
        "env_required",
        "migrated_from",
        "leave_running",
        "restart",
        "check",
        "depends_on",
        "on_recurrence",
    ];
    pub const BUDGET: &[&str] = &["max", "within"];
    pub const RESTART: &[&str] = &[
        "kind",
        "command",
        "cwd",
        "env",
        "stdout",
        "stop_grace",
        "label",
        "plist",
        "program",
        "unit",
        "user",
        "run",
    ];
    pub const CHECK: &[&str] = &[
        "kind",
        "interval",
        "failures",
        "path",
        "max_age",
        "url",
        "status",
        "body_contains",
        "timeout",
        "addr",
        "glob",
        "sqlite",
        "query",
        "command",
        "min_growth",
        "within",
    ];
}
