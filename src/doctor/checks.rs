//! The checks: each turns one way a supervised service silently breaks into a finding and a fix.

use super::job::{job_for, real_program, Job};
use super::model::{Finding, Report, Severity};
use super::ports::Ports;
use crate::config::{ArtifactSpec, CheckKind, Config, MemoryBackend, RestartSpec, ServiceConfig};
use crate::service::plist::{which, DEFAULT_PATH};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What akashic's own process sees: its PATH, its variables' names, the home dir.
#[derive(Debug, Clone, Default)]
pub struct Shell {
    pub path: String,
    pub vars: BTreeSet<String>,
    pub home: Option<PathBuf>,
}

impl Shell {
    /// The running process's view.
    pub fn current() -> Shell {
        Shell {
            path: std::env::var("PATH").unwrap_or_default(),
            vars: std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect(),
            home: dirs::home_dir(),
        }
    }
}

/// TCC-protected folders under the home dir.
const TCC_DIRS: [&str; 3] = ["Documents", "Desktop", "Downloads"];

struct Cx<'a> {
    findings: Vec<Finding>,
    checks: usize,
    shell: &'a Shell,
}

impl Cx<'_> {
    fn add(
        &mut self,
        severity: Severity,
        check: &'static str,
        service: Option<&str>,
        finding: String,
        fix: String,
    ) {
        self.findings.push(Finding {
            severity,
            check,
            service: service.map(str::to_string),
            finding,
            fix,
        });
    }
}

/// Runs every check over the config.
pub fn diagnose(cfg: &Config, ports: &dyn Ports, shell: &Shell) -> Report {
    let mut cx = Cx {
        findings: Vec::new(),
        checks: 0,
        shell,
    };
    for svc in &cfg.services {
        match job_for(svc, &shell.path, &shell.vars) {
            Ok(Some(job)) => {
                program_on_path(&mut cx, svc, &job);
                env_present(&mut cx, svc, &job);
                tcc_paths(&mut cx, svc, &job);
            }
            Ok(None) => env_present_without_job(&mut cx, svc),
            Err(e) => {
                cx.checks += 1;
                cx.add(
                    Severity::Error,
                    "config",
                    Some(&svc.name),
                    format!("cannot tell how {} runs: {e}", svc.name),
                    "fix the plist, or remove `plist` so akashic's generated one is checked".into(),
                );
            }
        }
        service_paths(&mut cx, svc);
    }
    state_dir(&mut cx, &cfg.daemon.state_dir);
    endpoints(&mut cx, cfg, ports);
    Report::new(cx.findings, cx.checks)
}

fn where_else(cx: &Cx, program: &str) -> Option<PathBuf> {
    which(program, &format!("{}:{DEFAULT_PATH}", cx.shell.path))
}

fn program_on_path(cx: &mut Cx, svc: &ServiceConfig, job: &Job) {
    let Some(prog) = real_program(&job.program) else {
        return;
    };
    cx.checks += 1;
    if which(prog, &job.path).is_some() {
        return;
    }
    let name = &svc.name;
    if prog.contains('/') {
        cx.add(
            Severity::Error,
            "path",
            Some(name),
            format!("{name} runs {prog}, which does not exist or is not executable"),
            format!("install it, or point {} at the right program", job.source),
        );
        return;
    }
    let found = where_else(cx, prog);
    let finding = format!(
        "{prog} is not on the PATH {} gives {name} ({}{}){}",
        job.source,
        job.path,
        if job.path_is_default {
            ", the supervisor's default"
        } else {
            ""
        },
        found
            .as_ref()
            .map(|p| format!("; it is at {}", p.display()))
            .unwrap_or_default()
    );
    let dir = found
        .as_ref()
        .and_then(|p| p.parent())
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "the directory that holds it".into());
    let fix = match (job.kind, &job.file) {
        ("launchd", Some(f)) => format!(
            "add {dir} to EnvironmentVariables PATH in {} (or use the absolute path in ProgramArguments), then reload it",
            f.display()
        ),
        ("launchd", None) => format!(
            "set PATH with {dir} in [service.restart] env, then write the plist with `akashic service plist {name}`"
        ),
        _ => format!("add {dir} to PATH in [service.restart] env, or use the absolute path"),
    };
    cx.add(Severity::Error, "path", Some(name), finding, fix);
}

/// Names the service needs: `env_required` and the old setup's environment, each with its origin.
fn needs(cx: &mut Cx, svc: &ServiceConfig) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = svc
        .env_required
        .iter()
        .map(|k| (k.clone(), "env_required".to_string()))
        .collect();
    if let Some(from) = &svc.migrated_from {
        cx.checks += 1;
        match super::compose::env_names(from, &svc.name) {
            Ok(names) => {
                let origin = from
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| from.display().to_string());
                for k in names {
                    if !out.iter().any(|(n, _)| *n == k) {
                        out.push((k, origin.clone()));
                    }
                }
            }
            Err(e) => cx.add(
                Severity::Error,
                "env",
                Some(&svc.name),
                format!("{:#}", anyhow::Error::from(e)),
                "fix `migrated_from`, or remove it once the service's environment is settled"
                    .into(),
            ),
        }
    }
    out
}

