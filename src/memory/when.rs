//! Time in a question ("last week", "in March", "at night", "since 2026-03-01") and in the
//! `ask --since/--until` flags, read relative to the moment the question is asked.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use regex::Regex;
use std::sync::LazyLock;

/// What the time phrases of a question restrict, and which byte ranges of it they were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct When {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Hours of the day (UTC), `(from, to)` with `to` exclusive; `(22, 6)` wraps.
    pub hours: Option<(u32, u32)>,
    pub weekdays: Vec<Weekday>,
    /// The phrases read, so the rest of the question can be searched without them.
    pub spans: Vec<(usize, usize)>,
}

/// An `--since`/`--until` value that is neither RFC 3339, a date nor an age.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot read {0:?} as a time; use RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01) or an age (30d)")]
pub struct BadTime(pub String);

/// Reads a flag value: RFC 3339, a date (its first second, or its last for `--until`) or an
/// age before `now` (`30d`, `12h`, `2w`).
pub fn parse_flag(s: &str, now: DateTime<Utc>, end_of_day: bool) -> Result<DateTime<Utc>, BadTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(if end_of_day {
            day_start(d) + Duration::days(1) - Duration::seconds(1)
        } else {
            day_start(d)
        });
    }
    if let Some(w) = s.strip_suffix('w').and_then(|n| n.parse::<i64>().ok()) {
        return Ok(now - Duration::weeks(w));
    }
    humantime::parse_duration(s)
        .ok()
        .and_then(|d| Duration::from_std(d).ok())
        .map(|d| now - d)
        .ok_or_else(|| BadTime(s.to_string()))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// An hour: a number with am/pm, or midnight/noon; two groups (the hour, the half of day).
const HOUR: &str = r"(\d{1,2}|midnight|noon|midday)(?::00)?\s*(am|pm|a\.m\.|p\.m\.)?(?:\s*utc)?";

const MONTH: &str = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)";

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    MONTHS
        .iter()
        .position(|m| w.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn ymd(y: i32, m: u32, d: u32) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(y, m, d).map(day_start)
}

/// The first instant of a month, `m` counted from 1 and allowed past 12.
fn month_start(y: i32, m: u32) -> DateTime<Utc> {
    let (y, m) = (y + ((m - 1) / 12) as i32, (m - 1) % 12 + 1);
    ymd(y, m, 1).expect("valid month")
}

/// `[from, to)` as an inclusive range ending a second before `to`.
fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (from, to - Duration::seconds(1))
}

/// The year a month named without one falls in: this year unless that month is still ahead.
fn year_for_month(m: u32, now: DateTime<Utc>) -> i32 {
    if m <= now.month() {
        now.year()
    } else {
        now.year() - 1
    }
}

/// The year of the latest `d` `m` that is not after `now` (a day later this month is last year's).
fn year_for_day(m: u32, d: u32, now: DateTime<Utc>) -> i32 {
    if (m, d) <= (now.month(), now.day()) {
        now.year()
    } else {
        now.year() - 1
    }
}

/// An hour of the clock as written: "10pm", "6 am", "22", "midnight", "noon".
fn hour_of(h: &str, half: Option<&str>) -> Option<u32> {
    let h = h.to_ascii_lowercase();
    let n: u32 = match h.as_str() {
        "midnight" => return Some(0),
        "noon" | "midday" => return Some(12),
        n => n.parse().ok()?,
    };
    match half
        .map(|h| h.replace('.', "").to_ascii_lowercase())
        .as_deref()
    {
        Some("am") if n <= 12 => Some(n % 12),
        Some("pm") if n <= 12 => Some(n % 12 + 12),
        None if n < 24 => Some(n),
        _ => None,
    }
}

fn num(word: &str) -> Option<i64> {
    word.parse().ok().or_else(|| {
        [
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve",
        ]
        .iter()
        .position(|w| *w == word)
        .map(|i| i as i64 + 1)
    })
}

