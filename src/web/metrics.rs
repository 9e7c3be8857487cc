//! `/metrics`: the Prometheus text exposition of specs/web.md, from the loop's vitals (no
//! details) and the incident store. Counters and histograms are read from the store, so they
//! survive a restart of akashic (a scraper sees them continue, not reset).

use crate::config::Config;
use crate::heartbeat::{CheckVitals, ServiceStatus, Vitals};
use crate::incident::Incident;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

/// Every state a service's machine can be in.
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

/// The label values `/metrics` writes, fixed by the config: made once, not per scrape.
#[derive(Debug)]
pub struct Layout {
    /// Each service's name, in the config's order.
    services: Vec<String>,
    /// Every check in [`Vitals::checks`]' order: its service, its index, its kind.
    checks: Vec<(usize, usize, &'static str)>,
    /// `"0"`, `"1"`, ...: the `check` label of each index.
    indexes: Vec<String>,
    /// `output_age_seconds`' header and each check's line up to its value.
    ages: AgeLines,
}

impl Layout {
    pub fn of(cfg: &Config) -> Self {
        let most = cfg.services.iter().map(|s| s.checks.len()).max();
        let mut layout = Layout {
            services: cfg.services.iter().map(|s| s.name.clone()).collect(),
            checks: cfg
                .services
                .iter()
                .enumerate()
                .flat_map(|(si, s)| {
                    s.checks
                        .iter()
                        .enumerate()
                        .map(move |(ci, c)| (si, ci, c.kind.name()))
                })
                .collect(),
            indexes: (0..most.unwrap_or(0)).map(|i| i.to_string()).collect(),
            ages: AgeLines::default(),
        };
        layout.ages = AgeLines::of(&layout);
        layout
    }

