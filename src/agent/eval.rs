//! `akashic eval`'s engine: drafts each case as the daemon would and scores it (specs/eval-cases.md).

use super::case::{self, Case};
use super::draft::draft_with;
use super::evidence::gather_from;
use super::llm::ChatPort;
use super::model::PostMortem;
use super::priors::MemPriors;
use super::signatures::Signatures;
use super::validate::{grounding, validate};
use crate::config::LlmConfig;
use crate::core::category::Category;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The score of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseScore {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Category>,
    pub category_correct: bool,
    pub evidence_recall: f64,
    pub grounded: bool,
    pub recommendation_hit: bool,
    pub prior_precision: f64,
    pub prior_recall: f64,
    pub schema_valid: bool,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The evidence the post-mortem cited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cited: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole run, in the `eval --json` shape.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cases: usize,
    pub mode: String,
    pub category_accuracy: f64,
    pub evidence_recall: f64,
    pub grounded_rate: f64,
    pub recommendation_hit_rate: f64,
    pub prior_precision: f64,
    pub prior_recall: f64,
    pub schema_valid_rate: f64,
    pub mean_ms: f64,
    pub per_case: Vec<CaseScore>,
}

/// A folder of cases that cannot be listed.
#[derive(Debug, thiserror::Error)]
#[error("list cases in {path}")]
pub struct ListError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The `*.toml` files of a folder, sorted.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, ListError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ListError {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    Ok(v)
}

/// Scores a post-mortem against a case.
pub fn score(case: &Case, pm: &PostMortem, schema_valid: bool, ms: u64) -> CaseScore {
    let cited: Vec<&str> = pm.evidence.iter().map(|e| e.text.as_str()).collect();
    let exp = &case.expected;
    let evidence_recall = if exp.evidence.is_empty() {
        1.0
    } else {
        let found = exp
            .evidence
            .iter()
            .filter(|s| {
                let s = s.to_lowercase();
                cited.iter().any(|c| c.to_lowercase().contains(&s))
            })
            .count();
        found as f64 / exp.evidence.len() as f64
    };
    let grounded = cited.iter().all(|q| case.grounds(q));
    let recs = pm.recommendations.join("\n").to_lowercase();
    let recommendation_hit = exp.recommendation_any.is_empty()
        || exp
            .recommendation_any
            .iter()
            .any(|w| recs.contains(&w.to_lowercase()));
    let predicted: BTreeSet<&str> = pm
        .prior_incidents
        .iter()
        .filter(|p| p.same_pattern)
        .map(|p| p.id.as_str())
        .collect();
    let expected: BTreeSet<&str> = exp.prior_matches.iter().map(String::as_str).collect();
    let hit = predicted.intersection(&expected).count() as f64;
    let prior_precision = if predicted.is_empty() {
        if expected.is_empty() {
            1.0
        } else {
            0.0
        }
    } else {
        hit / predicted.len() as f64
    };
    let prior_recall = if expected.is_empty() {
        1.0
    } else {
        hit / expected.len() as f64
    };
    CaseScore {
        id: case.id.clone(),
        category: Some(pm.category),
        expected: Some(exp.category),
        category_correct: pm.category == exp.category,
        evidence_recall,
        grounded,
        recommendation_hit,
        prior_precision,
        prior_recall,
        schema_valid,
        ms,
        author: Some(pm.author.clone()),
        cited: pm.evidence.iter().map(|e| e.text.clone()).collect(),
        error: None,
    }
}

/// A case that could not be read: counted, and wrong on every measure.
pub fn failed(path: &Path, error: String) -> CaseScore {
    CaseScore {
        id: path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        ),
        category: None,
        expected: None,
        category_correct: false,
        evidence_recall: 0.0,
        grounded: false,
        recommendation_hit: false,
        prior_precision: 0.0,
        prior_recall: 0.0,
        schema_valid: false,
        ms: 0,
        author: None,
        cited: Vec::new(),
        error: Some(error),
    }
}

/// Drafts one case exactly as the daemon would: evidence from the case, memory from its history.
pub async fn run_case(
    case: &Case,
    model: Option<(&dyn ChatPort, &LlmConfig)>,
    signatures: &Signatures,
) -> (PostMortem, CaseScore) {
    let started = Instant::now();
    let incident = case.incident();
    let memory = MemPriors::new(case.priors());
    let ev = gather_from(
        &incident,
        case.context.log.as_deref(),
        case.changes(),
        Vec::new(),
        &memory,
        signatures,
    )
    .await;
    let pm = draft_with(&incident, &ev, model, &memory).await;
    let ms = started.elapsed().as_millis() as u64;
    let valid = validate(&pm).is_empty() && grounding(&pm, &ev).is_empty();
    let s = score(case, &pm, valid, ms);
    (pm, s)
}

/// Runs every case file; `progress` is called after each.
pub async fn run(
    files: &[PathBuf],
    model: Option<(&dyn ChatPort, &LlmConfig)>,
    signatures: &Signatures,
    mode: String,
    mut progress: impl FnMut(&CaseScore),
) -> Report {
    let mut per_case = Vec::new();
    for f in files {
        let s = match case::load(f) {
            Ok(c) => run_case(&c, model, signatures).await.1,
            Err(e) => failed(f, crate::errors::chain(&e)),
        };
        progress(&s);
        per_case.push(s);
    }
    summarize(mode, per_case)
}

/// Aggregates per-case scores; unreadable cases count as wrong.
pub fn summarize(mode: String, per_case: Vec<CaseScore>) -> Report {
    let n = per_case.len();
    let mean = |f: &dyn Fn(&CaseScore) -> f64| {
        if n == 0 {
            0.0
        } else {
            per_case.iter().map(f).sum::<f64>() / n as f64
        }
    };
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    Report {
        cases: n,
        mode,
        category_accuracy: mean(&|c| b(c.category_correct)),
        evidence_recall: mean(&|c| c.evidence_recall),
        grounded_rate: mean(&|c| b(c.grounded)),
        recommendation_hit_rate: mean(&|c| b(c.recommendation_hit)),
        prior_precision: mean(&|c| c.prior_precision),
        prior_recall: mean(&|c| c.prior_recall),
        schema_valid_rate: mean(&|c| b(c.schema_valid)),
        mean_ms: mean(&|c| c.ms as f64),
        per_case,
    }
}
