//! Every limit a config value must stay within, as data: the lowest and highest value that can
//! work, and why. Validation reads these; the README's list is written from them.

use std::time::Duration;

/// The range a duration key accepts, with the reason for its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationBound {
    /// Where the key sits, for the list of bounds (e.g. `daemon.tick`).
    pub key: &'static str,
    pub min: Duration,
    pub max: Duration,
    /// Why a shorter value cannot work.
    pub why_min: &'static str,
    /// Why a longer value cannot work.
    pub why_max: &'static str,
}

/// The range a count accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountBound {
    pub key: &'static str,
    pub min: u64,
    pub max: u64,
    pub why_min: &'static str,
    pub why_max: &'static str,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}
const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}
const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

pub const TICK: DurationBound = DurationBound {
    key: "daemon.tick",
    min: ms(10),
    max: hours(1),
    why_min: "a faster tick only keeps a core busy",
    why_max: "a service could be down for longer than that unseen",
};
pub const FORENSICS_BUDGET: DurationBound = DurationBound {
    key: "daemon.forensics_budget",
    min: ms(100),
    max: mins(2),
    why_min: "no snapshot finishes that fast",
    why_max: "the restart waits for the snapshot",
};
pub const LLM_TIMEOUT: DurationBound = DurationBound {
    key: "llm.timeout",
    min: secs(1),
    max: hours(1),
    why_min: "no model answers that fast",
    why_max: "post-mortems would queue behind one stuck call",
};
pub const REMINDER: DurationBound = DurationBound {
    key: "notify.reminder",
    min: secs(1),
    max: days(30),
    why_min: "it would flood the channel",
    why_max: "an escalated service would be forgotten",
};
pub const GRACE: DurationBound = DurationBound {
    key: "service.grace",
    min: ms(100),
    max: days(1),
    why_min: "no service is up that fast after a start",
    why_max: "failures would not count for longer than a day",
};
pub const RECOVERY_WINDOW: DurationBound = DurationBound {
    key: "service.recovery_window",
    min: secs(1),
    max: days(7),
    why_min: "no check can prove recovery that fast",
    why_max: "a failed restart would not be escalated for a week",
};
pub const BUDGET_WITHIN: DurationBound = DurationBound {
    key: "service.restart_budget.within",
    min: secs(1),
    max: days(30),
    why_min: "restarts that fast are not counted against each other",
    why_max: "restarts are not remembered that long",
};
pub const STOP_GRACE: DurationBound = DurationBound {
    key: "service.restart.stop_grace",
    min: ms(100),
    max: mins(10),
    why_min: "no process shuts down cleanly that fast",
    why_max: "a frozen service would stay down that long before SIGKILL",
};
pub const CHECK_INTERVAL: DurationBound = DurationBound {
    key: "service.check.interval",
    min: ms(10),
    max: days(1),
    why_min: "a faster check only keeps a core busy",
    why_max: "a service could be down for longer than a day unseen",
};
pub const MAX_AGE: DurationBound = DurationBound {
    key: "service.check.max_age",
    min: secs(1),
    max: days(90),
    why_min: "file times are not that precise everywhere",
    why_max: "a stopped service would not be noticed for months",
};
pub const GROWTH_WITHIN: DurationBound = DurationBound {
    key: "service.check.within",
    min: secs(1),
    max: days(90),
    why_min: "a count cannot be compared over less than a second",
    why_max: "a stopped service would not be noticed for months",
};
pub const PROBE_TIMEOUT: DurationBound = DurationBound {
    key: "service.check.timeout",
    min: ms(10),
    max: mins(10),
    why_min: "not even a local answer arrives that fast",
    why_max: "a hung probe would hide a failure that long",
};

pub const RECURRENCE_WITHIN: DurationBound = DurationBound {
    key: "service.on_recurrence.within",
    min: mins(1),
    max: days(3650),
    why_min: "no failure recurs inside it",
    why_max: "incidents are not kept that long",
};
pub const REMEDY_TIMEOUT: DurationBound = DurationBound {
    key: "service.on_recurrence.timeout",
    min: ms(100),
    max: mins(10),
    why_min: "no remedy runs that fast",
    why_max: "the restart waits for the remedy",
};

