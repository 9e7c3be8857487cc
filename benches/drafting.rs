//! Template drafting time per eval case: evidence gathering, classification, priors and the
//! template draft, exactly as `akashic eval --no-llm` runs a case (no model, no I/O beyond
//! reading the case files once before timing).
//!
//! `cargo bench --bench drafting`; `BENCH_ROUNDS` (20) rounds over every case of `evals/`.

use akashic::agent::case;
use akashic::agent::eval::{case_files, run_case};
use akashic::agent::signatures::Signatures;
use std::path::Path;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("evals");
    let mut cases = Vec::new();
    for dir in [
        "cases",
        "holdout",
        "blind/dev",
        "blind/test",
        "blind2/dev",
        "blind2/test",
        "blind3/dev",
        "blind3/test",
        "blind4/dev",
        "blind4/test",
        "blind5/dev",
        "blind5/test",
        "blind6/dev",
        "blind6/test",
    ] {
        for f in case_files(&root.join(dir)).expect("the eval folders are there") {
            cases.push(case::load(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display())));
        }
    }
    let signatures = Signatures::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ms: Vec<f64> = Vec::with_capacity(rounds * cases.len());
    // One untimed round warms the signature table's regexes and the allocator.
    for c in &cases {
        rt.block_on(run_case(c, None, &signatures));
    }
    for _ in 0..rounds {
        for c in &cases {
            let t = Instant::now();
            rt.block_on(run_case(c, None, &signatures));
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    println!(
        "template drafting, {} cases x {rounds} rounds: mean {mean:.2} ms, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal: under 50 ms a case)",
        cases.len(),
        q(0.50),
        q(0.99),
        ms[ms.len() - 1]
    );
}
