//! The lexical half of hybrid search: a compact in-memory BM25F index over a doc's fields.

use super::doc::{Filter, MemoryDoc};
use super::flat::{Reader, Writer};
use super::index::category_code;
use super::services::WordServices;
use crate::core::category::Category;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

/// The fields a doc is indexed by, each scored on its own and weighted (BM25F).
const FIELDS: usize = 5;
/// Weights of service, summary, root cause, recommendation and evidence. The summary and root
/// cause say what happened; the recommendation mostly repeats advice shared by many incidents.
const WEIGHT: [f32; FIELDS] = [1.0, 1.0, 1.0, 0.5, 0.5];
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Words too common to tell post-mortems apart.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "but", "by", "can", "did", "do", "does", "for", "from", "had", "has", "have", "how",
    "i", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that", "the",
    "their", "them", "then", "there", "this", "to", "up", "was", "we", "were", "what", "when",
    "which", "why", "will", "with", "you",
];

/// Lower-cased words (letters, digits and inner `_`), a plural `s` dropped, stopwords removed.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(|w| w.trim_matches('_').to_lowercase())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// A light stemmer: a plural `s` (not `ss`) is dropped from words longer than 3 letters.
pub fn stem(w: &str) -> String {
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        w[..w.len() - 1].to_string()
    } else {
        w.to_string()
    }
}

/// A doc's fields as the index reads them: service, summary, root cause, recommendation,
/// evidence.
fn field_tokens(doc: &MemoryDoc) -> [Vec<String>; FIELDS] {
    [
        tokens(&doc.service.replace('-', " ")),
        tokens(&doc.summary),
        tokens(&doc.root_cause),
        tokens(&doc.recommendation),
        tokens(&doc.evidence.join("\n")),
    ]
}

/// A term's dimension in a sparse vector: 32 bits of its FNV-1a.
fn term_index(term: &str) -> u32 {
    let h = crate::fnv::fnv1a(term.as_bytes());
    (h >> 32) as u32 ^ h as u32
}

/// Sorted by dimension, one value per dimension (two terms sharing one are summed).
fn sparse_from(weights: HashMap<u32, f32>) -> (Vec<u32>, Vec<f32>) {
    let mut v: Vec<(u32, f32)> = weights.into_iter().collect();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().unzip()
}

/// A doc as a sparse vector for a server that scores it (Qdrant, with its IDF modifier): per
/// term the BM25F field-weighted frequency, saturated (`k1`; a server knows no average field
/// length, so there is no length normalization).
pub fn sparse_doc(doc: &MemoryDoc) -> (Vec<u32>, Vec<f32>) {
    let mut tf: HashMap<&str, f32> = HashMap::new();
    let fields = field_tokens(doc);
    for (f, words) in fields.iter().enumerate() {
        for w in words {
            *tf.entry(w.as_str()).or_default() += WEIGHT[f];
        }
    }
    let mut weights: HashMap<u32, f32> = HashMap::new();
    for (term, x) in tf {
        *weights.entry(term_index(term)).or_default() += x * (K1 + 1.0) / (x + K1);
    }
    sparse_from(weights)
}

/// A question as a sparse vector: each of its terms once.
pub fn sparse_query(words: &str) -> (Vec<u32>, Vec<f32>) {
    sparse_from(tokens(words).iter().map(|t| (term_index(t), 1.0)).collect())
}

/// Reads `n` postings at byte `at` of the index file; a slot past `docs` is damage.
fn read_list(file: &File, at: u64, n: u32, docs: usize) -> std::io::Result<Postings> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0u8; n as usize * POSTING_BYTES as usize];
    file.read_exact_at(&mut bytes, at)?;
    bytes
        .chunks_exact(POSTING_BYTES as usize)
        .map(|p| {
            let slot = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            let mut tf = [0u16; FIELDS];
            for (f, b) in tf.iter_mut().zip(p[4..].chunks_exact(2)) {
                *f = u16::from_le_bytes([b[0], b[1]]);
            }
            if (slot as usize) < docs {
                Ok((slot, tf))
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a posting names a doc the index file does not hold",
                ))
            }
        })
        .collect()
}

/// What a doc carries for filtering.
#[derive(Debug, Clone)]
struct Meta {
    id: String,
    service: String,
    category: Category,
    date: chrono::DateTime<chrono::Utc>,
    len: [u16; FIELDS],
}

/// One term's postings: (doc slot, term frequency per field).
type Postings = Vec<(u32, [u16; FIELDS])>;

/// The bytes of one posting in the index file: a slot and the field frequencies.
const POSTING_BYTES: u64 = 4 + 2 * FIELDS as u64;

