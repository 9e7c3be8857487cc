//! Answers from retrieved post-mortems: the extractive answer, the model prompt, and the citation check.

use super::doc::Hit;
use super::llm::Chat;
use crate::core::category::Category;
use std::collections::BTreeMap;

/// Several hits that share a root-cause category.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub category: Category,
    pub ids: Vec<String>,
    pub services: Vec<String>,
    pub of: usize,
}

/// The category most hits agree on, when at least two do.
pub fn recurring_pattern(hits: &[Hit]) -> Option<Pattern> {
    let mut groups: BTreeMap<Category, Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        groups.entry(h.doc.category).or_default().push(h);
    }
    let (category, group) = groups
        .into_iter()
        .filter(|(c, g)| g.len() >= 2 && *c != Category::Unknown)
        .max_by(|a, b| {
            a.1.len()
                .cmp(&b.1.len())
                .then_with(|| b.1[0].score.total_cmp(&a.1[0].score).reverse())
        })?;
    let mut services: Vec<String> = group.iter().map(|h| h.doc.service.clone()).collect();
    services.sort();
    services.dedup();
    Some(Pattern {
        category,
        ids: group.iter().map(|h| h.doc.id.clone()).collect(),
        services,
        of: hits.len(),
    })
}

/// A hit and the other candidates like it: the same service and root-cause category.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<'a> {
    pub head: &'a Hit,
    /// Newest first.
    pub like: Vec<&'a Hit>,
}

/// Groups near-identical hits: each hit, best first, heads a group of the candidates in `pool`
/// (the hits included) of its service and category; a hit already in an earlier group is not
/// shown again.
pub fn group<'a>(hits: &'a [Hit], pool: &'a [Hit]) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut taken: Vec<&str> = Vec::new();
    for head in hits {
        if taken.contains(&head.doc.id.as_str()) {
            continue;
        }
        let mut like: Vec<&Hit> = pool
            .iter()
            .chain(hits)
            .filter(|h| {
                h.doc.id != head.doc.id
                    && h.doc.service == head.doc.service
                    && h.doc.category == head.doc.category
                    && h.doc.category != Category::Unknown
            })
            .collect();
        like.sort_by(|a, b| {
            b.doc
                .date
                .cmp(&a.doc.date)
                .then_with(|| a.doc.id.cmp(&b.doc.id))
        });
        like.dedup_by(|a, b| a.doc.id == b.doc.id);
        taken.push(&head.doc.id);
        taken.extend(like.iter().map(|h| h.doc.id.as_str()));
        groups.push(Group { head, like });
    }
    groups
}

