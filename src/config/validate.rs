//! Turns the raw serde shape into validated domain types, collecting every problem.

use super::bounds::{self, CountBound, DurationBound};
use super::locate::KeyPath;
use super::model::*;
use super::programs::Programs;
use super::raw::*;
use super::validate_service::validate_service;
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
pub(super) struct Ctx<'a> {
    pub(super) base: &'a Path,
    problems: Vec<Problem>,
    /// Where programs are looked up; `None` skips the lookup.
    programs: Option<&'a dyn Programs>,
    /// Programs that cannot be found (kept apart: `watch` only warns of them).
    missing: Vec<Problem>,
}

impl Ctx<'_> {
    pub(super) fn bad(&mut self, key: &KeyPath, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.clone(),
            message: message.into(),
        });
    }

    /// A duration within its bound; `default` when absent or wrong.
    pub(super) fn duration(
        &mut self,
        key: &KeyPath,
        v: Option<&String>,
        default: Duration,
        bound: &DurationBound,
    ) -> Duration {
        let Some(s) = v else { return default };
        let Ok(d) = humantime::parse_duration(s) else {
            self.bad(
                key,
                format!("invalid duration {s:?}; write a number and a unit, like \"90s\", \"10m\" or \"2h\""),
            );
            return default;
        };
        let name = last(key);
        if d < bound.min {
            self.bad(
                key,
                format!(
                    "`{name}` {s:?} is too short ({}); write at least {name} = \"{}\"",
                    bound.why_min,
                    bounds::show(bound.min)
                ),
            );
            return default;
        }
        if d > bound.max {
            self.bad(
                key,
                format!(
                    "`{name}` {s:?} is too long ({}); write at most {name} = \"{}\"",
                    bound.why_max,
                    bounds::show(bound.max)
                ),
            );
            return default;
        }
        d
    }

    pub(super) fn required_duration(
        &mut self,
        key: &KeyPath,
        v: Option<&String>,
        what: &str,
        bound: &DurationBound,
    ) -> Duration {
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
        self.duration(key, v, Duration::from_secs(600), bound)
    }

    /// A count within its bound; `default` when absent or out of range.
    pub(super) fn count(
        &mut self,
        key: &KeyPath,
        v: Option<u32>,
        default: u32,
        bound: &CountBound,
    ) -> u32 {
        let Some(n) = v else { return default };
        let name = last(key);
        if u64::from(n) < bound.min {
            self.bad(
                key,
                format!(
                    "`{name}` {n} is too small ({}); use at least {}",
                    bound.why_min, bound.min
                ),
            );
            return default;
        }
        if u64::from(n) > bound.max {
            self.bad(
                key,
                format!(
                    "`{name}` {n} is too large ({}); use at most {}",
                    bound.why_max, bound.max
                ),
            );
            return default;
        }
        n
    }

    /// A path resolved from the config's folder, which the system must be able to open.
    pub(super) fn path(&mut self, key: &KeyPath, s: &str) -> PathBuf {
        let p = resolve_path(self.base, s);
        self.path_fits(key, &p);
        p
    }

    /// Whether a resolved path is within the system's limits (PATH_MAX, NAME_MAX).
    pub(super) fn path_fits(&mut self, key: &KeyPath, p: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let len = p.as_os_str().as_bytes().len();
        if len > bounds::PATH_MAX {
            self.bad(
                key,
                format!(
                    "the path is {len} bytes, longer than this system allows ({}); use a shorter path",
                    bounds::PATH_MAX
                ),
            );
            return;
        }
        if let Some(name) = p
            .components()
            .map(|c| c.as_os_str().as_bytes().len())
            .find(|n| *n > bounds::FILE_NAME_MAX)
        {
            self.bad(
                key,
                format!(
                    "a name in the path is {name} bytes, longer than file systems allow ({}); use a shorter name",
                    bounds::FILE_NAME_MAX
                ),
            );
        }
    }

    /// Looks up the program of `argv` (at `key`) as it will run: with `path` as PATH, in `cwd`.
    pub(super) fn program(
        &mut self,
        key: &KeyPath,
        argv: &[String],
        path: Option<&str>,
        cwd: Option<&Path>,
        fix: &str,
    ) {
        let Some(programs) = self.programs else {
            return;
        };
        let own = programs.own_path();
        let path = path.unwrap_or(&own);
        for (i, prog) in super::programs::to_look_up(argv) {
            if programs.find(prog, path, cwd).is_some() {
                continue;
            }
            let message = if prog.contains('/') {
                format!(
                    "program {prog:?} does not exist or is not executable{}; fix the path, or make it executable (chmod +x)",
                    cwd.map(|c| format!(" (from {})", c.display()))
                        .unwrap_or_default()
                )
            } else {
                format!("program {prog:?} is not on PATH ({path}); {fix}")
            };
            self.missing.push(Problem {
                key: key.index(i),
                message,
            });
        }
    }

    /// Keys that are set but do not belong to the chosen kind.
    pub(super) fn not_for_kind(&mut self, at: &KeyPath, kind: &str, set: &[(&str, bool)]) {
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

pub(super) fn last(key: &KeyPath) -> String {
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
pub(super) fn resolve_glob(base: &Path, s: &str) -> String {
    resolve_path(base, s).to_string_lossy().into_owned()
}

/// A valid config, and the programs it runs that could not be found (when they were looked up).
#[derive(Debug)]
pub struct Validated {
    pub config: Config,
    pub missing_programs: Vec<Problem>,
}

/// Validates the raw config read from `path`; with `programs`, also looks up every program it
/// runs. On error, every problem (missing programs included) is returned.
pub fn validate(
    raw: RawConfig,
    path: &Path,
    programs: Option<&dyn Programs>,
) -> Result<Validated, Vec<Problem>> {
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut cx = Ctx {
        base: &base,
        problems: Vec::new(),
        programs,
        missing: Vec::new(),
    };
    let root = KeyPath::root();

    let d = raw.daemon.unwrap_or_default();
    let dk = root.key("daemon");
    let tick = cx.duration(
        &dk.key("tick"),
        d.tick.as_ref(),
        Duration::from_secs(1),
        &bounds::TICK,
    );
    let forensics_budget = cx.duration(
        &dk.key("forensics_budget"),
        d.forensics_budget.as_ref(),
        Duration::from_secs(2),
        &bounds::FORENSICS_BUDGET,
    );
    let state_dir = match &d.state_dir {
        Some(s) => cx.path(&dk.key("state_dir"), s),
        None => default_state_dir(),
    };
    socket_fits(&mut cx, &dk.key("state_dir"), &state_dir);
    let digest = d.digest.as_deref().map(|s| cx.path(&dk.key("digest"), s));
    let http = super::validate_http::validate_http(&mut cx, &d, &dk);
    let daemon = DaemonConfig {
        state_dir,
        tick,
        forensics_budget,
        digest,
        http,
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
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (i, s) in raw.service.into_iter().enumerate() {
        let at = root.key("service").index(i);
        if let Some(name) = &s.name {
            if let Some(first) = seen.get(name) {
                cx.bad(
                    &at.key("name"),
                    format!("duplicate service name {name:?} (also {first}); service names must be unique"),
                );
            } else {
                seen.insert(name.clone(), format!("service[{i}]"));
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

    for (i, d) in raw.dependency.into_iter().enumerate() {
        let at = root.key("dependency").index(i);
        if let Some(dep) = validate_dependency(&mut cx, d, &at, tick) {
            if let Some(first) = seen.get(&dep.name) {
                cx.bad(
                    &at.key("name"),
                    format!("duplicate name {:?} (also {first}); service and dependency names must be unique", dep.name),
                );
            } else {
                seen.insert(dep.name.clone(), format!("dependency[{i}]"));
            }
            services.push(dep);
        }
    }
    fleet_graph(&mut cx, &mut services);

    if cx.problems.is_empty() {
        Ok(Validated {
            config: Config {
                path: path.to_path_buf(),
                daemon,
                memory,
                llm,
                notify,
                agent,
                services,
            },
            missing_programs: cx.missing,
        })
    } else {
        let mut all = cx.problems;
        all.extend(cx.missing);
        Err(all)
    }
}

/// A `[[dependency]]`: a name and its checks; observed only, never restarted.
fn validate_dependency(
    cx: &mut Ctx,
    d: RawDependency,
    at: &KeyPath,
    tick: Duration,
) -> Option<ServiceConfig> {
    let raw = RawService {
        name: d.name,
        repo: None,
        log: None,
        digest: None,
        grace: None,
        recovery_window: None,
        restart_budget: None,
        env_required: Vec::new(),
        migrated_from: None,
        leave_running: None,
        restart: None,
        check: d.check,
        depends_on: Vec::new(),
        on_recurrence: Vec::new(),
    };
    let mut svc = validate_service(cx, raw, at, tick)?;
    svc.dependency = true;
    Some(svc)
}

/// `depends_on` names must exist and form no cycle; services are put in start order (what
/// they depend on first).
fn fleet_graph(cx: &mut Ctx, services: &mut Vec<ServiceConfig>) {
    let root = KeyPath::root();
    // Services come first in the list, in file order, then dependencies: the index of a
    // service in the list is its index in the file.
    let key_of = |i: usize| root.key("service").index(i).key("depends_on");
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    for (i, s) in services.iter().enumerate().filter(|(_, s)| !s.dependency) {
        for (j, d) in s.depends_on.iter().enumerate() {
            if d == &s.name {
                cx.bad(
                    &key_of(i).index(j),
                    format!(
                        "service {:?} depends on itself; remove {d:?} from depends_on",
                        s.name
                    ),
                );
            } else if !names.contains(d) {
                cx.bad(
                    &key_of(i).index(j),
                    format!("depends_on names {d:?}, which is neither a [[service]] nor a [[dependency]]; add a [[dependency]] named {d:?} with a check, or fix the name"),
                );
            }
        }
    }
    let graph: Vec<(String, Vec<String>)> = services
        .iter()
        .map(|s| {
            let deps = s.depends_on.iter().filter(|d| **d != s.name).cloned();
            (s.name.clone(), deps.collect())
        })
        .collect();
    if let Some(cycle) = crate::core::policy::find_cycle(&graph) {
        let first = names.iter().position(|n| *n == cycle[0]).unwrap_or(0);
        cx.bad(
            &key_of(first),
            format!(
                "dependency cycle {}: nothing on it could start first or be blamed first; remove one of these depends_on entries",
                cycle.join(" -> ")
            ),
        );
        return;
    }
    let order = crate::core::policy::start_order(&graph);
    let mut slots: Vec<Option<ServiceConfig>> = services.drain(..).map(Some).collect();
    services.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// The daemon's control socket must fit a unix socket address, or the daemon runs without one.
fn socket_fits(cx: &mut Ctx, key: &KeyPath, state_dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let sock = crate::daemon::control::socket_path(state_dir);
    let len = sock.as_os_str().as_bytes().len();
    if len > bounds::SOCKET_PATH_MAX {
        cx.bad(
            key,
            format!(
                "the control socket {} would be {len} bytes, longer than a unix socket path may be ({} here), so `status`, `incidents` and `resume` could not reach the daemon; set state_dir to a path of at most {} bytes, e.g. state_dir = \"~/.akashic\"",
                sock.display(),
                bounds::SOCKET_PATH_MAX,
                bounds::SOCKET_PATH_MAX - (len - state_dir.as_os_str().as_bytes().len()),
            ),
        );
    }
}

/// The platform data dir: `~/.local/share/akashic` on Linux, `~/Library/Application Support/akashic` on macOS.
pub fn default_state_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("akashic")
}

fn validate_memory(cx: &mut Ctx, m: RawMemory, at: &KeyPath) -> MemoryConfig {
    let model_dir = m
        .model_dir
        .as_deref()
        .map(|s| cx.path(&at.key("model_dir"), s));
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
            &bounds::LLM_TIMEOUT,
        ),
        max_tokens: cx.count(
            &at.key("max_tokens"),
            l.max_tokens,
            700,
            &bounds::MAX_TOKENS,
        ),
    }
}

fn validate_agent(cx: &mut Ctx, a: RawAgent, at: &KeyPath) -> AgentConfig {
    let key = at.key("signatures");
    let Some(file) = a.signatures.as_deref().map(|s| cx.path(&key, s)) else {
        return AgentConfig::default();
    };
    match crate::agent::signatures::Signatures::with_user_file(&file) {
        Ok(signatures) => AgentConfig {
            signatures_file: Some(file),
            signatures,
        },
        Err(e) => {
            cx.bad(&key, format!("signature file {e}"));
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
            &bounds::REMINDER,
        ),
    }
}
