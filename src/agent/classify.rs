//! The template path's classifier: weighs what each line of evidence means into one taxonomy category.

use super::evidence::{normalize, Evidence};
use super::signals::{signals, Origin, Signal};
use crate::core::category::Category;
use crate::incident::model::ProcessState;
use std::collections::{BTreeMap, HashMap};

/// Below this a category is not supported by evidence.
pub const MIN_SCORE: f32 = 2.0;
/// Quotes cited for the chosen category.
pub const MAX_CITED: usize = 6;

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
}

pub const L_STALL: &str =
    "the process stayed up but stopped making progress, with no error or outside cause in evidence";
pub const L_EXITED: &str = "the process exited on its own";
pub const L_LAST: &str = "the last line the service wrote before it went quiet";

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

fn items(ev: &Evidence) -> Vec<Item> {
    let n = ev.log_lines.max(1) as f32;
    let mut out: Vec<Item> = ev
        .groups
        .iter()
        .map(|g| {
            let recency = 0.4 + 0.6 * (g.last_line as f32 + 1.0) / n;
            let freq = 1.0 + 0.35 * (g.count as f32).ln();
            Item {
                text: g.text.clone(),
                line: Some(g.last_line),
                source: "log",
                count: g.count,
                factor: g.severity.weight() * recency * freq,
                signals: fold(signals(&g.text, Origin::Log)),
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
            out.push(Item {
                text: line.to_string(),
                line: None,
                source: "forensics",
                count: 1,
                factor: 1.1,
                signals: fold(signals(line, Origin::Forensics)),
            });
        }
    }
    for c in &ev.checks {
        let sigs = if c.kind == "exited" {
            let mut s = signals(&c.detail, Origin::Exit);
            s.push(Signal {
                category: Category::Crash,
                weight: 1.5,
                label: L_EXITED,
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
        });
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
            let share = if s.category == dominant { 1.0 } else { 0.5 };
            contrib
                .entry((s.category, s.label))
                .or_default()
                .push((s.weight * share * it.factor, i));
        }
    }
    let mut scores: BTreeMap<Category, f32> = BTreeMap::new();
    for ((cat, _), v) in contrib.iter_mut() {
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        // diminishing returns: many lines of one kind weigh at most twice the strongest
        let total: f32 = v
            .iter()
            .enumerate()
            .map(|(k, (c, _))| c * 0.5f32.powi(k as i32))
            .sum();
        *scores.entry(*cat).or_default() += total;
    }
    if process.running == Some(false) && !ev.checks.iter().any(|c| c.kind == "exited") {
        *scores.entry(Category::Crash).or_default() += 0.5;
    }
    let mut ranked: Vec<(Category, f32)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

    let top = ranked.first().copied();
    if let Some((cat, score)) = top.filter(|(_, s)| *s >= MIN_SCORE) {
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
        let cited = with_frames(pick(cited), &ev.log);
        let labels = labels_of(&cited);
        let _ = score;
        return Classification {
            category: cat,
            scores: ranked,
            cited,
            labels,
            by_absence: false,
        };
    }
    absence(ev, process, ranked)
}

/// Strongest first, distinct lines, at most two per label.
fn pick(cited: Vec<Cited>) -> Vec<Cited> {
    let mut out: Vec<Cited> = Vec::new();
    for c in cited {
        if out.len() >= MAX_CITED {
            break;
        }
        if out.iter().any(|o| o.text == c.text)
            || out.iter().filter(|o| o.label == c.label).count() >= 3
        {
            continue;
        }
        out.push(c);
    }
    out
}

static EXCEPTION_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b")
        .expect("exception pattern compiles")
});

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
        let (code, frame) = (lines[i - 1], lines[i - 2]);
        if code.starts_with([' ', '\t'])
            && frame.trim_start().starts_with("File \"")
            && !code.trim().is_empty()
        {
            let text = code.trim().to_string();
            if !cited.iter().any(|o| o.text == text) && !extra.iter().any(|(_, o)| o.text == text) {
                extra.push((
                    k,
                    Cited {
                        text,
                        line: Some(i - 1),
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

/// No category has support: a process that stayed up without progress hung on its own; otherwise unknown.
fn absence(ev: &Evidence, process: &ProcessState, ranked: Vec<(Category, f32)>) -> Classification {
    let stalled = ev.checks.iter().any(|c| {
        matches!(c.kind.as_str(), "log_stale" | "artifact")
            || (matches!(c.kind.as_str(), "http" | "port")
                && (c.failure.as_deref() == Some("timeout")
                    || c.detail.to_ascii_lowercase().contains("timed out")))
    });
    let alive = process.running == Some(true)
        || (process.running.is_none() && process.port_bound == Some(true));
    // A process that still answers its health endpoint is not hung: a silent stop there is unexplained.
    let http_timed_out = ev.checks.iter().any(|c| {
        c.kind == "http"
            && (c.failure.as_deref() == Some("timeout")
                || c.detail.to_ascii_lowercase().contains("timed out"))
    });
    let responsive =
        process.http_status.is_some_and(|s| (200..400).contains(&s)) && !http_timed_out;
    let exited = ev.checks.iter().any(|c| c.kind == "exited");
    let has_material = !ev.log.trim().is_empty() || ev.forensics.is_some();
    let mut cited: Vec<Cited> = Vec::new();
    let category = if exited {
        Category::Crash
    } else if stalled && alive && !responsive && has_material {
        Category::Deadlock
    } else {
        Category::Unknown
    };
    let label = match category {
        Category::Crash => L_EXITED,
        Category::Deadlock => L_STALL,
        _ => "",
    };
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
    if category != Category::Unknown {
        if let Some(last) = ev.groups.iter().max_by_key(|g| g.last_line) {
            cited.push(Cited {
                text: last.text.clone(),
                line: Some(last.last_line),
                source: "log",
                count: last.count,
                category,
                label: L_LAST,
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
    }
}
