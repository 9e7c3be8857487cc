//! Memory benchmark: import throughput, `ask` latency cold and warm at 1k/10k/100k, RSS, scan vs memory bandwidth, store vs brute force.
//!
//! Run with `cargo bench --bench memory`. Knobs (environment): `BENCH_SCALES` (comma-separated
//! store sizes, `1000,10000,100000`); `BENCH_KEEP=1` keeps the stores and prints where, with a
//! config to `ask` them by hand (for profiling a cold ask).

use akashic::core::category::Category;
use akashic::memory::import::{import_docs, ParsedLine};
use akashic::memory::index::VectorIndex;
use akashic::memory::{
    locate, normalize, EmbeddedStore, Embedder, FastEmbedder, Filter, HashEmbedder, Memory,
    MemoryDoc, Record, StoreSpec, Vector, VectorStore,
};
use chrono::{TimeZone, Utc};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DIM: usize = 384;
const SCALES: &str = "1000,10000,100000";

fn doc(i: usize) -> MemoryDoc {
    let services = [
        "polymarket-bot",
        "content-pipeline-v2",
        "orders-api",
        "nightly-etl",
        "webhook-relay",
    ];
    let what = [
        "froze with every thread idle",
        "spun on 429 responses",
        "ran out of disk",
        "lost its database connection",
        "crashed on a bad payload",
    ];
    MemoryDoc {
        confirmed_by: None,
        evidence: Vec::new(),
        id: format!("pm-bench-{i:06}"),
        service: services[i % services.len()].into(),
        date: Utc
            .timestamp_opt(1_600_000_000 + i as i64 * 600, 0)
            .unwrap(),
        category: Category::ALL[i % Category::ALL.len()],
        summary: format!(
            "The service {} overnight (incident {i}).",
            what[i % what.len()]
        ),
        root_cause: format!(
            "Worker pool {} was exhausted while the upstream kept timing out after {} s.",
            i % 13,
            5 + i % 30
        ),
        recommendation:
            "Bound the queue, add timeouts with jittered backoff, and alert on stalled progress."
                .into(),
        incident_id: None,
    }
}

/// A cheap deterministic generator of unit vectors.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    fn unit(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM).map(|_| self.next()).collect();
        normalize(&mut v);
        v
    }
}

fn rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Read bandwidth: sum a buffer as large as the 100k matrix (best of several runs), in bytes/s.
fn bandwidth() -> (f64, f64) {
    let n = 100_000 * DIM;
    let src: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let mut dst = vec![0f32; n];
    let mut best_sum = f64::MAX;
    let mut best_copy = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        let mut acc = [0f32; 16];
        for c in src.chunks_exact(16) {
            for i in 0..16 {
                acc[i] += c[i];
            }
        }
        black_box(acc);
        best_sum = best_sum.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        dst.copy_from_slice(black_box(&src));
        black_box(&dst);
        best_copy = best_copy.min(t.elapsed().as_secs_f64());
    }
    let bytes = (n * 4) as f64;
    (bytes / best_sum, 2.0 * bytes / best_copy)
}

