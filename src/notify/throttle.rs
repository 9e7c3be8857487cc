//! The reminder interval (pure): at most one message per service and event kind per interval; the rest are counted into one reminder.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Incident,
    Escalation,
    Recovery,
    /// akashic itself cannot do its whole job (its state_dir refuses writes).
    Degraded,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Incident => "incident",
            Kind::Escalation => "escalation",
            Kind::Recovery => "recovery",
            Kind::Degraded => "degraded",
        }
    }
}

/// One thing to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub service: String,
    pub incident: String,
    pub detail: String,
}

impl Event {
    /// The message for this event alone.
    pub fn text(&self) -> String {
        let Event {
            service,
            incident,
            detail,
            ..
        } = self;
        match self.kind {
            Kind::Incident => format!("[akashic] incident {incident}: {service} is unhealthy: {detail}"),
            Kind::Escalation => format!(
                "[akashic] escalated {incident}: {service} needs a person: {detail}. akashic stopped restarting it; `akashic resume {service}` when fixed"
            ),
            Kind::Recovery => format!("[akashic] recovered {incident}: {service} is producing again: {detail}"),
            Kind::Degraded => format!("[akashic] akashic itself is degraded: {detail}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Window {
    until: Instant,
    suppressed: u32,
    latest: Option<String>,
}

/// The windows of every (service, kind) that sent a message recently.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    windows: BTreeMap<(String, Kind), Window>,
}

fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs().max(1))).to_string()
}

impl Throttle {
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            windows: BTreeMap::new(),
        }
    }

    /// The message to send now for `ev`, or `None` when it falls in its window (it is counted).
    /// Call `due` first so a window that ended has had its reminder.
    pub fn offer(&mut self, ev: &Event, now: Instant) -> Option<String> {
        let key = (ev.service.clone(), ev.kind);
        if let Some(w) = self.windows.get_mut(&key) {
            if now < w.until {
                w.suppressed += 1;
                w.latest = Some(ev.incident.clone());
                return None;
            }
        }
        self.windows.insert(
            key,
            Window {
                until: now + self.interval,
                suppressed: 0,
                latest: None,
            },
        );
        Some(ev.text())
    }

    /// Reminders for windows that ended with something suppressed; each starts a new window.
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        let interval = self.interval;
        self.windows.retain(|(service, kind), w| {
            if now < w.until {
                return true;
            }
            if w.suppressed == 0 {
                return false;
            }
            out.push(format!(
                "[akashic] reminder: {service} had {} more {} event{} in the last {} (latest incident {}); `akashic incidents --service {service}` lists them",
                w.suppressed,
                kind.as_str(),
                if w.suppressed == 1 { "" } else { "s" },
                human(interval),
                w.latest.as_deref().unwrap_or("unknown"),
            ));
            *w = Window {
                until: now + interval,
                suppressed: 0,
                latest: None,
            };
            true
        });
        out
    }

    /// When `due` next has something to say.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.windows
            .values()
            .filter(|w| w.suppressed > 0)
            .map(|w| w.until)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Kind, service: &str, id: &str) -> Event {
        Event {
            kind,
            service: service.into(),
            incident: id.into(),
            detail: "artifact: stale".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flapping_service_gets_one_message_then_one_reminder_per_interval() {
        let mut t = Throttle::new(Duration::from_secs(600));
        let t0 = Instant::now();
        assert!(t.offer(&ev(Kind::Incident, "bot", "i1"), t0).is_some());
        assert_eq!(
            t.offer(
                &ev(Kind::Incident, "bot", "i2"),
                t0 + Duration::from_secs(60)
            ),
            None
        );
        assert_eq!(
            t.offer(
                &ev(Kind::Incident, "bot", "i3"),
                t0 + Duration::from_secs(120)
            ),
            None
        );
        // Another kind and another service have their own windows.
        assert!(t.offer(&ev(Kind::Recovery, "bot", "i1"), t0).is_some());
        assert!(t.offer(&ev(Kind::Incident, "web", "w1"), t0).is_some());
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(600)));
        assert!(t.due(t0 + Duration::from_secs(599)).is_empty());
        let r = t.due(t0 + Duration::from_secs(600));
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].contains("bot had 2 more incident events in the last 10m (latest incident i3)"),
            "{}",
            r[0]
        );
        // The reminder opened a new window: the next incident is counted, not sent.
        assert_eq!(
            t.offer(
                &ev(Kind::Incident, "bot", "i4"),
                t0 + Duration::from_secs(700)
            ),
            None
        );
        assert_eq!(t.due(t0 + Duration::from_secs(1199)), Vec::<String>::new());
        assert_eq!(t.due(t0 + Duration::from_secs(1200)).len(), 1);
        // A quiet window ends without a reminder; then a message goes out at once again.
        assert!(t.due(t0 + Duration::from_secs(1800)).is_empty());
        assert!(t
            .offer(
                &ev(Kind::Incident, "bot", "i5"),
                t0 + Duration::from_secs(1801)
            )
            .is_some());
    }
}
