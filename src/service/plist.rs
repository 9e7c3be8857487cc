//! LaunchAgent plists, generated with the `plist` crate: akashic's own and a monitored service's.

use crate::config::{RestartSpec, ServiceConfig};
use plist::{Dictionary, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The PATH written into generated plists and units: Homebrew (Apple silicon, Intel) first.
pub const DEFAULT_PATH: &str = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
/// The label of akashic's own LaunchAgent.
pub const AKASHIC_LABEL: &str = "com.akashic.daemon";

/// What a LaunchAgent plist says.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    pub label: String,
    pub program_arguments: Vec<String>,
    pub working_directory: Option<PathBuf>,
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlistError {
    #[error("no service named {0:?} in the config")]
    UnknownService(String),
    #[error("service {service:?} is restarted by kind {kind:?}; a plist is written for kind \"launchd\" or \"child\"")]
    Kind { service: String, kind: &'static str },
    #[error("service {0:?} has no restart section; a plist needs the program to run")]
    NoProgram(String),
    #[error("cannot serialize the plist")]
    Serialize(#[source] plist::Error),
}

impl AgentSpec {
    /// The plist as a `plist::Value` (KeepAlive and RunAtLoad always on).
    pub fn to_value(&self) -> Value {
        let mut d = Dictionary::new();
        d.insert("Label".into(), Value::String(self.label.clone()));
        d.insert(
            "ProgramArguments".into(),
            Value::Array(
                self.program_arguments
                    .iter()
                    .map(|a| Value::String(a.clone()))
                    .collect(),
            ),
        );
        d.insert("KeepAlive".into(), Value::Boolean(true));
        d.insert("RunAtLoad".into(), Value::Boolean(true));
        if let Some(w) = &self.working_directory {
            d.insert("WorkingDirectory".into(), Value::String(path_str(w)));
        }
        if let Some(p) = &self.stdout {
            d.insert("StandardOutPath".into(), Value::String(path_str(p)));
        }
        if let Some(p) = &self.stderr {
            d.insert("StandardErrorPath".into(), Value::String(path_str(p)));
        }
        let mut env = Dictionary::new();
        for (k, v) in &self.env {
            env.insert(k.clone(), Value::String(v.clone()));
        }
        d.insert("EnvironmentVariables".into(), Value::Dictionary(env));
        Value::Dictionary(d)
    }

    /// The plist as XML text.
    pub fn to_xml(&self) -> Result<String, PlistError> {
        let mut buf = Vec::new();
        self.to_value()
            .to_writer_xml(&mut buf)
            .map_err(PlistError::Serialize)?;
        buf.push(b'\n');
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `env` with a PATH: the given one, else `DEFAULT_PATH`.
pub fn with_path(mut env: BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.entry("PATH".into())
        .or_insert_with(|| DEFAULT_PATH.to_string());
    env
}

/// The first executable named `program` on `path` (colon-separated); absolute names are checked as they are.
pub fn which(program: &str, path: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The plist a monitored service should run under: its program, env (with a PATH) and log paths.
pub fn for_service(svc: &ServiceConfig) -> Result<AgentSpec, PlistError> {
    let (label, program, env, cwd, stdout) = match &svc.restart {
        Some(RestartSpec::Launchd {
            label,
            program,
            env,
            ..
        }) => (
            label.clone(),
            program.clone(),
            env.clone(),
            svc.repo.clone(),
            None,
        ),
        Some(RestartSpec::Child(c)) => (
            format!("com.akashic.{}", svc.name),
            c.command.clone(),
            c.env.clone(),
            c.cwd.clone().or_else(|| svc.repo.clone()),
            c.stdout.clone(),
        ),
        Some(other) => {
            return Err(PlistError::Kind {
                service: svc.name.clone(),
                kind: other.kind_name(),
            })
        }
        None => return Err(PlistError::NoProgram(svc.name.clone())),
    };
    if program.is_empty() {
        return Err(PlistError::NoProgram(svc.name.clone()));
    }
    let env = with_path(env);
    let mut args = program;
    // launchd does not search a PATH for the program: give it the absolute path when it resolves.
    if let Some(abs) = which(&args[0], &env["PATH"]) {
        args[0] = path_str(&abs);
    }
    let log = stdout.or_else(|| svc.log.clone());
    Ok(AgentSpec {
        label,
        program_arguments: args,
        working_directory: cwd,
        stdout: log.clone(),
        stderr: log,
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AgentSpec {
        AgentSpec {
            label: "com.me.bot".into(),
            program_arguments: vec!["/usr/bin/python3".into(), "bot.py".into()],
            working_directory: Some("/srv/bot".into()),
            stdout: Some("/srv/bot/bot.log".into()),
            stderr: Some("/srv/bot/bot.log".into()),
            env: with_path(BTreeMap::from([("MODE".into(), "live & <well>".into())])),
        }
    }

    #[test]
    fn generated_plists_parse_back_with_every_key() {
        let xml = spec().to_xml().unwrap();
        let v: Value = plist::from_bytes(xml.as_bytes()).unwrap();
        let d = v.as_dictionary().unwrap();
        assert_eq!(d["Label"].as_string(), Some("com.me.bot"));
        assert_eq!(d["KeepAlive"].as_boolean(), Some(true));
        assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
        assert_eq!(d["ProgramArguments"].as_array().unwrap().len(), 2);
        let env = d["EnvironmentVariables"].as_dictionary().unwrap();
        assert_eq!(env["MODE"].as_string(), Some("live & <well>"));
        assert_eq!(env["PATH"].as_string(), Some(DEFAULT_PATH));
        assert_eq!(v, spec().to_value());
    }

    #[test]
    fn which_searches_only_the_given_path() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("opt/homebrew/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let py = bin.join("python3");
        std::fs::write(&py, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
        let other = tmp.path().join("usr/bin");
        assert_eq!(which("python3", &other.display().to_string()), None);
        let path = format!("{}:{}", other.display(), bin.display());
        assert_eq!(which("python3", &path), Some(py));
    }
}
