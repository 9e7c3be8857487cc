//! Memory: paraphrase recall on real embeddings, kill -9 durability, bad input, Qdrant over gRPC, `ask`.

mod fake_qdrant;
mod real_qdrant;
mod strict;

use akashic::core::category::Category;
use akashic::memory::{
    locate, EmbeddedStore, Embedder, FailingEmbedder, Filter, HashEmbedder, Memory, MemoryDoc,
    MemoryError, QdrantSpec, QdrantStore, Record, StoreSpec, Vector, VectorStore,
};
use chrono::{TimeZone, Utc};
use fake_qdrant::FakeQdrant;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_akashic");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/memory")
        .join(name)
}

fn corpus() -> Vec<MemoryDoc> {
    std::fs::read_to_string(data("corpus.jsonl"))
        .expect("tests/data/memory/corpus.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line"))
        .collect()
}

fn hash_memory(state_dir: &Path, dim: usize) -> Memory {
    Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: state_dir.to_path_buf(),
        },
        Arc::new(move || Ok(Box::new(HashEmbedder::new(dim)) as Box<dyn Embedder>)),
    )
}

/// The real model; a missing model fails the test with the setup command in the message.
fn real_memory(state_dir: &Path) -> Memory {
    let paths = locate::locate_from_env(None)
        .unwrap_or_else(|e| panic!("this test needs the real embedding model: {e:#}"));
    Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: state_dir.to_path_buf(),
        },
        Arc::new(move || {
            Ok(Box::new(akashic::memory::FastEmbedder::load(&paths)?) as Box<dyn Embedder>)
        }),
    )
}

fn synthetic(i: usize) -> MemoryDoc {
    let services = [
        "polymarket-bot",
        "content-pipeline-v2",
        "orders-api",
        "nightly-etl",
    ];
    MemoryDoc {
        confirmed_by: None,
        evidence: Vec::new(),
        id: format!("pm-syn-{i:05}"),
        service: services[i % services.len()].to_string(),
        date: Utc
            .timestamp_opt(1_700_000_000 + i as i64 * 3600, 0)
            .unwrap(),
        category: Category::ALL[i % Category::ALL.len()],
        summary: format!(
            "synthetic incident {i}: worker {} stalled after {} retries",
            i % 17,
            i % 5
        ),
        root_cause: format!("queue {} backed up behind lock {}", i % 11, i % 7),
        recommendation: format!("bound queue {} and add a timeout to lock {}", i % 11, i % 7),
        incident_id: None,
    }
}

fn write_jsonl(path: &Path, docs: impl Iterator<Item = MemoryDoc>) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for d in docs {
        writeln!(f, "{}", serde_json::to_string(&d).unwrap()).unwrap();
    }
    f.flush().unwrap();
}

/// Log lines without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `akashic memory migrate --to qdrant` with `cfg`, whatever it answers.
fn run_migrate_to_qdrant(cfg: &Path) -> std::process::Output {
    Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "memory",
            "migrate",
            "--to",
            "qdrant",
        ])
        .output()
        .unwrap()
}

