//! The daemon's event loop: probes run concurrently, their answers drive the pure state
//! machines, and the actions those return are carried out off the loop.

use super::control::{self, LoopAsk, LoopRequest};
use super::evidence::{self, Seen};
use super::files::{self, Gate};
use super::heartbeat::{self, Beat, CheckStatus, Heartbeat, ServiceStatus};
use super::params_for;
use crate::config::{CheckKind, Config, ServiceConfig};
use crate::core::machine::{Action, Machine, Observation, Report};
use crate::errors::chain;
use crate::incident::{FailedCheck, Incident, IncidentStore, TimelineEvent};
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
enum Event {
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

struct Svc {
    cfg: ServiceConfig,
    machine: Machine,
    backend: Option<Arc<dyn ProcessControl>>,
    /// Per check the loop runs; `None` while it runs, and always for file checks.
    history: Vec<Option<CounterHistory>>,
    /// Per check: its file-check group and place in the group's `latest`.
    files: Vec<Option<(usize, usize)>>,
    due: Vec<Instant>,
    seen: Seen,
    pid: Option<u32>,
}

/// Everything an action task needs, cheap to clone.
#[derive(Clone)]
struct Shared {
    store: Arc<IncidentStore>,
    forensics_budget: Duration,
    events: mpsc::UnboundedSender<Event>,
    postmortems: Arc<Notify>,
    /// [living] Webhook notifications, when `[notify]` is configured.
    notifier: Option<crate::notify::Notifier>,
}

impl Shared {
    /// [living] Hands an event to the notifier; never waits.
    fn notify(&self, kind: crate::notify::Kind, service: &str, incident: &str, detail: &str) {
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
                        Ok(serde_json::to_value(hb).expect("heartbeat serializes"))
                    }
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
                                Ok(format!("{service} resumed: watching again{budget}").into())
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

    // Shutdown: a second signal stops at once.
    tokio::spawn(async move {
        tokio::select! {
            _ = sigterm.recv() => {}
            _ = sigint.recv() => {}
        }
        eprintln!("second signal: stopping now");
        std::process::exit(crate::exit::FAILURE);
    });
    if let Some(t) = control_task {
        t.abort();
    }
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

/// The checks waiting to run, grouped by when they are due. Checks that ran together come
/// due together again, so a fleet's checks sit in a few groups and taking a tick's worth is
/// one map operation, not one heap operation per check.
#[derive(Default)]
struct DueChecks {
    groups: std::collections::BTreeMap<Instant, Vec<(usize, usize)>>,
}

impl DueChecks {
    fn push(&mut self, at: Instant, si: usize, ci: usize) {
        self.groups.entry(at).or_default().push((si, ci));
    }

    /// Removes and returns every check due at `now`.
    fn take_due(&mut self, now: Instant) -> Vec<(usize, usize)> {
        let later = self.groups.split_off(&(now + Duration::from_nanos(1)));
        let due = std::mem::replace(&mut self.groups, later);
        let mut out = Vec::new();
        for (_, mut g) in due {
            out.append(&mut g);
        }
        out
    }

    fn next(&self) -> Option<Instant> {
        self.groups.keys().next().copied()
    }
}

/// Slots per interval that first runs are spread over (network and counter checks, and
/// file-check groups): enough to smooth the load.
const STAGGER_SLOTS: usize = 8;

/// A fixed slot for a check's first run, one of `STAGGER_SLOTS`.
fn stagger_slot(si: usize, ci: usize) -> usize {
    (si.wrapping_mul(7919).wrapping_add(ci.wrapping_mul(104_729))) % STAGGER_SLOTS
}

/// A fixed offset within `interval` for a check's first run.
fn stagger(si: usize, ci: usize, interval: Duration) -> Duration {
    slot_offset(stagger_slot(si, ci), interval)
}

/// Where `slot` (one of [`STAGGER_SLOTS`], wrapping) starts within `interval`.
fn slot_offset(slot: usize, interval: Duration) -> Duration {
    interval.mul_f64((slot % STAGGER_SLOTS) as f64 / STAGGER_SLOTS as f64)
}

/// The file-check groups: one per interval and file system. A fleet's file checks run in a
/// few large batches (each wakes threads once, however many checks it holds), and a file
/// system that hangs stalls only the checks on it.
#[derive(Default)]
struct FileGroups {
    /// Each group (`None` while it runs), when it is due, and its `latest` table.
    slots: Vec<(Option<files::Group>, Instant, files::Latest)>,
    by_key: std::collections::HashMap<(Duration, Option<u64>), usize>,
}

impl FileGroups {
    /// Adds a check to its group; returns the group and the check's place in it. Groups
    /// take turns over the first interval from `start` (one of [`STAGGER_SLOTS`] each), so
    /// two groups do not drain the feed at the same instant.
    fn add(
        &mut self,
        si: usize,
        ci: usize,
        interval: Duration,
        probe: FileCheck,
        start: Instant,
    ) -> (usize, usize) {
        let next = self.slots.len();
        let gi = *self
            .by_key
            .entry((interval, probe.device()))
            .or_insert(next);
        if gi == next {
            let first = start + slot_offset(gi, interval);
            let g = files::Group::new(interval);
            let latest = g.latest.clone();
            self.slots.push((Some(g), first, latest));
        }
        let place = self.slots[gi]
            .0
            .as_mut()
            .expect("groups are home while the daemon starts")
            .push(si, ci, probe);
        (gi, place)
    }

