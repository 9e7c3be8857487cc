//! Turns the raw serde shape into validated domain types, collecting every problem.

use super::locate::KeyPath;
use super::model::*;
use super::raw::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One problem in the config: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: KeyPath,
    pub message: String,
}

/// Collects problems while validating.
struct Ctx<'a> {
    base: &'a Path,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn bad(&mut self, key: &KeyPath, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.clone(),
            message: message.into(),
        });
    }

    fn duration(&mut self, key: &KeyPath, v: Option<&String>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => match humantime::parse_duration(s) {
                Ok(d) if d.is_zero() => {
                    self.bad(
                        key,
                        format!("duration {s:?} is zero; use a positive duration like \"30s\""),
                    );
                    default
                }
                Ok(d) => d,
                Err(_) => {
                    self.bad(
                        key,
                        format!("invalid duration {s:?}; write a number and a unit, like \"90s\", \"10m\" or \"2h\""),
                    );
                    default
                }
            },
        }
    }

    fn required_duration(&mut self, key: &KeyPath, v: Option<&String>, what: &str) -> Duration {
        if v.is_none() {
            self.bad(
                key,
                format!(
                    "missing `{}` ({what}); add e.g. {} = \"10m\"",
                    last(key),
                    last(key)
                ),
            );
        }
        self.duration(key, v, Duration::from_secs(600))
    }

    fn path(&self, s: &str) -> PathBuf {
        resolve_path(self.base, s)
    }

    /// Keys that are set but do not belong to the chosen kind.
    fn not_for_kind(&mut self, at: &KeyPath, kind: &str, set: &[(&str, bool)]) {
        for (k, present) in set {
            if *present {
                self.bad(
                    &at.key(k),
                    format!("`{k}` does not apply to kind {kind:?}; remove it"),
                );
            }
        }
    }
}

fn last(key: &KeyPath) -> String {
    match key.0.last() {
        Some(super::locate::Seg::Key(k)) => k.clone(),
        _ => key.to_string(),
    }
}

/// `~/x` expands to the home directory; a relative path is taken from the config file's folder.
pub fn resolve_path(base: &Path, s: &str) -> PathBuf {
    let expanded = match s.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| PathBuf::from(s)),
        None => PathBuf::from(s),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    }
}

/// A `glob` pattern resolved like a path, kept as a string.
fn resolve_glob(base: &Path, s: &str) -> String {
    resolve_path(base, s).to_string_lossy().into_owned()
}

pub fn validate(raw: RawConfig, path: &Path) -> Result<Config, Vec<Problem>> {
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut cx = Ctx {
        base: &base,
        problems: Vec::new(),
    };
    let root = KeyPath::root();

    let d = raw.daemon.unwrap_or_default();
    let dk = root.key("daemon");
    let tick = cx.duration(&dk.key("tick"), d.tick.as_ref(), Duration::from_secs(1));
    let forensics_budget = cx.duration(
        &dk.key("forensics_budget"),
        d.forensics_budget.as_ref(),
        Duration::from_secs(2),
    );
    let state_dir = match &d.state_dir {
        Some(s) => cx.path(s),
        None => default_state_dir(),
    };
    let digest = d.digest.as_deref().map(|s| cx.path(s));
    let daemon = DaemonConfig {
        state_dir,
        tick,
        forensics_budget,
        digest,
    };

    let memory = validate_memory(&mut cx, raw.memory.unwrap_or_default(), &root.key("memory"));
    let llm = raw.llm.map(|l| validate_llm(&mut cx, l, &root.key("llm")));
    let notify = raw
        .notify
        .map(|n| validate_notify(&mut cx, n, &root.key("notify")));
    let agent = raw
        .agent
        .map(|a| validate_agent(&mut cx, a, &root.key("agent")))
        .unwrap_or_default();

    let mut services = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in raw.service.into_iter().enumerate() {
        let at = root.key("service").index(i);
        if let Some(name) = &s.name {
            if let Some(first) = seen.get(name) {
                cx.bad(
                    &at.key("name"),
                    format!("duplicate service name {name:?} (also service[{first}]); service names must be unique"),
                );
            } else {
                seen.insert(name.clone(), i);
            }
        }
        if let Some(mut svc) = validate_service(&mut cx, s, &at, tick) {
            // A child's output is kept even when `stdout` is not set: its own errors belong in post-mortems.
            if let Some(RestartSpec::Child(c)) = &mut svc.restart {
                if c.stdout.is_none() {
                    c.stdout = Some(
                        daemon
                            .state_dir
                            .join("logs")
                            .join(format!("{}.log", svc.name)),
                    );
                }
            }
            services.push(svc);
        }
    }

    if cx.problems.is_empty() {
        Ok(Config {
            path: path.to_path_buf(),
            daemon,
            memory,
            llm,
            notify,
            agent,
            services,
        })
    } else {
        Err(cx.problems)
    }
}

