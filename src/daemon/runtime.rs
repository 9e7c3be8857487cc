//! The daemon's event loop: probes run concurrently, their answers drive the pure state
//! machines, and the actions those return are carried out off the loop.

use super::beats::{Beats, StoreHealth};
use super::control::{self, LoopAsk, LoopRequest};
use super::evidence::Seen;
use super::execute::{event, execute};
use super::files::{self, Gate};
use super::params_for;
use super::schedule::{stagger, DueChecks, FileGroups};
use crate::config::{CheckKind, Config, ServiceConfig};
use crate::core::machine::{Action, Machine, Observation, Report};
use crate::errors::chain;
use crate::incident::IncidentStore;
use crate::probe::files::{FileCheck, FileWatch};
use crate::probe::{CounterHistory, ProbeResult, Probes};
use crate::process::{ExitEvent, ProcessControl};
use chrono::Utc;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tracing::{error, info, warn};

/// Options of one daemon run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop by itself after this long (demos, tests).
    pub stop_after: Option<Duration>,
    /// Stop when notified (the demo runs the daemon in-process).
    pub stop: Option<Arc<Notify>>,
}

/// Something that happened off the loop.
pub(super) enum Event {
    /// A group of file checks ran: the group comes home with the answers its machines must see.
    Files {
        group: usize,
        batch: files::Group,
        told: Vec<files::Told>,
    },
    Probe {
        svc: usize,
        check: usize,
        result: ProbeResult,
        /// A counter's samples, coming home; `None` for file checks (their state stays in their group).
        history: Option<CounterHistory>,
    },
    Done {
        svc: usize,
        obs: Observation,
        /// The service's pid after a restart.
        pid: Option<u32>,
    },
}

pub(super) struct Svc {
    pub(super) cfg: ServiceConfig,
    pub(super) machine: Machine,
    pub(super) backend: Option<Arc<dyn ProcessControl>>,
    /// Per check the loop runs; `None` while it runs, and always for file checks.
    pub(super) history: Vec<Option<CounterHistory>>,
    /// Per check: its file-check group and place in the group's `latest`.
    pub(super) files: Vec<Option<(usize, usize)>>,
    pub(super) due: Vec<Instant>,
    pub(super) seen: Seen,
    pub(super) pid: Option<u32>,
    /// Its `depends_on`, as indices into the fleet.
    pub(super) needs: Vec<usize>,
}

/// Everything an action task needs, cheap to clone.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) store: Arc<IncidentStore>,
    pub(super) forensics_budget: Duration,
    pub(super) events: mpsc::UnboundedSender<Event>,
    pub(super) postmortems: Arc<Notify>,
    /// [living] Webhook notifications, when `[notify]` is configured.
    pub(super) notifier: Option<crate::notify::Notifier>,
    /// The signature table, for reading an incident's pattern at detection.
    pub(super) signatures: Arc<crate::agent::signatures::Signatures>,
    /// Services failing within this long of each other, naming one endpoint, are one group.
    pub(super) correlation_window: Duration,
    /// Where closed recommendations are kept (a recurring pattern names the open one).
    pub(super) state_dir: std::path::PathBuf,
    /// Held from reading the incidents a new one may correlate with to writing it: two
    /// services failing at one tick are opened one after the other, the second sees the first.
    pub(super) opening: Arc<std::sync::Mutex<()>>,
}

