//! Configuration: find the file, parse it, validate it (specs/config.md).

mod error;
pub mod locate;
pub mod model;
pub mod raw;
pub mod validate;

pub use error::{ConfigError, Issue};
pub use model::*;

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
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates config text as if read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
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
    if !unknown.is_empty() {
        return Err(invalid(
            unknown
                .iter()
                .map(|k| Issue {
                    line: locate::line_of(&doc, text, k),
                    key: k.to_string(),
                    message: "unknown key; check its spelling against config/akashic.example.toml"
                        .into(),
                })
                .collect(),
        ));
    }
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
        invalid(vec![Issue {
            line: e.span().map(|s| locate::line_at(text, s.start)),
            key: String::new(),
            message: e.message().trim().to_string(),
        }])
    })?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    validate::validate(raw, &abs).map_err(|problems| {
        invalid(
            problems
                .into_iter()
                .map(|p| Issue {
                    line: locate::line_of(&doc, text, &p.key),
                    key: p.key.to_string(),
                    message: p.message,
                })
                .collect(),
        )
    })
}
