//! The incidents of the last days drawn as an inline SVG: incidents per day (by outcome), and a
//! lane per service with each incident from detection to recovery. Pure: the same incidents
//! and `now` give the same picture.

use crate::incident::Incident;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 10.0;
const BARS_H: f64 = 70.0;
const LANE_H: f64 = 22.0;
/// Lanes drawn at most (the services with the most incidents); the rest are counted.
const MAX_LANES: usize = 12;

/// One service's lane: its incidents in the window, restarts, and median time to recovery.
struct Lane<'a> {
    service: &'a str,
    incidents: Vec<&'a Incident>,
    restarts: u32,
}

/// An `<svg>` of the `days` before `now`.
pub fn plot(incidents: &[Incident], now: DateTime<Utc>, days: i64) -> String {
    let start = now - Duration::days(days);
    let span = (now - start).num_seconds() as f64;
    let x =
        |t: DateTime<Utc>| LEFT + (t - start).num_seconds() as f64 / span * (WIDTH - LEFT - RIGHT);
    let within: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.detected_at >= start)
        .collect();

    let mut lanes: BTreeMap<&str, Lane> = BTreeMap::new();
    for i in &within {
        let lane = lanes.entry(&i.service).or_insert_with(|| Lane {
            service: &i.service,
            incidents: Vec::new(),
            restarts: 0,
        });
        lane.incidents.push(i);
        lane.restarts += i.restarts;
    }
    let mut lanes: Vec<Lane> = lanes.into_values().collect();
    lanes.sort_by(|a, b| {
        b.incidents
            .len()
            .cmp(&a.incidents.len())
            .then(a.service.cmp(b.service))
    });
    let hidden = lanes.len().saturating_sub(MAX_LANES);
    lanes.truncate(MAX_LANES);

    let height =
        BARS_H + 30.0 + LANE_H * lanes.len().max(1) as f64 + if hidden > 0 { LANE_H } else { 0.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="plot" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="incidents of the last {days} days" xmlns="http://www.w3.org/2000/svg">"#
    );
    // Incidents per day, stacked by outcome.
    let mut per_day = vec![[0u32; 3]; days as usize];
    for i in &within {
        let d = ((i.detected_at - start).num_seconds() / 86_400).clamp(0, days - 1) as usize;
        per_day[d][outcome(i)] += 1;
    }
    let most = per_day
        .iter()
        .map(|d| d.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let day_w = (WIDTH - LEFT - RIGHT) / days as f64;
    let _ = write!(
        s,
        r#"<text x="0" y="14" class="lbl">incidents a day (max {most})</text><text x="0" y="30" class="sub">{} incidents, {} restarts</text>"#,
        within.len(),
        within.iter().map(|i| i.restarts).sum::<u32>()
    );
    for (d, counts) in per_day.iter().enumerate() {
        let mut y = BARS_H;
        for (k, n) in counts.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = f64::from(*n) / f64::from(most) * (BARS_H - 8.0);
            y -= h;
            let _ = write!(
                s,
                r#"<rect class="{}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}"><title>{} {}</title></rect>"#,
                CLASSES[k],
                LEFT + d as f64 * day_w + 1.0,
                (day_w - 2.0).max(1.0),
                n,
                LABELS[k]
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{BARS_H}" x2="{}" y2="{BARS_H}"/><text x="{LEFT}" y="{}" class="sub">{}</text><text x="{}" y="{}" class="sub" text-anchor="end">now</text>"#,
        WIDTH - RIGHT,
        BARS_H + 14.0,
        start.format("%b %-d"),
        WIDTH - RIGHT,
        BARS_H + 14.0
    );
    // A lane per service: each incident from detection to confirmed recovery (at least a dot).
    let top = BARS_H + 30.0;
    if lanes.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{LEFT}" y="{}" class="sub">no incidents in the last {days} days</text>"#,
            top + 14.0
        );
    }
    for (n, lane) in lanes.iter().enumerate() {
        let y = top + n as f64 * LANE_H + LANE_H / 2.0;
        let ttr = median_recovery(&lane.incidents);
        let _ = write!(
            s,
            r#"<g><title>{}: {} incidents, {} restarts{}</title>"#,
            esc(lane.service),
            lane.incidents.len(),
            lane.restarts,
            ttr.map(|t| format!(", median time to recovery {}", crate::probe::age(t)))
                .unwrap_or_default()
        );
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" class="svc">{}</text><line class="lane" x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}"/>"#,
            y + 4.0,
            esc(&short(lane.service, 20)),
            WIDTH - RIGHT
        );
        for i in &lane.incidents {
            let x0 = x(i.detected_at);
            let x1 = i.recovery_confirmed_at.map_or(x0, x).max(x0 + 3.0);
            let _ = write!(
                s,
                r##"<a href="#inc-{id}"><rect class="{c}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="10" rx="3"><title>{} {} {}</title></rect></a>"##,
                y - 5.0,
                x1 - x0,
                esc(&i.service),
                i.detected_at.format("%Y-%m-%d %H:%M UTC"),
                LABELS[outcome(i)],
                id = esc(&i.id),
                c = CLASSES[outcome(i)],
            );
        }
        s.push_str("</g>");
    }
    if hidden > 0 {
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" class="sub">and {hidden} more services with incidents</text>"#,
            top + lanes.len() as f64 * LANE_H + 14.0
        );
    }
    s.push_str("</svg>");
    s
}

const CLASSES: [&str; 3] = ["ok", "bad", "wait"];
const LABELS: [&str; 3] = ["recovered", "escalated", "open"];

/// 0 recovered, 1 escalated, 2 open.
fn outcome(i: &Incident) -> usize {
    if i.recovered {
        0
    } else if i.escalated_at.is_some() {
        1
    } else {
        2
    }
}

/// The median time from detection to confirmed recovery.
pub fn median_recovery(incidents: &[&Incident]) -> Option<std::time::Duration> {
    let mut t: Vec<i64> = incidents
        .iter()
        .filter_map(|i| {
            Some(
                (i.recovery_confirmed_at? - i.detected_at)
                    .num_milliseconds()
                    .max(0),
            )
        })
        .collect();
    t.sort_unstable();
    t.get(t.len() / 2)
        .map(|ms| std::time::Duration::from_millis(*ms as u64))
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

/// Escapes text for SVG (XML).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
