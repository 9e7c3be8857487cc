//! Watchdog benchmark: akashic's CPU per check, RSS and detection latency at a 1 s tick, beside monit on the same file checks.
//!
//! Run with `cargo bench --bench watchdog`; `benches/README.md` says what each figure means.
//! Knobs (environment): `BENCH_SERVICES` (1000), `BENCH_WARMUP_S` (5), `BENCH_WINDOW_S` (60: at
//! least akashic's revalidate period, so its periodic full reads are in the figure),
//! `BENCH_SLOW_EVERY_S` (10: how often each file changes in the "slow fleet" runs),
//! `BENCH_LATENCY_SERVICES` (20), `BENCH_MONIT` (path to monit, default `monit` on PATH; `0` skips it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

const AKASHIC: &str = env!("CARGO_BIN_EXE_akashic");
/// Threshold of the latency services' `log_stale` check.
const LAT_MAX_AGE: Duration = Duration::from_secs(3);
const TICK: Duration = Duration::from_secs(1);

struct Opts {
    services: usize,
    warmup: Duration,
    window: Duration,
    latency_services: usize,
    slow_every: u64,
    monit: Option<String>,
}

impl Opts {
    fn from_env() -> Self {
        let num = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let monit = match std::env::var("BENCH_MONIT") {
            Ok(v) if v == "0" => None,
            Ok(v) => Some(v),
            Err(_) => Some("monit".to_string()),
        };
        Opts {
            services: num("BENCH_SERVICES", 1000) as usize,
            warmup: Duration::from_secs(num("BENCH_WARMUP_S", 5)),
            window: Duration::from_secs(num("BENCH_WINDOW_S", 60)),
            slow_every: num("BENCH_SLOW_EVERY_S", 10).max(1),
            latency_services: num("BENCH_LATENCY_SERVICES", 20) as usize,
            monit,
        }
    }
}

