//! The post-mortem worker: drafts a post-mortem for each queued incident, off the watchdog's path,
//! stores it with the incident, writes it as Markdown and files it into memory.

use crate::agent;
use crate::config::{Config, RestartSpec, ServiceConfig};
use crate::incident::{IncidentStore, TimelineEvent};
use crate::memory::{priors::MemoryPriors, Memory, MemoryDoc};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{error, info, warn, Instrument};

/// Drains the queue on start (incidents left by a previous run) and whenever notified.
/// `stop` ends it between post-mortems: one being written is finished first.
pub async fn worker(
    cfg: Config,
    store: Arc<IncidentStore>,
    notify: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let memory = match Memory::open(&cfg) {
        Ok(m) => Some(m),
        Err(e) => {
            warn!(error = %crate::errors::chain(&e), "memory unavailable; post-mortems are written without similar incidents");
            None
        }
    };
    let mut retry = RETRY_FIRST;
    loop {
        let pending = match store.pending_postmortems() {
            Ok(p) => p,
            Err(e) => {
                error!(error = %crate::errors::chain(&e), "cannot read the post-mortem queue");
                Vec::new()
            }
        };
        let mut failed = false;
        let mut drafted = false;
        for id in pending {
            if stop_requested(&stop) {
                return;
            }
            let span = tracing::info_span!("postmortem", incident = %id);
            let written = write_one(&cfg, &store, memory.as_ref(), &id)
                .instrument(span)
                .await;
            drafted |= written.is_ok();
            if let Err(e) = written {
                failed = true;
                error!(incident = %id, error = %format!("{e:#}"), retry_in_s = retry.as_secs(), "post-mortem failed; it stays queued");
            }
        }
        if drafted {
            // Drafting (signatures, templates, the model) is not the idle loop's code. Only after
            // a post-mortem was written: a queue that keeps failing does not shed at every retry.
            crate::footprint::shed("post-mortems");
        }
        // Woken by a new incident, or after a while to retry what is still queued: soon after
        // a failure (memory on a server that is back in seconds), less often while it lasts.
        let wait = if failed { retry } else { RETRY_EVERY };
        retry = if failed {
            (retry * 2).min(RETRY_EVERY)
        } else {
            RETRY_FIRST
        };
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::timeout(wait, notify.notified()) => {}
        }
    }
}

/// How often queued post-mortems (e.g. memory briefly locked by `akashic ask`) are retried.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// The first retry after a failure; it doubles up to [`RETRY_EVERY`] while failures last.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a stop was asked for, without waiting.
fn stop_requested(stop: &Notify) -> bool {
    futures::FutureExt::now_or_never(stop.notified()).is_some()
}

/// Where a post-mortem's Markdown goes.
pub fn markdown_path(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join("postmortems").join(format!("{id}.md"))
}

