//! A doctor's report: findings, each with what is wrong and how to fix it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Will break the service; `doctor` exits 1.
    Error,
    /// Degrades something or may break it; reported, exit stays 0.
    Warning,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// `path`, `env`, `tcc`, `writable`, `endpoint`, `model` or `config`.
    pub check: &'static str,
    /// The service it is about; `None` for akashic itself.
    pub service: Option<String>,
    pub finding: String,
    pub fix: String,
}

/// Every finding, and how many checks ran. `--json` prints this object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub checks_run: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Sorts findings (errors first, stable otherwise) and counts them.
    pub fn new(mut findings: Vec<Finding>, checks_run: usize) -> Report {
        findings.sort_by_key(|f| f.severity);
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Report {
            ok: errors == 0,
            errors,
            warnings: findings.len() - errors,
            checks_run,
            findings,
        }
    }

    /// 0 clean (warnings allowed), 1 when any finding is an error.
    pub fn exit_code(&self) -> i32 {
        if self.ok {
            crate::exit::OK
        } else {
            crate::exit::FAILURE
        }
    }
}