fn env_present(cx: &mut Cx, svc: &ServiceConfig, job: &Job) {
    let name = &svc.name;
    for (key, origin) in needs(cx, svc) {
        cx.checks += 1;
        if job.env.contains(&key) {
            continue;
        }
        let fix = match (job.kind, &job.file) {
            ("launchd", Some(f)) => format!(
                "add <key>{key}</key><string>...</string> to EnvironmentVariables in {}, then reload it",
                f.display()
            ),
            ("launchd", None) => format!(
                "add {key} to [service.restart] env, then write the plist with `akashic service plist {name}`"
            ),
            ("systemd", _) => format!("add {key} to [service.restart] env (Environment= in the unit)"),
            _ => format!("add {key} to [service.restart] env, or to akashic's own environment"),
        };
        cx.add(
            Severity::Error,
            "env",
            Some(name),
            format!(
                "{key} is needed by {name} (from {origin}) but is not in {}",
                job.source
            ),
            fix,
        );
    }
}

/// A service akashic only watches still needs its variables; they cannot be checked, so nothing is said.
fn env_present_without_job(cx: &mut Cx, svc: &ServiceConfig) {
    let _ = needs(cx, svc);
}

fn under_tcc(home: &Path, p: &Path) -> Option<&'static str> {
    TCC_DIRS.into_iter().find(|d| p.starts_with(home.join(d)))
}

fn tcc_paths(cx: &mut Cx, svc: &ServiceConfig, job: &Job) {
    let Some(home) = cx.shell.home.clone() else {
        return;
    };
    let severity = match job.kind {
        "launchd" => Severity::Error,
        // Children of akashic inherit its sandbox when akashic runs as a LaunchAgent.
        "child" | "command" if cfg!(target_os = "macos") => Severity::Warning,
        _ => return,
    };
    let mut paths: Vec<PathBuf> = job.paths.clone();
    paths.extend(config_paths(svc));
    if let Some(RestartSpec::Launchd { program, .. }) = &svc.restart {
        paths.extend(
            program
                .iter()
                .filter(|a| a.starts_with('/'))
                .map(PathBuf::from),
        );
    }
    let mut seen = BTreeSet::new();
    for p in paths {
        cx.checks += 1;
        let Some(dir) = under_tcc(&home, &p) else {
            continue;
        };
        if !seen.insert(p.clone()) {
            continue;
        }
        cx.add(
            severity,
            "tcc",
            Some(&svc.name),
            format!(
                "{} uses {}, under ~/{dir}, which macOS privacy protection (TCC) denies to a launchd job without a prompt",
                svc.name,
                p.display()
            ),
            format!("move it out of ~/{dir} (e.g. to ~/code or ~/Library/Application Support), or grant Full Disk Access to the program"),
        );
    }
}

/// Paths the config names for a service: log, repo, digest, checked files, the child's stdout and cwd.
fn config_paths(svc: &ServiceConfig) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = svc
        .log
        .iter()
        .chain(svc.repo.iter())
        .chain(svc.digest.iter())
        .cloned()
        .collect();
    for c in &svc.checks {
        match &c.kind {
            CheckKind::LogStale { path, .. } => out.push(path.clone()),
            CheckKind::Artifact(ArtifactSpec::Glob { pattern, .. }) => out.push(glob_base(pattern)),
            CheckKind::Artifact(ArtifactSpec::SqliteCount { db, .. })
            | CheckKind::Artifact(ArtifactSpec::SqliteTimestamp { db, .. }) => out.push(db.clone()),
            _ => {}
        }
    }
    if let Some(RestartSpec::Child(c)) = &svc.restart {
        out.extend(c.stdout.iter().chain(c.cwd.iter()).cloned());
    }
    out
}

/// The directory part of a glob before its first wildcard.
fn glob_base(pattern: &str) -> PathBuf {
    let cut = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
    let head = &pattern[..cut];
    match head.rfind('/') {
        Some(i) => PathBuf::from(&head[..i.max(1)]),
        None => PathBuf::from("."),
    }
}

fn writable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// A file the service writes (or akashic reads): its folder must exist and be writable.
fn dir_for_file(cx: &mut Cx, svc: &str, what: &str, file: &Path) {
    cx.checks += 1;
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return;
    };
    if !dir.is_dir() {
        cx.add(
            Severity::Error,
            "writable",
            Some(svc),
            format!(
                "the {what} {} is in a folder that does not exist",
                file.display()
            ),
            format!("mkdir -p {}", dir.display()),
        );
    } else if !(writable(dir) || (file.exists() && writable(file))) {
        cx.add(
            Severity::Error,
            "writable",
            Some(svc),
            format!("the {what} {} is not writable", file.display()),
            format!("fix the permissions of {}", dir.display()),
        );
    }
}