struct Rule {
    re: Regex,
    /// The window a match means, given the captures and the moment asked.
    read: fn(&regex::Captures, DateTime<Utc>) -> Option<Window>,
}

enum Window {
    Span(DateTime<Utc>, DateTime<Utc>),
    Since(DateTime<Utc>),
    Until(DateTime<Utc>),
    Hours(u32, u32),
    Weekend,
}

fn year_word(w: Option<&str>, now: DateTime<Utc>) -> Option<i32> {
    match w.map(str::trim) {
        None | Some("") => None,
        Some("last year") => Some(now.year() - 1),
        Some("this year") => Some(now.year()),
        Some(y) => y.parse().ok(),
    }
}

/// The first month of a season (meteorological, northern hemisphere).
fn season_start(season: &str) -> u32 {
    match season.to_ascii_lowercase().as_str() {
        "spring" => 3,
        "summer" => 6,
        "autumn" | "fall" => 9,
        _ => 12,
    }
}

fn month_window(m: u32, year: Option<i32>, now: DateTime<Utc>) -> Window {
    let y = year.unwrap_or_else(|| year_for_month(m, now));
    let (a, b) = range(month_start(y, m), month_start(y, m + 1));
    Window::Span(a, b)
}

/// From the start of the month in capture 1 (of the year in capture 2, else its latest):
/// "since the upgrade in June", "after the June 2025 migration".
fn since_month(c: &regex::Captures, now: DateTime<Utc>) -> Option<Window> {
    let m = month_of(&c[1])?;
    let y = year_word(c.get(2).map(|x| x.as_str()), now).unwrap_or_else(|| year_for_month(m, now));
    Some(Window::Since(month_start(y, m)))
}

