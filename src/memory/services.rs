//! Service names in a question, loosely put ("the polymarket bot", "the invoicing API", "the
//! craigslist scraper"): cues derived from the names in memory and the words of their own
//! post-mortems, never from a hand-made list.

use super::flat::{Reader, Writer};
use super::lexical::{stem, tokens};
use std::collections::{HashMap, HashSet};

/// A word that points at a service, and how strongly.
#[derive(Debug, Clone, PartialEq)]
struct Cue {
    service: usize,
    weight: f32,
}

/// Words of the post-mortems: per word, how many docs of each service use it.
pub type WordServices = HashMap<String, HashMap<String, u32>>;

/// A word of its post-mortems names a service when at least this many docs use it...
const MIN_DOCS: u32 = 3;
/// ...and at least this share of them are that service's.
const MIN_SHARE: f32 = 0.85;
/// A question names a service when its cues add up to this much...
const NAMED: f32 = 0.9;
/// ...and to at least this many times the runner-up's.
const MARGIN: f32 = 2.0;

/// The services of a memory and the words that point at each.
#[derive(Debug, Clone, Default)]
pub struct Services {
    names: Vec<String>,
    cues: HashMap<String, Vec<Cue>>,
    /// The cue words that come from the names (`name_parts`), not from the post-mortems.
    of_names: HashSet<String>,
}

/// A service a question names, and the byte ranges of the words that named it.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub service: String,
    pub spans: Vec<(usize, usize)>,
}

/// The parts of a service name: `content-pipeline-v2` is `content`, `pipeline`, `v2`; and
/// adjacent parts as one word (`contentpipeline`), so `chat bot` for `support-chatbot` works
/// both ways.
fn name_parts(name: &str) -> Vec<String> {
    let mut ws: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| stem(&w.to_lowercase()))
        .collect();
    let joined: Vec<String> = ws.windows(2).map(|p| format!("{}{}", p[0], p[1])).collect();
    ws.extend(joined);
    ws.sort();
    ws.dedup();
    ws
}

/// Every name part of `names`.
fn of_names(names: &[String]) -> HashSet<String> {
    names.iter().flat_map(|n| name_parts(n)).collect()
}

