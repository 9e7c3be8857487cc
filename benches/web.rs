//! Web benchmark: the status page and `/metrics` of a 1,000-service daemon (server time p50/p99
//! over real loopback requests), the idle daemon's RSS with `http` on, and the watchdog's CPU
//! per check with and without a scraper on `/metrics` every second.
//!
//! Run with `cargo bench --bench web`; `benches/README.md` says what each figure means.
//! Knobs (environment): `BENCH_SERVICES` (1000), `BENCH_INCIDENTS` (300, over the last 30 days),
//! `BENCH_REQUESTS` (200 per route), `BENCH_WARMUP_S` (5), `BENCH_WINDOW_S` (30).

use akashic::agent::model::PostMortem;
use akashic::core::category::Category;
use akashic::incident::{FailedCheck, Incident, IncidentStore, ProcessState, TimelineEvent};
use chrono::{Duration as Days, Utc};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const AKASHIC: &str = env!("CARGO_BIN_EXE_akashic");

fn num(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// N observe-only services (a `log_stale` and an `artifact` check each, 1 s interval, one hour
/// of slack so they stay healthy), `http` on `port`.
fn fleet(root: &Path, services: usize, port: u16) -> std::path::PathBuf {
    let mut toml = format!(
        "[daemon]\nstate_dir = \"{}/state\"\ntick = \"1s\"\nhttp = \"127.0.0.1:{port}\"\n",
        root.display()
    );
    for i in 0..services {
        let dir = root.join(format!("svc{i}"));
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(dir.join("svc.log"), "started\n").unwrap();
        std::fs::write(dir.join("out/0.json"), "{}\n").unwrap();
        toml.push_str(&format!(
            "\n[[service]]\nname = \"svc{i}\"\n[[service.check]]\nkind = \"log_stale\"\npath = \"{d}/svc.log\"\nmax_age = \"1h\"\n[[service.check]]\nkind = \"artifact\"\nglob = \"{d}/out/*.json\"\nmax_age = \"1h\"\n",
            d = dir.display()
        ));
    }
    let config = root.join("akashic.toml");
    std::fs::write(&config, toml).unwrap();
    config
}

/// Incidents spread over the last 30 days, most with a post-mortem, as the page shows them.
fn seed(state: &Path, services: usize, n: usize) {
    std::fs::create_dir_all(state).unwrap();
    std::fs::set_permissions(state, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let store = IncidentStore::open(state).unwrap();
    let now = Utc::now();
    for k in 0..n {
        let service = format!("svc{}", (k * 7) % services.min(40));
        let at = now - Days::minutes((k as i64 * 30 * 24 * 60) / n as i64 + 5);
        let id = format!("inc-bench-{k:05}");
        let pm = (k % 4 != 0).then(|| PostMortem {
            incident_id: id.clone(),
            service: service.clone(),
            detected_at: at,
            detection: "log unchanged for 12m04s (max 10m)".into(),
            process_state: "running, port bound, HTTP 200".into(),
            recovery_action: "SIGTERM + child restart".into(),
            recovery: "2 new files matching out/*.json since restart".into(),
            category: Category::RateLimit,
            summary: "The bot stopped writing output after a burst of 429 answers.".into(),
            root_cause: "retries without backoff held the batch lock".into(),
            evidence: Vec::new(),
            recommendations: vec!["back off on 429 and release the lock while waiting".into()],
            prior_incidents: Vec::new(),
            same_pattern_90d: 3,
            author: "template".into(),
            provenance: vec!["root_cause: template".into()],
            drafted_at: at + Days::seconds(20),
            confirmed_by: None,
            services: Vec::new(),
            shared_endpoint: None,
            recurrence: None,
        });
        let ev = |s: i64, e: &str, d: &str| TimelineEvent {
            at: at + Days::seconds(s),
            event: e.into(),
            detail: d.into(),
        };
        let inc = Incident {
            id,
            service,
            detected_at: at,
            failed_checks: vec![FailedCheck {
                kind: "log_stale".into(),
                failure: Some("stale".into()),
                detail: "log unchanged for 12m04s (max 10m)".into(),
            }],
            process: ProcessState {
                running: Some(true),
                pid: Some(4242),
                port_bound: Some(true),
                http_status: Some(200),
            },
            forensics: None,
            log_tail: Some("WARN upstream returned 429\n".repeat(20)),
            action: "SIGTERM + child restart".into(),
            restarts: 1,
            restarted_at: Some(at + Days::seconds(2)),
            recovered: k % 10 != 0,
            recovery_confirmed_at: (k % 10 != 0).then(|| at + Days::seconds(45)),
            recovery_evidence: None,
            escalated_at: (k % 10 == 0).then(|| at + Days::seconds(60)),
            escalation_reason: None,
            timeline: vec![
                ev(0, "detected", "log unchanged for 12m04s (max 10m)"),
                ev(1, "evidence", "process running; port bound; last HTTP 200"),
                ev(2, "restart", "restart #1: SIGTERM + child restart"),
                ev(
                    45,
                    "recovered",
                    "2 new files matching out/*.json since restart",
                ),
            ],
            postmortem: pm,
            pattern: None,
            caused_by: None,
            group: None,
        };
        store.put(&inc).unwrap();
    }
}

/// One GET over a fresh loopback connection: the server's own time (its `Server-Timing`
/// header), the time from connect to the last byte, and the answer's size.
fn get(port: u16, path: &str) -> (Duration, Duration, usize) {
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = Vec::new();
    s.read_to_end(&mut body).unwrap();
    let wall = t.elapsed();
    let head = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    let server = head
        .lines()
        .find_map(|l| l.strip_prefix("server-timing: app;dur="))
        .and_then(|ms| ms.trim().parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .expect("a Server-Timing header");
    (server, wall, body.len())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// The daemon's CPU time (every thread, live or gone) to the nanosecond, from its process CPU
/// clock: `/proc/PID/stat` counts in scheduler ticks (10 ms), too coarse for the few tens of
/// milliseconds a window of this fleet costs.
fn cpu_seconds(pid: u32) -> f64 {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls only write the out-parameters they are given.
    let (rc, ts) = unsafe {
        let rc = libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock);
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        (rc | libc::clock_gettime(clock, &mut ts), ts)
    };
    assert_eq!(rc, 0, "the daemon's CPU clock");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn start(config: &Path, log: &Path, port: u16) -> Daemon {
    let child = Command::new(AKASHIC)
        .arg("--config")
        .arg(config)
        .arg("watch")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let d = Daemon(child);
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the daemon did not listen; see {}",
            log.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
    d
}

/// CPU seconds per check without and with a scraper on /metrics every second, `window` of each,
/// taken in [`ROUNDS`] alternating turns (quiet then scraped, then scraped then quiet, ...): the
/// host drifts over minutes (caches growing cold), and one quiet window before one scraped
/// window charged that drift to the scraper.
fn cpu_per_check(d: &Daemon, port: u16, checks: usize, window: Duration) -> (f64, f64) {
    let pid = d.0.id();
    let turn = window / ROUNDS;
    // (CPU seconds, wall seconds) without and with the scraper
    let mut sums = [(0.0, 0.0); 2];
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for scrape in order {
            let (c0, t0) = (cpu_seconds(pid), Instant::now());
            let mut next = Instant::now();
            while t0.elapsed() < turn {
                if scrape && Instant::now() >= next {
                    get(port, "/metrics");
                    next += Duration::from_secs(1);
                }
                thread::sleep(Duration::from_millis(20));
            }
            let sum = &mut sums[usize::from(scrape)];
            sum.0 += cpu_seconds(pid) - c0;
            sum.1 += t0.elapsed().as_secs_f64();
        }
    }
    let per_check = |(cpu, wall): (f64, f64)| cpu * 1e6 / (checks as f64 * wall);
    (per_check(sums[0]), per_check(sums[1]))
}

/// Alternating turns of the CPU windows.
const ROUNDS: u32 = 6;

fn main() {
    let services = num("BENCH_SERVICES", 1000) as usize;
    let incidents = num("BENCH_INCIDENTS", 300) as usize;
    let requests = num("BENCH_REQUESTS", 200) as usize;
    let warmup = Duration::from_secs(num("BENCH_WARMUP_S", 5));
    let window = Duration::from_secs(num("BENCH_WINDOW_S", 30));
    let root = tempfile::tempdir().unwrap();

    // 1. Server time of the page and /metrics with N services.
    let port = free_port();
    let config = fleet(root.path(), services, port);
    seed(&root.path().join("state"), services, incidents);
    let d = start(&config, &root.path().join("daemon.log"), port);
    thread::sleep(warmup);
    eprintln!("web bench: {services} services, {incidents} incidents, {requests} requests per route, 50 ms apart (a snapshot older than 1 s is refreshed in the background)");
    println!("| route | server p50 ms | server p99 ms | server max ms | round trip p99 ms | bytes |\n| --- | --- | --- | --- | --- | --- |");
    for route in ["/", "/metrics", "/api/status"] {
        let (mut server, mut wall) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
        let mut bytes = 0;
        for _ in 0..requests {
            let (s, w, n) = get(port, route);
            server.push(s);
            wall.push(w);
            bytes = n;
            thread::sleep(Duration::from_millis(50));
        }
        server.sort();
        wall.sort();
        println!(
            "| `{route}` | {:.2} | {:.2} | {:.2} | {:.2} | {bytes} |",
            pct(&server, 0.5),
            pct(&server, 0.99),
            server.last().unwrap().as_secs_f64() * 1e3,
            pct(&wall, 0.99)
        );
    }

    // 2. The watchdog's CPU per check without and with a scraper on /metrics every second.
    let checks = services * 2;
    let (quiet, scraped) = cpu_per_check(&d, port, checks, window);
    println!(
        "\nCPU per check over {}s of each in {ROUNDS} alternating turns, {checks} checks at 1 s: {quiet:.2} us without a scraper, {scraped:.2} us with /metrics scraped every second ({:+.1}%)",
        window.as_secs(),
        (scraped / quiet - 1.0) * 100.0
    );
    drop(d);

    // 3. The idle daemon's RSS with http on: 3 services, after the page and /metrics were served.
    let idle_root = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = fleet(idle_root.path(), 3, port);
    let d = start(&config, &idle_root.path().join("daemon.log"), port);
    thread::sleep(warmup);
    for _ in 0..20 {
        get(port, "/");
        get(port, "/metrics");
    }
    thread::sleep(Duration::from_secs(2));
    println!(
        "\nidle daemon (3 services, http on, after 20 page and /metrics loads): RSS {:.1} MB",
        rss_mb(d.0.id())
    );
}
