//! What one line of evidence means: the signature table's readings (text, status codes, exit codes and
//! signals) plus the shapes only code can read (CPU rows and profiles in forensics).

use super::signatures::{Only, Table};
use crate::core::category::Category;
use regex::Regex;
use std::sync::LazyLock;

use Category::*;

/// One meaning found in a line, with its weight toward a category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub category: Category,
    pub weight: f32,
    /// A short phrase naming what was recognised, used in the root cause.
    pub label: &'static str,
    /// Says how a failure ended (an abort, an exit, a restart loop), not why.
    pub symptom: bool,
    /// Read from a bare number (a status code), not from what the text says.
    pub coded: bool,
    /// Categories this reading overrules in the same line (a mask of `bit`s).
    pub beats: u16,
}

/// Where a line came from; some shapes only mean something in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Log,
    Forensics,
    /// The detail of an `exited` check: the process's own exit.
    Exit,
}

pub const L_EXIT: &str = "the process exited with a non-zero status";
pub const L_BUSY: &str =
    "a thread spinning on the CPU while the service made no progress (busy loop)";
pub const L_HOT: &str = "the hottest frames of a CPU profile";

static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\bHTTP/\d(?:\.\d)?\s+|\bHTTP\s+|\bstatus(?:[ _-]?code)?\s*[=:]?\s*|\bcode\s*[=:]\s*|\breturned\s+(?:status\s+|HTTP\s+)?|\bresponded\s+(?:with\s+)?|\banswered\s+(?:with\s+)?|->\s*|=>\s*|\bresponse\s*[=:]?\s*|\berror\s*[=:]?\s*|\bfailed\s+with\s+|\bcode\s+)([1-5]\d\d)\b")
        .expect("status pattern compiles")
});
static STATUS_PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([1-5]\d\d)(?:\s*[:\-]?\s*)(?:Too Many Requests|Unauthorized|Forbidden|Not Found|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out|Bad Request|Unprocessable (?:Entity|Content)|Payload Too Large|Unsupported Media Type|Request Timeout|Conflict|hit\b|error\b|response\b)")
        .expect("status phrase pattern compiles")
});
static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:exit(?:ed)?(?:\s+with)?\s+(?:code|status)|exit\s+status|exit\s+code|exit_code|exitcode|returncode|exited with)\s*[=:]?\s*(-?\d+)|\bstatus=(\d+)/[A-Z]+")
        .expect("exit pattern compiles")
});
static SIGNAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:killed by signal|terminated by signal|signal:?|got signal|received signal)\s*(\d+|killed|kill|sigkill|segmentation fault|sigsegv|aborted|sigabrt)\b|^\s*Killed\s*$")
        .expect("signal pattern compiles")
});
static RUNNING_HOT: LazyLock<Regex> = LazyLock::new(|| {
    // a `top`/`ps` row: state R then a CPU percentage
    Regex::new(r"\s(?:R\+?|R[lsN<]*)\s+(\d{2,3}(?:\.\d+)?)\s").expect("cpu pattern compiles")
});
static HOT_PERCENT: LazyLock<Regex> = LazyLock::new(|| {
    // prose such as "state R (running), 99.9% CPU on one core"
    Regex::new(r"(?i)\b(\d{2,3}(?:\.\d+)?)\s*% ?CPU\b").expect("cpu percent pattern compiles")
});
static PROFILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\d{1,3}(?:\.\d+)?)%\s+\S").expect("profile pattern compiles")
});

static FALSE_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    // `oom=false`, `"OOMKilled": false`: a flag that says the thing it names did not happen; and a
    // rate limit's own telemetry (`x-ratelimit-remaining=4980`, `rate limit ok`), which is not throttling
    Regex::new(r#"(?i)\b[\w.-]+"?\s*[=:]\s*"?false\b"?|\b[\w.-]*rate[-_]?limit[\w.-]*\s*[=:]\s*[1-9][\w.:/-]*|\brate[- _]?limits? (?:ok|fine|healthy|normal)\b"#)
        .expect("false flag pattern compiles")
});

