//! Evidence gathering: log tail (collapsed, ranked), forensics, checks, change history, priors; all redacted and bounded.

use super::priors::{PriorCandidate, PriorSource};
use super::redact::redact;
use super::signatures::{Signatures, Table};
use crate::config::ServiceConfig;
use crate::incident::model::Incident;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use regex::Regex;
use serde::Serialize;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

/// Bytes read from the end of a log file.
pub const MAX_LOG_BYTES: u64 = 256 * 1024;
/// Lines of log kept (the most recent).
pub const MAX_LOG_LINES: usize = 4000;
/// Characters kept of one log line.
pub const MAX_LINE_CHARS: usize = 1000;
/// Characters kept of the forensics text.
pub const MAX_FORENSICS_CHARS: usize = 16 * 1024;
/// How far back change history goes.
pub const CHANGE_WINDOW_DAYS: i64 = 7;
/// Commits kept from the change history.
pub const MAX_CHANGES: usize = 30;
/// Time allowed for `git log`.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for reading the log file.
pub const LOG_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Past post-mortems asked of memory.
pub const PRIOR_K: usize = 10;

/// The level a log line was written at, as far as it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Debug,
    Info,
    Unknown,
    Warn,
    Error,
    Fatal,
}

impl Severity {
    /// How much a line at this level weighs when ranking.
    pub fn weight(self) -> f32 {
        match self {
            Severity::Debug => 0.5,
            Severity::Info => 0.6,
            Severity::Unknown => 0.8,
            Severity::Warn => 0.9,
            Severity::Error => 1.0,
            Severity::Fatal => 1.1,
        }
    }
}

/// Lines of the log that are the same once numbers are ignored, collapsed into one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroup {
    /// The most recent occurrence, verbatim (after redaction).
    pub text: String,
    pub count: u32,
    /// 0-based line numbers of the first and last occurrence.
    pub first_line: usize,
    pub last_line: usize,
    pub severity: Severity,
    /// Higher is more worth reading: level, frequency and recency.
    pub rank: f32,
    /// Seconds (on the log's own clock) of the last occurrence, when the line carries a time.
    pub at: Option<i64>,
    /// Occurrences before the process's last (re)start in the log; not in `count` when the line
    /// also occurs after it.
    pub earlier: u32,
}

/// A failed check as evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckFact {
    pub kind: String,
    pub failure: Option<String>,
    pub detail: String,
}

/// One change before the incident: a commit, deploy or config edit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub at: Option<DateTime<Utc>>,
    pub kind: String,
    pub summary: String,
    pub files: Vec<String>,
}

/// Everything gathered about an incident, redacted and bounded; both drafting paths read only this.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// The log text used (redacted): quotes from the log must occur in it.
    pub log: String,
    pub log_lines: usize,
    /// Collapsed lines in order of first appearance.
    pub groups: Vec<LogGroup>,
    /// The forensics text (redacted).
    pub forensics: Option<String>,
    pub checks: Vec<CheckFact>,
    pub changes: Vec<Change>,
    pub priors: Vec<PriorCandidate>,
    /// What could not be gathered and why.
    pub notes: Vec<String>,
    /// Seconds (on the log's own clock) of the last line that carries a time, and of the first.
    pub last_at: Option<i64>,
    pub first_at: Option<i64>,
    /// 0-based line where the process's current run began (0 when no restart is in the log).
    pub run_start: usize,
    /// The service's name: work its own name says it does (a notifier's notifications) is its
    /// main path, not a side task.
    pub service: String,
    /// What lines mean: the built-in table and the user's signatures.
    #[serde(skip)]
    pub signatures: Signatures,
}

