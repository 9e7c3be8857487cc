//! `akashic eval`: score post-mortem drafting on cases (specs/eval-cases.md).

use super::{out, out_json, CmdResult};
use crate::agent::eval::{self, CaseScore, Report};
use crate::agent::llm::{ChatPort, OpenAiChat};
use crate::agent::signatures::Signatures;
use crate::cli::EvalArgs;
use crate::config::LlmConfig;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

/// Whether the model server answers `GET {base_url}/models` quickly.
async fn reachable(cfg: &LlmConfig) -> bool {
    let url = format!("{}/models", cfg.base_url.trim_end_matches('/'));
    let Ok(client) = reqwest::Client::builder()
        .timeout(cfg.timeout.min(Duration::from_secs(30)))
        .build()
    else {
        return false;
    };
    let mut req = client.get(&url);
    if let Some(key) = cfg.api_key_env.as_ref().and_then(|v| std::env::var(v).ok()) {
        req = req.bearer_auth(key);
    }
    matches!(req.send().await, Ok(r) if r.status().is_success())
}

/// The model to use (only with `--config`/`AKASHIC_CONFIG`, an `[llm]` section, no `--no-llm` and a
/// server that answers) and the signature table (the config's `[agent] signatures` in front of the
/// built-in one).
fn configured(
    flag: Option<&Path>,
    args: &EvalArgs,
) -> Result<(Option<LlmConfig>, Signatures), crate::config::ConfigError> {
    let given = flag.is_some() || std::env::var_os("AKASHIC_CONFIG").is_some_and(|v| !v.is_empty());
    if !given {
        return Ok((None, Signatures::default()));
    }
    let cfg = super::load_config(flag)?;
    let llm = if args.no_llm { None } else { cfg.llm };
    Ok((llm, cfg.agent.signatures))
}

fn table(r: &Report) -> String {
    let mut s = format!(
        "{:<40} {:<22} {:<22} {:>4} {:>5} {:>4} {:>4} {:>6}\n",
        "case", "category", "expected", "ok", "evid", "grnd", "rec", "ms"
    );
    for c in &r.per_case {
        if let Some(e) = &c.error {
            s.push_str(&format!("{:<40} error: {e}\n", c.id));
            continue;
        }
        let cat = |x: Option<crate::core::category::Category>| {
            x.map_or("-".to_string(), |c| c.to_string())
        };
        let yn = |b: bool| if b { "yes" } else { "NO" };
        s.push_str(&format!(
            "{:<40} {:<22} {:<22} {:>4} {:>5.2} {:>4} {:>4} {:>6}\n",
            c.id,
            cat(c.category),
            cat(c.expected),
            yn(c.category_correct),
            c.evidence_recall,
            yn(c.grounded),
            yn(c.recommendation_hit),
            c.ms
        ));
    }
    s.push_str(&format!(
        "\n{} cases, mode {}: category accuracy {:.2}, evidence recall {:.2}, grounded {:.2}, recommendation hit {:.2}, prior precision {:.2}, prior recall {:.2}, schema valid {:.2}, mean {:.1} ms",
        r.cases, r.mode, r.category_accuracy, r.evidence_recall, r.grounded_rate, r.recommendation_hit_rate, r.prior_precision, r.prior_recall, r.schema_valid_rate, r.mean_ms
    ));
    s
}

pub fn run(flag: Option<&Path>, args: &EvalArgs) -> CmdResult {
    let files = eval::case_files(&args.cases).map_err(anyhow::Error::from)?;
    let (llm, signatures) = configured(flag, args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!(e).context("start the async runtime"))?;
    let report = rt.block_on(async {
        let llm = match llm {
            Some(cfg) if reachable(&cfg).await => Some(cfg),
            Some(cfg) => {
                tracing::warn!(base_url = %cfg.base_url, "model server not reachable; evaluating the template path");
                None
            }
            None => None,
        };
        let port = llm.as_ref().map(OpenAiChat::new);
        let model: Option<(&dyn ChatPort, &LlmConfig)> = match (&port, &llm) {
            (Some(p), Some(c)) => Some((p as &dyn ChatPort, c)),
            _ => None,
        };
        let mode = llm.as_ref().map_or_else(|| "template".to_string(), |c| format!("llm:{}", c.model));
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(files.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let r = eval::run(&files, model, &signatures, mode, |s: &CaseScore| {
            bar.set_message(s.id.clone());
            bar.inc(1);
        })
        .await;
        bar.finish_and_clear();
        r
    });
    if args.json {
        out_json(&report);
    } else {
        out(table(&report));
    }
    Ok(crate::exit::OK)
}
