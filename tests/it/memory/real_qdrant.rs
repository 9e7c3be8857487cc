//! Memory against a real Qdrant server: `AKASHIC_QDRANT_BIN`, else `~/.cache/akashic/qdrant/qdrant`
//! (`../shared/tools/build-qdrant.sh` builds it), started per test on free ports with a temp
//! storage dir. Without the binary each test says so in one line and passes.

use super::{config, migrate_to_qdrant, real_memory, run_migrate_to_qdrant};
use akashic::memory::import::{import_docs, ParsedLine};
use akashic::memory::{
    Embedder, Filter, HashEmbedder, Memory, MemoryDoc, MemoryError, QdrantSpec, QdrantStore,
    StoreSpec, VectorStore,
};
use chrono::{DateTime, Utc};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server binary, when there is one.
fn binary() -> Option<PathBuf> {
    std::env::var_os("AKASHIC_QDRANT_BIN")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache/akashic/qdrant/qdrant")))
        .filter(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Qdrant server of this test: killed when dropped.
struct RealQdrant {
    bin: PathBuf,
    child: Option<Child>,
    http: u16,
    grpc: u16,
    key: Option<String>,
    storage: tempfile::TempDir,
}

impl RealQdrant {
    /// Starts a server, or says in one line why the test is skipped.
    fn start(test: &str, key: Option<&str>) -> Option<RealQdrant> {
        let Some(bin) = binary() else {
            eprintln!("{test}: skipped: no Qdrant binary (set AKASHIC_QDRANT_BIN or build ~/.cache/akashic/qdrant/qdrant with ../shared/tools/build-qdrant.sh)");
            return None;
        };
        let mut q = RealQdrant {
            bin,
            child: None,
            http: free_port(),
            grpc: free_port(),
            key: key.map(String::from),
            storage: tempfile::tempdir().unwrap(),
        };
        q.spawn();
        Some(q)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(self.storage.path())
            .env(
                "QDRANT__STORAGE__STORAGE_PATH",
                self.storage.path().join("storage"),
            )
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.storage.path().join("snapshots"),
            )
            .env("QDRANT__SERVICE__HTTP_PORT", self.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc.to_string())
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(k) = &self.key {
            cmd.env("QDRANT__SERVICE__API_KEY", k);
        }
        self.child = Some(cmd.spawn().expect("start qdrant"));
        self.wait_ready();
    }

    /// Polls `GET /readyz` until the server answers 200, and its gRPC port (which Qdrant opens
    /// on its own, sometimes after the HTTP one) until it takes a connection.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.grpc)).is_err() {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.http)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
                let mut answer = String::new();
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "qdrant did not become ready on ports {} (http) and {} (grpc)",
            self.http, self.grpc
        );
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// kill -9, then reaped.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn spec(&self, state_dir: &Path, key_env: Option<&str>) -> QdrantSpec {
        QdrantSpec {
            url: self.url(),
            collection: "fleet".into(),
            api_key_env: key_env.map(String::from),
            state_dir: state_dir.to_path_buf(),
        }
    }
}

impl Drop for RealQdrant {
    fn drop(&mut self) {
        self.kill();
    }
}

fn blind(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/memory-blind")
        .join(name)
}

#[derive(serde::Deserialize)]
struct Question {
    question: String,
    relevant: Vec<String>,
    asked_at: DateTime<Utc>,
}

