//! Recurrence at detection: the pattern read inline from the evidence just captured (the
//! deterministic classifier, never the model), counted against the service's past incidents,
//! and the remedy an `on_recurrence` rule runs before a restart.

use crate::agent::signatures::Signatures;
use crate::config::RecurrenceRule;
use crate::core::category::Category;
use crate::core::policy::{self, Past, Pattern};
use crate::incident::{Incident, IncidentStore};
use std::path::PathBuf;
use std::time::Duration;
use tracing::warn;

/// The category the deterministic classifier reads from what was captured at detection
/// (failed checks, log tail, forensics), within `budget`; `unknown` when it takes longer
/// (the read is bounded work over a bounded log tail: it does not wait on anything).
pub(super) async fn category_at_detection(
    inc: &Incident,
    signatures: &Signatures,
    budget: Duration,
) -> Category {
    let read = async {
        let ev = crate::agent::evidence::gather_from(
            inc,
            inc.log_tail.as_deref(),
            Vec::new(),
            Vec::new(),
            &crate::agent::NoPriors,
            signatures,
        )
        .await;
        crate::agent::classify::classify(&ev, &inc.process).category
    };
    tokio::time::timeout(budget, read)
        .await
        .unwrap_or(Category::Unknown)
}

/// The service's earlier incidents as pattern counting sees them: the category its
/// post-mortem (or a person's label) settled on, else the one read at its detection.
pub(super) fn history(store: &IncidentStore, service: &str, this: &str) -> Vec<Past> {
    let list = match store.list(Some(service)) {
        Ok(l) => l,
        Err(e) => {
            warn!(%service, error = %crate::errors::chain(&e), "cannot read earlier incidents; the pattern counts this one only");
            return Vec::new();
        }
    };
    list.into_iter()
        .filter(|i| i.id != this)
        .filter_map(|i| {
            let category = i
                .postmortem
                .as_ref()
                .map(|p| p.category)
                .or(i.pattern.as_ref().map(|p| p.category))?;
            Some(Past {
                id: i.id,
                at: i.detected_at,
                category,
            })
        })
        .collect()
}

/// What an incident's pattern asks for: the pattern, and the rule it meets (its index, the
/// rule, and the count within the rule's window).
pub(super) struct Reading {
    pub(super) pattern: Pattern,
    pub(super) rule: Option<(usize, RecurrenceRule, u32)>,
}

pub(super) fn read(
    category: Category,
    inc: &Incident,
    past: &[Past],
    rules: &[RecurrenceRule],
) -> Reading {
    Reading {
        pattern: policy::pattern(category, inc.detected_at, past),
        rule: policy::rule_for(rules, category, inc.detected_at, past)
            .map(|(i, r, n)| (i, r.clone(), n)),
    }
}

/// "3rd", "21st": an ordinal for log lines and timelines.
pub(super) fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// What a rule says in a timeline: `on_recurrence[1] (count 3 within 90days): remedy`.
pub(super) fn describe(
    index: usize,
    rule: &RecurrenceRule,
    count: u32,
    category: Category,
) -> String {
    format!(
        "{} incident of pattern {category} within {}: on_recurrence[{index}] (count {}) says {}",
        ordinal(count),
        crate::config::bounds::show(rule.within),
        rule.count,
        rule.then.name()
    )
}

/// Runs a remedy for at most `timeout` (killed then), in `cwd`; says how it went.
pub(super) async fn run_remedy(run: &[String], cwd: Option<&PathBuf>, timeout: Duration) -> String {
    let Some((program, args)) = run.split_first() else {
        return "remedy has no command".into();
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let shown = run.join(" ");
    let started = std::time::Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return format!("remedy `{shown}` could not start: {e}"),
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let took = started.elapsed().as_millis();
            let err = String::from_utf8_lossy(&out.stderr);
            let tail = err
                .lines()
                .last()
                .map(|l| format!(": {l}"))
                .unwrap_or_default();
            match out.status.code() {
                Some(0) => format!("remedy `{shown}` exited 0 in {took}ms"),
                Some(c) => format!("remedy `{shown}` exited {c} in {took}ms{tail}"),
                None => format!("remedy `{shown}` was killed by a signal after {took}ms"),
            }
        }
        Ok(Err(e)) => format!("remedy `{shown}` failed: {e}"),
        Err(_) => format!(
            "remedy `{shown}` did not finish within {} and was killed; restarting anyway",
            humantime::format_duration(timeout)
        ),
    }
}
