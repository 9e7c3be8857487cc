//! `akashic ask`: answer a question from memory, citing post-mortem ids.

use super::{out, out_json, CmdResult};
use crate::cli::AskArgs;
use crate::config::Config;
use crate::core::category::Category;
use crate::memory::answer::{self, Answer};
use crate::memory::llm::{Chat, OpenAiChat};
use crate::memory::{when, Filter, Hit, Memory, MemoryError};
use std::path::Path;

pub fn run(flag: Option<&Path>, args: &AskArgs) -> CmdResult {
    let cfg = super::load_config(flag)?;
    let category = match &args.category {
        Some(c) => Some(c.parse::<Category>().map_err(anyhow::Error::from)?),
        None => None,
    };
    let now = chrono::Utc::now();
    let time = |flag: &Option<String>, end_of_day: bool| {
        flag.as_deref()
            .map(|t| when::parse_flag(t, now, end_of_day))
            .transpose()
            .map_err(anyhow::Error::from)
    };
    let filter = Filter {
        service: args.service.clone(),
        category,
        since: time(&args.since, false)?,
        until: time(&args.until, true)?,
        ..Default::default()
    };
    let rt = super::memory::runtime()?;
    let asked = rt
        .block_on(ask(&cfg, &args.question, &filter, args.k, args.no_llm))
        .map_err(anyhow::Error::from)?;
    if args.json {
        out_json(&asked.json());
    } else {
        match &asked.found {
            None => out(EMPTY),
            Some((ans, hits)) => out(render(ans, hits)),
        }
    }
    Ok(crate::exit::OK)
}

/// What `ask` found: `None` when memory holds nothing.
pub struct Asked {
    pub found: Option<(Answer, Vec<Hit>)>,
}

impl Asked {
    /// The `ask --json` object (the web's `/api/ask` and the MCP `ask` tool give the same).
    pub fn json(&self) -> serde_json::Value {
        match &self.found {
            Some((ans, hits)) => to_json(ans, hits),
            None => {
                let mut v = to_json(&empty_answer(), &[]);
                v["memory_empty"] = serde_json::Value::Bool(true);
                v
            }
        }
    }
}

/// Answers a question from memory (a model's answer when `[llm]` is configured and `no_llm` is not set).
pub async fn ask(
    cfg: &Config,
    question: &str,
    filter: &Filter,
    k: usize,
    no_llm: bool,
) -> Result<Asked, MemoryError> {
    let memory = Memory::open(cfg)?;
    let chat: Option<Box<dyn Chat>> = match (&cfg.llm, no_llm) {
        (Some(llm), false) => Some(Box::new(OpenAiChat::new(llm))),
        _ => None,
    };
    // Before loading any model: with nothing remembered there is nothing to search.
    if memory.open_store().await?.count().await? == 0 {
        return Ok(Asked { found: None });
    }
    let asked = memory.ask(question, filter, k, chrono::Utc::now()).await?;
    let ans = answer::answer(question, &asked.hits, &asked.pool, chat.as_deref()).await;
    Ok(Asked {
        found: Some((ans, asked.hits)),
    })
}

/// What `ask` says when memory holds no post-mortem at all.
pub const EMPTY: &str =
    "Memory is empty: no post-mortem has been remembered yet, so there is nothing to answer from.
It fills by itself: `akashic watch` writes a post-mortem of every incident into memory.
To start with your history, import past post-mortems, one JSON object a line
(id, service, date, category, summary, root_cause, recommendation):
  akashic memory import past-postmortems.jsonl";

fn empty_answer() -> Answer {
    Answer {
        text: EMPTY.to_string(),
        mode: "extractive".into(),
        fallback: None,
    }
}

/// The `ask --json` object of specs/cli.md.
pub fn to_json(ans: &Answer, hits: &[Hit]) -> serde_json::Value {
    let mut v = serde_json::json!({
        "answer": ans.text,
        "mode": ans.mode,
        "hits": hits.iter().map(|h| serde_json::json!({
            "id": h.doc.id,
            "service": h.doc.service,
            "date": h.doc.date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "score": (f64::from(h.score) * 1000.0).round() / 1000.0,
            "summary": h.doc.summary,
        })).collect::<Vec<_>>(),
    });
    if let Some(f) = &ans.fallback {
        v["fallback"] = serde_json::Value::String(f.clone());
    }
    v
}

/// The text answer; a model's answer is followed by the retrieved ids it could cite.
pub fn render(ans: &Answer, hits: &[Hit]) -> String {
    if ans.mode == "extractive" {
        return ans.text.trim_end().to_string();
    }
    let mut s = format!("{}\n\nRetrieved ({}):", ans.text.trim_end(), ans.mode);
    for h in hits {
        s.push_str(&format!(
            "\n  [{}] {} {} score {:.2}",
            h.doc.id,
            h.doc.service,
            h.doc.date.format("%Y-%m-%d"),
            h.score
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDoc;

    #[test]
    fn ask_json_snapshot() {
        let hits = vec![Hit {
            doc: MemoryDoc {
                confirmed_by: None,
                evidence: Vec::new(),
                id: "pm-2025-11-02-pm-bot".into(),
                service: "polymarket-bot".into(),
                date: "2025-11-02T04:10:00Z".parse().unwrap(),
                category: Category::Deadlock,
                summary: "Bot stopped quoting around 03:00.".into(),
                root_cause: "mutex held across an await".into(),
                recommendation: "never hold sync locks across await points".into(),
                incident_id: None,
            },
            score: 0.61234,
        }];
        let ans = Answer {
            text: "A mutex held across an await [pm-2025-11-02-pm-bot].".into(),
            mode: "llm:local".into(),
            fallback: None,
        };
        insta::assert_json_snapshot!(to_json(&ans, &hits));
        insta::assert_snapshot!("ask_text_llm", render(&ans, &hits));
    }
}
