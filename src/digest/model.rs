//! The plain data a digest is rendered from: no I/O, no clock, serializable for `--json`.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Everything the renderer needs, for one service or the whole fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    pub generated_at: DateTime<Utc>,
    /// The window incidents are counted in, in days.
    pub window_days: i64,
    /// Most relevant first.
    pub services: Vec<ServiceDigest>,
}

/// One service's lessons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDigest {
    pub name: String,
    pub health: Health,
    pub incidents_90d: usize,
    /// Most frequent first.
    pub patterns: Vec<Pattern>,
    /// Recurring patterns that still have an open recommendation: named first, most
    /// frequent first.
    pub recurring_open: Vec<RecurringOpen>,
    /// Closed recommendations whose pattern came back after they were closed.
    pub regressions: Vec<Regression>,
    /// Newest evidence first.
    pub open_recommendations: Vec<Recommendation>,
    /// Newest first.
    pub postmortems: Vec<PostmortemLine>,
}

/// The service's health as the running daemon last saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// `healthy`, `unhealthy`, `restarting`, `escalated`..., or `unknown` when akashic is not running.
    pub state: String,
    /// Failing checks, one line each.
    pub failing: Vec<String>,
    pub open_incident: Option<String>,
}

/// Incidents of one failure pattern (a root-cause category) in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pattern {
    /// The category, or `unclassified` while the post-mortem is pending.
    pub pattern: String,
    pub count: usize,
    pub last_id: String,
    pub last_at: DateTime<Utc>,
    /// Two or more in the window.
    pub recurring: bool,
}

/// A recommendation drawn from post-mortems, with a stable id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub id: String,
    pub text: String,
    pub pattern: String,
    /// Incidents whose post-mortem made it.
    pub incidents: Vec<String>,
    pub last_at: DateTime<Utc>,
    /// The oldest incident that made it: open since then.
    pub first_at: DateTime<Utc>,
}

/// A pattern that keeps coming back while a recommendation about it is still open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecurringOpen {
    pub pattern: String,
    /// Incidents of the pattern in the window.
    pub count: usize,
    /// The oldest open recommendation of the pattern.
    pub rec_id: String,
    pub text: String,
    pub open_since: DateTime<Utc>,
}

/// A closed recommendation whose pattern recurred after it was closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    pub rec_id: String,
    pub text: String,
    pub pattern: String,
    pub closed_at: DateTime<Utc>,
    /// The first incident of the pattern after the close.
    pub incident: String,
    pub at: DateTime<Utc>,
}

/// One post-mortem in one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostmortemLine {
    pub id: String,
    pub at: DateTime<Utc>,
    pub pattern: String,
    pub summary: String,
}
