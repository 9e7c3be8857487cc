//! The root-cause taxonomy shared by post-mortems, memory and evals (specs/eval-cases.md).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One root-cause category of the taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    RateLimit,
    ResourceExhaustion,
    Deadlock,
    DependencyUnavailable,
    ConfigError,
    AuthFailure,
    Crash,
    Network,
    DataError,
    Unknown,
}

impl Category {
    /// Every category, in the order of the taxonomy table.
    pub const ALL: [Category; 10] = [
        Category::RateLimit,
        Category::ResourceExhaustion,
        Category::Deadlock,
        Category::DependencyUnavailable,
        Category::ConfigError,
        Category::AuthFailure,
        Category::Crash,
        Category::Network,
        Category::DataError,
        Category::Unknown,
    ];

    /// The snake_case name used in files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::RateLimit => "rate_limit",
            Category::ResourceExhaustion => "resource_exhaustion",
            Category::Deadlock => "deadlock",
            Category::DependencyUnavailable => "dependency_unavailable",
            Category::ConfigError => "config_error",
            Category::AuthFailure => "auth_failure",
            Category::Crash => "crash",
            Category::Network => "network",
            Category::DataError => "data_error",
            Category::Unknown => "unknown",
        }
    }

    /// What the category means, as the taxonomy states it.
    pub fn meaning(self) -> &'static str {
        match self {
            Category::RateLimit => "an upstream throttled the service (429, quota, \"slow down\") and it did not back off well",
            Category::ResourceExhaustion => "memory (OOM), disk full, file descriptors, threads, connection pool exhausted",
            Category::Deadlock => "the process hangs on its own: lock contention, blocked thread, infinite loop, stuck event loop, with no external cause in evidence",
            Category::DependencyUnavailable => "a database, broker, upstream API or other dependency is down, refusing or timing out",
            Category::ConfigError => "missing or wrong environment variable, PATH, config file, permission or sandbox (e.g. TCC) denial",
            Category::AuthFailure => "expired or revoked credentials, 401/403, invalid signature",
            Category::Crash => "panic, uncaught exception, segfault, exit that the supervisor keeps restarting",
            Category::Network => "DNS, TLS, routing, connectivity (not one dependency being down)",
            Category::DataError => "malformed or unexpected input, schema change, parse failure",
            Category::Unknown => "the evidence does not support any of the above",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a category of the taxonomy.
#[derive(Debug, thiserror::Error)]
#[error("unknown category {0:?}; expected one of rate_limit, resource_exhaustion, deadlock, dependency_unavailable, config_error, auth_failure, crash, network, data_error, unknown")]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_string()))
    }
}