    /// Takes every group that is due and at home; they are due again one interval on, on
    /// their own grid (a late wake-up does not push later runs back), unless a whole
    /// interval was missed.
    fn take_due(&mut self, now: Instant) -> Vec<(usize, files::Group)> {
        let mut out = Vec::new();
        for (gi, (group, due, _)) in self.slots.iter_mut().enumerate() {
            if *due <= now {
                if let Some(g) = group.take() {
                    let next = *due + g.interval;
                    *due = if next > now { next } else { now + g.interval };
                    out.push((gi, g));
                }
            }
        }
        out
    }

    fn home(&mut self, gi: usize, g: files::Group) {
        self.slots[gi].0 = Some(g);
    }

    /// When the next group at home falls due.
    fn next(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|(g, _, _)| g.is_some())
            .map(|(_, due, _)| *due)
            .min()
    }

    /// A file check's last answer.
    fn latest(&self, (gi, place): (usize, usize)) -> Option<crate::core::machine::Verdict> {
        files::lock(&self.slots[gi].2)
            .get(place)
            .and_then(|a| a.as_ref().map(|a| a.verdict()))
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

fn event(event: &str, detail: impl Into<String>) -> TimelineEvent {
    TimelineEvent {
        at: Utc::now(),
        event: event.into(),
        detail: detail.into(),
    }
}

fn log_store_error(what: &str, e: impl std::fmt::Display) {
    error!(error = %e, "incident store: {what} failed");
}

/// Carries out the machine's actions: quick store writes inline, slow work in tasks.
fn execute(svc: &mut Svc, si: usize, actions: Vec<Action>, shared: &Shared) {
    for action in actions {
        let name = svc.cfg.name.clone();
        match action {
            Action::OpenIncident {
                failed,
                restart,
                escalate,
                held: _,
            } => {
                // The incident is named in the log once it is durable (OpenTask), not before.
                warn!(service = %name, failed = %summary(&failed), "unhealthy: capturing evidence");
                let task = OpenTask {
                    si,
                    detected_at: Utc::now(),
                    cfg: svc.cfg.clone(),
                    backend: svc.backend.clone(),
                    seen: svc.seen.clone(),
                    failed,
                    restart,
                    escalate,
                    shared: shared.clone(),
                };
                tokio::spawn(task.run());
            }
            Action::Restart {
                incident,
                attempt,
                reason,
            } => {
                info!(service = %name, %incident, attempt, %reason, "restarting again");
                let backend = svc.backend.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let (obs, pid) =
                        do_restart(&shared, backend.as_deref(), &incident, attempt).await;
                    let _ = shared.events.send(Event::Done { svc: si, obs, pid });
                });
            }
            Action::ConfirmRecovery { incident, evidence } => {
                info!(service = %name, %incident, %evidence, "recovery confirmed");
                let now = Utc::now();
                let res = shared.store.update(&incident, |i| {
                    i.recovered = true;
                    i.recovery_confirmed_at = Some(now);
                    i.recovery_evidence = Some(evidence.clone());
                    i.timeline.push(event(
                        "recovered",
                        format!("recovery confirmed: {evidence}"),
                    ));
                });
                match res.and_then(|_| shared.store.enqueue_postmortem(&incident)) {
                    Ok(_) => shared.postmortems.notify_one(),
                    Err(e) => log_store_error("recording recovery", e),
                }
                shared.notify(crate::notify::Kind::Recovery, &name, &incident, &evidence);
            }
            Action::Escalate { incident, reason } => {
                error!(service = %name, %incident, %reason, "escalated: akashic stops restarting this service");
                let now = Utc::now();
                let res = shared.store.update(&incident, |i| {
                    i.escalated_at = Some(now);
                    i.escalation_reason = Some(reason.clone());
                    i.timeline.push(event("escalated", reason.clone()));
                });
                match res.and_then(|_| shared.store.enqueue_postmortem(&incident)) {
                    Ok(_) => shared.postmortems.notify_one(),
                    Err(e) => log_store_error("recording escalation", e),
                }
                shared.notify(crate::notify::Kind::Escalation, &name, &incident, &reason);
            }
            Action::Note {
                incident,
                event: ev,
                detail,
            } => {
                info!(service = %name, %incident, event = ev, %detail);
                if let Err(e) = shared
                    .store
                    .update(&incident, |i| i.timeline.push(event(ev, detail.clone())))
                {
                    log_store_error("adding a timeline note", e);
                }
            }
        }
    }
}

fn summary(failed: &[FailedCheck]) -> String {
    failed
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Opening an incident: evidence first (bounded), then a durable write, then the restart.
struct OpenTask {
    si: usize,
    /// When the machine decided (not when this task got a thread: on a busy runtime that
    /// can be later).
    detected_at: chrono::DateTime<Utc>,
    cfg: ServiceConfig,
    backend: Option<Arc<dyn ProcessControl>>,
    seen: Seen,
    failed: Vec<FailedCheck>,
    restart: bool,
    escalate: Option<String>,
    shared: Shared,
}

impl OpenTask {
    async fn run(self) {
        let detected_at = self.detected_at;
        let process = evidence::process_state(&self.cfg, self.backend.as_deref(), &self.seen).await;
        let forensics =
            evidence::forensics(process.pid, process.running, self.shared.forensics_budget).await;
        let log_tail = self.cfg.log_path().and_then(|p| evidence::log_tail(p));
        let id = crate::incident::store::new_id(detected_at);
        let mut timeline = vec![TimelineEvent {
            at: detected_at,
            event: "detected".into(),
            detail: summary(&self.failed),
        }];
        timeline.push(event(
            "evidence",
            format!(
                "process {}; port {}; last HTTP {}{}",
                match (process.running, process.pid) {
                    (Some(true), Some(pid)) => format!("running (pid {pid})"),
                    (Some(false), Some(pid)) => format!("not running (pid {pid} gone)"),
                    _ => "state unknown".into(),
                },
                match process.port_bound {
                    Some(true) => "bound",
                    Some(false) => "not bound",
                    None => "unknown",
                },
                process
                    .http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
                forensics
                    .as_ref()
                    .map(|f| format!(
                        "; forensics by {} in {}ms{}",
                        f.method,
                        f.took_ms,
                        if f.truncated { " (truncated)" } else { "" }
                    ))
                    .unwrap_or_default()
            ),
        ));
        let mut inc = Incident {
            id: id.clone(),
            service: self.cfg.name.clone(),
            detected_at,
            failed_checks: self.failed.clone(),
            process,
            forensics,
            log_tail,
            action: if self.restart {
                "restart pending".into()
            } else {
                "none".into()
            },
            restarts: 0,
            restarted_at: None,
            recovered: false,
            recovery_confirmed_at: None,
            recovery_evidence: None,
            escalated_at: None,
            escalation_reason: None,
            timeline,
            postmortem: None,
        };
        if let Some(reason) = &self.escalate {
            inc.action = format!("none (escalated: {reason})");
            inc.escalated_at = Some(Utc::now());
            inc.escalation_reason = Some(reason.clone());
            inc.timeline.push(event("escalated", reason.clone()));
        }
        // Facts first: durable before any restart or slow work.
        let written = if self.escalate.is_some() {
            self.shared.store.put_and_enqueue(&inc)
        } else {
            self.shared.store.put(&inc)
        };
        match written {
            Ok(crate::incident::store::Durability::Durable) => {
                warn!(service = %self.cfg.name, incident = %id, "incident opened")
            }
            Ok(crate::incident::store::Durability::Held) => {
                error!(service = %self.cfg.name, incident = %id, "incident opened but not yet on disk (held in memory until the store takes writes again)")
            }
            Err(e) => log_store_error("writing a new incident", e),
        }
        if self.escalate.is_some() {
            self.shared.postmortems.notify_one();
        }
        // [living] Incident opened (or escalated at once): tell the operator, after the durable write.
        match &self.escalate {
            Some(reason) => {
                self.shared
                    .notify(crate::notify::Kind::Escalation, &self.cfg.name, &id, reason)
            }
            None => self.shared.notify(
                crate::notify::Kind::Incident,
                &self.cfg.name,
                &id,
                &summary(&self.failed),
            ),
        }
        let (obs, pid) = if self.restart {
            do_restart(&self.shared, self.backend.as_deref(), &id, 1).await
        } else {
            (Observation::Opened { incident: id }, None)
        };
        let _ = self.shared.events.send(Event::Done {
            svc: self.si,
            obs,
            pid,
        });
    }
}

/// Kills and restarts, and records it in the incident.
async fn do_restart(
    shared: &Shared,
    backend: Option<&dyn ProcessControl>,
    incident: &str,
    attempt: u32,
) -> (Observation, Option<u32>) {
    let Some(b) = backend else {
        let obs = Observation::Restarted {
            incident: incident.into(),
            ok: false,
            detail: "no restart backend".into(),
            wall: Utc::now(),
        };
        return (obs, None);
    };
    let res = b.restart().await;
    let wall = Utc::now();
    let (ok, detail) = match &res {
        Ok(what) => (true, what.clone()),
        Err(e) => (false, chain(e)),
    };
    let update = shared.store.update(incident, |i| {
        if ok {
            i.action = detail.clone();
            i.restarts = attempt;
            i.restarted_at = Some(wall);
            i.timeline
                .push(event("restart", format!("restart #{attempt}: {detail}")));
        } else {
            i.action = format!("restart failed: {detail}");
            i.timeline.push(event(
                "restart_failed",
                format!("restart #{attempt} failed: {detail}"),
            ));
        }
    });
    if let Err(e) = update {
        log_store_error("recording a restart", e);
    }
    let pid = if ok { b.pid().await } else { None };
    let obs = Observation::Restarted {
        incident: incident.into(),
        ok,
        detail,
        wall,
    };
    (obs, pid)
}

/// Watches the incident store's hold: writes what is held once the disk takes it again, and
/// says so (log and notification) when writes start and stop being refused.
#[derive(Default)]
struct StoreHealth {
    told: bool,
}

impl StoreHealth {
    fn tick(&mut self, store: &IncidentStore, shared: &Shared) {
        let Some((reason, held)) = store.degraded() else {
            return;
        };
        match store.flush_held() {
            Ok(written) => {
                info!(
                    written,
                    "incident store writable again: held incidents written"
                );
                if self.told {
                    shared.notify(
                        crate::notify::Kind::Degraded,
                        "akashic",
                        "-",
                        &format!("state_dir writable again; {written} held incidents written"),
                    );
                }
                self.told = false;
            }
            Err(_) if !self.told => {
                error!(%reason, held, "incident store refuses writes (disk full?); akashic keeps watching and restarting, holds incidents in memory, and writes them when it can");
                shared.notify(
                    crate::notify::Kind::Degraded,
                    "akashic",
                    "-",
                    &format!(
                        "incident store refuses writes: {reason}; {held} incidents held in memory"
                    ),
                );
                self.told = true;
            }
            Err(_) => {}
        }
    }

    /// The `degraded` lines of a live `status`.
    fn describe(&self, store: &IncidentStore) -> Vec<String> {
        store
            .degraded()
            .map(|(reason, held)| {
                vec![format!(
                    "incident store refuses writes ({reason}); {held} incidents held in memory until it takes them"
                )]
            })
            .unwrap_or_default()
    }
}

/// How often the services' states are rewritten when none of them changed (their details,
/// such as a log's age, still move).
const SERVICES_REFRESH: Duration = Duration::from_secs(60);

/// Touches the heartbeat every tick, and writes the services' states when a state, an incident, a
/// pid or a check's ok-ness changed (or every [`SERVICES_REFRESH`]). Changes are noted as
/// they happen ([`Beats::note`], after each step of a machine), so a tick does not walk the
/// fleet.
struct Beats {
    state_dir: std::path::PathBuf,
    started_at: chrono::DateTime<Utc>,
    tick: Duration,
    /// Each service's signature as last noted.
    sigs: Vec<u64>,
    /// A signature changed since `services.json` was last written.
    changed: bool,
    /// When a service's label changes with time alone (its grace or recovered spell ends).
    label_at: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Each service's time in `label_at`, so a machine stepping often pushes it once.
    label_next: Vec<Option<Instant>>,
    /// When `services.json` was last written.
    last: Option<Instant>,
    /// This daemon's beat is on disk (ticks since only touch it).
    written: bool,
}

impl Beats {
    fn new(
        state_dir: &std::path::Path,
        started_at: chrono::DateTime<Utc>,
        tick: Duration,
        svcs: &[Svc],
        now: Instant,
    ) -> Self {
        let mut b = Beats {
            state_dir: state_dir.to_path_buf(),
            started_at,
            tick,
            sigs: vec![0; svcs.len()],
            changed: true,
            label_at: BinaryHeap::new(),
            label_next: vec![None; svcs.len()],
            last: None,
            written: false,
        };
        for (si, svc) in svcs.iter().enumerate() {
            b.note(si, svc, now);
        }
        b
    }

    /// After service `si`'s machine stepped (or its label's time came).
    fn note(&mut self, si: usize, svc: &Svc, now: Instant) {
        let sig = signature(svc, now);
        if self.sigs[si] != sig {
            self.sigs[si] = sig;
            self.changed = true;
        }
        let next = svc.machine.label_changes_at(now);
        if next != self.label_next[si] {
            self.label_next[si] = next;
            if let Some(t) = next {
                self.label_at.push(Reverse((t, si)));
            }
        }
    }

    fn tick(&mut self, svcs: &[Svc], groups: &FileGroups, now: Instant) {
        while let Some(Reverse((t, si))) = self.label_at.peek().copied() {
            if t > now {
                break;
            }
            self.label_at.pop();
            // Stale entries (the service's time moved on) are skipped.
            if self.label_next[si] == Some(t) {
                self.label_next[si] = None;
                self.note(si, &svcs[si], now);
            }
        }
        let stale = self.changed
            || self
                .last
                .is_none_or(|at| now.saturating_duration_since(at) >= SERVICES_REFRESH);
        if stale {
            match heartbeat::write_services(&self.state_dir, &services_of(svcs, groups, now)) {
                Ok(()) => {
                    self.last = Some(now);
                    self.changed = false;
                }
                Err(e) => warn!(error = %e, "cannot write the services' states"),
            }
        }
        // The beat is written once, then touched (written again if it went missing).
        let beat = if self.written {
            heartbeat::touch_beat(&self.state_dir)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        };
        if beat.is_err() {
            self.written = heartbeat::write_beat(&self.state_dir, &self.beat(None))
                .inspect_err(|e| warn!(error = %e, "cannot write heartbeat"))
                .is_ok();
        }
    }

    fn stop(&mut self, svcs: &[Svc], groups: &FileGroups, now: Instant) {
        let services = heartbeat::write_services(&self.state_dir, &services_of(svcs, groups, now));
        let beat = heartbeat::write_beat(&self.state_dir, &self.beat(Some(Utc::now())));
        if let Err(e) = services.and(beat) {
            warn!(error = %e, "cannot write the last heartbeat");
        }
    }

    fn beat(&self, stopped_at: Option<chrono::DateTime<Utc>>) -> Beat {
        Beat {
            pid: std::process::id(),
            started_at: self.started_at,
            at: Utc::now(),
            tick_ms: self.tick.as_millis() as u64,
            stopped_at,
        }
    }

    /// The live view `status` asks for.
    fn heartbeat(&self, svcs: &[Svc], groups: &FileGroups, now: Instant) -> Heartbeat {
        Heartbeat {
            degraded: Vec::new(),
            beat: self.beat(None),
            services: services_of(svcs, groups, now),
        }
    }
}

/// A hash of what `services.json` says of a service apart from its checks' details.
fn signature(s: &Svc, now: Instant) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fnv::Fnv::default();
    s.machine.label(now).hash(&mut h);
    s.machine.incident().hash(&mut h);
    s.pid.hash(&mut h);
    for r in &s.machine.last {
        r.as_ref().map(|r| r.verdict.is_ok()).hash(&mut h);
    }
    h.finish()
}

/// Each service's state; a file check's detail is its group's latest answer (the machine
/// hears only changes), any other check's is the machine's last answer.
fn services_of(svcs: &[Svc], groups: &FileGroups, now: Instant) -> Vec<ServiceStatus> {
    svcs.iter()
        .map(|s| ServiceStatus {
            name: s.cfg.name.clone(),
            state: s.machine.label(now).to_string(),
            incident: s.machine.incident().map(str::to_string),
            pid: s.pid,
            checks: s
                .cfg
                .checks
                .iter()
                .enumerate()
                .map(|(ci, c)| {
                    let last = match s.files[ci] {
                        Some(at) => groups.latest(at),
                        None => s.machine.last.get(ci).cloned().flatten().map(|r| r.verdict),
                    };
                    CheckStatus {
                        kind: c.kind.name().to_string(),
                        // A blind answer (akashic could not look) is neither ok nor failed.
                        ok: last.as_ref().filter(|v| !v.is_blind()).map(|v| v.is_ok()),
                        detail: last.map(|v| v.detail().to_string()).unwrap_or_else(|| {
                            format!("{}: not run yet", crate::probe::describe(&c.kind))
                        }),
                    }
                })
                .collect(),
        })
        .collect()
}
