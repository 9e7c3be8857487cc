//! The environment a service had before it moved under akashic: a docker-compose.yml `environment:` block or a `.env` file.

use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid YAML", path.display())]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
}

/// Variable names the old setup gave the service. A compose file's service named `service`
/// is used when there is one, else every service's environment.
pub fn env_names(path: &Path, service: &str) -> Result<BTreeSet<String>, ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ComposeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        let doc: Value = serde_norway::from_str(&text).map_err(|source| ComposeError::Yaml {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(compose_env(&doc, service))
    } else {
        Ok(dotenv_names(&text))
    }
}

/// `environment:` of the compose services: list form (`- KEY=value`, `- KEY`) and map form (`KEY: value`).
pub fn compose_env(doc: &Value, service: &str) -> BTreeSet<String> {
    let Some(services) = doc.get("services").and_then(Value::as_mapping) else {
        return BTreeSet::new();
    };
    let chosen: Vec<&Value> = match services.get(service) {
        Some(s) => vec![s],
        None => services.values().collect(),
    };
    let mut out = BTreeSet::new();
    for svc in chosen {
        match svc.get("environment") {
            Some(Value::Sequence(items)) => {
                for item in items.iter().filter_map(Value::as_str) {
                    let key = item.split('=').next().unwrap_or_default().trim();
                    if !key.is_empty() {
                        out.insert(key.to_string());
                    }
                }
            }
            Some(Value::Mapping(m)) => {
                for k in m.keys().filter_map(Value::as_str) {
                    out.insert(k.trim().to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// Names in a `.env` file: `KEY=value` lines, `export KEY=value` too; comments and blanks skipped.
pub fn dotenv_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, _) = l.split_once('=')?;
            let k = k.trim();
            (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| k.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn compose_list_and_map_forms_both_count() {
        let doc: Value = serde_norway::from_str(
            "services:\n  bot:\n    image: x\n    environment:\n      - TELEGRAM_TOKEN=abc\n      - DATABASE_URL\n  web:\n    environment:\n      PORT: 8080\n      SECRET_KEY: \"s\"\n",
        )
        .unwrap();
        assert_eq!(
            compose_env(&doc, "bot"),
            names(&["DATABASE_URL", "TELEGRAM_TOKEN"])
        );
        assert_eq!(compose_env(&doc, "web"), names(&["PORT", "SECRET_KEY"]));
        assert_eq!(
            compose_env(&doc, "other"),
            names(&["DATABASE_URL", "PORT", "SECRET_KEY", "TELEGRAM_TOKEN"])
        );
    }

    #[test]
    fn dotenv_lines_give_their_names() {
        assert_eq!(
            dotenv_names("# c\nA=1\n\nexport B_2=\"x y\"\nnot a line\n=3\n"),
            names(&["A", "B_2"])
        );
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("docker-compose.yml");
        std::fs::write(&p, "services: [\n").unwrap();
        let msg = env_names(&p, "bot").unwrap_err().to_string();
        assert!(
            msg.contains("docker-compose.yml is not valid YAML"),
            "{msg}"
        );
    }
}
