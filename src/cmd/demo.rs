//! `akashic demo`: the demo fleet, end to end.

use super::{out, CmdResult};
use crate::cli::DemoArgs;

pub fn run(args: &DemoArgs) -> CmdResult {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("akashic-demo-{}", std::process::id())),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let found = rt.block_on(crate::demo::fleet::run(&dir, args.for_.into()))?;
    let cfg = dir.join("akashic.toml");
    match found {
        Some(inc) => {
            out("");
            out(super::show::render(&inc));
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "akashic".into());
            out(format!(
                "Try next (or `cargo install --path .` to have `akashic` on your PATH):\n  {exe} --config {c} incidents\n  {exe} --config {c} show {id}\n  {exe} --config {c} ask \"why did the pipeline stop producing?\"\n  {exe} --config {c} watch     # run the fleet again, in the foreground",
                c = cfg.display(),
                id = inc.id
            ));
            Ok(crate::exit::OK)
        }
        None => {
            eprintln!(
                "error: the demo ended without a finished post-mortem; see the log above and {}",
                dir.display()
            );
            Ok(crate::exit::FAILURE)
        }
    }
}
