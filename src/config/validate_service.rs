//! A `[[service]]` table: its name, timings, restart budget and restart kind.

use super::bounds;
use super::locate::KeyPath;
use super::model::*;
use super::raw::*;
use super::validate::{last, Ctx};
use super::validate_check::validate_check;
use std::time::Duration;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= bounds::NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(super) fn validate_service(
    cx: &mut Ctx,
    s: RawService,
    at: &KeyPath,
    tick: Duration,
) -> Option<ServiceConfig> {
    let name = match s.name {
        Some(n) if valid_name(&n) => n,
        Some(n) if n.len() > bounds::NAME_MAX => {
            let head: String = n.chars().take(20).collect();
            cx.bad(
                &at.key("name"),
                format!(
                    "service name \"{head}...\" is {} bytes; names name files and log lines, keep it to {} bytes of [a-z0-9_-], e.g. \"trading-bot\"",
                    n.len(),
                    bounds::NAME_MAX
                ),
            );
            n
        }
        Some(n) => {
            cx.bad(
                &at.key("name"),
                format!("service name {n:?} must match [a-z0-9_-]+, e.g. \"trading-bot\""),
            );
            n
        }
        None => {
            cx.bad(at, "service has no `name`; add name = \"my-service\"");
            String::new()
        }
    };
    let grace = cx.duration(
        &at.key("grace"),
        s.grace.as_ref(),
        Duration::from_secs(30),
        &bounds::GRACE,
    );
    let recovery_window = cx.duration(
        &at.key("recovery_window"),
        s.recovery_window.as_ref(),
        Duration::from_secs(300),
        &bounds::RECOVERY_WINDOW,
    );
    let restart_budget = match s.restart_budget {
        None => RestartBudget {
            max: 3,
            within: Duration::from_secs(3600),
        },
        Some(b) => {
            let bk = at.key("restart_budget");
            RestartBudget {
                max: cx.count(&bk.key("max"), b.max, 3, &bounds::BUDGET_MAX),
                within: cx.duration(
                    &bk.key("within"),
                    b.within.as_ref(),
                    Duration::from_secs(3600),
                    &bounds::BUDGET_WITHIN,
                ),
            }
        }
    };
    for (j, v) in s.env_required.iter().enumerate() {
        if v.is_empty() || v.contains('=') || v.contains(char::is_whitespace) {
            cx.bad(
                &at.key("env_required").index(j),
                format!("{v:?} is not an environment variable name"),
            );
        }
    }
    let restart = s
        .restart
        .map(|r| validate_restart(cx, r, &at.key("restart")));
    if matches!(restart, Some(Some(_))) && recovery_window <= grace {
        cx.bad(
            &at.key("recovery_window"),
            format!(
                "recovery_window ({}) is not longer than grace ({}): recovery counts only after grace, so every restart would be escalated; make it longer, e.g. recovery_window = \"{}\"",
                bounds::show(recovery_window),
                bounds::show(grace),
                bounds::show(grace * 2 + Duration::from_secs(60)),
            ),
        );
    }
    let leave_running = s.leave_running.unwrap_or(false);
    if leave_running && !matches!(restart, Some(Some(RestartSpec::Child(_)))) {
        cx.bad(
            &at.key("leave_running"),
            "`leave_running` applies only to restart kind \"child\"; remove it",
        );
    }
    if s.check.is_empty() {
        cx.bad(at, format!("service {name:?} has no checks; add at least one [[service.check]] (log_stale, http, port or artifact)"));
    }
    let checks: Vec<CheckSpec> = s
        .check
        .into_iter()
        .enumerate()
        .filter_map(|(j, c)| validate_check(cx, c, &at.key("check").index(j), tick))
        .collect();
    Some(ServiceConfig {
        name,
        repo: s.repo.as_deref().map(|p| cx.path(&at.key("repo"), p)),
        log: s.log.as_deref().map(|p| cx.path(&at.key("log"), p)),
        digest: s.digest.as_deref().map(|p| cx.path(&at.key("digest"), p)),
        grace,
        recovery_window,
        restart_budget,
        env_required: s.env_required,
        migrated_from: s
            .migrated_from
            .as_deref()
            .map(|p| cx.path(&at.key("migrated_from"), p)),
        on_recurrence: s
            .on_recurrence
            .into_iter()
            .enumerate()
            .filter_map(|(j, r)| {
                let cwd = match &restart {
                    Some(Some(RestartSpec::Child(c))) => c.cwd.clone(),
                    _ => None,
                };
                validate_recurrence(cx, r, &at.key("on_recurrence").index(j), cwd)
            })
            .collect(),
        restart: restart.flatten(),
        checks,
        leave_running,
        depends_on: s.depends_on,
        dependency: false,
    })
}

