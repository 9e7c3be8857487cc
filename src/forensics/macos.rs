//! macOS forensics: a `ps` line and `sample <pid> 1` (where /usr/bin/sample exists), truncated.

#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::budget::{within, Shared};

/// How much of `sample`'s report is kept.
const SAMPLE_MAX_BYTES: usize = 64 * 1024;
const SAMPLE: &str = "/usr/bin/sample";

/// Collects under `budget`; returns ("sample" or "ps", text, complete).
pub(super) async fn collect(pid: u32, budget: Duration) -> (&'static str, String, bool) {
    let shared = Shared::new(String::new());
    let has_sample = Path::new(SAMPLE).exists();
    let work = gather(pid, has_sample, shared.clone());
    let complete = within(budget, &shared, work).await;
    let method = if has_sample { "sample" } else { "ps" };
    (method, shared.read(|t| t.clone()), complete)
}

async fn gather(pid: u32, has_sample: bool, out: Shared<String>) {
    let pid_arg = pid.to_string();
    let ps = [
        "-o",
        "pid,ppid,stat,rss,%cpu,time,wchan,command",
        "-p",
        &pid_arg,
    ];
    match output("ps", &ps).await {
        Ok(text) => out.update(|t| t.push_str(&text)),
        Err(e) => out.update(|t| t.push_str(&format!("ps failed: {e}\n"))),
    }
    if !has_sample {
        out.update(|t| t.push_str("(no /usr/bin/sample on this machine: no stacks)\n"));
        return;
    }
    let file = TempReport::new(pid);
    let file_arg = file.0.to_string_lossy().into_owned();
    if let Err(e) = output(SAMPLE, &[&pid_arg, "1", "-file", &file_arg]).await {
        out.update(|t| t.push_str(&format!("sample failed: {e}\n")));
        return;
    }
    match std::fs::read(&file.0) {
        Ok(bytes) => {
            let report = truncate_report(&bytes, SAMPLE_MAX_BYTES);
            out.update(|t| t.push_str(&report));
        }
        Err(e) => out.update(|t| t.push_str(&format!("sample wrote no report: {e}\n"))),
    }
}

/// A program's stdout; killed if the budget drops this future.
async fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{} ({})",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first `max` bytes of a report (cut at a char boundary) with a note when cut.
fn truncate_report(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n(sample report truncated at {} of {} bytes)\n",
        &text[..end],
        end,
        text.len()
    )
}

/// The report file of one `sample` run, removed when dropped.
struct TempReport(PathBuf);

impl TempReport {
    fn new(pid: u32) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("akashic-sample-{pid}-{}-{nanos}.txt", std::process::id());
        TempReport(std::env::temp_dir().join(name))
    }
}

impl Drop for TempReport {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reports_are_cut_at_a_char_boundary() {
        let report = "é".repeat(10);
        let cut = truncate_report(report.as_bytes(), 5);
        assert!(cut.starts_with("éé\n(sample report truncated at 4 of 20 bytes)"));
        assert_eq!(truncate_report(b"short", 5), "short");
    }
}
