//! What the page and `/metrics` show of one fixed snapshot (snapshots), and the timeline's
//! geometry.

use super::source::Snapshot;
use crate::core::category::Category;
use crate::heartbeat::{self, Beat, CheckStatus, Heartbeat, ServiceStatus};
use crate::incident::{FailedCheck, Incident, ProcessState, TimelineEvent};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

fn at() -> DateTime<Utc> {
    "2026-12-06T12:00:00Z".parse().unwrap()
}

fn config() -> crate::config::Config {
    crate::config::parse(
        r#"
[daemon]
state_dir = "/nonexistent/state"
[[service]]
name = "trading-bot"
[[service.check]]
kind = "log_stale"
path = "/nonexistent/bot.log"
max_age = "10m"
[[service]]
name = "nightly-report"
[[service.check]]
kind = "port"
addr = "127.0.0.1:9"
"#,
        std::path::Path::new("/nonexistent/akashic.toml"),
    )
    .unwrap()
}

fn incident(n: i64, recovered: bool) -> Incident {
    let detected_at = at() - Duration::hours(30 * n + 2);
    Incident {
        id: format!("inc-{n}"),
        service: "trading-bot".into(),
        detected_at,
        failed_checks: vec![FailedCheck {
            kind: "log_stale".into(),
            failure: Some("stale".into()),
            detail: "log unchanged for 12m04s (max 10m)".into(),
        }],
        process: ProcessState::default(),
        forensics: None,
        log_tail: None,
        action: "SIGTERM + child restart".into(),
        restarts: 1,
        restarted_at: Some(detected_at + Duration::seconds(2)),
        recovered,
        recovery_confirmed_at: recovered.then(|| detected_at + Duration::seconds(40)),
        recovery_evidence: None,
        escalated_at: (!recovered).then(|| detected_at + Duration::seconds(60)),
        escalation_reason: None,
        timeline: vec![TimelineEvent {
            at: detected_at,
            event: "detected".into(),
            detail: "log unchanged for 12m04s (max 10m) <script>".into(),
        }],
        postmortem: None,
        pattern: None,
        caused_by: None,
        group: None,
    }
}

/// A snapshot as the daemon would take it: a running daemon, one failing service.
fn snapshot() -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    heartbeat::write_beat(
        dir.path(),
        &Beat {
            pid: std::process::id(),
            started_at: Utc::now(),
            at: Utc::now(),
            tick_ms: 1000,
            stopped_at: None,
        },
    )
    .unwrap();
    let services = vec![
        ServiceStatus {
            name: "trading-bot".into(),
            state: "failing".into(),
            incident: None,
            pid: Some(42),
            checks: vec![CheckStatus {
                kind: "log_stale".into(),
                ok: Some(false),
                detail: "log unchanged for 12m04s (max 10m)".into(),
                output_at: Some(at() - Duration::seconds(724)),
            }],
        },
        ServiceStatus {
            name: "nightly-report".into(),
            state: "healthy".into(),
            incident: None,
            pid: None,
            checks: vec![CheckStatus {
                kind: "port".into(),
                ok: Some(true),
                detail: "127.0.0.1:9 accepted a connection in 0ms".into(),
                output_at: None,
            }],
        },
    ];
    let live = Heartbeat {
        beat: heartbeat::read_beat(dir.path()).unwrap(),
        services,
        degraded: Vec::new(),
    };
    let status = crate::cmd::status::view(dir.path(), || Some(live));
    let mut second = incident(1, false);
    second.postmortem = None;
    let mut first = incident(0, true);
    first.postmortem = Some(crate::agent::model::PostMortem {
        incident_id: "inc-0".into(),
        service: "trading-bot".into(),
        detected_at: first.detected_at,
        detection: "log unchanged for 12m04s (max 10m)".into(),
        process_state: "running".into(),
        recovery_action: "SIGTERM + child restart".into(),
        recovery: "new output after the restart".into(),
        category: Category::RateLimit,
        summary: "The bot stopped after a burst of 429s.".into(),
        root_cause: "retries without backoff".into(),
        evidence: Vec::new(),
        recommendations: vec!["back off on 429".into()],
        prior_incidents: Vec::new(),
        same_pattern_90d: 1,
        author: "template".into(),
        provenance: Vec::new(),
        drafted_at: first.detected_at + Duration::seconds(30),
        confirmed_by: None,
        services: Vec::new(),
        shared_endpoint: None,
        recurrence: None,
    });
    Snapshot {
        at: at(),
        status,
        incidents: std::sync::Arc::new(vec![first, second]),
        memory_docs: Some(7),
        metrics: std::sync::OnceLock::new(),
    }
}

#[test]
fn metrics_of_a_snapshot() {
    let text = super::metrics::render(Arc::new(config()), Arc::new(snapshot()));
    // Sorted: the snapshot shows what is written, not the order of families.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    insta::assert_snapshot!("metrics", lines.join("\n"));
}

#[test]
fn live_part_of_the_page() {
    let html = super::page::render(&config(), &snapshot(), true).unwrap();
    assert!(html.contains("&lt;script&gt;"), "text is escaped");
    assert!(!html.contains("<script>"));
    insta::assert_snapshot!("live", html);
}

#[test]
fn the_whole_page_has_no_external_asset() {
    let html = super::page::render(&config(), &snapshot(), false).unwrap();
    for external in ["http://", "https://", "//cdn", "src=\"http"] {
        let outside: Vec<&str> = html
            .lines()
            .filter(|l| l.contains(external) && !l.contains("xmlns=\"http://www.w3.org/2000/svg\""))
            .collect();
        assert!(outside.is_empty(), "{external}: {outside:?}");
    }
    assert!(html.contains("No digest written yet"));
}

#[test]
fn the_timeline_spans_its_days_and_lanes() {
    let incs = vec![incident(0, true), incident(1, false), incident(10, true)];
    let week = super::timeline::plot(&incs, at(), 7);
    // Two in the last 7 days (30 h apart), three in 30 days.
    assert!(week.contains("2 incidents, 2 restarts"), "{week}");
    let month = super::timeline::plot(&incs, at(), 30);
    assert!(month.contains("3 incidents, 3 restarts"));
    assert!(month.contains("median time to recovery 40s"), "{month}");
    assert!(super::timeline::plot(&[], at(), 7).contains("no incidents in the last 7 days"));
}
