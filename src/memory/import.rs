//! `memory import` and `memory reindex`: parse JSON Lines, embed in batches, acknowledge durable batches.

use super::doc::MemoryDoc;
use super::error::MemoryError;
use super::facade::{embed_all, pair, without_vectors, Memory};
use super::import_line::{read_bounded, MAX_LINE};
use super::store::VectorStore;
use chrono::{DateTime, Utc};
use std::io::BufRead;

pub use super::import_line::parse_line;

/// Docs embedded and stored together; each batch is durable before it is acknowledged.
pub const BATCH: usize = 64;

/// A line of an import file that could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// One parsed, valid line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    pub line: usize,
    pub doc: MemoryDoc,
}

/// Parses a whole JSON Lines input at time `now` into valid docs and bad lines; a line longer
/// than [`MAX_LINE`] is skipped without being held in memory.
pub fn parse_all(
    mut input: impl BufRead,
    now: DateTime<Utc>,
) -> Result<(Vec<ParsedLine>, Vec<LineError>), std::io::Error> {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let mut buf = Vec::new();
    let mut n = 0;
    while read_bounded(&mut input, &mut buf, MAX_LINE)?.is_some() {
        n += 1;
        match std::str::from_utf8(&buf) {
            Err(_) if buf.len() > MAX_LINE => bad.push(LineError {
                line: n,
                message: format!("the line is longer than {} KiB", MAX_LINE / 1024),
            }),
            Err(e) => bad.push(LineError {
                line: n,
                message: format!("not UTF-8: {e}"),
            }),
            Ok(text) => match parse_line(text, now) {
                Ok(Some(doc)) => good.push(ParsedLine { line: n, doc }),
                Ok(None) => {}
                Err(message) => bad.push(LineError { line: n, message }),
            },
        }
    }
    Ok((good, bad))
}

/// Progress after a durable batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ack {
    /// Docs durable so far.
    pub done: usize,
    pub total: usize,
    /// The last input line of the batch.
    pub through_line: usize,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportReport {
    pub imported: usize,
    pub embedded: usize,
    /// Why some docs were stored without vectors, if they were.
    pub not_embedded: Option<String>,
}

/// Stores parsed docs in batches of `BATCH`; `ack` is called after each batch is durable. Without a
/// usable model the docs are stored without vectors (reindex embeds them later).
pub async fn import_docs(
    memory: &Memory,
    docs: Vec<ParsedLine>,
    mut ack: impl FnMut(Ack),
) -> Result<ImportReport, MemoryError> {
    let total = docs.len();
    let mut report = ImportReport::default();
    let mut embedder = match memory.load_embedder().await {
        Ok(e) => Some(e),
        Err(e) => {
            report.not_embedded = Some(crate::errors::chain(&e));
            None
        }
    };
    let mut store = memory.open_store().await?;
    for chunk in docs.chunks(BATCH) {
        let batch: Vec<MemoryDoc> = chunk.iter().map(|p| p.doc.clone()).collect();
        let records = match embedder.take() {
            Some(e) => {
                let model_id = e.model_id().to_string();
                let (back, res) =
                    embed_all(e, batch.iter().map(MemoryDoc::embed_text).collect()).await;
                embedder = back;
                match res {
                    Ok(v) => pair(&batch, v, &model_id),
                    Err(err) => {
                        report.not_embedded = Some(format!("{err:#}"));
                        embedder = None;
                        without_vectors(&batch)
                    }
                }
            }
            None => without_vectors(&batch),
        };
        report.embedded += records.iter().filter(|r| r.vector.is_some()).count();
        store.upsert(records).await?;
        report.imported += batch.len();
        ack(Ack {
            done: report.imported,
            total,
            through_line: chunk.last().map_or(0, |p| p.line),
        });
    }
    drop(embedder);
    super::facade::release_memory();
    Ok(report)
}

/// Re-embeds every stored doc with the current model (after forgetting vectors of another model).
pub async fn reindex(memory: &Memory, mut ack: impl FnMut(Ack)) -> Result<usize, MemoryError> {
    let mut embedder = Some(memory.load_embedder().await?);
    let mut store: Box<dyn VectorStore> = memory.open_store().await?;
    let current = embedder
        .as_ref()
        .map(|e| (e.model_id().to_string(), e.dim()));
    if store.vector_model().await? != current {
        store.reset_vectors().await?;
    }
    let docs = store.list(&Default::default()).await?;
    let total = docs.len();
    let mut done = 0;
    for batch in docs.chunks(BATCH) {
        let e = embedder
            .take()
            .ok_or_else(|| MemoryError::Task("embedder lost".into()))?;
        let model_id = e.model_id().to_string();
        let (back, res) = embed_all(e, batch.iter().map(MemoryDoc::embed_text).collect()).await;
        embedder = back;
        store.upsert(pair(batch, res?, &model_id)).await?;
        done += batch.len();
        ack(Ack {
            done,
            total,
            through_line: done,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_with_their_numbers_and_the_rest_parses() {
        let input = concat!(
            r#"{"id":"a","service":"s","date":"2025-11-02T04:10:00Z","category":"deadlock","summary":"x","root_cause":"y","recommendation":"z"}"#,
            "\n{not json\n\n",
            r#"{"id":"b","service":"s","date":"2025-11-02T04:10:00Z","category":"sleepy","summary":"x","root_cause":"y","recommendation":"z"}"#,
            "\n",
            r#"{"id":"","service":"s","date":"2025-11-02T04:10:00Z","category":"crash","summary":"x","root_cause":"y","recommendation":"z"}"#,
            "\n",
            r#"{"id":"c","service":"s","date":"2025-11-03T04:10:00Z","category":"crash","summary":"x","root_cause":"y","recommendation":"z","incident_id":"01J"}"#,
        );
        let (good, bad) = parse_all(input.as_bytes(), Utc::now()).unwrap();
        assert_eq!(
            good.iter()
                .map(|p| (p.line, p.doc.id.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "a"), (6, "c")]
        );
        assert_eq!(
            bad.iter().map(|b| b.line).collect::<Vec<_>>(),
            vec![2, 4, 5]
        );
        assert!(
            bad[1].message.contains("unknown variant `sleepy`"),
            "{}",
            bad[1].message
        );
        assert_eq!(bad[2].message, "`id` is empty");
    }

    #[test]
    fn a_line_past_the_limit_is_reported_and_the_next_line_still_parses() {
        let ok = r#"{"id":"a","service":"s","date":"2025-11-02T04:10:00Z","category":"deadlock","summary":"x","root_cause":"y","recommendation":"z"}"#;
        let input = format!("{}\n{ok}\n", "\u{e9}".repeat(MAX_LINE));
        let (good, bad) = parse_all(input.as_bytes(), Utc::now()).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].line, 2);
        assert_eq!(
            bad,
            vec![LineError {
                line: 1,
                message: "the line is longer than 64 KiB".into()
            }]
        );
    }
}