impl Shared {
    /// [living] Hands an event to the notifier; never waits.
    pub(super) fn notify(
        &self,
        kind: crate::notify::Kind,
        service: &str,
        incident: &str,
        detail: &str,
    ) {
        if let Some(n) = &self.notifier {
            n.send(crate::notify::Event {
                kind,
                service: service.to_string(),
                incident: incident.to_string(),
                detail: crate::agent::redact::redact(detail),
            });
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT (or `stop_after`); a second signal stops it at once.
pub async fn run(cfg: Config, opts: RunOptions) -> anyhow::Result<()> {
    let state_dir = cfg.daemon.state_dir.clone();
    crate::secure::ensure_state_dir(&state_dir)?;
    let (_lock, store) = open_store(&state_dir).await?;
    let store = Arc::new(store);
    let started_at = Utc::now();
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let (exits_tx, mut exits) = mpsc::unbounded_channel::<ExitEvent>();
    let (loop_tx, mut loop_rx) = mpsc::channel::<LoopRequest>(16);
    let shared = Shared {
        store: store.clone(),
        forensics_budget: cfg.daemon.forensics_budget,
        events: events_tx,
        postmortems: Arc::new(Notify::new()),
        signatures: Arc::new(cfg.agent.signatures.clone()),
        correlation_window: super::fleet::correlation_window(cfg.daemon.tick),
        state_dir: state_dir.clone(),
        opening: Arc::new(std::sync::Mutex::new(())),
        // [living] Notifications: a spawned task behind a channel.
        notifier: cfg.notify.as_ref().map(|n| {
            crate::notify::Notifier::spawn(
                n.reminder,
                Arc::new(crate::notify::HttpWebhook::new(&n.webhook)),
            )
        }),
    };

    // The control socket: readers go through the daemon while it holds the store.
    let sock = control::socket_path(&state_dir);
    let _ = std::fs::remove_file(&sock);
    let socket_health = Arc::new(control::SocketHealth::default());
    // The status page, /metrics and /api ([daemon] http): its own thread and runtime, asking the
    // loop as the socket does.
    let web = match &cfg.daemon.http {
        Some(h) => {
            let listeners = crate::web::bind(h).await?;
            let source =
                crate::web::Source::new(Arc::new(cfg.clone()), store.clone(), loop_tx.clone());
            Some(crate::web::spawn(listeners, Arc::new(source))?)
        }
        None => None,
    };
    let control_task = match tokio::net::UnixListener::bind(&sock)
        .and_then(|l| crate::secure::private_socket(&sock).map(|()| l))
    {
        Ok(l) => Some(tokio::spawn(control::serve(
            l,
            store.clone(),
            loop_tx,
            socket_health.clone(),
        ))),
        Err(e) => {
            warn!(path = %sock.display(), error = %e, "cannot open the control socket; `incidents` and `show` will not work while akashic runs");
            None
        }
    };

    let worker_stop = Arc::new(Notify::new());
    let worker = tokio::spawn(crate::daemon::postmortem::worker(
        cfg.clone(),
        store.clone(),
        shared.postmortems.clone(),
        worker_stop.clone(),
    ));

    let now = Instant::now();
    if !crate::probe::files::raise_open_files_limit() {
        warn!("cannot raise the open files limit; file checks may stat by path");
    }
    let file_watch = Arc::new(FileWatch::platform());
    let gate = Arc::new(Gate::new(cfg.services.len()));
    let mut groups = FileGroups::default();
    let mut svcs: Vec<Svc> = Vec::new();
    for svc_cfg in &cfg.services {
        let backend: Option<Arc<dyn ProcessControl>> =
            crate::process::backend_for(svc_cfg, &state_dir, exits_tx.clone()).map(Arc::from);
        let mut svc = Svc {
            machine: Machine::new(params_for(svc_cfg), now),
            backend,
            history: Vec::new(),
            files: Vec::new(),
            // First runs spread over each check's interval, so a large fleet does not come due at once.
            due: svc_cfg
                .checks
                .iter()
                .enumerate()
                .map(|(ci, c)| now + stagger(svcs.len(), ci, c.interval))
                .collect(),
            seen: Seen::default(),
            pid: None,
            needs: svc_cfg
                .depends_on
                .iter()
                .filter_map(|d| cfg.services.iter().position(|s| &s.name == d))
                .collect(),
            cfg: svc_cfg.clone(),
        };
        let si = svcs.len();
        for (ci, c) in svc_cfg.checks.iter().enumerate() {
            match FileCheck::new(&c.kind, &file_watch) {
                Some(probe) => {
                    svc.history.push(None);
                    svc.files
                        .push(Some(groups.add(si, ci, c.interval, probe, now)));
                }
                None => {
                    svc.history.push(Some(CounterHistory::default()));
                    svc.files.push(None);
                }
            }
        }
        let resumed = resume_open_incident(&mut svc, &store, now);
        // A restart that akashic's death interrupted is carried out by the resumed actions:
        // starting the service first would start a copy only to kill it a moment later.
        let restarts_now = resumed
            .as_ref()
            .is_some_and(|a| a.iter().any(|a| matches!(a, Action::Restart { .. })));
        if let Some(b) = svc.backend.clone().filter(|_| !restarts_now) {
            if let Err(e) = b.ensure_started().await {
                error!(service = %svc.cfg.name, error = %chain(&e), "cannot start service");
                let idx = svcs.len();
                let _ = shared.events.send(Event::Done {
                    svc: idx,
                    obs: Observation::Exited {
                        detail: format!("could not start: {}", chain(&e)),
                    },
                    pid: None,
                });
            }
            svc.pid = b.pid().await;
        }
        if let Some(actions) = resumed {
            let idx = svcs.len();
            svcs.push(svc);
            execute(&mut svcs[idx], idx, actions, &shared);
        } else {
            svcs.push(svc);
        }
    }
    info!(services = svcs.len(), state_dir = %state_dir.display(), "akashic watching");
    // Start-up's code (config, store, sockets) is not the loop's: give its pages back.
    crate::footprint::shed("start-up");

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let stop_at = opts.stop_after.map(|d| Instant::now() + d);
    let tick = cfg.daemon.tick;
    let mut next_heartbeat = Instant::now();
    let mut beats = Beats::new(&state_dir, started_at, tick, &svcs, Instant::now());
    let probes = Probes::new();
    let mut store_health = StoreHealth::default();

    // Due checks and state-machine deadlines, earliest first. A check is pushed back
    // only when its last run returns, so it never runs twice at once.
    let mut due = DueChecks::default();
    let mut deadlines: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    for (si, svc) in svcs.iter().enumerate() {
        for ci in 0..svc.cfg.checks.len() {
            if svc.files[ci].is_none() {
                due.push(svc.due[ci], si, ci);
            }
        }
        if let Some(d) = svc.machine.next_deadline() {
            deadlines.push(Reverse((d, si)));
        }
    }

    loop {
        // A dependency's incident opened or closed: its dependents hear it before anything else.
        for si in super::fleet::tell_dependents(&mut svcs, &shared) {
            settle(&mut deadlines, &gate, &mut beats, &svcs[si], si);
        }
        let now = Instant::now();
        for (si, ci) in due.take_due(now) {
            let svc = &mut svcs[si];
            let Some(mut history) = svc.history[ci].take() else {
                continue;
            };
            svc.due[ci] = now + svc.cfg.checks[ci].interval;
            let kind = svc.cfg.checks[ci].kind.clone();
            let tx = shared.events.clone();
            let probes = probes.clone();
            tokio::spawn(async move {
                let result = probes.run(&kind, &mut history).await;
                let _ = tx.send(Event::Probe {
                    svc: si,
                    check: ci,
                    result,
                    history: Some(history),
                });
            });
        }
        // File checks run a group at a time on a blocking thread.
        for (gi, batch) in groups.take_due(now) {
            let tx = shared.events.clone();
            let (watch, gate) = (file_watch.clone(), gate.clone());
            tokio::task::spawn_blocking(move || {
                let mut batch = batch;
                let told = batch.run(&watch, &gate);
                let _ = tx.send(Event::Files {
                    group: gi,
                    batch,
                    told,
                });
            });
        }
        while let Some(Reverse((t, si))) = deadlines.peek().copied() {
            if t > now {
                break;
            }
            deadlines.pop();
            // Stale entries (the machine moved on) are skipped.
            if svcs[si].machine.next_deadline() == Some(t) {
                let actions = svcs[si].machine.step(Observation::Tick, now);
                execute(&mut svcs[si], si, actions, &shared);
                settle(&mut deadlines, &gate, &mut beats, &svcs[si], si);
            }
        }
        if next_heartbeat <= now {
            store_health.tick(&store, &shared);
            beats.tick(&svcs, &groups, now);
            next_heartbeat = now + tick;
        }

        let mut wake = next_heartbeat;
        if let Some(t) = due.next() {
            wake = wake.min(t);
        }
        if let Some(t) = groups.next() {
            wake = wake.min(t);
        }
        if let Some(Reverse((t, _))) = deadlines.peek() {
            wake = wake.min(*t);
        }
        if let Some(s) = stop_at {
            wake = wake.min(s);
            if now >= s {
                info!("stopping: --for elapsed");
                break;
            }
        }

        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            Some(ev) = events.recv() => {
                // Take everything that is waiting, not one event per loop turn.
                let mut next = Some(ev);
                while let Some(ev) = next {
                    let mut handle = |ev| {
                        let (si, requeue) = handle_event(&mut svcs, ev, &shared);
                        if let Some(ci) = requeue {
                            due.push(svcs[si].due[ci], si, ci);
                        }
                        settle(&mut deadlines, &gate, &mut beats, &svcs[si], si);
                    };
                    match ev {
                        Event::Files { group, batch, told } => {
                            groups.home(group, batch);
                            for (svc, check, result) in told {
                                handle(Event::Probe { svc, check, result, history: None });
                            }
                        }
                        ev => handle(ev),
                    }
                    next = events.try_recv().ok();
                }
            }
            Some(exit) = exits.recv() => {
                if let Some(si) = svcs.iter().position(|s| s.cfg.name == exit.service) {
                    warn!(service = %exit.service, detail = %exit.detail, "service exited");
                    let actions = svcs[si].machine.step(Observation::Exited { detail: exit.detail }, Instant::now());
                    execute(&mut svcs[si], si, actions, &shared);
                    settle(&mut deadlines, &gate, &mut beats, &svcs[si], si);
                }
            }
            Some(req) = loop_rx.recv() => {
                let answer = match req.ask {
                    LoopAsk::Status => {
                        let mut hb = beats.heartbeat(&svcs, &groups, Instant::now());
                        hb.degraded = store_health.describe(&store);
                        hb.degraded.extend(socket_health.describe(Instant::now()));
                        let blind: Vec<String> = svcs
                            .iter()
                            .flat_map(|s| s.machine.last.iter().flatten().filter(|r| r.verdict.is_blind()).map(|r| format!("{}: {}", s.cfg.name, r.verdict.detail())))
                            .collect();
                        if !blind.is_empty() {
                            hb.degraded.push(format!("{} checks could not look ({})", blind.len(), blind.join("; ")));
                        }
                        Ok(control::LoopAnswer::Status(Box::new(hb)))
                    }
                    LoopAsk::Vitals => Ok(control::LoopAnswer::Vitals(Box::new(beats.vitals(&svcs, &groups, Instant::now())))),
                    LoopAsk::Resume { service } => match svcs.iter().position(|s| s.cfg.name == service) {
                        None => Err(format!("no service named {service:?} in the config")),
                        Some(si) => {
                            let label = svcs[si].machine.label(Instant::now());
                            if label != "escalated" {
                                Err(format!("{service} is {label}, not escalated; nothing to resume"))
                            } else {
                                let actions = svcs[si].machine.step(Observation::Resume, Instant::now());
                                execute(&mut svcs[si], si, actions, &shared);
                                settle(&mut deadlines, &gate, &mut beats, &svcs[si], si);
                                let budget = if svcs[si].cfg.restart.is_some() { " with a fresh restart budget" } else { "" };
                                Ok(control::LoopAnswer::Message(format!("{service} resumed: watching again{budget}")))
                            }
                        }
                    },
                };
                let _ = req.reply.send(answer);
            }
            _ = async { match &opts.stop { Some(n) => n.notified().await, None => std::future::pending().await } } => { info!("stopping"); break; }
            _ = sigterm.recv() => { info!("SIGTERM: stopping"); break; }
            _ = sigint.recv() => { info!("SIGINT: stopping"); break; }
        }
    }

    // Shutdown: a second signal stops at once. Run in-process (the demo), the caller handles
    // signals: the one that made it stop us also reached our streams, and is not a second.
    if opts.stop.is_none() {
        tokio::spawn(async move {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = sigint.recv() => {}
            }
            eprintln!("second signal: stopping now");
            std::process::exit(crate::exit::FAILURE);
        });
    }
    if let Some(t) = control_task {
        t.abort();
    }
    drop(web);
    // A post-mortem being written is given a moment to finish (it stays queued if not).
    let stopping = tokio::time::Instant::now();
    worker_stop.notify_one();
    if tokio::time::timeout(Duration::from_secs(15), worker)
        .await
        .is_err()
    {
        warn!("post-mortem worker did not finish in 15s; its incident stays queued for the next start");
    } else if stopping.elapsed() > Duration::from_millis(100) {
        info!("post-mortem finished before stopping");
    }
    let _ = std::fs::remove_file(&sock);
    for svc in &svcs {
        if let Some(b) = &svc.backend {
            if let Err(e) = b.shutdown().await {
                warn!(service = %svc.cfg.name, error = %chain(&e), "stopping service failed");
            }
        }
    }
    // The last heartbeat says the stop was clean, and keeps the services' last states.
    beats.stop(&svcs, &groups, Instant::now());
    info!("akashic stopped");
    Ok(())
}

/// Takes the state_dir's lock (an akashic still exiting is waited for, 10 s at most), then
/// opens the store; a store that cannot be opened (a full disk) holds its writes until it can.
async fn open_store(
    state_dir: &std::path::Path,
) -> anyhow::Result<(crate::daemon::lock::DaemonLock, IncidentStore)> {
    let dir = state_dir.to_path_buf();
    let lock = tokio::task::spawn_blocking(move || {
        crate::daemon::lock::DaemonLock::acquire(&dir, Duration::from_secs(10))
    })
    .await??;
    let (store, err) = IncidentStore::open_or_hold(state_dir);
    if let Some(e) = err {
        error!(error = %chain(&e), "incident store cannot be written; incidents are held in memory and written when it can");
    }
    Ok((lock, store))
}

/// After akashic itself restarted: continue a service's open incident instead of opening another.
fn resume_open_incident(svc: &mut Svc, store: &IncidentStore, now: Instant) -> Option<Vec<Action>> {
    let list = match store.list(Some(&svc.cfg.name)) {
        Ok(list) => list,
        Err(e) => {
            warn!(service = %svc.cfg.name, error = %chain(&e), "cannot read open incidents");
            return None;
        }
    };
    let Some(open) = list.iter().find(|i| i.is_open()).cloned() else {
        // The newest incident may be escalated and still held: it stays so, and the
        // failure it is about opens no second incident.
        let held = list.into_iter().next().filter(|i| i.escalation_holds())?;
        let params = params_for(&svc.cfg);
        let until = held.escalated_at.map(|at| {
            let left = (at + params.budget_within) - Utc::now();
            now + left.to_std().unwrap_or_default()
        });
        let note = event(
            "akashic_restarted",
            "akashic itself restarted; the service stays escalated",
        );
        let _ = store.update(&held.id, |i| i.timeline.push(note));
        info!(service = %svc.cfg.name, incident = %held.id, "still escalated");
        svc.machine = Machine::resume_escalated(params, now, held.id, until);
        return None;
    };
    let note = event(
        "akashic_restarted",
        "akashic itself restarted; continuing this incident",
    );
    let _ = store.update(&open.id, |i| i.timeline.push(note));
    info!(service = %svc.cfg.name, incident = %open.id, "continuing open incident");
    let params = params_for(&svc.cfg);
    match open.restarted_at {
        Some(wall) => {
            svc.machine =
                Machine::resume_confirming(params, now, open.id, wall, open.restarts.max(1));
            None
        }
        None => {
            // Detected but not yet restarted when akashic died: restart now.
            svc.machine = Machine::new(params, now);
            svc.machine.restarts.push_back(now);
            svc.machine.phase = crate::core::machine::Phase::Restarting {
                incident: Some(open.id.clone()),
            };
            Some(vec![Action::Restart {
                incident: open.id,
                attempt: 1,
                reason: "restart interrupted when akashic stopped".into(),
            }])
        }
    }
}

/// After a machine stepped: its next deadline, whether it must hear every file answer, and
/// whether what `services.json` says of it changed.
fn settle(
    deadlines: &mut BinaryHeap<Reverse<(Instant, usize)>>,
    gate: &Gate,
    beats: &mut Beats,
    svc: &Svc,
    si: usize,
) {
    if let Some(d) = svc.machine.next_deadline() {
        deadlines.push(Reverse((d, si)));
    }
    gate.set(si, !svc.machine.steady());
    beats.note(si, svc, Instant::now());
}

/// Feeds one event to its service's machine; returns the service and the check to schedule again.
fn handle_event(svcs: &mut [Svc], ev: Event, shared: &Shared) -> (usize, Option<usize>) {
    let now = Instant::now();
    match ev {
        Event::Probe {
            svc: si,
            check,
            result,
            history,
        } => {
            let svc = &mut svcs[si];
            let requeue = history.is_some().then_some(check);
            if history.is_some() {
                svc.history[check] = history;
            }
            match &svc.cfg.checks[check].kind {
                CheckKind::Http { .. } => svc.seen.http_status = result.http_status,
                CheckKind::Port { .. } if !result.verdict.is_blind() => {
                    svc.seen.port_bound = Some(result.verdict.is_ok())
                }
                _ => {}
            }
            if let crate::core::machine::Verdict::Blind { detail } = &result.verdict {
                warn!(service = %svc.cfg.name, %detail, "akashic could not look; the service is not judged on this check until it can");
            }
            let report = Report {
                check,
                verdict: result.verdict,
                progress: result.progress,
            };
            let actions = svc.machine.step(Observation::Check(report), now);
            execute(svc, si, actions, shared);
            (si, requeue)
        }
        Event::Files { .. } => unreachable!("file groups are split before they reach a machine"),
        Event::Done { svc: si, obs, pid } => {
            let svc = &mut svcs[si];
            if pid.is_some() {
                svc.pid = pid;
            }
            let actions = svc.machine.step(obs, now);
            execute(svc, si, actions, shared);
            (si, None)
        }
    }
}
