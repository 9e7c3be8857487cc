//! `/metrics`: the Prometheus text exposition of specs/web.md, built from one snapshot.
//! Counters and histograms are read from the incident store, so they survive a restart of
//! akashic (a scraper sees them continue, not reset).

use super::source::Snapshot;
use crate::config::Config;
use crate::heartbeat::{CheckStatus, ServiceStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

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
///
/// Written straight from the snapshot through prometheus-client's encoder (a [`Collector`]):
/// no metric objects, label maps or hashing per series, so a scrape of a large fleet costs
/// little more than the text it writes.
pub fn render(cfg: Arc<Config>, snap: Arc<Snapshot>) -> String {
    let mut reg = Registry::with_prefix("akashic");
    // About 800 bytes a service: sized once, not doubled and copied as it grows.
    let mut out = String::with_capacity(16 * 1024 + cfg.services.len() * 1024);
    reg.register_collector(Box::new(Exposition { cfg, snap }));
    encode(&mut out, &reg).expect("writing to a String cannot fail");
    out
}

struct Exposition {
    cfg: Arc<Config>,
    snap: Arc<Snapshot>,
}

impl fmt::Debug for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exposition")
            .field("at", &self.snap.at)
            .finish_non_exhaustive()
    }
}

/// Per-bucket counts (the encoder makes them cumulative), with the `+Inf` bucket last.
struct Buckets {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl Buckets {
    fn new(upper: &[f64]) -> Self {
        Buckets {
            sum: 0.0,
            count: 0,
            buckets: upper
                .iter()
                .copied()
                .chain([f64::MAX])
                .map(|u| (u, 0))
                .collect(),
        }
    }

    fn observe(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        if let Some(b) = self.buckets.iter_mut().find(|(u, _)| *u >= v) {
            b.1 += 1;
        }
    }
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let (cfg, snap) = (&*self.cfg, &*self.snap);
        let live: HashMap<&str, &ServiceStatus> = snap
            .status
            .services
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        let services: Vec<(&str, Option<&ServiceStatus>)> = cfg
            .services
            .iter()
            .map(|svc| (svc.name.as_str(), live.get(svc.name.as_str()).copied()))
            .collect();

        let mut m = enc.encode_descriptor(
            "service_healthy",
            "1 when the service is healthy (or recovered), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for (name, s) in &services {
            m.encode_family(&[("service", *name)])?
                .encode_gauge(&i64::from(healthy(state_of(*s))))?;
        }
        let mut m = enc.encode_descriptor(
            "service_state",
            "1 for the state the service is in, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for (name, s) in &services {
            let state = state_of(*s);
            for st in STATES {
                m.encode_family(&[("service", *name), ("state", st)])?
                    .encode_gauge(&i64::from(*st == state))?;
            }
        }
        // Every check as (service, its index as a label value, the check), for both check families.
        let most = services
            .iter()
            .filter_map(|(_, s)| s.map(|s| s.checks.len()))
            .max()
            .unwrap_or(0);
        let index: Vec<String> = (0..most).map(|i| i.to_string()).collect();
        let checks: Vec<(&str, &str, &CheckStatus)> = services
            .iter()
            .flat_map(|(name, s)| {
                s.iter()
                    .flat_map(|s| s.checks.iter())
                    .zip(&index)
                    .map(move |(c, ix)| (*name, ix.as_str(), c))
            })
            .collect();
        let mut m = enc.encode_descriptor(
            "check_ok",
            "1 when the check's last answer passed.",
            None,
            MetricType::Gauge,
        )?;
        for (name, ix, c) in &checks {
            if let Some(ok) = c.ok {
                m.encode_family(&[
                    ("service", *name),
                    ("check", *ix),
                    ("kind", c.kind.as_str()),
                ])?
                .encode_gauge(&i64::from(ok))?;
            }
        }
        let mut m = enc.encode_descriptor(
            "output_age_seconds",
            "seconds since the newest output the check saw was written.",
            None,
            MetricType::Gauge,
        )?;
        for (name, ix, c) in &checks {
            if let Some(t) = c.output_at {
                m.encode_family(&[("service", *name), ("check", *ix)])?
                    .encode_gauge(&secs(snap.at - t))?;
            }
        }

        let mut restarts: BTreeMap<&str, u64> = services.iter().map(|(n, _)| (*n, 0)).collect();
        let mut incidents: BTreeMap<(&str, String), u64> = BTreeMap::new();
        let mut detection = Buckets::new(&DETECTION_BUCKETS);
        let mut postmortem: BTreeMap<&str, Buckets> = BTreeMap::new();
        for inc in snap.incidents.iter() {
            *restarts.entry(inc.service.as_str()).or_default() += u64::from(inc.restarts);
            let category = inc
                .postmortem
                .as_ref()
                .map_or_else(|| "pending".to_string(), |p| p.category.to_string());
            *incidents
                .entry((inc.service.as_str(), category))
                .or_default() += 1;
            if let Some(acted) = first_action(inc) {
                detection.observe(secs(acted - inc.detected_at));
            }
            if let Some(pm) = &inc.postmortem {
                postmortem
                    .entry(pm.author.as_str())
                    .or_insert_with(|| Buckets::new(&POSTMORTEM_BUCKETS))
                    .observe(secs(pm.drafted_at - inc.detected_at));
            }
        }
        let mut m = enc.encode_descriptor(
            "restarts",
            "restarts done by akashic.",
            None,
            MetricType::Counter,
        )?;
        for (name, n) in &restarts {
            m.encode_family(&[("service", *name)])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }
        let mut m = enc.encode_descriptor(
            "incidents",
            "incidents opened, by the post-mortem's category (pending until it is written).",
            None,
            MetricType::Counter,
        )?;
        for ((name, category), n) in &incidents {
            m.encode_family(&[("service", *name), ("category", category.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }
        enc.encode_descriptor(
            "detection_latency_seconds",
            "seconds from an incident's detection to akashic acting on it (restart done or escalation).",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(detection.sum, detection.count, &detection.buckets, None)?;
        let mut m = enc.encode_descriptor(
            "postmortem_seconds",
            "seconds from an incident's detection to its post-mortem.",
            None,
            MetricType::Histogram,
        )?;
        for (author, h) in &postmortem {
            m.encode_family(&[("author", *author)])?
                .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
        }
        if let Some(n) = snap.memory_docs {
            enc.encode_descriptor(
                "memory_documents",
                "post-mortems held in memory.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&(n as i64))?;
        }
        Ok(())
    }
}

fn state_of(s: Option<&ServiceStatus>) -> &str {
    s.map_or("starting", |s| s.state.as_str())
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
