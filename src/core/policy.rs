//! Fleet policy, pure: dependency order and cycles, what holds a dependent's restart, and
//! which `on_recurrence` rule a recurring failure pattern meets. Fed facts, never reads a
//! clock, file or socket ("now" is always an argument).

use crate::config::RecurrenceRule;
use crate::core::category::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The days the post-mortem's "prior incidents matching this pattern" count looks back.
pub const PATTERN_DAYS: u32 = 90;
/// At most this many earlier incidents are listed in `pattern.previous`.
pub const MAX_PREVIOUS: usize = 20;

/// A dependency cycle, as the names along it (the first name repeated at the end).
pub fn find_cycle(graph: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    let index: BTreeMap<&str, usize> = graph
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    // 0 unvisited, 1 on the current path, 2 done.
    let mut color = vec![0u8; graph.len()];
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        n: usize,
        graph: &[(String, Vec<String>)],
        index: &BTreeMap<&str, usize>,
        color: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        color[n] = 1;
        path.push(n);
        for dep in &graph[n].1 {
            let Some(&d) = index.get(dep.as_str()) else {
                continue;
            };
            if color[d] == 1 {
                let from = path.iter().position(|p| *p == d).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(d);
                return Some(cycle);
            }
            if color[d] == 0 {
                if let Some(c) = visit(d, graph, index, color, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        color[n] = 2;
        None
    }
    (0..graph.len()).find_map(|n| {
        if color[n] != 0 {
            return None;
        }
        visit(n, graph, &index, &mut color, &mut path)
            .map(|c| c.into_iter().map(|i| graph[i].0.clone()).collect())
    })
}

/// A start order in which every name comes after what it depends on, otherwise keeping the
/// order given: each name is placed once what it needs is (depth first, in the given order).
/// A name on a cycle is placed when the walk comes back to it.
pub fn start_order(graph: &[(String, Vec<String>)]) -> Vec<usize> {
    fn place(i: usize, graph: &[(String, Vec<String>)], state: &mut [u8], order: &mut Vec<usize>) {
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        for d in &graph[i].1 {
            if let Some(j) = graph.iter().position(|(n, _)| n == d) {
                place(j, graph, state, order);
            }
        }
        state[i] = 2;
        order.push(i);
    }
    let mut state = vec![0u8; graph.len()];
    let mut order = Vec::with_capacity(graph.len());
    for i in 0..graph.len() {
        place(i, graph, &mut state, &mut order);
    }
    order
}

/// What holds a dependent's restarts: a dependency with an open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub dependency: String,
    pub incident: String,
}

/// The first of a service's dependencies (in `depends_on` order) that has an open incident:
/// while there is one, the service's restarts are held. `open` answers a dependency's open
/// incident.
pub fn blocking<'a>(
    depends_on: &'a [String],
    open: impl Fn(&str) -> Option<&'a str>,
) -> Option<Block> {
    depends_on.iter().find_map(|d| {
        open(d).map(|incident| Block {
            dependency: d.clone(),
            incident: incident.to_string(),
        })
    })
}

