//! The template path's classifier: weighs what each line of evidence means into one taxonomy category.

use super::evidence::{normalize, Evidence, Severity};
use super::priors::PriorCandidate;
use super::signals::{bit, signals, Origin, Signal, TEXT_OVER_CODE};
use crate::core::category::Category;
use crate::incident::model::ProcessState;
use std::collections::{BTreeMap, HashMap};

/// Below this a category is not supported by evidence.
pub const MIN_SCORE: f32 = 2.0;
/// Quotes cited for the chosen category.
pub const MAX_CITED: usize = 8;

/// A line of evidence the classifier used.
#[derive(Debug, Clone, PartialEq)]
pub struct Cited {
    pub text: String,
    /// 0-based line in the log, for log quotes.
    pub line: Option<usize>,
    /// `log`, `forensics` or `check`.
    pub source: &'static str,
    pub count: u32,
    pub category: Category,
    pub label: &'static str,
    pub score: f32,
}

/// The classifier's verdict with its reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub category: Category,
    /// Score of every category with any support, best first.
    pub scores: Vec<(Category, f32)>,
    /// The lines that support `category`, strongest first.
    pub cited: Vec<Cited>,
    /// What was recognised, strongest first (labels of `cited`, deduplicated).
    pub labels: Vec<&'static str>,
    /// Chosen because nothing else was in evidence (a silent hang, or nothing at all).
    pub by_absence: bool,
    /// The person-confirmed past incident (id, root cause) whose mechanism this one repeats.
    pub confirmed: Option<(String, String)>,
}

impl Classification {
    pub fn score_of(&self, c: Category) -> f32 {
        self.scores
            .iter()
            .find(|(k, _)| *k == c)
            .map_or(0.0, |(_, s)| *s)
    }
    pub fn top_score(&self) -> f32 {
        self.score_of(self.category)
    }
}

/// One line with what it weighs and means.
struct Item {
    text: String,
    /// 0-based line in the log (the last occurrence), for log items.
    line: Option<usize>,
    source: &'static str,
    count: u32,
    factor: f32,
    signals: Vec<Signal>,
    /// The side task the line belongs to (notifications, metrics), if any.
    side: Option<&'static str>,
    /// Whether the line can be why the service stopped: on its main path, not handled in the line, not
    /// overcome by a later line (reconnected, retry ok); forensics and checks always can.
    live: bool,
}

/// A side task's line (a notifier, metrics) weighs this much of a main-path line.
pub const SIDE_TASK_FACTOR: f32 = 0.25;
/// A line that says its failure was handled (retried ok, fell back) weighs this much.
pub const HANDLED_FACTOR: f32 = 0.3;
/// A failure followed by the work completing again weighs this much.
pub const SUPERSEDED_FACTOR: f32 = 0.4;
/// A line still repeating as the output stopped weighs this much more.
pub const AS_IT_STOPPED: f32 = 1.3;
/// A bare status code weighs this much when no line's text names its meaning and another line's text
/// names something else (a 503 beside nginx saying it was limiting requests).
pub const BARE_CODE_FACTOR: f32 = 0.5;
/// The share of the log's time span (or lines) counted as "as the output stopped".
pub const TAIL_SHARE: f32 = 0.15;

pub const L_EXITED: &str = "the process exited on its own";
pub const L_LAST: &str = "the last work the service logged before it went quiet";
pub const L_FOUND: &str = "what the forensics found";
pub const L_SEEN: &str = "seen, but not decisive";
pub const L_SIDE: &str =
    "an error on a side task (notifications, metrics), not the service's main path";
pub const L_IDLE: &str = "the process was sleeping between runs (idle), not blocked";

/// One signal per category per line: the strongest, plus a little for each other reading of the same kind.
fn fold(sigs: Vec<Signal>) -> Vec<Signal> {
    let mut out: Vec<Signal> = Vec::new();
    let mut sorted = sigs;
    sorted.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    for s in sorted {
        match out.iter_mut().find(|o| o.category == s.category) {
            Some(o) => o.weight += 0.2 * s.weight,
            None => out.push(s),
        }
    }
    out
}

/// How close to the end of the output a line was: 0 at the start, 1 at the last output. By the log's
/// own clock when both it and the last line carry a time, else by position.
fn lateness(ev: &Evidence, at: Option<i64>, line: usize) -> f32 {
    let n = ev.log_lines.max(1) as f32;
    match (at, ev.first_at, ev.last_at) {
        (Some(t), Some(first), Some(last)) if last > first && t >= first && t <= last => {
            (t - first) as f32 / (last - first) as f32
        }
        _ => (line as f32 + 1.0) / n,
    }
}

static PROGRESS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b(?:done|completed?|finished|succeeded|success(?:fully)?|wrote|written|published|processed|saved|uploaded|sent|exported|imported)\b")
        .expect("progress pattern compiles")
});

static FAILED_COUNT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b(?:failed|failures|errors?|skipped)\s*[=:]\s*[1-9]|\b(?:sent|done|processed|written|uploaded|published|ok|succeeded)\s*[=:]\s*0\b|\b(?:wrote|sent|processed|uploaded|published|exported|imported|saved)\s+0\b")
        .expect("failed count pattern compiles")
});

static RETRYING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)\bretr(?:y|ying)\b[^\n]{0,20}?\b(?:\d+\s*/\s*\d+|\d+ of \d+|in \d|after \d)|\bretrying\b|\bwill (?:be )?retr(?:y|ied)\b|\battempt \d+\s*(?:/|of)\s*\d+|\(attempt \d+\)|\battempt[=:#]\s*\d+\b")
        .expect("retrying pattern compiles")
});

