//! What one line of evidence means: status codes, errno names, exit codes and signals, stack and thread shapes.

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
}

/// Where a line came from; some shapes only mean something in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Log,
    Forensics,
    /// The detail of an `exited` check: the process's own exit.
    Exit,
}

struct Rule {
    re: Regex,
    category: Category,
    weight: f32,
    label: &'static str,
    forensics_only: bool,
}

fn r(category: Category, weight: f32, label: &'static str, pattern: &str) -> Rule {
    Rule {
        re: Regex::new(pattern).expect("signal pattern compiles"),
        category,
        weight,
        label,
        forensics_only: false,
    }
}

fn f(category: Category, weight: f32, label: &'static str, pattern: &str) -> Rule {
    Rule {
        forensics_only: true,
        ..r(category, weight, label, pattern)
    }
}

pub const L_RATE: &str = "the upstream throttled requests (rate limit or quota)";
pub const L_401: &str = "HTTP 401: credentials rejected";
pub const L_403: &str = "HTTP 403: access forbidden";
pub const L_429: &str = "HTTP 429 Too Many Requests";
pub const L_5XX: &str = "a dependency answered with a 5xx server error";
pub const L_502: &str = "a gateway reported the dependency behind it unavailable (502/503/504)";
pub const L_4XX_DATA: &str = "a request was rejected as malformed (HTTP 400/413/415/422)";
pub const L_SIGKILL: &str =
    "the process was killed with SIGKILL (exit 137), the usual mark of the OOM killer";
pub const L_SEGV: &str = "the process died of a segmentation fault (SIGSEGV, exit 139)";
pub const L_ABORT: &str = "the process aborted (SIGABRT, exit 134)";
pub const L_127: &str = "a command was not found (exit 127): PATH or install problem";
pub const L_126: &str = "a command could not be executed (exit 126): permissions";
pub const L_EXIT: &str = "the process exited with a non-zero status";
pub const L_RESTARTS: &str = "the supervisor keeps restarting the process";
pub const L_BUSY: &str =
    "a thread spinning on the CPU while the service made no progress (busy loop)";
