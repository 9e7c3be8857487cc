//! Secrets planted in a service's log, its stdout and its checks' settings are found nowhere
//! akashic keeps or prints anything, through a real freeze; its files are private whatever
//! the umask.

use crate::util::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Secrets of realistic shapes: (the line that carries it, the part that must never be found).
fn corpus() -> Vec<(String, String)> {
    let same = |s: &str| (s.to_string(), s.to_string());
    vec![
        same("AKIAQWERTYUIOPASDFGH"),
        (
            "aws_secret_access_key=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".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ1aB2c3D4".into(),
        ),
        same("ghp_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0Ed9Cb8"),
        same("github_pat_11ABCDEFG0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefGHIJ"),
        same("glpat-Qw3rTy9Uio0PaSd4Fg5H"),
        same("sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f"),
        same("sk-ant-api03-Zq8Xw7Vc6Bn5Mm4Ll3Kk2Jj1Hh0Gg9Ff8Ee7Dd6Cc5Bb4Aa"),
        same("sk_live_51HqLmN0pQrStUvWxYz0123aBcD"),
        same("xoxb-12345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx"),
        (
            "posting to https://hooks.slack.com/services/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"
                .into(),
            "q1w2e3r4t5y6u7i8o9p0a1s2".into(),
        ),
        same("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
        same("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcml2YWN5LXRlc3QifQ.Sfl8KxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
        (
            "GET /orders Authorization: Bearer tkn8f7e6d5c4b3a2918f7e6d5c4".into(),
            "tkn8f7e6d5c4b3a2918f7e6d5c4".into(),
        ),
        (
            "connecting to postgres://app:Pg-s3cret-Passw0rd@db.internal:5432/app".into(),
            "Pg-s3cret-Passw0rd".into(),
        ),
        ("login failed password=Hunt3r-two-22".into(), "Hunt3r-two-22".into()),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQprivacyKeyBodyLine0123456789\n-----END RSA PRIVATE KEY-----".into(),
            "MIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQprivacyKeyBodyLine0123456789".into(),
        ),
        same("npm_aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2"),
        same("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"),
        same("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"),
        same("SKa1b2c3d4e5f60718293a4b5c6d7e8f90"),
        same("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"),
        (
            "cache at redis://:R3dis-Pa55-w0rd@cache:6379/0".into(),
            "R3dis-Pa55-w0rd".into(),
        ),
    ]
}

/// Secrets only in the checks' settings (URLs, a command's arguments and output).
const HTTP_USER_PASS: &str = "Http-Pa55-Secret";
const HTTP_TOKEN: &str = "tokq7w8e9r0t1y2u3i4o5p6";
const CMD_PASSWORD: &str = "Cmd-Pa55word-Xyz9";
const CMD_KEY: &str = "sk_live_CmdKey0123456789abcdEF";

fn config(port: u16, closed: u16, stdout_secrets: &str) -> String {
    format!(
        r#"{DAEMON}
[[service]]
name = "pipeline"
grace = "1s"
recovery_window = "20s"
restart_budget = {{ max = 3, within = "1h" }}

[service.restart]
kind = "child"
command = ["sh", "-c", "printf '%s\n' \"$0\" >&2; printf '%s\n' \"$0\"; exec \"$1\" demo-service --port {port} --log {{DIR}}/pipeline/stdout.log --out {{DIR}}/pipeline/out --every 200ms --freeze-after 3s --freeze-once {{DIR}}/froze", "{stdout_secrets}", "{{AKASHIC}}"]
stdout = "{{DIR}}/pipeline/stdout.log"
stop_grace = "1s"

[[service.check]]
kind = "http"
url = "http://probe:{HTTP_USER_PASS}@127.0.0.1:{port}/health?token={HTTP_TOKEN}&v=1"
body_contains = "\"ok\":true"
timeout = "1s"

[[service.check]]
kind = "artifact"
glob = "{{DIR}}/pipeline/out/*.json"
max_age = "2s"

[[service]]
name = "noisy"
grace = "1s"

[[service.check]]
kind = "http"
url = "http://probe:{HTTP_USER_PASS}@127.0.0.1:{closed}/health?token={HTTP_TOKEN}"
timeout = "1s"

[[service.check]]
kind = "artifact"
command = ["sh", "-c", "echo \"$0 $1\"", "password={CMD_PASSWORD}", "{CMD_KEY}"]
min_growth = 1
within = "10s"
"#
    )
}

/// Starts `akashic watch` with umask 000, so nothing private is private by the umask's grace.
fn watch_with_open_umask(f: &mut Fleet) {
    let log = std::fs::File::create(f.path("daemon.log")).unwrap();
    let mut cmd = Command::new(AKASHIC);
    cmd.args(["--config", f.config.to_str().unwrap(), "watch"])
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    f.daemon = Some(cmd.spawn().unwrap());
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            walk(&p, out);
        }
    }
}