/// Where the postings are: in memory, or left in the index file with where each term's list
/// starts and how long it is (a question reads the lists of its own words only).
#[derive(Debug)]
enum Terms {
    Memory(HashMap<String, Postings>),
    File {
        file: Arc<File>,
        /// Where the lists start in the file.
        at: u64,
        /// Per term: offset from `at`, and how many postings.
        dict: HashMap<String, (u64, u32)>,
    },
}

impl Default for Terms {
    fn default() -> Self {
        Terms::Memory(HashMap::new())
    }
}

/// Postings per term.
#[derive(Debug, Default)]
pub struct LexicalIndex {
    docs: Vec<Option<Meta>>,
    slots: HashMap<String, usize>,
    terms: Terms,
    /// Total field lengths over live docs, for the average.
    total_len: [u64; FIELDS],
    live: usize,
}

impl LexicalIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// An index of these docs.
    pub fn from_docs(docs: &[MemoryDoc]) -> Self {
        let mut ix = Self::new();
        for d in docs {
            ix.insert(d);
        }
        ix
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Adds or replaces a doc. Postings left in the index file are read into memory first
    /// (the one error).
    pub fn upsert(&mut self, doc: &MemoryDoc) -> std::io::Result<()> {
        if let Terms::File { .. } = self.terms {
            let mut all = HashMap::new();
            self.each_list(|term, list| {
                all.insert(term.to_string(), list.into_owned());
                Ok(())
            })?;
            self.terms = Terms::Memory(all);
        }
        self.insert(doc);
        Ok(())
    }

    /// `upsert` on postings in memory.
    fn insert(&mut self, doc: &MemoryDoc) {
        self.remove(&doc.id);
        let slot = self.docs.len();
        let fields = field_tokens(doc);
        let mut tf: HashMap<&str, [u16; FIELDS]> = HashMap::new();
        let mut len = [0u16; FIELDS];
        for (f, words) in fields.iter().enumerate() {
            len[f] = words.len().min(u16::MAX as usize) as u16;
            for w in words {
                let e = tf.entry(w.as_str()).or_default();
                e[f] = e[f].saturating_add(1);
            }
        }
        let Terms::Memory(postings) = &mut self.terms else {
            unreachable!("upsert reads the postings into memory first")
        };
        for (term, counts) in tf {
            postings
                .entry(term.to_string())
                .or_default()
                .push((slot as u32, counts));
        }
        for (t, l) in self.total_len.iter_mut().zip(len) {
            *t += u64::from(l);
        }
        self.docs.push(Some(Meta {
            id: doc.id.clone(),
            service: doc.service.clone(),
            category: doc.category,
            date: doc.date,
            len,
        }));
        self.slots.insert(doc.id.clone(), slot);
        self.live += 1;
    }

    /// One term's postings, from memory or read from the index file.
    fn list(&self, term: &str) -> std::io::Result<Option<Cow<'_, Postings>>> {
        match &self.terms {
            Terms::Memory(m) => Ok(m.get(term).map(Cow::Borrowed)),
            Terms::File { file, at, dict } => match dict.get(term) {
                Some(&(off, n)) => Ok(Some(Cow::Owned(read_list(
                    file,
                    at + off,
                    n,
                    self.docs.len(),
                )?))),
                None => Ok(None),
            },
        }
    }

    /// Every term with its postings, in one order for as long as the index is not changed.
    fn each_list(
        &self,
        mut f: impl FnMut(&str, Cow<'_, Postings>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match &self.terms {
            Terms::Memory(m) => m.iter().try_for_each(|(t, l)| f(t, Cow::Borrowed(l))),
            Terms::File { file, at, dict } => dict.iter().try_for_each(|(t, &(off, n))| {
                f(
                    t,
                    Cow::Owned(read_list(file, at + off, n, self.docs.len())?),
                )
            }),
        }
    }

    /// Removes a doc if present; its postings are dropped lazily at search time.
    pub fn remove(&mut self, id: &str) {
        let Some(slot) = self.slots.remove(id) else {
            return;
        };
        if let Some(m) = self.docs[slot].take() {
            for (t, l) in self.total_len.iter_mut().zip(m.len) {
                *t -= u64::from(l);
            }
            self.live -= 1;
        }
    }

    /// Writes the live docs and their postings for the index file (removed docs are dropped
    /// and the slots renumbered).
    pub fn encode<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        let mut renumber = vec![u32::MAX; self.docs.len()];
        w.len(self.live)?;
        let mut next = 0u32;
        for (slot, m) in self.docs.iter().enumerate() {
            let Some(m) = m else { continue };
            renumber[slot] = next;
            next += 1;
            w.str(&m.id)?;
            w.str(&m.service)?;
            w.u8(category_code(m.category))?;
            w.i64(m.date.timestamp())?;
            w.u32(m.date.timestamp_subsec_nanos())?;
            for l in m.len {
                w.u16(l)?;
            }
        }
        // The dictionary (each term's offset and count of live postings), then the lists in
        // its order.
        let live = |s: &u32| renumber[*s as usize] != u32::MAX;
        let mut counts: Vec<(String, u32)> = Vec::new();
        self.each_list(|term, list| {
            let n = list.iter().filter(|(s, _)| live(s)).count();
            if n > 0 {
                counts.push((term.to_string(), n as u32));
            }
            Ok(())
        })?;
        w.len(counts.len())?;
        let mut off = 0u64;
        for (term, n) in &counts {
            w.str(term)?;
            w.u32(*n)?;
            w.u64(off)?;
            off += u64::from(*n) * POSTING_BYTES;
        }
        w.u64(off)?;
        self.each_list(|_, list| {
            for (slot, tf) in list.iter().filter(|(s, _)| live(s)) {
                w.u32(renumber[*slot as usize])?;
                for f in tf {
                    w.u16(*f)?;
                }
            }
            Ok(())
        })
    }

    /// Reads an index written by `encode`; `None` when the bytes do not hold a whole index.
    /// The postings stay in `file` (which `r` reads), read term by term as questions ask.
    pub fn decode<R: std::io::BufRead + std::io::Seek>(
        r: &mut Reader<R>,
        file: &Arc<File>,
    ) -> Option<LexicalIndex> {
        let mut ix = LexicalIndex::new();
        // Each doc takes at least 39 bytes: two lengths, a category, a date and field lengths.
        let docs = r.count(39)?;
        ix.docs.reserve(docs);
        ix.slots.reserve(docs);
        for slot in 0..docs {
            let id = r.str()?;
            let service = r.str()?;
            let category = *Category::ALL.get(r.u8()? as usize)?;
            let date = chrono::DateTime::from_timestamp(r.i64()?, r.u32()?)?;
            let mut len = [0u16; FIELDS];
            for l in &mut len {
                *l = r.u16()?;
            }
            for (t, l) in ix.total_len.iter_mut().zip(len) {
                *t += u64::from(l);
            }
            ix.slots.insert(id.clone(), slot);
            ix.docs.push(Some(Meta {
                id,
                service,
                category,
                date,
                len,
            }));
        }
        ix.live = docs;
        // A dictionary entry is a term's length, a count and an offset.
        let terms = r.count(20)?;
        let mut dict = HashMap::with_capacity(terms);
        let mut ends = Vec::with_capacity(terms);
        for _ in 0..terms {
            let term = r.str()?;
            let (n, off) = (r.u32()?, r.u64()?);
            ends.push(off.checked_add(u64::from(n) * POSTING_BYTES)?);
            dict.insert(term, (off, n));
        }
        let blob = r.u64()?;
        if ends.iter().any(|e| *e > blob) {
            return None;
        }
        let at = r.offset();
        r.skip(blob)?;
        ix.terms = Terms::File {
            file: file.clone(),
            at,
            dict,
        };
        (ix.slots.len() == docs).then_some(ix)
    }

    /// The services of the live docs.
    pub fn services(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .docs
            .iter()
            .flatten()
            .map(|m| m.service.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Per word, how many live docs of each service use it (for reading service names).
    pub fn word_services(&self) -> std::io::Result<WordServices> {
        let mut out = WordServices::new();
        self.each_list(|term, list| {
            let mut per: HashMap<String, u32> = HashMap::new();
            for (slot, _) in list.iter() {
                if let Some(m) = &self.docs[*slot as usize] {
                    *per.entry(m.service.clone()).or_default() += 1;
                }
            }
            if !per.is_empty() {
                out.insert(term.to_string(), per);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The `k` docs passing `filter` that score highest for the words of `query`, best first.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        filter: &Filter,
    ) -> std::io::Result<Vec<(&str, f32)>> {
        if self.live == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let n = self.live as f32;
        let avg: Vec<f32> = self
            .total_len
            .iter()
            .map(|t| (*t as f32 / n).max(1.0))
            .collect();
        let mut terms = tokens(query);
        terms.sort();
        terms.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for term in &terms {
            let Some(list) = self.list(term)? else {
                continue;
            };
            let live: Vec<&(u32, [u16; FIELDS])> = list
                .iter()
                .filter(|(s, _)| self.docs[*s as usize].is_some())
                .collect();
            if live.is_empty() {
                continue;
            }
            let df = live.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (slot, tf) in live {
                let m = self.docs[*slot as usize].as_ref().expect("live");
                // BM25F: field frequencies normalized by their own lengths, weighted, then saturated once.
                let mut wtf = 0.0;
                for f in 0..FIELDS {
                    if tf[f] > 0 {
                        let norm = 1.0 - B + B * f32::from(m.len[f]) / avg[f];
                        wtf += WEIGHT[f] * f32::from(tf[f]) / norm;
                    }
                }
                *scores.entry(*slot).or_default() += idf * wtf / (K1 + wtf);
            }
        }
        let mut out: Vec<(&str, f32)> = scores
            .into_iter()
            .filter_map(|(slot, s)| {
                let m = self.docs[slot as usize].as_ref()?;
                filter
                    .passes(&m.service, m.category, m.date)
                    .then_some((m.id.as_str(), s))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        out.truncate(k);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, service: &str, summary: &str, root_cause: &str) -> MemoryDoc {
        MemoryDoc {
            id: id.into(),
            service: service.into(),
            date: "2026-03-01T04:10:00Z".parse().unwrap(),
            category: Category::ConfigError,
            summary: summary.into(),
            root_cause: root_cause.into(),
            recommendation: "check the config on start".into(),
            incident_id: None,
            confirmed_by: None,
            evidence: vec![],
        }
    }

    #[test]
    fn tokens_keep_identifiers_and_drop_plurals_and_stopwords() {
        assert_eq!(
            tokens("Why was LOG_DIR not set on the edgar scrapers?"),
            ["log_dir", "not", "set", "edgar", "scraper"]
        );
        assert_eq!(stem("class"), "class");
    }

    #[test]
    fn sparse_vectors_weigh_repeated_and_summary_words_and_share_dimensions_with_questions() {
        let d = doc(
            "a",
            "edgar-scraper",
            "deadlock in the writer: writer stalled",
            "lock order",
        );
        let (idx, val) = sparse_doc(&d);
        assert!(
            idx.windows(2).all(|w| w[0] < w[1]),
            "sorted, one value each"
        );
        assert_eq!(idx.len(), val.len());
        assert!(val.iter().all(|v| *v > 0.0 && *v < K1 + 1.0));
        let at = |term: &str| {
            let i = idx.binary_search(&term_index(term)).unwrap();
            val[i]
        };
        // Twice in the summary beats once; the recommendation counts half.
        assert!(at("writer") > at("deadlock"));
        assert!(at("deadlock") > at("config"));
        // A stopword has no dimension; a question's words land on the doc's.
        assert!(idx.binary_search(&term_index("the")).is_err());
        let (q, qv) = sparse_query("why did the writers deadlock?");
        assert_eq!(qv, [1.0, 1.0]);
        assert!(q.iter().all(|i| idx.binary_search(i).is_ok()));
    }

    #[test]
    fn rare_words_rank_first_and_fields_count_apart() {
        let mut ix = LexicalIndex::new();
        ix.upsert(&doc(
            "a",
            "feed-ingester",
            "LOG_DIR was not set",
            "env var missing",
        ))
        .unwrap();
        ix.upsert(&doc(
            "b",
            "feed-ingester",
            "the job was not started",
            "the job crashed",
        ))
        .unwrap();
        ix.upsert(&doc(
            "c",
            "sec-filings-scraper",
            "job stalled",
            "job lock held",
        ))
        .unwrap();
        let hits = ix
            .search("when was LOG_DIR not set", 5, &Filter::default())
            .unwrap();
        assert_eq!(hits[0].0, "a");
        let hits = ix.search("the sec scraper", 5, &Filter::default()).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), ["c"]);
    }

    #[test]
    fn replaced_and_removed_docs_leave_no_trace() {
        let mut ix = LexicalIndex::new();
        ix.upsert(&doc("a", "s", "pandoc not found", "PATH"))
            .unwrap();
        ix.upsert(&doc("a", "s", "disk full", "logs")).unwrap();
        assert!(ix
            .search("pandoc", 5, &Filter::default())
            .unwrap()
            .is_empty());
        assert_eq!(ix.search("disk", 5, &Filter::default()).unwrap()[0].0, "a");
        ix.remove("a");
        assert!(ix.search("disk", 5, &Filter::default()).unwrap().is_empty());
        assert!(ix.is_empty());
    }

    #[test]
    fn the_filter_applies() {
        let mut ix = LexicalIndex::new();
        ix.upsert(&doc("a", "s1", "disk full", "logs")).unwrap();
        ix.upsert(&doc("b", "s2", "disk full", "logs")).unwrap();
        let f = Filter {
            service: Some("s2".into()),
            ..Default::default()
        };
        assert_eq!(
            ix.search("disk", 5, &f).unwrap(),
            [("b", ix.search("disk", 5, &f).unwrap()[0].1)]
        );
    }
}
