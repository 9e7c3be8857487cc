//! The digest as Markdown: a pure, deterministic renderer bounded by a token-style budget.

use super::model::*;
use chrono::{DateTime, Utc};

/// The budget when none is given: about 6,000 characters, a cheap thing to load at session start.
pub const DEFAULT_MAX_TOKENS: usize = 1500;
/// Kept back for the note that says what was cut.
const NOTE_RESERVE: usize = 60;
/// A post-mortem summary is cut to this many characters in its one line.
const SUMMARY_CHARS: usize = 160;

/// A token-style size: about four characters a token, as tokenizers average on English.
pub fn tokens(s: &str) -> usize {
    s.chars().count().div_ceil(4) + 1
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}...", flat.chars().take(max).collect::<String>())
    }
}

/// The lines of one optional section, in the order they would be cut from the end.
struct Section {
    title: &'static str,
    what: &'static str,
    items: Vec<String>,
}

fn sections(s: &ServiceDigest) -> [Section; 4] {
    [
        Section {
            title: "### REGRESSIONS",
            what: "regressions",
            items: s
                .regressions
                .iter()
                .map(|r| {
                    format!(
                        "- REGRESSION `{}`: recurred in incident {} on {} after recommendation {} was closed on {}: \"{}\"",
                        r.pattern,
                        r.incident,
                        day(r.at),
                        r.rec_id,
                        day(r.closed_at),
                        one_line(&r.text, SUMMARY_CHARS)
                    )
                })
                .collect(),
        },
        Section {
            title: "### Failure patterns (last 90 days)",
            what: "patterns",
            items: s
                .patterns
                .iter()
                .map(|p| {
                    format!(
                        "- `{}`: {} incident{}, last {} on {}{}",
                        p.pattern,
                        p.count,
                        if p.count == 1 { "" } else { "s" },
                        p.last_id,
                        day(p.last_at),
                        if p.recurring { " **RECURRING**" } else { "" }
                    )
                })
                .collect(),
        },
        Section {
            title: "### Open recommendations (newest evidence first)",
            what: "recommendations",
            items: s
                .open_recommendations
                .iter()
                .map(|r| {
                    let more = match r.incidents.len() {
                        1 => String::new(),
                        n => format!(" and {} more", n - 1),
                    };
                    format!(
                        "- [{}] {} (`{}`; from incident {}{more})",
                        r.id,
                        one_line(&r.text, 2 * SUMMARY_CHARS),
                        r.pattern,
                        r.incidents[0]
                    )
                })
                .collect(),
        },
        Section {
            title: "### Last post-mortems",
            what: "post-mortem lines",
            items: s
                .postmortems
                .iter()
                .map(|p| {
                    format!(
                        "- {} {} `{}`: {}",
                        p.id,
                        day(p.at),
                        p.pattern,
                        one_line(&p.summary, SUMMARY_CHARS)
                    )
                })
                .collect(),
        },
    ]
}

