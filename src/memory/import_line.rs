//! One line of a `memory import` file (specs/memory-import.md), read strictly: a bounded line,
//! known fields only, ids that cannot name a path, sizes and dates within sane limits.

use super::doc::MemoryDoc;
use crate::core::category::Category;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::io::BufRead;

/// Longest line read; the rest of a longer line is skipped unread into memory.
pub const MAX_LINE: usize = 64 * 1024;
/// Longest `id`, `incident_id` and `service`.
pub const MAX_ID: usize = 128;
/// Longest `summary`.
pub const MAX_SUMMARY: usize = 4 * 1024;
/// Longest `root_cause` and `recommendation`.
pub const MAX_TEXT: usize = 16 * 1024;
/// How far past now a date may be (clocks disagree, time zones get mixed up).
pub const FUTURE_SLACK: Duration = Duration::days(1);
/// The earliest date accepted: nothing akashic remembers happened before this.
pub const EARLIEST: &str = "1990-01-01T00:00:00Z";

/// The import format, exactly: any other field is an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    service: String,
    date: String,
    category: Category,
    summary: String,
    root_cause: String,
    recommendation: String,
    #[serde(default)]
    incident_id: Option<String>,
}

/// Parses one line of the import format at time `now`; blank lines are `Ok(None)`.
pub fn parse_line(text: &str, now: DateTime<Utc>) -> Result<Option<MemoryDoc>, String> {
    if text.len() > MAX_LINE {
        return Err(format!("the line is longer than {} KiB", MAX_LINE / 1024));
    }
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let l: Line = serde_json::from_str(t).map_err(|e| format!("not a valid post-mortem: {e}"))?;
    id("id", &l.id)?;
    id("service", &l.service)?;
    if let Some(i) = &l.incident_id {
        id("incident_id", i)?;
    }
    text_field("summary", &l.summary, MAX_SUMMARY)?;
    text_field("root_cause", &l.root_cause, MAX_TEXT)?;
    text_field("recommendation", &l.recommendation, MAX_TEXT)?;
    let date = date(&l.date, now)?;
    Ok(Some(MemoryDoc {
        id: l.id,
        service: l.service,
        date,
        category: l.category,
        summary: l.summary,
        root_cause: l.root_cause,
        recommendation: l.recommendation,
        incident_id: l.incident_id,
        confirmed_by: None,
        evidence: Vec::new(),
    }))
}