/// Drafts, stores and remembers one incident's post-mortem, then takes it off the queue.
pub async fn write_one(
    cfg: &Config,
    store: &IncidentStore,
    memory: Option<&Memory>,
    id: &str,
) -> anyhow::Result<()> {
    let Some(inc) = store.get(id)? else {
        store.postmortem_done(id)?;
        return Ok(());
    };
    // A later member of an inferred group has the group's post-mortem: its first incident's,
    // which names it (and is refreshed now, if it was written before this one closed).
    if let Some(lead) = inferred_lead(&inc) {
        store.postmortem_done(id)?;
        if store.get(&lead)?.is_some_and(|l| l.postmortem.is_some()) {
            Box::pin(write_one(cfg, store, memory, &lead)).await?;
        }
        return Ok(());
    }
    // A post-mortem drafted before (memory was unavailable then) is not drafted again; the
    // services of its group are brought up to date.
    let pm = match inc.postmortem.clone() {
        Some(mut pm) => {
            let (services, endpoint) = group_services(store, &inc);
            if services != pm.services || endpoint != pm.shared_endpoint {
                pm.services = services;
                pm.shared_endpoint = endpoint;
                let path = markdown_path(&cfg.daemon.state_dir, id);
                crate::atomic::write(&path, agent::redact::redact(&agent::render_markdown(&pm)))?;
                store.update(id, |i| i.postmortem = Some(pm.clone()))?;
            }
            pm
        }
        None => {
            let svc = cfg.service(&inc.service);
            let mut evidence = match memory {
                Some(m) => {
                    agent::gather(
                        &inc,
                        svc,
                        &MemoryPriors { memory: m },
                        &cfg.agent.signatures,
                    )
                    .await
                }
                None => agent::gather(&inc, svc, &agent::NoPriors, &cfg.agent.signatures).await,
            };
            evidence
                .changes
                .extend(noticed_changes(svc, inc.detected_at));
            let mut pm = agent::draft(&inc, &evidence, cfg.llm.as_ref()).await;
            (pm.services, pm.shared_endpoint) = group_services(store, &inc);
            let path = markdown_path(&cfg.daemon.state_dir, id);
            crate::atomic::write(&path, agent::redact::redact(&agent::render_markdown(&pm)))?;
            store.update(id, |i| {
                i.postmortem = Some(pm.clone());
                i.timeline.push(TimelineEvent {
                    at: pm.drafted_at,
                    event: "postmortem".into(),
                    detail: format!("{} by {} ({})", pm.category, pm.author, path.display()),
                });
            })?;
            pm
        }
    };
    if let Some(m) = memory {
        let out = m.remember(vec![MemoryDoc::from(&pm)]).await?;
        if out.embedded == 0 {
            warn!(reason = ?out.not_embedded, "post-mortem stored in memory without a vector; `akashic memory reindex` embeds it later");
        }
    }
    store.postmortem_done(id)?;
    let path = markdown_path(&cfg.daemon.state_dir, id);
    info!(category = %pm.category, author = %pm.author, path = %path.display(), "post-mortem written");
    // [living] Digest: rewrite this service's digest and the fleet-wide one (never fails the post-mortem).
    rewrite_digests(cfg, store, memory).await;
    Ok(())
}

/// The first incident of the inferred group a later member belongs to (a held incident's
/// group is its dependency's, which has no post-mortem to share until it closes).
fn inferred_lead(inc: &crate::incident::Incident) -> Option<String> {
    let lead = inc.group.as_deref()?.strip_prefix("grp-")?;
    (inc.caused_by.is_none() && lead != inc.id).then(|| lead.to_string())
}

/// A group's post-mortem names its services: this incident's first, then every other member
/// (services held on it, or that failed with it); for an inferred group, also the endpoint all
/// their evidence names. Empty when it is no group's.
fn group_services(
    store: &IncidentStore,
    inc: &crate::incident::Incident,
) -> (Vec<String>, Option<String>) {
    let Some(group) = &inc.group else {
        return (Vec::new(), None);
    };
    let members: Vec<crate::incident::Incident> = match store.list(None) {
        Ok(list) => list
            .into_iter()
            .filter(|i| i.id != inc.id && i.group.as_ref() == Some(group))
            .collect(),
        Err(e) => {
            warn!(error = %crate::errors::chain(&e), "cannot read the services of this incident's group");
            Vec::new()
        }
    };
    let mut others: Vec<String> = members.iter().map(|i| i.service.clone()).collect();
    others.sort();
    others.dedup();
    others.retain(|s| *s != inc.service);
    if others.is_empty() {
        return (Vec::new(), None);
    }
    let endpoint = if members.iter().any(|i| i.caused_by.is_some()) {
        None
    } else {
        let mounts = crate::daemon::mounts::mount_points();
        let all: Vec<Vec<String>> = members
            .iter()
            .map(|m| crate::daemon::fleet::evidence_endpoints(m, &mounts))
            .collect();
        crate::daemon::fleet::evidence_endpoints(inc, &mounts)
            .into_iter()
            .find(|e| all.iter().all(|m| m.contains(e)))
    };
    let mut services = vec![inc.service.clone()];
    services.extend(others);
    (services, endpoint)
}

