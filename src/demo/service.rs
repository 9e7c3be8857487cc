//! `akashic demo-service`: a small real service for the demo and the tests. It binds a port,
//! answers 200 on /health, writes log lines and output files, and can freeze its work loop
//! (still answering 200), crash, or produce nothing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the service misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub port: u16,
    pub log: PathBuf,
    pub out: PathBuf,
    pub every: Duration,
    /// Freeze the work loop after this long (the HTTP endpoint keeps answering 200).
    pub freeze_after: Option<Duration>,
    /// Freeze only while this file does not exist; it is created when freezing (so the restart works).
    pub freeze_once: Option<PathBuf>,
    /// Freeze only while this file exists (a test turns freezing off by removing it).
    pub freeze_while: Option<PathBuf>,
    /// Exit with code 1 after this long.
    pub crash_after: Option<Duration>,
    /// Answer /health but never write output.
    pub produce_nothing: bool,
    /// Write no output for this long after starting (a slow warm-up).
    pub start_delay: Option<Duration>,
    /// Produce only while this address accepts a connection (a dependency).
    pub needs: Option<String>,
    /// Go away for a while, once (a dependency that is down).
    pub away: Option<Away>,
}

/// A service that goes away once: it exits `after` its start and no copy listens until
/// `away_for` later (the deadline, in unix seconds, is kept in `file`).
#[derive(Debug, Clone)]
pub struct Away {
    pub after: Duration,
    pub away_for: Duration,
    pub file: PathBuf,
}

/// Waits out a deadline an earlier copy left in `file`.
fn stay_away(b: &Behaviour) {
    let Some(away) = &b.away else { return };
    let until = std::fs::read_to_string(&away.file)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    if let Some(until) = until {
        let left = until - chrono::Utc::now().timestamp();
        if left > 0 {
            log_line(
                &b.log,
                &format!(
                    "WARN away: not listening on 127.0.0.1:{} for {left}s more",
                    b.port
                ),
            );
            std::thread::sleep(Duration::from_secs(left as u64));
        }
    }
}

/// Whether what the service needs answers; says so in the log when it does not.
fn needed_answers(b: &Behaviour) -> bool {
    let Some(addr) = &b.needs else { return true };
    let reached = addr
        .parse::<std::net::SocketAddr>()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)));
    match reached {
        Ok(_) => true,
        Err(e) => {
            log_line(
                &b.log,
                &format!("ERROR query failed: connection to {addr}: {e}; retrying"),
            );
            false
        }
    }
}

fn log_line(log: &Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(
            f,
            "{} {line}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
    }
}

/// Runs until killed.
pub fn run(b: Behaviour) -> i32 {
    if let Some(dir) = b.log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::create_dir_all(&b.out);
    stay_away(&b);
    let listener = match TcpListener::bind(("127.0.0.1", b.port)) {
        Ok(l) => l,
        Err(e) => {
            log_line(
                &b.log,
                &format!("ERROR cannot bind 127.0.0.1:{}: {e}", b.port),
            );
            return 1;
        }
    };
    log_line(
        &b.log,
        &format!(
            "INFO listening on 127.0.0.1:{} (pid {})",
            b.port,
            std::process::id()
        ),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let body = "{\"ok\":true}";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });

    let started = std::time::Instant::now();
    let lock = Arc::new(Mutex::new(0u64));
    let mut n = 0u64;
    let mut announced = false;
    loop {
        let elapsed = started.elapsed();
        if let Some(away) = b
            .away
            .as_ref()
            .filter(|a| elapsed >= a.after && !a.file.exists())
        {
            let until = chrono::Utc::now().timestamp() + away.away_for.as_secs() as i64;
            let _ = std::fs::write(&away.file, format!("{until}\n"));
            log_line(
                &b.log,
                &format!(
                    "ERROR shutting down: storage unavailable; away for {}s",
                    away.away_for.as_secs()
                ),
            );
            return 1;
        }
        if b.crash_after.is_some_and(|d| elapsed >= d) {
            log_line(&b.log, "ERROR thread 'main' panicked at src/worker.rs:88:14: called `Option::unwrap()` on a `None` value");
            return 1;
        }
        let freeze_now = b.freeze_after.is_some_and(|d| elapsed >= d)
            && b.freeze_once.as_ref().is_none_or(|f| !f.exists())
            && b.freeze_while.as_ref().is_none_or(|f| f.exists());
        if freeze_now {
            if let Some(f) = &b.freeze_once {
                let _ = std::fs::write(f, "frozen once\n");
            }
            for _ in 0..5 {
                log_line(
                    &b.log,
                    "WARN upstream returned 429 Too Many Requests; retrying in 0s",
                );
            }
            log_line(
                &b.log,
                "INFO waiting for rate limit window; holding batch lock",
            );
            if let Some(f) = &b.freeze_while {
                // One line a freeze, beside the service's log: tests count freezes by it.
                log_line(
                    &f.with_extension("froze"),
                    &format!("froze pid {}", std::process::id()),
                );
            }
            // A retry wait that never ends: a helper thread takes the batch lock and never lets go,
            // and the work loop blocks on it (a real futex wait, visible in forensics).
            let holder = lock.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _held = holder.lock();
                let _ = tx.send(());
                loop {
                    std::thread::park();
                }
            });
            let _ = rx.recv();
            let _blocked = lock.lock();
            return 0;
        }
        let warming = b.start_delay.is_some_and(|d| elapsed < d);
        if !b.produce_nothing && !warming && needed_answers(&b) {
            n += 1;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = n;
            let _ = std::fs::write(
                b.out.join(format!("batch-{n:06}.json")),
                format!("{{\"batch\":{n}}}\n"),
            );
            log_line(&b.log, &format!("INFO processed batch {n}"));
        } else if !announced {
            announced = true;
            log_line(&b.log, "INFO started; waiting for work");
        }
        std::thread::sleep(b.every);
    }
}