/// The `host:port` endpoints a text names (`127.0.0.1:5432`, `db.internal:6379`), in order
/// of first mention, without repeats. Times (`03:14:00`) and URLs' schemes are not endpoints.
pub fn endpoints(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split(cut) {
        let token = raw
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(['.', ':']);
        let Some((host, port)) = token.split_once(':') else {
            continue;
        };
        let host_ok = !host.is_empty()
            && host.contains(|c: char| c.is_ascii_alphabetic() || c == '.')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !host.starts_with(['.', '-']);
        let port_ok = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        // `T03:14` of a timestamp: a host of digits and one letter glued to it.
        let time_like = host.len() <= 3 && host.chars().filter(|c| c.is_ascii_digit()).count() >= 1;
        if host_ok && port_ok && !time_like {
            let e = format!("{host}:{port}");
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// A host-name check: letters, digits, dots and dashes, with a letter, not starting with a dot
/// or a dash; local names (`localhost`, loopback addresses) name nothing shared.
fn host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.contains(|c: char| c.is_ascii_alphabetic())
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !h.starts_with(['.', '-'])
        && !matches!(h, "localhost" | "localhost.localdomain")
}

/// Words that follow a resolver's marker but are no host (`lookup failed`, `resolve host for`).
const NOT_HOSTS: &[&str] = &[
    "failed", "failure", "for", "of", "the", "error", "on", "timed", "address",
];

/// The host names a text names without a port: the hosts of URLs (`https://api.x.com/v1`)
/// and the names a resolver failed on (`ENOTFOUND db.internal`, `Could not resolve host:
/// api.x.com`, Go's `lookup postgres on 127.0.0.11:53: no such host`), as `host NAME`, in order
/// of first mention. A URL with a port is a `host:port` endpoint instead.
pub fn hosts(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |h: &str| {
        let h = h
            .trim_end_matches(['.', ':', ',', ';'])
            .to_ascii_lowercase();
        let e = format!("host {h}");
        if host_name(&h) && !NOT_HOSTS.contains(&h.as_str()) && !out.contains(&e) {
            out.push(e);
        }
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split(cut).filter(|w| !w.is_empty()).collect();
        let lower = line.to_ascii_lowercase();
        let failing = CONNECTION_FAILURES.iter().any(|f| lower.contains(f));
        for (i, w) in words.iter().enumerate() {
            if let Some((_, rest)) = w.split_once("://") {
                // A URL in a line that says a connection failed (not a link in a warning).
                if !failing {
                    continue;
                }
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                let authority = authority.rsplit('@').next().unwrap_or("");
                if !authority.contains(':') {
                    add(authority);
                }
                continue;
            }
            let next = words.get(i + 1).copied().unwrap_or("");
            // Go's resolver: `lookup NAME on SERVER: no such host` or `lookup NAME: ...`.
            let go_lookup = w.eq_ignore_ascii_case("lookup")
                && (next.ends_with(':') || words.get(i + 2).is_some_and(|w| *w == "on"));
            let marker = w.eq_ignore_ascii_case("ENOTFOUND")
                || go_lookup
                || (w.eq_ignore_ascii_case("host:")
                    && i > 0
                    && words[i - 1].eq_ignore_ascii_case("resolve"));
            if marker && (!next.contains(':') || next.ends_with(':')) {
                add(next);
            }
        }
    }
    out
}

/// What a line says when a connection to a host failed; a URL elsewhere (a link in a warning)
/// names nothing that failed.
const CONNECTION_FAILURES: &[&str] = &[
    "connect",
    "refused",
    "timed out",
    "timeout",
    "unreachable",
    "resolv",
    "enotfound",
    "no such host",
    "reset by peer",
    "max retries",
    "unavailable",
    "failed",
    "error",
];

/// Where words end in the texts evidence is read from.
fn cut(c: char) -> bool {
    c.is_whitespace() || "()[]{}<>,;'\"`=".contains(c)
}

/// What a file system says when it refuses a write, as the C library and the runtimes print it.
const STORAGE_REFUSALS: &[&str] = &[
    "no space left on device",
    "enospc",
    "disk quota exceeded",
    "edquot",
    "read-only file system",
    "erofs",
];

/// The absolute paths named on lines where a file system refused a write (no space left, over
/// quota, read-only), in order of first mention: the runtime turns each into its file system.
pub fn storage_paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        if !STORAGE_REFUSALS.iter().any(|r| lower.contains(r)) {
            continue;
        }
        for w in line.split(cut) {
            let p = w.trim_end_matches([':', '.']);
            if p.len() > 1
                && p.starts_with('/')
                && !p.starts_with("//")
                && !out.iter().any(|o| o == p)
            {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// An incident as correlation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: String,
    pub service: String,
    pub at: DateTime<Utc>,
    pub endpoints: Vec<String>,
    pub group: Option<String>,
}

/// A fleet group inferred without configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    pub group: String,
    /// The endpoint every member names.
    pub endpoint: String,
    /// The other members' incidents.
    pub members: Vec<String>,
}

/// Whether an incident of `service` detected at `at`, whose evidence names `mine`, belongs with
/// other services' incidents (those opened before it) detected within `window` of it that name
/// the same endpoint: two services failing at one tick may be detected in either order.
/// The group keeps the name one of them already has, else takes the id of the earliest of
/// those others. Nothing is held for an inferred group: it only joins the story.
pub fn correlate(
    service: &str,
    at: DateTime<Utc>,
    mine: &[String],
    recent: &[Seen],
    window: Duration,
) -> Option<Correlation> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let close: Vec<&Seen> = recent
        .iter()
        .filter(|s| s.service != service && (at - s.at).abs() <= window)
        .collect();
    let endpoint = mine
        .iter()
        .find(|e| close.iter().any(|s| s.endpoints.contains(e)))?;
    let mut members: Vec<&Seen> = close
        .into_iter()
        .filter(|s| s.endpoints.contains(endpoint))
        .collect();
    members.sort_by_key(|s| s.at);
    let group = members
        .iter()
        .find_map(|s| s.group.clone())
        .unwrap_or_else(|| format!("grp-{}", members[0].id));
    Some(Correlation {
        group,
        endpoint: endpoint.clone(),
        members: members.iter().map(|s| s.id.clone()).collect(),
    })
}

/// A past incident of the service, as pattern counting sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Past {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The category its post-mortem (or a person) settled on, else the one read at detection.
    pub category: Category,
}

/// An incident's failure pattern (specs/fleet.md `pattern`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    pub category: Category,
    /// Incidents of this service with this category in the window, this one included.
    pub count: u32,
    pub within_days: u32,
    /// The others, oldest first, at most [`MAX_PREVIOUS`].
    pub previous: Vec<String>,
}

fn within(past: &[Past], category: Category, now: DateTime<Utc>, window: Duration) -> Vec<&Past> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let mut v: Vec<&Past> = past
        .iter()
        .filter(|p| p.category == category && p.at <= now && now - p.at <= window)
        .collect();
    v.sort_by_key(|p| p.at);
    v
}

/// The pattern of an incident of `category` detected at `now`, over the last [`PATTERN_DAYS`].
pub fn pattern(category: Category, now: DateTime<Utc>, past: &[Past]) -> Pattern {
    let days = Duration::from_secs(u64::from(PATTERN_DAYS) * 86_400);
    let same = within(past, category, now, days);
    let skip = same.len().saturating_sub(MAX_PREVIOUS);
    Pattern {
        category,
        count: same.len() as u32 + 1,
        within_days: PATTERN_DAYS,
        previous: same[skip..].iter().map(|p| p.id.clone()).collect(),
    }
}

/// The rule an incident of `category` at `now` meets, with the count it met it at: the one
/// with the highest `count` among those whose category fits and whose count holds within
/// its own window (the first of equals).
pub fn rule_for<'a>(
    rules: &'a [RecurrenceRule],
    category: Category,
    now: DateTime<Utc>,
    past: &[Past],
) -> Option<(usize, &'a RecurrenceRule, u32)> {
    let mut best: Option<(usize, &RecurrenceRule, u32)> = None;
    for (i, r) in rules.iter().enumerate() {
        if r.category.is_some_and(|c| c != category) {
            continue;
        }
        let count = within(past, category, now, r.within).len() as u32 + 1;
        if count >= r.count && best.is_none_or(|(_, b, _)| r.count > b.count) {
            best = Some((i, r, count));
        }
    }
    best
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