/// Rewrites every configured digest from the store, memory, heartbeat and closed recommendations.
async fn rewrite_digests(cfg: &Config, store: &IncidentStore, memory: Option<&Memory>) {
    let now = chrono::Utc::now();
    let incidents = match store.list(None) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %crate::errors::chain(&e), "digest not rewritten: cannot read incidents");
            return;
        }
    };
    let docs = crate::digest::write::remembered(memory, now).await;
    let src = crate::digest::write::sources(cfg, incidents, docs, now);
    let (written, errors) = crate::digest::refresh(cfg, &src, now);
    for e in errors {
        warn!(error = %crate::errors::chain(&e), "digest not rewritten");
    }
    info!(files = written.len(), "digests rewritten");
}

/// How far back a program change counts as "around the incident".
const CHANGE_WINDOW: chrono::Duration = chrono::Duration::days(7);

/// Changes akashic can see itself, beside `git log`: the service's program (the first word of a
/// child's command, found on PATH) modified in the week before detection. akashic's own config
/// is not one: its thresholds do not make a service fail.
pub fn noticed_changes(
    svc: Option<&ServiceConfig>,
    detected_at: DateTime<Utc>,
) -> Vec<agent::Change> {
    let mut out = Vec::new();
    let mut consider = |path: &Path, kind: &str, what: &str| {
        let Some(at) = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(DateTime::<Utc>::from)
        else {
            return;
        };
        if at <= detected_at && detected_at - at <= CHANGE_WINDOW {
            out.push(agent::Change {
                at: Some(at),
                kind: kind.into(),
                summary: format!("{what} {} modified", path.display()),
                files: vec![path.display().to_string()],
            });
        }
    };
    if let Some(RestartSpec::Child(c)) = svc.and_then(|s| s.restart.as_ref()) {
        if let Some(program) = c
            .command
            .first()
            .and_then(|p| resolve_program(p, c.cwd.as_deref()))
        {
            // akashic's own binary (the demo's services run it) is not the service's change.
            let own = std::env::current_exe().ok();
            let same = |p: &Path| {
                let real = |p: &Path| std::fs::canonicalize(p).ok();
                own.as_deref()
                    .and_then(real)
                    .is_some_and(|o| real(p) == Some(o))
            };
            if !same(&program) {
                consider(&program, "binary", "program");
            }
        }
    }
    out
}

/// A program name as the child would find it: a path as given (from its cwd), else the first hit on PATH.
fn resolve_program(program: &str, cwd: Option<&Path>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return Some(match cwd {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        });
    }
    crate::service::plist::which(program, &std::env::var("PATH").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recently_changed_program_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("bot.sh");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        let toml = format!(
            "[[service]]\nname = \"bot\"\n[service.restart]\nkind = \"child\"\ncommand = [\"{}\"]\n[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:9\"\n",
            prog.display()
        );
        let path = dir.path().join("akashic.toml");
        std::fs::write(&path, &toml).unwrap();
        let cfg = crate::config::load(&path).unwrap();
        let now = Utc::now();
        let changes = noticed_changes(cfg.service("bot"), now);
        let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, vec!["binary"], "{changes:?}");
        // Changes after detection, or long before it, are not around the incident.
        assert!(noticed_changes(cfg.service("bot"), now - chrono::Duration::hours(1)).is_empty());
        assert!(noticed_changes(cfg.service("bot"), now + chrono::Duration::days(8)).is_empty());
    }

    #[test]
    fn akashics_own_binary_is_not_a_services_change() {
        let dir = tempfile::tempdir().unwrap();
        let own = std::env::current_exe().unwrap();
        // Freshly "built": modified just now, like the demo's binary after `cargo build`.
        let toml = format!(
            "[[service]]\nname = \"demo\"\n[service.restart]\nkind = \"child\"\ncommand = [\"{}\", \"demo-service\"]\n[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:9\"\n",
            own.display()
        );
        let path = dir.path().join("akashic.toml");
        std::fs::write(&path, &toml).unwrap();
        let cfg = crate::config::load(&path).unwrap();
        let built = DateTime::<Utc>::from(std::fs::metadata(&own).unwrap().modified().unwrap());
        assert!(
            noticed_changes(cfg.service("demo"), built + chrono::Duration::seconds(1)).is_empty()
        );
    }
}
