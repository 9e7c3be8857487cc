//! "When did the grid bot first leak handles?", "the last time the scraper was banned": a
//! question that asks for the first or the latest of a pattern. The answers of that pattern
//! (the best hit's service and category, among the best-ranked) are put in date order, so the
//! first (or the latest) of them comes first. Pure.

use super::doc::Hit;
use regex::Regex;
use std::sync::LazyLock;

/// Which end of a pattern a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    First,
    Latest,
}

/// Hits of the pattern are looked for among this many of the best.
pub const AMONG: usize = 30;

static FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:earliest|oldest|first)\b(?: (\w+))?").expect("order rule")
});
static LATEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:most recent(?:ly)?|latest|newest|last (?:time|case|incident|occurrence|one))\b",
    )
    .expect("order rule")
});

/// Words after "first" that make it a time ("the first half of last year"), not an order.
const OF_TIME: [&str; 7] = ["half", "quarter", "week", "weekend", "day", "month", "of"];

/// The end a question asks for, if it asks for one.
pub fn read(question: &str) -> Option<Order> {
    let first = FIRST.captures_iter(question).any(|c| {
        !c.get(1)
            .is_some_and(|w| OF_TIME.contains(&w.as_str().to_ascii_lowercase().as_str()))
    });
    match (first, LATEST.is_match(question)) {
        (true, false) => Some(Order::First),
        (false, true) => Some(Order::Latest),
        _ => None,
    }
}

/// Puts the hits of the best hit's pattern (its service and category, among the best
/// [`AMONG`]) first, in the order asked; the others keep their ranks after them.
pub fn apply(hits: &mut Vec<Hit>, order: Order) {
    let Some(best) = hits.first() else {
        return;
    };
    let (service, category) = (best.doc.service.clone(), best.doc.category);
    let same = |h: &Hit| h.doc.service == service && h.doc.category == category;
    let mut pattern: Vec<Hit> = Vec::new();
    let mut rest: Vec<Hit> = Vec::with_capacity(hits.len());
    for (i, h) in hits.drain(..).enumerate() {
        if i < AMONG && same(&h) {
            pattern.push(h);
        } else {
            rest.push(h);
        }
    }
    pattern.sort_by_key(|h| h.doc.date);
    if order == Order::Latest {
        pattern.reverse();
    }
    hits.extend(pattern);
    hits.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::category::Category;

    #[test]
    fn questions_that_ask_for_an_end() {
        for q in [
            "When did the grid bot first leak handles?",
            "earliest case of a jammed loop on the pm bot",
            "the first time the scraper got banned",
        ] {
            assert_eq!(read(q), Some(Order::First), "{q}");
        }
        for q in [
            "most recent time the tracker got kicked off the site?",
            "Latest case of the PATH problem",
            "the last time the backups filled the disk",
        ] {
            assert_eq!(read(q), Some(Order::Latest), "{q}");
        }
        for q in [
            "what broke in the first half of last year",
            "anything in the first week of March?",
            "what broke last week",
            "has the grid bot leaked handles before?",
        ] {
            assert_eq!(read(q), None, "{q}");
        }
    }

    fn hit(id: &str, service: &str, category: Category, date: &str) -> Hit {
        Hit::sample(id, service, category, date, 1.0)
    }

    #[test]
    fn the_best_hits_pattern_comes_first_in_date_order() {
        let ranked = || {
            vec![
                hit("b", "bot", Category::Deadlock, "2026-03-01T00:00:00Z"),
                hit("x", "api", Category::Deadlock, "2024-01-01T00:00:00Z"),
                hit("a", "bot", Category::Deadlock, "2025-01-01T00:00:00Z"),
                hit("y", "bot", Category::Crash, "2023-01-01T00:00:00Z"),
                hit("c", "bot", Category::Deadlock, "2026-09-01T00:00:00Z"),
            ]
        };
        let ids = |h: &[Hit]| {
            h.iter()
                .map(|h| h.doc.id.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut hits = ranked();
        apply(&mut hits, Order::First);
        assert_eq!(ids(&hits), "a b c x y");
        let mut hits = ranked();
        apply(&mut hits, Order::Latest);
        assert_eq!(ids(&hits), "c b a x y");
    }
}
