//! Configuration: find the file, parse it, validate it (specs/config.md).

pub mod bounds;
mod error;
pub mod locate;
pub mod model;
pub mod programs;
pub mod raw;
pub mod validate;
mod validate_check;
mod validate_http;
mod validate_service;

pub use error::{ConfigError, Issue};
pub use model::*;
pub use programs::{Programs, SystemPrograms};

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The config path: `--config`, else `$AKASHIC_CONFIG`, else the platform config dir.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("AKASHIC_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("akashic")
        .join("akashic.toml")
}

/// Reads and validates the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    parse(&read(path)?, path)
}

/// A valid config, and the programs it runs that were not found, each with its line.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub missing_programs: Vec<Issue>,
}

/// Reads and validates the config at `path`, and looks up every program it runs.
pub fn load_looking(path: &Path, programs: &dyn Programs) -> Result<Loaded, ConfigError> {
    parse_with(&read(path)?, path, Some(programs))
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses and validates config text as if read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_with(text, path, None).map(|l| l.config)
}

/// [`parse`], also looking up programs when `programs` is given.
pub fn parse_with(
    text: &str,
    path: &Path,
    programs: Option<&dyn Programs>,
) -> Result<Loaded, ConfigError> {
    let invalid = |issues| ConfigError::Invalid {
        path: path.to_path_buf(),
        issues,
    };
    let doc = toml_edit::Document::parse(text.to_string()).map_err(|e| {
        invalid(vec![Issue {
            line: e.span().map(|s| locate::line_at(text, s.start)),
            key: String::new(),
            message: format!("invalid TOML: {}", e.message().trim()),
        }])
    })?;
    let unknown = locate::unknown_keys(&doc);
    let unknown_issues: Vec<Issue> = unknown
        .iter()
        .map(|k| Issue {
            line: locate::line_of(&doc, text, k),
            key: k.to_string(),
            message: unknown_key_message(k),
        })
        .collect();
    let raw: raw::RawConfig = if unknown.is_empty() {
        toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start);
            let key = at.and_then(|o| locate::key_at(&doc, o));
            let message = e.message().trim().to_string();
            invalid(vec![Issue {
                line: at.map(|o| locate::line_at(text, o)),
                message: match &key {
                    Some(k) => type_fix(k, message),
                    None => message,
                },
                key: key.map(|k| k.to_string()).unwrap_or_default(),
            }])
        })?
    } else {
        // Keep going without the unknown keys, so the other problems are reported too.
        match without_keys(text, &unknown) {
            Ok(raw) => raw,
            Err(message) => {
                let mut issues = unknown_issues;
                issues.push(Issue {
                    line: None,
                    key: String::new(),
                    message,
                });
                return Err(invalid(issues));
            }
        }
    };
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let to_issues = |problems: Vec<validate::Problem>| -> Vec<Issue> {
        problems
            .into_iter()
            .map(|p| Issue {
                line: locate::line_of(&doc, text, &p.key),
                key: p.key.to_string(),
                message: p.message,
            })
            .collect()
    };
    validate::validate(raw, &abs, programs)
        .map_err(|problems| {
            let mut issues = to_issues(problems);
            issues.extend(unknown_issues.clone());
            // In file order, so the list reads top to bottom.
            issues.sort_by_key(|i| i.line.unwrap_or(usize::MAX));
            invalid(issues)
        })
        .and_then(|v| {
            if unknown_issues.is_empty() {
                Ok(Loaded {
                    config: v.config,
                    missing_programs: to_issues(v.missing_programs),
                })
            } else {
                Err(invalid(unknown_issues.clone()))
            }
        })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;

/// A serde type error with the fix for its key.
fn type_fix(key: &locate::KeyPath, message: String) -> String {
    let name = match key.0.last() {
        Some(locate::Seg::Key(k)) => k.as_str(),
        _ => "",
    };
    const DURATIONS: [&str; 11] = [
        "tick",
        "max_age",
        "grace",
        "timeout",
        "interval",
        "within",
        "recovery_window",
        "stop_grace",
        "forensics_budget",
        "reminder",
        "budget",
    ];
    if DURATIONS.contains(&name) {
        format!("{message}; write a duration in quotes, like \"10s\" or \"5m\"")
    } else {
        format!("{message}; see specs/config.md for what `{name}` takes")
    }
}

/// "unknown key", with the known key it most likely meant.
fn unknown_key_message(key: &locate::KeyPath) -> String {
    let name = match key.0.last() {
        Some(locate::Seg::Key(k)) => k.as_str(),
        _ => "",
    };
    let all = [
        raw::schema::ROOT,
        raw::schema::DAEMON,
        raw::schema::MEMORY,
        raw::schema::LLM,
        raw::schema::NOTIFY,
        raw::schema::SERVICE,
        raw::schema::BUDGET,
        raw::schema::RESTART,
        raw::schema::CHECK,
    ];
    let best = all
        .iter()
        .flat_map(|keys| keys.iter())
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min();
    match best {
        Some((_, k)) => {
            format!("unknown key; did you mean `{k}`? (`akashic config example` shows every key)")
        }
        None => "unknown key; check its spelling against `akashic config example`".into(),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The raw config with the unknown keys taken out.
fn without_keys(text: &str, unknown: &[locate::KeyPath]) -> Result<raw::RawConfig, String> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| e.message().trim().to_string())?;
    for key in unknown {
        remove_path(&mut table, &key.0);
    }
    raw::RawConfig::deserialize(table).map_err(|e| e.message().trim().to_string())
}

fn remove_path(table: &mut toml::Table, path: &[locate::Seg]) {
    use locate::Seg;
    match path {
        [Seg::Key(k)] => {
            table.remove(k);
        }
        [Seg::Key(k), rest @ ..] => match (table.get_mut(k), rest) {
            (Some(toml::Value::Table(t)), _) => remove_path(t, rest),
            (Some(toml::Value::Array(a)), [Seg::Index(i), rest @ ..]) => {
                if let Some(toml::Value::Table(t)) = a.get_mut(*i) {
                    remove_path(t, rest);
                }
            }
            _ => {}
        },
        _ => {}
    }
}
