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

/// The service's stored incidents, read once for the pattern and its open recommendation;
/// none when the store cannot be read (the pattern then counts the new incident only).
pub(super) fn stored(store: &IncidentStore, service: &str) -> Vec<Incident> {
    store.list(Some(service)).unwrap_or_else(|e| {
        warn!(%service, error = %crate::errors::chain(&e), "cannot read earlier incidents; the pattern counts this one only");
        Vec::new()
    })
}

/// The service's earlier incidents as pattern counting sees them: the category its
/// post-mortem (or a person's label) settled on, else the one read at its detection.
pub(super) fn history(stored: &[Incident], this: &str) -> Vec<Past> {
    stored
        .iter()
        .filter(|i| i.id != this)
        .filter_map(|i| {
            let category = i
                .postmortem
                .as_ref()
                .map(|p| p.category)
                .or(i.pattern.as_ref().map(|p| p.category))?;
            Some(Past {
                id: i.id.clone(),
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
    crate::digest::render::ordinal(n as usize)
}

/// A recurring pattern's recommendation still open from the service's earlier post-mortems
/// (the one open the longest; closed ones, in `recommendations.json`, excluded), as the
/// digest names it first.
pub(super) fn open_recommendation(
    stored: &[Incident],
    state_dir: &std::path::Path,
    inc: &Incident,
    pattern: &Pattern,
) -> Option<crate::digest::model::RecurringOpen> {
    if pattern.count < 2 {
        return None;
    }
    let closed = match crate::digest::recs::RecBook::load(state_dir) {
        Ok(book) => book.closed,
        Err(e) => {
            warn!(service = %inc.service, error = %crate::errors::chain(&e), "cannot read closed recommendations; counting every recommendation as open");
            Vec::new()
        }
    };
    let src = crate::digest::assemble::Sources {
        services: vec![inc.service.clone()],
        incidents: stored.to_vec(),
        closed,
        ..Default::default()
    };
    let category = pattern.category.to_string();
    let rec = crate::digest::assemble::open_recommendation(
        &src,
        &inc.service,
        &category,
        inc.detected_at,
    )?;
    Some(crate::digest::model::RecurringOpen {
        pattern: category,
        count: pattern.count as usize,
        rec_id: rec.id,
        text: rec.text,
        open_since: rec.first_at,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::recs::{rec_id, ClosedRec, RecBook};
    use chrono::{DateTime, TimeZone, Utc};

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap()
    }

    fn inc(id: &str, day: u32, drafted: Option<(Category, &str)>) -> Incident {
        let (category, rec) = drafted.unzip();
        crate::digest::assemble::tests::inc(id, at(day), category, rec.unwrap_or_default())
    }

    #[test]
    fn a_recurring_pattern_names_its_oldest_open_recommendation_until_it_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = IncidentStore::open(dir.path()).unwrap();
        let timer = "Put a timeout around the order loop";
        for i in [
            inc("i1", 2, Some((Category::Deadlock, timer))),
            inc("i2", 9, Some((Category::Deadlock, "Log the lock holder"))),
            inc("i3", 10, Some((Category::RateLimit, "Back off"))),
        ] {
            store.put(&i).unwrap();
        }
        let now = inc("i4", 20, None);
        let stored = stored(&store, "bot");
        let third = |category| policy::pattern(category, at(20), &history(&stored, "i4"));

        let open = open_recommendation(&stored, dir.path(), &now, &third(Category::Deadlock))
            .expect("deadlock recurs with an open recommendation");
        assert_eq!(open.count, 3);
        assert_eq!(open.rec_id, rec_id("bot", "deadlock", timer));
        assert_eq!(open.open_since, at(2));
        assert_eq!(
            crate::digest::render::recurring_open_line(&open, 90),
            format!("`deadlock` 3rd time in 90 days; recommendation {} open since 2 Nov 2026: \"{timer}\"", open.rec_id)
        );
        // A first occurrence is no recurrence.
        assert!(open_recommendation(&stored, dir.path(), &now, &third(Category::Crash)).is_none());

        // Closed: the next open one of the pattern is named.
        RecBook {
            closed: vec![ClosedRec {
                id: open.rec_id.clone(),
                service: "bot".into(),
                pattern: "deadlock".into(),
                text: timer.into(),
                closed_at: at(3),
            }],
        }
        .save(dir.path())
        .unwrap();
        let next =
            open_recommendation(&stored, dir.path(), &now, &third(Category::Deadlock)).unwrap();
        assert_eq!(next.text, "Log the lock holder");
        assert_eq!(next.open_since, at(9));
    }
}