/// `3rd`, `11th`, `22nd`.
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A recurring pattern with an open recommendation, in one line (the digest's first line for
/// the service, and the news of a new incident of the pattern):
/// `` `deadlock` 3rd time in 90 days; recommendation r-0a1b2c3d open since 2 Nov 2026: "…" ``.
pub fn recurring_open_line(r: &RecurringOpen, window_days: i64) -> String {
    format!(
        "`{}` {} time in {window_days} days; recommendation {} open since {}: \"{}\"",
        r.pattern,
        ordinal(r.count),
        r.rec_id,
        r.open_since.format("%-d %b %Y"),
        one_line(&r.text, SUMMARY_CHARS)
    )
}

fn head(s: &ServiceDigest, window_days: i64) -> Vec<String> {
    let mut out = vec![format!("## {}: {}", s.name, s.health.state)];
    for r in &s.recurring_open {
        out.push(format!(
            "- **RECURRING**: {}",
            recurring_open_line(r, window_days)
        ));
    }
    if !s.health.failing.is_empty() {
        out.push(format!("- failing now: {}", s.health.failing.join("; ")));
    }
    if let Some(id) = &s.health.open_incident {
        out.push(format!("- open incident: {id}"));
    }
    let recurring: Vec<String> = s
        .patterns
        .iter()
        .filter(|p| p.recurring)
        .map(|p| format!("`{}` x{}", p.pattern, p.count))
        .collect();
    out.push(match (s.incidents_90d, recurring.is_empty()) {
        (0, _) => "- no incidents in the last 90 days".to_string(),
        (n, true) => format!("- incidents in the last 90 days: {n}"),
        (n, false) => format!(
            "- incidents in the last 90 days: {n}; recurring: {}",
            recurring.join(", ")
        ),
    });
    if !s.regressions.is_empty() {
        out.push(format!(
            "- **REGRESSION**: {} closed recommendation{} did not hold",
            s.regressions.len(),
            if s.regressions.len() == 1 { "" } else { "s" }
        ));
    }
    out
}

/// Renders `d` within `max_tokens`. Headers and health always stay; then, across all services
/// in order, regressions, patterns, recommendations and post-mortem lines are kept while they
/// fit, in that order of relevance. What did not fit is counted in a closing note.
pub fn render(d: &Digest, title: &str, max_tokens: usize) -> String {
    let mut top = vec![
        format!("# akashic digest: {title}"),
        String::new(),
        format!(
            "Generated {} UTC from the last {} days of incidents. Load it at the start of a work session; close a recommendation with `akashic rec done ID`.",
            d.generated_at.format("%Y-%m-%d %H:%M"),
            d.window_days
        ),
    ];
    if d.services.is_empty() {
        top.push(String::new());
        top.push("No services.".into());
    }
    let heads: Vec<Vec<String>> = d.services.iter().map(|s| head(s, d.window_days)).collect();
    let secs: Vec<[Section; 4]> = d.services.iter().map(sections).collect();
    let mut used: usize = top
        .iter()
        .chain(heads.iter().flatten())
        .map(|l| tokens(l))
        .sum();
    let budget = max_tokens.saturating_sub(NOTE_RESERVE);

    // kept[service][section] = how many leading items fit.
    let mut kept = vec![[0usize; 4]; d.services.len()];
    let mut cut: [usize; 4] = [0; 4];
    for k in 0..4 {
        for (si, s) in secs.iter().enumerate() {
            let sec = &s[k];
            let mut open = true;
            for (ii, item) in sec.items.iter().enumerate() {
                let cost = tokens(item) + if ii == 0 { tokens(sec.title) + 1 } else { 0 };
                if open && used + cost <= budget {
                    used += cost;
                    kept[si][k] += 1;
                } else {
                    open = false;
                    cut[k] += 1;
                }
            }
        }
    }

    let mut out = top;
    for (si, h) in heads.iter().enumerate() {
        out.push(String::new());
        out.extend(h.iter().cloned());
        for (k, sec) in secs[si].iter().enumerate() {
            if kept[si][k] == 0 {
                continue;
            }
            out.push(String::new());
            out.push(sec.title.to_string());
            out.extend(sec.items.iter().take(kept[si][k]).cloned());
        }
    }
    let what: Vec<String> = (0..4)
        .filter(|k| cut[*k] > 0)
        .map(|k| format!("{} {}", cut[k], secs[0][k].what))
        .collect();
    if !what.is_empty() {
        out.push(String::new());
        out.push(format!(
            "_Cut to fit {max_tokens} tokens: {}. `akashic digest --service NAME` shows one service._",
            what.join(", ")
        ));
    }
    out.push(String::new());
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, d, h, 0, 0).unwrap()
    }

    pub(crate) fn sample() -> Digest {
        Digest {
            generated_at: at(20, 9),
            window_days: 90,
            services: vec![
                ServiceDigest {
                    name: "trading-bot".into(),
                    health: Health {
                        state: "restarting".into(),
                        failing: vec!["artifact: newest output is 3m old (max 2m)".into()],
                        open_incident: Some("01JQ0000000000000000000003".into()),
                    },
                    incidents_90d: 4,
                    patterns: vec![
                        Pattern {
                            pattern: "deadlock".into(),
                            count: 2,
                            last_id: "01JQ0000000000000000000003".into(),
                            last_at: at(19, 3),
                            recurring: true,
                        },
                        Pattern {
                            pattern: "rate_limit".into(),
                            count: 2,
                            last_id: "01JQ0000000000000000000001".into(),
                            last_at: at(2, 12),
                            recurring: true,
                        },
                    ],
                    recurring_open: vec![RecurringOpen {
                        pattern: "rate_limit".into(),
                        count: 2,
                        rec_id: "r-99887766".into(),
                        text: "Back off on 429 with jitter".into(),
                        open_since: at(1, 12),
                    }],
                    regressions: vec![Regression {
                        rec_id: "r-0a1b2c3d".into(),
                        text: "Add a watchdog timer around the order loop".into(),
                        pattern: "deadlock".into(),
                        closed_at: at(10, 8),
                        incident: "01JQ0000000000000000000003".into(),
                        at: at(19, 3),
                    }],
                    open_recommendations: vec![Recommendation {
                        id: "r-99887766".into(),
                        text: "Back off on 429 with jitter".into(),
                        pattern: "rate_limit".into(),
                        incidents: vec![
                            "01JQ0000000000000000000001".into(),
                            "01JQ0000000000000000000000".into(),
                        ],
                        last_at: at(2, 12),
                        first_at: at(1, 12),
                    }],
                    postmortems: vec![
                        PostmortemLine {
                            id: "01JQ0000000000000000000002".into(),
                            at: at(9, 22),
                            pattern: "deadlock".into(),
                            summary: "trading-bot stopped writing trades while its HTTP health stayed 200.".into(),
                        },
                        PostmortemLine {
                            id: "01JQ0000000000000000000001".into(),
                            at: at(2, 12),
                            pattern: "rate_limit".into(),
                            summary: "trading-bot was throttled\nby the exchange.".into(),
                        },
                    ],
                },
                ServiceDigest {
                    name: "chat-bot".into(),
                    health: Health {
                        state: "healthy".into(),
                        failing: vec![],
                        open_incident: None,
                    },
                    incidents_90d: 0,
                    patterns: vec![],
                    recurring_open: vec![],
                    regressions: vec![],
                    open_recommendations: vec![],
                    postmortems: vec![],
                },
            ],
        }
    }

    #[test]
    fn digest_markdown_snapshot() {
        insta::assert_snapshot!(render(&sample(), "fleet", DEFAULT_MAX_TOKENS));
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(
            render(&sample(), "fleet", 1500),
            render(&sample(), "fleet", 1500)
        );
    }

    #[test]
    fn a_small_budget_keeps_the_most_relevant_and_says_what_was_cut() {
        let full = render(&sample(), "fleet", DEFAULT_MAX_TOKENS);
        let small = render(&sample(), "fleet", 330);
        assert!(small.len() < full.len());
        // Heads always stay, with the recurring pattern whose recommendation is open first.
        assert!(
            small.contains("## trading-bot: restarting\n- **RECURRING**: `rate_limit` 2nd time"),
            "{small}"
        );
        assert!(small.contains("REGRESSION `deadlock`"), "{small}");
        assert!(small.contains("## chat-bot: healthy"), "{small}");
        assert!(!small.contains("### Last post-mortems"), "{small}");
        assert!(small.contains("_Cut to fit 330 tokens:"), "{small}");
        assert!(small.contains("2 post-mortem lines"), "{small}");
        assert!(tokens(&small) <= 330 + 20, "{}", tokens(&small));
    }
}