impl Evidence {
    /// The side task a line's work is, if any; none when the service's own name is that kind of
    /// work (`tg-notifier`'s notifier lines, `webhook-relay`'s webhook lines).
    pub fn side_task(&self, text: &str) -> Option<&'static str> {
        let side = self.signatures.side_task(text)?;
        let own = self
            .signatures
            .side_task(&self.service.replace(['-', '_', '.'], " "));
        (own != Some(side)).then_some(side)
    }

    /// Where a quote occurs verbatim: `log`, `forensics` or `check`; `None` when nowhere.
    pub fn source_of(&self, quote: &str) -> Option<&'static str> {
        let q = quote.trim();
        if q.is_empty() {
            return None;
        }
        if self.log.contains(q) {
            return Some("log");
        }
        if self.forensics.as_deref().is_some_and(|f| f.contains(q)) {
            return Some("forensics");
        }
        if self.checks.iter().any(|c| c.detail.contains(q)) {
            return Some("check");
        }
        None
    }

    /// The `n` highest-ranked log groups, best first.
    pub fn ranked(&self, n: usize) -> Vec<&LogGroup> {
        let mut v: Vec<&LogGroup> = self.groups.iter().collect();
        v.sort_by(|a, b| {
            b.rank
                .total_cmp(&a.rank)
                .then(b.last_line.cmp(&a.last_line))
        });
        v.truncate(n);
        v
    }

    /// How many times a verbatim line occurred in the log (1 when not a whole line).
    pub fn count_of(&self, quote: &str) -> u32 {
        self.groups
            .iter()
            .find(|g| g.text == quote)
            .map_or(1, |g| g.count)
    }
}

static LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(FATAL|CRITICAL|CRIT|PANIC|EMERG|ALERT|SEVERE|ERROR|ERR|EXCEPTION|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE|DBG)\b")
        .expect("level pattern compiles")
});
static NUMERIC_LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*\{.*?"level"\s*:\s*(\d{1,2})\b"#).expect("numeric level pattern compiles")
});
/// Microsoft.Extensions.Logging's console format: `fail: Category[0]`.
static DOTNET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\S+ \S+ )?(crit|fail|warn|info|dbug|trce): \S")
        .expect("dotnet pattern compiles")
});
static GLOG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([EWIF])\d{4} ").expect("glog pattern compiles"));
static ERROR_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Traceback \(most recent call last\)|panic: |fatal error: |thread '[^']*' panicked|Exception in thread|Uncaught |[A-Za-z_.]*(?:Error|Exception)(?::|$))")
        .expect("error shape pattern compiles")
});
static NUMBERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"0x[0-9a-fA-F]+|[0-9a-fA-F]{8,}|\d+").expect("number pattern compiles")
});

/// The level of one log line.
/// A task runner's line that ends in the task's state after a run of dots (Laravel's `queue:work`,
/// Illuminate\Queue\Console\WorkCommand: `RUNNING`, `DONE`, `FAIL`).
static TASK_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \.{3,} (?:[\d.]+\s?m?s )?(RUNNING|DONE|FAIL)\s*$",
    )
    .expect("task status pattern compiles")
});

pub fn severity_of(line: &str) -> Severity {
    let head: String = line.chars().take(80).collect();
    if let Some(c) = GLOG.captures(&head) {
        return match &c[1] {
            "E" => Severity::Error,
            "W" => Severity::Warn,
            "F" => Severity::Fatal,
            _ => Severity::Info,
        };
    }
    if let Some(c) = TASK_STATUS.captures(line) {
        // Laravel's queue:work: `2026-05-06 13:14:52 App\Jobs\Resize ....... 845.12ms DONE`
        return match &c[1] {
            "FAIL" => Severity::Error,
            _ => Severity::Info,
        };
    }
    if let Some(c) = DOTNET.captures(line) {
        return match &c[1] {
            "crit" => Severity::Fatal,
            "fail" => Severity::Error,
            "warn" => Severity::Warn,
            "info" => Severity::Info,
            _ => Severity::Debug,
        };
    }
    if let Some(c) = NUMERIC_LEVEL.captures(line) {
        // pino / bunyan JSON levels
        return match c[1].parse::<u32>().unwrap_or(30) {
            60.. => Severity::Fatal,
            50..=59 => Severity::Error,
            40..=49 => Severity::Warn,
            30..=39 => Severity::Info,
            _ => Severity::Debug,
        };
    }
    if let Some(m) = LEVEL.find(&head) {
        return match m.as_str().to_ascii_uppercase().as_str() {
            "FATAL" | "CRITICAL" | "CRIT" | "PANIC" | "EMERG" | "ALERT" => Severity::Fatal,
            "ERROR" | "ERR" | "SEVERE" | "EXCEPTION" => Severity::Error,
            "WARNING" | "WARN" => Severity::Warn,
            "NOTICE" | "INFO" => Severity::Info,
            _ => Severity::Debug,
        };
    }
    if ERROR_SHAPE.is_match(line.trim_start()) {
        return Severity::Error;
    }
    Severity::Unknown
}