/// The platform data dir: `~/.local/share/akashic` on Linux, `~/Library/Application Support/akashic` on macOS.
pub fn default_state_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("akashic")
}

fn validate_memory(cx: &mut Ctx, m: RawMemory, at: &KeyPath) -> MemoryConfig {
    let model_dir = m.model_dir.as_deref().map(|s| cx.path(s));
    let backend = match m.backend.as_deref().unwrap_or("embedded") {
        "embedded" => {
            cx.not_for_kind(
                at,
                "embedded",
                &[
                    ("url", m.url.is_some()),
                    ("collection", m.collection.is_some()),
                    ("api_key_env", m.api_key_env.is_some()),
                ],
            );
            MemoryBackend::Embedded
        }
        "qdrant" => {
            let url = m
                .url
                .clone()
                .unwrap_or_else(|| "http://127.0.0.1:6334".into());
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                cx.bad(&at.key("url"), format!("qdrant url {url:?} must start with http:// or https:// (gRPC port, usually 6334)"));
            }
            MemoryBackend::Qdrant {
                url,
                collection: m.collection.clone().unwrap_or_else(|| "akashic".into()),
                api_key_env: m.api_key_env.clone(),
            }
        }
        other => {
            cx.bad(
                &at.key("backend"),
                format!("unknown memory backend {other:?}; use \"embedded\" or \"qdrant\""),
            );
            MemoryBackend::Embedded
        }
    };
    MemoryConfig { backend, model_dir }
}

fn validate_llm(cx: &mut Ctx, l: RawLlm, at: &KeyPath) -> LlmConfig {
    let base_url = match l.base_url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => u,
        Some(u) => {
            cx.bad(&at.key("base_url"), format!("base_url {u:?} must start with http:// or https://, e.g. \"http://127.0.0.1:8080/v1\""));
            u
        }
        None => {
            cx.bad(at, "missing `base_url`; add base_url = \"http://127.0.0.1:8080/v1\" (any OpenAI-compatible server)");
            String::new()
        }
    };
    let model = l.model.unwrap_or_else(|| {
        cx.bad(
            at,
            "missing `model`; add the model name the server serves, e.g. model = \"local\"",
        );
        String::new()
    });
    LlmConfig {
        base_url,
        model,
        api_key_env: l.api_key_env,
        timeout: cx.duration(
            &at.key("timeout"),
            l.timeout.as_ref(),
            Duration::from_secs(60),
        ),
        max_tokens: l.max_tokens.unwrap_or(700),
    }
}

fn validate_agent(cx: &mut Ctx, a: RawAgent, at: &KeyPath) -> AgentConfig {
    let Some(file) = a.signatures.as_deref().map(|s| cx.path(s)) else {
        return AgentConfig::default();
    };
    match crate::agent::signatures::Signatures::with_user_file(&file) {
        Ok(signatures) => AgentConfig {
            signatures_file: Some(file),
            signatures,
        },
        Err(e) => {
            cx.bad(&at.key("signatures"), format!("signature file {e}"));
            AgentConfig::default()
        }
    }
}

