//! Reading incidents for the CLI (through the daemon when it runs) and the JSON shapes of specs/cli.md.

use crate::config::Config;
use crate::daemon::control::{self, Request};
use crate::incident::{Incident, IncidentStore, StoreError};
use serde_json::{json, Value};

/// Asks the running daemon (it also knows incidents it could not yet write), else (none
/// running, or its socket over its limits) reads the store itself.
fn read<T: serde::de::DeserializeOwned>(
    cfg: &Config,
    req: &Request,
    empty: T,
    direct: impl Fn(&IncidentStore) -> Result<T, StoreError>,
) -> anyhow::Result<T> {
    let state_dir = &cfg.daemon.state_dir;
    match control::ask(state_dir, req) {
        Ok(Some(v)) => return Ok(serde_json::from_value(v)?),
        Ok(None) | Err(control::ControlError::Busy) => {}
        Err(e) => return Err(e.into()),
    }
    if !IncidentStore::path_in(state_dir).exists() {
        return Ok(empty);
    }
    let store = IncidentStore::open_read_only(state_dir)?;
    Ok(direct(&store)?)
}

/// Incidents, newest first: from the running daemon, else from the store directly.
pub fn list(cfg: &Config, service: Option<&str>) -> anyhow::Result<Vec<Incident>> {
    let req = Request::Incidents {
        service: service.map(str::to_string),
    };
    read(cfg, &req, Vec::new(), |s| s.list(service))
}

/// One incident by id.
pub fn get(cfg: &Config, id: &str) -> anyhow::Result<Option<Incident>> {
    read(cfg, &Request::Show { id: id.to_string() }, None, |s| {
        s.get(id)
    })
}

/// `incidents --json` element: the stable keys of specs/cli.md (more keys may follow).
pub fn brief(i: &Incident) -> Value {
    json!({
        "id": i.id,
        "service": i.service,
        "detected_at": i.detected_at,
        "failed_checks": i.failed_checks.iter().map(|f| json!({"kind": f.kind, "detail": f.detail})).collect::<Vec<_>>(),
        "process": {"running": i.process.running, "port_bound": i.process.port_bound, "http_status": i.process.http_status},
        "action": i.action,
        "recovered": i.recovered,
        "recovery_confirmed_at": i.recovery_confirmed_at,
        "escalated": i.escalated_at.is_some(),
        "state": state(i),
        "postmortem": i.postmortem.as_ref().map(|p| json!({"author": p.author, "category": p.category})),
        "pattern": i.pattern,
        "caused_by": i.caused_by,
        "group": i.group,
    })
}

/// `show --json`: the brief keys plus everything else, with the full post-mortem.
pub fn full(i: &Incident) -> Value {
    let mut v = serde_json::to_value(i).expect("incidents serialize");
    let b = brief(i);
    if let (Some(obj), Some(bobj)) = (v.as_object_mut(), b.as_object()) {
        for (k, val) in bobj {
            if k != "postmortem" && k != "failed_checks" && k != "process" {
                obj.insert(k.clone(), val.clone());
            }
        }
    }
    v
}

/// A one-word state of an incident. An escalated incident that was let go (a person resumed
/// the service, or its restart budget refilled) is no longer escalated.
pub fn state(i: &Incident) -> &'static str {
    let after = |event: &str| i.timeline.iter().any(|e| e.event == event);
    if i.recovered {
        "recovered"
    } else if i.escalated_at.is_some() && after("resumed") {
        "resumed"
    } else if i.escalated_at.is_some() && after("budget_refilled") {
        "refilled"
    } else if i.escalated_at.is_some() {
        "escalated"
    } else if i.caused_by.is_some() {
        "held"
    } else {
        "open"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(escalated: bool, events: &[&str], recovered: bool) -> Incident {
        let timeline: Vec<Value> = events
            .iter()
            .map(|e| json!({"at": "2026-03-14T03:14:00Z", "event": e, "detail": ""}))
            .collect();
        serde_json::from_value(json!({
            "id": "inc-1", "service": "bot", "detected_at": "2026-03-14T03:14:00Z",
            "failed_checks": [], "process": {"running": true, "port_bound": null, "http_status": null},
            "action": "none", "restarts": 0, "recovered": recovered,
            "escalated_at": escalated.then_some("2026-03-14T03:15:00Z"),
            "timeline": timeline,
        }))
        .expect("an incident")
    }

    /// Regression: the incident a person resumed stayed `escalated` in `incidents` forever.
    #[test]
    fn a_resumed_incident_is_not_escalated_forever() {
        let table = [
            (false, &[][..], false, "open"),
            (true, &["escalated"][..], false, "escalated"),
            (true, &["escalated", "resumed"][..], false, "resumed"),
            (
                true,
                &["escalated", "budget_refilled"][..],
                false,
                "refilled",
            ),
            (true, &["escalated", "resumed"][..], true, "recovered"),
        ];
        for (escalated, events, recovered, want) in table {
            let i = incident(escalated, events, recovered);
            assert_eq!(state(&i), want, "{events:?}");
            assert_eq!(brief(&i)["state"], want);
        }
    }
}
