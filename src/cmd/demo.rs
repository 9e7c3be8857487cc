//! `akashic demo`: the demo fleet, end to end. Without `--dir` it runs in a fresh folder under the
//! temp dir that is removed when it ends, whether it finished, timed out or was interrupted.

use super::{out, CmdResult};
use crate::cli::DemoArgs;
use crate::demo::fleet::Outcome;
use std::path::{Path, PathBuf};

/// Removes the demo's own temp folder when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("akashic demo: could not remove {}: {e}", self.0.display());
            }
        }
    }
}

pub fn run(args: &DemoArgs) -> CmdResult {
    let (dir, _cleanup) = match &args.dir {
        Some(d) => (d.clone(), None),
        None => {
            let d = std::env::temp_dir().join(format!("akashic-demo-{}", std::process::id()));
            (d.clone(), Some(TempDir(d)))
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let outcome = rt.block_on(crate::demo::fleet::run(
        &dir,
        args.for_.into(),
        args.scenario,
    ))?;
    drop(rt);
    let kept = args.dir.is_some();
    match outcome {
        Outcome::PostMortem(inc, held) => {
            out("");
            out(super::show::render(&inc));
            if !held.is_empty() {
                out(format!("Held on {} ({}):", inc.service, inc.id));
                for h in &held {
                    out(format!(
                        "  {:<12} {}  {}  restarts {}",
                        h.service, h.id, h.action, h.restarts
                    ));
                }
                out("");
            }
            let question = match args.scenario {
                crate::demo::fleet::Scenario::Freeze => "why did the pipeline stop producing?",
                crate::demo::fleet::Scenario::SharedDependency => {
                    "why did orders-api, billing and reports stop?"
                }
            };
            out(try_next(&dir, kept, &inc.id, question));
            Ok(crate::exit::OK)
        }
        Outcome::TimedOut => {
            eprintln!(
                "error: the demo ended without a finished post-mortem; see the log above{}",
                if kept {
                    format!(" and {}", dir.display())
                } else {
                    "; run it with --dir DIR to keep its files".into()
                }
            );
            Ok(crate::exit::FAILURE)
        }
        Outcome::Interrupted => {
            eprintln!(
                "akashic demo: interrupted; the fleet is stopped{}",
                if kept {
                    String::new()
                } else {
                    format!(" and {} removed", dir.display())
                }
            );
            Ok(crate::exit::INTERRUPTED)
        }
    }
}

/// What to run next: with a kept folder, commands against its config; else how to keep one.
fn try_next(dir: &Path, kept: bool, id: &str, question: &str) -> String {
    if !kept {
        return "The demo's folder is removed now that it ended. To explore the incident afterwards, keep it:\n  akashic demo --dir ./akashic-demo\n  akashic --config ./akashic-demo/akashic.toml show ID".to_string();
    }
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "akashic".into());
    format!(
        "Try next (or `cargo install --path .` to have `akashic` on your PATH):\n  {exe} --config {c} incidents\n  {exe} --config {c} show {id}\n  {exe} --config {c} ask \"{question}\"\n  {exe} --config {c} watch     # run the fleet again, in the foreground",
        c = dir.join("akashic.toml").display(),
    )
}
