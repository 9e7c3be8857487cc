//! A flood of connections on the control socket of a daemon with few file descriptors: no
//! service is touched, a freeze is still caught, `status` says the daemon is degraded and then
//! that it is not; a huge request without a newline leaves its memory as it was.

use crate::util::*;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The daemon's open-files limit, soft and hard.
const NOFILE: u64 = 64;

fn watch_with_few_files(f: &mut Fleet) {
    let log = std::fs::File::create(f.path("daemon.log")).unwrap();
    let mut cmd = Command::new(AKASHIC);
    cmd.args(["--config", f.config.to_str().unwrap(), "watch"])
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: NOFILE,
                rlim_max: NOFILE,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    f.daemon = Some(cmd.spawn().unwrap());
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident memory once it has stopped moving (what drafting took is given back): three
/// readings half a second apart within 1 MiB of each other.
fn settled_rss_kib(pid: u32) -> u64 {
    let mut last = rss_kib(pid);
    let mut steady = 0;
    wait_for("the daemon's memory to settle", || {
        std::thread::sleep(Duration::from_millis(500));
        let now = rss_kib(pid);
        steady = if now.abs_diff(last) < 1024 {
            steady + 1
        } else {
            0
        };
        last = now;
        (steady >= 3).then_some(now)
    })
}

/// A service's pid in a `status --json`, once it has one.
fn pid_of(status: &serde_json::Value, name: &str) -> Option<u64> {
    status["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?["pid"]
        .as_u64()
}

fn degraded(status: &serde_json::Value) -> Vec<String> {
    status["degraded"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|l| l.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps opening connections (holding the newest `keep`) until stopped.
fn flood(sock: std::path::PathBuf, stop: Arc<AtomicBool>, made: Arc<AtomicUsize>) {
    let keep = 300;
    let mut held = VecDeque::with_capacity(keep);
    while !stop.load(Ordering::Relaxed) {
        if let Ok(s) = UnixStream::connect(&sock) {
            made.fetch_add(1, Ordering::Relaxed);
            held.push_back(s);
            if held.len() > keep {
                held.pop_front();
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Makes the freezer freeze once more (its `n`th freeze), and no more after its restart.
fn freeze_once_more(f: &Fleet, n: usize) {
    std::fs::write(f.path("freeze"), "").unwrap();
    wait_for("the freezer to freeze", || {
        (count_lines(&f.path("freeze.froze"), "froze pid") >= n).then_some(())
    });
    std::fs::remove_file(f.path("freeze")).unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn a_flood_of_connections_touches_no_service_and_is_reported() {
    let (p1, p2) = (free_port(), free_port());
    let toml = format!(
        "{DAEMON}{}{}",
        demo_service("steady", p1, "", r#"{ max = 3, within = "1h" }"#, "20s"),
        demo_service(
            "freezer",
            p2,
            r#", "--freeze-after", "0s", "--freeze-while", "{DIR}/freeze""#,
            r#"{ max = 3, within = "1h" }"#,
            "20s"
        )
    );
    let mut f = Fleet::new(&toml);
    watch_with_few_files(&mut f);
    let daemon = f.daemon.as_ref().unwrap().id();
    let steady_pid = wait_for("steady to be healthy", || {
        let s = f.json(&["status", "--json"]);
        let services = s["services"].as_array()?;
        let healthy = !services.is_empty() && services.iter().all(|v| v["state"] == "healthy");
        healthy.then(|| pid_of(&s, "steady")).flatten()
    });
    // A first freeze before the flood: its post-mortem loads what drafting needs (the
    // embedding model, the memory), so the figures below compare the socket alone.
    freeze_once_more(&f, 1);
    let first = f.wait_incident("the first freeze", |i| i["service"] == "freezer");
    let first_id = first["id"].as_str().unwrap().to_string();
    wait_for("the first freeze's post-mortem", || {
        let i = f.show(&first_id);
        (i["recovered"] == true && !i["postmortem"].is_null()).then_some(())
    });
    let rss_before = settled_rss_kib(daemon);

    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicUsize::new(0));
    let flooder = {
        let (sock, stop, made) = (f.path("state/akashic.sock"), stop.clone(), made.clone());
        std::thread::spawn(move || flood(sock, stop, made))
    };
    // While it floods: `status` gets through and says the socket is over its limits.
    let said = wait_for("status to say the daemon is degraded", || {
        let d = degraded(&f.json(&["status", "--json"]));
        d.into_iter().find(|l| l.contains("control socket"))
    });
    // What the flood costs, measured before the next freeze drafts a post-mortem of its own.
    let rss_flood = settled_rss_kib(daemon);
    // A freeze during the flood is caught as a freeze, not as akashic's own shortage.
    freeze_once_more(&f, 2);
    let inc = f.wait_incident("the freeze during the flood", |i| {
        i["service"] == "freezer" && i["id"] != first_id.as_str()
    });
    let kinds: Vec<&str> = inc["failed_checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert!(
        kinds.iter().all(|k| *k == "artifact" || *k == "log_stale"),
        "{kinds:?}: {inc:#}"
    );
    let froze = std::fs::metadata(f.path("freeze.froze"))
        .unwrap()
        .modified()
        .unwrap();
    let detected: chrono::DateTime<chrono::Utc> =
        inc["detected_at"].as_str().unwrap().parse().unwrap();
    let latency = (detected - chrono::DateTime::<chrono::Utc>::from(froze))
        .to_std()
        .unwrap_or_default();
    stop.store(true, Ordering::Relaxed);
    flooder.join().unwrap();
    let connections = made.load(Ordering::Relaxed);

    // Nothing touched the steady service.
    let s = f.json(&["status", "--json"]);
    assert_eq!(pid_of(&s, "steady"), Some(steady_pid), "{s:#}");
    assert!(
        f.incidents().iter().all(|i| i["service"] != "steady"),
        "{:#?}",
        f.incidents()
    );
    // Once the flood is over, the daemon says so.
    let started = Instant::now();
    wait_for("status to say the daemon is no longer degraded", || {
        let d = degraded(&f.json(&["status", "--json"]));
        (!d.iter().any(|l| l.contains("control socket"))).then_some(())
    });
    let recovered_in = started.elapsed();
    let second = inc["id"].as_str().unwrap().to_string();
    wait_for("the second freeze's post-mortem", || {
        let i = f.show(&second);
        (i["recovered"] == true && !i["postmortem"].is_null()).then_some(())
    });
    let rss_after = settled_rss_kib(daemon);

    // A 100 MB request without a newline: answered with an error, memory unchanged.
    let mut s = UnixStream::connect(f.path("state/akashic.sock")).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    while sent < 100 << 20 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let rss_big = rss_kib(daemon);
    assert!(
        answer.contains("request longer than 64 KiB"),
        "answer: {answer:?}"
    );
    let s = f.json(&["status", "--json"]);
    assert_eq!(pid_of(&s, "steady"), Some(steady_pid), "{s:#}");

    println!("flood: {connections} connections opened against RLIMIT_NOFILE {NOFILE}; status said {said:?}");
    println!(
        "flood: freeze detected {:.2}s after the last output (max_age 2s), during the flood",
        latency.as_secs_f64()
    );
    println!(
        "flood: degraded cleared {:.1}s after the flood stopped",
        recovered_in.as_secs_f64()
    );
    println!(
        "flood: daemon RSS {} KiB before, {} KiB during, {} KiB after; {} KiB after a 100 MB request without a newline (closed after {} KiB were taken)",
        rss_before, rss_flood, rss_after, rss_big, sent >> 10
    );
    assert!(
        latency <= Duration::from_millis(2_000 + 250 + 1_000),
        "detection took {latency:?}"
    );
    assert!(
        rss_big < rss_after + 16 * 1024,
        "a long request grew the daemon from {rss_after} to {rss_big} KiB"
    );
    assert!(
        rss_flood < rss_before + 32 * 1024,
        "the flood grew the daemon from {rss_before} to {rss_flood} KiB"
    );
    assert_eq!(
        count_lines(&f.path("daemon.log"), "could not look"),
        0,
        "a probe went blind:\n{}",
        std::fs::read_to_string(f.path("daemon.log")).unwrap_or_default()
    );
}