fn hash_embedder() -> akashic::memory::EmbedderFactory {
    Arc::new(|| Ok(Box::new(HashEmbedder::new(384)) as Box<dyn Embedder>))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_qdrant_answers_like_the_embedded_store_and_migrate_is_idempotent() {
    let Some(q) = RealQdrant::start("real_qdrant_answers_like_the_embedded_store", None) else {
        return;
    };
    // A slice of the blind corpus with the real model, in the embedded store...
    let tmp = tempfile::tempdir().unwrap();
    let docs: Vec<MemoryDoc> = std::fs::read_to_string(blind("corpus.jsonl"))
        .unwrap()
        .lines()
        .take(300)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let emem = real_memory(&tmp.path().join("state"));
    emem.remember(docs.clone()).await.unwrap();
    // ...copied into Qdrant by `memory migrate`, twice: the second copy changes nothing.
    let cfg = config(
        tmp.path(),
        &format!(
            "[memory]\nbackend = \"qdrant\"\nurl = \"{}\"\ncollection = \"fleet\"\n",
            q.url()
        ),
    );
    for _ in 0..2 {
        let stdout = migrate_to_qdrant(&cfg);
        assert!(
            stdout.starts_with("copied 300 post-mortems (300 with vectors) from "),
            "{stdout}"
        );
        let store = QdrantStore::connect(&q.spec(&tmp.path().join("state"), None))
            .await
            .unwrap();
        assert_eq!(store.count().await.unwrap(), 300);
    }
    let paths = akashic::memory::locate::locate_from_env(None).unwrap();
    let qmem = Memory::with_parts(
        StoreSpec::Qdrant(q.spec(&tmp.path().join("state"), None)),
        akashic::memory::embedder_factory_for(&paths),
    );
    // `migrate` made a collection with both vectors: the words are scored and the rankings
    // fused in Qdrant (weighted reciprocal rank fusion of its query API).
    let info = client(&q)
        .collection_info("fleet")
        .await
        .unwrap()
        .result
        .unwrap();
    let params = info.config.unwrap().params.unwrap();
    assert!(
        params
            .sparse_vectors_config
            .as_ref()
            .is_some_and(|s| s.map.contains_key("lexical")),
        "{params:?}"
    );
    // The dev questions whose answers are in the slice: recall as the embedded store's. The
    // server scores words by its own IDF (no field lengths), so a hit may differ; recall holds.
    let questions: Vec<Question> =
        serde_json::from_str(&std::fs::read_to_string(blind("questions.dev.json")).unwrap())
            .unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    let mut asked = 0;
    let (mut recall_e, mut recall_q, mut same) = (0.0, 0.0, 0);
    for question in questions
        .iter()
        .filter(|x| x.relevant.iter().any(|r| ids.contains(&r.as_str())))
    {
        let relevant: Vec<&String> = question
            .relevant
            .iter()
            .filter(|r| ids.contains(&r.as_str()))
            .collect();
        let e = emem
            .ask(&question.question, &Filter::default(), 5, question.asked_at)
            .await
            .unwrap();
        let qd = qmem
            .ask(&question.question, &Filter::default(), 5, question.asked_at)
            .await
            .unwrap();
        assert_eq!(qd.filter, e.filter, "{}", question.question);
        let e_ids: Vec<&str> = e.hits.iter().map(|h| h.doc.id.as_str()).collect();
        let q_ids: Vec<&str> = qd.hits.iter().map(|h| h.doc.id.as_str()).collect();
        assert!(q_ids.iter().all(|id| ids.contains(id)), "{q_ids:?}");
        let r = |hits: &[&str]| {
            hits.iter()
                .filter(|h| relevant.iter().any(|r| r == *h))
                .count() as f64
                / relevant.len().min(5) as f64
        };
        recall_e += r(&e_ids);
        recall_q += r(&q_ids);
        same += usize::from(sorted(&q_ids) == sorted(&e_ids));
        asked += 1;
    }
    assert!(
        asked >= 10,
        "only {asked} dev questions have answers in the slice"
    );
    let (recall_e, recall_q) = (recall_e / asked as f64, recall_q / asked as f64);
    eprintln!(
        "real qdrant: {asked} dev questions over 300 post-mortems: recall@5 {recall_q:.3} in Qdrant (server fusion), {recall_e:.3} embedded; same five hits for {same}"
    );
    assert!(recall_e > 0.0);
    assert!(
        recall_q >= recall_e - 0.05,
        "Qdrant's recall {recall_q:.3} fell below the embedded store's {recall_e:.3}"
    );
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn client(q: &RealQdrant) -> qdrant_client::Qdrant {
    qdrant_client::Qdrant::from_url(&q.url())
        .skip_compatibility_check()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_of_an_earlier_version_is_searched_as_before() {
    let Some(q) = RealQdrant::start("a_collection_of_an_earlier_version", None) else {
        return;
    };
    use qdrant_client::qdrant::{
        vectors_config, CreateCollection, Distance, VectorParams, VectorsConfig,
    };
    // A collection as earlier versions made it: one unnamed vector, no sparse one.
    client(&q)
        .create_collection(CreateCollection {
            collection_name: "old".into(),
            vectors_config: Some(VectorsConfig {
                config: Some(vectors_config::Config::Params(VectorParams {
                    size: 384,
                    distance: Distance::Cosine as i32,
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = q.spec(tmp.path(), None);
    spec.collection = "old".into();
    let old = Memory::with_parts(StoreSpec::Qdrant(spec), hash_embedder());
    let here = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: tmp.path().join("embedded"),
        },
        hash_embedder(),
    );
    let docs: Vec<MemoryDoc> = std::fs::read_to_string(blind("corpus.jsonl"))
        .unwrap()
        .lines()
        .take(120)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    old.remember(docs.clone()).await.unwrap();
    here.remember(docs.clone()).await.unwrap();
    assert_eq!(old.open_store().await.unwrap().count().await.unwrap(), 120);
    // Dense search in Qdrant, words and fusion in akashic: the answers the embedded store
    // gives with the same embedder.
    let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    for d in docs.iter().step_by(12) {
        let question = format!("{} {}", d.service, d.summary);
        let a = old
            .ask(&question, &Filter::default(), 5, now)
            .await
            .unwrap();
        let b = here
            .ask(&question, &Filter::default(), 5, now)
            .await
            .unwrap();
        let ids = |x: &akashic::memory::Asked| {
            x.hits.iter().map(|h| h.doc.id.clone()).collect::<Vec<_>>()
        };
        let (a, b) = (ids(&a), ids(&b));
        // The hashed embedder ties often: two equal neighbours may trade the fifth place.
        let shared = a.iter().filter(|id| b.contains(id)).count();
        assert!(shared >= 4, "{question}: {a:?} vs {b:?}");
        assert!(a.contains(&d.id) && b.contains(&d.id), "{question}: {a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_qdrant_honours_its_api_key() {
    let Some(q) = RealQdrant::start("real_qdrant_honours_its_api_key", Some("sekret-key")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::env::set_var("AKASHIC_IT_REAL_QDRANT_KEY", "sekret-key");
    std::env::set_var("AKASHIC_IT_REAL_QDRANT_WRONG", "not-the-key");
    let good = Memory::with_parts(
        StoreSpec::Qdrant(q.spec(tmp.path(), Some("AKASHIC_IT_REAL_QDRANT_KEY"))),
        hash_embedder(),
    );
    let docs: Vec<MemoryDoc> = (0..10).map(super::synthetic).collect();
    good.remember(docs.clone()).await.unwrap();
    assert_eq!(good.open_store().await.unwrap().count().await.unwrap(), 10);
    for env in [Some("AKASHIC_IT_REAL_QDRANT_WRONG"), None] {
        let err = QdrantStore::connect(&q.spec(tmp.path(), env))
            .await
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("qdrant at {} is unreachable: ", q.url()))
                && text.to_lowercase().contains("api key"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_qdrant_killed_mid_import_is_a_clear_error_and_loses_nothing_acknowledged() {
    let Some(mut q) = RealQdrant::start("real_qdrant_killed_mid_import", None) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec = q.spec(tmp.path(), None);
    let mem = Memory::with_parts(StoreSpec::Qdrant(spec.clone()), hash_embedder());
    let docs: Vec<ParsedLine> = (0..2000)
        .map(|i| ParsedLine {
            line: i + 1,
            doc: super::synthetic(i),
        })
        .collect();
    let pid = q.child.as_ref().unwrap().id() as i32;
    let mut acked = 0;
    let err = import_docs(&mem, docs.clone(), |ack| {
        acked = ack.done;
        if ack.done == 3 * akashic::memory::import::BATCH {
            // SAFETY: kill(2) on the server this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    })
    .await
    .expect_err("the server died mid-import");
    assert_eq!(acked, 3 * akashic::memory::import::BATCH);
    let text = err.to_string();
    assert!(
        matches!(
            err,
            MemoryError::Qdrant { .. } | MemoryError::QdrantUnreachable { .. }
        ),
        "{text}"
    );
    assert!(text.starts_with("qdrant "), "{text}");
    q.kill();
    q.spawn();
    // Every acknowledged doc is there after the restart, and importing again completes it.
    let store = QdrantStore::connect(&spec).await.unwrap();
    for p in &docs[..acked] {
        assert_eq!(store.get(&p.doc.id).await.unwrap().as_ref(), Some(&p.doc));
    }
    assert!(store.count().await.unwrap() >= acked);
    drop(store);
    import_docs(&mem, docs, |_| {}).await.unwrap();
    assert_eq!(mem.open_store().await.unwrap().count().await.unwrap(), 2000);
}

#[test]
fn a_config_error_under_memory_migrate_is_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        "[memory]\nbackend = \"qdrant\"\nurl = \"ftp://x\"\n",
    );
    let out = run_migrate_to_qdrant(&cfg);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert_eq!(
        stderr
            .matches("must start with http:// or https://")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}

#[test]
fn a_postmortem_written_while_qdrant_is_down_is_filed_once_it_is_back() {
    use crate::util::{demo_service, free_port as service_port, wait_for, Fleet, DAEMON};
    let Some(mut q) = RealQdrant::start("a_postmortem_written_while_qdrant_is_down", None) else {
        return;
    };
    q.kill();
    let toml = format!(
        "{DAEMON}[memory]\nbackend = \"qdrant\"\nurl = \"{}\"\ncollection = \"fleet\"\n{}",
        q.url(),
        demo_service(
            "bot",
            service_port(),
            r#", "--freeze-after", "2s", "--freeze-once", "{DIR}/froze""#,
            r#"{ max = 3, within = "1h" }"#,
            "20s"
        )
    );
    let mut f = Fleet::new(&toml);
    f.watch();
    // Qdrant is down: the post-mortem is still drafted, stored with its incident and written
    // as Markdown; filing it into memory fails and it stays queued.
    let inc = f.wait_incident("the post-mortem written while Qdrant is down", |i| {
        i["service"] == "bot" && !i["postmortem"].is_null()
    });
    let id = inc["id"].as_str().unwrap().to_string();
    assert!(f.path(&format!("state/postmortems/{id}.md")).is_file());
    wait_for("the daemon to say filing it failed", || {
        let log = std::fs::read_to_string(f.path("daemon.log")).unwrap_or_default();
        log.lines()
            .any(|l| {
                l.contains("post-mortem failed; it stays queued")
                    && l.contains(&format!("qdrant at {} is unreachable", q.url()))
            })
            .then_some(())
    });
    // Back: the queued post-mortem is filed without a restart of akashic.
    q.spawn();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec = q.spec(&f.path("state"), None);
    let filed = wait_for("the post-mortem to be filed into Qdrant", || {
        rt.block_on(async {
            let store = QdrantStore::connect(&spec).await.ok()?;
            store.get(&id).await.ok().flatten()
        })
    });
    assert_eq!(filed.service, "bot");
    assert_eq!(
        filed.summary,
        inc["postmortem"]["summary"].as_str().unwrap()
    );
}
