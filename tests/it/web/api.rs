//! `/api` gives exactly the CLI's `--json`, `/metrics` every contract name, and neither a
//! foreign page nor a crowd of silent connections gets anything from the daemon.

use super::http::{get, request};
use crate::util::*;
use std::io::Write;

/// A service that freezes once (then is restarted and recovers), and one that idles.
pub fn freezing_fleet(http: &str) -> (Fleet, u16) {
    let port = free_port();
    let svc = demo_service(
        "web",
        free_port(),
        r#", "--freeze-after", "3s", "--freeze-once", "{DIR}/froze""#,
        "{ max = 5, within = \"1h\" }",
        "20s",
    );
    let toml = format!(
        "{DAEMON}http = \"127.0.0.1:{port}\"\n{http}{svc}\n[[service]]\nname = \"idle\"\n[service.restart]\nkind = \"child\"\ncommand = [\"sleep\", \"300\"]\n[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:{port}\"\n"
    );
    (Fleet::new(&toml), port)
}

fn cli(f: &Fleet, args: &[&str]) -> serde_json::Value {
    f.json(args)
}

/// The keys of a JSON value, recursively (arrays by their first element).
fn shape(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.first().map(shape).into_iter().collect())
        }
        _ => serde_json::Value::Null,
    }
}

#[test]
fn api_gives_the_cli_json_and_metrics_every_name() {
    let (mut f, port) = freezing_fleet("");
    f.watch();
    wait_for("the web server", || {
        request(port, "GET", "/api/status", &[])
            .ok()
            .filter(|a| a.status == 200)
    });
    let inc = f.wait_incident("the freeze recovered with its post-mortem", |i| {
        i["recovered"] == true && i["postmortem"].is_object()
    });
    let id = inc["id"].as_str().unwrap().to_string();

    // The same store, the same functions: equal once nothing changes between the two reads.
    wait_for("/api/incidents equal to `incidents --json`", || {
        (get(port, "/api/incidents", &[]).json() == cli(&f, &["incidents", "--json"])).then_some(())
    });
    assert_eq!(
        get(port, "/api/incidents?service=web", &[]).json(),
        cli(&f, &["incidents", "--service", "web", "--json"])
    );
    assert_eq!(
        get(port, "/api/incidents?service=idle", &[]).json()["incidents"],
        serde_json::json!([])
    );
    assert_eq!(
        get(port, &format!("/api/incidents/{id}"), &[]).json(),
        cli(&f, &["show", &id, "--json"])
    );
    let unknown = get(port, "/api/incidents/inc-nope", &[]);
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "no incident \"inc-nope\"");

    let api = get(port, "/api/status", &[]).json();
    let cli_status = cli(&f, &["status", "--json"]);
    assert_eq!(shape(&api), shape(&cli_status));
    assert_eq!(api["daemon"]["state"], "running");
    let names = |v: &serde_json::Value| {
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&api), names(&cli_status));

    let q = "why did web freeze";
    let asked = f.run(&["ask", q, "-k", "3", "--json"]);
    let api_ask = get(port, "/api/ask?q=why%20did%20web%20freeze&k=3", &[]);
    if asked.status.success() {
        assert_eq!(api_ask.status, 200, "{}", api_ask.body);
        assert_eq!(
            api_ask.json(),
            serde_json::from_slice::<serde_json::Value>(&asked.stdout).unwrap()
        );
    } else {
        assert_eq!(
            api_ask.status, 500,
            "the CLI failed, so must the API: {}",
            api_ask.body
        );
    }
    assert_eq!(get(port, "/api/ask?q=&k=3", &[]).status, 400);

    let metrics = get(port, "/metrics", &[]);
    assert_eq!(metrics.status, 200);
    let m = metrics.body;
    for name in [
        "akashic_service_healthy{service=\"idle\"}",
        "akashic_service_state{service=\"web\",state=",
        "akashic_check_ok{service=\"web\",check=\"0\",kind=\"http\"} 1",
        "akashic_output_age_seconds{service=\"web\",check=\"2\"}",
        "akashic_restarts_total{service=\"idle\"} 0",
        "akashic_restarts_total{service=\"web\"} 1",
        "akashic_incidents_total{service=\"web\",category=",
        "akashic_detection_latency_seconds_count 1",
        "akashic_postmortem_seconds_count{author=\"template\"} 1",
        "# TYPE akashic_memory_documents gauge",
    ] {
        assert!(m.contains(name), "{name} missing from /metrics:\n{m}");
    }
    // One `akashic_service_state` per service: the state it is in, as `/api/status` says (each
    // is kept up to a few seconds, so they agree once both were taken after the last change).
    let states = |m: &str| {
        let mut s: Vec<String> = m
            .lines()
            .filter(|l| l.starts_with("akashic_service_state{"))
            .map(str::to_string)
            .collect();
        s.sort();
        s
    };
    assert_eq!(states(&m).len(), 2, "{m}");
    wait_for(
        "each service's state in /metrics as /api/status says",
        || {
            let status = get(port, "/api/status", &[]).json();
            let mut want: Vec<String> = status["services"]
                .as_array()?
                .iter()
                .map(|s| {
                    format!(
                        "akashic_service_state{{service={},state={}}} 1",
                        s["name"], s["state"]
                    )
                })
                .collect();
            want.sort();
            (states(&get(port, "/metrics", &[]).body) == want).then_some(())
        },
    );

    // Without a token: only loopback names (a rebound DNS name is refused), and a POST from
    // another origin is refused.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(
        b"GET /api/status HTTP/1.1\r\nHost: akashic.example.invalid\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut s, &mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");
    let foreign = request(
        port,
        "POST",
        "/api/services/web/resume",
        &["Origin: http://evil.example.invalid"],
    )
    .unwrap();
    assert_eq!(foreign.status, 403);
    let unknown = request(port, "POST", "/api/services/nope/resume", &[]).unwrap();
    assert_eq!(unknown.status, 404);
}

#[test]
fn silent_connections_do_not_stall_the_watchdog() {
    let (mut f, port) = freezing_fleet("");
    f.watch();
    wait_for("the web server", || {
        request(port, "GET", "/api/status", &[])
            .ok()
            .filter(|a| a.status == 200)
    });
    // Twice the connection limit, each sending half a request head and then nothing.
    let crowd: Vec<_> = (0..128)
        .filter_map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127").ok()?;
            Some(s)
        })
        .collect();
    assert!(crowd.len() >= 64, "{} connections", crowd.len());
    // The watchdog still catches the freeze and recovers the service meanwhile.
    f.wait_incident("the freeze recovered while the crowd waits", |i| {
        i["recovered"] == true
    });
    let status = f.json(&["status", "--json"]);
    assert_eq!(status["daemon"]["state"], "running");
    // The silent ones are cut at the head timeout; the server answers again.
    wait_for("the server to answer after the crowd", || {
        request(port, "GET", "/api/status", &[])
            .ok()
            .filter(|a| a.status == 200)
    });
    drop(crowd);
}
