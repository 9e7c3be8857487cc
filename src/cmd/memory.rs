//! `akashic memory import|reindex|migrate`.

use super::{out, CmdResult};
use crate::cli::{ImportArgs, MemoryCmd, MigrateArgs};
use crate::config::Config;
use crate::memory::import::{self, Ack};
use crate::memory::{EmbeddedStore, Memory, StoreSpec, VectorStore};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::Path;

pub fn run(flag: Option<&Path>, cmd: &MemoryCmd) -> CmdResult {
    let cfg = super::load_config(flag)?;
    let rt = runtime()?;
    match cmd {
        MemoryCmd::Import(a) => rt.block_on(import_file(&cfg, a)),
        MemoryCmd::Reindex => rt.block_on(reindex(&cfg)),
        MemoryCmd::Migrate(a) => rt.block_on(migrate(&cfg, a)),
    }
    .map_err(Into::into)
}

/// A small runtime for one command; embedding runs on its blocking threads.
pub fn runtime() -> Result<tokio::runtime::Runtime, anyhow::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A progress bar on a terminal, nothing when stderr is piped.
fn progress(total: usize, what: &'static str) -> impl FnMut(Ack) {
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(what);
        b
    });
    move |ack: Ack| {
        tracing::debug!(
            acknowledged = ack.done,
            total = ack.total,
            through_line = ack.through_line,
            "batch durable"
        );
        if let Some(b) = &bar {
            b.set_position(ack.done as u64);
            if ack.done == ack.total {
                b.finish_and_clear();
            }
        }
    }
}

async fn import_file(cfg: &Config, a: &ImportArgs) -> anyhow::Result<i32> {
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let (docs, bad) = import::parse_all(std::io::BufReader::new(file), chrono::Utc::now())
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    for b in &bad {
        eprintln!("{}:{}: skipped: {}", a.file.display(), b.line, b.message);
    }
    let memory = Memory::open(cfg)?;
    let total = docs.len();
    let report = import::import_docs(&memory, docs, progress(total, "importing")).await?;
    prepare_search(&memory).await;
    out(format!(
        "imported {} post-mortems from {}",
        report.imported,
        a.file.display()
    ));
    if let Some(why) = &report.not_embedded {
        out(format!(
            "{} of them are stored without vectors ({why}); run `akashic memory reindex` once the model is available",
            report.imported - report.embedded
        ));
    }
    if !bad.is_empty() {
        out(format!(
            "{} bad lines skipped (listed on stderr)",
            bad.len()
        ));
        return Ok(crate::exit::FAILURE);
    }
    Ok(crate::exit::OK)
}

/// Builds the search index after a bulk write, so the next `ask` does not; what is stored is
/// stored either way, so a failure here is only said.
async fn prepare_search(memory: &Memory) {
    let prepared = match memory.open_store().await {
        Ok(store) => store.prepare_search().await,
        Err(e) => Err(e),
    };
    if let Err(e) = prepared {
        tracing::warn!(error = %crate::errors::chain(&e), "the search index was not prepared; the next question builds it");
    }
}

async fn reindex(cfg: &Config) -> anyhow::Result<i32> {
    let memory = Memory::open(cfg)?;
    let total = memory.open_store().await?.count().await?;
    let n = import::reindex(&memory, progress(total, "reindexing")).await?;
    prepare_search(&memory).await;
    out(format!("reindexed {n} post-mortems"));
    Ok(crate::exit::OK)
}

async fn migrate(cfg: &Config, a: &MigrateArgs) -> anyhow::Result<i32> {
    if a.to != "qdrant" {
        anyhow::bail!(
            "unknown target backend {:?}; the only target is qdrant",
            a.to
        );
    }
    let target = StoreSpec::from_config(cfg);
    if !matches!(target, StoreSpec::Qdrant(_)) {
        anyhow::bail!(
            "[memory] backend is not \"qdrant\" in {}; set backend = \"qdrant\" and url first, then migrate",
            cfg.path.display()
        );
    }
    let source =
        EmbeddedStore::open(&cfg.daemon.state_dir, crate::memory::embedded::LOCK_WAIT).await?;
    let records = source.records()?;
    let mut dest = target.open(crate::memory::embedded::LOCK_WAIT).await?;
    let total = records.len();
    let with_vectors = records.iter().filter(|r| r.vector.is_some()).count();
    let mut done = 0;
    let mut bar = progress(total, "migrating");
    for batch in records.chunks(256) {
        dest.upsert(batch.to_vec()).await?;
        done += batch.len();
        bar(Ack {
            done,
            total,
            through_line: done,
        });
    }
    out(format!(
        "copied {total} post-mortems ({with_vectors} with vectors) from {} to {}",
        source.describe(),
        dest.describe()
    ));
    Ok(crate::exit::OK)
}