/// Whether a line says work completed (a tally that counts failures or skips, or no success, does
/// not): a progress word that is not a counter's name (`done=58`,
/// `processed: 1422` in a periodic status line report totals, not that work finished since).
fn reports_progress(text: &str) -> bool {
    // a tally that counts failures (`uploaded 1288/3912 failed=2204`) is not a success
    if FAILED_COUNT.is_match(text) {
        return false;
    }
    PROGRESS.find_iter(text).any(|m| {
        let rest = text[m.end()..].trim_start();
        !(rest.starts_with('=') || rest.starts_with(':'))
            || !rest[1..]
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Whether the work completed again after line `i` (a later, informational line that reports progress):
/// a failure followed by success did not stop the service.
fn progress_after(ev: &Evidence, i: usize) -> bool {
    ev.groups.iter().any(|g| {
        g.last_line > i
            && ev.side_task(&g.text).is_none()
            && g.severity <= Severity::Info
            && reports_progress(&g.text)
            && !HOST_LINE.is_match(&g.text)
            && !ev.signatures.is_start(&g.text)
    })
}

/// Whether a later line says a failure was overcome (reconnected, retry ok, resumed): what failed (last
/// at line `i`, time `at`) works again, and was not why the service stopped. Later by the log's own
/// clock when both lines carry a time (a log may be several sources one after another), else by place.
fn recovered_after(ev: &Evidence, i: usize, at: Option<i64>) -> bool {
    ev.groups.iter().any(|g| {
        let later = match (at, g.at) {
            // clocks a year or more apart are two formats that cannot be compared (a time of day)
            (Some(a), Some(b)) if (a - b).abs() < 366 * 86_400 => {
                b > a || (b == a && g.last_line > i)
            }
            _ => g.last_line > i,
        };
        later && ev.side_task(&g.text).is_none() && recovers(ev, g)
    })
}

/// Whether a line says an earlier failure was overcome (reconnected, retry ok, resumed), and is not
/// itself a failure.
fn recovers(ev: &Evidence, g: &super::evidence::LogGroup) -> bool {
    g.severity <= Severity::Warn
        && ev.signatures.is_recovered(&g.text)
        && signals(&ev.signatures, &g.text, Origin::Log).is_empty()
}

/// The messages coreutils and friends print about their own arguments (`ls: cannot access ...`,
/// `cat: x: No such file or directory`, `grep: x: Permission denied`).
static PROBE_ERROR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^\s*(?:ls|cat|stat|grep|zgrep|egrep|head|tail|file|find|du|df|readlink|realpath|wc|cd|test|lsof|tar): ")
        .expect("probe error pattern compiles")
});

static LISTENS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // Puma `Listening on http://127.0.0.1:9292`, gunicorn `Listening at:`, uvicorn `running on`,
    // ASP.NET `Now listening on:`, Phoenix `Running ... at 0.0.0.0:4000`, Node/Go `listening on :4000`,
    // Spring `Tomcat started on port(s): 8080`, Python `Serving HTTP on 0.0.0.0 port 8000`
    regex::Regex::new(r"(?i)(?:\b(?:listening|serving|bound)\b|\brunning\b[^\n]{0,50}?\b(?:on|at)\b|\bstarted on\b)[^\n]{0,40}?(?:\bports?(?:\(s\))?\s*:?\s*(\d{2,5})\b|:(\d{2,5})\b)")
        .expect("listen pattern compiles")
});
static LOOPBACK_PORT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)(?:\b127\.\d+\.\d+\.\d+|\blocalhost|\[::1\]|\b0\.0\.0\.0|^|[\s/]):(\d{2,5})\b",
    )
    .expect("loopback port pattern compiles")
});
static CHECK_PORT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)(?:\b127\.\d+\.\d+\.\d+|\blocalhost|\[::1\]|\b0\.0\.0\.0):(\d{2,5})\b")
        .expect("check port pattern compiles")
});