pub const L_HOT: &str = "the hottest frames of a CPU profile";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // rate limits and quotas
        r(
            RateLimit,
            3.5,
            L_RATE,
            r"(?i)too many requests|\brate[- _]?limit(?:ed|ing|s)?\b|\bratelimit|\bthrottl(?:ed|ing|e)\b|quota[ _]?(?:exceeded|exhausted|limit|reached)|exceeded (?:your |the )?(?:current |daily )?quota|quotaExceeded|RESOURCE_EXHAUSTED|\bslow ?down\b|flood[_ ]?wait|FloodWait|flood control|retry[-_ ]?after\b|\bretry in \d+ ?(?:s|sec|seconds)\b|request weight|too much request|TooManyRequests|RequestLimitExceeded|\brate exceeded\b",
        ),
        // resource exhaustion
        r(
            ResourceExhaustion,
            4.5,
            "the process ran out of memory",
            r"(?i)out of memory|\bOOM\b|oom[-_ ]?kill|Killed process \d+|MemoryError|Cannot allocate memory|\bENOMEM\b|bad_alloc|heap out of memory|OutOfMemoryError|memory limit exceeded|allocation failed|failed to allocate|memory allocation of \d+ bytes failed",
        ),
        r(
            ResourceExhaustion,
            5.0,
            "the disk is full (ENOSPC)",
            r"(?i)\bENOSPC\b|No space left on device|disk (?:is )?full|Disk quota exceeded|\bEDQUOT\b|database or disk is full|insufficient (?:disk|storage) space|not enough space on (?:the )?disk",
        ),
        r(
            ResourceExhaustion,
            5.0,
            "file descriptors ran out (EMFILE: too many open files)",
            r"(?i)\bE[MN]FILE\b|Too many open files|file table overflow",
        ),
        r(
            ResourceExhaustion,
            4.0,
            "a connection pool or thread limit was exhausted",
            r"(?i)pool (?:is )?(?:exhausted|timeout|timed out|limit|full)|QueuePool limit|too many (?:clients|connections)|remaining connection slots|unable to acquire (?:a )?connection|could not obtain (?:a )?connection|can't start new thread|cannot create (?:native )?thread|unable to create (?:new )?native thread|pthread_create|Resource temporarily unavailable|\bEAGAIN\b|max_connections|connection limit (?:reached|exceeded)|idle in transaction",
        ),
        // crashes
        r(
            Crash,
            4.0,
            "a Rust panic",
            r"panicked at|thread '[^']*' panicked|RUST_BACKTRACE",
        ),
        r(
            Crash,
            4.0,
            "a Go panic",
            r"^\s*panic: |goroutine \d+ \[running\]|\[signal SIG\w+: ",
        ),
        r(
            Crash,
            2.0,
            "a Python traceback",
            r"Traceback \(most recent call last\)",
        ),
        r(
            Crash,
            3.0,
            "a Java exception stack",
            r#"Exception in thread "|^\s+at [\w$.<>]+\([\w$]+\.(?:java|kt|scala):\d+\)"#,
        ),
        r(
            Crash,
            4.0,
            "an uncaught exception",
            r"(?i)uncaught (?:exception|error|typeerror|referenceerror|rangeerror)|unhandled (?:promise )?rejection|UnhandledPromiseRejection|unhandled exception|terminate called after throwing|fatal exception|process crashed|crashed with",
        ),
        r(
            Crash,
            3.0,
            "a Node.js stack",
            r"^\s+at (?:async )?[\w$.<>\[\] ]*\(?(?:/|file:|node:)[^)]*:\d+:\d+\)?$",
        ),
        r(
            Crash,
            5.0,
            L_SEGV,
            r"(?i)segmentation fault|\bSIGSEGV\b|\bsegfault\b|\bSIGBUS\b|bus error|core dumped|EXC_BAD_ACCESS",
        ),
        r(
            Crash,
            4.0,
            L_ABORT,
            r"(?i)\bSIGABRT\b|Aborted \(core dumped\)|\babort\(\)|EXC_CRASH",
        ),
        r(
            Crash,
            3.5,
            "a programming error (type, index, null or overflow)",
            r"\b(?:TypeError|ReferenceError|RangeError|AttributeError|IndexError|ZeroDivisionError|NameError|AssertionError|UnboundLocalError|NullPointerException|ArrayIndexOutOfBoundsException|IndexOutOfBoundsException|ClassCastException|IllegalStateException|ArithmeticException|RecursionError|StackOverflowError)\b|'NoneType' object|nil pointer dereference|invalid memory address|index out of (?:range|bounds)|assignment to entry in nil map|attempt to (?:add|subtract|multiply|divide|negate|shift left|shift right) with overflow|called `(?:Option|Result)::unwrap\(\)`|stack overflow|is not a function|Cannot read propert(?:y|ies) of (?:undefined|null)|divide by zero|division by zero",
        ),
        r(
            Crash,
            2.5,
            L_RESTARTS,
            r"(?i)restart(?:ed|ing)? too (?:quickly|often)|crash ?loop|Back-off restarting|start request repeated too quickly|respawning too fast|exited too quickly|throttling respawn|Scheduled restart job|restart counter is at \d+|unstable restarts|too many restarts|restart loop|restarted \d+ times",
        ),
        // deadlock and hangs
        r(
            Deadlock,
            5.0,
            "a deadlock was reported",
            r"(?i)Found (?:one|\d+) (?:Java-level )?deadlock|all goroutines are asleep|deadlock detected|potential deadlock|\bdeadlock(?:ed)?\b",
        ),
        r(
            Deadlock,
            3.0,
            "threads parked waiting on a lock (futex/mutex wait)",
            r"futex_wait|__lll_lock_wait|pthread_mutex_lock|_pthread_mutex_firstfit_lock|__psynch_mutexwait|semacquire|sync\.\(\*R?W?Mutex\)\.R?Lock|runtime_Semacquire|parking_lot|Mutex::lock|lock_slow|_acquire_lock|lock\.acquire|Lock\.acquire|threading\.py.*(?:acquire|wait)",
        ),
        r(
            Deadlock,
            3.5,
            "threads blocked on a monitor held by another thread",
            r"Thread\.State: BLOCKED|waiting to lock\b|BLOCKED \(on object monitor\)|waiting for monitor entry",
        ),
        r(
            Deadlock,
            2.0,
            "goroutines blocked on a channel",
            r"goroutine \d+ \[(?:chan send|chan receive|select)(?:, \d+ minutes)?\]",
        ),
        r(
            Deadlock,
            2.0,
            "lock acquisition without release",
            r"(?i)\bacquir(?:e|es|ing)\b[^.;,]{0,40}\block\b|waiting (?:for|on) (?:the )?(?:\w+ )?lock\b|lock (?:timeout|contention|wait)|\block held\b|\bheld lock\b",
        ),
        r(
            Deadlock,
            3.0,
            "the event loop was blocked",
            r"(?i)event loop (?:is )?(?:blocked|stalled|starved)|blocked the event loop|blocking (?:call|operation) (?:in|on) (?:the )?(?:event loop|async)|hung task|blocked for more than \d+ seconds|task \S+ blocked for",
        ),
        r(
            Deadlock,
            1.0,
            "a hang was reported",
            r"(?i)\b(?:stuck|hung|hangs|hanging|livelock|no progress)\b",
        ),
        // dependencies
        r(
            DependencyUnavailable,
            4.0,
            "a dependency refused connections (ECONNREFUSED)",
            r"(?i)\bECONNREFUSED\b|Connection refused|ConnectionRefusedError|actively refused|errno 111\b|os error 111\b|os error 61\b",
        ),
        r(
            DependencyUnavailable,
            2.0,
            "connections to a dependency were dropped",
            r"(?i)\bECONNRESET\b|connection reset|server closed the connection|RemoteDisconnected|ConnectionResetError|\bEPIPE\b|broken pipe|unexpected EOF|connection (?:was )?(?:closed|lost|aborted)|lost connection",
        ),
        r(
            DependencyUnavailable,
            2.5,
            "calls to a dependency timed out",
            r"(?i)\bETIMEDOUT\b|timed out|\btimeout\b|deadline exceeded|DEADLINE_EXCEEDED|ReadTimeout|ConnectTimeout|ConnectTimeoutError|TimeoutError|operation timed out",
        ),
        r(
            DependencyUnavailable,
            3.0,
            "a dependency was unreachable or unavailable",
            r"(?i)service unavailable|\bunavailable\b|bad gateway|gateway time-?out|no healthy upstream|upstream connect error|\bis (?:down|unreachable|not reachable)\b|(?:could ?n[o']t|failed to|unable to|cannot|can't) (?:connect|reach|establish)|connection (?:error|failed|failure)|no (?:brokers|servers|nodes|hosts) available|NoBrokersAvailable|OperationalError|Is the server running|Max retries exceeded|MaxRetryError|ServerSelectionTimeout|CLUSTERDOWN|reconnect(?:ing)? (?:attempt|in|to)|\bno response\b|not responding|did not respond|\bunresponsive\b|circuit (?:breaker )?(?:open|opened)",
        ),
        f(
            DependencyUnavailable,
            1.5,
            "threads blocked reading from a socket",
            r"sk_wait_data|tcp_recvmsg|inet_csk_accept|SSL_read|sock_recvmsg|unix_stream_read|\brecvfrom\b|socket\.recv",
        ),
        // network
        r(
            Network,
            4.5,
            "name resolution failed (DNS)",
            r"(?i)\bENOTFOUND\b|\bEAI_AGAIN\b|\bEAI_NONAME\b|getaddrinfo|Name or service not known|Temporary failure in name resolution|nodename nor servname|no such host|\bNXDOMAIN\b|SERVFAIL|could not resolve|failed to resolve|failed to lookup address|dns error|DNS (?:resolution|lookup|query)|NameResolutionError|UnknownHostException|resolve host|no servers could be reached",
        ),
        r(
            Network,
            4.5,
            "a TLS handshake or certificate check failed",
            r"(?i)certificate verify failed|CERTIFICATE_VERIFY_FAILED|certificate (?:has )?(?:expired|is not yet valid|not yet valid|revoked)|\bx509: |unknown (?:certificate )?(?:ca|authority)|self[- ]signed certificate|\bSSLError\b|SSL_ERROR|SSL routines|tls: |TLS handshake|handshake (?:failure|failed)|SSLHandshakeException|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|DEPTH_ZERO_SELF_SIGNED|InvalidCertificate|wrong version number|hostname mismatch|certificate is not valid for|\bERR_TLS_\w+|\bERR_SSL_\w+|\bCERT_\w+_(?:INVALID|EXPIRED)|altnames|does not match (?:the )?cert|certificate (?:name|subject) (?:mismatch|does not match)|NotValidForName|not valid for name",
        ),
        r(
            Network,
            4.0,
            "the network was unreachable (no route)",
            r"(?i)\bE(?:HOST|NET)UNREACH\b|\bENETDOWN\b|No route to host|Network is (?:unreachable|down)|network unreachable|host unreachable|Destination Host Unreachable|os error 101\b|os error 113\b|ProxyError|proxy (?:error|connect)|tunnel connection failed",
        ),
        // configuration
        r(
            ConfigError,
            4.0,
            "a missing environment variable (KeyError on an upper-case name)",
            r#"KeyError: ['"][A-Z][A-Z0-9_]{2,}['"]"#,
        ),
        r(
            ConfigError,
            2.5,
            "an environment variable lookup",
            r"os\.environ\[|os\.environ\.get|os\.getenv|process\.env\.|std::env::var|env::var\(|os\.Getenv|System\.getenv|ENV\.fetch|ENV\[",
        ),
        r(
            ConfigError,
            3.5,
            "an environment variable was not set",
            r"(?i)environment variable\b[^.]{0,60}\b(?:not (?:set|found|defined|present)|missing|unset|required|empty|undefined)|\b(?:missing|required|undefined|unset|empty) (?:required )?env(?:ironment)?(?: var(?:iable)?s?)?\b|environment variable not found|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+ (?:is )?(?:not set|unset|missing|undefined|empty)\b",
        ),
        r(
            ConfigError,
            3.5,
            "a binary or file was missing (not found on PATH)",
            r"(?i)command not found|No such file or directory|\bENOENT\b|executable file not found|not found in \$?PATH|cannot find (?:the )?(?:file|path|binary|executable)|os error 2\b|FileNotFoundError|spawn \S+ ENOENT",
        ),
        r(
            ConfigError,
            3.5,
            "a permission or sandbox (TCC) denial",
            r"(?i)permission denied|\bEACCES\b|\bEPERM\b|Operation not permitted|PermissionError|kTCCService|\bTCC\b|\btccd\b|Full Disk Access|not authorized to access|sandbox(?:ed)? (?:deny|denied|violation)|read-only file system|\bEROFS\b|os error 13\b|os error 1\b",
        ),
        r(
            ConfigError,
            3.5,
            "a module or shared library missing from the service's environment",
            r"(?i)ModuleNotFoundError|ImportError|No module named|Cannot find module|cannot open shared object file|Library not loaded|error while loading shared libraries|undefined symbol|GLIBC_\d|ClassNotFoundException|NoClassDefFoundError",
        ),
        r(
            ConfigError,
            3.5,
            "the configuration was missing or invalid",
            r"(?i)\b(?:config(?:uration)?|settings|\.toml|\.ya?ml|\.ini|\.env|\.conf)\b[^\n]{0,60}\b(?:not found|missing|invalid|malformed|failed to (?:load|parse|read|open)|could not (?:load|parse|read|open)|unknown (?:key|field|option)|is required)|(?:failed to|could not|couldn't|unable to|cannot|can't) (?:load|parse|read|open|find) (?:the )?(?:config(?:uration)?|settings)\b|unknown (?:config(?:uration)? )?(?:key|option|flag)\b|invalid (?:setting|option|configuration)|unrecognized (?:option|argument)|unexpected argument|EADDRINUSE|address already in use",
        ),
        // authentication
        r(
            AuthFailure,
            3.0,
            "the request was unauthorized",
            r"(?i)\bunauthori[sz]ed\b|\bforbidden\b|\bunauthenticated\b|PERMISSION_DENIED|not authenticated",
        ),
        r(
            AuthFailure,
            4.0,
            "credentials were rejected, expired or revoked",
            r"(?i)invalid[_ ]?(?:api[_ -]?key|token|credentials?|signature|grant|client|auth|session|x-api-key|bearer)|(?:api[_ -]?key|token|credentials?|password|session|certificate|secret)\s+(?:is\s+|has\s+been\s+|has\s+|was\s+)?(?:invalid|expired|revoked|rejected|not valid|incorrect|wrong|deactivated|disabled)|expired[_ ]?token|token[_ ]?expired|authentication (?:failed|failure|error|required)|auth(?:entication|orization)? failed|bad credentials|login failed|invalid_grant|invalid_client|InvalidClientTokenId|SignatureDoesNotMatch|\bExpiredToken\b|\bAccessDenied\b|access denied|permission denied \(publickey|signature (?:mismatch|invalid|verification failed|expired)|jwt expired|TokenExpiredError|token[-_ ]expir\w*|incorrect api key|\brevoked\b",
        ),
        // data
        r(
            DataError,
            3.0,
            "input could not be parsed (malformed or unexpected data)",
            r"(?i)JSONDecodeError|json\.decoder|Expecting value|Unexpected token|unexpected end of (?:json )?input|EOF while parsing|json: cannot unmarshal|invalid json|\bmalformed\b|parse error|ParseError|failed to (?:parse|decode|deserialize)|could not (?:parse|decode|deserialize)|unable to (?:parse|decode)|cannot (?:parse|decode)|invalid (?:type|value|format|input|data|payload|utf-?8|byte|character|literal|record|row|date|number)|\bValueError\b|UnicodeDecodeError|missing field|unknown field|unknown variant|schema (?:mismatch|changed|validation|error|violation)|validation (?:error|failed)|ValidationError|DecodeError|cannot unmarshal|NumberFormatException|DateTimeParseException|InputMismatchException|\bcorrupt(?:ed)?\b|checksum mismatch|unexpected (?:null|type|value|format|column|field|token|character|response (?:shape|format))|IntegrityError|constraint violation|not valid json|invalid escape|expected (?:value|a|an|one of)\b[^\n]{0,40}\b(?:got|found|but)",
        ),
        r(
            DataError,
            3.5,
            "a field was missing from the payload (KeyError on a data key)",
            r#"KeyError: (?:['"][a-z_][A-Za-z0-9_\-.]*['"]|\d+)"#,
        ),
        // forensics-only shapes
        f(
            ResourceExhaustion,
            2.0,
            "sockets left in CLOSE_WAIT (descriptors not closed)",
            r"\bCLOSE_WAIT\b|\bCLOSE-WAIT\b",
        ),
        f(
            ResourceExhaustion,
            4.0,
            "a filesystem at (nearly) 100% use",
            r"\s(?:9[89]|100)%\s+/",
        ),
        f(
            Deadlock,
            1.0,
            "threads sleeping in the kernel while the service made no progress",
            r"\bwchan\b.*\b(?:do_nanosleep|hrtimer_nanosleep)\b",
        ),
    ]
});

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
static PROFILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\d{1,3}(?:\.\d+)?)%\s+\S").expect("profile pattern compiles")
});
static PUBLICKEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)permission denied \(publickey").expect("publickey pattern compiles")
});