fn validate_notify(cx: &mut Ctx, n: RawNotify, at: &KeyPath) -> NotifyConfig {
    let webhook = match n.webhook {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => u,
        Some(u) => {
            cx.bad(
                &at.key("webhook"),
                format!("webhook {u:?} must be an http:// or https:// URL"),
            );
            u
        }
        None => {
            cx.bad(at, "missing `webhook`; add webhook = \"https://...\" (Slack or Discord incoming webhook)");
            String::new()
        }
    };
    NotifyConfig {
        webhook,
        reminder: cx.duration(
            &at.key("reminder"),
            n.reminder.as_ref(),
            Duration::from_secs(3600),
        ),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn validate_service(
    cx: &mut Ctx,
    s: RawService,
    at: &KeyPath,
    tick: Duration,
) -> Option<ServiceConfig> {
    let name = match s.name {
        Some(n) if valid_name(&n) => n,
        Some(n) => {
            cx.bad(
                &at.key("name"),
                format!("service name {n:?} must match [a-z0-9_-]+, e.g. \"trading-bot\""),
            );
            n
        }
        None => {
            cx.bad(at, "service has no `name`; add name = \"my-service\"");
            String::new()
        }
    };
    let grace = cx.duration(&at.key("grace"), s.grace.as_ref(), Duration::from_secs(30));
    let recovery_window = cx.duration(
        &at.key("recovery_window"),
        s.recovery_window.as_ref(),
        Duration::from_secs(300),
    );
    let restart_budget = match s.restart_budget {
        None => RestartBudget {
            max: 3,
            within: Duration::from_secs(3600),
        },
        Some(b) => {
            let bk = at.key("restart_budget");
            let max = b.max.unwrap_or(3);
            RestartBudget {
                max,
                within: cx.duration(
                    &bk.key("within"),
                    b.within.as_ref(),
                    Duration::from_secs(3600),
                ),
            }
        }
    };
    for (j, v) in s.env_required.iter().enumerate() {
        if v.is_empty() || v.contains('=') || v.contains(char::is_whitespace) {
            cx.bad(
                &at.key("env_required").index(j),
                format!("{v:?} is not an environment variable name"),
            );
        }
    }
    let restart = s
        .restart
        .map(|r| validate_restart(cx, r, &at.key("restart")));
    let leave_running = s.leave_running.unwrap_or(false);
    if leave_running && !matches!(restart, Some(Some(RestartSpec::Child(_)))) {
        cx.bad(
            &at.key("leave_running"),
            "`leave_running` applies only to restart kind \"child\"; remove it",
        );
    }
    if s.check.is_empty() {
        cx.bad(at, format!("service {name:?} has no checks; add at least one [[service.check]] (log_stale, http, port or artifact)"));
    }
    let checks: Vec<CheckSpec> = s
        .check
        .into_iter()
        .enumerate()
        .filter_map(|(j, c)| validate_check(cx, c, &at.key("check").index(j), tick))
        .collect();
    Some(ServiceConfig {
        name,
        repo: s.repo.as_deref().map(|p| cx.path(p)),
        log: s.log.as_deref().map(|p| cx.path(p)),
        digest: s.digest.as_deref().map(|p| cx.path(p)),
        grace,
        recovery_window,
        restart_budget,
        env_required: s.env_required,
        migrated_from: s.migrated_from.as_deref().map(|p| cx.path(p)),
        restart: restart.flatten(),
        checks,
        leave_running,
    })
}

fn nonempty_argv(
    cx: &mut Ctx,
    key: &KeyPath,
    v: Option<Vec<String>>,
    example: &str,
) -> Vec<String> {
    match v {
        Some(argv) if !argv.is_empty() && !argv[0].is_empty() => argv,
        Some(_) => {
            cx.bad(
                key,
                format!(
                    "`{}` is empty; give the program and its arguments, e.g. {} = {example}",
                    last(key),
                    last(key)
                ),
            );
            Vec::new()
        }
        None => {
            let parent = KeyPath(key.0[..key.0.len() - 1].to_vec());
            cx.bad(
                &parent,
                format!("missing `{}`; add {} = {example}", last(key), last(key)),
            );
            Vec::new()
        }
    }
}

fn validate_restart(cx: &mut Ctx, r: RawRestart, at: &KeyPath) -> Option<RestartSpec> {
    let kind = r.kind.clone().unwrap_or_default();
    let env = r.env.clone().unwrap_or_default();
    match kind.as_str() {
        "child" => {
            cx.not_for_kind(
                at,
                "child",
                &[
                    ("label", r.label.is_some()),
                    ("plist", r.plist.is_some()),
                    ("program", r.program.is_some()),
                    ("unit", r.unit.is_some()),
                    ("user", r.user.is_some()),
                    ("run", r.run.is_some()),
                ],
            );
            let command = nonempty_argv(
                cx,
                &at.key("command"),
                r.command,
                "[\"python3\", \"bot.py\"]",
            );
            Some(RestartSpec::Child(ChildSpec {
                command,
                cwd: r.cwd.as_deref().map(|p| cx.path(p)),
                env,
                stdout: r.stdout.as_deref().map(|p| cx.path(p)),
                stop_grace: cx.duration(
                    &at.key("stop_grace"),
                    r.stop_grace.as_ref(),
                    Duration::from_secs(5),
                ),
            }))
        }
        "launchd" => {
            cx.not_for_kind(
                at,
                "launchd",
                &[
                    ("command", r.command.is_some()),
                    ("cwd", r.cwd.is_some()),
                    ("stdout", r.stdout.is_some()),
                    ("stop_grace", r.stop_grace.is_some()),
                    ("unit", r.unit.is_some()),
                    ("user", r.user.is_some()),
                    ("run", r.run.is_some()),
                ],
            );
            let label = r.label.unwrap_or_else(|| {
                cx.bad(
                    at,
                    "missing `label`; add label = \"com.me.my-service\" (the LaunchAgent's Label)",
                );
                String::new()
            });
            Some(RestartSpec::Launchd {
                label,
                plist: r.plist.as_deref().map(|p| cx.path(p)),
                program: r.program.unwrap_or_default(),
                env,
            })
        }
        "systemd" => {
            cx.not_for_kind(
                at,
                "systemd",
                &[
                    ("command", r.command.is_some()),
                    ("cwd", r.cwd.is_some()),
                    ("stdout", r.stdout.is_some()),
                    ("stop_grace", r.stop_grace.is_some()),
                    ("label", r.label.is_some()),
                    ("plist", r.plist.is_some()),
                    ("program", r.program.is_some()),
                    ("run", r.run.is_some()),
                ],
            );
            let unit = r.unit.unwrap_or_else(|| {
                cx.bad(at, "missing `unit`; add unit = \"my-service.service\"");
                String::new()
            });
            Some(RestartSpec::Systemd {
                unit,
                user: r.user.unwrap_or(true),
                env,
            })
        }
        "command" => {
            cx.not_for_kind(
                at,
                "command",
                &[
                    ("command", r.command.is_some()),
                    ("cwd", r.cwd.is_some()),
                    ("env", r.env.is_some()),
                    ("stdout", r.stdout.is_some()),
                    ("stop_grace", r.stop_grace.is_some()),
                    ("label", r.label.is_some()),
                    ("plist", r.plist.is_some()),
                    ("program", r.program.is_some()),
                    ("unit", r.unit.is_some()),
                    ("user", r.user.is_some()),
                ],
            );
            let run = nonempty_argv(cx, &at.key("run"), r.run, "[\"sh\", \"-c\", \"...\"]");
            Some(RestartSpec::Command { run })
        }
        "" => {
            cx.bad(
                at,
                "missing `kind`; use kind = \"child\", \"launchd\", \"systemd\" or \"command\"",
            );
            None
        }
        other => {
            cx.bad(
                &at.key("kind"),
                format!("unknown restart kind {other:?}; use \"child\", \"launchd\", \"systemd\" or \"command\""),
            );
            None
        }
    }
}

fn validate_check(cx: &mut Ctx, c: RawCheck, at: &KeyPath, tick: Duration) -> Option<CheckSpec> {
    let interval = cx.duration(&at.key("interval"), c.interval.as_ref(), tick);
    let failures = match c.failures {
        Some(0) => {
            cx.bad(&at.key("failures"), "`failures` must be at least 1");
            1
        }
        Some(n) => n,
        None => 1,
    };
    let kind_name = c.kind.clone().unwrap_or_default();
    let kind = match kind_name.as_str() {
        "log_stale" => {
            cx.not_for_kind(at, "log_stale", &foreign(&c, &["path", "max_age"]));
            let path = c.path.as_deref().map(|p| cx.path(p));
            if path.is_none() {
                cx.bad(
                    at,
                    "log_stale check has no `path`; add path = \"/path/to/service.log\"",
                );
            }
            let max_age = cx.required_duration(
                &at.key("max_age"),
                c.max_age.as_ref(),
                "how old the log may get",
            );
            CheckKind::LogStale {
                path: path.unwrap_or_default(),
                max_age,
            }
        }
        "http" => {
            cx.not_for_kind(
                at,
                "http",
                &foreign(&c, &["url", "status", "body_contains", "timeout"]),
            );
            let url = match c.url.clone() {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => u,
                Some(u) => {
                    cx.bad(
                        &at.key("url"),
                        format!("url {u:?} must start with http:// or https://"),
                    );
                    u
                }
                None => {
                    cx.bad(
                        at,
                        "http check has no `url`; add url = \"http://127.0.0.1:8080/health\"",
                    );
                    String::new()
                }
            };
            let status = c.status.unwrap_or(200);
            if !(100..=599).contains(&status) {
                cx.bad(
                    &at.key("status"),
                    format!("status {status} is not an HTTP status code (100-599)"),
                );
            }
            CheckKind::Http {
                url,
                status,
                body_contains: c.body_contains.clone(),
                timeout: cx.duration(
                    &at.key("timeout"),
                    c.timeout.as_ref(),
                    Duration::from_secs(2),
                ),
            }
        }
        "port" => {
            cx.not_for_kind(at, "port", &foreign(&c, &["addr", "timeout"]));
            let addr = match c.addr.clone() {
                Some(a) if valid_host_port(&a) => a,
                Some(a) => {
                    cx.bad(
                        &at.key("addr"),
                        format!("addr {a:?} must be host:port, e.g. \"127.0.0.1:8080\""),
                    );
                    a
                }
                None => {
                    cx.bad(
                        at,
                        "port check has no `addr`; add addr = \"127.0.0.1:8080\"",
                    );
                    String::new()
                }
            };
            CheckKind::Port {
                addr,
                timeout: cx.duration(
                    &at.key("timeout"),
                    c.timeout.as_ref(),
                    Duration::from_secs(2),
                ),
            }
        }
        "artifact" => CheckKind::Artifact(validate_artifact(cx, &c, at)?),
        "" => {
            cx.bad(
                at,
                "check has no `kind`; use kind = \"log_stale\", \"http\", \"port\" or \"artifact\"",
            );
            return None;
        }
        other => {
            cx.bad(
                &at.key("kind"),
                format!("unknown check kind {other:?}; use \"log_stale\", \"http\", \"port\" or \"artifact\""),
            );
            return None;
        }
    };
    Some(CheckSpec {
        interval,
        failures,
        kind,
    })
}

/// Which target keys are set that the kind does not take (`kind`, `interval`, `failures` are shared).
fn foreign(c: &RawCheck, allowed: &[&str]) -> Vec<(&'static str, bool)> {
    let set: [(&'static str, bool); 13] = [
        ("path", c.path.is_some()),
        ("max_age", c.max_age.is_some()),
        ("url", c.url.is_some()),
        ("status", c.status.is_some()),
        ("body_contains", c.body_contains.is_some()),
        ("timeout", c.timeout.is_some()),
        ("addr", c.addr.is_some()),
        ("glob", c.glob.is_some()),
        ("sqlite", c.sqlite.is_some()),
        ("query", c.query.is_some()),
        ("command", c.command.is_some()),
        ("min_growth", c.min_growth.is_some()),
        ("within", c.within.is_some()),
    ];
    set.into_iter()
        .filter(|(k, _)| !allowed.contains(k))
        .collect()
}

fn valid_host_port(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

fn validate_artifact(cx: &mut Ctx, c: &RawCheck, at: &KeyPath) -> Option<ArtifactSpec> {
    let targets = [c.glob.is_some(), c.sqlite.is_some(), c.command.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if targets == 0 {
        cx.bad(
            at,
            "artifact check has no target; add one of glob = \"/path/out/*.json\", sqlite = \"/path/db.sqlite\" (with query), or command = [\"sh\", \"-c\", \"...\"]",
        );
        return None;
    }
    if targets > 1 {
        cx.bad(at, "artifact check has more than one target; keep exactly one of `glob`, `sqlite`, `command`");
        return None;
    }
    let growth = c.min_growth.is_some() || c.within.is_some();
    if let Some(g) = &c.glob {
        cx.not_for_kind(at, "artifact (glob)", &foreign(c, &["glob", "max_age"]));
        if let Err(e) = glob::Pattern::new(g) {
            cx.bad(&at.key("glob"), format!("invalid glob {g:?}: {e}"));
        }
        let max_age = cx.required_duration(
            &at.key("max_age"),
            c.max_age.as_ref(),
            "how old the newest file may get",
        );
        return Some(ArtifactSpec::Glob {
            pattern: resolve_glob(cx.base, g),
            max_age,
        });
    }
    if let Some(db) = &c.sqlite {
        let db = cx.path(db);
        let query = c.query.clone().unwrap_or_else(|| {
            cx.bad(
                at,
                "sqlite artifact check has no `query`; add query = \"select max(ts) from trades\"",
            );
            String::new()
        });
        if growth {
            cx.not_for_kind(
                at,
                "artifact (sqlite count)",
                &foreign(c, &["sqlite", "query", "min_growth", "within"]),
            );
            let (min_growth, within) = growth_keys(cx, c, at);
            return Some(ArtifactSpec::SqliteCount {
                db,
                query,
                min_growth,
                within,
            });
        }
        cx.not_for_kind(
            at,
            "artifact (sqlite timestamp)",
            &foreign(c, &["sqlite", "query", "max_age"]),
        );
        let max_age = cx.required_duration(
            &at.key("max_age"),
            c.max_age.as_ref(),
            "how old the newest row may get",
        );
        return Some(ArtifactSpec::SqliteTimestamp { db, query, max_age });
    }
    cx.not_for_kind(
        at,
        "artifact (command)",
        &foreign(c, &["command", "min_growth", "within", "timeout"]),
    );
    let command = nonempty_argv(
        cx,
        &at.key("command"),
        c.command.clone(),
        "[\"sh\", \"-c\", \"wc -l < out.csv\"]",
    );
    let (min_growth, within) = growth_keys(cx, c, at);
    Some(ArtifactSpec::Command {
        command,
        min_growth,
        within,
        timeout: cx.duration(
            &at.key("timeout"),
            c.timeout.as_ref(),
            Duration::from_secs(5),
        ),
    })
}

fn growth_keys(cx: &mut Ctx, c: &RawCheck, at: &KeyPath) -> (i64, Duration) {
    let min_growth = c.min_growth.unwrap_or(1);
    if min_growth < 1 {
        cx.bad(
            &at.key("min_growth"),
            format!("min_growth {min_growth} must be at least 1"),
        );
    }
    let within = cx.required_duration(
        &at.key("within"),
        c.within.as_ref(),
        "the window the count must grow in",
    );
    (min_growth, within)
}