/// A status code's reading: weak evidence, which the text of the same line may overrule.
fn status_signal(table: &Table, code: i64) -> Option<Signal> {
    table.status(code).map(|c| Signal {
        category: c.category,
        weight: c.weight,
        label: c.meaning,
        symptom: c.symptom,
        coded: true,
        beats: 0,
    })
}

/// An exit code's reading; a signal death is 128 + N, and a negative code is a signal number.
fn exit_signal(table: &Table, code: i64) -> Option<Signal> {
    let code = if code < 0 { 128 - code } else { code };
    if matches!(code, 0 | 143) {
        return None;
    }
    Some(match table.exit(code) {
        Some(c) => Signal {
            category: c.category,
            weight: c.weight,
            label: c.meaning,
            symptom: c.symptom,
            coded: false,
            beats: 0,
        },
        None => Signal {
            category: Crash,
            weight: 1.5,
            label: L_EXIT,
            symptom: true,
            coded: false,
            beats: 0,
        },
    })
}

fn signal_name(table: &Table, s: &str) -> Option<Signal> {
    match s.to_ascii_lowercase().as_str() {
        "9" | "killed" | "kill" | "sigkill" => exit_signal(table, 137),
        "11" | "sigsegv" | "segmentation fault" => exit_signal(table, 139),
        "6" | "aborted" | "sigabrt" => exit_signal(table, 134),
        _ => None,
    }
}

/// The bit of a category in a `beats` mask.
pub fn bit(c: Category) -> u16 {
    1 << (c as u16)
}

/// Below this a text reading does not overrule a status code of another meaning.
pub const TEXT_OVER_CODE: f32 = 3.0;

/// Every meaning recognised in one line, at most one per label.
pub fn signals(table: &Table, line: &str, origin: Origin) -> Vec<Signal> {
    // a flag set to false, or a rate limit's telemetry, is not evidence of what it names
    let line = &*FALSE_FLAG.replace_all(line, " ");
    let mut out: Vec<Signal> = Vec::new();
    let mut push = |s: Signal| {
        if let Some(old) = out.iter_mut().find(|o| o.label == s.label) {
            old.weight = old.weight.max(s.weight);
        } else {
            out.push(s);
        }
    };
    for sig in &table.signatures {
        let applies = match sig.only {
            None => true,
            Some(Only::Log) => origin == Origin::Log,
            Some(Only::Forensics) => origin == Origin::Forensics,
            Some(Only::Exit) => origin == Origin::Exit,
        };
        if !applies {
            continue;
        }
        // several readings of one signature in a line corroborate each other
        let hits = sig.re.find_iter(line).take(4).count();
        if hits > 0 && !sig.unless.as_ref().is_some_and(|u| u.is_match(line)) {
            push(Signal {
                category: sig.category,
                weight: sig.weight * (1.0 + 0.1 * (hits as f32 - 1.0)),
                label: sig.meaning,
                symptom: sig.symptom,
                coded: sig.reason_phrase,
                beats: sig.beats.iter().fold(0, |m, c| m | bit(*c)),
            });
        }
    }
    for c in STATUS
        .captures_iter(line)
        .chain(STATUS_PHRASE.captures_iter(line))
    {
        if let Some(s) = c
            .get(1)
            .and_then(|m| m.as_str().parse().ok())
            .and_then(|code| status_signal(table, code))
        {
            push(s);
        }
    }
    for c in EXIT.captures_iter(line) {
        let code = c
            .get(1)
            .or_else(|| c.get(2))
            .and_then(|m| m.as_str().parse::<i64>().ok());
        if let Some(s) = code.and_then(|code| {
            // systemd's status=N/SIG is a signal number
            if c.get(2).is_some() && !line.contains("code=exited") {
                signal_name(table, &code.to_string())
            } else {
                exit_signal(table, code)
            }
        }) {
            push(s);
        }
    }
    for c in SIGNAL.captures_iter(line) {
        let name = c.get(1).map_or("killed", |m| m.as_str());
        if let Some(s) = signal_name(table, name) {
            push(s);
        }
    }
    if origin == Origin::Forensics {
        if let Some(cpu) = RUNNING_HOT
            .captures(line)
            .or_else(|| HOT_PERCENT.captures(line))
            .and_then(|c| c[1].parse::<f32>().ok())
        {
            if cpu >= 80.0 {
                push(Signal {
                    category: Deadlock,
                    weight: 3.5,
                    label: L_BUSY,
                    symptom: false,
                    coded: false,
                    beats: 0,
                });
            }
        }
        if let Some(pct) = PROFILE
            .captures(line)
            .and_then(|c| c[1].parse::<f32>().ok())
        {
            if pct >= 20.0 {
                push(Signal {
                    category: Deadlock,
                    weight: 1.0 + pct / 100.0,
                    label: L_HOT,
                    symptom: false,
                    coded: false,
                    beats: 0,
                });
            }
        }
    }
    one_story(out)
}