/// The grouping key of a line: numbers, hex and timestamps folded away.
pub fn normalize(line: &str) -> String {
    NUMBERS.replace_all(line.trim(), "#").into_owned()
}

/// Cuts a line to `MAX_LINE_CHARS` on a char boundary.
fn cap_line(line: &str) -> &str {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// Keeps the last `MAX_LOG_LINES` lines of `text`, each capped; returns the kept text.
pub fn bound_log(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(MAX_LOG_LINES);
    lines[start..]
        .iter()
        .map(|l| cap_line(l))
        .collect::<Vec<_>>()
        .join("\n")
}

static STAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?x)
        (?P<y>\d{4})[-/](?P<mo>\d{2})[-/](?P<d>\d{2})[T\ ](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})
      | (?P<d2>\d{2})/(?P<mon2>[A-Z][a-z]{2})/(?P<y2>\d{4}):(?P<h2>\d{2}):(?P<mi2>\d{2}):(?P<s2>\d{2})
      | (?P<mon3>[A-Z][a-z]{2})\ +(?P<d3>\d{1,2})\ (?P<h3>\d{2}):(?P<mi3>\d{2}):(?P<s3>\d{2})
      | "(?:time|ts|timestamp)"\s*:\s*(?P<ep>\d{10})(?P<ms>\d{3})?
      | ^[EWIF](?P<mo4>\d{2})(?P<d4>\d{2})\ (?P<h4>\d{2}):(?P<mi4>\d{2}):(?P<s4>\d{2})
      | ^(?P<h5>\d{2}):(?P<mi5>\d{2}):(?P<s5>\d{2})
    "#)
    .expect("timestamp pattern compiles")
});

fn month(m: &str) -> Option<u32> {
    let i = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|x| *x == m)?;
    Some(i as u32 + 1)
}

/// The time a log line carries, in seconds on the log's own clock (ISO 8601, syslog, nginx access and
/// error logs, epoch `time` fields, glog, time of day); `None` when it carries none.
pub fn stamp(line: &str) -> Option<i64> {
    let head: String = line.chars().take(120).collect();
    let c = STAMP.captures(&head)?;
    let n = |k: &str| c.name(k).and_then(|m| m.as_str().parse::<i64>().ok());
    let secs = |y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64| {
        chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)
            .and_then(|date| date.and_hms_opt(h as u32, mi as u32, s as u32))
            .map(|t| t.and_utc().timestamp())
    };
    if let Some(y) = n("y") {
        return secs(y, n("mo")?, n("d")?, n("h")?, n("mi")?, n("s")?);
    }
    if let Some(y) = n("y2") {
        let mo = month(c.name("mon2")?.as_str())? as i64;
        return secs(y, mo, n("d2")?, n("h2")?, n("mi2")?, n("s2")?);
    }
    if let Some(d) = n("d3") {
        let mo = month(c.name("mon3")?.as_str())? as i64;
        return secs(2000, mo, d, n("h3")?, n("mi3")?, n("s3")?);
    }
    if let Some(ep) = n("ep") {
        return Some(ep);
    }
    if let Some(mo) = n("mo4") {
        return secs(2000, mo, n("d4")?, n("h4")?, n("mi4")?, n("s4")?);
    }
    Some(n("h5")? * 3600 + n("mi5")? * 60 + n("s5")?)
}

/// The 0-based line where the process's current run began: the line after the last start marker that
/// is followed by output (0 when the log shows no restart).
pub fn run_start(lines: &[&str], table: &Table) -> usize {
    lines
        .iter()
        .enumerate()
        .rev()
        .skip(1)
        .find(|(_, l)| table.is_start(l))
        .map_or(0, |(i, _)| i + 1)
}