/// A file akashic opens itself, making its folder first (a child's stdout): only a folder that
/// cannot be made is a problem.
fn dir_akashic_creates(cx: &mut Cx, svc: &str, what: &str, file: &Path) {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return;
    };
    if dir.is_dir() {
        return dir_for_file(cx, svc, what, file);
    }
    cx.checks += 1;
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    if !writable(existing) {
        cx.add(
            Severity::Error,
            "writable",
            Some(svc),
            format!(
                "the {what} {} cannot be created: {} is not writable",
                file.display(),
                existing.display()
            ),
            format!(
                "mkdir -p {} as a user who may, or choose a `stdout` path in a folder you own",
                dir.display()
            ),
        );
    }
}

fn service_paths(cx: &mut Cx, svc: &ServiceConfig) {
    let name = svc.name.as_str();
    if let Some(log) = &svc.log {
        dir_for_file(cx, name, "log", log);
    }
    if let Some(RestartSpec::Child(c)) = &svc.restart {
        if let Some(out) = c.stdout.as_ref().filter(|o| svc.log.as_ref() != Some(*o)) {
            dir_akashic_creates(cx, name, "stdout file", out);
        }
    }
    for c in &svc.checks {
        match &c.kind {
            CheckKind::LogStale { path, .. } if svc.log.as_ref() != Some(path) => {
                dir_for_file(cx, name, "checked log", path)
            }
            CheckKind::Artifact(ArtifactSpec::Glob { pattern, .. }) => {
                cx.checks += 1;
                let base = glob_base(pattern);
                if !base.is_dir() {
                    cx.add(
                        Severity::Error,
                        "writable",
                        Some(name),
                        format!(
                            "the artifact folder {} (of {pattern}) does not exist",
                            base.display()
                        ),
                        format!("mkdir -p {}, or fix the artifact glob", base.display()),
                    );
                }
            }
            CheckKind::Artifact(ArtifactSpec::SqliteCount { db, .. })
            | CheckKind::Artifact(ArtifactSpec::SqliteTimestamp { db, .. }) => {
                cx.checks += 1;
                if !db.is_file() {
                    cx.add(
                        Severity::Error,
                        "writable",
                        Some(name),
                        format!("the artifact database {} does not exist", db.display()),
                        "fix the sqlite path, or start the service once so it creates it".into(),
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(d) = &svc.digest {
        cx.checks += 1;
        let parent = d.parent().unwrap_or(Path::new("/"));
        let existing = parent
            .ancestors()
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"));
        if !writable(existing) {
            cx.add(
                Severity::Warning,
                "writable",
                Some(name),
                format!(
                    "the digest {} cannot be written ({} is not writable)",
                    d.display(),
                    existing.display()
                ),
                "choose a `digest` path in a folder you own".into(),
            );
        }
    }
}

fn state_dir(cx: &mut Cx, dir: &Path) {
    cx.checks += 1;
    if dir.is_dir() {
        if !writable(dir) {
            cx.add(
                Severity::Error,
                "writable",
                None,
                format!("state_dir {} is not writable", dir.display()),
                format!(
                    "fix its permissions, or set [daemon] state_dir to a folder you own ({})",
                    dir.display()
                ),
            );
        }
        return;
    }
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    if !writable(existing) {
        cx.add(
            Severity::Error,
            "writable",
            None,
            format!(
                "state_dir {} does not exist and cannot be created",
                dir.display()
            ),
            "set [daemon] state_dir to a folder you own".into(),
        );
    }
}

fn endpoints(cx: &mut Cx, cfg: &Config, ports: &dyn Ports) {
    if let Some(llm) = &cfg.llm {
        cx.checks += 1;
        let url = format!("{}/models", llm.base_url.trim_end_matches('/'));
        if let Err(e) = ports.http(&url) {
            cx.add(
                Severity::Warning,
                "endpoint",
                None,
                format!("the LLM endpoint {} does not answer ({e}); post-mortems fall back to the template", llm.base_url),
                "start the model server, or remove [llm] to use template post-mortems only".into(),
            );
        }
    }
    if let MemoryBackend::Qdrant { url, .. } = &cfg.memory.backend {
        cx.checks += 1;
        if let Err(e) = ports.tcp(url) {
            cx.add(
                Severity::Error,
                "endpoint",
                None,
                format!("Qdrant at {url} does not answer ({e}); post-mortems cannot be remembered"),
                "start Qdrant (e.g. docker run -p 6334:6334 qdrant/qdrant), or set [memory] backend = \"embedded\"".into(),
            );
        }
    }
    cx.checks += 1;
    if let Err(e) = ports.model(cfg.memory.model_dir.as_deref()) {
        cx.add(
            Severity::Warning,
            "model",
            None,
            format!("the embedding model is not installed: {e}"),
            format!(
                "run `{}`; until then post-mortems are stored without vectors",
                crate::memory::SETUP_COMMAND
            ),
        );
    }
}
