//! Shared test harness: a temp fleet of real demo services under a real `akashic watch`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const AKASHIC: &str = env!("CARGO_BIN_EXE_akashic");

/// The one timeout every poll in these tests shares.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Polls `f` until it returns Some, or panics after `TIMEOUT` with `what`.
pub fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll(f).unwrap_or_else(|| panic!("timed out after {TIMEOUT:?} waiting for {what}"))
}

fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > TIMEOUT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sets a file's mtime two hours back, as `touch -m -d '2 hours ago'` does.
pub fn set_back_2h(path: &Path) {
    let then = std::time::SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(then))
        .unwrap_or_else(|e| panic!("set back {}: {e}", path.display()));
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temp dir with a config; runs akashic commands against it.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub daemon: Option<Child>,
}

impl Fleet {
    pub fn new(toml: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("akashic.toml");
        let toml = toml
            .replace("{DIR}", &dir.path().display().to_string())
            .replace("{AKASHIC}", AKASHIC);
        std::fs::write(&config, toml).unwrap();
        Fleet {
            dir,
            config,
            daemon: None,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Starts `akashic watch`, its stderr into `daemon.log`.
    pub fn watch(&mut self) {
        self.watch_env(&[]);
    }

    /// [`Fleet::watch`] with these environment variables set for the daemon.
    pub fn watch_env(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("daemon.log"))
            .unwrap();
        let child = Command::new(AKASHIC)
            .args(["--config", self.config.to_str().unwrap(), "watch"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(AKASHIC)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?} printed no JSON ({e}); stdout: {} stderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    pub fn incidents(&self) -> Vec<serde_json::Value> {
        self.json(&["incidents", "--json"])["incidents"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn show(&self, id: &str) -> serde_json::Value {
        self.json(&["show", id, "--json"])
    }

    /// Waits for the first incident matching `pred`, as `show --json` gives it.
    pub fn wait_incident(
        &self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let found = poll(|| {
            self.incidents()
                .into_iter()
                .filter_map(|i| i["id"].as_str().map(|id| self.show(id)))
                .find(|i| pred(i))
        });
        found.unwrap_or_else(|| {
            panic!(
                "timed out after {TIMEOUT:?} waiting for {what}\nincidents: {:#?}\ndaemon log:\n{}",
                self.incidents(),
                std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
            )
        })
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = self.daemon.as_ref().expect("daemon running").id();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
    }

    /// Waits for the daemon to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.daemon.take().expect("daemon running");
        wait_for("akashic to exit", || child.try_wait().unwrap()).code()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
        }
    }
}

/// Lines of a file containing `needle`.
pub fn count_lines(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// The service section of a demo-service child with the usual checks.
pub fn demo_service(
    name: &str,
    port: u16,
    extra_args: &str,
    budget: &str,
    recovery_window: &str,
) -> String {
    format!(
        r#"
[[service]]
name = "{name}"
log = "{{DIR}}/{name}/service.log"
grace = "1s"
recovery_window = "{recovery_window}"
restart_budget = {budget}

[service.restart]
kind = "child"
command = ["{{AKASHIC}}", "demo-service", "--port", "{port}", "--log", "{{DIR}}/{name}/service.log", "--out", "{{DIR}}/{name}/out", "--every", "200ms"{extra_args}]
stdout = "{{DIR}}/{name}/stdout.log"
stop_grace = "1s"

[[service.check]]
kind = "http"
url = "http://127.0.0.1:{port}/health"
body_contains = "\"ok\":true"
timeout = "1s"

[[service.check]]
kind = "port"
addr = "127.0.0.1:{port}"

[[service.check]]
kind = "log_stale"
path = "{{DIR}}/{name}/service.log"
max_age = "2s"

[[service.check]]
kind = "artifact"
glob = "{{DIR}}/{name}/out/*.json"
max_age = "2s"
"#
    )
}

pub const DAEMON: &str =
    "[daemon]\nstate_dir = \"{DIR}/state\"\ntick = \"250ms\"\nforensics_budget = \"1s\"\n";
