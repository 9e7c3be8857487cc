//! A `[[service.check]]` table: its kind, target, schedule and thresholds.

use super::bounds;
use super::locate::KeyPath;
use super::model::*;
use super::raw::*;
use super::validate::{resolve_glob, Ctx};
use super::validate_service::nonempty_argv;
use std::time::Duration;

pub(super) fn validate_check(
    cx: &mut Ctx,
    c: RawCheck,
    at: &KeyPath,
    tick: Duration,
) -> Option<CheckSpec> {
    let interval = cx.duration(
        &at.key("interval"),
        c.interval.as_ref(),
        tick,
        &bounds::CHECK_INTERVAL,
    );
    let failures = cx.count(&at.key("failures"), c.failures, 1, &bounds::FAILURES);
    let kind_name = c.kind.clone().unwrap_or_default();
    let kind = match kind_name.as_str() {
        "log_stale" => {
            cx.not_for_kind(at, "log_stale", &foreign(&c, &["path", "max_age"]));
            let path = c.path.as_deref().map(|p| cx.path(&at.key("path"), p));
            if path.is_none() {
                cx.bad(
                    at,
                    "log_stale check has no `path`; add path = \"/path/to/service.log\"",
                );
            }
            let max_age = cx.required_duration(
                &at.key("max_age"),
                c.max_age.as_ref(),
                "how old the log may get",
                &bounds::MAX_AGE,
            );
            CheckKind::LogStale {
                path: path.unwrap_or_default(),
                max_age,
            }
        }
        "http" => {
            cx.not_for_kind(
                at,
                "http",
                &foreign(&c, &["url", "status", "body_contains", "timeout"]),
            );
            let url = match c.url.clone() {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => u,
                Some(u) => {
                    cx.bad(
                        &at.key("url"),
                        format!("url {u:?} must start with http:// or https://"),
                    );
                    u
                }
                None => {
                    cx.bad(
                        at,
                        "http check has no `url`; add url = \"http://127.0.0.1:8080/health\"",
                    );
                    String::new()
                }
            };
            let status = c.status.unwrap_or(200);
            if !(100..=599).contains(&status) {
                cx.bad(
                    &at.key("status"),
                    format!("status {status} is not an HTTP status code (100-599)"),
                );
            }
            CheckKind::Http {
                url,
                status,
                body_contains: c.body_contains.clone(),
                timeout: cx.duration(
                    &at.key("timeout"),
                    c.timeout.as_ref(),
                    Duration::from_secs(2),
                    &bounds::PROBE_TIMEOUT,
                ),
            }
        }
        "port" => {
            cx.not_for_kind(at, "port", &foreign(&c, &["addr", "timeout"]));
            let addr = match c.addr.clone() {
                Some(a) if valid_host_port(&a) => a,
                Some(a) => {
                    cx.bad(
                        &at.key("addr"),
                        format!("addr {a:?} must be host:port, e.g. \"127.0.0.1:8080\""),
                    );
                    a
                }
                None => {
                    cx.bad(
                        at,
                        "port check has no `addr`; add addr = \"127.0.0.1:8080\"",
                    );
                    String::new()
                }
            };
            CheckKind::Port {
                addr,
                timeout: cx.duration(
                    &at.key("timeout"),
                    c.timeout.as_ref(),
                    Duration::from_secs(2),
                    &bounds::PROBE_TIMEOUT,
                ),
            }
        }
        "artifact" => CheckKind::Artifact(validate_artifact(cx, &c, at)?),
        "" => {
            cx.bad(
                at,
                "check has no `kind`; use kind = \"log_stale\", \"http\", \"port\" or \"artifact\"",
            );
            return None;
        }
        other => {
            cx.bad(
                &at.key("kind"),
                format!("unknown check kind {other:?}; use \"log_stale\", \"http\", \"port\" or \"artifact\""),
            );
            return None;
        }
    };
    Some(CheckSpec {
        interval,
        failures,
        kind,
    })
}