impl Services {
    /// Cues from the service names (a word shared by several names weighs less: `bot`) and from
    /// the words their post-mortems use almost alone (an upstream, a host, a library).
    pub fn new(names: &[String], words: &WordServices) -> Services {
        let mut names: Vec<String> = names.to_vec();
        names.sort();
        names.dedup();
        let mut cues: HashMap<String, Vec<Cue>> = HashMap::new();
        let mut sharing: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            for w in name_parts(n) {
                sharing.entry(w).or_default().push(i);
            }
        }
        for (w, svcs) in &sharing {
            let weight = 1.0 / svcs.len() as f32;
            cues.entry(w.clone())
                .or_default()
                .extend(svcs.iter().map(|&service| Cue { service, weight }));
        }
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        for (w, per) in words {
            if sharing.contains_key(w) {
                continue;
            }
            let total: u32 = per.values().sum();
            let Some((svc, n)) = per
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            else {
                continue;
            };
            let share = *n as f32 / total as f32;
            if *n >= MIN_DOCS && share >= MIN_SHARE {
                if let Some(&service) = index.get(svc.as_str()) {
                    cues.entry(w.clone()).or_default().push(Cue {
                        service,
                        weight: share,
                    });
                }
            }
        }
        let of_names = of_names(&names);
        Services {
            names,
            cues,
            of_names,
        }
    }

    /// Writes the names and cues for the index file.
    pub fn encode<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        w.len(self.names.len())?;
        for n in &self.names {
            w.str(n)?;
        }
        w.len(self.cues.len())?;
        for (word, cues) in &self.cues {
            w.str(word)?;
            w.len(cues.len())?;
            for c in cues {
                w.u32(c.service as u32)?;
                w.u32(c.weight.to_bits())?;
            }
        }
        Ok(())
    }

    /// Reads what `encode` wrote; `None` when the bytes do not hold it whole.
    pub fn decode<R: std::io::BufRead + std::io::Seek>(r: &mut Reader<R>) -> Option<Services> {
        let names = (0..r.count(8)?)
            .map(|_| r.str())
            .collect::<Option<Vec<String>>>()?;
        let mut cues = HashMap::new();
        for _ in 0..r.count(16)? {
            let word = r.str()?;
            let list = (0..r.count(8)?)
                .map(|_| {
                    let service = r.u32()? as usize;
                    let service = (service < names.len()).then_some(service)?;
                    let weight = f32::from_bits(r.u32()?);
                    Some(Cue { service, weight })
                })
                .collect::<Option<Vec<Cue>>>()?;
            cues.insert(word, list);
        }
        let of_names = of_names(&names);
        Some(Services {
            names,
            cues,
            of_names,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The cues a question word (already stemmed) matches: the word itself, else the cue word
    /// sharing the longest start with it, at least 5 letters and all but 2 of the shorter word
    /// (`invoicing` for `invoice`, `alerter` for `alert`; `pricing` is not `price`).
    fn matches<'a>(&'a self, word: &'a str) -> (&'a str, Vec<&'a Cue>) {
        if let Some((w, c)) = self.cues.get_key_value(word) {
            return (w, c.iter().collect());
        }
        let common = |w: &str| {
            w.bytes()
                .zip(word.bytes())
                .take_while(|(a, b)| a == b)
                .count()
        };
        self.cues
            .iter()
            .map(|(w, c)| (common(w), w, c))
            .filter(|(n, w, _)| *n >= 5 && *n + 2 >= w.len().min(word.len()))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map_or((word, Vec::new()), |(_, w, c)| {
                (w.as_str(), c.iter().collect())
            })
    }

    /// The one service a question names, when its cues point clearly at one.
    pub fn find(&self, question: &str) -> Option<Named> {
        let words = word_spans(question);
        let mut score = vec![0f32; self.names.len()];
        let mut spans: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.names.len()];
        let mut seen: Vec<String> = Vec::new();
        // Each name as one lower-case word, for telling a name's own plural from a plural said.
        let squeezed: Vec<String> = self.names.iter().map(|n| squeeze(n)).collect();
        let mut consider = |w: String, span: (usize, usize)| {
            // A cue counts once, however many question words reach it (`craigslist` and
            // `craigslistblock`, the word joined with the next, both reach `craigslist`).
            let (cue, cues) = self.matches(&w);
            if seen.iter().any(|s| s == cue) {
                return;
            }
            let mut best: HashMap<usize, f32> = HashMap::new();
            for c in cues {
                let e = best.entry(c.service).or_default();
                *e = e.max(c.weight);
            }
            // Only the words of a name are cut from what is searched: a word its post-mortems
            // use (an upstream, a tool) points at the service and still says what happened.
            let of_name = self.of_names.contains(cue);
            if !best.is_empty() {
                seen.push(cue.to_string());
            }
            // A name's word in the plural ("the pipelines", "the chat bots") speaks of several
            // services, not of the one whose name has it in the singular.
            if of_name {
                let said = squeeze(&question[span.0..span.1]);
                if said.ends_with('s') {
                    best.retain(|s, _| squeezed[*s].contains(&said));
                }
            }
            for (s, wt) in best {
                score[s] += wt;
                if of_name {
                    spans[s].push(span);
                }
            }
        };
        for (i, (w, span)) in words.iter().enumerate() {
            consider(w.clone(), *span);
            if let Some((next, nspan)) = words.get(i + 1) {
                consider(format!("{w}{next}"), (span.0, nspan.1));
            }
        }
        // A name said outright beats words that only go with a service: when the question
        // names services by their names' words, the clearest of those wins; words of the
        // post-mortems alone ("box", "pandoc") name one only when two or more of them agree.
        let by_name: Vec<f32> = (0..self.names.len())
            .map(|s| if spans[s].is_empty() { 0.0 } else { score[s] })
            .collect();
        let (score, named) = if by_name.iter().any(|s| *s >= NAMED) {
            (by_name, NAMED)
        } else {
            (score, 2.0 * NAMED)
        };
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        order.sort_by(|a, b| score[*b].total_cmp(&score[*a]));
        let top = *order.first()?;
        let second = order.get(1).map_or(0.0, |s| score[*s]);
        if score[top] < named || score[top] < MARGIN * second {
            return None;
        }
        let mut merged: Vec<(usize, usize)> = Vec::new();
        spans[top].sort();
        for &(a, b) in &spans[top] {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Some(Named {
            service: self.names[top].clone(),
            spans: merged,
        })
    }
}

/// Text as one lower-case word: `Chat Bots` is `chatbots`, `support-chatbot` `supportchatbot`.
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The question's words (as the lexical index cuts them) with their byte ranges.
fn word_spans(text: &str) -> Vec<(String, (usize, usize))> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let inside = c.is_alphanumeric() || c == '_';
        match (start, inside) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                for w in tokens(&text[s..i]) {
                    out.push((w, (s, i)));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Services {
        let names: Vec<String> = [
            "polymarket-bot",
            "kalshi-arb",
            "binance-grid-bot",
            "discord-helper-bot",
            "support-chatbot",
            "invoice-api",
            "pricing-api",
            "price-tracker",
            "rental-scraper",
            "sec-filings-scraper",
            "content-pipeline-v2",
            "telegram-alerts-bot",
        ]
        .map(String::from)
        .to_vec();
        let mut words = WordServices::new();
        words.insert(
            "craigslist".into(),
            HashMap::from([("rental-scraper".into(), 18)]),
        );
        words.insert(
            "binance".into(),
            HashMap::from([("binance-grid-bot".into(), 57), ("price-tracker".into(), 1)]),
        );
        words.insert(
            "postgres".into(),
            HashMap::from([("invoice-api".into(), 9), ("pricing-api".into(), 7)]),
        );
        words.insert(
            "apartment".into(),
            HashMap::from([("rental-scraper".into(), 12)]),
        );
        words.insert(
            "edgar".into(),
            HashMap::from([("sec-filings-scraper".into(), 2)]),
        );
        Services::new(&names, &words)
    }

    fn named(q: &str) -> Option<String> {
        fleet().find(q).map(|n| n.service)
    }

    #[test]
    fn loose_names_find_their_service() {
        for (q, want) in [
            ("has the polymarket bot frozen before?", "polymarket-bot"),
            ("the invoicing API lost its db", "invoice-api"),
            ("the customer chat bot broke", "support-chatbot"),
            ("the website chatbot ran out of RAM", "support-chatbot"),
            ("the craigslist scraper got banned", "rental-scraper"),
            ("the tg alerter went quiet", "telegram-alerts-bot"),
            ("the kalshi arbitrage thing", "kalshi-arb"),
            ("the SEC scraper broke", "sec-filings-scraper"),
            ("the crypto grid thing", "binance-grid-bot"),
            ("the article pipeline", "content-pipeline-v2"),
            ("what went wrong with the price tracker", "price-tracker"),
        ] {
            assert_eq!(named(q).as_deref(), Some(want), "{q}");
        }
    }

    #[test]
    fn fleet_questions_and_unclear_words_name_no_service() {
        for q in [
            "which services have lost their postgres?",
            "which bots froze at night?",
            "what broke in the second half of last year",
            "the edgar scraper",
            "have the publishing pipelines been locked out?",
            "a jammed loop across the chat bots?",
        ] {
            assert_eq!(named(q), None, "{q}");
        }
    }

    #[test]
    fn the_words_that_named_it_are_given() {
        let q = "did the polymarket bot freeze?";
        let n = fleet().find(q).unwrap();
        let words: Vec<&str> = n.spans.iter().map(|(a, b)| &q[*a..*b]).collect();
        assert_eq!(words, ["polymarket bot"]);
    }

    #[test]
    fn words_of_its_post_mortems_point_at_a_service_but_stay_in_the_question() {
        // Two of them name it; neither is cut, since each says something about what happened.
        let q = "did craigslist block the apartment search?";
        let n = fleet().find(q).unwrap();
        assert_eq!((n.service.as_str(), n.spans.len()), ("rental-scraper", 0));
        // One alone is too often an everyday word.
        assert_eq!(named("did craigslist block us?"), None);
        // Beside a word of the name, only the name's word is cut.
        let q = "the craigslist scraper got banned";
        let n = fleet().find(q).unwrap();
        let words: Vec<&str> = n.spans.iter().map(|(a, b)| &q[*a..*b]).collect();
        assert_eq!(
            (n.service.as_str(), words),
            ("rental-scraper", vec!["scraper"])
        );
    }

    #[test]
    fn a_name_said_outright_beats_words_that_go_with_another_service() {
        // "craigslist" and "apartment" go with the rental scraper; the price tracker is named.
        assert_eq!(
            named("did the price tracker choke on craigslist apartment listings?").as_deref(),
            Some("price-tracker")
        );
    }
}