pub const ALL_DURATIONS: &[DurationBound] = &[
    TICK,
    FORENSICS_BUDGET,
    LLM_TIMEOUT,
    REMINDER,
    GRACE,
    RECOVERY_WINDOW,
    BUDGET_WITHIN,
    STOP_GRACE,
    CHECK_INTERVAL,
    MAX_AGE,
    GROWTH_WITHIN,
    PROBE_TIMEOUT,
    RECURRENCE_WITHIN,
    REMEDY_TIMEOUT,
];

pub const BUDGET_MAX: CountBound = CountBound {
    key: "service.restart_budget.max",
    min: 1,
    max: 1000,
    why_min: "0 restarts means escalate at once; leave out [service.restart] to only watch",
    why_max: "a crash loop would be restarted without end",
};
pub const FAILURES: CountBound = CountBound {
    key: "service.check.failures",
    min: 1,
    max: 1000,
    why_min: "a check has to fail at least once to count",
    why_max: "the check would never count as failed",
};
pub const MAX_TOKENS: CountBound = CountBound {
    key: "llm.max_tokens",
    min: 64,
    max: 32_768,
    why_min: "no post-mortem fits in fewer",
    why_max: "no local model writes that much in its timeout",
};

pub const RECURRENCE_COUNT: CountBound = CountBound {
    key: "service.on_recurrence.count",
    min: 1,
    max: 1000,
    why_min: "the first incident is the 1st of its pattern",
    why_max: "no pattern is counted that far",
};

pub const ALL_COUNTS: &[CountBound] = &[BUDGET_MAX, FAILURES, MAX_TOKENS, RECURRENCE_COUNT];

/// Service names: length in bytes (they name files and log fields).
pub const NAME_MAX: usize = 64;

/// Bytes a unix socket path may have (`sun_path`, less its NUL): 107 on Linux, 103 on macOS.
pub const SOCKET_PATH_MAX: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

/// Bytes any configured path may have (PATH_MAX less its NUL: 4095 on Linux, 1023 on macOS).
pub const PATH_MAX: usize = if cfg!(target_os = "linux") {
    4095
} else {
    1023
};

/// Bytes any single file name in a path may have (NAME_MAX).
pub const FILE_NAME_MAX: usize = 255;

/// A duration as one would write it in the config, in its largest whole unit: "10ms", "1h", "90d".
pub fn show(d: Duration) -> String {
    let n = d.as_nanos();
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    match UNITS.iter().find(|(u, _)| n >= *u && n.is_multiple_of(*u)) {
        Some((u, name)) => format!("{}{name}", n / u),
        None => "0s".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_a_real_range_and_named_once() {
        let mut keys: Vec<&str> = ALL_DURATIONS.iter().map(|b| b.key).collect();
        for b in ALL_DURATIONS {
            assert!(
                !b.min.is_zero() && b.min < b.max,
                "{}: {:?}..{:?}",
                b.key,
                b.min,
                b.max
            );
        }
        for b in ALL_COUNTS {
            assert!(b.min >= 1 && b.min < b.max, "{}", b.key);
            keys.push(b.key);
        }
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is bounded twice");
    }

    /// specs/config.md lists every bound as it is here.
    #[test]
    fn the_spec_lists_every_bound() {
        let spec = include_str!("../../specs/config.md");
        let rows = ALL_DURATIONS
            .iter()
            .map(|b| (b.key, show(b.min), show(b.max), b.why_min, b.why_max))
            .chain(ALL_COUNTS.iter().map(|b| {
                (
                    b.key,
                    b.min.to_string(),
                    b.max.to_string(),
                    b.why_min,
                    b.why_max,
                )
            }));
        for (key, min, max, why_min, why_max) in rows {
            let row = format!("| `{key}` | {min} | {max} | {why_min} | {why_max} |");
            assert!(spec.contains(&row), "specs/config.md lacks: {row}");
        }
    }

    #[test]
    fn durations_show_as_the_config_writes_them() {
        assert_eq!(show(TICK.min), "10ms");
        assert_eq!(show(REMINDER.max), "30d");
        assert_eq!(show(Duration::from_millis(1500)), "1500ms");
        for b in ALL_DURATIONS {
            for d in [b.min, b.max] {
                assert_eq!(humantime::parse_duration(&show(d)).unwrap(), d);
            }
        }
    }
}