#[test]
fn planted_secrets_are_found_nowhere_akashic_keeps_or_prints() {
    let corpus = corpus();
    let (port, closed) = (free_port(), free_port());
    // Printed by the service on its stdout and stderr at start (one shell word: no quotes).
    let stdout_secrets = corpus[..6]
        .iter()
        .map(|(line, _)| line.replace('"', ""))
        .collect::<Vec<_>>()
        .join(" ");
    let mut f = Fleet::new(&config(port, closed, &stdout_secrets));
    std::fs::create_dir_all(f.path("pipeline")).unwrap();
    watch_with_open_umask(&mut f);
    // The rest go into its log (here, the same file as its stdout) while it runs.
    let log = f.path("pipeline/stdout.log");
    wait_for("the service's first output", || {
        std::fs::metadata(&log).ok().filter(|m| m.len() > 0)
    });
    {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        for (line, _) in &corpus[6..] {
            writeln!(w, "ERROR {line}").unwrap();
        }
    }

    let inc = f.wait_incident("the frozen service's post-mortem", |i| {
        i["service"] == "pipeline" && !i["postmortem"].is_null()
    });
    f.wait_incident("the noisy service's incident", |i| i["service"] == "noisy");
    // The secrets went the whole way: the log tail akashic kept held them, masked.
    let tail = inc["log_tail"].as_str().unwrap_or_default();
    assert!(
        tail.matches("[REDACTED").count() >= corpus.len() - 6,
        "log tail: {tail}"
    );
    let state = f.path("state");
    wait_for("the digest and memory", || {
        (state.join("DIGEST.md").exists() && state.join("memory.db").exists()).then_some(())
    });

    let mut secrets: Vec<String> = corpus.iter().map(|(_, s)| s.clone()).collect();
    secrets.extend([HTTP_USER_PASS, HTTP_TOKEN, CMD_PASSWORD, CMD_KEY].map(String::from));

    // Everything akashic keeps, read raw, and everything it prints as JSON.
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    let mut files = Vec::new();
    walk(&state, &mut files);
    for p in &files {
        let m = std::fs::symlink_metadata(p).unwrap();
        let mode = m.mode() & 0o777;
        if m.is_dir() {
            assert_eq!(mode, 0o700, "{} is {mode:o}", p.display());
        } else {
            assert_eq!(mode, 0o600, "{} is {mode:o} (umask was 000)", p.display());
        }
        if m.is_file() {
            places.push((p.display().to_string(), std::fs::read(p).unwrap()));
        } else {
            assert!(m.is_dir() || m.file_type().is_socket(), "{}", p.display());
        }
    }
    assert_eq!(
        std::fs::metadata(&state).unwrap().mode() & 0o777,
        0o700,
        "state_dir"
    );
    let mut outputs: Vec<Vec<String>> = ["status", "incidents", "check", "digest", "doctor"]
        .iter()
        .map(|c| vec![c.to_string(), "--json".into()])
        .collect();
    for i in f.incidents() {
        outputs.push(vec![
            "show".into(),
            i["id"].as_str().unwrap().into(),
            "--json".into(),
        ]);
    }
    outputs.push(vec![
        "ask".into(),
        "why did pipeline freeze".into(),
        "--json".into(),
    ]);
    for args in &outputs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = f.run(&args);
        places.push((format!("akashic {}", args.join(" ")), out.stdout));
    }
    places.push((
        "daemon log".into(),
        std::fs::read(f.path("daemon.log")).unwrap(),
    ));

    let mut found = Vec::new();
    for (place, bytes) in &places {
        for s in &secrets {
            if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                found.push(format!("{s} in {place}"));
            }
        }
    }
    println!(
        "privacy: secrets found {} of {} planted, over {} files and outputs",
        found.len(),
        secrets.len(),
        places.len()
    );
    assert!(found.is_empty(), "{found:#?}");
    // The planted files themselves still hold them: the search could have found them.
    let planted = std::fs::read_to_string(&log).unwrap();
    assert!(corpus.iter().all(|(_, s)| planted.contains(s.as_str())));
}
