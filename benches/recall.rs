//! Recall harness: the blind memory set (tests/data/memory-blind) imported with the real MiniLM
//! model into a temp embedded store; every question of a half is asked with its `asked_at` as now.
//!
//! Two question sets over the same corpus, each written blind by a different hand:
//! `tests/data/memory-blind` (213 questions) and `tests/data/memory-blind2` (262).
//!
//! `cargo bench --bench recall` scores both halves of both sets; `-- dev` scores the dev halves
//! only (for tuning: a test half is scored only once tuning is over), `-- blind2` one set.

use akashic::memory::import::{import_docs, ParsedLine};
use akashic::memory::index::CANDIDATES_PER_HIT;
use akashic::memory::{
    embedder_factory_for, locate, normalize, EmbeddedStore, Embedder, FastEmbedder, Filter, Memory,
    MemoryDoc, StoreSpec,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Deserialize)]
struct Question {
    id: String,
    question: String,
    relevant: Vec<String>,
    asked_at: DateTime<Utc>,
}

/// The question sets, each a directory of `questions.dev.json` and `questions.test.json`.
const SETS: [&str; 2] = ["memory-blind", "memory-blind2"];

fn data(set: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(set)
        .join(name)
}

/// recall@5 counts the relevant ids in the top 5 over min(5, |relevant|): a question with 40
/// answers is fully served by 5 of them. MRR is 1 / the rank of the first relevant hit.
fn score(hits: &[String], relevant: &[String]) -> (f64, f64) {
    let top: Vec<&String> = hits.iter().take(5).collect();
    let found = top.iter().filter(|h| relevant.contains(h)).count();
    let recall = found as f64 / relevant.len().min(5) as f64;
    let rr = top
        .iter()
        .position(|h| relevant.contains(h))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64);
    (recall, rr)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pick = |all: &[&'static str]| -> Vec<&'static str> {
        let named: Vec<&'static str> = all
            .iter()
            .copied()
            .filter(|a| args.iter().any(|x| x == a.trim_start_matches("memory-")))
            .collect();
        if named.is_empty() {
            all.to_vec()
        } else {
            named
        }
    };
    let (halves, sets) = (pick(&["dev", "test"]), pick(&SETS));
    let verbose = std::env::var("RECALL_VERBOSE").is_ok();
    let paths = locate::locate_from_env(None)
        .unwrap_or_else(|e| panic!("the recall harness needs the real embedding model: {e:#}"));
    // RECALL_STATE_DIR keeps the imported store between runs (a store already holding the
    // corpus is not imported again).
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = std::env::var_os("RECALL_STATE_DIR")
        .map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let memory = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: state_dir.clone(),
        },
        embedder_factory_for(&paths),
    );
    let docs: Vec<ParsedLine> = std::fs::read_to_string(data(SETS[0], "corpus.jsonl"))
        .expect("tests/data/memory-blind/corpus.jsonl")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| ParsedLine {
            line: i + 1,
            doc: serde_json::from_str::<MemoryDoc>(l).expect("corpus line"),
        })
        .collect();
    let kind: std::collections::HashMap<String, String> = docs
        .iter()
        .map(|p| {
            let d = &p.doc;
            (
                d.id.clone(),
                format!("{}/{}", d.service, d.category.as_str()),
            )
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let n = docs.len();
    let held = rt
        .block_on(async { memory.open_store().await?.count().await })
        .unwrap();
    if held != n {
        let report = rt.block_on(import_docs(&memory, docs, |_| {})).unwrap();
        assert_eq!(report.embedded, n, "{:?}", report.not_embedded);
    }
    eprintln!(
        "{n} post-mortems in memory after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut asked: Vec<String> = Vec::new();
    for (set, half) in sets
        .iter()
        .flat_map(|s| halves.iter().map(move |h| (*s, *h)))
    {
        let questions: Vec<Question> = serde_json::from_str(
            &std::fs::read_to_string(data(set, &format!("questions.{half}.json"))).unwrap(),
        )
        .unwrap();
        asked.extend(questions.iter().map(|q| q.question.clone()));
        let (mut recall, mut mrr) = (0.0, 0.0);
        let started = Instant::now();
        for q in &questions {
            let asked = rt
                .block_on(memory.ask(&q.question, &Filter::default(), 5, q.asked_at))
                .unwrap();
            let hits: Vec<String> = asked.hits.into_iter().map(|h| h.doc.id).collect();
            let (r, rr) = score(&hits, &q.relevant);
            if verbose && half == "dev" {
                // What the relevant docs are and what was found instead, as service/category.
                let kinds = |ids: &[String]| {
                    let mut k: Vec<String> =
                        ids.iter().filter_map(|id| kind.get(id)).cloned().collect();
                    k.sort();
                    k.dedup();
                    k.join(",")
                };
                eprintln!(
                    "{} r@5 {r:.2} rr {rr:.2} | {} | filter {:?} | wanted {} | got {}",
                    q.id,
                    q.question,
                    asked.filter,
                    kinds(&q.relevant),
                    hits.iter()
                        .map(|h| kind.get(h).cloned().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            recall += r;
            mrr += rr;
        }
        let n = questions.len() as f64;
        println!(
            "{set} {half}: {} questions, recall@5 {:.3}, MRR {:.3} ({:.0} ms per question)",
            questions.len(),
            recall / n,
            mrr / n,
            started.elapsed().as_secs_f64() * 1000.0 / n
        );
    }
    drop(memory);
    bit_scan(&rt, &state_dir, &paths, &asked);
}

/// How much of the exact dense top-k the sign-bit scan keeps on these real MiniLM vectors, with
/// the pool the store gives it per hit (`CANDIDATES_PER_HIT`; large stores also get at least
/// `MIN_CANDIDATES`, so at 100k a top-10 has 5x this pool).
fn bit_scan(
    rt: &tokio::runtime::Runtime,
    state_dir: &Path,
    paths: &locate::ModelPaths,
    questions: &[String],
) {
    let store = rt
        .block_on(EmbeddedStore::open(
            state_dir,
            std::time::Duration::from_secs(10),
        ))
        .unwrap();
    let index = store.index().unwrap();
    let mut model = FastEmbedder::load(paths).unwrap();
    for k in [5, 10] {
        let pool = k * CANDIDATES_PER_HIT;
        let (mut kept, mut total) = (0, 0);
        for q in questions {
            let mut v = model.embed(std::slice::from_ref(q)).unwrap().remove(0);
            normalize(&mut v);
            let exact = index.search_exact(&v, k, &Filter::default()).unwrap();
            let got = index
                .search_binary(&v, k, &Filter::default(), pool)
                .unwrap();
            kept += got.iter().filter(|g| exact.contains(g)).count();
            total += exact.len();
        }
        println!(
            "sign-bit scan, top-{k} from a pool of {pool} of {} rows: keeps {kept} of {total} exact hits ({:.3})",
            index.len(),
            kept as f64 / total as f64
        );
    }
}