/// An id names files and keys: [A-Za-z0-9._-], at most `MAX_ID` bytes, not `.` or `..`.
fn id(key: &str, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("`{key}` is empty"));
    }
    if v.len() > MAX_ID {
        return Err(format!("`{key}` is {} bytes; keep it to {MAX_ID}", v.len()));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{key}` {:?} has {c:?}; use only letters, digits, '.', '_' and '-'",
            shorten(v)
        ));
    }
    if v.chars().all(|c| c == '.') {
        return Err(format!("`{key}` {v:?} is not a name"));
    }
    Ok(())
}

fn text_field(key: &str, v: &str, max: usize) -> Result<(), String> {
    if v.len() > max {
        return Err(format!(
            "`{key}` is {} bytes; keep it to {} KiB",
            v.len(),
            max / 1024
        ));
    }
    if v.contains('\0') {
        return Err(format!("`{key}` contains a NUL character"));
    }
    Ok(())
}

fn date(v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let d = DateTime::parse_from_rfc3339(v)
        .map_err(|_| {
            format!(
                "`date` {:?} is not an RFC 3339 time; write e.g. \"2025-11-02T04:10:00Z\"",
                shorten(v)
            )
        })?
        .with_timezone(&Utc);
    let earliest: DateTime<Utc> = EARLIEST.parse().expect("EARLIEST is a date");
    if d < earliest {
        return Err(format!("`date` {v:?} is before {EARLIEST}"));
    }
    if d > now + FUTURE_SLACK {
        return Err(format!(
            "`date` {v:?} is in the future (now is {})",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    Ok(d)
}

fn shorten(v: &str) -> String {
    if v.chars().count() <= 40 {
        v.to_string()
    } else {
        format!("{}...", v.chars().take(40).collect::<String>())
    }
}

/// Reads the next line into `buf` (without its newline), keeping at most `max + 1` bytes: a longer
/// line is read to its end but not kept. `Ok(None)` at the end of input.
pub fn read_bounded(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<()>> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(()));
        }
        any = true;
        let (part, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        let room = (max + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let used = done.unwrap_or(chunk.len());
        input.consume(used);
        if done.is_some() {
            return Ok(Some(()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn line(field: &str, value: &str) -> String {
        let mut v = serde_json::json!({"id": "pm-1", "service": "bot", "date": "2025-11-02T04:10:00Z",
            "category": "deadlock", "summary": "s", "root_cause": "r", "recommendation": "x"});
        v[field] = serde_json::Value::String(value.into());
        v.to_string()
    }

    fn bad(text: &str) -> String {
        parse_line(text, now()).unwrap_err()
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(&line("id", "a")).unwrap();
        v["severity"] = "high".into();
        assert!(
            bad(&v.to_string()).starts_with("not a valid post-mortem: unknown field `severity`"),
            "{}",
            bad(&v.to_string())
        );
    }

    #[test]
    fn ids_that_could_name_a_path_are_rejected() {
        assert_eq!(
            bad(&line("id", "../../etc/passwd")),
            "`id` \"../../etc/passwd\" has '/'; use only letters, digits, '.', '_' and '-'"
        );
        assert_eq!(
            bad(&line("id", "a\0b")),
            "`id` \"a\\0b\" has '\\0'; use only letters, digits, '.', '_' and '-'"
        );
        assert_eq!(bad(&line("id", "..")), "`id` \"..\" is not a name");
        assert_eq!(
            bad(&line("service", "my bot")),
            "`service` \"my bot\" has ' '; use only letters, digits, '.', '_' and '-'"
        );
        assert_eq!(
            bad(&line("id", &"a".repeat(129))),
            "`id` is 129 bytes; keep it to 128"
        );
        assert!(parse_line(&line("id", "pm-2025.11_02-A"), now())
            .unwrap()
            .is_some());
    }

    #[test]
    fn text_is_bounded() {
        assert_eq!(
            bad(&line("summary", &"s".repeat(MAX_SUMMARY + 1))),
            "`summary` is 4097 bytes; keep it to 4 KiB"
        );
        assert_eq!(
            bad(&line("root_cause", "a\0b")),
            "`root_cause` contains a NUL character"
        );
        let huge = line("recommendation", &"r".repeat(MAX_LINE));
        assert_eq!(bad(&huge), "the line is longer than 64 KiB");
    }

    #[test]
    fn dates_are_parsed_and_sane() {
        assert_eq!(
            bad(&line("date", "yesterday")),
            "`date` \"yesterday\" is not an RFC 3339 time; write e.g. \"2025-11-02T04:10:00Z\""
        );
        assert_eq!(
            bad(&line("date", "2999-01-01T00:00:00Z")),
            "`date` \"2999-01-01T00:00:00Z\" is in the future (now is 2026-01-01T00:00:00Z)"
        );
        assert_eq!(
            bad(&line("date", "1900-01-01T00:00:00Z")),
            "`date` \"1900-01-01T00:00:00Z\" is before 1990-01-01T00:00:00Z"
        );
        let d = parse_line(&line("date", "2025-12-31T20:00:00-05:00"), now())
            .unwrap()
            .unwrap();
        assert_eq!(
            d.date,
            "2026-01-01T01:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn a_long_line_is_read_to_its_end_but_not_kept() {
        let input = format!("{}\nshort\nlast", "x".repeat(10_000));
        let mut r = std::io::BufReader::with_capacity(64, input.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(read_bounded(&mut r, &mut buf, 100).unwrap(), Some(()));
        assert_eq!(buf.len(), 101);
        assert_eq!(read_bounded(&mut r, &mut buf, 100).unwrap(), Some(()));
        assert_eq!(buf, b"short");
        assert_eq!(read_bounded(&mut r, &mut buf, 100).unwrap(), Some(()));
        assert_eq!(buf, b"last");
        assert_eq!(read_bounded(&mut r, &mut buf, 100).unwrap(), None);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn now() -> DateTime<Utc> {
            "2026-01-01T00:00:00Z".parse().unwrap()
        }

        /// Objects with the format's fields (and others), each of any JSON type.
        fn lineish() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                Just("id"),
                Just("service"),
                Just("date"),
                Just("category"),
                Just("summary"),
                Just("root_cause"),
                Just("recommendation"),
                Just("incident_id"),
                Just("extra"),
            ];
            let value = prop_oneof![
                ".{0,30}".prop_map(serde_json::Value::String),
                "[a-z./-]{0,12}".prop_map(serde_json::Value::String),
                Just(serde_json::json!("deadlock")),
                Just(serde_json::json!("2025-11-02T04:10:00Z")),
                any::<i64>().prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ];
            proptest::collection::btree_map(key, value, 0..10).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                    .to_string()
            })
        }

        proptest! {
            #[test]
            fn any_text_parses_or_fails_without_panic(text in ".{0,300}") {
                let _ = parse_line(&text, now());
            }

            #[test]
            fn accepted_lines_keep_every_limit(text in lineish()) {
                if let Ok(Some(d)) = parse_line(&text, now()) {
                    for v in [&d.id, &d.service] {
                        prop_assert!(!v.is_empty() && v.len() <= MAX_ID);
                        prop_assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
                        prop_assert!(!v.contains('/') && v != "..");
                    }
                    prop_assert!(d.summary.len() <= MAX_SUMMARY);
                    prop_assert!(d.date <= now() + FUTURE_SLACK);
                }
            }

            #[test]
            fn reading_keeps_at_most_one_bounded_line(
                lens in proptest::collection::vec(0usize..5_000, 1..6),
                max in 1usize..2_000,
            ) {
                let input: Vec<u8> = lens.iter().flat_map(|n| {
                    let mut l = vec![b'x'; *n];
                    l.push(b'\n');
                    l
                }).collect();
                let mut r = std::io::BufReader::with_capacity(256, input.as_slice());
                let mut buf = Vec::new();
                let mut seen = 0;
                while read_bounded(&mut r, &mut buf, max).unwrap().is_some() {
                    prop_assert_eq!(buf.len(), lens[seen].min(max + 1));
                    prop_assert!(buf.capacity() <= 2 * (max + 1) + 256);
                    seen += 1;
                }
                prop_assert_eq!(seen, lens.len());
            }
        }
    }
}
