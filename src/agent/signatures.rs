//! The signature table: what a line of text, an HTTP status or an exit code means, and who emits it.
//! Built-in entries are TOML compiled in (`src/agent/signatures/*.toml`); users add their own file.

use crate::core::category::Category;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

/// The built-in files, in the order they are read.
const BUILTIN: [(&str, &str); 6] = [
    ("generic.toml", include_str!("signatures/generic.toml")),
    ("runtimes.toml", include_str!("signatures/runtimes.toml")),
    ("services.toml", include_str!("signatures/services.toml")),
    ("os.toml", include_str!("signatures/os.toml")),
    ("codes.toml", include_str!("signatures/codes.toml")),
    (
        "side_tasks.toml",
        include_str!("signatures/side_tasks.toml"),
    ),
];

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b[a-z][a-z0-9+.-]*://[^\s"'<>]+"#).expect("url pattern compiles")
});

/// Default weight of a signature that names none.
pub const DEFAULT_WEIGHT: f32 = 3.5;
/// Default weight of a user's signature: they know their own API's codes.
pub const DEFAULT_USER_WEIGHT: f32 = 5.0;

/// Where a shape means something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Log,
    Forensics,
    Exit,
}

/// One text signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub re: Regex,
    pub category: Category,
    pub meaning: &'static str,
    pub source: &'static str,
    pub weight: f32,
    pub only: Option<Only>,
    /// Categories whose readings of the same line this one overrules.
    pub beats: Vec<Category>,
    /// Says how a failure ended, not why.
    pub symptom: bool,
    /// The text is a status code's reason phrase ("Forbidden"): read as weakly as the bare code.
    pub reason_phrase: bool,
    /// What to do about this mechanism, when it is the cause (a recommendation of its own).
    pub advice: Option<&'static str>,
    /// A line that also matches this does not mean what the signature says (jetsam's `idle-exit`
    /// reaps an idle daemon that asked for it; it is not memory pressure on the service).
    pub unless: Option<Regex>,
}

/// What a number (a status or exit code) means.
#[derive(Debug, Clone)]
pub struct CodeMeaning {
    pub code: i64,
    pub category: Category,
    pub meaning: &'static str,
    pub source: &'static str,
    pub weight: f32,
    pub symptom: bool,
    /// Evidence that refutes this reading: when any line matches, the reading is dropped everywhere
    /// (an exit 137 beside a runtime's own `OOMKilled=false` was a kill, not the OOM killer).
    pub unless: Option<Regex>,
}