/// Collapses repeated lines (numbers ignored) and ranks them by level, frequency and recency.
/// Counts are of the current run (after the last restart) when a line occurs in it.
pub fn collapse(log: &str, table: &Table) -> Vec<LogGroup> {
    let lines: Vec<&str> = log.lines().collect();
    let start = run_start(&lines, table);
    let n = lines.len().max(1);
    let mut groups: Vec<LogGroup> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut last_at: Option<i64> = None;
    // the level of the record a continuation line (indented, or a bare stack frame) belongs to
    let mut record = Severity::Unknown;
    for (i, line) in lines.iter().enumerate() {
        if let Some(t) = stamp(line) {
            last_at = Some(t);
        }
        if line.trim().is_empty() {
            continue;
        }
        let own = severity_of(line);
        let continuation = line.starts_with([' ', '\t']) || line.trim_start().starts_with("---> ");
        let severity = if own == Severity::Unknown && continuation {
            record
        } else {
            record = own;
            own
        };
        let key = normalize(line);
        let before = i < start;
        match index.get(&key) {
            Some(&g) => {
                let grp = &mut groups[g];
                if before {
                    grp.earlier += 1;
                } else if grp.last_line < start {
                    // first occurrence in the current run: earlier ones are counted apart
                    grp.earlier += grp.count;
                    grp.count = 1;
                } else {
                    grp.count += 1;
                }
                grp.last_line = i;
                grp.text = line.to_string();
                grp.at = last_at;
            }
            None => {
                index.insert(key, groups.len());
                groups.push(LogGroup {
                    text: line.to_string(),
                    count: 1,
                    first_line: i,
                    last_line: i,
                    severity,
                    rank: 0.0,
                    at: last_at,
                    earlier: 0,
                });
            }
        }
    }
    for g in &mut groups {
        if g.last_line < start {
            // only in an earlier run: `count` holds those occurrences
            g.count += g.earlier;
            g.earlier = 0;
        }
        let recency = 0.3 + 0.7 * (g.last_line as f32 + 1.0) / n as f32;
        let freq = 1.0 + (g.count as f32).ln();
        let level = match g.severity {
            Severity::Fatal => 4.0,
            Severity::Error => 3.0,
            Severity::Warn => 2.0,
            Severity::Unknown => 1.0,
            Severity::Info => 0.5,
            Severity::Debug => 0.3,
        };
        g.rank = level * freq * recency;
    }
    groups
}

/// Reads at most `MAX_LOG_BYTES` from the end of a file, dropping a partial first line.
pub async fn read_tail(path: &Path) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path).await?;
    let len = f.metadata().await?.len();
    let start = len.saturating_sub(MAX_LOG_BYTES);
    f.seek(std::io::SeekFrom::Start(start)).await?;
    let mut buf = Vec::with_capacity((len - start) as usize);
    f.take(MAX_LOG_BYTES).read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        if let Some(nl) = text.find('\n') {
            return Ok(text[nl + 1..].to_string());
        }
    }
    Ok(text)
}

