//! The template path: a deterministic draft from the classifier, rendered with the templates of `prompts/`.

use super::classify::{classify, with_memory, Classification};
use super::evidence::{Change, Evidence};
use super::facts;
use super::model::EvidenceQuote;
use super::prompts::{self, RenderError};
use crate::core::category::Category;
use crate::incident::model::Incident;
use chrono::{DateTime, Duration, Utc};
use minijinja::context;

/// How recent a change must be to be named in the root cause.
pub const RECENT_CHANGE_HOURS: i64 = 48;

/// The drafted (non-fact) parts of a post-mortem.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub category: Category,
    pub summary: String,
    pub root_cause: String,
    pub evidence: Vec<EvidenceQuote>,
    pub recommendations: Vec<String>,
}

/// The most recent change in the window before detection.
pub fn recent_change(changes: &[Change], detected_at: DateTime<Utc>) -> Option<&Change> {
    changes
        .iter()
        .filter(|c| {
            c.at.is_some_and(|at| {
                at <= detected_at && detected_at - at <= Duration::hours(RECENT_CHANGE_HOURS)
            })
        })
        .max_by_key(|c| c.at)
}

fn ago(d: Duration) -> String {
    if d.num_hours() >= 1 {
        format!("{}h{:02}m", d.num_hours(), d.num_minutes() % 60)
    } else {
        format!("{}m", d.num_minutes().max(0))
    }
}

/// At most this many signatures' own advice lead the recommendations.
pub const MAX_ADVICE: usize = 2;

/// Recommendations for a category, one per line of the rendered template, led by the `advice` of the
/// mechanisms recognised (a signature's own recommendation).
pub fn recommendations(
    category: Category,
    service: &str,
    has_change: bool,
    advice: &[&str],
) -> Result<Vec<String>, RenderError> {
    let text = prompts::render(
        prompts::RECOMMENDATIONS,
        context! { category => category.as_str(), service => service, has_change => has_change, advice => advice },
    )?;
    Ok(text
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// When nothing explains the incident: make the next one explain itself. A process that is gone
/// needs its exit made visible; one still running but silent needs to say where it waits.
pub const UNKNOWN_GONE: &str = "Make the next exit visible: capture the service's stderr to a file (launchd StandardErrorPath, systemd's journal, docker logs), log the exit code and the signal on the way out (a panic hook, an atexit handler or a shell trap), keep crash reports (~/Library/Logs/DiagnosticReports, coredumpctl), and have the supervisor restart it (launchd KeepAlive, systemd Restart=on-failure, docker restart: always).";
pub const UNKNOWN_SILENT: &str = "Make the next stall say where it waits: take a thread dump while it is silent (py-spy dump, jstack, kill -QUIT for Go, Sidekiq's TTIN signal, strace -p or gdb for PHP and native code, sample on macOS), put a timeout on every job and outside call, and log a heartbeat with the queue depth and the last unit of work so an idle worker and a stuck one look different.";

fn unknown_advice(running: Option<bool>) -> &'static str {
    if running == Some(false) {
        UNKNOWN_GONE
    } else {
        UNKNOWN_SILENT
    }
}

/// Drafts every non-fact part from the evidence alone.
pub fn draft(incident: &Incident, ev: &Evidence) -> Result<(Draft, Classification), RenderError> {
    let cls = with_memory(classify(ev, &incident.process), ev, &incident.service);
    let category = cls.category;
    let change = recent_change(&ev.changes, incident.detected_at);
    let change_ctx = change.map(|c| {
        context! {
            kind => c.kind.clone(),
            summary => c.summary.clone(),
            ago => ago(incident.detected_at - c.at.unwrap_or(incident.detected_at)),
        }
    });
    let top_count = cls.cited.first().map_or(1, |c| c.count);
    let headline = cls
        .labels
        .first()
        .map(|l| l.to_string())
        .unwrap_or_else(|| category.meaning().to_string());
    let detection = facts::detection(incident);
    let summary = prompts::render(
        prompts::SUMMARY,
        context! { service => incident.service.clone(), category => category.as_str(), headline => headline, detection => detection },
    )?;
    let root_cause = prompts::render(
        prompts::ROOT_CAUSE,
        context! {
            category => category.as_str(),
            meaning => category.meaning(),
            labels => cls.labels.clone(),
            top_count => top_count,
            change => change_ctx,
            has_log => !ev.log.trim().is_empty(),
            confirmed => cls.confirmed.as_ref().map(|(id, root)| context! { id => id.clone(), root_cause => root.clone() }),
        },
    )?;
    let evidence = cls
        .cited
        .iter()
        .map(|c| EvidenceQuote {
            text: c.text.clone(),
            source: c.source.to_string(),
            count: c.count,
        })
        .collect();
    let mut advice: Vec<&str> = Vec::new();
    for a in cls.labels.iter().filter_map(|l| ev.signatures.advice(l)) {
        if !advice.contains(&a) && advice.len() < MAX_ADVICE {
            advice.push(a);
        }
    }
    if category == Category::Unknown {
        advice.insert(0, unknown_advice(incident.process.running));
    }
    let recommendations = recommendations(category, &incident.service, change.is_some(), &advice)?;
    Ok((
        Draft {
            category,
            summary: summary.trim().to_string(),
            root_cause: root_cause.trim().to_string(),
            evidence,
            recommendations,
        },
        cls,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::signatures::Signatures;

    #[test]
    fn a_recognised_mechanism_s_advice_leads_the_category_s_recommendations() {
        let t = Signatures::default();
        let advice = t
            .advice("the process died of a segmentation fault (SIGSEGV, exit 139)")
            .expect("the segfault signature carries advice");
        let recs = recommendations(Category::Crash, "svc", false, &[advice]).expect("renders");
        assert_eq!(recs[0], advice);
        let plain = recommendations(Category::Crash, "svc", false, &[]).expect("renders");
        assert_eq!(recs.len(), plain.len() + 1);
        assert_eq!(&recs[1..], &plain[..]);
    }

    #[test]
    fn an_honest_unknown_says_how_to_make_the_next_incident_explain_itself() {
        assert_eq!(unknown_advice(Some(false)), UNKNOWN_GONE);
        assert_eq!(unknown_advice(Some(true)), UNKNOWN_SILENT);
        assert_eq!(unknown_advice(None), UNKNOWN_SILENT);
        let recs =
            recommendations(Category::Unknown, "svc", false, &[UNKNOWN_GONE]).expect("renders");
        assert_eq!(recs[0], UNKNOWN_GONE);
        assert!(recs[0].contains("KeepAlive") && recs[0].contains("exit code"));
    }
}