/// Sets a path's atime and mtime (files and directories alike) without opening it.
fn touch(path: &Path, at: SystemTime) {
    use std::os::unix::ffi::OsStrExt;
    let d = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    };
    let times = [ts, ts];
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path and `times` holds two timespecs.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
    assert_eq!(
        rc,
        0,
        "utimensat {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// One fleet service's files: `svcN/svcN.log` and `svcN/out/{0,1,2}.json`.
struct SvcFiles {
    name: String,
    log: PathBuf,
    out: PathBuf,
    newest: PathBuf,
}

fn make_service(root: &Path, name: &str) -> SvcFiles {
    let dir = root.join(name);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let log = dir.join(format!("{name}.log"));
    std::fs::write(&log, "started\n").unwrap();
    for i in 0..3 {
        std::fs::write(out.join(format!("{i}.json")), "{}\n").unwrap();
    }
    SvcFiles {
        name: name.to_string(),
        newest: out.join("2.json"),
        log,
        out,
    }
}

/// A thread that keeps the fleet fresh: every second it touches each log, the newest
/// output file and the output directory (the directory for monit, which has no glob).
struct Toucher {
    stop: Arc<AtomicBool>,
    /// Each path is touched every this many seconds (a slice of them each second).
    every: Arc<std::sync::atomic::AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Toucher {
    fn start(paths: Vec<PathBuf>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let every = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let (s, e) = (stop.clone(), every.clone());
        let handle = thread::spawn(move || {
            let mut second = 0u64;
            while !s.load(Ordering::Relaxed) {
                let now = SystemTime::now();
                let k = e.load(Ordering::Relaxed).max(1);
                for (i, p) in paths.iter().enumerate() {
                    if i as u64 % k == second % k {
                        touch(p, now);
                    }
                }
                second += 1;
                // Sleep one second in small steps so stopping is quick.
                for _ in 0..10 {
                    if s.load(Ordering::Relaxed) {
                        break;
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Toucher {
            stop,
            every,
            handle: Some(handle),
        }
    }

    fn set_every(&self, secs: u64) {
        self.every.store(secs, Ordering::Relaxed);
    }
}

impl Drop for Toucher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The latency services' logs: touched every 20 ms until each one's stop instant, with the
/// last touch recorded, so the moments they go stale spread over a whole tick.
struct LatencyToucher {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<Vec<LatLog>>>,
    handle: Option<thread::JoinHandle<()>>,
}

struct LatLog {
    path: PathBuf,
    stop_at: Option<Instant>,
    last: Option<SystemTime>,
}

impl LatencyToucher {
    fn start(paths: Vec<PathBuf>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(
            paths
                .into_iter()
                .map(|path| LatLog {
                    path,
                    stop_at: None,
                    last: None,
                })
                .collect::<Vec<_>>(),
        ));
        let (s, st) = (stop.clone(), state.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                {
                    let mut logs = st.lock().unwrap();
                    let mono = Instant::now();
                    for l in logs.iter_mut() {
                        if l.stop_at.is_some_and(|t| mono >= t) {
                            continue;
                        }
                        let now = SystemTime::now();
                        touch(&l.path, now);
                        l.last = Some(now);
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
        });
        LatencyToucher {
            stop,
            state,
            handle: Some(handle),
        }
    }

    /// Stops touching log i at `from + i * spread / n`.
    fn stop_staggered(&self, from: Instant, spread: Duration) {
        let mut logs = self.state.lock().unwrap();
        let n = logs.len().max(1) as u32;
        for (i, l) in logs.iter_mut().enumerate() {
            l.stop_at = Some(from + spread * i as u32 / n);
        }
    }

    fn last_touches(&self) -> Vec<Option<SystemTime>> {
        self.state.lock().unwrap().iter().map(|l| l.last).collect()
    }
}

impl Drop for LatencyToucher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The one HTTP server every `http` check asks: answers 200 `{"ok":true}` and keeps connections alive.
struct HttpServer {
    port: u16,
    /// Connections accepted so far (keep-alive reuse shows as few).
    accepted: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl HttpServer {
    fn start() -> Self {
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = std_listener.local_addr().unwrap().port();
        std_listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (s, acc) = (stop.clone(), accepted.clone());
        let handle = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                while !s.load(Ordering::Relaxed) {
                    let accepted =
                        tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
                    if let Ok(Ok((sock, _))) = accepted {
                        acc.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(serve_conn(sock));
                    }
                }
            });
        });
        HttpServer {
            port,
            accepted,
            stop,
            handle: Some(handle),
        }
    }
}

async fn serve_conn(mut sock: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const RESP: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        // One request per "\r\n\r\n" (GETs carry no body); answer each, keep the connection.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if sock.write_all(RESP).await.is_err() {
                return;
            }
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A child process that is stopped (SIGTERM, then SIGKILL after 5 s) when dropped.
struct Guard {
    child: Child,
    what: &'static str,
}

impl Guard {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn assert_alive(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("{} exited early: {st}", self.what);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

/// A `kB` line of /proc/<pid>/status, in MB.
fn status_mb(pid: u32, key: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

struct Measure {
    label: String,
    checks: usize,
    cpu_s: f64,
    window_s: f64,
    rss_end: f64,
    rss_max: f64,
    hwm: f64,
    note: String,
}

impl Measure {
    fn ms_per_tick(&self) -> f64 {
        self.cpu_s * 1e3 / (self.window_s / TICK.as_secs_f64())
    }
    fn us_per_check(&self) -> f64 {
        self.ms_per_tick() * 1e3 / self.checks as f64
    }
}

/// Warms up, then samples CPU and RSS of `pid` once a second over the window.
fn measure(g: &mut Guard, opts: &Opts, label: &str, checks: usize) -> Measure {
    let pid = g.pid();
    thread::sleep(opts.warmup);
    g.assert_alive();
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    let mut rss_max: f64 = 0.0;
    while t0.elapsed() < opts.window {
        thread::sleep(Duration::from_secs(1).min(opts.window.saturating_sub(t0.elapsed())));
        g.assert_alive();
        rss_max = rss_max.max(status_mb(pid, "VmRSS"));
    }
    let (c1, w) = (cpu_seconds(pid), t0.elapsed().as_secs_f64());
    let m = Measure {
        label: label.to_string(),
        checks,
        cpu_s: c1 - c0,
        window_s: w,
        rss_end: status_mb(pid, "VmRSS"),
        rss_max,
        hwm: status_mb(pid, "VmHWM"),
        note: String::new(),
    };
    eprintln!(
        "  {label}: {:.2} ms CPU/tick, {:.2} us/check, RSS {:.1} MB (HWM {:.1})",
        m.ms_per_tick(),
        m.us_per_check(),
        m.rss_end,
        m.hwm
    );
    m
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// Which checks each fleet service gets.
#[derive(Clone, Copy, PartialEq)]
enum Mix {
    Files,
    FilesAndHttp,
}

fn akashic_config(
    root: &Path,
    state: &Path,
    svcs: &[SvcFiles],
    mix: Mix,
    http_port: u16,
    latency_logs: &[(String, PathBuf)],
) -> PathBuf {
    let mut t = format!(
        "[daemon]\nstate_dir = {}\ntick = \"1s\"\n\n",
        toml_str(state)
    );
    for s in svcs {
        t.push_str(&format!(
            "[[service]]\nname = \"{}\"\n\n[[service.check]]\nkind = \"log_stale\"\npath = {}\nmax_age = \"60s\"\n\n[[service.check]]\nkind = \"artifact\"\nglob = {}\nmax_age = \"60s\"\n\n",
            s.name,
            toml_str(&s.log),
            toml_str(&s.out.join("*.json")),
        ));
        if mix == Mix::FilesAndHttp {
            t.push_str(&format!(
                "[[service.check]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{http_port}/health\"\nbody_contains = '\"ok\":true'\ntimeout = \"2s\"\n\n"
            ));
        }
    }
    for (name, log) in latency_logs {
        t.push_str(&format!(
            "[[service]]\nname = \"{name}\"\ngrace = \"1s\"\n\n[[service.check]]\nkind = \"log_stale\"\npath = {}\nmax_age = \"{}s\"\n\n",
            toml_str(log),
            LAT_MAX_AGE.as_secs()
        ));
    }
    let path = root.join(format!(
        "akashic-{}.toml",
        state.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, t).unwrap();
    path
}

fn start_akashic(config: &Path, log: &Path) -> Guard {
    let ok = Command::new(AKASHIC)
        .args(["--config"])
        .arg(config)
        .args(["config", "check"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "config check failed for {}", config.display());
    let child = Command::new(AKASHIC)
        .arg("--config")
        .arg(config)
        .arg("watch")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Guard {
        child,
        what: "akashic",
    }
}

/// How many checks the services' last written states show passing, of how many.
fn heartbeat_ok(state: &Path) -> (usize, usize) {
    let Ok(bytes) = std::fs::read(state.join("services.json")) else {
        return (0, 0);
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let mut ok = 0;
    let mut all = 0;
    for s in v.as_array().into_iter().flatten() {
        for c in s["checks"].as_array().into_iter().flatten() {
            all += 1;
            if c["ok"] == serde_json::Value::Bool(true) {
                ok += 1;
            }
        }
    }
    (ok, all)
}

fn run_akashic(
    root: &Path,
    opts: &Opts,
    label: &str,
    svcs: &[SvcFiles],
    mix: Mix,
    http_port: u16,
) -> Measure {
    let state = root.join(format!(
        "state-{}",
        label.split_whitespace().next().unwrap()
    ));
    let config = akashic_config(root, &state, svcs, mix, http_port, &[]);
    let mut g = start_akashic(&config, &state.with_extension("log"));
    let per = if mix == Mix::Files { 2 } else { 3 };
    let mut m = measure(&mut g, opts, label, svcs.len() * per);
    let (ok, all) = heartbeat_ok(&state);
    m.note = format!("{ok}/{all} checks ok in the last heartbeat");
    m
}

struct Latency {
    /// detected_at - (last touch + max_age), per service, in seconds.
    over: Vec<f64>,
    missing: usize,
}

/// The full fleet plus latency services: CPU and RSS over the window, then detection latency.
fn run_full_with_latency(
    root: &Path,
    opts: &Opts,
    svcs: &[SvcFiles],
    server: &HttpServer,
) -> (Measure, Latency) {
    let http_port = server.port;
    let state = root.join("state-b");
    let lat: Vec<(String, PathBuf)> = (0..opts.latency_services)
        .map(|i| {
            let name = format!("lat{i}");
            let s = make_service(root, &name);
            (name, s.log)
        })
        .collect();
    let lt = LatencyToucher::start(lat.iter().map(|(_, p)| p.clone()).collect());
    let config = akashic_config(root, &state, svcs, Mix::FilesAndHttp, http_port, &lat);
    let mut g = start_akashic(&config, &state.with_extension("log"));
    let checks = svcs.len() * 3 + lat.len();
    let conns0 = server.accepted.load(Ordering::Relaxed);
    let mut m = measure(&mut g, opts, "(b)", checks);
    let conns = server.accepted.load(Ordering::Relaxed) - conns0;
    let (ok, all) = heartbeat_ok(&state);
    m.note = format!(
        "{ok}/{all} checks ok in the last heartbeat; {:.0} new HTTP connections per tick (warm-up + window)",
        conns as f64 / (m.window_s + opts.warmup.as_secs_f64()) * TICK.as_secs_f64()
    );

    // Detection latency: stop touching the latency logs one after another over one tick.
    eprintln!("  latency: stopping {} logs", lat.len());
    lt.stop_staggered(Instant::now() + Duration::from_millis(100), TICK);
    let deadline = Instant::now() + TICK * 2 + LAT_MAX_AGE + Duration::from_secs(10);
    let mut found: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        Default::default();
    while Instant::now() < deadline && found.len() < lat.len() {
        thread::sleep(Duration::from_millis(500));
        g.assert_alive();
        let out = Command::new(AKASHIC)
            .arg("--config")
            .arg(&config)
            .args(["incidents", "--json"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            continue;
        };
        for i in v["incidents"].as_array().into_iter().flatten() {
            let (Some(svc), Some(at)) = (i["service"].as_str(), i["detected_at"].as_str()) else {
                continue;
            };
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) {
                found.insert(svc.to_string(), at.with_timezone(&chrono::Utc));
            }
        }
    }
    let last = lt.last_touches();
    let mut over = Vec::new();
    let mut missing = 0;
    for ((name, _), last) in lat.iter().zip(last) {
        match (found.get(name), last) {
            (Some(at), Some(last)) => {
                let stale_at: chrono::DateTime<chrono::Utc> = (last + LAT_MAX_AGE).into();
                over.push((*at - stale_at).num_microseconds().unwrap() as f64 / 1e6);
            }
            _ => missing += 1,
        }
    }
    let fleet_incidents = found.keys().filter(|k| !k.starts_with("lat")).count();
    if fleet_incidents > 0 {
        m.note.push_str(&format!(
            "; {fleet_incidents} fleet services had incidents!"
        ));
    }
    over.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (m, Latency { over, missing })
}

fn run_monit(
    root: &Path,
    opts: &Opts,
    monit: &str,
    svcs: &[SvcFiles],
    label: &str,
) -> Option<Measure> {
    let dir = root.join(label.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rc = format!(
        "set daemon 1\nset logfile {}\nset pidfile {}\nset idfile {}\nset statefile {}\n\n",
        dir.join("monit.log").display(),
        dir.join("monit.pid").display(),
        dir.join("monit.id").display(),
        dir.join("monit.state").display(),
    );
    for (i, s) in svcs.iter().enumerate() {
        rc.push_str(&format!(
            "check file log{i} with path {}\n  if timestamp > 60 seconds then alert\n\ncheck directory out{i} with path {}\n  if timestamp > 60 seconds then alert\n\n",
            s.log.display(),
            s.out.display()
        ));
    }
    let rc_path = dir.join("monitrc");
    std::fs::write(&rc_path, rc).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let child = Command::new(monit)
        .arg("-c")
        .arg(&rc_path)
        .arg("-I")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("monit.stderr")).unwrap())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("  monit: cannot start {monit}: {e} (skipped)");
            return None;
        }
    };
    let mut g = Guard {
        child,
        what: "monit",
    };
    let mut m = measure(&mut g, opts, label, svcs.len() * 2);
    drop(g);
    // Anything monit complained about (a fresh fleet raises no timestamp alert).
    let mut log = String::new();
    if let Ok(mut f) = std::fs::File::open(dir.join("monit.log")) {
        let _ = f.read_to_string(&mut log);
    }
    let alerts = log.lines().filter(|l| l.contains("timestamp")).count();
    let errors = log
        .lines()
        .filter(|l| l.contains("error") || l.contains("rror:"))
        .count();
    m.note = format!("{alerts} timestamp alerts, {errors} errors in monit's log");
    Some(m)
}

fn monit_version(monit: &str) -> String {
    Command::new(monit)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| {
            BufReader::new(&o.stdout[..])
                .lines()
                .next()
                .and_then(|l| l.ok())
        })
        .unwrap_or_else(|| "not found".into())
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) just checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        println!("watchdog bench: run with `cargo bench --bench watchdog`");
        return;
    }
    let opts = Opts::from_env();
    let tmp = tempfile::Builder::new()
        .prefix("akashic-bench-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    eprintln!(
        "watchdog bench: {} services, warm-up {:?}, window {:?}, in {}",
        opts.services,
        opts.warmup,
        opts.window,
        root.display()
    );
    let svcs: Vec<SvcFiles> = (0..opts.services)
        .map(|i| make_service(root, &format!("svc{i}")))
        .collect();
    let mut paths = Vec::new();
    for s in &svcs {
        paths.extend([s.log.clone(), s.newest.clone(), s.out.clone()]);
    }
    let toucher = Toucher::start(paths);
    let server = HttpServer::start();

    let mut rows = Vec::new();
    eprintln!("(a) akashic, file checks");
    rows.push(run_akashic(
        root,
        &opts,
        "(a) akashic files",
        &svcs,
        Mix::Files,
        server.port,
    ));
    let mut version = String::from("skipped");
    let mut monit_rows = Vec::new();
    if let Some(monit) = &opts.monit {
        version = monit_version(monit);
        eprintln!("(m) monit, file checks");
        monit_rows.extend(run_monit(root, &opts, monit, &svcs, "monit files"));
    }
    // A slower fleet: each file changes every `slow_every` seconds. monit's work does not
    // depend on it (it stats every file every cycle); akashic's does.
    let slow = format!("every {}s", opts.slow_every);
    toucher.set_every(opts.slow_every);
    eprintln!("(a') akashic, file checks, files changing {slow}");
    let mut slow_row = run_akashic(
        root,
        &opts,
        "(a') akashic files",
        &svcs,
        Mix::Files,
        server.port,
    );
    slow_row.label = format!("(a') akashic, {slow}");
    if let Some(monit) = &opts.monit {
        eprintln!("(m') monit, file checks, files changing {slow}");
        monit_rows.extend(run_monit(
            root,
            &opts,
            monit,
            &svcs,
            &format!("monit, {slow}"),
        ));
    }
    toucher.set_every(1);
    eprintln!("(b) akashic, file + http checks, then detection latency");
    let (mut b, lat) = run_full_with_latency(root, &opts, &svcs, &server);
    b.label = "(b) akashic files+http".into();
    rows.push(b);
    eprintln!("(c) akashic, idle (3 services)");
    let idle: Vec<SvcFiles> = svcs
        .iter()
        .take(3)
        .map(|s| make_service(root, &format!("idle-{}", s.name)))
        .collect();
    let _idle_toucher = Toucher::start(
        idle.iter()
            .flat_map(|s| [s.log.clone(), s.newest.clone(), s.out.clone()])
            .collect(),
    );
    rows.push(run_akashic(
        root,
        &opts,
        "(c) akashic idle",
        &idle,
        Mix::FilesAndHttp,
        server.port,
    ));
    rows.push(slow_row);

    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24} {:>6} {:>12} {:>9} {:>8} {:>8} {:>8}  note",
        "configuration", "checks", "CPU ms/tick", "us/check", "RSS MB", "max MB", "HWM MB"
    );
    for m in rows.iter().chain(monit_rows.iter()) {
        let _ = writeln!(
            out,
            "{:<24} {:>6} {:>12.2} {:>9.2} {:>8.1} {:>8.1} {:>8.1}  {}",
            m.label,
            m.checks,
            m.ms_per_tick(),
            m.us_per_check(),
            m.rss_end,
            m.rss_max,
            m.hwm,
            m.note
        );
    }
    let _ = writeln!(out, "monit: {version}");
    for (a, mo, what) in [
        (
            &rows[0],
            monit_rows.first(),
            "every file changing every second",
        ),
        (&rows[3], monit_rows.get(1), slow.as_str()),
    ] {
        if let Some(mo) = mo {
            let ratio = a.us_per_check() / mo.us_per_check();
            let _ = writeln!(
                out,
                "akashic/monit CPU per file check, {what}: {ratio:.2} (goal <= 0.50: {})",
                if ratio <= 0.5 { "met" } else { "MISSED" }
            );
        }
    }
    let http_us = (rows[1].ms_per_tick() - rows[0].ms_per_tick()) * 1e3
        / (rows[1].checks - rows[0].checks) as f64;
    let _ = writeln!(
        out,
        "http checks (b - a): about {http_us:.1} us of CPU each"
    );
    let idle_rss = rows[2].rss_max.max(rows[2].rss_end);
    let _ = writeln!(
        out,
        "idle RSS: {idle_rss:.1} MB (goal <= 15 MB: {})",
        if idle_rss <= 15.0 { "met" } else { "MISSED" }
    );
    if lat.over.is_empty() {
        let _ = writeln!(
            out,
            "detection latency: no incident seen ({} missing)",
            lat.missing
        );
    } else {
        let p = |q: f64| lat.over[((lat.over.len() - 1) as f64 * q).round() as usize];
        let max = *lat.over.last().unwrap();
        let _ = writeln!(
            out,
            "detection latency past max_age ({}s), {} services: min {:.0} ms, p50 {:.0} ms, max {:.0} ms; tick {} ms{} (goal <= one tick: {})",
            LAT_MAX_AGE.as_secs(),
            lat.over.len(),
            p(0.0) * 1e3,
            p(0.5) * 1e3,
            max * 1e3,
            TICK.as_millis(),
            if lat.missing > 0 { format!("; {} not detected", lat.missing) } else { String::new() },
            if max <= TICK.as_secs_f64() && lat.missing == 0 { "met" } else { "MISSED" }
        );
    }
}