/// The baseline: one heap Vec per doc, a sequential iterator dot product, a full sort.
fn brute_force<'a>(rows: &'a [(String, Vec<f32>)], q: &[f32], k: usize) -> Vec<(&'a str, f32)> {
    let mut all: Vec<(&str, f32)> = rows
        .iter()
        .map(|(id, v)| (id.as_str(), v.iter().zip(q).map(|(a, b)| a * b).sum()))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

fn time_runs(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut v: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let paths = locate::locate_from_env(None)
        .unwrap_or_else(|e| panic!("the benchmark needs the real model: {e:#}"));
    let tmp = tempfile::tempdir().unwrap();
    println!(
        "# akashic memory benchmark ({} cores, model {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        paths.model_id
    );

    // Memory use of the model: load, embed, drop.
    let rss0 = rss_mb();
    let t = Instant::now();
    let mut model = FastEmbedder::load(&paths).unwrap();
    let load = t.elapsed();
    model.embed(&["warm up".to_string()]).unwrap();
    let rss_loaded = rss_mb();
    drop(model);
    let rss_dropped = rss_mb();
    akashic::memory::release_memory();
    let rss_trimmed = rss_mb();
    println!("\n## model");
    println!("load {}; RSS before {rss0:.0} MB, loaded+1 embed {rss_loaded:.0} MB, after drop {rss_dropped:.0} MB, after drop + malloc_trim {rss_trimmed:.0} MB", ms(load));

    // Import throughput, embedding included (real model), through the same path as `memory import`.
    println!(
        "\n## import (real model, batches of 64, each batch fsynced before it is acknowledged)"
    );
    let n_import = 512;
    let mem = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: tmp.path().join("import"),
        },
        akashic::memory::embedder_factory_for(&paths),
    );
    let lines: Vec<ParsedLine> = (0..n_import)
        .map(|i| ParsedLine {
            line: i + 1,
            doc: doc(i),
        })
        .collect();
    let t = Instant::now();
    let rep = rt.block_on(import_docs(&mem, lines, |_| {})).unwrap();
    let el = t.elapsed().as_secs_f64();
    assert_eq!(rep.embedded, n_import);
    println!(
        "{n_import} docs in {el:.2} s = {:.1} docs/s (model load included)",
        n_import as f64 / el
    );
    let hash = Memory::with_parts(
        StoreSpec::Embedded {
            state_dir: tmp.path().join("import-hash"),
        },
        Arc::new(|| Ok(Box::new(HashEmbedder::new(DIM)) as Box<dyn Embedder>)),
    );
    let lines: Vec<ParsedLine> = (0..10_000)
        .map(|i| ParsedLine {
            line: i + 1,
            doc: doc(i),
        })
        .collect();
    let t = Instant::now();
    rt.block_on(import_docs(&hash, lines, |_| {})).unwrap();
    let el = t.elapsed().as_secs_f64();
    println!(
        "10000 docs, store only (test hash embedder): {el:.2} s = {:.0} docs/s",
        10_000.0 / el
    );

    let (read_bw, copy_bw) = bandwidth();
    println!("\n## memory bandwidth (same process)");
    println!(
        "read (sum) {:.1} GB/s; memcpy {:.1} GB/s (read+write bytes)",
        read_bw / 1e9,
        copy_bw / 1e9
    );

    let bin = env!("CARGO_BIN_EXE_akashic");
    let question = "why does the trading bot freeze at night?";
    let mut query_model = FastEmbedder::load(&paths).unwrap();
    let qv = query_model
        .embed(&[question.to_string()])
        .unwrap()
        .remove(0);
    let query = Vector {
        model_id: paths.model_id.clone(),
        values: qv.clone(),
    };
    let scales: Vec<usize> = std::env::var("BENCH_SCALES")
        .unwrap_or_else(|_| SCALES.into())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("BENCH_SCALES: sizes such as 1000,10000")
        })
        .collect();
    for n in scales {
        println!("\n## {n} stored post-mortems");
        let state = tmp.path().join(format!("s{n}"));
        let mut rng = Rng(0x9e3779b97f4a7c15 ^ n as u64);
        let mut baseline: Vec<(String, Vec<f32>)> = Vec::with_capacity(n);
        let t = Instant::now();
        rt.block_on(async {
            let mut store = EmbeddedStore::open(&state, Duration::from_secs(10))
                .await
                .unwrap();
            let mut batch = Vec::new();
            for i in 0..n {
                let v = rng.unit();
                baseline.push((doc(i).id, v.clone()));
                batch.push(Record {
                    doc: doc(i),
                    vector: Some(Vector {
                        model_id: paths.model_id.clone(),
                        values: v,
                    }),
                });
                if batch.len() == 2000 {
                    store.upsert(std::mem::take(&mut batch)).await.unwrap();
                }
            }
            store.upsert(batch).await.unwrap();
        });
        println!(
            "filled with precomputed random unit vectors in {:.2} s",
            t.elapsed().as_secs_f64()
        );

        // Open cost and RSS of the open store.
        let rss_before = rss_mb();
        let t = Instant::now();
        let store = rt
            .block_on(EmbeddedStore::open(&state, Duration::from_secs(10)))
            .unwrap();
        let open = t.elapsed();
        let t = Instant::now();
        let index: &VectorIndex = store.index().unwrap();
        let load = t.elapsed();
        let rss_loaded = rss_mb() - rss_before;
        // A second handle finds the index file current and maps it.
        let t = Instant::now();
        let from_file = rt
            .block_on(EmbeddedStore::open(&state, Duration::from_secs(10)))
            .unwrap();
        let file_index: &VectorIndex = from_file.index().unwrap();
        let map_load = t.elapsed();
        println!(
            "open {} (lazy: what `remember` pays); the first search rebuilds the vector and lexical indexes from {n} rows and writes the index file in {} (RSS +{rss_loaded:.0} MB); a new handle reads the current file in {} (its f32 rows stay in the file)",
            ms(open),
            ms(load),
            ms(map_load),
        );

        let mut qn = qv.clone();
        normalize(&mut qn);
        let scan = time_runs(50, || {
            black_box(
                index
                    .search(black_box(&qn), 10, &Filter::default())
                    .unwrap(),
            );
        });
        let exact = time_runs(50, || {
            black_box(
                index
                    .search_exact(black_box(&qn), 10, &Filter::default())
                    .unwrap(),
            );
        });
        let filtered = time_runs(50, || {
            black_box(
                index
                    .search(
                        black_box(&qn),
                        10,
                        &Filter {
                            service: Some("orders-api".into()),
                            ..Default::default()
                        },
                    )
                    .unwrap(),
            );
        });
        let scan_file = time_runs(50, || {
            black_box(
                file_index
                    .search(black_box(&qn), 10, &Filter::default())
                    .unwrap(),
            );
        });
        let brute = time_runs(if n >= 100_000 { 10 } else { 30 }, || {
            black_box(brute_force(black_box(&baseline), &qn, 10));
        });
        let exact_same = index
            .search(&qn, 10, &Filter::default())
            .unwrap()
            .iter()
            .map(|x| x.0.to_string())
            .collect::<Vec<_>>()
            == brute_force(&baseline, &qn, 10)
                .iter()
                .map(|x| x.0.to_string())
                .collect::<Vec<_>>();
        let bytes = (n * DIM * 4) as f64;
        let limit = Duration::from_secs_f64(bytes / read_bw);
        println!(
            "f32 exact scan top-10: p50 {} (bandwidth limit for {:.1} MB of f32: {}, so {:.0}% of limit speed)",
            ms(pct(&exact, 0.5)),
            bytes / 1e6,
            ms(limit),
            100.0 * limit.as_secs_f64() / pct(&exact, 0.5).as_secs_f64(),
        );
        println!(
            "store search top-10 ({}): p50 {}; filtered (1 service of 5) p50 {}",
            if n >= akashic::memory::index::BINARY_FROM {
                "sign-bit scan + exact f32 re-score"
            } else {
                "f32 scan"
            },
            ms(pct(&scan, 0.5)),
            ms(pct(&filtered, 0.5))
        );
        println!(
            "the same search on the index read from the file (rows read from it as scored): p50 {}, p99 {}",
            ms(pct(&scan_file, 0.5)),
            ms(pct(&scan_file, 0.99))
        );
        println!(
            "brute-force baseline (Vec per doc, sequential sum, full sort): p50 {} -> store is {:.1}x faster; same top-10: {exact_same}",
            ms(pct(&brute, 0.5)),
            pct(&brute, 0.5).as_secs_f64() / pct(&scan, 0.5).as_secs_f64()
        );

        // Warm ask: model loaded and store open; embed the question and search.
        let warm = time_runs(40, || {
            let v = query_model
                .embed(&[question.to_string()])
                .unwrap()
                .remove(0);
            let q = Vector {
                model_id: paths.model_id.clone(),
                values: v,
            };
            black_box(
                rt.block_on(from_file.search(&q, 5, &Filter::default()))
                    .unwrap(),
            );
        });
        println!(
            "warm ask on the index read from the file (embed question + search + fetch 5 docs): p50 {}, p99 {}",
            ms(pct(&warm, 0.5)),
            ms(pct(&warm, 0.99))
        );
        let search_only = time_runs(40, || {
            black_box(
                rt.block_on(from_file.search(&query, 5, &Filter::default()))
                    .unwrap(),
            );
        });
        println!(
            "warm search only (index read from the file, top-5): p50 {}, p99 {}",
            ms(pct(&search_only, 0.5)),
            ms(pct(&search_only, 0.99))
        );
        drop(store);
        drop(from_file);

        // Cold ask: a new process, from exec to answer (loads the model and the store).
        let cfg = tmp.path().join(format!("c{n}.toml"));
        std::fs::write(
            &cfg,
            format!("[daemon]\nstate_dir = {:?}\n", state.display().to_string()),
        )
        .unwrap();
        // One ask process: its time from exec to answer and its peak RSS in MB.
        let ask = || {
            // Through /usr/bin/time: a child forked from this large process would inherit its
            // RSS high-water mark, so getrusage here would over-report.
            let t = Instant::now();
            let out = std::process::Command::new("/usr/bin/time")
                .args([
                    "-f",
                    "%M",
                    bin,
                    "--config",
                    cfg.to_str().unwrap(),
                    "ask",
                    question,
                    "--no-llm",
                    "--json",
                ])
                .stdout(std::process::Stdio::null())
                .output()
                .unwrap();
            let took = t.elapsed();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let kb: f64 = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0.0);
            (took, kb / 1e3)
        };
        // The first ask after a write finds the file stale: it rebuilds and rewrites it.
        std::fs::remove_file(akashic::memory::index_file::path_in(&state)).unwrap();
        let (rebuild, rebuild_peak) = ask();
        let mut peak = 0.0f64;
        let mut cold: Vec<Duration> = (0..5)
            .map(|_| {
                let (took, mb) = ask();
                peak = peak.max(mb);
                took
            })
            .collect();
        cold.sort();
        println!(
            "cold ask (process start to answer, index file current): p50 {}, max {}; peak RSS of one ask process {:.0} MB",
            ms(pct(&cold, 0.5)),
            ms(pct(&cold, 1.0)),
            peak
        );
        println!(
            "cold ask after a write (rebuilds the indexes from the store and rewrites the file): {}; peak RSS {rebuild_peak:.0} MB",
            ms(rebuild)
        );
        // What the daemon does per post-mortem: load the model, embed, upsert (no index load), drop.
        let daemon = Memory::with_parts(
            StoreSpec::Embedded {
                state_dir: state.clone(),
            },
            akashic::memory::embedder_factory_for(&paths),
        );
        let before = rss_mb();
        let t = Instant::now();
        let out = rt.block_on(daemon.remember(vec![doc(n + 1)])).unwrap();
        assert_eq!(out.embedded, 1);
        println!(
            "remember 1 post-mortem (model load + embed + durable upsert): {}; bench RSS after it returns {:+.0} MB",
            ms(t.elapsed()),
            rss_mb() - before
        );
        if n == 100_000 {
            println!(
                "bench process RSS with the 100k store dropped: {:.0} MB",
                rss_mb()
            );
        }
        let _ = Path::new(&state);
    }
    if std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") {
        let kept = tmp.keep();
        println!(
            "\nkept the stores under {}: ask one with `akashic --config {}/c<size>.toml ask ...`",
            kept.display(),
            kept.display()
        );
    }
}