/// Commits of `repo` in the window before `until`, with files touched, within `GIT_TIMEOUT`.
pub async fn git_changes(repo: &Path, until: DateTime<Utc>) -> Result<Vec<Change>, String> {
    let since = until - ChronoDuration::days(CHANGE_WINDOW_DAYS);
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(["log", "--no-color", "--name-only"])
        .arg(format!("--max-count={MAX_CHANGES}"))
        .arg(format!("--since={}", since.to_rfc3339()))
        .arg(format!("--until={}", until.to_rfc3339()))
        .arg("--pretty=format:%x1e%H%x1f%aI%x1f%s")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(GIT_TIMEOUT, cmd.output()).await {
        Err(_) => {
            return Err(format!(
                "git log timed out after {}s",
                GIT_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(format!("git log could not run: {e}")),
        Ok(Ok(o)) => o,
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "git log failed: {}",
            err.lines().next().unwrap_or("").trim()
        ));
    }
    Ok(parse_git_log(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses the `--pretty=format:%x1e%H%x1f%aI%x1f%s --name-only` output.
pub fn parse_git_log(text: &str) -> Vec<Change> {
    text.split('\u{1e}')
        .filter(|r| !r.trim().is_empty())
        .filter_map(|rec| {
            let mut lines = rec.lines();
            let head = lines.next()?;
            let mut parts = head.split('\u{1f}');
            let hash = parts.next()?.trim();
            let at = parts
                .next()
                .and_then(|d| DateTime::parse_from_rfc3339(d.trim()).ok());
            let subject = parts.next().unwrap_or("").trim();
            let files: Vec<String> = lines
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .take(10)
                .map(str::to_string)
                .collect();
            Some(Change {
                at: at.map(|d| d.with_timezone(&Utc)),
                kind: "commit".into(),
                summary: redact(&format!("{} {}", &hash[..hash.len().min(10)], subject)),
                files,
            })
        })
        .collect()
}

/// The text memory is searched with: the failed checks and the highest-ranked log lines.
pub fn prior_query(checks: &[CheckFact], groups: &[LogGroup], forensics: Option<&str>) -> String {
    let mut q: Vec<String> = checks.iter().map(|c| c.detail.clone()).collect();
    let mut ranked: Vec<&LogGroup> = groups.iter().collect();
    ranked.sort_by(|a, b| b.rank.total_cmp(&a.rank));
    q.extend(
        ranked
            .iter()
            .take(8)
            .map(|g| normalize(&g.text).replace('#', " ")),
    );
    if let Some(f) = forensics {
        q.extend(f.lines().take(20).map(str::to_string));
    }
    q.join("\n")
}

/// Assembles evidence from what was read: redacts, bounds, collapses, asks memory for priors.
pub async fn gather_from(
    incident: &Incident,
    log: Option<&str>,
    changes: Vec<Change>,
    notes: Vec<String>,
    priors: &dyn PriorSource,
    signatures: &Signatures,
) -> Evidence {
    let log = redact(&bound_log(log.unwrap_or("")));
    let groups = collapse(&log, signatures);
    let lines: Vec<&str> = log.lines().collect();
    let run_start = run_start(&lines, signatures);
    let mut stamps = lines.iter().filter_map(|l| stamp(l));
    let first_at = stamps.next();
    let last_at = stamps.next_back().or(first_at);
    let forensics = incident
        .forensics
        .as_ref()
        .filter(|f| !f.text.trim().is_empty())
        .map(|f| {
            let t: String = f.text.chars().take(MAX_FORENSICS_CHARS).collect();
            redact(&t)
        });
    let checks: Vec<CheckFact> = incident
        .failed_checks
        .iter()
        .map(|c| CheckFact {
            kind: c.kind.clone(),
            failure: c.failure.clone(),
            detail: redact(&c.detail),
        })
        .collect();
    let changes = changes
        .into_iter()
        .take(MAX_CHANGES)
        .map(|c| Change {
            summary: redact(&c.summary),
            ..c
        })
        .collect();
    let query = prior_query(&checks, &groups, forensics.as_deref());
    let priors = priors.similar(&query, &incident.service, PRIOR_K).await;
    Evidence {
        log_lines: log.lines().count(),
        log,
        groups,
        forensics,
        checks,
        changes,
        priors,
        notes,
        last_at,
        first_at,
        run_start,
        service: incident.service.clone(),
        signatures: signatures.clone(),
    }
}

/// Gathers the evidence for an incident: its log tail (else the service's log file, read from the end),
/// forensics, failed checks, `git log` of the service's repo before detection, and similar priors.
pub async fn gather(
    incident: &Incident,
    svc: Option<&ServiceConfig>,
    priors: &dyn PriorSource,
    signatures: &Signatures,
) -> Evidence {
    let mut notes = Vec::new();
    let mut log = incident.log_tail.clone().filter(|t| !t.trim().is_empty());
    if log.is_none() {
        if let Some(path) = svc.and_then(|s| s.log_path()) {
            match tokio::time::timeout(LOG_READ_TIMEOUT, read_tail(path)).await {
                Ok(Ok(t)) => log = Some(t),
                Ok(Err(e)) => notes.push(format!("log {} could not be read: {e}", path.display())),
                Err(_) => notes.push(format!("reading log {} timed out", path.display())),
            }
        }
    }
    let mut changes = Vec::new();
    if let Some(repo) = svc.and_then(|s| s.repo.as_ref()) {
        match git_changes(repo, incident.detected_at).await {
            Ok(c) => changes = c,
            Err(e) => notes.push(redact(&e)),
        }
    }
    gather_from(incident, log.as_deref(), changes, notes, priors, signatures).await
}

#[cfg(test)]
mod tests {
    use super::*;

    mod any_log {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// The log readers take whatever a service wrote: no panic, bounded output, and
            /// every group's line is one of the log's own lines.
            #[test]
            fn any_log_text_is_read_without_panic_and_within_bounds(
                lines in proptest::collection::vec(
                    prop_oneof![
                        any::<String>(),
                        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2} (ERROR|WARN|INFO) [ -~]{0,80}",
                        "[A-Z][a-z]{2} +[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2} [ -~]{0,60}",
                    ],
                    0..60,
                ),
            ) {
                let text = lines.join("\n");
                let bounded = bound_log(&text);
                prop_assert!(bounded.lines().count() <= MAX_LOG_LINES);
                let table = Signatures::default();
                let groups = collapse(&bounded, &table);
                prop_assert!(groups.len() <= bounded.lines().count().max(1));
                for g in &groups {
                    prop_assert!(g.count >= 1);
                    prop_assert!(bounded.lines().any(|l| l == g.text), "{:?}", g.text);
                }
                for l in text.lines() {
                    let _ = (severity_of(l), stamp(l), normalize(l));
                }
            }
        }
    }

    #[test]
    fn repeated_lines_collapse_with_counts_and_keep_a_verbatim_line() {
        let log = "2026-03-14 00:11:02,101 WARN upstream returned 429; retrying in 0s (attempt 1)\n\
                   2026-03-14 00:11:03,101 INFO heartbeat ok\n\
                   2026-03-14 00:11:04,188 WARN upstream returned 429; retrying in 0s (attempt 2)\n";
        let g = collapse(log, &Signatures::default());
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].count, 2);
        assert_eq!(
            g[0].text,
            "2026-03-14 00:11:04,188 WARN upstream returned 429; retrying in 0s (attempt 2)"
        );
        assert_eq!(g[0].severity, Severity::Warn);
        assert!(g[0].rank > g[1].rank);
    }

    #[test]
    fn severities_are_read_from_common_shapes() {
        assert_eq!(
            severity_of("E0314 10:00:00.000 1 main.go:10] boom"),
            Severity::Error
        );
        assert_eq!(
            severity_of("Traceback (most recent call last):"),
            Severity::Error
        );
        assert_eq!(severity_of("[2026] INFO ok"), Severity::Info);
        assert_eq!(severity_of("  File \"x.py\", line 3"), Severity::Unknown);
    }

    #[test]
    fn git_log_output_is_parsed() {
        let t = "\u{1e}abcdef1234567\u{1f}2026-03-13T22:00:00+00:00\u{1f}switch endpoint\nsrc/a.py\n\n\u{1e}0123456789\u{1f}2026-03-12T10:00:00+00:00\u{1f}docs\nREADME.md\n";
        let c = parse_git_log(t);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].files, vec!["src/a.py"]);
        assert!(c[0].summary.ends_with("switch endpoint"));
    }

    #[tokio::test]
    async fn large_logs_are_read_from_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big.log");
        let line = "INFO filler line that pads the file out\n".repeat(20_000);
        std::fs::write(&p, format!("FIRST\n{line}LAST ERROR here\n")).expect("write");
        let t = read_tail(&p).await.expect("read");
        assert!(t.len() as u64 <= MAX_LOG_BYTES);
        assert!(t.ends_with("LAST ERROR here\n"));
        assert!(!t.contains("FIRST"));
    }
}

