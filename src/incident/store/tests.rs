//! The incident store: round trips, readers beside the writer, a full database held and written
//! later, and the one-time import of the sled store of earlier versions.

use super::*;
use crate::incident::model::{FailedCheck, ProcessState, TimelineEvent};
use chrono::{TimeZone, Utc};

fn inc(n: u32, service: &str) -> Incident {
    let at = Utc.timestamp_opt(1_780_000_000 + n as i64, 0).unwrap();
    Incident {
        id: new_id(at),
        service: service.into(),
        detected_at: at,
        failed_checks: vec![FailedCheck {
            kind: "log_stale".into(),
            failure: Some("stale".into()),
            detail: format!("log unchanged for {n}m"),
        }],
        process: ProcessState::default(),
        forensics: None,
        log_tail: Some("x".repeat(2000)),
        action: "restart pending".into(),
        restarts: 0,
        restarted_at: None,
        recovered: false,
        recovery_confirmed_at: None,
        recovery_evidence: None,
        escalated_at: None,
        escalation_reason: None,
        timeline: vec![TimelineEvent {
            at,
            event: "detected".into(),
            detail: "d".into(),
        }],
        postmortem: None,
        pattern: None,
        caused_by: None,
        group: None,
    }
}

impl IncidentStore {
    /// Caps the database at its current size, so the next write fails as on a full disk
    /// (`SQLITE_FULL`); `None` lifts the cap.
    fn cap_pages(&self, cap: Option<u32>) {
        let guard = self.conn.lock().unwrap();
        let conn = guard.as_ref().unwrap();
        let n: u32 = match cap {
            Some(extra) => {
                conn.query_row("PRAGMA page_count", [], |r| r.get::<_, u32>(0))
                    .unwrap()
                    + extra
            }
            None => 1 << 30,
        };
        conn.query_row(&format!("PRAGMA max_page_count = {n}"), [], |_| Ok(()))
            .unwrap();
    }
}

#[test]
fn writes_survive_reopen_newest_first_with_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (inc(1, "a"), inc(2, "b"), inc(3, "a"));
    {
        let s = IncidentStore::open(dir.path()).unwrap();
        assert_eq!(s.put(&a).unwrap(), Durability::Durable);
        s.put_and_enqueue(&b).unwrap();
        s.put(&c).unwrap();
        s.update_and_enqueue(&a.id, |i| i.restarts = 1)
            .unwrap()
            .unwrap();
        s.update(&c.id, |i| i.restarts = 2).unwrap().unwrap();
        s.postmortem_done(&b.id).unwrap();
    }
    let s = IncidentStore::open(dir.path()).unwrap();
    let ids: Vec<_> = s.list(None).unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(ids, [c.id.clone(), b.id.clone(), a.id.clone()]);
    let of_a: Vec<_> = s
        .list(Some("a"))
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(of_a, [c.id.clone(), a.id.clone()]);
    assert_eq!(s.get(&c.id).unwrap().unwrap().restarts, 2);
    assert_eq!(
        s.pending_postmortems().unwrap(),
        std::slice::from_ref(&a.id)
    );
    assert!(s.get("inc-none").unwrap().is_none());
    assert!(s.update("inc-none", |_| {}).unwrap().is_none());
}

#[test]
fn a_reader_opens_the_store_while_the_daemon_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let writer = IncidentStore::open(dir.path()).unwrap();
    let first = inc(1, "a");
    writer.put(&first).unwrap();
    let reader = IncidentStore::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.list(None).unwrap().len(), 1);
    writer.put(&inc(2, "a")).unwrap();
    assert_eq!(
        reader.list(None).unwrap().len(),
        2,
        "the reader sees new commits"
    );
}

#[test]
fn a_full_database_holds_writes_serves_them_and_writes_them_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let s = IncidentStore::open(dir.path()).unwrap();
    let before = inc(1, "a");
    s.put(&before).unwrap();
    s.cap_pages(Some(0));
    let opened = inc(2, "a");
    assert_eq!(s.put_and_enqueue(&opened).unwrap(), Durability::Held);
    let (reason, n) = s.degraded().expect("degraded while full");
    assert!(reason.contains("full"), "{reason}");
    assert_eq!(n, 1);
    // Held incidents are shown, updated and queued like stored ones.
    s.update(&opened.id, |i| i.restarts = 1).unwrap();
    assert_eq!(s.list(None).unwrap().len(), 2);
    assert_eq!(s.get(&opened.id).unwrap().unwrap().restarts, 1);
    assert_eq!(
        s.pending_postmortems().unwrap(),
        std::slice::from_ref(&opened.id)
    );
    assert!(s.flush_held().is_err(), "still full");
    // What a reader of the file alone (the page's own connection) adds to its list.
    let held: Vec<String> = s.held_incidents().into_iter().map(|i| i.id).collect();
    assert_eq!(held, std::slice::from_ref(&opened.id));

    s.cap_pages(None);
    assert_eq!(s.flush_held().unwrap(), 1);
    assert!(s.degraded().is_none());
    assert!(s.held_incidents().is_empty());
    drop(s);
    let s = IncidentStore::open(dir.path()).unwrap();
    assert_eq!(s.get(&opened.id).unwrap().unwrap().restarts, 1);
    assert_eq!(s.get(&before.id).unwrap().unwrap(), before);
    assert_eq!(s.pending_postmortems().unwrap(), [opened.id]);
}