/// The answer without a model: the best matching incidents, each with the ones like it, and
/// the recurring pattern.
pub fn extractive(question: &str, hits: &[Hit], pool: &[Hit]) -> String {
    if hits.is_empty() {
        return format!("No post-mortem in memory matches {question:?}.");
    }
    let mut out = format!("Closest past incidents for {question:?}:\n");
    for (i, g) in group(hits, pool).iter().enumerate() {
        let (h, d) = (g.head, &g.head.doc);
        out.push_str(&format!(
            "\n{}. [{}] {} on {} ({}, score {:.2})\n   what happened: {}\n   root cause: {}\n   recommendation: {}\n",
            i + 1,
            d.id,
            d.service,
            d.date.format("%Y-%m-%d"),
            d.category,
            h.score,
            d.summary,
            d.root_cause,
            d.recommendation
        ));
        if let Some(oldest) = g.like.last() {
            out.push_str(&format!(
                "   {} like this since {}: {}\n",
                g.like.len(),
                oldest.doc.date.format("%Y-%m-%d"),
                g.like
                    .iter()
                    .map(|h| format!("[{}] {}", h.doc.id, h.doc.date.format("%Y-%m-%d")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(p) = recurring_pattern(hits) {
        out.push_str(&format!(
            "\nRecurring pattern: {} of {} matching incidents are {} ({}) in {}: {}.\n",
            p.ids.len(),
            p.of,
            p.category,
            p.category.meaning(),
            p.services.join(", "),
            p.ids
                .iter()
                .map(|i| format!("[{i}]"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// The system and user messages that ask a model to answer only from `hits`.
pub fn prompt(question: &str, hits: &[Hit]) -> (String, String) {
    let system = "You answer an operator's question about past incidents of their services. Use ONLY the \
post-mortems given below; do not use outside knowledge. Cite every post-mortem you rely on by its id in \
square brackets, e.g. [pm-2025-11-02-bot]. If they do not answer the question, say so and cite nothing. \
Be brief: at most a short paragraph and a recommendation."
        .to_string();
    let mut user = format!("Question: {question}\n\nPost-mortems:\n");
    for h in hits {
        let d = &h.doc;
        user.push_str(&format!(
            "\n[{}] service: {}; date: {}; category: {}\nsummary: {}\nroot cause: {}\nrecommendation: {}\n",
            d.id,
            d.service,
            d.date.format("%Y-%m-%d"),
            d.category,
            d.summary,
            d.root_cause,
            d.recommendation
        ));
    }
    (system, user)
}

/// Why a model's answer was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejected {
    #[error("the answer cites none of the retrieved post-mortems")]
    NothingCited,
    #[error("the answer cites ids that were not retrieved: {}", .0.join(", "))]
    UnknownIds(Vec<String>),
}

/// The retrieved ids an answer cites; rejects an answer citing nothing retrieved, or citing in
/// brackets an id that was not retrieved.
pub fn check_citations(answer: &str, hits: &[Hit]) -> Result<Vec<String>, Rejected> {
    let known: Vec<&str> = hits.iter().map(|h| h.doc.id.as_str()).collect();
    let mut unknown = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        for token in after[..close].split([',', ';']).map(str::trim) {
            let looks_like_id = !token.is_empty()
                && !token.contains(char::is_whitespace)
                && token.chars().any(|c| c == '-' || c.is_ascii_digit());
            if looks_like_id && !known.contains(&token) && !unknown.iter().any(|u| u == token) {
                unknown.push(token.to_string());
            }
        }
        rest = &after[close + 1..];
    }
    if !unknown.is_empty() {
        return Err(Rejected::UnknownIds(unknown));
    }
    let cited: Vec<String> = known
        .iter()
        .filter(|id| answer.contains(**id))
        .map(|s| s.to_string())
        .collect();
    if cited.is_empty() {
        return Err(Rejected::NothingCited);
    }
    Ok(cited)
}

/// An answer and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    /// `llm:<model>` or `extractive`.
    pub mode: String,
    /// Why a configured model's answer was not used.
    pub fallback: Option<String>,
}

/// Asks the model when there is one and hits to ground it; anything unusable falls back to the
/// extractive answer.
/// `pool` holds the further candidates the extractive answer groups with the hits.
pub async fn answer(question: &str, hits: &[Hit], pool: &[Hit], chat: Option<&dyn Chat>) -> Answer {
    let extract = |fallback: Option<String>| Answer {
        text: extractive(question, hits, pool),
        mode: "extractive".into(),
        fallback,
    };
    let Some(chat) = chat else {
        return extract(None);
    };
    if hits.is_empty() {
        return extract(None);
    }
    let (system, user) = prompt(question, hits);
    match chat.complete(&system, &user).await {
        Err(e) => {
            tracing::warn!(error = %e, "model answer failed; answering extractively");
            extract(Some(crate::errors::chain(&e)))
        }
        Ok(text) => match check_citations(&text, hits) {
            Ok(_) => Answer {
                text: text.trim().to_string(),
                mode: format!("llm:{}", chat.model()),
                fallback: None,
            },
            Err(why) => {
                tracing::warn!(reason = %why, "model answer rejected; answering extractively");
                extract(Some(why.to_string()))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::doc::MemoryDoc;
    use chrono::TimeZone;

    fn hit(id: &str, service: &str, category: Category, score: f32) -> Hit {
        Hit {
            doc: MemoryDoc {
                confirmed_by: None,
                evidence: Vec::new(),
                id: id.into(),
                service: service.into(),
                date: chrono::Utc.with_ymd_and_hms(2025, 11, 2, 4, 10, 0).unwrap(),
                category,
                summary: format!("summary of {id}"),
                root_cause: format!("root cause of {id}"),
                recommendation: format!("recommendation for {id}"),
                incident_id: None,
            },
            score,
        }
    }

    #[test]
    fn citations_must_name_a_retrieved_id_and_only_those() {
        let hits = vec![
            hit("pm-1", "bot", Category::Deadlock, 0.8),
            hit("pm-2", "bot", Category::Deadlock, 0.7),
        ];
        assert_eq!(
            check_citations("It froze on a lock [pm-1].", &hits),
            Ok(vec!["pm-1".to_string()])
        );
        assert_eq!(
            check_citations("Both [pm-1, pm-2].", &hits).unwrap().len(),
            2
        );
        assert_eq!(
            check_citations("It froze on a lock.", &hits),
            Err(Rejected::NothingCited)
        );
        assert_eq!(
            check_citations("See [pm-1] and [pm-2025-99-x].", &hits),
            Err(Rejected::UnknownIds(vec!["pm-2025-99-x".into()]))
        );
        assert_eq!(
            check_citations("[see below] pm-2 says so", &hits),
            Ok(vec!["pm-2".to_string()])
        );
    }

    #[test]
    fn recurring_pattern_needs_two_that_agree() {
        let hits = vec![
            hit("a", "bot", Category::Deadlock, 0.9),
            hit("b", "api", Category::Crash, 0.8),
            hit("c", "bot", Category::Deadlock, 0.7),
        ];
        let p = recurring_pattern(&hits).unwrap();
        assert_eq!(
            (p.category, p.ids.clone(), p.services.clone(), p.of),
            (
                Category::Deadlock,
                vec!["a".into(), "c".into()],
                vec!["bot".into()],
                3
            )
        );
        assert_eq!(recurring_pattern(&hits[..2]), None);
    }

    #[test]
    fn extractive_answer_snapshot() {
        let hits = vec![
            hit("pm-a", "polymarket-bot", Category::Deadlock, 0.71),
            hit("pm-b", "polymarket-bot", Category::Deadlock, 0.64),
            hit("pm-c", "content-pipeline", Category::RateLimit, 0.40),
        ];
        let mut pool = hits.clone();
        pool.push(hit("pm-d", "polymarket-bot", Category::Deadlock, 0.30));
        pool[3].doc.date = chrono::Utc.with_ymd_and_hms(2025, 3, 14, 2, 0, 0).unwrap();
        insta::assert_snapshot!(extractive(
            "why does the bot freeze at night?",
            &hits,
            &pool
        ));
        insta::assert_snapshot!("extractive_no_hits", extractive("anything?", &[], &[]));
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;
    use crate::memory::doc::MemoryDoc;
    use crate::memory::llm::ScriptedChat;

    fn hits() -> Vec<Hit> {
        vec![Hit {
            doc: MemoryDoc {
                confirmed_by: None,
                evidence: Vec::new(),
                id: "pm-1".into(),
                service: "bot".into(),
                date: "2025-11-02T04:10:00Z".parse().unwrap(),
                category: Category::Deadlock,
                summary: "froze".into(),
                root_cause: "lock order".into(),
                recommendation: "fixed lock order".into(),
                incident_id: None,
            },
            score: 0.8,
        }]
    }

    #[tokio::test]
    async fn a_grounded_model_answer_is_used_and_sees_only_the_hits() {
        let chat = ScriptedChat::new(Ok("Lock order inversion [pm-1]."));
        let a = answer("why?", &hits(), &[], Some(&chat)).await;
        assert_eq!(
            (a.mode.as_str(), a.text.as_str(), a.fallback),
            ("llm:scripted", "Lock order inversion [pm-1].", None)
        );
        let seen = chat.seen.lock().unwrap();
        assert!(seen[0].0.contains("ONLY"));
        assert!(seen[0].1.contains("[pm-1] service: bot"));
    }

    #[tokio::test]
    async fn an_ungrounded_or_failed_model_answer_falls_back_to_extractive() {
        for (reply, why) in [
            (
                Ok("No idea."),
                "the answer cites none of the retrieved post-mortems",
            ),
            (
                Ok("[pm-9] says so"),
                "the answer cites ids that were not retrieved: pm-9",
            ),
            (
                Err("connection refused"),
                "answering model failed: connection refused",
            ),
        ] {
            let chat = ScriptedChat::new(reply);
            let a = answer("why?", &hits(), &[], Some(&chat)).await;
            assert_eq!(a.mode, "extractive");
            assert_eq!(a.fallback.as_deref(), Some(why));
            assert!(a.text.contains("[pm-1]"));
        }
    }

    #[tokio::test]
    async fn no_hits_never_asks_the_model() {
        let chat = ScriptedChat::new(Ok("[pm-1]"));
        let a = answer("why?", &[], &[], Some(&chat)).await;
        assert_eq!(a.mode, "extractive");
        assert!(chat.seen.lock().unwrap().is_empty());
    }
}