/// One line, one story: a specific reading overrules the categories it `beats` (a DNS failure is not a
/// dependency outage, throttling is not an auth failure), and what the text says overrules a bare status
/// code of another meaning (a 403 whose body says "rate limit exceeded" is a rate limit).
fn one_story(mut out: Vec<Signal>) -> Vec<Signal> {
    let beaten = out
        .iter()
        .fold(0u16, |m, s| m | (s.beats & !bit(s.category)));
    out.retain(|s| beaten & bit(s.category) == 0);
    let text_cats = out
        .iter()
        .filter(|s| !s.coded && !s.symptom && s.weight >= TEXT_OVER_CODE)
        .fold(0u16, |m, s| m | bit(s.category));
    if text_cats != 0 {
        out.retain(|s| !s.coded || text_cats & bit(s.category) != 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::signatures::Signatures;

    fn cats(line: &str) -> Vec<Category> {
        let mut v: Vec<_> = signals(&Signatures::default(), line, Origin::Log)
            .into_iter()
            .map(|s| s.category)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn status_codes_are_read_in_context_only() {
        assert_eq!(cats("GET /x returned 429"), vec![RateLimit]);
        assert_eq!(cats("HTTP/1.1 401"), vec![AuthFailure]);
        assert_eq!(cats("upstream status=503"), vec![DependencyUnavailable]);
        assert!(cats("processed 429 rows, 401 skipped").is_empty());
    }

    #[test]
    fn exit_codes_and_signals_mean_what_they_mean() {
        assert_eq!(
            cats("worker exited with code 137"),
            vec![ResourceExhaustion]
        );
        assert_eq!(cats("child exited with status 139"), vec![Crash]);
        assert_eq!(
            cats("Main process exited, code=killed, status=9/KILL"),
            vec![ResourceExhaustion]
        );
        assert_eq!(
            cats("Main process exited, code=killed, status=11/SEGV"),
            vec![Crash]
        );
    }

    #[test]
    fn apis_brokers_and_http_clients_in_their_own_words() {
        for (line, want) in [
            (r#"googleapiclient.errors.HttpError: <HttpError 403 "reason": "userRateLimitExceeded">"#, RateLimit),
            ("Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.", RateLimit),
            (r#"anthropic.InternalServerError: Error code: 529 - {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, DependencyUnavailable),
            ("slack_sdk.errors.SlackApiError: The server responded with: {'ok': False, 'error': 'token_revoked'}", AuthFailure),
            ("discord.errors.LoginFailure: Improper token has been passed.", AuthFailure),
            ("telegram.error.Conflict: Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", ConfigError),
            ("HttpError: Resource not accessible by integration", AuthFailure),
            ("An error occurred (UnrecognizedClientException) when calling the PutItem operation: The security token included in the request is invalid.", AuthFailure),
            ("botocore.exceptions.NoCredentialsError: Unable to locate credentials", ConfigError),
            ("pika.exceptions.ProbableAccessDeniedError: ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.'", AuthFailure),
            ("kafka: client has run out of available brokers to talk to", DependencyUnavailable),
            ("MaxRetriesPerRequestError: Reached the max retries per request limit (which is 20). Refer to \"maxRetriesPerRequest\" option for details.", DependencyUnavailable),
            ("aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected", DependencyUnavailable),
            ("ConnectTimeoutError: Connect Timeout Error (attempted address: api.example.com:443, timeout: 10000ms) code: 'UND_ERR_CONNECT_TIMEOUT'", DependencyUnavailable),
            ("TypeError: fetch failed", DependencyUnavailable),
            ("driver: bad connection", DependencyUnavailable),
            ("GuzzleHttp\\Exception\\RequestException: cURL error 60: SSL certificate problem: unable to get local issuer certificate", Network),
        ] {
            assert_eq!(cats(line), vec![want], "{line}");
        }
    }

    #[test]
    fn runtimes_word_dns_tls_memory_and_limits_their_own_way() {
        for (line, want) in [
            ("Resolv::ResolvError: no address for api.example.com", Network),
            ("java.nio.channels.UnresolvedAddressException", Network),
            ("hyper_util::client::legacy::Error(Connect, Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }) invalid peer certificate: UnknownIssuer", Network),
            ("Error: unable to verify the first certificate", Network),
            ("System.Net.Http.HttpRequestException: The SSL connection could not be established, see inner exception.", Network),
            ("[Tue Mar  3 10:10:10 2026] memory: usage 524288kB, limit 524288kB, failcnt 18211", ResourceExhaustion),
            ("runtime: failed to create new OS thread (have 12 already; errno=11)", ResourceExhaustion),
            ("[2026-04-03 09:30:02] production.ERROR: Call to undefined method App\\Services\\Feed::fetchAll() {\"exception\":\"[object] (Error(code: 0): Call to undefined method\"}", Crash),
            ("ERROR 1114 (HY000): The table 'events' is full", ResourceExhaustion),
        ] {
            assert_eq!(cats(line), vec![want], "{line}");
        }
    }

    #[test]
    fn specific_mechanisms_lead_with_what_an_operator_would_do_about_them() {
        let t = Signatures::default();
        // the strongest reading of a real line, and the advice its mechanism carries
        let lead = |line: &str| {
            let s = signals(&t, line, Origin::Log)
                .into_iter()
                .max_by(|a, b| a.weight.total_cmp(&b.weight))
                .expect("the line means something");
            (s.category, t.advice(s.label).unwrap_or(""))
        };
        for (line, want, says) in [
            // JVM, and the kernel's pids cgroup
            ("Exception in thread \"crawl-17\" java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource limits reached", ResourceExhaustion, "thread pool"),
            ("May 12 10:02:11 box kernel: cgroup: fork rejected by pids controller in /system.slice/crawler.service", ResourceExhaustion, "TasksMax"),
            // Go net/http
            ("Get \"https://api.example.com/v1\": net/http: TLS handshake timeout", Network, "MTU"),
            // Redis's error reply while it loads its RDB/AOF
            ("redis: LOADING Redis is loading the dataset in memory", DependencyUnavailable, "LOADING"),
            // macOS Sandbox System Policy (TCC) as `log show` prints it
            ("kernel: (Sandbox) System Policy: python3.12(6120) deny(1) file-read-data /Users/sam/Documents/Invoices", ConfigError, "Full Disk Access"),
            // Node's fs error
            ("Error: EACCES: permission denied, open '/app/data/state.json'", ConfigError, "chown"),
            // libpq
            ("connection to server at \"127.0.0.1\", port 5432 failed: Connection refused", DependencyUnavailable, "start the dependency"),
            // jstack
            ("Found one Java-level deadlock:", Deadlock, "lock ordering"),
            // pandas' C tokenizer on a row with an unquoted delimiter
            ("pandas.errors.ParserError: Error tokenizing data. C error: Expected 12 fields in line 4031, saw 13", DataError, "on_bad_lines"),
            // Binance's -2014: the key sent was empty or malformed
            ("time=2026-03-09T08:00:05.402Z level=ERROR msg=\"order rejected\" status=401 body=\"{\\\"code\\\":-2014,\\\"msg\\\":\\\"API-key format invalid.\\\"}\"", ConfigError, "environment"),
            // @slack/web-api's platform error, and Azure Storage's AuthenticationErrorDetail
            ("[ERROR]  bolt-app chat.postMessage failed: Error: An API error occurred: token_revoked", AuthFailure, "new bot token"),
            ("AuthenticationErrorDetail: Signature not valid in the specified time frame: Start [Thu, 01 Jan 2026 00:00:00 GMT] - Expiry [Tue, 30 Jun 2026 23:59:59 GMT] - Current [Wed, 01 Jul 2026 01:00:04 GMT]", AuthFailure, "SAS token"),
        ] {
            let (cat, advice) = lead(line);
            assert_eq!(cat, want, "{line}");
            assert!(advice.contains(says), "{line}: {advice}");
        }
    }

    #[test]
    fn one_restart_is_not_a_restart_loop() {
        // systemd (src/core/service.c): "Scheduled restart job, restart counter is at %u."
        assert!(cats("Dec 05 19:32:56 web1 systemd[1]: x.service: Scheduled restart job, restart counter is at 1.").is_empty());
        assert_eq!(
            cats("Dec 05 19:33:40 web1 systemd[1]: x.service: Scheduled restart job, restart counter is at 5."),
            vec![Crash]
        );
    }

    #[test]
    fn key_errors_split_env_names_from_payload_fields() {
        assert_eq!(cats("KeyError: 'STRIPE_SECRET'"), vec![ConfigError]);
        assert_eq!(cats("KeyError: 'price'"), vec![DataError]);
        // Ruby: ENV.fetch names a variable, Hash#fetch a payload key; case decides, even in a (?i) pattern
        assert_eq!(
            cats("KeyError: key not found: \"API_TOKEN\""),
            vec![ConfigError]
        );
        assert_eq!(
            cats("KeyError: key not found: \"amount_cents\""),
            vec![DataError]
        );
        assert!(!cats("field amount_cents is missing").contains(&ConfigError));
    }

    #[test]
    fn what_the_text_names_beats_the_generic_reading() {
        // nginx's resolver is name resolution, not the upstream being down
        assert_eq!(
            cats("[error] 512#512: *1 api.example.io could not be resolved (110: Operation timed out), client: 10.0.0.1"),
            vec![Network]
        );
        assert_eq!(
            cats("e1000e 0000:00:1f.6 eno1: NIC Link is Down"),
            vec![Network]
        );
        // the database's view of its client dying is not the database being down
        assert_eq!(
            cats("sniper@defi LOG:  could not receive data from client: Connection reset by peer"),
            vec![Crash]
        );
        assert_eq!(
            cats("LOG:  process 29877 still waiting for AccessExclusiveLock on relation 16402 of database 16384 after 1000.101 ms"),
            vec![Deadlock]
        );
        assert_eq!(
            cats("FATAL:  password authentication failed for user \"ingest\" DETAIL:  User \"ingest\" has an expired password."),
            vec![AuthFailure]
        );
        assert_eq!(
            cats("AWS HTTP error: 403 Forbidden RequestTimeTooSkewed (client): The difference between the request time and the current time is too large."),
            vec![AuthFailure]
        );
        assert_eq!(
            cats("Unhandled exception. System.ArgumentNullException: Value cannot be null. (Parameter 'connectionString')"),
            vec![ConfigError]
        );
        assert_eq!(
            cats("traps: python3[811] general protection fault ip:7f8c2e1b4d31 sp:7ffd error:0 in libcrypto.so.3"),
            vec![Crash]
        );
    }

    #[test]
    fn a_throttling_403_is_a_rate_limit() {
        assert_eq!(
            cats("403 Forbidden: You have exceeded a secondary rate limit"),
            vec![RateLimit]
        );
    }

    #[test]
    fn forensics_shapes() {
        let t = Signatures::default();
        let s = signals(
            &t,
            "30412 ops 20 0 1211400 198220 41200 R  99.8   4.9  38:02.11 node",
            Origin::Forensics,
        );
        assert!(s.iter().any(|s| s.label == L_BUSY));
        let s = signals(
            &t,
            "7790 tokio-runtime-w futex_wait_queue",
            Origin::Forensics,
        );
        assert!(s.iter().any(|s| s.category == Deadlock));
    }
}