#[cfg(test)]
mod counts {
    use super::*;

    #[test]
    fn repeated_line_counts_are_of_the_run_after_the_last_restart() {
        let log = "ERROR db timeout id=1\nERROR db timeout id=2\nERROR db timeout id=3\nMar 09 16:40:03 vps systemd[1]: Started x.service - X.\nERROR db timeout id=4\nINFO up\n";
        let t = Signatures::default();
        let g = collapse(log, &t);
        let db = g.iter().find(|g| g.text.contains("db timeout")).unwrap();
        assert_eq!((db.count, db.earlier), (1, 3));
        assert_eq!(db.text, "ERROR db timeout id=4");
        // a line only seen before the restart keeps its own count
        let g = collapse(
            "WARN old\nWARN old\nsystemd[1]: Started x.service\nINFO new\n",
            &t,
        );
        assert_eq!(g[0].count, 2);
    }

    #[test]
    fn timestamps_are_read_from_common_formats() {
        assert_eq!(
            stamp("2026-03-14T03:14:00Z x"),
            stamp("2026-03-14 03:14:00,123 x")
        );
        assert_eq!(
            stamp("10.0.0.1 - - [14/Mar/2026:03:14:00 +0000] \"GET /\""),
            stamp("2026-03-14T03:14:00Z")
        );
        assert_eq!(
            stamp("Mar 14 03:14:05 host x"),
            stamp("Mar 14 03:14:00 host x").map(|t| t + 5)
        );
        assert_eq!(stamp("no time here"), None);
    }
}