/// One `[[service.on_recurrence]]` rule.
fn validate_recurrence(
    cx: &mut Ctx,
    r: RawRecurrence,
    at: &KeyPath,
    cwd: Option<std::path::PathBuf>,
) -> Option<RecurrenceRule> {
    let category = match r
        .category
        .as_deref()
        .map(str::parse::<crate::core::category::Category>)
    {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            cx.bad(
                &at.key("category"),
                format!("{e}; or leave `category` out to match any"),
            );
            None
        }
    };
    let count = match r.count {
        Some(n) => cx.count(&at.key("count"), Some(n), 3, &bounds::RECURRENCE_COUNT),
        None => {
            cx.bad(
                at,
                "missing `count`; add count = 3 (this incident is at least the 3rd of its pattern)",
            );
            3
        }
    };
    let within = cx.required_duration(
        &at.key("within"),
        r.within.as_ref(),
        "the window the count is taken over",
        &bounds::RECURRENCE_WITHIN,
    );
    let then = match r.then.as_deref().unwrap_or("restart") {
        "restart" => RecurrenceAction::Restart,
        "escalate" => RecurrenceAction::Escalate,
        "notify" => RecurrenceAction::Notify,
        "remedy" => RecurrenceAction::Remedy {
            run: nonempty_argv(
                cx,
                &at.key("run"),
                r.run.clone(),
                "[\"sh\", \"-c\", \"rm -rf cache/*\"]",
            ),
            cwd,
            timeout: cx.duration(
                &at.key("timeout"),
                r.timeout.as_ref(),
                Duration::from_secs(30),
                &bounds::REMEDY_TIMEOUT,
            ),
        },
        other => {
            cx.bad(
                &at.key("then"),
                format!("unknown `then` {other:?}; use \"restart\", \"remedy\", \"escalate\" or \"notify\""),
            );
            return None;
        }
    };
    if !matches!(then, RecurrenceAction::Remedy { .. }) {
        let kind = format!("then = {:?}", then.name());
        for (k, present) in [("run", r.run.is_some()), ("timeout", r.timeout.is_some())] {
            if present {
                cx.bad(
                    &at.key(k),
                    format!("`{k}` applies only to then = \"remedy\", not {kind}; remove it"),
                );
            }
        }
    }
    Some(RecurrenceRule {
        category,
        count,
        within,
        then,
    })
}

pub(super) fn nonempty_argv(
    cx: &mut Ctx,
    key: &KeyPath,
    v: Option<Vec<String>>,
    example: &str,
) -> Vec<String> {
    match v {
        Some(argv) if !argv.is_empty() && !argv[0].is_empty() => argv,
        Some(_) => {
            cx.bad(
                key,
                format!(
                    "`{}` is empty; give the program and its arguments, e.g. {} = {example}",
                    last(key),
                    last(key)
                ),
            );
            Vec::new()
        }
        None => {
            let parent = KeyPath(key.0[..key.0.len() - 1].to_vec());
            cx.bad(
                &parent,
                format!("missing `{}`; add {} = {example}", last(key), last(key)),
            );
            Vec::new()
        }
    }
}