#[test]
fn a_write_while_held_does_not_overtake_the_hold() {
    let dir = tempfile::tempdir().unwrap();
    let s = IncidentStore::open(dir.path()).unwrap();
    s.cap_pages(Some(0));
    let a = inc(1, "a");
    s.put(&a).unwrap();
    s.cap_pages(None);
    // The next write flushes the hold first, then lands itself.
    s.postmortem_done(&a.id).unwrap();
    assert!(s.degraded().is_none());
    assert!(s.get(&a.id).unwrap().is_some());
}

#[test]
fn a_store_that_cannot_be_opened_starts_held_and_connects_later() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = IncidentStore::path_in(dir.path());
    std::fs::create_dir(&blocker).unwrap(); // a directory where the file should be
    let (s, err) = IncidentStore::open_or_hold(dir.path());
    assert!(err.is_some());
    let a = inc(1, "a");
    assert_eq!(s.put(&a).unwrap(), Durability::Held);
    assert_eq!(s.list(None).unwrap().len(), 1);
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(s.flush_held().unwrap(), 1);
    assert!(s.degraded().is_none());
    assert!(IncidentStore::open(dir.path())
        .unwrap()
        .get(&a.id)
        .unwrap()
        .is_some());
}

#[test]
fn the_sled_store_of_an_earlier_version_is_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (inc(1, "a"), inc(2, "b"));
    {
        let db = sled::open(IncidentStore::legacy_path_in(dir.path())).unwrap();
        let t = db.open_tree("incidents").unwrap();
        t.insert(a.id.as_bytes(), serde_json::to_vec(&a).unwrap())
            .unwrap();
        t.insert(b.id.as_bytes(), serde_json::to_vec(&b).unwrap())
            .unwrap();
        db.open_tree("postmortem_queue")
            .unwrap()
            .insert(b.id.as_bytes(), &[])
            .unwrap();
        db.flush().unwrap();
    }
    let s = IncidentStore::open(dir.path()).unwrap();
    assert_eq!(s.list(None).unwrap(), vec![b.clone(), a.clone()]);
    assert_eq!(
        s.pending_postmortems().unwrap(),
        std::slice::from_ref(&b.id)
    );
    assert!(!IncidentStore::legacy_path_in(dir.path()).exists());
    assert!(dir.path().join("incidents.sled.imported").is_dir());
    drop(s);
    assert_eq!(
        IncidentStore::open(dir.path())
            .unwrap()
            .list(None)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn secrets_are_masked_before_they_reach_the_disk() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let store = IncidentStore::open(tmp.path()).unwrap();
    let mut i = inc(1, "api");
    i.log_tail = Some("connecting with Authorization: Bearer tok3nSecretValue1234\n".into());
    i.failed_checks[0].detail = "GET https://u:hunter2pw@h/health answered 500".into();
    i.timeline[0].detail = "AKIAIOSFODNN7EXAMPLE leaked".into();
    store.put(&i).unwrap();
    let shown = store.get(&i.id).unwrap().unwrap();
    assert!(shown.log_tail.unwrap().contains("[REDACTED]"));
    drop(store);
    for name in ["incidents.db", "incidents.db-wal", "incidents.db-shm"] {
        let p = tmp.path().join(name);
        let raw = std::fs::read(&p).unwrap_or_default();
        for secret in ["tok3nSecretValue1234", "hunter2pw", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(
                !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {name}"
            );
        }
        if p.exists() {
            assert_eq!(
                std::fs::metadata(&p).unwrap().mode() & 0o777,
                0o600,
                "{name}"
            );
        }
    }
}

#[test]
fn a_reader_sees_data_version_move_only_when_another_connection_writes() {
    let dir = tempfile::tempdir().unwrap();
    let writer = IncidentStore::open(dir.path()).unwrap();
    let reader = IncidentStore::open_read_only(dir.path()).unwrap();
    let v0 = reader.data_version().unwrap().expect("tables exist");
    assert_eq!(
        reader.data_version().unwrap(),
        Some(v0),
        "no write, no change"
    );
    let one = inc(1, "bot");
    writer.put(&one).unwrap();
    let v1 = reader.data_version().unwrap().unwrap();
    assert_ne!(v1, v0);
    assert!(writer
        .update(&one.id, |i| i.recovered = true)
        .unwrap()
        .is_some());
    assert_ne!(reader.data_version().unwrap().unwrap(), v1);
}

#[test]
fn concurrent_changes_to_one_incident_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(IncidentStore::open(dir.path()).unwrap());
    let first = inc(1, "bot");
    store.put(&first).unwrap();
    let per_thread = 100;
    let threads: Vec<_> = ["restart", "correlated"]
        .into_iter()
        .map(|what| {
            let (store, id) = (store.clone(), first.id.clone());
            std::thread::spawn(move || {
                for n in 0..per_thread {
                    store
                        .update(&id, |i| {
                            i.timeline.push(TimelineEvent {
                                at: i.detected_at,
                                event: what.into(),
                                detail: n.to_string(),
                            })
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let kept = store.get(&first.id).unwrap().unwrap().timeline;
    for what in ["restart", "correlated"] {
        assert_eq!(
            kept.iter().filter(|e| e.event == what).count(),
            per_thread,
            "every {what} change is kept"
        );
    }
}
