//! Turns incidents, remembered post-mortems, the heartbeat and closed recommendations into a `Digest` (pure).

use super::model::*;
use super::recs::{rec_id, ClosedRec};
use crate::heartbeat::Heartbeat;
use crate::incident::Incident;
use crate::memory::MemoryDoc;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The window incidents are counted in.
pub const WINDOW_DAYS: i64 = 90;
/// Post-mortem lines kept per service before the budget cuts more.
const MAX_POSTMORTEMS: usize = 10;

/// What a digest is made from; `now` is injected, never read.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Services in config order.
    pub services: Vec<String>,
    pub incidents: Vec<Incident>,
    /// Remembered post-mortems, imported ones included.
    pub memory: Vec<MemoryDoc>,
    /// `None` when akashic is not running (or its heartbeat is stale).
    pub heartbeat: Option<Heartbeat>,
    pub closed: Vec<ClosedRec>,
}

/// One failure of a service, from the incident store or from memory.
struct Occurrence {
    id: String,
    at: DateTime<Utc>,
    pattern: String,
    summary: Option<String>,
    recs: Vec<String>,
}

fn occurrences(src: &Sources, service: &str) -> Vec<Occurrence> {
    let mut out: Vec<Occurrence> = src
        .incidents
        .iter()
        .filter(|i| i.service == service)
        .map(|i| Occurrence {
            id: i.id.clone(),
            at: i.detected_at,
            pattern: i
                .postmortem
                .as_ref()
                .map(|p| p.category.to_string())
                .unwrap_or_else(|| "unclassified".into()),
            summary: i.postmortem.as_ref().map(|p| p.summary.clone()),
            recs: i
                .postmortem
                .as_ref()
                .map(|p| p.recommendations.clone())
                .unwrap_or_default(),
        })
        .collect();
    let known: BTreeSet<String> = out.iter().map(|o| o.id.clone()).collect();
    for d in src.memory.iter().filter(|d| d.service == service) {
        let key = d.incident_id.clone().unwrap_or_else(|| d.id.clone());
        if known.contains(&key) || known.contains(&d.id) {
            continue;
        }
        out.push(Occurrence {
            id: d.id.clone(),
            at: d.date,
            pattern: d.category.to_string(),
            summary: Some(d.summary.clone()),
            recs: d
                .recommendation
                .split("; ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    // Newest first; ids break ties so the order never depends on input order.
    out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
    out
}

fn health(hb: Option<&Heartbeat>, service: &str) -> Health {
    match hb.and_then(|h| h.services.iter().find(|s| s.name == service)) {
        Some(s) => Health {
            state: s.state.clone(),
            failing: s
                .checks
                .iter()
                .filter(|c| c.ok == Some(false))
                .map(|c| format!("{}: {}", c.kind, c.detail))
                .collect(),
            open_incident: s.incident.clone(),
        },
        None => Health {
            state: "unknown".into(),
            failing: Vec::new(),
            open_incident: None,
        },
    }
}

fn service_digest(src: &Sources, service: &str, now: DateTime<Utc>) -> ServiceDigest {
    let since = now - Duration::days(WINDOW_DAYS);
    let all = occurrences(src, service);
    let recent: Vec<&Occurrence> = all.iter().filter(|o| o.at >= since).collect();

    let mut by_pattern: BTreeMap<&str, Vec<&Occurrence>> = BTreeMap::new();
    for o in &recent {
        by_pattern.entry(o.pattern.as_str()).or_default().push(o);
    }
    let mut patterns: Vec<Pattern> = by_pattern
        .into_iter()
        .map(|(p, os)| Pattern {
            pattern: p.to_string(),
            count: os.len(),
            last_id: os[0].id.clone(),
            last_at: os[0].at,
            recurring: os.len() >= 2,
        })
        .collect();
    patterns.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.last_at.cmp(&a.last_at))
            .then_with(|| a.pattern.cmp(&b.pattern))
    });

    let closed: Vec<&ClosedRec> = src.closed.iter().filter(|c| c.service == service).collect();
    let mut regressions: Vec<Regression> = closed
        .iter()
        .filter_map(|c| {
            // The first recurrence after the close (occurrences are newest first).
            let back = all
                .iter()
                .rev()
                .find(|o| o.pattern == c.pattern && o.at > c.closed_at)?;
            Some(Regression {
                rec_id: c.id.clone(),
                text: c.text.clone(),
                pattern: c.pattern.clone(),
                closed_at: c.closed_at,
                incident: back.id.clone(),
                at: back.at,
            })
        })
        .collect();
    regressions.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.rec_id.cmp(&b.rec_id)));

    let mut recs: Vec<Recommendation> = Vec::new();
    for o in &recent {
        for text in &o.recs {
            let id = rec_id(service, &o.pattern, text);
            if closed.iter().any(|c| c.id == id) {
                continue;
            }
            match recs.iter_mut().find(|r| r.id == id) {
                Some(r) => {
                    r.incidents.push(o.id.clone());
                    r.first_at = o.at;
                }
                None => recs.push(Recommendation {
                    id,
                    text: text.clone(),
                    pattern: o.pattern.clone(),
                    incidents: vec![o.id.clone()],
                    last_at: o.at,
                    first_at: o.at,
                }),
            }
        }
    }
    // `recent` is newest first, so `recs` already is in order of newest evidence.
    let recurring_open = patterns
        .iter()
        .filter(|p| p.recurring)
        .filter_map(|p| {
            let r = oldest_open(&recs, &p.pattern)?;
            Some(RecurringOpen {
                pattern: p.pattern.clone(),
                count: p.count,
                rec_id: r.id.clone(),
                text: r.text.clone(),
                open_since: r.first_at,
            })
        })
        .collect();

    let postmortems = recent
        .iter()
        .filter_map(|o| {
            o.summary.as_ref().map(|s| PostmortemLine {
                id: o.id.clone(),
                at: o.at,
                pattern: o.pattern.clone(),
                summary: s.clone(),
            })
        })
        .take(MAX_POSTMORTEMS)
        .collect();

    ServiceDigest {
        name: service.to_string(),
        health: health(src.heartbeat.as_ref(), service),
        incidents_90d: recent.len(),
        patterns,
        recurring_open,
        regressions,
        open_recommendations: recs,
        postmortems,
    }
}