/// Runs `akashic memory migrate --to qdrant` with `cfg`; it must succeed; returns what it printed.
fn migrate_to_qdrant(cfg: &Path) -> String {
    let out = run_migrate_to_qdrant(cfg);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("akashic.toml");
    std::fs::write(
        &p,
        format!(
            "[daemon]\nstate_dir = {:?}\n{extra}",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    p
}

/// Polls `f` until it returns Some or the shared timeout passes.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Mean recall@5 and MRR of `questions` over `docs`.
async fn recall_at_5(
    memory: &Memory,
    docs: &[MemoryDoc],
    questions: &[serde_json::Value],
) -> (f64, f64) {
    let out = memory.remember(docs.to_vec()).await.unwrap();
    assert_eq!(out.embedded, docs.len(), "{:?}", out.not_embedded);
    let (mut recall, mut mrr) = (0.0, 0.0);
    for q in questions {
        let relevant: Vec<&str> = q["relevant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let hits = memory
            .similar(q["question"].as_str().unwrap(), &Filter::default(), 5)
            .await
            .unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.doc.id.as_str()).collect();
        recall +=
            relevant.iter().filter(|r| ids.contains(r)).count() as f64 / relevant.len() as f64;
        mrr += ids
            .iter()
            .position(|i| relevant.contains(i))
            .map_or(0.0, |p| 1.0 / (p + 1) as f64);
    }
    (
        recall / questions.len() as f64,
        mrr / questions.len() as f64,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paraphrase_recall_at_5_on_real_embeddings() {
    let tmp = tempfile::tempdir().unwrap();
    let questions: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(data("questions.json")).unwrap()).unwrap();
    let docs = corpus();
    assert!(
        docs.len() >= 50 && questions.len() >= 15,
        "corpus too small"
    );
    let (recall, mrr) =
        recall_at_5(&real_memory(&tmp.path().join("real")), &docs, &questions).await;
    let (base_recall, base_mrr) = recall_at_5(
        &hash_memory(&tmp.path().join("hash"), 384),
        &docs,
        &questions,
    )
    .await;
    eprintln!(
        "paraphrase retrieval over {} questions: all-MiniLM-L6-v2 recall@5 = {recall:.3}, MRR = {mrr:.3}; hashed bag-of-words baseline recall@5 = {base_recall:.3}, MRR = {base_mrr:.3}",
        questions.len()
    );
    assert!(
        recall >= 0.70,
        "recall@5 {recall:.3} is below the 0.70 floor"
    );
    assert!(
        recall > base_recall,
        "real embeddings ({recall:.3}) must beat word hashing ({base_recall:.3})"
    );
}

#[test]
fn kill_dash_9_mid_import_keeps_every_acknowledged_doc_and_no_duplicates() {
    // 10,000 docs through the real binary. Embedding 10k texts with the real model takes minutes on
    // 2 cores, so this test (only this one) selects the deterministic test embedder with
    // AKASHIC_TEST_EMBEDDER=hash: what is under test is the store's durability, not the model.
    const N: usize = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "");
    let file = tmp.path().join("big.jsonl");
    write_jsonl(&file, (0..N).map(synthetic));
    let spawn = || {
        Command::new(BIN)
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "memory",
                "import",
                file.to_str().unwrap(),
            ])
            .env("AKASHIC_TEST_EMBEDDER", "hash")
            .env("RUST_LOG", "warn,akashic=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn akashic")
    };
    let mut child = spawn();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let line = strip_ansi(&line);
            if let Some(n) = line
                .split("through_line=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
            {
                let _ = tx.send(n);
            }
        }
    });
    let first = poll(Duration::from_secs(120), || {
        rx.try_iter().filter(|n| *n >= 1_000).max()
    });
    let first = first.expect("no acknowledged batch past line 1000 within 120s");
    child.kill().expect("kill -9"); // SIGKILL on unix
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let acked = rx.try_iter().chain([first]).max().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "import finished before the kill ({status}); the kill must land mid-import"
    );
    assert!(acked < N, "every doc was acknowledged before the kill");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(&tmp.path().join("state"), Duration::from_secs(10))
            .await
            .unwrap();
        let count = store.count().await.unwrap();
        assert!(
            count >= acked,
            "{count} docs stored but {acked} were acknowledged"
        );
        assert!(count < N, "the kill landed after the end ({count} stored)");
        for i in 0..acked {
            let want = synthetic(i);
            assert_eq!(
                store.get(&want.id).await.unwrap().as_ref(),
                Some(&want),
                "acknowledged doc {} lost",
                want.id
            );
        }
        assert_eq!(
            store.vector_count(),
            count,
            "every stored doc has exactly one vector row"
        );
        eprintln!("kill -9 after {acked} acknowledged docs: {count} durable on reopen");
    });

    // Re-import everything: the same ids replace, nothing is duplicated.
    let out = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "memory",
            "import",
            file.to_str().unwrap(),
        ])
        .env("AKASHIC_TEST_EMBEDDER", "hash")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The import prepared the search index: the file is there, and current (the search below
    // reads it instead of rewriting it).
    let idx = tmp.path().join("state/memory.idx");
    let ino = || {
        std::fs::metadata(&idx)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
    };
    let prepared = ino().expect("memory import leaves the search index file");
    rt.block_on(async {
        let store = EmbeddedStore::open(&tmp.path().join("state"), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(store.count().await.unwrap(), N);
        assert_eq!(store.vector_count(), N);
        let ids: std::collections::BTreeSet<String> = store
            .list(&Filter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids.len(), N);
        let probe = synthetic(4321);
        let q = Vector {
            model_id: "test-hash-384".into(),
            values: HashEmbedder::new(384).vector(&probe.embed_text()),
        };
        let hits = store.search(&q, 10, &Filter::default()).await.unwrap();
        assert_eq!(hits.iter().filter(|h| h.doc.id == probe.id).count(), 1);
        assert_eq!(hits[0].doc.id, probe.id);
    });
    assert_eq!(
        ino(),
        Some(prepared),
        "the search rebuilt a current index file"
    );
}

#[test]
fn malformed_jsonl_line_is_reported_with_its_number_and_the_rest_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "");
    let file = tmp.path().join("in.jsonl");
    let docs = corpus();
    let mut text = String::new();
    for (i, d) in docs.iter().take(6).enumerate() {
        if i == 2 {
            text.push_str("{\"id\": \"broken\", \"service\": \n");
        }
        text.push_str(&serde_json::to_string(d).unwrap());
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let out = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "memory",
            "import",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("in.jsonl:3: skipped: not a valid post-mortem"),
        "{stderr}"
    );
    assert!(stdout.contains("imported 6 post-mortems"), "{stdout}");
    assert!(stdout.contains("1 bad lines skipped"), "{stdout}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(&tmp.path().join("state"), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(store.count().await.unwrap(), 6);
        for d in docs.iter().take(6) {
            assert_eq!(store.get(&d.id).await.unwrap().as_ref(), Some(d));
        }
    });
}