/// The ports the service itself answers on: the ones its own start-up lines say it listens on, and
/// the loopback ports its port and HTTP checks probe.
fn own_ports(ev: &Evidence) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    let texts = ev
        .groups
        .iter()
        .filter_map(|g| LISTENS.captures(&g.text))
        .filter_map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map(|m| m.as_str().to_string())
        });
    let checks = ev
        .checks
        .iter()
        .filter(|c| c.kind == "port" || c.kind == "http")
        .flat_map(|c| {
            CHECK_PORT
                .captures_iter(&c.detail)
                .map(|m| m[1].to_string())
                .collect::<Vec<_>>()
        });
    for p in texts.chain(checks) {
        if let Ok(p) = p.parse::<u16>() {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Whether a line's failure is of a connection to the service's own local port: a proxy in front of
/// it, or a probe, found the service itself not answering. That says the service was down, not that
/// a dependency was.
fn to_own_port(text: &str, own: &[u16]) -> bool {
    !own.is_empty()
        && LOOPBACK_PORT
            .captures_iter(text)
            .any(|c| c[1].parse::<u16>().is_ok_and(|p| own.contains(&p)))
}

fn items(ev: &Evidence) -> Vec<Item> {
    let table = &ev.signatures;
    let own = own_ports(ev);
    let mut out: Vec<Item> = ev
        .groups
        .iter()
        .map(|g| {
            let late = lateness(ev, g.at, g.last_line);
            let recency = 0.4 + 0.6 * late;
            let freq = 1.0 + 0.35 * (g.count as f32).ln();
            let side = ev.side_task(&g.text);
            let mut factor = g.severity.weight() * recency * freq;
            if side.is_some() {
                factor *= SIDE_TASK_FACTOR;
            }
            let handled = table.is_handled(&g.text);
            if handled {
                factor *= HANDLED_FACTOR;
            }
            // a failure that announced a retry, happened once and was followed by more of the
            // service's output: the retry went through (a failed one says so again)
            // a failure that happened once, well before the output stopped, and was followed by
            // the service's work completing again did not stop it either
            let progressed = progress_after(ev, g.last_line);
            let transient = g.count + g.earlier == 1
                && late < 1.0 - TAIL_SHARE
                && (RETRYING.is_match(&g.text) || progressed);
            let overcome = transient || recovered_after(ev, g.last_line, g.at);
            if overcome || progressed {
                factor *= SUPERSEDED_FACTOR;
            }
            if side.is_none()
                && g.last_line >= ev.run_start
                && g.count >= 2
                && late >= 1.0 - TAIL_SHARE
            {
                factor *= AS_IT_STOPPED;
            }
            let mut sigs = fold(signals(table, &g.text, Origin::Log));
            if to_own_port(&g.text, &own) {
                sigs.retain(|s| s.category != Category::DependencyUnavailable);
            }
            Item {
                text: g.text.clone(),
                line: Some(g.last_line),
                source: "log",
                count: g.count,
                factor,
                signals: sigs,
                side,
                live: side.is_none() && !handled && !overcome,
            }
        })
        .collect();
    if let Some(f) = &ev.forensics {
        let mut seen: HashMap<String, usize> = HashMap::new();
        // a shell prompt line is the command that was run, not what it found
        for line in f
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("$ "))
        {
            let key = normalize(line);
            if let Some(&i) = seen.get(&key) {
                let it: &mut Item = &mut out[i];
                it.count += 1;
                continue;
            }
            seen.insert(key, out.len());
            // a probe's complaint about its own argument (`ls: cannot access 'x': No such file or
            // directory`) says what the investigator did not find, not what the service hit
            let sigs = if PROBE_ERROR.is_match(line) {
                Vec::new()
            } else {
                fold(signals(table, line, Origin::Forensics))
            };
            out.push(Item {
                text: line.to_string(),
                line: None,
                source: "forensics",
                count: 1,
                factor: 1.1,
                signals: sigs,
                side: None,
                live: true,
            });
        }
    }
    for c in &ev.checks {
        let sigs = if c.kind == "exited" {
            let mut s = signals(table, &c.detail, Origin::Exit);
            s.push(Signal {
                category: Category::Crash,
                weight: 1.5,
                label: L_EXITED,
                symptom: true,
                coded: false,
                beats: 0,
            });
            s
        } else {
            Vec::new()
        };
        out.push(Item {
            text: c.detail.clone(),
            line: None,
            source: "check",
            count: 1,
            factor: 1.0,
            signals: sigs,
            side: None,
            live: true,
        });
    }
    // a code's reading that other evidence refutes (exit 137 beside `OOMKilled=false`) is dropped
    let refuted: Vec<&str> = table
        .exits
        .iter()
        .chain(&table.statuses)
        .filter(|c| {
            c.unless
                .as_ref()
                .is_some_and(|re| out.iter().any(|it| re.is_match(&it.text)))
        })
        .map(|c| c.meaning)
        .collect();
    if !refuted.is_empty() {
        for it in &mut out {
            it.signals.retain(|s| !refuted.contains(&s.label));
        }
    }
    out
}

/// Whether any line of evidence means `category` (used to accept a model's category).
pub fn supported(ev: &Evidence, category: Category) -> bool {
    items(ev)
        .iter()
        .any(|i| i.signals.iter().any(|s| s.category == category))
}

/// Classifies the evidence into the taxonomy, citing the verbatim lines it used.
pub fn classify(ev: &Evidence, process: &ProcessState) -> Classification {
    let items = items(ev);
    // (category, label) -> contributions, each with the item it came from
    let mut contrib: BTreeMap<(Category, &'static str), Vec<(f32, usize)>> = BTreeMap::new();
    let mut symptoms: Vec<&'static str> = Vec::new();
    // categories some line's text names (not a bare code, not a symptom, not handled on the side)
    let named = items
        .iter()
        .filter(|it| it.side.is_none())
        .flat_map(|it| &it.signals)
        .filter(|s| !s.coded && !s.symptom && s.weight >= TEXT_OVER_CODE)
        .fold(0u16, |m, s| m | bit(s.category));
    for (i, it) in items.iter().enumerate() {
        let Some(dominant) = it
            .signals
            .iter()
            .max_by(|a, b| a.weight.total_cmp(&b.weight))
            .map(|s| s.category)
        else {
            continue;
        };
        for s in &it.signals {
            if s.symptom && !symptoms.contains(&s.label) {
                symptoms.push(s.label);
            }
            let mut share = if s.category == dominant { 1.0 } else { 0.5 };
            // a bare status code whose meaning no line's text names yields to the text that names another
            if s.coded && named & bit(s.category) == 0 && named != 0 {
                share *= BARE_CODE_FACTOR;
            }
            contrib
                .entry((s.category, s.label))
                .or_default()
                .push((s.weight * share * it.factor, i));
        }
    }
    let mut totals: BTreeMap<(Category, &'static str), f32> = BTreeMap::new();
    for (key, v) in contrib.iter_mut() {
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        // many lines of one kind weigh at most twice the strongest
        totals.insert(*key, diminishing(v.iter().map(|(c, _)| *c)));
    }
    // An abort, an exit or a restart loop is how a failure ends, not why: when another category
    // explains it, the symptom counts for less.
    let explained = totals
        .iter()
        .filter(|((c, l), _)| *c != Category::Crash && !symptoms.contains(l))
        .fold(BTreeMap::<Category, f32>::new(), |mut m, ((c, _), t)| {
            *m.entry(*c).or_default() += t;
            m
        })
        .values()
        .any(|t| *t >= MIN_SCORE);
    let mut scores: BTreeMap<Category, f32> = BTreeMap::new();
    // Explained symptoms (a panic, the exit, the restarts) tell one story, how it ended: they
    // count as one reading with diminishing returns across their kinds, at 0.4.
    let mut told: BTreeMap<Category, Vec<f32>> = BTreeMap::new();
    for ((cat, label), total) in &totals {
        if explained && symptoms.contains(label) {
            told.entry(*cat).or_default().push(*total);
        } else {
            *scores.entry(*cat).or_default() += total;
        }
    }
    for (cat, mut v) in told {
        v.sort_by(|a, b| b.total_cmp(a));
        let story = diminishing(v.into_iter());
        *scores.entry(cat).or_default() += story * 0.4;
    }
    if process.running == Some(false) && !ev.checks.iter().any(|c| c.kind == "exited") {
        *scores.entry(Category::Crash).or_default() += 0.5;
    }
    let mut ranked: Vec<(Category, f32)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

    // A verdict needs decisive evidence: a line of its category that can be why the service stopped
    // (not handled in the line, not overcome by a later line, not a side task's). Lines that were all
    // overcome are what was seen, not the cause; the best category that has such a line wins.
    let decisive = |cat: Category| {
        contrib
            .iter()
            .filter(|((c, _), _)| *c == cat)
            .any(|(_, v)| v.iter().any(|(w, i)| *w > 0.0 && items[*i].live))
    };
    let top = ranked
        .iter()
        .copied()
        .filter(|(_, s)| *s >= MIN_SCORE)
        .find(|(c, _)| decisive(*c));
    if let Some((cat, score)) = top {
        let mut cited: Vec<Cited> = contrib
            .iter()
            .filter(|((c, _), _)| *c == cat)
            .flat_map(|((c, label), v)| {
                v.iter().map(|(s, i)| Cited {
                    text: items[*i].text.clone(),
                    line: items[*i].line,
                    source: items[*i].source,
                    count: items[*i].count,
                    category: *c,
                    label,
                    score: *s,
                })
            })
            .collect();
        cited.sort_by(|a, b| b.score.total_cmp(&a.score));
        let cited = with_thread_frames(
            with_frames(pick(cited), &ev.log),
            ev.forensics.as_deref().unwrap_or(""),
        );
        let labels = labels_of(&cited);
        let mut cited = cited;
        // what the failure looked like from elsewhere: the strongest line of the runner-up category,
        // when that category has support of its own (a gateway's timeouts beside a hung worker)
        let runner_up = ranked
            .iter()
            .find(|(c, s)| *c != cat && *s >= MIN_SCORE)
            .map(|(c, _)| *c);
        let aside = contrib
            .iter()
            .filter(|((c, _), _)| Some(*c) == runner_up)
            .flat_map(|((c, label), v)| v.iter().map(move |(s, i)| (*c, *label, *s, *i)))
            .filter(|(_, _, _, i)| !cited.iter().any(|o| o.text == items[*i].text))
            .max_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((c, label, s, i)) = aside.filter(|_| cited.len() < MAX_CITED) {
            cited.push(Cited {
                text: items[i].text.clone(),
                line: items[i].line,
                source: items[i].source,
                count: items[i].count,
                category: c,
                label,
                score: s,
            });
        }
        let _ = score;
        return Classification {
            category: cat,
            scores: ranked,
            cited,
            labels,
            by_absence: false,
            confirmed: None,
        };
    }
    absence(ev, process, ranked, &items)
}

/// Diminishing returns over weights given strongest first: each counts half the one before, so
/// however many there are they weigh at most twice the strongest.
fn diminishing(desc: impl Iterator<Item = f32>) -> f32 {
    desc.enumerate()
        .map(|(k, w)| w * 0.5f32.powi(k as i32))
        .sum()
}

/// Strongest first and varied: the best line of each label, then of each label and source, then of each
/// label and shape, then the rest; distinct lines, at most three per label.
fn pick(cited: Vec<Cited>) -> Vec<Cited> {
    type Pass = dyn Fn(&[Cited], &Cited) -> bool;
    let passes: [&Pass; 4] = [
        &|out, c| !out.iter().any(|o| o.label == c.label),
        &|out, c| {
            !out.iter()
                .any(|o| o.label == c.label && o.source == c.source)
        },
        &|out, c| {
            !out.iter()
                .any(|o| o.label == c.label && shape(&o.text) == shape(&c.text))
        },
        &|_, _| true,
    ];
    let mut out: Vec<Cited> = Vec::new();
    for pass in passes {
        for c in &cited {
            if out.len() >= MAX_CITED {
                break;
            }
            if out.iter().any(|o| o.text == c.text)
                || out.iter().filter(|o| o.label == c.label).count() >= 3
            {
                continue;
            }
            if pass(&out, c) {
                out.push(c.clone());
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

static QUOTED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"'[^']*'|"[^"]*""#).expect("quoted pattern compiles")
});

/// A line's shape: numbers and quoted values folded away, so lines that say the same thing compare equal.
fn shape(text: &str) -> String {
    QUOTED.replace_all(&normalize(text), "'*'").into_owned()
}

static EXCEPTION_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b")
        .expect("exception pattern compiles")
});

/// The source line of the innermost frame outside the interpreter, in the traceback that ends at line `i`.
fn user_frame_line(lines: &[&str], i: usize) -> Option<String> {
    let mut j = i;
    let mut code: Option<&str> = None;
    while j > 0 {
        j -= 1;
        let l = lines[j];
        let t = l.trim();
        if !l.starts_with([' ', '\t']) || t.is_empty() {
            return None;
        }
        if t.starts_with("File \"") {
            let internal = t.starts_with("File \"<")
                || t.contains("/lib/python")
                || t.contains("site-packages");
            match code {
                Some(c) if !internal => return Some(c.to_string()),
                _ => code = None,
            }
        } else if !t.chars().all(|ch| matches!(ch, '^' | '~' | ' ')) {
            code = Some(t);
        }
    }
    None
}

/// A Python exception line is explained by the source line of its last frame: cite that line too.
fn with_frames(mut cited: Vec<Cited>, log: &str) -> Vec<Cited> {
    let lines: Vec<&str> = log.lines().collect();
    let mut extra: Vec<(usize, Cited)> = Vec::new();
    for (k, c) in cited.iter().enumerate() {
        let Some(i) = c.line.filter(|i| *i >= 2 && c.source == "log") else {
            continue;
        };
        let exc = c.text.trim_start();
        let exc = exc.rsplit_once(": ").map_or(exc, |_| exc);
        if !EXCEPTION_LINE.is_match(exc) && !c.text.contains("Error: ") {
            continue;
        }
        if let Some(text) = user_frame_line(&lines, i) {
            if !cited.iter().any(|o| o.text == text) && !extra.iter().any(|(_, o)| o.text == text) {
                extra.push((
                    k,
                    Cited {
                        text,
                        line: Some(i),
                        score: c.score * 0.9,
                        ..c.clone()
                    },
                ));
            }
        }
    }
    for (k, c) in extra.into_iter().rev() {
        cited.insert(k + 1, c);
    }
    cited.truncate(MAX_CITED + 1);
    cited
}

static THREAD_HEADER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // py-spy `Thread 4031 (idle): "flusher"`, jstack `"worker-1" #12 prio=5 ...`
    regex::Regex::new(r#"^\s*(?:Thread (?:0x[0-9A-Fa-f]+|\d+) \(\w+\): "|"[^"]+" #\d+ )"#)
        .expect("thread header pattern compiles")
});
static APP_FRAME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // py-spy `flush (ingest/buffer.py:57)` (the standard library shows bare file names), jstack
    // `at com.acme.Cache.put(Cache.java:88)` (not the JDK's own packages)
    regex::Regex::new(
        r"^\s+(?:[\w.<>]+ \((?:[\w.\-]+/)+[\w.\-]+:\d+\)|at ([\w$.<>]+)\([\w$.\-]+:\d+\))",
    )
    .expect("app frame pattern compiles")
});

/// A thread header from a stack dump says only that a thread waits; where it waits is its innermost frame
/// in the service's own code: cite that frame after the header.
fn with_thread_frames(mut cited: Vec<Cited>, forensics: &str) -> Vec<Cited> {
    let lines: Vec<&str> = forensics.lines().collect();
    let mut extra: Vec<(usize, Cited)> = Vec::new();
    for (k, c) in cited.iter().enumerate() {
        if c.source != "forensics" || !THREAD_HEADER.is_match(&c.text) {
            continue;
        }
        let Some(at) = lines.iter().position(|l| *l == c.text) else {
            continue;
        };
        let frame = lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty())
            .find(|l| {
                APP_FRAME.captures(l).is_some_and(|m| {
                    m.get(1).is_none_or(|f| {
                        !["java.", "javax.", "jdk.", "sun.", "kotlin."]
                            .iter()
                            .any(|p| f.as_str().starts_with(p))
                    })
                })
            });
        if let Some(text) = frame.map(|l| l.trim().to_string()) {
            if !cited.iter().any(|o| o.text == text) && !extra.iter().any(|(_, o)| o.text == text) {
                extra.push((
                    k,
                    Cited {
                        text,
                        score: c.score * 0.9,
                        ..c.clone()
                    },
                ));
            }
        }
    }
    for (k, c) in extra.into_iter().rev() {
        cited.insert(k + 1, c);
    }
    cited.truncate(MAX_CITED + 1);
    cited
}