/// The whole table: built-in entries, then a user's (which come first when matching).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub signatures: Vec<Signature>,
    pub statuses: Vec<CodeMeaning>,
    pub exits: Vec<CodeMeaning>,
    pub side_tasks: Vec<(Regex, &'static str)>,
    /// Lines that mark a (re)start of the process, with who prints them.
    pub starts: Vec<(Regex, &'static str)>,
    /// Lines that say their failure was handled (retried ok, fell back): the service carried on.
    pub handled: Vec<(Regex, &'static str)>,
    /// Lines that say an earlier failure was overcome (reconnected, retry ok): what failed before
    /// them works again.
    pub recovered: Vec<(Regex, &'static str)>,
}

/// A shared, cheap-to-clone handle on a table; `Default` is the built-in table.
///
/// The built-in table's regexes (a few MB of automata) are compiled on first use, when a
/// post-mortem is drafted, not when a config is loaded: an idle daemon never holds them.
#[derive(Debug, Clone, Default)]
pub struct Signatures(Option<Arc<Table>>);

impl std::ops::Deref for Signatures {
    type Target = Table;
    fn deref(&self) -> &Table {
        self.0.as_deref().unwrap_or(&BUILTIN_TABLE)
    }
}

/// A signature file that could not be used: names the file, the line and the fix.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{file}:{line}: {problem}; {fix}")]
pub struct SignatureError {
    pub file: PathBuf,
    pub line: usize,
    pub problem: String,
    pub fix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    signature: Vec<toml::Spanned<RawSignature>>,
    #[serde(default)]
    status: Vec<toml::Spanned<RawCode>>,
    #[serde(default)]
    exit: Vec<toml::Spanned<RawCode>>,
    #[serde(default)]
    side_task: Vec<toml::Spanned<RawSide>>,
    #[serde(default)]
    start: Vec<toml::Spanned<RawStart>>,
    #[serde(default)]
    handled: Vec<toml::Spanned<RawSide>>,
    #[serde(default)]
    recovered: Vec<toml::Spanned<RawSide>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStart {
    regex: String,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    regex: Option<String>,
    text: Option<String>,
    category: String,
    meaning: String,
    source: String,
    weight: Option<f32>,
    only: Option<String>,
    #[serde(default)]
    beats: Vec<String>,
    #[serde(default)]
    symptom: bool,
    #[serde(default)]
    reason_phrase: bool,
    advice: Option<String>,
    unless: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    code: i64,
    category: String,
    meaning: String,
    source: String,
    weight: Option<f32>,
    #[serde(default)]
    symptom: bool,
    unless: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSide {
    regex: String,
    meaning: String,
}

static INTERNED: LazyLock<Mutex<HashSet<&'static str>>> =
    LazyLock::new(|| Mutex::new(HashSet::new()));

/// One `&'static str` per distinct text, so meanings can be labels; loading a file twice adds nothing.
fn intern(s: &str) -> &'static str {
    let mut set = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = set.get(s) {
        return k;
    }
    let k: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(k);
    k
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

const CATEGORIES: &str = "rate_limit, resource_exhaustion, deadlock, dependency_unavailable, config_error, auth_failure, crash, network, data_error";

/// Parses one signature file (`text` is its content, `file` its name in messages).
pub fn parse(file: &Path, text: &str, user: bool) -> Result<Table, SignatureError> {
    let err = |line: usize, problem: String, fix: &str| SignatureError {
        file: file.to_path_buf(),
        line,
        problem,
        fix: fix.to_string(),
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        err(
            line,
            e.message().trim().to_string(),
            "each entry is a [[signature]], [[status]], [[exit]], [[side_task]], [[handled]], [[recovered]] or [[start]] table with the keys of src/agent/signatures/README.md",
        )
    })?;
    let category = |line: usize, c: &str| -> Result<Category, SignatureError> {
        match c.parse::<Category>() {
            Ok(Category::Unknown) | Err(_) => Err(err(
                line,
                format!("unknown category `{c}`"),
                &format!("use one of {CATEGORIES}"),
            )),
            Ok(c) => Ok(c),
        }
    };
    let weight = |line: usize, w: Option<f32>| -> Result<f32, SignatureError> {
        let d = if user {
            DEFAULT_USER_WEIGHT
        } else {
            DEFAULT_WEIGHT
        };
        match w {
            Some(w) if !(0.0..=10.0).contains(&w) || w.is_nan() => Err(err(
                line,
                format!("weight {w} is out of range"),
                "use a weight between 0 and 10 (built-in signatures use 1 to 6)",
            )),
            Some(w) => Ok(w),
            None => Ok(d),
        }
    };
    // `what` is "the regex" or "the `unless` regex"; the problem gives the regex crate's own last line
    let compile = |line: usize, what: &str, pattern: &str, fix: &str| {
        Regex::new(pattern).map_err(|e| {
            err(
                line,
                format!(
                    "{what} does not compile: {}",
                    e.to_string().lines().last().unwrap_or("")
                ),
                fix,
            )
        })
    };
    let mut table = Table::default();
    for s in raw.signature {
        let line = line_of(text, s.span().start);
        let s = s.into_inner();
        let pattern =
            match (&s.regex, &s.text) {
                (Some(r), None) => r.clone(),
                (None, Some(t)) => format!("(?i){}", regex::escape(t)),
                _ => return Err(err(
                    line,
                    "a signature needs exactly one of `regex` and `text`".into(),
                    "add regex = '''...''' for a pattern, or text = \"...\" for a plain substring",
                )),
            };
        if pattern.trim().is_empty() || pattern == "(?i)" {
            return Err(err(
                line,
                "the pattern is empty".into(),
                "give the text the error line contains",
            ));
        }
        let re = compile(
            line,
            "the regex",
            &pattern,
            "fix the pattern, or use text = \"...\" to match a plain substring",
        )?;
        let only = match s.only.as_deref() {
            None => None,
            Some("log") => Some(Only::Log),
            Some("forensics") => Some(Only::Forensics),
            Some("exit") => Some(Only::Exit),
            Some(o) => {
                return Err(err(
                    line,
                    format!("unknown `only = \"{o}\"`"),
                    "use \"log\", \"forensics\" or \"exit\", or leave it out",
                ))
            }
        };
        let beats = s
            .beats
            .iter()
            .map(|b| category(line, b))
            .collect::<Result<Vec<_>, _>>()?;
        if s.meaning.trim().is_empty() || s.source.trim().is_empty() {
            return Err(err(
                line,
                "`meaning` and `source` must not be empty".into(),
                "say what the line means and which library, API or OS prints it",
            ));
        }
        let unless = s
            .unless
            .as_deref()
            .map(|r| compile(line, "the `unless` regex", r, "fix the pattern"))
            .transpose()?;
        table.signatures.push(Signature {
            re,
            category: category(line, &s.category)?,
            meaning: intern(s.meaning.trim()),
            source: intern(s.source.trim()),
            weight: weight(line, s.weight)?,
            only,
            beats,
            symptom: s.symptom,
            reason_phrase: s.reason_phrase,
            advice: s
                .advice
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(intern),
            unless,
        });
    }
    for (list, out) in [
        (raw.status, &mut table.statuses),
        (raw.exit, &mut table.exits),
    ] {
        for c in list {
            let line = line_of(text, c.span().start);
            let c = c.into_inner();
            let unless = c
                .unless
                .as_deref()
                .map(|r| compile(line, "the `unless` regex", r, "fix the pattern"))
                .transpose()?;
            out.push(CodeMeaning {
                code: c.code,
                category: category(line, &c.category)?,
                meaning: intern(c.meaning.trim()),
                source: intern(c.source.trim()),
                weight: weight(line, c.weight)?,
                symptom: c.symptom,
                unless,
            });
        }
    }
    for (list, out) in [
        (raw.side_task, &mut table.side_tasks),
        (raw.handled, &mut table.handled),
        (raw.recovered, &mut table.recovered),
    ] {
        for s in list {
            let line = line_of(text, s.span().start);
            let s = s.into_inner();
            let re = compile(line, "the regex", &s.regex, "fix the pattern")?;
            out.push((re, intern(s.meaning.trim())));
        }
    }
    for s in raw.start {
        let line = line_of(text, s.span().start);
        let s = s.into_inner();
        let re = compile(line, "the regex", &s.regex, "fix the pattern")?;
        table.starts.push((re, intern(s.source.trim())));
    }
    Ok(table)
}

static BUILTIN_TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut all = Table::default();
    for (name, text) in BUILTIN {
        let t = parse(Path::new(name), text, false)
            .unwrap_or_else(|e| panic!("built-in signatures are valid: {e}"));
        all.extend(t);
    }
    all
});

impl Table {
    fn extend(&mut self, t: Table) {
        self.signatures.extend(t.signatures);
        self.statuses.extend(t.statuses);
        self.exits.extend(t.exits);
        self.side_tasks.extend(t.side_tasks);
        self.starts.extend(t.starts);
        self.handled.extend(t.handled);
        self.recovered.extend(t.recovered);
    }

    /// Whether a line says an earlier failure was overcome.
    pub fn is_recovered(&self, line: &str) -> bool {
        self.recovered.iter().any(|(re, _)| re.is_match(line))
    }

    /// Whether a line says its failure was handled.
    pub fn is_handled(&self, line: &str) -> bool {
        self.handled.iter().any(|(re, _)| re.is_match(line))
    }

    /// Whether a line marks a (re)start of the process.
    pub fn is_start(&self, line: &str) -> bool {
        self.starts.iter().any(|(re, _)| re.is_match(line))
    }

    /// What a status code means, if anything (the first entry wins: a user's before the built-in).
    pub fn status(&self, code: i64) -> Option<&CodeMeaning> {
        self.statuses.iter().find(|c| c.code == code)
    }

    /// What an exit code means, if anything.
    pub fn exit(&self, code: i64) -> Option<&CodeMeaning> {
        self.exits.iter().find(|c| c.code == code)
    }

    /// The advice of the signature whose meaning is `label`, if it has one.
    pub fn advice(&self, label: &str) -> Option<&'static str> {
        self.signatures
            .iter()
            .find(|s| s.meaning == label)
            .and_then(|s| s.advice)
    }

    /// The side task a line belongs to, if any.
    pub fn side_task(&self, line: &str) -> Option<&'static str> {
        // a URL names an endpoint, not the work: a relay posting to /api/webhook/... is its main path
        let line = &*URL.replace_all(line, " ");
        self.side_tasks
            .iter()
            .find(|(re, _)| re.is_match(line))
            .map(|(_, m)| *m)
    }
}