fn status_signal(code: u16) -> Option<Signal> {
    let s = |category, weight, label| {
        Some(Signal {
            category,
            weight,
            label,
        })
    };
    match code {
        429 => s(RateLimit, 4.5, L_429),
        401 => s(AuthFailure, 4.5, L_401),
        403 => s(AuthFailure, 4.0, L_403),
        400 | 413 | 415 | 422 => s(DataError, 1.5, L_4XX_DATA),
        500 => s(DependencyUnavailable, 2.0, L_5XX),
        502..=504 => s(DependencyUnavailable, 3.5, L_502),
        _ => None,
    }
}

fn exit_signal(code: i64) -> Option<Signal> {
    let s = |category, weight, label| {
        Some(Signal {
            category,
            weight,
            label,
        })
    };
    match code {
        0 | 143 | -15 => None,
        137 | -9 => s(ResourceExhaustion, 3.0, L_SIGKILL),
        139 | -11 => s(Crash, 5.0, L_SEGV),
        134 | -6 => s(Crash, 4.0, L_ABORT),
        127 => s(ConfigError, 4.0, L_127),
        126 => s(ConfigError, 3.0, L_126),
        78 => s(ConfigError, 3.0, "the process exited with EX_CONFIG (78)"),
        _ => s(Crash, 1.5, L_EXIT),
    }
}