fn labels_of(cited: &[Cited]) -> Vec<&'static str> {
    let mut labels: Vec<&'static str> = Vec::new();
    for c in cited {
        if !labels.contains(&c.label) {
            labels.push(c.label);
        }
    }
    labels
}

static IDLE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b(?:sleep(?:ing)?|idle|next (?:run|poll|check|tick|cycle) (?:in|at)|waiting (?:\d+\s*\w+ )?(?:for|until) (?:the )?next)\b|do_nanosleep|hrtimer_nanosleep|clock_nanosleep|\bnanosleep\b|time\.sleep|Thread\.sleep|__semwait_signal")
        .expect("idle pattern compiles")
});

/// The service's last words and its threads say it was sleeping between runs, not stuck.
fn idle_sleep(ev: &Evidence) -> bool {
    let last = ev.groups.iter().max_by_key(|g| g.last_line);
    let says_idle = last.is_some_and(|g| IDLE.is_match(&g.text));
    let threads_sleep = ev.forensics.as_deref().is_some_and(|f| IDLE.is_match(f));
    let threads_blocked = ev.forensics.as_deref().is_some_and(|f| {
        f.lines().any(|l| {
            signals(&ev.signatures, l, Origin::Forensics)
                .iter()
                .any(|s| s.category == Category::Deadlock && s.weight >= 2.0)
        })
    });
    !threads_blocked && (says_idle || (threads_sleep && ev.groups.is_empty()))
}

pub const L_CONFIRMED: &str =
    "the same lines as an earlier incident whose cause a person confirmed";

/// The log and forensics lines of this incident that say the same thing as one of `lines` (numbers and
/// quoted values aside), keeping only lines that matter: warnings, errors, or lines with a meaning.
fn shared_lines<'e>(ev: &'e Evidence, lines: &[String]) -> Vec<&'e super::evidence::LogGroup> {
    let shapes: Vec<String> = lines.iter().map(|l| shape(l)).collect();
    ev.groups
        .iter()
        .filter(|g| {
            (g.severity >= Severity::Warn
                || !signals(&ev.signatures, &g.text, Origin::Log).is_empty())
                && shapes.contains(&shape(&g.text))
        })
        .collect()
}

