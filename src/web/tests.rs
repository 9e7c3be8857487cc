//! What the page and `/metrics` show of one fixed snapshot (snapshots), and the timeline's
//! geometry.

use super::metrics::{Layout, Writer};
use super::source::Snapshot;
use crate::core::category::Category;
use crate::heartbeat::{self, Beat, CheckStatus, CheckVitals, Heartbeat, ServiceStatus, Vitals};
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
    }
}

/// The loop's vitals of [`snapshot`]'s services, in the config's order.
fn vitals() -> Vitals {
    Vitals {
        states: vec!["failing", "healthy"],
        checks: vec![
            CheckVitals {
                ok: Some(false),
                output_at: Some(at() - Duration::seconds(724)),
            },
            CheckVitals {
                ok: Some(true),
                output_at: None,
            },
        ],
    }
}

#[test]
fn metrics_of_a_snapshot() {
    let snap = snapshot();
    let mut writer = Writer::new(Arc::new(Layout::of(&config())));
    let text = writer
        .render(at(), Arc::new(vitals()), snap.incidents, snap.memory_docs)
        .text();
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

/// A config whose services have 3, 1, 2 and 1 checks.
fn uneven() -> crate::config::Config {
    let check = |kind: &str| {
        match kind {
        "port" => "[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:9\"\n".to_string(),
        _ => "[[service.check]]\nkind = \"log_stale\"\npath = \"/nonexistent/x.log\"\nmax_age = \"10m\"\n"
            .to_string(),
    }
    };
    let toml = format!(
        "[daemon]\nstate_dir = \"/nonexistent/state\"\n\
         [[service]]\nname = \"a\"\n{}{}{}\
         [[service]]\nname = \"b\"\n{}\
         [[service]]\nname = \"c\"\n{}{}\
         [[service]]\nname = \"d\"\n{}",
        check("log"),
        check("port"),
        check("log"),
        check("port"),
        check("port"),
        check("log"),
        check("log"),
    );
    crate::config::parse(&toml, std::path::Path::new("/nonexistent/akashic.toml")).unwrap()
}

/// Each check of [`uneven`] answered in turn: ok alternating, ages 1 s, 2 s, ...
fn uneven_vitals(states: [&'static str; 4]) -> Vitals {
    Vitals {
        states: states.to_vec(),
        checks: (1..=7)
            .map(|i| CheckVitals {
                ok: Some(i % 2 == 1),
                output_at: Some(at() - Duration::seconds(i)),
            })
            .collect(),
    }
}

fn series<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    let family = format!("akashic_{family}{{");
    text.lines().filter(|l| l.starts_with(&family)).collect()
}

#[test]
fn only_the_current_state_is_emitted() {
    let mut w = Writer::new(Arc::new(Layout::of(&uneven())));
    let text = w
        .render(
            at(),
            Arc::new(uneven_vitals([
                "escalated",
                "starting",
                "held",
                "recovered",
            ])),
            Arc::new(Vec::new()),
            None,
        )
        .text();
    assert_eq!(
        series(&text, "service_state"),
        [
            "akashic_service_state{service=\"a\",state=\"escalated\"} 1",
            "akashic_service_state{service=\"b\",state=\"starting\"} 1",
            "akashic_service_state{service=\"c\",state=\"held\"} 1",
            "akashic_service_state{service=\"d\",state=\"recovered\"} 1",
        ]
    );
    assert_eq!(
        series(&text, "service_healthy"),
        [
            "akashic_service_healthy{service=\"a\"} 0",
            "akashic_service_healthy{service=\"b\"} 0",
            "akashic_service_healthy{service=\"c\"} 0",
            "akashic_service_healthy{service=\"d\"} 1",
        ]
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn checks_are_labelled_by_their_own_service_when_counts_differ() {
    let mut w = Writer::new(Arc::new(Layout::of(&uneven())));
    let mut vitals = uneven_vitals(["healthy"; 4]);
    // Not answered yet: neither ok nor an age.
    vitals.checks[3] = CheckVitals::default();
    let text = w
        .render(at(), Arc::new(vitals), Arc::new(Vec::new()), None)
        .text();
    assert_eq!(
        series(&text, "check_ok"),
        [
            "akashic_check_ok{service=\"a\",check=\"0\",kind=\"log_stale\"} 1",
            "akashic_check_ok{service=\"a\",check=\"1\",kind=\"port\"} 0",
            "akashic_check_ok{service=\"a\",check=\"2\",kind=\"log_stale\"} 1",
            "akashic_check_ok{service=\"c\",check=\"0\",kind=\"port\"} 1",
            "akashic_check_ok{service=\"c\",check=\"1\",kind=\"log_stale\"} 0",
            "akashic_check_ok{service=\"d\",check=\"0\",kind=\"log_stale\"} 1",
        ]
    );
    assert_eq!(
        series(&text, "output_age_seconds"),
        [
            "akashic_output_age_seconds{service=\"a\",check=\"0\"} 1.0",
            "akashic_output_age_seconds{service=\"a\",check=\"1\"} 2.0",
            "akashic_output_age_seconds{service=\"a\",check=\"2\"} 3.0",
            "akashic_output_age_seconds{service=\"c\",check=\"0\"} 5.0",
            "akashic_output_age_seconds{service=\"c\",check=\"1\"} 6.0",
            "akashic_output_age_seconds{service=\"d\",check=\"0\"} 7.0",
        ]
    );
    // Every service has its restart counter, from the start.
    assert_eq!(series(&text, "restarts_total").len(), 4);
}

/// The writer keeps what did not change: a kept part must still follow what it shows.
#[test]
fn a_kept_part_is_written_again_when_what_it_shows_changed() {
    let mut w = Writer::new(Arc::new(Layout::of(&uneven())));
    let none = Arc::new(Vec::new());
    let first = w
        .render(
            at(),
            Arc::new(uneven_vitals(["healthy"; 4])),
            none.clone(),
            None,
        )
        .text();
    assert!(first.contains("akashic_service_state{service=\"c\",state=\"healthy\"} 1"));

    // A second later, nothing but the ages moved.
    let later = at() + Duration::milliseconds(1500);
    let same = w
        .render(
            later,
            Arc::new(uneven_vitals(["healthy"; 4])),
            none.clone(),
            None,
        )
        .text();
    assert!(
        same.contains("akashic_output_age_seconds{service=\"a\",check=\"0\"} 2.5"),
        "{same}"
    );
    assert_eq!(
        series(&same, "check_ok"),
        series(&first, "check_ok"),
        "the same ok-ness"
    );

    // A state, an ok-ness, the memory's size and the store each show at once.
    let mut moved = uneven_vitals(["healthy", "healthy", "failing", "healthy"]);
    moved.checks[4].ok = Some(false);
    let store = Arc::new(vec![incident(0, true)]);
    let text = w.render(later, Arc::new(moved), store, Some(3)).text();
    assert!(text.contains("akashic_service_state{service=\"c\",state=\"failing\"} 1"));
    assert!(!text.contains("akashic_service_state{service=\"c\",state=\"healthy\"}"));
    assert!(text.contains("akashic_check_ok{service=\"c\",check=\"0\",kind=\"port\"} 0"));
    assert!(text.contains("akashic_memory_documents 3"));
    assert!(
        text.contains("akashic_incidents_total{service=\"trading-bot\",category=\"pending\"} 1")
    );
    assert!(text.contains("akashic_restarts_total{service=\"trading-bot\"} 1"));
    assert!(!first.contains("akashic_incidents_total"));
}

#[test]
fn without_the_loop_vitals_are_read_from_the_services_by_name() {
    let layout = Layout::of(&config());
    // `status` lists them in another order, and knows nothing of a check or a service.
    let shown = vec![ServiceStatus {
        name: "nightly-report".into(),
        state: "escalated".into(),
        incident: None,
        pid: None,
        checks: vec![CheckStatus {
            kind: "port".into(),
            ok: Some(false),
            detail: "refused".into(),
            output_at: Some(at()),
        }],
    }];
    assert_eq!(
        layout.vitals_of(&shown),
        Vitals {
            states: vec!["starting", "escalated"],
            checks: vec![
                CheckVitals::default(),
                CheckVitals {
                    ok: Some(false),
                    output_at: Some(at()),
                },
            ],
        }
    );
}