fn signal_name(s: &str) -> Option<Signal> {
    match s.to_ascii_lowercase().as_str() {
        "9" | "killed" | "kill" | "sigkill" => exit_signal(137),
        "11" | "sigsegv" | "segmentation fault" => exit_signal(139),
        "6" | "aborted" | "sigabrt" => exit_signal(134),
        _ => None,
    }
}

/// Every meaning recognised in one line, at most one per label.
pub fn signals(line: &str, origin: Origin) -> Vec<Signal> {
    let mut out: Vec<Signal> = Vec::new();
    let mut push = |s: Signal| {
        if let Some(old) = out.iter_mut().find(|o| o.label == s.label) {
            old.weight = old.weight.max(s.weight);
        } else {
            out.push(s);
        }
    };
    for rule in RULES.iter() {
        if rule.forensics_only && origin != Origin::Forensics {
            continue;
        }
        // several readings of one rule in a line corroborate each other
        let hits = rule.re.find_iter(line).take(4).count();
        if hits > 0 {
            push(Signal {
                category: rule.category,
                weight: rule.weight * (1.0 + 0.1 * (hits as f32 - 1.0)),
                label: rule.label,
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
            .and_then(status_signal)
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
                signal_name(&code.to_string())
            } else {
                exit_signal(code)
            }
        }) {
            push(s);
        }
    }
    for c in SIGNAL.captures_iter(line) {
        let name = c.get(1).map_or("killed", |m| m.as_str());
        if let Some(s) = signal_name(name) {
            push(s);
        }
    }
    if origin == Origin::Forensics {
        if let Some(cpu) = RUNNING_HOT
            .captures(line)
            .and_then(|c| c[1].parse::<f32>().ok())
        {
            if cpu >= 80.0 {
                push(Signal {
                    category: Deadlock,
                    weight: 3.5,
                    label: L_BUSY,
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
                });
            }
        }
    }
    // One line, one story: throttling wins over the 403 that carries it, ssh keys are auth not permissions.
    let has = |out: &[Signal], label: &str| out.iter().any(|s| s.label == label);
    if has(&out, L_RATE) {
        out.retain(|s| {
            s.label != L_403 && s.category != AuthFailure && s.category != ResourceExhaustion
        });
    }
    if PUBLICKEY.is_match(line) {
        out.retain(|s| s.category != ConfigError);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats(line: &str) -> Vec<Category> {
        let mut v: Vec<_> = signals(line, Origin::Log)
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
    fn key_errors_split_env_names_from_payload_fields() {
        assert_eq!(cats("KeyError: 'STRIPE_SECRET'"), vec![ConfigError]);
        assert_eq!(cats("KeyError: 'price'"), vec![DataError]);
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
        let s = signals(
            "30412 ops 20 0 1211400 198220 41200 R  99.8   4.9  38:02.11 node",
            Origin::Forensics,
        );
        assert!(s.iter().any(|s| s.label == L_BUSY));
        let s = signals("7790 tokio-runtime-w futex_wait_queue", Origin::Forensics);
        assert!(s.iter().any(|s| s.category == Deadlock));
    }
}