    /// The vitals of services as `status` shows them (matched by name), for when the loop did
    /// not answer: a service it does not show is starting, a check it does not show unknown.
    pub fn vitals_of(&self, services: &[ServiceStatus]) -> Vitals {
        let by_name: HashMap<&str, &ServiceStatus> =
            services.iter().map(|s| (s.name.as_str(), s)).collect();
        let shown = |si: usize| by_name.get(self.services[si].as_str());
        Vitals {
            states: (0..self.services.len())
                .map(|si| {
                    let state = shown(si).map_or("starting", |s| s.state.as_str());
                    // Always one of them: services.json is written from the same machines.
                    STATES
                        .iter()
                        .find(|s| **s == state)
                        .copied()
                        .unwrap_or("starting")
                })
                .collect(),
            checks: self
                .checks
                .iter()
                .map(|&(si, ci, _)| {
                    shown(si).and_then(|s| s.checks.get(ci)).map_or_else(
                        CheckVitals::default,
                        |c| CheckVitals {
                            ok: c.ok,
                            output_at: c.output_at,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// Writes `/metrics`, keeping what it wrote: the families that move only with a service's
/// state, a check's ok-ness or the memory's size are written again only when one of those
/// changed, the counters and histograms only when the store's list changed; the output ages,
/// which move every second, are written every time.
pub struct Writer {
    layout: Arc<Layout>,
    states: Option<(Arc<Vitals>, Option<usize>, Bytes)>,
    store: Option<(Arc<Vec<Incident>>, Bytes)>,
    eof: Bytes,
}

impl Writer {
    pub fn new(layout: Arc<Layout>) -> Self {
        let mut eof = String::new();
        encode_eof(&mut eof).expect("writing to a String cannot fail");
        Writer {
            layout,
            states: None,
            store: None,
            eof: eof.into(),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The exposition text as of `at`. `vitals` must be of this writer's config (one state
    /// per service, one entry per check); what it lacks is not written.
    pub fn render(
        &mut self,
        at: DateTime<Utc>,
        vitals: Arc<Vitals>,
        incidents: Arc<Vec<Incident>>,
        memory_docs: Option<usize>,
    ) -> Exposition {
        let layout = &self.layout;
        let same_states = self.states.as_ref().is_some_and(|(v, docs, _)| {
            *docs == memory_docs
                && v.states == vitals.states
                && v.checks
                    .iter()
                    .map(|c| c.ok)
                    .eq(vitals.checks.iter().map(|c| c.ok))
        });
        if !same_states {
            let text = part(
                layout.services.len() * 128 + layout.checks.len() * 72,
                States {
                    layout: layout.clone(),
                    vitals: vitals.clone(),
                    memory_docs,
                },
            );
            self.states = Some((vitals.clone(), memory_docs, text));
        }
        if !self
            .store
            .as_ref()
            .is_some_and(|(list, _)| Arc::ptr_eq(list, &incidents))
        {
            let text = part(
                4096 + layout.services.len() * 64 + incidents.len() * 96,
                Counts {
                    layout: layout.clone(),
                    incidents: incidents.clone(),
                },
            );
            self.store = Some((incidents, text));
        }
        let ages = layout.ages.write(&vitals, at);
        Exposition(vec![
            self.states.as_ref().expect("set above").2.clone(),
            ages,
            self.store.as_ref().expect("set above").1.clone(),
            self.eof.clone(),
        ])
    }
}

/// The exposition text in the parts it was written in: served one after the other, never
/// copied into one (the kept parts are shared by every scrape that serves them).
#[derive(Debug, Clone)]
pub struct Exposition(Vec<Bytes>);

impl Exposition {
    /// The answer's body, its length known (`Content-Length`, not chunks).
    pub fn body(&self) -> axum::body::Body {
        axum::body::Body::new(Parts(self.0.iter().cloned().collect()))
    }

    /// The whole text, copied into one string.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|b| std::str::from_utf8(b).expect("written as text"))
            .collect()
    }
}

struct Parts(VecDeque<Bytes>);

impl hyper::body::Body for Parts {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.iter().map(|b| b.len() as u64).sum())
    }
}

/// Some families of the exposition, written through prometheus-client's encoder by a
/// [`Collector`] that writes each series straight from what it holds (no metric objects, label
/// maps or hashing per series).
fn part(capacity: usize, families: impl Collector) -> Bytes {
    encoded(capacity, families).into()
}

fn encoded(capacity: usize, families: impl Collector) -> String {
    let mut reg = Registry::with_prefix("akashic");
    reg.register_collector(Box::new(families));
    let mut out = String::with_capacity(capacity);
    encode_registry(&mut out, &reg).expect("writing to a String cannot fail");
    out
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

/// `service_healthy`, `service_state`, `check_ok` and `memory_documents`.
#[derive(Debug)]
struct States {
    layout: Arc<Layout>,
    vitals: Arc<Vitals>,
    memory_docs: Option<usize>,
}

impl Collector for States {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let (layout, vitals) = (&*self.layout, &*self.vitals);
        let services = || layout.services.iter().zip(&vitals.states);
        let mut m = enc.encode_descriptor(
            "service_healthy",
            "1 when the service is healthy (or recovered), else 0.",
            None,
            MetricType::Gauge,
        )?;
        for (name, state) in services() {
            m.encode_family(&[("service", name.as_str())])?
                .encode_gauge(&i64::from(healthy(state)))?;
        }
        let mut m = enc.encode_descriptor(
            "service_state",
            "1 for the state the service is in (one series per service).",
            None,
            MetricType::Gauge,
        )?;
        for (name, state) in services() {
            m.encode_family(&[("service", name.as_str()), ("state", state)])?
                .encode_gauge(&1i64)?;
        }
        let mut m = enc.encode_descriptor(
            "check_ok",
            "1 when the check's last answer passed.",
            None,
            MetricType::Gauge,
        )?;
        for (&(si, ci, kind), c) in layout.checks.iter().zip(&vitals.checks) {
            if let Some(ok) = c.ok {
                m.encode_family(&[
                    ("service", layout.services[si].as_str()),
                    ("check", layout.indexes[ci].as_str()),
                    ("kind", kind),
                ])?
                .encode_gauge(&i64::from(ok))?;
            }
        }
        if let Some(n) = self.memory_docs {
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

/// `output_age_seconds`, the only family that moves every second, kept as prometheus-client's
/// encoder writes it with every age at 0: its header, then each check's line up to its value
/// (label values escaped once per config). A scrape writes each line as its prefix and the age
/// (by `dtoa`, as the encoder writes an `f64`), with no encoder, label or escaping work.
#[derive(Debug, Default)]
struct AgeLines {
    /// The `# HELP` and `# TYPE` lines.
    head: String,
    /// Every check's prefix (`akashic_output_age_seconds{service="a",check="0"} `), one after
    /// the other, in [`Vitals::checks`]' order.
    prefixes: String,
    /// Where each check's prefix ends in `prefixes`.
    ends: Vec<usize>,
}

impl AgeLines {
    fn of(layout: &Layout) -> Self {
        let series = layout
            .checks
            .iter()
            .map(|&(si, ci, _)| (layout.services[si].clone(), layout.indexes[ci].clone(), 0.0))
            .collect();
        let text = encoded(layout.checks.len() * 64, Ages(series));
        let mut lines = AgeLines::default();
        for line in text.split_inclusive('\n') {
            if line.starts_with('#') {
                lines.head.push_str(line);
            } else {
                let prefix = line
                    .strip_suffix("0.0\n")
                    .expect("the encoder writes a zero age as 0.0");
                lines.prefixes.push_str(prefix);
                lines.ends.push(lines.prefixes.len());
            }
        }
        assert_eq!(lines.ends.len(), layout.checks.len(), "one line per check");
        lines
    }

    /// The family as of `at`: a line for each check that saw an output.
    fn write(&self, vitals: &Vitals, at: DateTime<Utc>) -> Bytes {
        let mut out = String::with_capacity(self.head.len() + self.prefixes.len() * 5 / 4);
        out.push_str(&self.head);
        let mut num = dtoa::Buffer::new();
        let mut start = 0;
        for (&end, c) in self.ends.iter().zip(&vitals.checks) {
            if let Some(t) = c.output_at {
                out.push_str(&self.prefixes[start..end]);
                out.push_str(num.format(secs(at - t)));
                out.push('\n');
            }
            start = end;
        }
        out.into()
    }
}

/// `output_age_seconds` through the encoder, (service, check, age) per series: with every age
/// at 0 for [`AgeLines::of`].
#[derive(Debug)]
struct Ages(Vec<(String, String, f64)>);

impl Collector for Ages {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let mut m = enc.encode_descriptor(
            "output_age_seconds",
            "seconds since the newest output the check saw was written.",
            None,
            MetricType::Gauge,
        )?;
        for (service, check, age) in &self.0 {
            m.encode_family(&[("service", service.as_str()), ("check", check.as_str())])?
                .encode_gauge(age)?;
        }
        Ok(())
    }
}

/// The counters and histograms, from the incident store.
#[derive(Debug)]
struct Counts {
    layout: Arc<Layout>,
    incidents: Arc<Vec<Incident>>,
}

impl Collector for Counts {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let mut restarts: BTreeMap<&str, u64> = self
            .layout
            .services
            .iter()
            .map(|n| (n.as_str(), 0))
            .collect();
        let mut incidents: BTreeMap<(&str, String), u64> = BTreeMap::new();
        let mut detection = Buckets::new(&DETECTION_BUCKETS);
        let mut postmortem: BTreeMap<&str, Buckets> = BTreeMap::new();
        for inc in self.incidents.iter() {
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
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_age_lines_write_what_the_encoder_writes() {
        let mut toml = "[daemon]\nstate_dir = \"/nonexistent/state\"\n".to_string();
        for (name, checks) in [("a", 3), ("b-2", 1), ("c_3", 12)] {
            toml.push_str(&format!("[[service]]\nname = \"{name}\"\n"));
            for _ in 0..checks {
                toml.push_str("[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:9\"\n");
            }
        }
        let cfg = crate::config::parse(&toml, std::path::Path::new("/x/akashic.toml")).unwrap();
        let layout = Layout::of(&cfg);
        let at: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        // ages of every shape: none, zero, milliseconds, whole and large, and a clock ahead
        let ms = [
            None,
            Some(0),
            Some(1),
            Some(999),
            Some(1_000),
            Some(1_500),
            Some(61_234),
            Some(86_400_000),
            Some(40 * 86_400_000 + 7),
            Some(-5_000),
            Some(123_456_789_012),
            None,
            Some(10),
            Some(100),
            Some(3_600_000),
            Some(7),
        ];
        let vitals = Vitals {
            states: vec!["healthy"; 3],
            checks: ms
                .iter()
                .map(|m| CheckVitals {
                    ok: Some(true),
                    output_at: m.map(|m| at - chrono::TimeDelta::milliseconds(m)),
                })
                .collect(),
        };
        let oracle = Ages(
            layout
                .checks
                .iter()
                .zip(&vitals.checks)
                .filter_map(|(&(si, ci, _), c)| {
                    let t = c.output_at?;
                    Some((layout.services[si].clone(), ci.to_string(), secs(at - t)))
                })
                .collect(),
        );
        let kept = layout.ages.write(&vitals, at);
        assert_eq!(std::str::from_utf8(&kept).unwrap(), encoded(0, oracle));
        assert!(std::str::from_utf8(&kept)
            .unwrap()
            .contains("akashic_output_age_seconds{service=\"c_3\",check=\"11\"} 0.007\n"));
    }
}