/// Whether a past incident failed the same way: its cited lines recur here, or (when memory kept no
/// lines) what its text means agrees with what this evidence means. Sharing words is not enough.
pub fn same_mechanism(
    ev: &Evidence,
    cls: &Classification,
    all_labels: &[(Category, &'static str)],
    p: &PriorCandidate,
) -> bool {
    if !p.evidence.is_empty() {
        return !shared_lines(ev, &p.evidence).is_empty();
    }
    let text = format!("{} {}", p.summary, p.root_cause);
    let theirs: Vec<&'static str> = signals(&ev.signatures, &text, Origin::Log)
        .into_iter()
        .filter(|s| s.category == p.category && !s.symptom && !s.coded)
        .map(|s| s.label)
        .collect();
    if theirs.is_empty() || theirs.iter().any(|l| cls.labels.contains(l)) {
        return true;
    }
    let ours: Vec<&'static str> = all_labels
        .iter()
        .filter(|(c, _)| *c == p.category)
        .map(|(_, l)| *l)
        .collect();
    if ours.is_empty() {
        // what the prior says happened is nowhere in this evidence
        return false;
    }
    // these categories bundle mechanisms that are not the same failure (memory, disk, descriptors;
    // DNS, TLS, routes; environment, paths, permissions); elsewhere the category's own readings agree
    !matches!(
        p.category,
        Category::ResourceExhaustion | Category::Network | Category::ConfigError
    ) || theirs.iter().any(|l| ours.contains(l))
}

/// Memory as evidence: a past incident of this service whose cause a person confirmed, and whose cited
/// lines recur here, decides the category; its lines are cited first.
pub fn with_memory(cls: Classification, ev: &Evidence, service: &str) -> Classification {
    let best = ev
        .priors
        .iter()
        .filter(|p| p.confirmed && p.service == service && p.category != Category::Unknown)
        .map(|p| (p, shared_lines(ev, &p.evidence)))
        .filter(|(_, shared)| !shared.is_empty())
        .max_by(|a, b| {
            a.0.score
                .total_cmp(&b.0.score)
                .then(a.1.len().cmp(&b.1.len()))
        });
    let Some((p, shared)) = best else {
        return cls;
    };
    let mut cited: Vec<Cited> = shared
        .iter()
        .take(MAX_CITED / 2)
        .map(|g| Cited {
            text: g.text.clone(),
            line: Some(g.last_line),
            source: "log",
            count: g.count,
            category: p.category,
            label: L_CONFIRMED,
            score: 0.0,
        })
        .collect();
    if cls.category == p.category {
        for c in cls.cited {
            if cited.len() < MAX_CITED && !cited.iter().any(|o| o.text == c.text) {
                cited.push(c);
            }
        }
    }
    let mut labels = vec![L_CONFIRMED];
    if cls.category == p.category {
        labels.extend(cls.labels.iter().filter(|l| **l != L_CONFIRMED));
    }
    Classification {
        category: p.category,
        scores: cls.scores,
        cited,
        labels,
        by_absence: false,
        confirmed: Some((p.id.clone(), p.root_cause.clone())),
    }
}

/// Every reading of every log and forensics line (for comparing mechanisms with past incidents).
pub fn evidence_labels(ev: &Evidence) -> Vec<(Category, &'static str)> {
    let forensics = ev.forensics.as_deref().unwrap_or("");
    let mut out: Vec<(Category, &'static str)> = ev
        .groups
        .iter()
        .flat_map(|g| signals(&ev.signatures, &g.text, Origin::Log))
        .chain(
            forensics
                .lines()
                .flat_map(|l| signals(&ev.signatures, l, Origin::Forensics)),
        )
        .map(|s| (s.category, s.label))
        .collect();
    out.sort();
    out.dedup();
    out
}

static HEARTBEAT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)\b(?:heartbeat|alive|keep-?alive|health(?:check)?|ping|pong|liveness)\b",
    )
    .expect("heartbeat pattern compiles")
});

/// A prompt in captured forensics (`$ cmd`, `iex(node)1> cmd`, `>>> cmd`): what was asked, not found.
static PROMPT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"^\s*(?:\$ |# |>>> |\(gdb\) |\w+\([^)]*\)\d*> |irb\([^)]*\)[:\d]*> |[\w.-]+> )",
    )
    .expect("prompt pattern compiles")
});

/// A line the host printed about the service, not the service itself: the kernel, the supervisor, the
/// container engine, or the header of a section of collected output.
static HOST_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"systemd\[1\]:|\bkernel:|^\[\s*\d+\.\d+\]|^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} |\bdockerd\[|\bcontainerd\[|\bcontainer (?:health_status|die|kill|stop|start|create|destroy|restart|oom)\b|\blaunchd(?:\[\d+\])?:|^-{2,} .* -{2,}$",
    )
    .expect("host line pattern compiles")
});

/// The last line of the service's own work before it went quiet: not a heartbeat, not a side task, not
/// the host's lines about it.
fn last_main_line(ev: &Evidence) -> Option<&super::evidence::LogGroup> {
    ev.groups
        .iter()
        .filter(|g| {
            !HEARTBEAT.is_match(&g.text)
                && ev.side_task(&g.text).is_none()
                && !HOST_LINE.is_match(&g.text)
        })
        .max_by_key(|g| g.last_line)
        .or_else(|| ev.groups.iter().max_by_key(|g| g.last_line))
}

