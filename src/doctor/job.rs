//! What a service gets from its supervisor: the program, the PATH, the environment and the paths its job names.

use crate::config::{RestartSpec, ServiceConfig};
use crate::service::plist::{for_service, DEFAULT_PATH};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// launchd's PATH for a job whose plist sets none.
pub const LAUNCHD_DEFAULT_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin";
/// The systemd user manager's usual PATH.
pub const SYSTEMD_DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A service as its supervisor will run it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `launchd`, `systemd`, `child` or `command`.
    pub kind: &'static str,
    /// Where this view came from, e.g. the plist's path; named in findings.
    pub source: String,
    /// The file to edit to fix it, when there is one.
    pub file: Option<PathBuf>,
    pub program: Vec<String>,
    /// The PATH the job runs with.
    pub path: String,
    /// Whether `path` is the supervisor's default (the job sets none).
    pub path_is_default: bool,
    /// Variable names the job gets.
    pub env: BTreeSet<String>,
    /// Paths the job's plist names (program, working dir, logs).
    pub paths: Vec<PathBuf>,
}

/// The plist launchd will use: the config's `plist`, else `~/Library/LaunchAgents/<label>.plist`.
pub fn plist_file(svc: &ServiceConfig) -> Option<PathBuf> {
    match &svc.restart {
        Some(RestartSpec::Launchd { label, plist, .. }) => {
            Some(plist.clone().unwrap_or_else(|| {
                dirs::home_dir()
                    .unwrap_or_default()
                    .join("Library/LaunchAgents")
                    .join(format!("{label}.plist"))
            }))
        }
        _ => None,
    }
}

/// Reads a plist's ProgramArguments, PATH, environment and paths.
fn from_plist(path: &PathBuf) -> Result<Job, String> {
    let v = plist::Value::from_file(path).map_err(|e| format!("{e}"))?;
    let d = v.as_dictionary().ok_or("not a dictionary")?;
    let s = |k: &str| d.get(k).and_then(|v| v.as_string()).map(str::to_string);
    let mut program: Vec<String> = d
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_string().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(p) = s("Program") {
        if program.is_empty() {
            program.push(p);
        } else {
            program[0] = p;
        }
    }
    let envd = d
        .get("EnvironmentVariables")
        .and_then(|v| v.as_dictionary());
    let env: BTreeSet<String> = envd
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default();
    let set_path = envd
        .and_then(|e| e.get("PATH"))
        .and_then(|v| v.as_string())
        .map(str::to_string);
    let mut paths: Vec<PathBuf> = ["WorkingDirectory", "StandardOutPath", "StandardErrorPath"]
        .iter()
        .filter_map(|k| s(k).map(PathBuf::from))
        .collect();
    paths.extend(
        program
            .iter()
            .filter(|a| a.starts_with('/'))
            .map(PathBuf::from),
    );
    Ok(Job {
        kind: "launchd",
        source: format!("its plist {}", path.display()),
        file: Some(path.clone()),
        program,
        path_is_default: set_path.is_none(),
        path: set_path.unwrap_or_else(|| LAUNCHD_DEFAULT_PATH.to_string()),
        env,
        paths,
    })
}

/// How the service will run. A launchd job is read from its plist when the file exists,
/// else from the plist akashic would generate. `shell_path` is akashic's own PATH.
pub fn job_for(
    svc: &ServiceConfig,
    shell_path: &str,
    shell_env: &BTreeSet<String>,
) -> Result<Option<Job>, String> {
    let Some(restart) = &svc.restart else {
        return Ok(None);
    };
    Ok(Some(match restart {
        RestartSpec::Launchd { .. } => {
            let file = plist_file(svc).unwrap_or_default();
            if file.is_file() {
                from_plist(&file)
                    .map_err(|e| format!("cannot read the plist {}: {e}", file.display()))?
            } else {
                let spec = for_service(svc).map_err(|e| e.to_string())?;
                Job {
                    kind: "launchd",
                    source: format!(
                        "the plist `akashic service plist {}` writes (no file at {})",
                        svc.name,
                        file.display()
                    ),
                    file: None,
                    program: spec.program_arguments.clone(),
                    path: spec
                        .env
                        .get("PATH")
                        .cloned()
                        .unwrap_or_else(|| DEFAULT_PATH.into()),
                    path_is_default: false,
                    env: spec.env.keys().cloned().collect(),
                    paths: spec
                        .working_directory
                        .iter()
                        .chain(spec.stdout.iter())
                        .cloned()
                        .collect(),
                }
            }
        }
        RestartSpec::Systemd { env, .. } => Job {
            kind: "systemd",
            source: "its [service.restart] env".into(),
            file: None,
            program: Vec::new(),
            path: env
                .get("PATH")
                .cloned()
                .unwrap_or_else(|| SYSTEMD_DEFAULT_PATH.into()),
            path_is_default: !env.contains_key("PATH"),
            env: env.keys().cloned().collect(),
            paths: Vec::new(),
        },
        RestartSpec::Child(c) => Job {
            kind: "child",
            source: "akashic's environment and its [service.restart] env".into(),
            file: None,
            program: c.command.clone(),
            path: c
                .env
                .get("PATH")
                .cloned()
                .unwrap_or_else(|| shell_path.to_string()),
            path_is_default: false,
            env: c
                .env
                .keys()
                .cloned()
                .chain(shell_env.iter().cloned())
                .collect(),
            paths: c.cwd.iter().chain(c.stdout.iter()).cloned().collect(),
        },
        RestartSpec::Command { run } => Job {
            kind: "command",
            source: "akashic's environment".into(),
            file: None,
            program: run.clone(),
            path: shell_path.to_string(),
            path_is_default: false,
            env: shell_env.clone(),
            paths: Vec::new(),
        },
    }))
}

/// The program a command line really runs: `/usr/bin/env [-flags] [VAR=x] prog ...` runs `prog`.
pub fn real_program(argv: &[String]) -> Option<&str> {
    let first = argv.first()?;
    if first.rsplit('/').next() == Some("env") {
        return argv[1..]
            .iter()
            .map(String::as_str)
            .find(|a| !a.starts_with('-') && !a.contains('='));
    }
    Some(first.as_str())
}