/// The recommendation of `pattern` open the longest, if any is.
fn oldest_open<'a>(recs: &'a [Recommendation], pattern: &str) -> Option<&'a Recommendation> {
    recs.iter()
        .filter(|r| r.pattern == pattern)
        .min_by(|a, b| a.first_at.cmp(&b.first_at).then_with(|| a.id.cmp(&b.id)))
}

/// The recommendation about `pattern` that has been open the longest for `service`, from its
/// post-mortems in the window (what a new incident of that pattern is told first).
pub fn open_recommendation(
    src: &Sources,
    service: &str,
    pattern: &str,
    now: DateTime<Utc>,
) -> Option<Recommendation> {
    oldest_open(
        &service_digest(src, service, now).open_recommendations,
        pattern,
    )
    .cloned()
}

/// Whether a state means something is wrong now.
fn troubled(state: &str) -> bool {
    !matches!(state, "healthy" | "starting" | "recovered" | "unknown")
}

/// The digest of `only` (one service) or of every service, most relevant first.
pub fn assemble(src: &Sources, only: Option<&str>, now: DateTime<Utc>) -> Digest {
    let mut services: Vec<(usize, ServiceDigest)> = src
        .services
        .iter()
        .filter(|s| only.is_none_or(|o| o == s.as_str()))
        .map(|s| service_digest(src, s, now))
        .enumerate()
        .collect();
    services.sort_by(|(ia, a), (ib, b)| {
        (!a.regressions.is_empty())
            .cmp(&!b.regressions.is_empty())
            .reverse()
            .then_with(|| (!b.recurring_open.is_empty()).cmp(&!a.recurring_open.is_empty()))
            .then_with(|| troubled(&b.health.state).cmp(&troubled(&a.health.state)))
            .then_with(|| b.incidents_90d.cmp(&a.incidents_90d))
            .then_with(|| ia.cmp(ib))
    });
    Digest {
        generated_at: now,
        window_days: WINDOW_DAYS,
        services: services.into_iter().map(|(_, s)| s).collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::agent::model::PostMortem;
    use crate::core::category::Category;
    use crate::incident::{Incident, ProcessState};
    use chrono::TimeZone;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, d, 12, 0, 0).unwrap()
    }

    /// A recovered incident of `bot`, with a post-mortem of `cat` recommending `rec` if any.
    pub(crate) fn inc(id: &str, at: DateTime<Utc>, cat: Option<Category>, rec: &str) -> Incident {
        Incident {
            id: id.into(),
            service: "bot".into(),
            detected_at: at,
            failed_checks: vec![],
            process: ProcessState::default(),
            forensics: None,
            log_tail: None,
            action: "restart".into(),
            restarts: 1,
            restarted_at: None,
            recovered: true,
            recovery_confirmed_at: None,
            recovery_evidence: None,
            escalated_at: None,
            escalation_reason: None,
            timeline: vec![],
            postmortem: cat.map(|category| PostMortem {
                confirmed_by: None,
                incident_id: id.into(),
                service: "bot".into(),
                detected_at: at,
                detection: String::new(),
                process_state: String::new(),
                recovery_action: String::new(),
                recovery: String::new(),
                category,
                summary: format!("summary of {id}"),
                root_cause: String::new(),
                evidence: vec![],
                recommendations: vec![rec.into()],
                prior_incidents: vec![],
                same_pattern_90d: 0,
                services: Vec::new(),
                shared_endpoint: None,
                recurrence: None,
                author: "template".into(),
                provenance: vec![],
                drafted_at: at,
            }),
            pattern: None,
            caused_by: None,
            group: None,
        }
    }

    #[test]
    fn patterns_recurrence_recommendations_and_regressions() {
        let rec = "Add a watchdog timer";
        let mut src = Sources {
            services: vec!["bot".into(), "quiet".into()],
            incidents: vec![
                inc("i1", t(1), Some(Category::Deadlock), rec),
                inc("i2", t(5), Some(Category::Deadlock), rec),
                inc("i3", t(6), Some(Category::RateLimit), "Back off"),
                inc("i4", t(7), None, ""),
                // Outside the 90-day window.
                inc(
                    "i0",
                    t(1) - Duration::days(200),
                    Some(Category::Crash),
                    "old",
                ),
            ],
            memory: vec![MemoryDoc {
                confirmed_by: None,
                evidence: Vec::new(),
                id: "imported-1".into(),
                service: "bot".into(),
                date: t(2),
                category: Category::Deadlock,
                summary: "an old freeze".into(),
                root_cause: String::new(),
                recommendation: "Upgrade the driver; Add a watchdog timer".into(),
                incident_id: None,
            }],
            ..Default::default()
        };
        let d = assemble(&src, None, t(10));
        let bot = &d.services[0];
        assert_eq!(bot.name, "bot");
        assert_eq!(bot.incidents_90d, 5);
        assert_eq!(
            bot.patterns
                .iter()
                .map(|p| (p.pattern.as_str(), p.count, p.recurring))
                .collect::<Vec<_>>(),
            [
                ("deadlock", 3, true),
                ("unclassified", 1, false),
                ("rate_limit", 1, false)
            ]
        );
        let ids: Vec<&str> = bot
            .open_recommendations
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(ids, ["Back off", rec, "Upgrade the driver"]);
        let watchdog = &bot.open_recommendations[1];
        assert_eq!(watchdog.id, rec_id("bot", "deadlock", rec));
        assert_eq!(watchdog.incidents, ["i2", "imported-1", "i1"]);
        assert!(bot.regressions.is_empty());
        // The recurring pattern names its recommendation open the longest, first.
        assert_eq!(
            bot.recurring_open,
            [RecurringOpen {
                pattern: "deadlock".into(),
                count: 3,
                rec_id: watchdog.id.clone(),
                text: rec.into(),
                open_since: t(1),
            }]
        );
        assert_eq!(
            open_recommendation(&src, "bot", "deadlock", t(10)).map(|r| r.id),
            Some(watchdog.id.clone())
        );
        assert_eq!(open_recommendation(&src, "bot", "crash", t(10)), None);

        // Closed before i2: i2 is a regression; the rec is no longer open.
        src.closed = vec![ClosedRec {
            id: watchdog.id.clone(),
            service: "bot".into(),
            pattern: "deadlock".into(),
            text: rec.into(),
            closed_at: t(3),
        }];
        let d = assemble(&src, Some("bot"), t(10));
        let bot = &d.services[0];
        assert_eq!(bot.regressions.len(), 1);
        assert_eq!(bot.regressions[0].incident, "i2");
        assert!(bot.open_recommendations.iter().all(|r| r.text != rec));
        // Still recurring: the next open recommendation of the pattern is named.
        assert_eq!(bot.recurring_open.len(), 1);
        assert_eq!(bot.recurring_open[0].text, "Upgrade the driver");
        assert_eq!(bot.recurring_open[0].open_since, t(2));

        // Closed after the last deadlock: no regression.
        src.closed[0].closed_at = t(8);
        assert!(assemble(&src, Some("bot"), t(10)).services[0]
            .regressions
            .is_empty());
    }
}