/// No category has support: a process that exited crashed; otherwise the honest answer is unknown, with
/// what was seen: the lines that meant something, the last work the service logged, and what the
/// forensics found.
fn absence(
    ev: &Evidence,
    _process: &ProcessState,
    ranked: Vec<(Category, f32)>,
    items: &[Item],
) -> Classification {
    let exited = ev.checks.iter().any(|c| c.kind == "exited");
    let mut cited: Vec<Cited> = Vec::new();
    let idle = idle_sleep(ev);
    let category = if exited {
        Category::Crash
    } else {
        Category::Unknown
    };
    let label = if exited { L_EXITED } else { "" };
    for c in ev.checks.iter().take(2) {
        cited.push(Cited {
            text: c.detail.clone(),
            line: None,
            source: "check",
            count: 1,
            category,
            label,
            score: 0.0,
        });
    }
    if category == Category::Unknown {
        let mut seen: Vec<&Item> = items
            .iter()
            .filter(|i| i.source != "check" && !i.signals.is_empty())
            .collect();
        seen.sort_by(|a, b| {
            let w = |i: &Item| i.factor * i.signals.iter().map(|s| s.weight).fold(0.0, f32::max);
            w(b).total_cmp(&w(a))
        });
        for it in seen.into_iter().take(2) {
            cited.push(Cited {
                text: it.text.clone(),
                line: it.line,
                source: it.source,
                count: it.count,
                category,
                label: match (idle, it.side) {
                    (true, _) => L_IDLE,
                    (false, Some(_)) => L_SIDE,
                    (false, None) => L_SEEN,
                },
                score: 0.0,
            });
        }
        if let Some(f) = &ev.forensics {
            if let Some(line) = f
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !PROMPT.is_match(l))
            {
                if !cited.iter().any(|c| c.text == line) {
                    cited.push(Cited {
                        text: line.to_string(),
                        line: None,
                        source: "forensics",
                        count: 1,
                        category,
                        label: L_FOUND,
                        score: 0.0,
                    });
                }
            }
        }
    }
    if let Some(last) = last_main_line(ev) {
        if !cited.iter().any(|c| c.text == last.text) {
            cited.push(Cited {
                text: last.text.clone(),
                line: Some(last.last_line),
                source: "log",
                count: last.count,
                category,
                label: if idle { L_IDLE } else { L_LAST },
                score: 0.0,
            });
        }
    }
    cited.retain(|c| !c.text.trim().is_empty());
    let labels = labels_of(&cited)
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    Classification {
        category,
        scores: ranked,
        cited,
        labels,
        by_absence: true,
        confirmed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::evidence::collapse;

    fn ev(log: &str) -> Evidence {
        Evidence {
            log: log.to_string(),
            log_lines: log.lines().count(),
            groups: collapse(log, &crate::agent::signatures::Signatures::default()),
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_exception_line_is_cited_beside_its_log_record_shape() {
        let log = "2026-12-09 10:56:22,910 ERROR publish failed for item 'a'\nTraceback (most recent call last):\n  File \"/srv/app/publish.py\", line 88, in build_post\n    body = article[\"body\"]\n           ~~~~~~~^^^^^^^^\nKeyError: 'body'\n2026-12-09 10:56:22,915 ERROR publish failed for item 'b': KeyError: 'body'\n2026-12-09 11:56:22,915 ERROR publish failed for item 'c': KeyError: 'body'\n2026-12-09 12:56:22,915 ERROR publish failed for item 'd': KeyError: 'body'\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::DataError);
        let texts: Vec<&str> = c.cited.iter().map(|c| c.text.as_str()).collect();
        assert!(texts.contains(&"KeyError: 'body'"), "{texts:#?}");
        assert!(texts.contains(&"body = article[\"body\"]"), "{texts:#?}");
    }

    #[test]
    fn a_silent_stall_without_thread_evidence_is_unknown_citing_the_last_work_not_the_heartbeat() {
        let mut e = ev("INFO job 41 start\nINFO job 41 done\nINFO job 42 start\nINFO heartbeat ok\nINFO heartbeat ok\n");
        e.checks.push(crate::agent::evidence::CheckFact {
            kind: "log_stale".into(),
            failure: None,
            detail: "log unchanged for 3h".into(),
        });
        let hung = ProcessState {
            running: Some(true),
            ..Default::default()
        };
        let c = classify(&e, &hung);
        assert_eq!(c.category, Category::Unknown);
        let texts: Vec<&str> = c.cited.iter().map(|c| c.text.as_str()).collect();
        assert!(texts.contains(&"INFO job 42 start"), "{texts:?}");
    }

    #[test]
    fn the_last_work_is_the_service_s_own_line_not_the_host_s_lines_after_it() {
        let mut e = ev("2026-06-11T13:50:00Z INFO job 41 done\n2026-06-11T13:55:00Z INFO rendering report 42\n--- dmesg -T ---\n[Thu Jun 11 14:31:12 2026] br-4c1e: port 2(veth9) entered forwarding state\nJun 11 14:32:00 host systemd[1]: sysstat-collect.service: Deactivated successfully.\n");
        e.checks.push(crate::agent::evidence::CheckFact {
            kind: "log_stale".into(),
            failure: None,
            detail: "log unchanged for 3h".into(),
        });
        let c = classify(&e, &ProcessState::default());
        assert_eq!(c.category, Category::Unknown);
        let last = c
            .cited
            .iter()
            .find(|c| c.label == L_LAST)
            .map(|c| c.text.as_str());
        assert_eq!(last, Some("2026-06-11T13:55:00Z INFO rendering report 42"));
    }

    #[test]
    fn a_notifier_error_is_a_side_task_and_an_idle_sleep_loop_with_lock_is_not_a_deadlock() {
        let side = "INFO job 7 start\nWARN slack notifier failed: 403 Forbidden\nWARN slack notifier failed: 403 Forbidden\n";
        let up = ProcessState {
            running: Some(true),
            ..Default::default()
        };
        assert_eq!(classify(&ev(side), &up).category, Category::Unknown);
        let idle = "INFO cycle done, lock released\nINFO sleeping 3600s until next run (lock file /tmp/x.lock kept)\n";
        let c = classify(&ev(idle), &up);
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        assert!(c.labels.contains(&L_IDLE), "{:?}", c.labels);
    }

    #[test]
    fn a_cited_thread_of_a_stack_dump_brings_its_innermost_frame_in_the_service_s_code() {
        let mut e = ev("INFO worker: flushing 500 records\n");
        e.forensics = Some("ps: pid 40 state S, 0.0% CPU for 45 min; all 3 threads wchan=futex_wait_queue\nThread 41 (idle): \"flusher\"\n    acquire (threading.py:120)\n    record (app/stats.py:33)\n    flush (app/buffer.py:61)\nThread 42 (idle): \"rotator\"\n    flush (app/buffer.py:57)\n    rotate (app/stats.py:48)\n".into());
        let up = ProcessState {
            running: Some(true),
            ..Default::default()
        };
        let c = classify(&e, &up);
        assert_eq!(c.category, Category::Deadlock, "{:?}", c.scores);
        let texts: Vec<&str> = c.cited.iter().map(|c| c.text.as_str()).collect();
        assert!(texts.contains(&"record (app/stats.py:33)"), "{texts:#?}");
        assert!(!texts.contains(&"acquire (threading.py:120)"), "{texts:#?}");
    }

    #[test]
    fn a_hung_worker_is_not_a_dependency_and_the_gateway_s_timeouts_are_cited_beside_it() {
        let log = "Apr 15 08:30:00 h gunicorn[2230]: [INFO] nightly rebuild triggered\nApr 15 08:31:30 h gunicorn[2228]: [CRITICAL] WORKER TIMEOUT (pid:2231)\nApr 15 08:31:30 h gunicorn[2228]: [ERROR] Worker (pid:2231) was sent SIGKILL! Perhaps out of memory?\n2026/04/15 08:33:12 [error] 822#822: *5140 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.8.0.3\nApr 15 09:01:30 h gunicorn[2228]: [CRITICAL] WORKER TIMEOUT (pid:2240)\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::Deadlock, "{:?}", c.scores);
        assert!(
            c.score_of(Category::ResourceExhaustion) == 0.0,
            "{:?}",
            c.scores
        );
        let texts: Vec<&str> = c.cited.iter().map(|c| c.text.as_str()).collect();
        assert!(
            texts.iter().any(|t| t.contains("upstream timed out")),
            "{texts:#?}"
        );
    }

    #[test]
    fn a_403_s_reason_phrase_yields_to_a_body_that_says_throttled_on_the_next_line() {
        let log = "2026-08-03 12:50:14.557 [ERR] GET /repos/a/b/releases returned 403 Forbidden\n2026-08-03 12:50:14.558 [ERR] Response body: {\"message\":\"You have exceeded a secondary rate limit.\"}\n2026-08-03 12:50:14.602 [ERR] GET /repos/a/c/releases returned 403 Forbidden\n2026-08-03 12:50:14.603 [ERR] Response body: {\"message\":\"You have exceeded a secondary rate limit.\"}\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::RateLimit, "{:?}", c.scores);
        // alone, the 403s are credentials refused
        let bare = "2026-08-03 12:50:14.557 [ERR] GET /repos/a/b/releases returned 403 Forbidden\n2026-08-03 12:50:14.602 [ERR] GET /repos/a/c/releases returned 403 Forbidden\n";
        let c = classify(&ev(bare), &ProcessState::default());
        assert_eq!(c.category, Category::AuthFailure, "{:?}", c.scores);
    }

    #[test]
    fn an_exit_137_the_runtime_says_was_not_the_oom_killer_is_not_read_as_one() {
        let mut e = ev("2026-09-25 02:40:00,001 INFO renderer: rendering issue 41\n");
        e.forensics = Some("exited exit=137 oom=false restart=no\ncontainer die 9b1e (exitCode=137, name=renderer)\n".into());
        let c = classify(&e, &ProcessState::default());
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        // without the runtime's word, 137 is the OOM killer's usual mark
        e.forensics = Some("container die 9b1e (exitCode=137, name=renderer)\n".into());
        let c = classify(&e, &ProcessState::default());
        assert_eq!(c.category, Category::ResourceExhaustion, "{:?}", c.scores);
    }

    #[test]
    fn a_sigkill_systemd_calls_a_signal_and_a_probe_s_own_complaint_are_not_causes() {
        let mut e = ev("19:31:55.402 [info] telemetry: vm.memory.total=188MB run_queue=0\n");
        e.forensics = Some("Dec 05 19:32:51 web1 systemd[1]: tablebook.service: Main process exited, code=killed, status=9/KILL\nDec 05 19:32:51 web1 systemd[1]: tablebook.service: Failed with result 'signal'.\n$ ls /opt/tablebook/erl_crash.dump\nls: cannot access '/opt/tablebook/erl_crash.dump': No such file or directory\n".into());
        let c = classify(&e, &ProcessState::default());
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        // systemd's own word for the OOM killer is memory
        e.forensics = Some("Dec 05 19:32:51 web1 systemd[1]: tablebook.service: Main process exited, code=killed, status=9/KILL\nDec 05 19:32:51 web1 systemd[1]: tablebook.service: Failed with result 'oom-kill'.\n".into());
        let c = classify(&e, &ProcessState::default());
        assert_eq!(c.category, Category::ResourceExhaustion, "{:?}", c.scores);
    }

    #[test]
    fn a_status_line_s_counters_are_not_work_completed_after_the_failure() {
        let throttled = "2026-11-15T02:00:09Z WARN llm: openai error, retrying error=Rate limit reached for gpt-4o-mini on tokens per min (TPM)\n";
        let log = format!("{}{}2026-11-15T02:10:00Z INFO newsletter: progress done=58 failed=0 retries=53901\n2026-11-15T03:00:00Z INFO newsletter: progress done=71 failed=0 retries=301442\n", throttled.repeat(3), throttled.replace("02:00:09", "02:50:00").repeat(2));
        let c = classify(&ev(&log), &ProcessState::default());
        assert_eq!(c.category, Category::RateLimit, "{:?}", c.scores);
        assert!(reports_progress("INFO batch done, 40 rows written"));
        assert!(!reports_progress(
            "INFO heartbeat busy=0 processed=1431 failed=39"
        ));
        assert!(!reports_progress("progress done: 58"));
        assert!(!reports_progress("INFO uploaded 1288/3912 failed=2204"));
        assert!(reports_progress("INFO uploaded 3912/3912 failed=0"));
        assert!(!reports_progress("INFO mailer: done sent=0 skipped=37"));
    }

    #[test]
    fn a_service_named_for_a_side_task_does_that_work_on_its_main_path() {
        let log = "2026/12/05 06:40:05 notifier: getUpdates: Post \"https://api.example.org/getUpdates\": dial tcp: lookup api.example.org: no such host\n2026/12/05 06:52:10 notifier: send: Post \"https://api.example.org/send\": dial tcp: lookup api.example.org: no such host\n2026/12/05 07:15:10 notifier: send: Post \"https://api.example.org/send\": dial tcp: lookup api.example.org: no such host\n";
        let mut e = ev(log);
        e.service = "billing-api".into();
        assert_eq!(e.side_task("notifier: send failed"), Some("notifications"));
        assert_eq!(
            classify(&e, &ProcessState::default()).category,
            Category::Unknown
        );
        e.service = "tg-notifier".into();
        assert_eq!(e.side_task("notifier: send failed"), None);
        let c = classify(&e, &ProcessState::default());
        assert_eq!(c.category, Category::Network, "{:?}", c.scores);
    }

    #[test]
    fn a_crash_loop_s_symptoms_tell_one_story_and_yield_to_its_cause() {
        let log = "thread 'main' panicked at src/main.rs:23:48:\nBOT_TOKEN must be set: NotPresent\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\nMar 09 16:40:13 vps-1 systemd[1]: bot.service: Main process exited, code=exited, status=101/n/a\nMar 09 16:40:23 vps-1 systemd[1]: bot.service: Scheduled restart job, restart counter is at 1.\nthread 'main' panicked at src/main.rs:23:48:\nBOT_TOKEN must be set: NotPresent\nMar 09 16:40:33 vps-1 systemd[1]: bot.service: Main process exited, code=exited, status=101/n/a\nMar 09 16:40:53 vps-1 systemd[1]: bot.service: Scheduled restart job, restart counter is at 5.\nMar 09 16:40:53 vps-1 systemd[1]: bot.service: Start request repeated too quickly.\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::ConfigError, "{:?}", c.scores);
    }

    #[test]
    fn a_bare_503_yields_to_the_line_whose_text_says_why_it_was_answered() {
        let log = "2026-06-07 13:15:40 WARNING POST /ingest -> 503 Service Temporarily Unavailable; retrying\n2026-06-07 13:15:40 WARNING POST /ingest -> 503 Service Temporarily Unavailable; retrying\n2026-06-07 13:15:41 WARNING POST /ingest -> 503 Service Temporarily Unavailable; retrying\n2026/06/07 13:15:41 [error] 640#640: *99120 limiting requests, excess: 20.480 by zone \"ingest\", client: 10.0.0.2\n2026/06/07 13:15:41 [error] 640#640: *99121 limiting requests, excess: 20.960 by zone \"ingest\", client: 10.0.0.2\n2026-06-07 13:20:00 WARNING dns: collect AAAA lookup failed (NXDOMAIN), using A record 10.0.0.9\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::RateLimit, "{:?}", c.scores);
        // without the text that explains them, the 503s are a dependency answering unavailable
        let bare = log.lines().take(3).collect::<Vec<_>>().join("\n");
        let c = classify(&ev(&bare), &ProcessState::default());
        assert_eq!(
            c.category,
            Category::DependencyUnavailable,
            "{:?}",
            c.scores
        );
    }

    #[test]
    fn a_failure_the_log_says_was_overcome_is_not_the_cause() {
        // go-redis / grpc-go dial errors, then the client's own word that it reconnected
        let refused = "2026-09-25T00:50:00Z INFO batch flushed rows=4980\n2026-09-25T00:55:12Z WARN redis: dial tcp 10.0.0.21:6379: connect: connection refused\n2026-09-25T00:55:12Z WARN redis: dial tcp 10.0.0.21:6379: connect: connection refused\n";
        let up = ProcessState {
            running: Some(true),
            ..Default::default()
        };
        let c = classify(&ev(refused), &up);
        assert_eq!(
            c.category,
            Category::DependencyUnavailable,
            "{:?}",
            c.scores
        );
        let log = format!("{refused}2026-09-25T00:55:13Z INFO redis: reconnected to 10.0.0.21:6379\n2026-09-25T01:15:00Z INFO stats streams_open=0\n");
        let c = classify(&ev(&log), &up);
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        // Go's net/http `panic recovered` is a failure, not a recovery
        let t = crate::agent::signatures::Signatures::default();
        assert!(t.is_recovered("INFO provider: retry ok"));
        assert!(t.is_recovered("INFO resuming W12 at step 'drawdown table'"));
        assert!(!t.is_recovered("INFO batch flushed rows=12"));
    }

    #[test]
    fn a_retry_announced_once_and_followed_by_more_work_went_through() {
        // requests/urllib3-style retry notice, once, then the service carried on
        let log = "2026-09-25 02:10:00,118 INFO renderer: render issue=143 started\n2026-09-25 02:10:11,887 WARNING mailer: POST /campaigns returned 502, retry 1/3 in 4s\n2026-09-25 02:10:16,103 INFO mailer: draft campaign updated (id=cmp_8812)\n2026-09-25 02:30:00,006 INFO renderer: rss=402MB threads=7\n2026-09-25 02:44:10,331 INFO renderer: sections 10-18 started\n2026-09-25 02:44:15,930 INFO renderer: chart 3/6 churn_cohorts.svg 212KB\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        // the same notice repeating as the output stops is the failure
        let stuck = "2026-09-25 02:10:00,118 INFO renderer: render issue=143 started\n2026-09-25 02:10:11,887 WARNING mailer: POST /campaigns returned 502, retry 1/3 in 4s\n2026-09-25 02:10:16,887 WARNING mailer: POST /campaigns returned 502, retry 2/3 in 8s\n2026-09-25 02:10:24,887 WARNING mailer: POST /campaigns returned 502, retry 3/3 in 16s\n";
        let c = classify(&ev(stuck), &ProcessState::default());
        assert_eq!(
            c.category,
            Category::DependencyUnavailable,
            "{:?}",
            c.scores
        );
    }

    #[test]
    fn a_numbered_first_attempt_that_failed_once_and_a_success_on_a_later_attempt_were_overcome() {
        // a prober's own attempt counter: attempt 1 failed once, the service carried on
        let log = "2026-03-26 02:20:00,004 INFO probe: 12/12 up\n2026-03-26 02:25:00,004 WARNING probe: https://shop.example returned 503 (attempt 1)\n2026-03-26 02:30:00,004 INFO probe: 12/12 up\n2026-03-26 02:35:00,004 INFO probe: 12/12 up\n2026-03-26 02:40:00,004 INFO probe: 12/12 up\n";
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        // reqwest's timeout, then the same push succeeding on its second attempt
        let t = crate::agent::signatures::Signatures::default();
        assert!(t.is_recovered("2026-06-19T23:25:05.118002Z  INFO agent::push: push ok attempt=2"));
        assert!(t.is_recovered("INFO mail: failure mail sent (attempt 2)"));
        assert!(!t.is_recovered("INFO push ok attempt=1"));
    }

    #[test]
    fn a_failure_once_followed_by_the_work_completing_again_did_not_stop_the_service() {
        // Laravel queue:work's task lines and Guzzle's ClientException, once, then jobs DONE again
        let log = "  2026-05-06 13:01:40 App\\Jobs\\PingIndex .................... RUNNING\n  2026-05-06 13:01:41 App\\Jobs\\PingIndex ........... 402.11ms FAIL\n[2026-05-06 13:01:41] production.ERROR: Client error: `POST https://search.example.io/documents` resulted in a `429 Too Many Requests` response\n  2026-05-06 13:05:02 App\\Jobs\\Resize ................. RUNNING\n  2026-05-06 13:05:03 App\\Jobs\\Resize ........ 902.55ms DONE\n  2026-05-06 13:11:27 App\\Jobs\\Resize ................. RUNNING\n  2026-05-06 13:11:28 App\\Jobs\\Resize ........ 877.90ms DONE\n[2026-05-06 13:15:00] production.INFO: queue sizes {\"images\":3}\n";
        assert_eq!(
            crate::agent::evidence::severity_of(
                "  2026-05-06 13:05:03 App\\Jobs\\Resize ........ 902.55ms DONE"
            ),
            Severity::Info
        );
        let c = classify(&ev(log), &ProcessState::default());
        assert_eq!(c.category, Category::Unknown, "{:?}", c.scores);
        // a tally of nothing done is no progress
        assert!(!reports_progress("journal: wrote 0 fills (p0=918220)"));
    }

    #[test]
    fn jetsam_s_idle_exit_and_the_host_s_mail_relay_are_not_the_service_s_failure() {
        let t = crate::agent::signatures::Signatures::default();
        // XNU memorystatus reaping an idle daemon, and osanalyticshelper's report of it
        let idle = "2026-04-11 14:18:02.004118+0000 0x2f1a     Default     0x0                  0      0    kernel: 50211.004 memorystatus: killing_idle_process pid 7701 [mdworker_shared] (idle-exit 0 32s rf:low) 4120KB - memorystatus_available_pages: 90211";
        assert!(signals(&t, idle, Origin::Log).is_empty());
        let report =
            "osanalyticshelper: Process mdworker_shared [7701] killed by jetsam reason idle-exit";
        assert!(signals(&t, report, Origin::Log).is_empty());
        let pressure = "osanalyticshelper: Process python3.12 [4412] killed by jetsam reason per-process-limit";
        assert!(signals(&t, pressure, Origin::Log)
            .iter()
            .any(|s| s.category == Category::ResourceExhaustion));
        // postfix's smtp client deferring a notification mail
        let e = ev("Feb 06 02:30:03 vps postfix/smtp[52240]: 3F1A2B0C12: to=<ops@example.net>, relay=none, delay=1.2, status=deferred (connect to mx.example.net[203.0.113.25]:25: Connection refused)\n");
        assert!(e.side_task(&e.groups[0].text).is_some());
    }

    #[test]
    fn a_proxy_that_cannot_reach_the_service_itself_is_not_a_dependency_outage() {
        // Caddy's reverse proxy in front of Puma: refused on the port Puma listens on
        let refused = r#"{"level":"error","ts":1771067212.1182,"logger":"http.log.error","msg":"dial tcp 127.0.0.1:9292: connect: connection refused","status":502}"#;
        let log = format!("2026-02-14_11:08:56.21440 * Listening on http://127.0.0.1:9292\n{refused}\n{refused}\n");
        let c = classify(&ev(&log), &ProcessState::default());
        assert_eq!(
            c.score_of(Category::DependencyUnavailable),
            0.0,
            "{:?}",
            c.scores
        );
        // refused on another local port (its database) is the dependency
        let db = log.replace("dial tcp 127.0.0.1:9292", "dial tcp 127.0.0.1:5432");
        let c = classify(&ev(&db), &ProcessState::default());
        assert_eq!(
            c.category,
            Category::DependencyUnavailable,
            "{:?}",
            c.scores
        );
        // the port a check probes is the service's own
        let mut e = ev(refused);
        e.checks.push(crate::agent::evidence::CheckFact {
            kind: "port".into(),
            failure: None,
            detail: "127.0.0.1:9292 not listening".into(),
        });
        assert_eq!(own_ports(&e), vec![9292]);
        assert_eq!(
            own_ports(&ev(
                "2026-01-01 INFO Tomcat started on port(s): 8080 (http)"
            )),
            vec![8080]
        );
        assert!(own_ports(&ev("INFO worker started, db=127.0.0.1:5432")).is_empty());
    }

    #[test]
    fn an_abort_explained_by_a_failed_allocation_is_resource_exhaustion() {
        let log = "memory allocation of 8589934592 bytes failed\nsystemd[1]: x.service: Main process exited, code=killed, status=6/ABRT\nsystemd[1]: x.service: Scheduled restart job, restart counter is at 4.\nmemory allocation of 8589934592 bytes failed\nsystemd[1]: x.service: Main process exited, code=killed, status=6/ABRT\n";
        let down = ProcessState {
            running: Some(false),
            ..Default::default()
        };
        assert_eq!(
            classify(&ev(log), &down).category,
            Category::ResourceExhaustion
        );
        let panic = "thread 'main' panicked at src/main.rs:10:5: index out of bounds\nsystemd[1]: x.service: Main process exited, code=killed, status=6/ABRT\n";
        assert_eq!(classify(&ev(panic), &down).category, Category::Crash);
    }
}
