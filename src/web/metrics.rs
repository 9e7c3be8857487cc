//! `/metrics`: the Prometheus text exposition of specs/web.md, built from one snapshot.
//! Counters and histograms are read from the incident store, so they survive a restart of
//! akashic (a scraper sees them continue, not reset).

use super::source::Snapshot;
use crate::config::Config;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

/// Every state a service's machine can be in (`akashic_service_state` has one series each).
pub const STATES: &[&str] = &[
    "starting",
    "healthy",
    "failing",
    "recovered",
    "restarting",
    "confirming",
    "held",
    "escalated",
];

/// A service counts as healthy in these states.
pub fn healthy(state: &str) -> bool {
    matches!(state, "healthy" | "recovered")
}

const DETECTION_BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
const POSTMORTEM_BUCKETS: [f64; 10] =
    [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// The exposition text of one snapshot.
pub fn render(cfg: &Config, snap: &Snapshot) -> String {
    let mut reg = Registry::with_prefix("akashic");
    let healthy_g = Family::<Labels, Gauge>::default();
    let state_g = Family::<Labels, Gauge>::default();
    let check_ok = Family::<Labels, Gauge>::default();
    let age = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let restarts = Family::<Labels, Counter>::default();
    let incidents = Family::<Labels, Counter>::default();
    let detection = Histogram::new(DETECTION_BUCKETS);
    let postmortem =
        Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(POSTMORTEM_BUCKETS));

    let live: HashMap<&str, _> = snap
        .status
        .services
        .iter()
        .map(|s| (s.name.as_str(), s))
        .collect();
    for svc in &cfg.services {
        let name = &svc.name;
        let s = live.get(name.as_str());
        let state = s.map_or("starting", |s| s.state.as_str());
        healthy_g
            .get_or_create(&vec![("service", name.clone())])
            .set(i64::from(healthy(state)));
        for st in STATES {
            state_g
                .get_or_create(&vec![
                    ("service", name.clone()),
                    ("state", (*st).to_string()),
                ])
                .set(i64::from(*st == state));
        }
        let _ = restarts.get_or_create(&vec![("service", name.clone())]);
        let Some(s) = s else { continue };
        for (ci, c) in s.checks.iter().enumerate() {
            let at = vec![("service", name.clone()), ("check", ci.to_string())];
            if let Some(ok) = c.ok {
                let mut l = at.clone();
                l.push(("kind", c.kind.clone()));
                check_ok.get_or_create(&l).set(i64::from(ok));
            }
            if let Some(t) = c.output_at {
                let secs = (snap.at - t).num_milliseconds().max(0) as f64 / 1000.0;
                age.get_or_create(&at).set(secs);
            }
        }
    }
    for inc in snap.incidents.iter() {
        restarts
            .get_or_create(&vec![("service", inc.service.clone())])
            .inc_by(u64::from(inc.restarts));
        let category = inc
            .postmortem
            .as_ref()
            .map_or_else(|| "pending".to_string(), |p| p.category.to_string());
        incidents
            .get_or_create(&vec![
                ("service", inc.service.clone()),
                ("category", category),
            ])
            .inc();
        if let Some(acted) = first_action(inc) {
            detection.observe(secs(acted - inc.detected_at));
        }
        if let Some(pm) = &inc.postmortem {
            postmortem
                .get_or_create(&vec![("author", pm.author.clone())])
                .observe(secs(pm.drafted_at - inc.detected_at));
        }
    }

    reg.register(
        "service_healthy",
        "1 when the service is healthy (or recovered), else 0",
        healthy_g,
    );
    reg.register(
        "service_state",
        "1 for the state the service is in, 0 for the others",
        state_g,
    );
    reg.register(
        "check_ok",
        "1 when the check's last answer passed",
        check_ok,
    );
    reg.register(
        "output_age_seconds",
        "seconds since the newest output the check saw was written",
        age,
    );
    reg.register("restarts", "restarts done by akashic", restarts);
    reg.register(
        "incidents",
        "incidents opened, by the post-mortem's category (pending until it is written)",
        incidents,
    );
    reg.register(
        "detection_latency_seconds",
        "seconds from an incident's detection to akashic acting on it (restart done or escalation)",
        detection,
    );
    reg.register(
        "postmortem_seconds",
        "seconds from an incident's detection to its post-mortem",
        postmortem,
    );
    if let Some(n) = snap.memory_docs {
        let g = Gauge::<i64>::default();
        g.set(n as i64);
        reg.register("memory_documents", "post-mortems held in memory", g);
    }
    let mut out = String::new();
    encode(&mut out, &reg).expect("writing to a String cannot fail");
    out
}

/// When akashic first acted on an incident: its restart, or its escalation.
fn first_action(inc: &crate::incident::Incident) -> Option<chrono::DateTime<chrono::Utc>> {
    match (inc.restarted_at, inc.escalated_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}