#[tokio::test]
async fn wrong_dimension_vector_is_refused_and_nothing_stored_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let docs: Vec<MemoryDoc> = (0..20).map(synthetic).collect();
    let mem384 = hash_memory(tmp.path(), 384);
    assert_eq!(mem384.remember(docs.clone()).await.unwrap().embedded, 20);
    {
        let mut store = mem384.open_store().await.unwrap();
        let bad = Record {
            doc: synthetic(100),
            vector: Some(Vector {
                model_id: "test-hash-384".into(),
                values: vec![0.1; 128],
            }),
        };
        let err = store.upsert(vec![bad]).await.unwrap_err();
        assert!(
            matches!(
                err,
                MemoryError::DimensionMismatch {
                    expected: 384,
                    got: 128,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "vector for pm-syn-00100 has 128 dimensions but the memory holds 384-dimensional vectors; mixing dimensions is refused (run `akashic memory reindex` after a model change)"
        );
        assert_eq!(store.count().await.unwrap(), 20);
        assert!(
            store.get("pm-syn-00100").await.unwrap().is_none(),
            "a refused batch must not be half-written"
        );
    }
    // A different model (128 dims) remembering into the same memory: the doc is kept, without a vector.
    let mem128 = hash_memory(tmp.path(), 128);
    let out = mem128.remember(vec![synthetic(101)]).await.unwrap();
    assert_eq!((out.stored, out.embedded), (1, 0));
    assert!(out.not_embedded.unwrap().contains("reindex"));
    let store = mem384.open_store().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 21);
    assert_eq!(
        store
            .docs_without_vector()
            .await
            .unwrap()
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        ["pm-syn-00101"]
    );
    drop(store);
    let hits = mem384
        .similar(&synthetic(7).embed_text(), &Filter::default(), 1)
        .await
        .unwrap();
    assert_eq!(hits[0].doc.id, "pm-syn-00007");
}

