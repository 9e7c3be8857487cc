//! `akashic label`: a person's correction is stored, shown, remembered, and decides the next incident
//! of the same pattern (fleet.md; eval pair evals/cases/label-pair-*).

use crate::util::{Fleet, AKASHIC};
use akashic::agent::case;
use akashic::core::category::Category;
use akashic::daemon::postmortem::write_one;
use akashic::incident::IncidentStore;
use akashic::memory::{Embedder, HashEmbedder, Memory, StoreSpec};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

const CONFIG: &str = r#"
[daemon]
state_dir = "{DIR}/state"

[[service]]
name = "partner-feed-sync"
[service.restart]
kind = "command"
run = ["true"]
[[service.check]]
kind = "log_stale"
path = "{DIR}/feed.log"
max_age = "2h"
"#;

fn label(fleet: &Fleet, args: &[&str]) -> Output {
    Command::new(AKASHIC)
        .arg("--config")
        .arg(&fleet.config)
        .arg("label")
        .args(args)
        .env("AKASHIC_TEST_EMBEDDER", "hash")
        .output()
        .unwrap()
}

fn incident_of(case_file: &str) -> akashic::incident::Incident {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("evals/cases")
        .join(case_file);
    case::load(&path).unwrap().incident()
}

#[tokio::test]
async fn after_a_person_corrects_the_first_incident_the_second_of_the_same_pattern_is_classified_right(
) {
    let fleet = Fleet::new(CONFIG);
    let cfg = akashic::config::load(&fleet.config).unwrap();
    let store = IncidentStore::open(&cfg.daemon.state_dir).unwrap();
    let memory = Memory::with_parts(
        StoreSpec::from_config(&cfg),
        Arc::new(|| Ok(Box::new(HashEmbedder::new(384)) as Box<dyn Embedder>)),
    );

    // the first incident: a partner's own code nobody taught akashic, drafted by the daemon's worker
    let first = incident_of("label-pair-1-before.toml");
    store.put(&first).unwrap();
    write_one(&cfg, &store, Some(&memory), &first.id)
        .await
        .unwrap();
    let pm = store.get(&first.id).unwrap().unwrap().postmortem.unwrap();
    assert_eq!(pm.category, Category::Unknown, "{pm:#?}");
    assert_eq!(pm.confirmed_by, None);

    // exit codes of the contract: unknown id 1, category outside the taxonomy 2
    assert_eq!(
        label(&fleet, &["nope", "rate_limit"]).status.code(),
        Some(1)
    );
    assert_eq!(
        label(&fleet, &[&first.id, "slowness"]).status.code(),
        Some(2)
    );

    let out = label(
        &fleet,
        &[
            &first.id,
            "rate_limit",
            "--root-cause",
            "PX-4471 is the partner's hourly quota code; the sync requeues at once",
            "--note",
            "partner docs, section 7",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["category"], "rate_limit");
    assert_eq!(v["previous_category"], "unknown");
    assert_eq!(v["embedded"], true, "{v}");

    // stored and shown
    let shown = fleet.show(&first.id);
    assert_eq!(shown["postmortem"]["category"], "rate_limit");
    assert_eq!(shown["postmortem"]["confirmed_by"], "person");
    assert!(shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "labelled" && e["detail"].as_str().unwrap().contains("section 7")));
    let md = std::fs::read_to_string(
        cfg.daemon
            .state_dir
            .join("postmortems")
            .join(format!("{}.md", first.id)),
    )
    .unwrap();
    assert!(md.contains("hourly quota code"), "{md}");

    // the second incident of the same pattern: memory decides
    let second = incident_of("label-pair-2-after.toml");
    store.put(&second).unwrap();
    write_one(&cfg, &store, Some(&memory), &second.id)
        .await
        .unwrap();
    let pm2 = store.get(&second.id).unwrap().unwrap().postmortem.unwrap();
    assert_eq!(pm2.category, Category::RateLimit, "{pm2:#?}");
    assert!(pm2.root_cause.contains(&first.id), "{}", pm2.root_cause);
    assert!(pm2
        .evidence
        .iter()
        .any(|e| e.text.contains("partner answered PX-4471")));
    let prior = pm2
        .prior_incidents
        .iter()
        .find(|p| p.id == first.id)
        .expect("the corrected incident is a prior");
    assert!(prior.same_pattern);
}
