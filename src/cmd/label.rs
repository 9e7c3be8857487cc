//! `akashic label ID CATEGORY`: a person confirms or corrects a post-mortem; memory learns it.

use super::{load_config, out, out_json, CmdResult};
use crate::agent::label::relabel;
use crate::cli::LabelArgs;
use crate::core::category::Category;
use crate::incident::model::TimelineEvent;
use crate::incident::IncidentStore;
use crate::memory::{Memory, MemoryDoc};
use std::path::Path;

pub fn run(flag: Option<&Path>, args: &LabelArgs) -> CmdResult {
    let Ok(category) = args.category.parse::<Category>() else {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        eprintln!(
            "error: unknown category {:?}; use one of {}",
            args.category,
            names.join(", ")
        );
        return Ok(crate::exit::USAGE);
    };
    let cfg = load_config(flag)?;
    let store = IncidentStore::open(&cfg.daemon.state_dir).map_err(anyhow::Error::from)?;
    let Some(inc) = store.get(&args.id).map_err(anyhow::Error::from)? else {
        eprintln!(
            "error: no incident {:?}; `akashic incidents` lists them",
            args.id
        );
        return Ok(crate::exit::FAILURE);
    };
    let Some(mut pm) = inc.postmortem.clone() else {
        eprintln!(
            "error: incident {} has no post-mortem yet; label it once `akashic show {}` shows one",
            args.id, args.id
        );
        return Ok(crate::exit::FAILURE);
    };
    let previous = pm.category;
    relabel(&mut pm, category, args.root_cause.as_deref());
    let now = chrono::Utc::now();
    let detail = match &args.note {
        Some(n) => format!("{previous} -> {category} by a person: {n}"),
        None => format!("{previous} -> {category} by a person"),
    };
    store
        .update(&args.id, |i| {
            i.postmortem = Some(pm.clone());
            i.timeline.push(TimelineEvent {
                at: now,
                event: "labelled".into(),
                detail,
            });
        })
        .map_err(anyhow::Error::from)?;
    let md = crate::daemon::postmortem::markdown_path(&cfg.daemon.state_dir, &args.id);
    crate::atomic::write(&md, crate::agent::render_markdown(&pm)).map_err(anyhow::Error::from)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!(e).context("start the async runtime"))?;
    let remembered = rt.block_on(async {
        let memory = Memory::open(&cfg)?;
        memory.remember(vec![MemoryDoc::from(&pm)]).await
    });
    let (remembered, embedded, why) = match remembered {
        Ok(o) => (true, o.embedded > 0, o.not_embedded),
        Err(e) => (false, false, Some(crate::errors::chain(&e))),
    };
    if args.json {
        out_json(&serde_json::json!({
            "id": args.id,
            "category": category,
            "previous_category": previous,
            "root_cause": pm.root_cause,
            "confirmed_by": pm.confirmed_by,
            "remembered": remembered,
            "embedded": embedded,
            "memory_note": why,
        }));
    } else {
        out(format!(
            "{}: {} ({} by a person){}",
            args.id,
            category,
            if previous == category {
                "confirmed"
            } else {
                "corrected"
            },
            match (&why, remembered) {
                (None, _) => String::new(),
                (Some(w), true) => format!(
                    "; in memory without a vector ({w}); `akashic memory reindex` embeds it later"
                ),
                (Some(w), false) => format!("; memory not updated: {w}"),
            }
        ));
    }
    Ok(crate::exit::OK)
}