impl Signatures {
    /// The built-in table with a user's file in front of it.
    pub fn with_user_file(path: &Path) -> Result<Signatures, SignatureError> {
        let text = std::fs::read_to_string(path).map_err(|e| SignatureError {
            file: path.to_path_buf(),
            line: 0,
            problem: format!("cannot be read: {e}"),
            fix: "point [agent] signatures at a readable TOML file".into(),
        })?;
        Signatures::with_user_text(path, &text)
    }

    /// The built-in table with a user's signatures (given as text) in front of it.
    pub fn with_user_text(path: &Path, text: &str) -> Result<Signatures, SignatureError> {
        let mut user = parse(path, text, true)?;
        user.extend(BUILTIN_TABLE.clone());
        Ok(Signatures(Some(Arc::new(user))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_file_parses_and_names_a_source() {
        let t = Signatures::default();
        assert!(t.signatures.len() > 40, "{}", t.signatures.len());
        assert!(t.signatures.iter().all(|s| !s.source.is_empty()));
        assert_eq!(t.status(429).map(|c| c.category), Some(Category::RateLimit));
        assert_eq!(t.exit(139).map(|c| c.category), Some(Category::Crash));
    }

    #[test]
    fn telemetry_in_an_event_name_is_a_side_task_and_a_notifier_token_variable_is_not() {
        let t = Signatures::default();
        assert!(t
            .side_task("[error    ] statsd_send_failed error='[Errno 111] Connection refused'")
            .is_some());
        assert!(t
            .side_task("DISCORD_TOKEN must be set: NotPresent")
            .is_none());
        assert!(t
            .side_task("fetch_orders failed: connection refused")
            .is_none());
    }

    #[test]
    fn a_bad_user_file_names_file_line_and_fix() {
        let text = "[[signature]]\ntext = \"E_QUOTA\"\ncategory = \"rate_limit\"\nmeaning = \"m\"\nsource = \"s\"\n\n[[signature]]\nregex = '''(unclosed'''\ncategory = \"rate_limit\"\nmeaning = \"m\"\nsource = \"s\"\n";
        let e = Signatures::with_user_text(Path::new("my.toml"), text).unwrap_err();
        assert_eq!(e.line, 7);
        insta::assert_snapshot!(e.to_string(), @"my.toml:7: the regex does not compile: error: unclosed group; fix the pattern, or use text = \"...\" to match a plain substring");
        let text = "[[signature]]\ntext = \"E_QUOTA\"\ncategory = \"slow\"\nmeaning = \"m\"\nsource = \"s\"\n";
        let e = Signatures::with_user_text(Path::new("my.toml"), text).unwrap_err();
        insta::assert_snapshot!(e.to_string(), @"my.toml:1: unknown category `slow`; use one of rate_limit, resource_exhaustion, deadlock, dependency_unavailable, config_error, auth_failure, crash, network, data_error");
        let text = "[[signature]]\ntext = \"E_QUOTA\"\ncolour = \"red\"\n";
        let e = Signatures::with_user_text(Path::new("my.toml"), text).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let text = "[[exit]]\ncode = 3\ncategory = \"config_error\"\nmeaning = \"m\"\nsource = \"s\"\nunless = \"[z-a]\"\n";
        let e = Signatures::with_user_text(Path::new("my.toml"), text).unwrap_err();
        insta::assert_snapshot!(e.to_string(), @"my.toml:1: the `unless` regex does not compile: error: invalid character class range, the start must be <= the end; fix the pattern");
    }
}

#[cfg(test)]
mod teaching {
    use super::*;
    use crate::agent::classify::classify;
    use crate::agent::evidence::{collapse, CheckFact, Evidence};
    use crate::incident::model::ProcessState;

    fn evidence(log: &str, signatures: Signatures) -> Evidence {
        Evidence {
            log: log.to_string(),
            log_lines: log.lines().count(),
            groups: collapse(log, &signatures),
            checks: vec![CheckFact {
                kind: "log_stale".into(),
                failure: None,
                detail: "log unchanged for 2h".into(),
            }],
            signatures,
            ..Default::default()
        }
    }

    #[test]
    fn a_user_signature_file_teaches_a_new_error_code() {
        let log = "INFO batch 1 sent\nWARN acme answered E_ACME_77 for batch 2, requeued\nWARN acme answered E_ACME_77 for batch 3, requeued\n";
        let up = ProcessState {
            running: Some(true),
            ..Default::default()
        };
        let before = classify(&evidence(log, Signatures::default()), &up);
        assert_eq!(before.category, Category::Unknown);
        let user = Signatures::with_user_text(
            Path::new("acme.toml"),
            "[[signature]]\ntext = \"E_ACME_77\"\ncategory = \"rate_limit\"\nmeaning = \"ACME's hourly quota is spent\"\nsource = \"ACME partner API docs\"\n",
        )
        .unwrap();
        let after = classify(&evidence(log, user), &up);
        assert_eq!(after.category, Category::RateLimit);
        assert!(after.labels.contains(&"ACME's hourly quota is spent"));
        assert!(after.cited.iter().any(|c| c.text.contains("E_ACME_77")));
    }
}
