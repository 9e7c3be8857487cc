//! Linux forensics from /proc: process and thread states, wchan, CPU, RSS, fds, sockets, children.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::budget::{within, Shared};

/// What was read of the process, part by part; `None` = not reached before the deadline.
#[derive(Debug, Default)]
struct Snap {
    pid: u32,
    process: Option<Stat>,
    rss_kb: Option<u64>,
    threads_total: Option<u64>,
    fds: Option<usize>,
    socket_inodes: Option<HashSet<u64>>,
    listening: Option<Vec<String>>,
    threads: Option<Vec<Thread>>,
    children: Option<Vec<Stat>>,
}

/// The fields of `/proc/<pid>/stat` akashic reports.
#[derive(Debug, Clone, Default)]
struct Stat {
    pid: u32,
    comm: String,
    state: char,
    ppid: u32,
    pgrp: u32,
    /// Clock ticks.
    utime: u64,
    stime: u64,
}

#[derive(Debug, Clone)]
struct Thread {
    stat: Stat,
    wchan: String,
}

/// Collects under `budget`; returns ("proc", text, complete).
pub(super) async fn collect(pid: u32, budget: Duration) -> (&'static str, String, bool) {
    let shared = Shared::new(Snap {
        pid,
        ..Snap::default()
    });
    let worker = shared.clone();
    let work = async move {
        // A hung process can make some /proc reads block (mmap lock): keep them off the runtime.
        let _ = tokio::task::spawn_blocking(move || gather(pid, &worker)).await;
    };
    let complete = within(budget, &shared, work).await;
    ("proc", shared.read(render), complete)
}

/// Reads each part in turn, stopping as soon as the deadline has passed.
fn gather(pid: u32, out: &Shared<Snap>) {
    let base = format!("/proc/{pid}");
    let stat = read_stat(&format!("{base}/stat"));
    out.update(|s| s.process = stat);
    if out.is_cancelled() {
        return;
    }
    if let Ok(status) = fs::read_to_string(format!("{base}/status")) {
        let rss = status_field(&status, "VmRSS:");
        let threads = status_field(&status, "Threads:");
        out.update(|s| {
            s.rss_kb = rss;
            s.threads_total = threads;
        });
    }
    if out.is_cancelled() {
        return;
    }
    if let Ok(dir) = fs::read_dir(format!("{base}/fd")) {
        let mut count = 0;
        let mut sockets = HashSet::new();
        for entry in dir.flatten() {
            count += 1;
            if let Some(inode) = fs::read_link(entry.path())
                .ok()
                .and_then(|target| socket_inode(&target.to_string_lossy()))
            {
                sockets.insert(inode);
            }
        }
        out.update(|s| {
            s.fds = Some(count);
            s.socket_inodes = Some(sockets);
        });
    }
    if out.is_cancelled() {
        return;
    }
    let inodes = out.read(|s| s.socket_inodes.clone()).unwrap_or_default();
    let mut listening = Vec::new();
    if !inodes.is_empty() {
        for table in ["tcp", "tcp6"] {
            if let Ok(text) = fs::read_to_string(format!("{base}/net/{table}")) {
                listening.extend(listening_addrs(&text, &inodes));
            }
        }
    }
    out.update(|s| s.listening = Some(listening));
    let mut threads = Vec::new();
    let mut tids: Vec<u32> = fs::read_dir(format!("{base}/task"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    for tid in &tids {
        if out.is_cancelled() {
            out.update(|s| s.threads = Some(threads));
            return;
        }
        if let Some(stat) = read_stat(&format!("{base}/task/{tid}/stat")) {
            let wchan = fs::read_to_string(format!("{base}/task/{tid}/wchan")).unwrap_or_default();
            threads.push(Thread {
                stat,
                wchan: wchan.trim().to_string(),
            });
        }
    }
    out.update(|s| s.threads = Some(threads));
    let mut children = Vec::new();
    for tid in &tids {
        if out.is_cancelled() {
            break;
        }
        let Ok(list) = fs::read_to_string(format!("{base}/task/{tid}/children")) else {
            continue;
        };
        for child in list
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            if let Some(stat) = read_stat(&format!("/proc/{child}/stat")) {
                children.push(stat);
            }
        }
    }
    out.update(|s| s.children = Some(children));
}

/// Why a pid has no snapshot.
pub(super) fn not_running(pid: u32) -> String {
    match read_stat(&format!("/proc/{pid}/stat")) {
        Some(stat) if stat.state == 'Z' || stat.state == 'X' => format!(
            "pid {pid} ({}) has exited: a zombie not yet reaped by its parent {}",
            stat.comm, stat.ppid
        ),
        _ => format!("pid {pid} is not running (no such process)"),
    }
}

/// Parses a `stat` line; `comm` may hold spaces and parentheses, so split at the last `)`.
fn read_stat(path: &str) -> Option<Stat> {
    parse_stat(&fs::read_to_string(path).ok()?)
}

fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After comm: state(0) ppid(1) pgrp(2) ... utime(11) stime(12).
    Some(Stat {
        pid,
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
    })
}