#[tokio::test]
async fn missing_model_dir_is_one_clear_error_and_remember_keeps_the_doc_for_reindex() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("no-models");
    let roots = vec![empty.clone()];
    let missing = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: tmp.path().join("state"),
        },
        Arc::new(move || {
            let paths = locate::locate_in(&roots, None)?;
            Ok(Box::new(akashic::memory::FastEmbedder::load(&paths)?) as Box<dyn Embedder>)
        }),
    );
    let err = missing
        .similar("anything", &Filter::default(), 3)
        .await
        .unwrap_err()
        .to_string();
    let expected = format!(
        "embedding model not found: {} is missing (searched {}); run `bash scripts/setup-models.sh`",
        empty.join("all-minilm-l6-v2").join("model.onnx").display(),
        empty.join("all-minilm-l6-v2").display()
    );
    assert_eq!(err, expected);
    let docs: Vec<MemoryDoc> = corpus().into_iter().take(3).collect();
    let out = missing
        .remember(docs.clone())
        .await
        .expect("remember never loses a doc to a missing model");
    assert_eq!((out.stored, out.embedded), (3, 0));
    assert_eq!(out.not_embedded.as_deref(), Some(expected.as_str()));
    // Once a model is there, reindex embeds them.
    let fixed = hash_memory(&tmp.path().join("state"), 384);
    let n = akashic::memory::import::reindex(&fixed, |_| {})
        .await
        .unwrap();
    assert_eq!(n, 3);
    let store = fixed.open_store().await.unwrap();
    assert!(store.docs_without_vector().await.unwrap().is_empty());
    drop(store);
    let hits = fixed
        .similar(&docs[1].embed_text(), &Filter::default(), 1)
        .await
        .unwrap();
    assert_eq!(hits[0].doc, docs[1]);
}

#[tokio::test]
async fn failing_embedder_stores_docs_without_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: tmp.path().to_path_buf(),
        },
        Arc::new(|| Ok(Box::new(FailingEmbedder) as Box<dyn Embedder>)),
    );
    let out = mem.remember(vec![synthetic(1)]).await.unwrap();
    assert_eq!(
        out.not_embedded.as_deref(),
        Some("embedding failed: the failing test embedder always fails")
    );
    assert_eq!(
        mem.list(&Filter::default()).await.unwrap(),
        vec![synthetic(1)]
    );
}