fn validate_restart(cx: &mut Ctx, r: RawRestart, at: &KeyPath) -> Option<RestartSpec> {
    let kind = r.kind.clone().unwrap_or_default();
    let env = r.env.clone().unwrap_or_default();
    match kind.as_str() {
        "child" => {
            cx.not_for_kind(
                at,
                "child",
                &[
                    ("label", r.label.is_some()),
                    ("plist", r.plist.is_some()),
                    ("program", r.program.is_some()),
                    ("unit", r.unit.is_some()),
                    ("user", r.user.is_some()),
                    ("run", r.run.is_some()),
                ],
            );
            let command = nonempty_argv(
                cx,
                &at.key("command"),
                r.command,
                "[\"python3\", \"bot.py\"]",
            );
            let cwd = r.cwd.as_deref().map(|p| cx.path(&at.key("cwd"), p));
            cx.program(
                &at.key("command"),
                &command,
                env.get("PATH").map(String::as_str),
                cwd.as_deref(),
                "install it, give its absolute path, or set PATH in [service.restart] env",
            );
            Some(RestartSpec::Child(ChildSpec {
                command,
                cwd,
                env,
                stdout: r.stdout.as_deref().map(|p| cx.path(&at.key("stdout"), p)),
                stop_grace: cx.duration(
                    &at.key("stop_grace"),
                    r.stop_grace.as_ref(),
                    Duration::from_secs(5),
                    &bounds::STOP_GRACE,
                ),
            }))
        }
        "launchd" => {
            cx.not_for_kind(
                at,
                "launchd",
                &[
                    ("command", r.command.is_some()),
                    ("cwd", r.cwd.is_some()),
                    ("stdout", r.stdout.is_some()),
                    ("stop_grace", r.stop_grace.is_some()),
                    ("unit", r.unit.is_some()),
                    ("user", r.user.is_some()),
                    ("run", r.run.is_some()),
                ],
            );
            let label = r.label.unwrap_or_else(|| {
                cx.bad(
                    at,
                    "missing `label`; add label = \"com.me.my-service\" (the LaunchAgent's Label)",
                );
                String::new()
            });
            Some(RestartSpec::Launchd {
                label,
                plist: r.plist.as_deref().map(|p| cx.path(&at.key("plist"), p)),
                program: r.program.unwrap_or_default(),
                env,
            })
        }
        "systemd" => {
            cx.not_for_kind(
                at,
                "systemd",
                &[
                    ("command", r.command.is_some()),
                    ("cwd", r.cwd.is_some()),
                    ("stdout", r.stdout.is_some()),
                    ("stop_grace", r.stop_grace.is_some()),
                    ("label", r.label.is_some()),
                    ("plist", r.plist.is_some()),
                    ("program", r.program.is_some()),
                    ("run", r.run.is_some()),
                ],
            );
            let unit = r.unit.unwrap_or_else(|| {
                cx.bad(at, "missing `unit`; add unit = \"my-service.service\"");
                String::new()
            });
            Some(RestartSpec::Systemd {
                unit,
                user: r.user.unwrap_or(true),
                env,
            })
        }
        "command" => {
            cx.not_for_kind(
                at,
                "command",
                &[
                    ("command", r.command.is_some()),
                    ("cwd", r.cwd.is_some()),
                    ("env", r.env.is_some()),
                    ("stdout", r.stdout.is_some()),
                    ("stop_grace", r.stop_grace.is_some()),
                    ("label", r.label.is_some()),
                    ("plist", r.plist.is_some()),
                    ("program", r.program.is_some()),
                    ("unit", r.unit.is_some()),
                    ("user", r.user.is_some()),
                ],
            );
            let run = nonempty_argv(cx, &at.key("run"), r.run, "[\"sh\", \"-c\", \"...\"]");
            cx.program(
                &at.key("run"),
                &run,
                None,
                None,
                "install it, give its absolute path, or add its folder to the PATH akashic runs with",
            );
            Some(RestartSpec::Command { run })
        }
        "" => {
            cx.bad(
                at,
                "missing `kind`; use kind = \"child\", \"launchd\", \"systemd\" or \"command\"",
            );
            None
        }
        other => {
            cx.bad(
                &at.key("kind"),
                format!("unknown restart kind {other:?}; use \"child\", \"launchd\", \"systemd\" or \"command\""),
            );
            None
        }
    }
}
