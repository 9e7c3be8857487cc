//! Config errors: each problem names the file, the line and the key, and says how to fix it.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub line: Option<usize>,
    /// The key path, like `service[0].check[1].max_age`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}; start from the example: `akashic config example > {}` (its folder must exist), or pass --config FILE", path.display(), path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Rendered { path, issues })]
    Invalid { path: PathBuf, issues: Vec<Issue> },
}

struct Rendered<'a> {
    path: &'a PathBuf,
    issues: &'a [Issue],
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "invalid config {} ({n} problem{})",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for i in self.issues {
            write!(f, "\n  {}", self.path.display())?;
            if let Some(line) = i.line {
                write!(f, ":{line}")?;
            }
            if i.key.is_empty() {
                write!(f, ": {}", i.message)?;
            } else {
                write!(f, ": {}: {}", i.key, i.message)?;
            }
        }
        Ok(())
    }
}