/// A `Key:   123 kB` line of `status`, as a number.
fn status_field(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Listening (state 0A) sockets of `/proc/net/tcp{,6}` whose inode is one of `inodes`.
fn listening_addrs(table: &str, inodes: &HashSet<u64>) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?.parse::<u64>().ok()?);
            if *state != "0A" || !inodes.contains(&inode) {
                return None;
            }
            decode_addr(local)
        })
        .collect()
}

/// `0100007F:1F90` -> `127.0.0.1:8080`; 32 hex digits -> `[::1]:8080`. The kernel prints
/// each 32-bit word of the address in host order.
fn decode_addr(hex: &str) -> Option<String> {
    let (addr, port) = hex.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<Vec<u32>>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match bytes.len() {
        4 => Some(format!(
            "{}:{port}",
            Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
        )),
        16 => {
            let arr: [u8; 16] = bytes.try_into().ok()?;
            Some(format!("[{}]:{port}", Ipv6Addr::from(arr)))
        }
        _ => None,
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

fn state_word(state: char) -> &'static str {
    match state {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk sleep",
        'T' => "stopped",
        't' => "tracing stop",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        _ => "unknown",
    }
}

/// The readable text: the process line, a summary line, one line per thread, the children.
fn render(s: &Snap) -> String {
    let hz = ticks_per_second();
    let secs = |ticks: u64| ticks as f64 / hz;
    let mut out = String::new();
    if let Some(p) = &s.process {
        let _ = writeln!(
            out,
            "process {} ({}) state={} ({}) ppid={} pgid={}",
            p.pid,
            p.comm,
            p.state,
            state_word(p.state),
            p.ppid,
            p.pgrp
        );
    } else {
        let _ = writeln!(out, "process {} (stat unreadable)", s.pid);
    }

    let mut summary = Vec::new();
    match (&s.threads, s.threads_total) {
        (Some(threads), _) if !threads.is_empty() => {
            let mut by_state = BTreeMap::new();
            for t in threads {
                *by_state.entry(t.stat.state).or_insert(0) += 1;
            }
            let states: Vec<String> = by_state.iter().map(|(st, n)| format!("{st}:{n}")).collect();
            summary.push(format!("threads={} ({})", threads.len(), states.join(" ")));
        }
        (_, Some(total)) => summary.push(format!("threads={total}")),
        _ => {}
    }
    if let Some(p) = &s.process {
        summary.push(format!(
            "cpu={:.1}s (user {:.1}s, system {:.1}s)",
            secs(p.utime + p.stime),
            secs(p.utime),
            secs(p.stime)
        ));
    }
    if let Some(kb) = s.rss_kb {
        summary.push(format!("rss={:.1}MB", kb as f64 / 1024.0));
    }
    if let Some(fds) = s.fds {
        summary.push(format!("fds={fds}"));
    }
    if let Some(sockets) = &s.socket_inodes {
        summary.push(format!("sockets={}", sockets.len()));
    }
    if let Some(listening) = &s.listening {
        let shown = if listening.is_empty() {
            "none".to_string()
        } else {
            listening.join(",")
        };
        summary.push(format!("listening={shown}"));
    }
    if !summary.is_empty() {
        let _ = writeln!(out, "{}", summary.join(" "));
    }

    for t in s.threads.iter().flatten() {
        let wchan = match t.wchan.as_str() {
            "" | "0" => "-",
            w => w,
        };
        let _ = writeln!(
            out,
            "thread {} ({}) state={} wchan={} cpu={:.1}s",
            t.stat.pid,
            t.stat.comm,
            t.stat.state,
            wchan,
            secs(t.stat.utime + t.stat.stime)
        );
    }
    if let Some(children) = &s.children {
        if children.is_empty() {
            let _ = writeln!(out, "children: none");
        }
        for c in children {
            let _ = writeln!(
                out,
                "child {} ({}) state={} cpu={:.1}s",
                c.pid,
                c.comm,
                c.state,
                secs(c.utime + c.stime)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_parentheses_in_comm_parses() {
        let line =
            "1234 (my (odd) bot) S 1 1234 1234 0 -1 4194560 100 0 0 0 120 30 0 0 20 0 3 0 1 2 3";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.state, s.ppid, s.pgrp),
            (1234, "my (odd) bot", 'S', 1, 1234)
        );
        assert_eq!((s.utime, s.stime), (120, 30));
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn tcp_tables_decode_listening_addresses() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 555 1 0 100 0 0 10 0\n   1: 0100007F:1F91 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 556 1 0 100 0 0 10 0\n";
        let inodes = HashSet::from([555, 556]);
        assert_eq!(listening_addrs(table, &inodes), ["127.0.0.1:8080"]);
        assert_eq!(
            decode_addr("00000000000000000000000001000000:1F90").as_deref(),
            Some("[::1]:8080")
        );
        assert_eq!(socket_inode("socket:[42]"), Some(42));
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn a_partial_snapshot_renders_what_it_has() {
        let snap = Snap {
            pid: 7,
            rss_kb: Some(2048),
            threads_total: Some(4),
            ..Snap::default()
        };
        assert_eq!(
            render(&snap),
            "process 7 (stat unreadable)\nthreads=4 rss=2.0MB\n"
        );
    }
}