/// Same scores in the same order, and the same ids wherever the score is not tied with the cut-off.
fn assert_same_ranking(q: &[(String, i32)], e: &[(String, i32)], f: &Filter) {
    assert_eq!(
        q.iter().map(|x| x.1).collect::<Vec<_>>(),
        e.iter().map(|x| x.1).collect::<Vec<_>>(),
        "scores with {f:?}"
    );
    let cut = q.last().map_or(i32::MIN, |x| x.1);
    let above = |v: &[(String, i32)]| {
        v.iter()
            .filter(|x| x.1 > cut)
            .map(|x| x.0.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(above(q), above(e), "ids with {f:?}");
}

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn unreachable_qdrant_is_a_clear_error_naming_the_url_and_nothing_is_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let url = closed_port_url();
    let spec = QdrantSpec {
        url: url.clone(),
        collection: "akashic".into(),
        api_key_env: None,
        state_dir: tmp.path().to_path_buf(),
    };
    let err = QdrantStore::connect(&spec)
        .await
        .err()
        .expect("connect must fail")
        .to_string();
    assert!(
        err.starts_with(&format!("qdrant at {url} is unreachable: ")),
        "{err}"
    );
    let mem = Memory::with_parts(
        StoreSpec::Qdrant(spec),
        Arc::new(|| Ok(Box::new(HashEmbedder::new(384)) as Box<dyn Embedder>)),
    );
    let err = mem.remember(vec![synthetic(1)]).await.unwrap_err();
    assert!(
        matches!(err, MemoryError::QdrantUnreachable { .. }),
        "the caller must learn the doc was not stored: {err}"
    );
    // Through the binary: `ask` fails with the url, exit 1.
    let cfg = config(
        tmp.path(),
        &format!("[memory]\nbackend = \"qdrant\"\nurl = \"{url}\"\n"),
    );
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "ask", "why?", "--no-llm"])
        .env("AKASHIC_TEST_EMBEDDER", "hash")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("error: qdrant at {url} is unreachable")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_backend_matches_the_embedded_store_over_grpc() {
    let (fake, addr) = FakeQdrant::start(Some("sekret")).await;
    std::env::set_var("AKASHIC_IT_QDRANT_KEY", "sekret");
    let tmp = tempfile::tempdir().unwrap();
    let spec = QdrantSpec {
        url: format!("http://{addr}"),
        collection: "fleet".into(),
        api_key_env: Some("AKASHIC_IT_QDRANT_KEY".into()),
        state_dir: tmp.path().join("q"),
    };
    let embedder = || Arc::new(|| Ok(Box::new(HashEmbedder::new(384)) as Box<dyn Embedder>));
    let qmem = Memory::with_parts(StoreSpec::Qdrant(spec.clone()), embedder());
    let emem = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: tmp.path().join("e"),
        },
        embedder(),
    );
    let docs: Vec<MemoryDoc> = (0..300).map(synthetic).collect();
    qmem.remember(docs.clone()).await.unwrap();
    emem.remember(docs.clone()).await.unwrap();

    let coll = fake
        .collection("fleet")
        .expect("collection created on first use");
    assert_eq!(
        (coll.dim, coll.distance),
        (384, qdrant_client::qdrant::Distance::Cosine as i32)
    );
    // A dense vector and a sparse one for the words, each named: hybrid search in Qdrant.
    assert_eq!(
        (coll.dense_name.as_deref(), coll.sparse.as_slice()),
        (Some("dense"), ["lexical".to_string()].as_slice())
    );
    let indexed: Vec<&str> = coll.indexes.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(indexed, ["id", "service", "category", "date_ts"]);
    assert_eq!(coll.points.len(), 300);

    let filters = [
        Filter::default(),
        Filter {
            service: Some("orders-api".into()),
            ..Default::default()
        },
        Filter {
            category: Some(Category::Deadlock),
            since: Some(synthetic(50).date),
            until: Some(synthetic(250).date),
            ..Default::default()
        },
    ];
    for f in &filters {
        for probe in [3usize, 77, 201] {
            let text = synthetic(probe).summary;
            let q: Vec<(String, i32)> = qmem
                .similar(&text, f, 8)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.doc.id, (h.score * 1e4) as i32))
                .collect();
            let e: Vec<(String, i32)> = emem
                .similar(&text, f, 8)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.doc.id, (h.score * 1e4) as i32))
                .collect();
            assert!(!q.is_empty());
            assert_same_ranking(&q, &e, f);
        }
        assert_eq!(
            qmem.list(f).await.unwrap(),
            emem.list(f).await.unwrap(),
            "list with {f:?}"
        );
    }
    let mut store = qmem.open_store().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 300);
    assert_eq!(
        store.get("pm-syn-00042").await.unwrap(),
        Some(synthetic(42))
    );
    assert!(store.delete("pm-syn-00042").await.unwrap());
    assert_eq!(store.get("pm-syn-00042").await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 299);
    // Same id again replaces.
    let mut changed = synthetic(7);
    changed.summary = "replaced".into();
    drop(store);
    qmem.remember(vec![changed.clone()]).await.unwrap();
    let store = qmem.open_store().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 299);
    assert_eq!(store.get("pm-syn-00007").await.unwrap(), Some(changed));
    // A wrong-dimension vector is refused before it reaches the server.
    let mem64 = Memory::with_parts(
        StoreSpec::Qdrant(spec.clone()),
        Arc::new(|| Ok(Box::new(HashEmbedder::new(64)) as Box<dyn Embedder>)),
    );
    let out = mem64.remember(vec![synthetic(900)]).await.unwrap();
    assert_eq!(out.embedded, 0);
    assert_eq!(fake.collection("fleet").unwrap().points.len(), 299);
    let store = qmem.open_store().await.unwrap();
    assert_eq!(
        store.docs_without_vector().await.unwrap()[0].id,
        "pm-syn-00900"
    );
    assert_eq!(store.count().await.unwrap(), 300);

    // A wrong api key is refused by the server, and named.
    std::env::set_var("AKASHIC_IT_QDRANT_KEY", "wrong");
    let err = QdrantStore::connect(&spec).await.err().unwrap().to_string();
    assert!(err.contains("invalid api key"), "{err}");
    std::env::set_var("AKASHIC_IT_QDRANT_KEY", "sekret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_migrate_copies_the_embedded_memory_into_qdrant() {
    let (fake, addr) = FakeQdrant::start(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        &format!(
            "[memory]\nbackend = \"qdrant\"\nurl = \"http://{addr}\"\ncollection = \"moved\"\n"
        ),
    );
    let emem = hash_memory(&tmp.path().join("state"), 384);
    let docs: Vec<MemoryDoc> = (0..130).map(synthetic).collect();
    emem.remember(docs.clone()).await.unwrap();
    let cfg2 = cfg.clone();
    let stdout = tokio::task::spawn_blocking(move || migrate_to_qdrant(&cfg2))
        .await
        .unwrap();
    assert!(
        stdout.starts_with("copied 130 post-mortems (130 with vectors) from "),
        "{stdout}"
    );
    let coll = fake.collection("moved").unwrap();
    assert_eq!(coll.points.len(), 130);
    // The copy answers like the original.
    let qmem = Memory::with_parts(
        StoreSpec::Qdrant(QdrantSpec {
            url: format!("http://{addr}"),
            collection: "moved".into(),
            api_key_env: None,
            state_dir: tmp.path().join("state"),
        }),
        Arc::new(|| Ok(Box::new(HashEmbedder::new(384)) as Box<dyn Embedder>)),
    );
    let q = qmem
        .similar(&docs[9].embed_text(), &Filter::default(), 3)
        .await
        .unwrap();
    let e = emem
        .similar(&docs[9].embed_text(), &Filter::default(), 3)
        .await
        .unwrap();
    assert_eq!(
        q.iter().map(|h| &h.doc).collect::<Vec<_>>(),
        e.iter().map(|h| &h.doc).collect::<Vec<_>>()
    );
    assert_eq!(q[0].doc, docs[9]);
}