/// Which target keys are set that the kind does not take (`kind`, `interval`, `failures` are shared).
fn foreign(c: &RawCheck, allowed: &[&str]) -> Vec<(&'static str, bool)> {
    let set: [(&'static str, bool); 13] = [
        ("path", c.path.is_some()),
        ("max_age", c.max_age.is_some()),
        ("url", c.url.is_some()),
        ("status", c.status.is_some()),
        ("body_contains", c.body_contains.is_some()),
        ("timeout", c.timeout.is_some()),
        ("addr", c.addr.is_some()),
        ("glob", c.glob.is_some()),
        ("sqlite", c.sqlite.is_some()),
        ("query", c.query.is_some()),
        ("command", c.command.is_some()),
        ("min_growth", c.min_growth.is_some()),
        ("within", c.within.is_some()),
    ];
    set.into_iter()
        .filter(|(k, _)| !allowed.contains(k))
        .collect()
}

fn valid_host_port(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

fn validate_artifact(cx: &mut Ctx, c: &RawCheck, at: &KeyPath) -> Option<ArtifactSpec> {
    let targets = [c.glob.is_some(), c.sqlite.is_some(), c.command.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if targets == 0 {
        cx.bad(
            at,
            "artifact check has no target; add one of glob = \"/path/out/*.json\", sqlite = \"/path/db.sqlite\" (with query), or command = [\"sh\", \"-c\", \"...\"]",
        );
        return None;
    }
    if targets > 1 {
        cx.bad(at, "artifact check has more than one target; keep exactly one of `glob`, `sqlite`, `command`");
        return None;
    }
    let growth = c.min_growth.is_some() || c.within.is_some();
    if let Some(g) = &c.glob {
        cx.not_for_kind(at, "artifact (glob)", &foreign(c, &["glob", "max_age"]));
        if let Err(e) = glob::Pattern::new(g) {
            cx.bad(&at.key("glob"), format!("invalid glob {g:?}: {e}"));
        }
        let max_age = cx.required_duration(
            &at.key("max_age"),
            c.max_age.as_ref(),
            "how old the newest file may get",
            &bounds::MAX_AGE,
        );
        let pattern = resolve_glob(cx.base, g);
        cx.path_fits(&at.key("glob"), std::path::Path::new(&pattern));
        return Some(ArtifactSpec::Glob { pattern, max_age });
    }
    if let Some(db) = &c.sqlite {
        let db = cx.path(&at.key("sqlite"), db);
        let query = c.query.clone().unwrap_or_else(|| {
            cx.bad(
                at,
                "sqlite artifact check has no `query`; add query = \"select max(ts) from trades\"",
            );
            String::new()
        });
        if growth {
            cx.not_for_kind(
                at,
                "artifact (sqlite count)",
                &foreign(c, &["sqlite", "query", "min_growth", "within"]),
            );
            let (min_growth, within) = growth_keys(cx, c, at);
            return Some(ArtifactSpec::SqliteCount {
                db,
                query,
                min_growth,
                within,
            });
        }
        cx.not_for_kind(
            at,
            "artifact (sqlite timestamp)",
            &foreign(c, &["sqlite", "query", "max_age"]),
        );
        let max_age = cx.required_duration(
            &at.key("max_age"),
            c.max_age.as_ref(),
            "how old the newest row may get",
            &bounds::MAX_AGE,
        );
        return Some(ArtifactSpec::SqliteTimestamp { db, query, max_age });
    }
    cx.not_for_kind(
        at,
        "artifact (command)",
        &foreign(c, &["command", "min_growth", "within", "timeout"]),
    );
    let command = nonempty_argv(
        cx,
        &at.key("command"),
        c.command.clone(),
        "[\"sh\", \"-c\", \"wc -l < out.csv\"]",
    );
    cx.program(
        &at.key("command"),
        &command,
        None,
        None,
        "install it, give its absolute path, or add its folder to the PATH akashic runs with",
    );
    let (min_growth, within) = growth_keys(cx, c, at);
    Some(ArtifactSpec::Command {
        command,
        min_growth,
        within,
        timeout: cx.duration(
            &at.key("timeout"),
            c.timeout.as_ref(),
            Duration::from_secs(5),
            &bounds::PROBE_TIMEOUT,
        ),
    })
}

fn growth_keys(cx: &mut Ctx, c: &RawCheck, at: &KeyPath) -> (i64, Duration) {
    let min_growth = c.min_growth.unwrap_or(1);
    if min_growth < 1 {
        cx.bad(
            &at.key("min_growth"),
            format!("min_growth {min_growth} must be at least 1"),
        );
    }
    let within = cx.required_duration(
        &at.key("within"),
        c.within.as_ref(),
        "the window the count must grow in",
        &bounds::GROWTH_WITHIN,
    );
    (min_growth, within)
}
