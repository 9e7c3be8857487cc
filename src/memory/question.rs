//! How a question is read before searching: the service it names, its time phrases, and the
//! words left to search for. Pure: the moment asked and the services are given.

use super::doc::{Filter, Hit};
use super::services::Services;
use super::when;
use crate::core::category::Category;
use chrono::{DateTime, Utc};

/// What a question was read as.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// The restrictions the question states (service, times); flags are added by the caller.
    pub filter: Filter,
    /// The question without the words that named the service or a time: what to search for.
    pub rest: String,
}

/// Reads `question`, asked at `now`, against the services in memory.
pub fn read(question: &str, now: DateTime<Utc>, services: &Services) -> Reading {
    let w = when::read(question, now);
    let mut cut = w.spans.clone();
    let mut filter = Filter {
        since: w.since,
        until: w.until,
        hours: w.hours,
        weekdays: w.weekdays,
        ..Default::default()
    };
    if let Some(named) = services.find(question) {
        filter.service = Some(named.service);
        cut.extend(named.spans);
    }
    cut.sort();
    let mut rest = String::with_capacity(question.len());
    let mut at = 0;
    for (a, b) in cut {
        if a >= at {
            rest.push_str(&question[at..a]);
            rest.push(' ');
            at = b;
        } else {
            at = at.max(b);
        }
    }
    rest.push_str(&question[at.min(question.len())..]);
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    Reading { filter, rest }
}

/// The category of most of the question's nearest post-mortems (their similarities summed),
/// when the question names none: a question about a kind of incident lands among its kind.
pub fn vote(nearest: &[Hit]) -> Option<Category> {
    let mut weight: Vec<(Category, f32)> = Vec::new();
    for h in nearest.iter().take(VOTERS) {
        match weight.iter_mut().find(|(c, _)| *c == h.doc.category) {
            Some((_, w)) => *w += h.score,
            None => weight.push((h.doc.category, h.score)),
        }
    }
    weight.sort_by(|a, b| b.1.total_cmp(&a.1));
    match weight.as_slice() {
        [(c, _)] => Some(*c),
        [(c, first), (_, second), ..] if first > second => Some(*c),
        _ => None,
    }
}

/// How many of the nearest post-mortems vote.
pub const VOTERS: usize = 5;

/// A filter of the question narrowed by the caller's own (flags win where both say something).
pub fn narrow(read: &Filter, given: &Filter) -> Filter {
    Filter {
        service: given.service.clone().or_else(|| read.service.clone()),
        category: given.category.or(read.category),
        since: given.since.or(read.since),
        until: given.until.or(read.until),
        hours: given.hours.or(read.hours),
        weekdays: if given.weekdays.is_empty() {
            read.weekdays.clone()
        } else {
            given.weekdays.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::services::WordServices;

    fn hit(i: usize, category: Category, score: f32) -> Hit {
        let id = format!("pm-{i}");
        Hit::sample(
            &id,
            "polymarket-bot",
            category,
            "2026-01-01T00:00:00Z",
            score,
        )
    }

    #[test]
    fn the_nearest_post_mortems_vote_for_their_category_by_summed_similarity() {
        use Category::*;
        // One near deadlock against two farther leaks: the leaks' 0.8 outweighs its 0.6.
        let near = [
            hit(1, Deadlock, 0.6),
            hit(2, ResourceExhaustion, 0.5),
            hit(3, Crash, 0.45),
            hit(4, ResourceExhaustion, 0.3),
            hit(5, Deadlock, 0.1),
            // Past the voters: these do not count.
            hit(6, Crash, 0.05),
            hit(7, Crash, 0.05),
        ];
        assert_eq!(vote(&near), Some(ResourceExhaustion));
        // A tie names nothing; nothing near names nothing.
        assert_eq!(vote(&[hit(1, Crash, 0.5), hit(2, Network, 0.5)]), None);
        assert_eq!(vote(&[]), None);
        assert_eq!(vote(&near[..1]), Some(Deadlock));
    }

    #[test]
    fn a_question_becomes_a_filter_and_the_words_left_to_search() {
        let services = Services::new(
            &["polymarket-bot".to_string(), "kalshi-arb".to_string()],
            &WordServices::new(),
        );
        let now = "2026-12-01T12:00:00Z".parse().unwrap();
        let r = read(
            "did the polymarket bot freeze on a lock in March 2025 at night?",
            now,
            &services,
        );
        assert_eq!(r.filter.service.as_deref(), Some("polymarket-bot"));
        assert_eq!(
            r.filter.since,
            Some("2025-03-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(r.filter.hours, Some((22, 6)));
        assert_eq!(r.rest, "did the freeze on a lock ?");
        let given = Filter {
            service: Some("kalshi-arb".into()),
            ..Default::default()
        };
        let f = narrow(&r.filter, &given);
        assert_eq!(
            (f.service.as_deref(), f.hours),
            (Some("kalshi-arb"), Some((22, 6)))
        );
    }
}