/// Rules in order; earlier rules claim their words first, so "since the upgrade in June" is
/// read as a start, not as the month of June.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let r = |p: &str| Regex::new(&format!("(?i){p}")).expect("time rule");
    vec![
        // An exact day: "on the 26th of April 2025", "on February 26, 2025", "on 2025-04-26".
        Rule {
            re: r(&format!(
                r"\b(?:on )?(?:the )?(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{MONTH},? (\d{{4}})\b"
            )),
            read: |c, _| {
                let d = ymd(c[3].parse().ok()?, month_of(&c[2])?, c[1].parse().ok()?)?;
                Some(Window::Span(
                    d,
                    d + Duration::days(1) - Duration::seconds(1),
                ))
            },
        },
        Rule {
            re: r(&format!(
                r"\b(?:on )?{MONTH} (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})\b"
            )),
            read: |c, _| {
                let d = ymd(c[3].parse().ok()?, month_of(&c[1])?, c[2].parse().ok()?)?;
                Some(Window::Span(
                    d,
                    d + Duration::days(1) - Duration::seconds(1),
                ))
            },
        },
        // "since the upgrade in June", "after the June migration", "since the start of October",
        // "since October", "since 2026-03-01", "since March 3, 2025".
        Rule {
            re: r(r"\b(?:since|after) (\d{4}-\d{2}-\d{2})\b"),
            read: |c, _| {
                Some(Window::Since(day_start(
                    NaiveDate::parse_from_str(&c[1], "%Y-%m-%d").ok()?,
                )))
            },
        },
        Rule {
            re: r(r"\b(?:before|until) (\d{4}-\d{2}-\d{2})\b"),
            read: |c, _| {
                Some(Window::Until(day_start(
                    NaiveDate::parse_from_str(&c[1], "%Y-%m-%d").ok()?,
                )))
            },
        },
        Rule {
            re: r(&format!(
                r"\b(?:since|after) (?:the (?:[a-z]+ ){{0,2}}|(?:[a-z]+ )?)(?:upgrade|migration|update|switch|change|move|release|deploy)s? (?:in|of) {MONTH}(?: (\d{{4}}))?"
            )),
            read: since_month,
        },
        // "after we moved the summarizer to batch calls in March": a start, not the month.
        Rule {
            re: r(&format!(
                r"\b(?:since|after) (?:we|i|they) [a-z0-9' -]{{1,60}}? (?:in|of) {MONTH}(?: (\d{{4}}))?\b"
            )),
            read: since_month,
        },
        Rule {
            re: r(&format!(
                r"\b(?:since|after) (?:the )?{MONTH}(?: (\d{{4}}))? (?:[a-z]+ )?(?:upgrade|migration|update|switch|change|move|release|deploy)s?\b"
            )),
            read: since_month,
        },
        // "since the 10th of May", "from 3 March 2025", "before the 20th of Nov".
        Rule {
            re: r(&format!(
                r"\b(since|after|from|before|until|till) (?:the )?(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{MONTH}(?:,? (\d{{4}}))?\b"
            )),
            read: |c, now| {
                let (m, d) = (month_of(&c[3])?, c[2].parse().ok()?);
                let y = year_word(c.get(4).map(|x| x.as_str()), now)
                    .unwrap_or_else(|| year_for_day(m, d, now));
                let day = ymd(y, m, d)?;
                Some(match c[1].to_ascii_lowercase().as_str() {
                    "before" | "until" | "till" => Window::Until(day - Duration::seconds(1)),
                    _ => Window::Since(day),
                })
            },
        },
        // "before the summer", "until spring": up to the start of the latest such season.
        Rule {
            re: r(r"\b(?:before|until|till) (?:the )?(spring|summer|autumn|fall|winter)\b"),
            read: |c, now| {
                let m = season_start(&c[1]);
                let y = year_for_month(m, now);
                Some(Window::Until(month_start(y, m) - Duration::seconds(1)))
            },
        },
        Rule {
            re: r(&format!(
                r"\bsince (?:the (?:start|beginning) of )?{MONTH}(?:,? (\d{{1,2}})(?:st|nd|rd|th)?)?(?:,? (\d{{4}}))?\b"
            )),
            read: |c, now| {
                let m = month_of(&c[1])?;
                let d = c.get(2).and_then(|d| d.as_str().parse().ok()).unwrap_or(1);
                let y = year_word(c.get(3).map(|x| x.as_str()), now)
                    .unwrap_or_else(|| year_for_day(m, d, now));
                Some(Window::Since(ymd(y, m, d)?))
            },
        },
        // Relative windows.
        Rule {
            re: r(r"\byesterday\b"),
            read: |_, now| {
                let d = day_start(now.date_naive()) - Duration::days(1);
                Some(Window::Span(
                    d,
                    d + Duration::days(1) - Duration::seconds(1),
                ))
            },
        },
        Rule {
            re: r(
                r"\b(?:in |over |during )?(?:the )?(?:last|past|previous) (?:half[- ]a[- ]year|half[- ]year)\b",
            ),
            read: |_, now| Some(Window::Since(now - Duration::days(182))),
        },
        Rule {
            re: r(
                r"\b(?:in |over |during )?(?:the )?(?:last|past|previous) (\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|few|couple of) (day|week|month|year)s?\b",
            ),
            read: |c, now| {
                let n = match &c[1] {
                    "few" => 3,
                    "couple of" => 2,
                    w => num(w)?,
                };
                let back = match &c[2] {
                    "day" => Duration::days(n),
                    "week" => Duration::weeks(n),
                    "month" => Duration::days(30 * n),
                    _ => Duration::days(365 * n),
                };
                Some(Window::Since(now - back))
            },
        },
        Rule {
            re: r(r"\b(?:in |over |during )?(?:the )?(?:last|past|previous) (day|week|month)\b"),
            read: |c, now| {
                let today = day_start(now.date_naive());
                Some(match &c[1] {
                    "day" => Window::Since(now - Duration::days(1)),
                    "week" => {
                        let monday =
                            today - Duration::days(i64::from(now.weekday().num_days_from_monday()));
                        let (a, b) = range(monday - Duration::weeks(1), monday);
                        Window::Span(a, b)
                    }
                    _ => {
                        let this = month_start(now.year(), now.month());
                        let prev = if now.month() == 1 {
                            month_start(now.year() - 1, 12)
                        } else {
                            month_start(now.year(), now.month() - 1)
                        };
                        let (a, b) = range(prev, this);
                        Window::Span(a, b)
                    }
                })
            },
        },
        Rule {
            re: r(r"\bthis (week|month)\b"),
            read: |c, now| {
                let today = day_start(now.date_naive());
                Some(Window::Since(match &c[1] {
                    "week" => {
                        today - Duration::days(i64::from(now.weekday().num_days_from_monday()))
                    }
                    _ => month_start(now.year(), now.month()),
                }))
            },
        },
        // Halves, quarters and seasons, of this year, last year or a named year.
        Rule {
            re: r(r"\b(?:in )?the (first|second) half of (last year|this year|\d{4})\b"),
            read: |c, now| {
                let y = year_word(Some(&c[2]), now)?;
                let m = if c[1].eq_ignore_ascii_case("first") {
                    1
                } else {
                    7
                };
                let (a, b) = range(month_start(y, m), month_start(y, m + 6));
                Some(Window::Span(a, b))
            },
        },
        Rule {
            re: r(r"\b(?:in )?q([1-4])(?: of)?( last year| this year| \d{4})?\b"),
            read: |c, now| {
                let q: u32 = c[1].parse().ok()?;
                let m = 3 * (q - 1) + 1;
                let y = year_word(c.get(2).map(|x| x.as_str()), now)
                    .unwrap_or_else(|| year_for_month(m + 2, now).min(now.year()));
                let (a, b) = range(month_start(y, m), month_start(y, m + 3));
                Some(Window::Span(a, b))
            },
        },
        Rule {
            re: r(
                r"\b(?:this|last|over the|during the|in the|in) (spring|summer|autumn|fall|winter)(?: of)?( last year| this year| \d{4})?\b",
            ),
            read: |c, now| {
                let m = season_start(&c[1]);
                let last = c.get(0).is_some_and(|w| w.as_str().starts_with("last"));
                let y = match year_word(c.get(2).map(|x| x.as_str()), now) {
                    Some(y) => y,
                    None if m == 12 => now.year() - 1,
                    None => year_for_month(m + 2, now) - i32::from(last),
                };
                let (a, b) = range(month_start(y, m), month_start(y, m + 3));
                Some(Window::Span(a, b))
            },
        },
        Rule {
            re: r(r"\b(?:around |at |over )?christmas( last year| this year| \d{4})?\b"),
            read: |c, now| {
                let y = year_word(c.get(1).map(|x| x.as_str()), now).unwrap_or_else(|| {
                    if now.month() == 12 && now.day() >= 24 {
                        now.year()
                    } else {
                        now.year() - 1
                    }
                });
                Some(Window::Span(
                    ymd(y, 12, 18)?,
                    ymd(y + 1, 1, 2)? - Duration::seconds(1),
                ))
            },
        },
        // A month: "in March 2025", "back in July last year", "in March", "last March".
        Rule {
            re: r(&format!(
                r"\b(?:back )?(?:in |during |of )?{MONTH}(,? \d{{4}}| last year| this year)\b"
            )),
            read: |c, now| {
                let m = month_of(&c[1])?;
                Some(month_window(
                    m,
                    year_word(Some(c[2].trim_start_matches(',')), now),
                    now,
                ))
            },
        },
        Rule {
            re: r(&format!(r"\blast {MONTH}\b")),
            read: |c, now| {
                let m = month_of(&c[1])?;
                let y = if m < now.month() {
                    now.year()
                } else {
                    now.year() - 1
                };
                Some(month_window(m, Some(y), now))
            },
        },
        Rule {
            re: r(&format!(
                r"\b(?:back )?(?:in|during) (?:early |late |mid-?)?{MONTH}\b"
            )),
            read: |c, now| Some(month_window(month_of(&c[1])?, None, now)),
        },
        // Years.
        Rule {
            re: r(r"\b(?:in |during )?(last year|this year)\b"),
            read: |c, now| {
                let y = year_word(Some(&c[1]), now)?;
                if y == now.year() {
                    Some(Window::Since(month_start(y, 1)))
                } else {
                    let (a, b) = range(month_start(y, 1), month_start(y + 1, 1));
                    Some(Window::Span(a, b))
                }
            },
        },
        Rule {
            re: r(r"\b(?:in|during) (20\d\d)\b"),
            read: |c, _| {
                let y: i32 = c[1].parse().ok()?;
                let (a, b) = range(month_start(y, 1), month_start(y + 1, 1));
                Some(Window::Span(a, b))
            },
        },
        // Time of day and week: "between 10pm and 6am UTC", "from 23:00 to 5am", "after midnight
        // but before 6", then the words for night.
        Rule {
            re: r(&format!(
                r"\b(?:between|from) {HOUR} (?:and|to|till|until|-) {HOUR}"
            )),
            read: |c, _| {
                let to_half = c.get(4).map(|x| x.as_str());
                let from = hour_of(&c[1], c.get(2).map(|x| x.as_str()).or(to_half))?;
                let to = hour_of(&c[3], to_half)?;
                (from != to).then_some(Window::Hours(from, to))
            },
        },
        Rule {
            re: r(&format!(r"\bafter {HOUR},? (?:but |and )?before {HOUR}")),
            read: |c, _| {
                let from = hour_of(&c[1], c.get(2).map(|x| x.as_str()))?;
                let to = hour_of(&c[3], c.get(4).map(|x| x.as_str()))?;
                (from != to).then_some(Window::Hours(from, to))
            },
        },
        // Time of day and week.
        Rule {
            re: r(
                r"\b(?:at night|overnight|over night|in the middle of the night|night-?time|during the night|late at night|in the night)\b",
            ),
            read: |_, _| Some(Window::Hours(22, 6)),
        },
        Rule {
            re: r(r"\b(?:on|over|at|during) (?:the )?weekends?\b"),
            read: |_, _| Some(Window::Weekend),
        },
    ]
});