#[test]
fn ask_json_has_the_shape_of_the_cli_spec_on_the_real_model() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "");
    locate::locate_from_env(None)
        .unwrap_or_else(|e| panic!("this test needs the real embedding model: {e:#}"));
    let out = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "memory",
            "import",
            data("corpus.jsonl").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "ask",
            "why does the trading bot freeze at night?",
            "-k",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["mode"], "extractive");
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    for h in hits {
        let keys: Vec<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["date", "id", "score", "service", "summary"]);
        assert!(v["answer"]
            .as_str()
            .unwrap()
            .contains(&format!("[{}]", h["id"].as_str().unwrap())));
    }
    assert_eq!(hits[0]["service"], "polymarket-bot");
}

/// A one-shot OpenAI-compatible server that answers every chat completion with `reply`.
async fn fake_llm(reply: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + len || n == 0 {
                        break;
                    }
                } else if n == 0 {
                    break;
                }
            }
            let body = serde_json::json!({
                "id": "x", "object": "chat.completion", "created": 0, "model": "local",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}]
            })
            .to_string();
            let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    format!("http://{addr}/v1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_uses_the_model_only_when_it_cites_what_was_retrieved() {
    for (reply, want_mode) in [
        (
            "It deadlocked on a mutex held across an await [pm-syn-00002].",
            "llm:local",
        ),
        ("It was probably cosmic rays.", "extractive"),
        (
            "See [pm-2020-01-01-made-up] and [pm-syn-00002].",
            "extractive",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let base = fake_llm(reply).await;
        let cfg = config(
            tmp.path(),
            &format!("[llm]\nbase_url = \"{base}\"\nmodel = \"local\"\ntimeout = \"10s\"\n"),
        );
        hash_memory(&tmp.path().join("state"), 384)
            .remember((0..10).map(synthetic).collect())
            .await
            .unwrap();
        let cfg2 = cfg.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(BIN)
                .args([
                    "--config",
                    cfg2.to_str().unwrap(),
                    "ask",
                    &synthetic(2).summary,
                    "--json",
                ])
                .env("AKASHIC_TEST_EMBEDDER", "hash")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["mode"], want_mode, "reply {reply:?}: {v}");
        if want_mode == "extractive" {
            assert!(v["fallback"].is_string(), "{v}");
            assert!(v["answer"].as_str().unwrap().contains("[pm-syn-00002]"));
        } else {
            assert_eq!(v["answer"], reply);
        }
    }
}
