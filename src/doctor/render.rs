//! The doctor's report as text for a person (`--json` prints `Report` itself).

use super::model::{Report, Severity};

pub fn render(r: &Report) -> String {
    let mut out = vec![if r.findings.is_empty() {
        format!(
            "akashic doctor: no problems found ({} checks)",
            r.checks_run
        )
    } else {
        format!(
            "akashic doctor: {} error{}, {} warning{} ({} checks)",
            r.errors,
            if r.errors == 1 { "" } else { "s" },
            r.warnings,
            if r.warnings == 1 { "" } else { "s" },
            r.checks_run
        )
    }];
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let who = f.service.as_deref().unwrap_or("akashic");
        out.push(String::new());
        out.push(format!("{sev} [{}] {who}: {}", f.check, f.finding));
        out.push(format!("  fix: {}", f.fix));
    }
    out.join("\n")
}