/// Reads every time phrase of `question` asked at `now`. Phrases that contradict an earlier
/// one are ignored: the first reading of a start or an end wins.
pub fn read(question: &str, now: DateTime<Utc>) -> When {
    let mut w = When::default();
    let mut claimed: Vec<(usize, usize)> = Vec::new();
    for rule in RULES.iter() {
        for c in rule.re.captures_iter(question) {
            let m = c.get(0).expect("whole match");
            if claimed.iter().any(|(a, b)| m.start() < *b && *a < m.end()) {
                continue;
            }
            let Some(window) = (rule.read)(&c, now) else {
                continue;
            };
            match window {
                Window::Span(a, b) => {
                    w.since.get_or_insert(a);
                    w.until.get_or_insert(b);
                }
                Window::Since(a) => {
                    w.since.get_or_insert(a);
                }
                Window::Until(b) => {
                    w.until.get_or_insert(b);
                }
                Window::Hours(a, b) => {
                    w.hours.get_or_insert((a, b));
                }
                Window::Weekend => {
                    if w.weekdays.is_empty() {
                        w.weekdays = vec![Weekday::Sat, Weekday::Sun];
                    }
                }
            }
            claimed.push((m.start(), m.end()));
        }
    }
    claimed.sort();
    w.spans = claimed;
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The moment of the blind question set: Tuesday, 2026-12-01 12:00 UTC.
    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn span(q: &str) -> (Option<String>, Option<String>) {
        let w = read(q, now());
        let f = |d: Option<DateTime<Utc>>| d.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string());
        (f(w.since), f(w.until))
    }

    fn both(a: &str, b: &str) -> (Option<String>, Option<String>) {
        (Some(a.to_string()), Some(b.to_string()))
    }

    #[test]
    fn calendar_phrases_are_read_relative_to_the_moment_asked() {
        let cases = [
            (
                "what broke last week?",
                both("2026-11-23 00:00:00", "2026-11-29 23:59:59"),
            ),
            (
                "what broke last month?",
                both("2026-11-01 00:00:00", "2026-11-30 23:59:59"),
            ),
            (
                "anything yesterday",
                both("2026-11-30 00:00:00", "2026-11-30 23:59:59"),
            ),
            (
                "in March",
                both("2026-03-01 00:00:00", "2026-03-31 23:59:59"),
            ),
            (
                "back in March last year",
                both("2025-03-01 00:00:00", "2025-03-31 23:59:59"),
            ),
            (
                "in March 2025",
                both("2025-03-01 00:00:00", "2025-03-31 23:59:59"),
            ),
            (
                "back in July last year?",
                both("2025-07-01 00:00:00", "2025-07-31 23:59:59"),
            ),
            ("in Q1", both("2026-01-01 00:00:00", "2026-03-31 23:59:59")),
            (
                "this spring",
                both("2026-03-01 00:00:00", "2026-05-31 23:59:59"),
            ),
            (
                "over the summer",
                both("2026-06-01 00:00:00", "2026-08-31 23:59:59"),
            ),
            (
                "in the first half of last year",
                both("2025-01-01 00:00:00", "2025-06-30 23:59:59"),
            ),
            (
                "the second half of last year",
                both("2025-07-01 00:00:00", "2025-12-31 23:59:59"),
            ),
            (
                "in 2025",
                both("2025-01-01 00:00:00", "2025-12-31 23:59:59"),
            ),
            (
                "on the 26th of April 2025",
                both("2025-04-26 00:00:00", "2025-04-26 23:59:59"),
            ),
            (
                "on February 26, 2025?",
                both("2025-02-26 00:00:00", "2025-02-26 23:59:59"),
            ),
            (
                "around christmas last year",
                both("2025-12-18 00:00:00", "2026-01-01 23:59:59"),
            ),
        ];
        for (q, want) in cases {
            assert_eq!(span(q), want, "{q}");
        }
    }

    #[test]
    fn starts_are_open_ended() {
        let since = |q: &str| {
            read(q, now())
                .since
                .map(|d| d.format("%Y-%m-%d").to_string())
        };
        assert_eq!(since("since October"), Some("2026-10-01".into()));
        assert_eq!(
            since("since the start of October?"),
            Some("2026-10-01".into())
        );
        assert_eq!(
            since("since the upgrade in June"),
            Some("2026-06-01".into())
        );
        assert_eq!(
            since("Since the library upgrade in August"),
            Some("2026-08-01".into())
        );
        assert_eq!(since("after the June migration"), Some("2026-06-01".into()));
        assert_eq!(
            since("since the big library upgrade in august"),
            Some("2026-08-01".into())
        );
        let w = read(
            "how often after we moved the summarizer to batch calls in march?",
            now(),
        );
        assert_eq!((w.since, w.until), (Some(t("2026-03-01T00:00:00Z")), None));
        assert_eq!(since("since 2026-03-01"), Some("2026-03-01".into()));
        assert_eq!(since("in the last two weeks"), Some("2026-11-17".into()));
        assert_eq!(since("over the past 3 months"), Some("2026-09-02".into()));
        assert_eq!(since("this year"), Some("2026-01-01".into()));
        assert_eq!(read("since the upgrade in June", now()).until, None);
    }

    #[test]
    fn night_and_weekends_are_clock_filters_and_nightly_is_not() {
        let w = read("what breaks at night on weekends", now());
        assert_eq!(
            (w.hours, w.weekdays.clone()),
            (Some((22, 6)), vec![Weekday::Sat, Weekday::Sun])
        );
        assert_eq!(
            read("in the middle of the night", now()).hours,
            Some((22, 6))
        );
        assert_eq!(read("overnight", now()).hours, Some((22, 6)));
        assert_eq!(read("the nightly backups", now()), When::default());
        assert_eq!(
            read("has the grid bot leaked memory?", now()),
            When::default()
        );
    }

    #[test]
    fn days_without_a_year_are_the_latest_such_day_and_seasons_bound() {
        let since = |q: &str| {
            read(q, now())
                .since
                .map(|d| d.format("%Y-%m-%d").to_string())
        };
        let until = |q: &str| {
            read(q, now())
                .until
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        };
        assert_eq!(since("since the 10th of may"), Some("2026-05-10".into()));
        assert_eq!(since("since the 20th of Nov?"), Some("2026-11-20".into()));
        // The 5th of December is still ahead on the 1st: last year's.
        assert_eq!(
            since("since the 5th of december"),
            Some("2025-12-05".into())
        );
        assert_eq!(since("since December 5"), Some("2025-12-05".into()));
        assert_eq!(since("from 3 March 2025"), Some("2025-03-03".into()));
        assert_eq!(
            until("before the 20th of nov"),
            Some("2026-11-19 23:59:59".into())
        );
        assert_eq!(since("over the past half year"), Some("2026-06-02".into()));
        assert_eq!(since("in the last half-year"), Some("2026-06-02".into()));
        let w = read("earlier this year, before summer", now());
        assert_eq!(
            (w.since, w.until),
            (
                Some(t("2026-01-01T00:00:00Z")),
                Some(t("2026-05-31T23:59:59Z"))
            )
        );
    }

    #[test]
    fn hour_ranges_are_clock_filters() {
        let hours = |q: &str| read(q, now()).hours;
        assert_eq!(hours("between 10pm and 6am UTC?"), Some((22, 6)));
        assert_eq!(hours("between midnight and 6am UTC"), Some((0, 6)));
        assert_eq!(hours("after midnight UTC but before 6?"), Some((0, 6)));
        assert_eq!(hours("from 8 to 11 pm"), Some((20, 23)));
        assert_eq!(hours("from 23 to 5"), Some((23, 5)));
        assert_eq!(hours("between 9 a.m. and noon"), Some((9, 12)));
        // Not a clock: numbers that are not hours, or the same hour twice.
        assert_eq!(hours("between 30 and 40 retries"), None);
        assert_eq!(hours("from 6am to 6am"), None);
    }

    #[test]
    fn spans_name_the_phrases_read() {
        let q = "did the pm bot freeze in March 2025 at night?";
        let w = read(q, now());
        let words: Vec<&str> = w.spans.iter().map(|(a, b)| &q[*a..*b]).collect();
        assert_eq!(words, ["in March 2025", "at night"]);
    }

    #[test]
    fn flags_take_rfc3339_dates_and_ages() {
        assert_eq!(
            parse_flag("2026-03-01", now(), false),
            Ok(t("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            parse_flag("2026-03-01", now(), true),
            Ok(t("2026-03-01T23:59:59Z"))
        );
        assert_eq!(
            parse_flag("2026-03-01T05:00:00+01:00", now(), false),
            Ok(t("2026-03-01T04:00:00Z"))
        );
        assert_eq!(
            parse_flag("30d", now(), false),
            Ok(t("2026-11-01T12:00:00Z"))
        );
        assert_eq!(
            parse_flag("2w", now(), false),
            Ok(t("2026-11-17T12:00:00Z"))
        );
        assert_eq!(
            parse_flag("March", now(), false).unwrap_err().to_string(),
            "cannot read \"March\" as a time; use RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01) or an age (30d)"
        );
    }
}
