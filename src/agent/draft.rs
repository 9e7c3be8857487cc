//! Drafting: the template draft always, the model's draft when configured, merged under validation and grounding.

use super::classify::{supported, Classification};
use super::evidence::Evidence;
use super::facts;
use super::llm::{self, ChatPort, LlmError, OpenAiChat};
use super::model::{EvidenceQuote, PostMortem, PriorIncident};
use super::priors::PriorSource;
use super::prompts;
use super::redact::redact;
use super::template::{self, Draft};
use super::validate::{MAX_ITEM, MAX_QUOTES, MAX_RECOMMENDATIONS, MAX_ROOT_CAUSE, MAX_SUMMARY};
use crate::config::LlmConfig;
use crate::core::category::Category;
use crate::incident::model::Incident;
use chrono::{Duration, Utc};
use minijinja::context;
use serde_json::Value;
use std::sync::LazyLock;

/// Same-pattern incidents are counted over this many days before detection.
pub const SAME_PATTERN_DAYS: i64 = 90;
/// Related priors listed beside the same-pattern ones.
pub const MAX_RELATED: usize = 3;
/// Log groups shown to the model.
pub const PROMPT_LOG_LINES: usize = 12;
/// Characters of one log line shown to the model (small servers have small context windows).
pub const PROMPT_LINE_CHARS: usize = 300;
/// Characters of forensics shown to the model.
pub const PROMPT_FORENSICS_CHARS: usize = 1200;
/// A model may pick another supported category when it scores at least this share of the template's.
pub const CATEGORY_SHARE: f32 = 0.6;

/// Drafts the post-mortem; never fails (template fallback). Priors are checked against the evidence.
pub async fn draft(
    incident: &Incident,
    evidence: &Evidence,
    llm: Option<&LlmConfig>,
) -> PostMortem {
    let known = super::priors::MemPriors::new(evidence.priors.clone());
    match llm {
        Some(cfg) => {
            let port = OpenAiChat::new(cfg);
            draft_with(incident, evidence, Some((&port, cfg)), &known).await
        }
        None => draft_with(incident, evidence, None, &known).await,
    }
}

/// Drafts with an explicit model port and prior source (which answers whether an id exists).
pub async fn draft_with(
    incident: &Incident,
    ev: &Evidence,
    model: Option<(&dyn ChatPort, &LlmConfig)>,
    priors: &dyn PriorSource,
) -> PostMortem {
    let (tpl, cls) = match template::draft(incident, ev) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "template draft failed");
            (
                minimal(incident),
                super::classify::with_memory(
                    super::classify::classify(ev, &incident.process),
                    ev,
                    &incident.service,
                ),
            )
        }
    };
    let mut provenance = vec!["facts: incident".to_string()];
    let mut related_ids: Vec<String> = Vec::new();
    let (parts, author) = match model {
        None => {
            provenance.push("draft: template".into());
            (tpl, "template".to_string())
        }
        Some((port, cfg)) => {
            let started = std::time::Instant::now();
            let asked =
                tokio::time::timeout(cfg.timeout, ask_model(port, cfg, incident, ev, &cls)).await;
            let answer = match asked {
                Ok(r) => r,
                Err(_) => Err(LlmError::Timeout(cfg.timeout)),
            };
            match answer {
                Ok(v) => {
                    let name = format!("llm:{}", cfg.model);
                    let (parts, prov, ids) = merge(&tpl, &cls, &v, ev, &name);
                    provenance.extend(prov);
                    related_ids = ids;
                    let from_model = provenance.iter().any(|p| p.contains(&name));
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        from_model,
                        "model draft merged"
                    );
                    (parts, if from_model { name } else { "template".into() })
                }
                Err(e) => {
                    tracing::warn!(error = %crate::errors::chain(&e), "model draft failed; using the template");
                    provenance.push("draft: template".into());
                    provenance.push(format!("llm:{}: failed to {}", cfg.model, e));
                    (tpl, "template".to_string())
                }
            }
        }
    };
    let (prior_incidents, same_90d) = relate_priors(
        incident,
        ev,
        &cls,
        parts.category,
        &related_ids,
        priors,
        &mut provenance,
    )
    .await;
    PostMortem {
        incident_id: incident.id.clone(),
        service: incident.service.clone(),
        detected_at: incident.detected_at,
        detection: facts::detection(incident),
        process_state: facts::process_state(incident),
        recovery_action: facts::recovery_action(incident),
        recovery: facts::recovery(incident),
        category: parts.category,
        summary: parts.summary,
        root_cause: parts.root_cause,
        evidence: parts.evidence,
        recommendations: parts.recommendations,
        prior_incidents,
        // The watchdog's own record counts the pattern when it has one.
        same_pattern_90d: incident
            .pattern
            .as_ref()
            .map_or(same_90d, |p| p.count.saturating_sub(1)),
        services: Vec::new(),
        shared_endpoint: None,
        recurrence: facts::recurrence(incident),
        author,
        provenance,
        drafted_at: Utc::now(),
        confirmed_by: None,
    }
}

/// A last-resort draft when even the templates fail.
fn minimal(incident: &Incident) -> Draft {
    Draft {
        category: Category::Unknown,
        summary: format!("{}: failure with no drafted explanation", incident.service),
        root_cause: "The post-mortem could not be drafted; see the incident's facts.".into(),
        evidence: Vec::new(),
        recommendations: vec!["Review the incident's log and forensics by hand.".into()],
    }
}

/// Past incidents: every same-service same-category prior, and a few related ones; the 90-day count.
async fn relate_priors(
    incident: &Incident,
    ev: &Evidence,
    cls: &Classification,
    category: Category,
    model_ids: &[String],
    priors: &dyn PriorSource,
    provenance: &mut Vec<String>,
) -> (Vec<PriorIncident>, u32) {
    let mut out: Vec<PriorIncident> = Vec::new();
    let mut related = 0;
    let mut dropped = 0;
    for id in model_ids {
        if !ev.priors.iter().any(|p| &p.id == id) || !priors.exists(id).await {
            dropped += 1;
        }
    }
    if dropped > 0 {
        provenance.push(format!(
            "related_incidents: dropped {dropped} id(s) not in memory"
        ));
    }
    let all_labels = super::classify::evidence_labels(ev);
    let mut sorted = ev.priors.clone();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    for p in &sorted {
        if !priors.exists(&p.id).await {
            continue;
        }
        let same = p.service == incident.service
            && p.category == category
            && category != Category::Unknown
            && super::classify::same_mechanism(ev, cls, &all_labels, p);
        let named = model_ids.contains(&p.id);
        if !same && !named && (related >= MAX_RELATED || p.score < 0.15) {
            continue;
        }
        if !same {
            related += 1;
        }
        out.push(PriorIncident {
            id: p.id.clone(),
            date: Some(p.date),
            category: Some(p.category),
            summary: p.summary.clone(),
            score: p.score,
            same_pattern: same,
        });
    }
    let since = incident.detected_at - Duration::days(SAME_PATTERN_DAYS);
    let same_90d = out
        .iter()
        .filter(|p| {
            p.same_pattern
                && p.date
                    .is_some_and(|d| d >= since && d <= incident.detected_at)
        })
        .count() as u32;
    provenance.push("prior_incidents: memory".into());
    (out, same_90d)
}

/// The system and user prompts for an incident.
pub fn prompts_for(
    incident: &Incident,
    ev: &Evidence,
    cls: &Classification,
) -> Result<(String, String), prompts::RenderError> {
    let meanings: Vec<Value> = Category::ALL
        .iter()
        .map(|c| serde_json::json!({"name": c.as_str(), "meaning": c.meaning()}))
        .collect();
    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let system = prompts::render(
        prompts::SYSTEM,
        context! { service => incident.service.clone(), categories => names, category_meanings => meanings },
    )?;
    // the cited lines first, then the rest by rank, in log order
    let mut lines: Vec<&super::evidence::LogGroup> = Vec::new();
    for c in &cls.cited {
        if let Some(g) = ev.groups.iter().find(|g| g.text == c.text) {
            lines.push(g);
        }
    }
    for g in ev.ranked(PROMPT_LOG_LINES * 2) {
        if lines.len() >= PROMPT_LOG_LINES {
            break;
        }
        if !lines.iter().any(|l| l.text == g.text) {
            lines.push(g);
        }
    }
    lines.sort_by_key(|g| g.last_line);
    let fence = |s: &str| {
        s.replace("</data>", "< /data>")
            .replace("<data>", "< data>")
    };
    let log_lines: Vec<Value> = lines
        .iter()
        .map(|g| serde_json::json!({"text": fence(&g.text.chars().take(PROMPT_LINE_CHARS).collect::<String>()), "count": g.count}))
        .collect();
    let forensics = ev
        .forensics
        .as_ref()
        .map(|f| fence(&f.chars().take(PROMPT_FORENSICS_CHARS).collect::<String>()));
    let changes: Vec<Value> = ev
        .changes
        .iter()
        .take(8)
        .map(|c| {
            serde_json::json!({
                "at": c.at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                "kind": c.kind,
                "summary": c.summary,
            })
        })
        .collect();
    let priors: Vec<Value> = ev
        .priors
        .iter()
        .take(5)
        .map(|p| serde_json::json!({"id": p.id, "service": p.service, "category": p.category.as_str(), "summary": p.summary}))
        .collect();
    let checks: Vec<Value> = ev
        .checks
        .iter()
        .map(|c| serde_json::json!({"kind": c.kind, "detail": c.detail}))
        .collect();
    let user = prompts::render(
        prompts::USER,
        context! {
            incident_id => incident.id.clone(),
            service => incident.service.clone(),
            detected_at => incident.detected_at.to_rfc3339(),
            checks => checks,
            process_state => facts::process_state(incident),
            log_lines => log_lines,
            forensics => forensics,
            changes => changes,
            priors => priors,
            hint => cls.category.as_str(),
        },
    )?;
    Ok((system, user))
}

async fn ask_model(
    port: &dyn ChatPort,
    cfg: &LlmConfig,
    incident: &Incident,
    ev: &Evidence,
    cls: &Classification,
) -> Result<Value, LlmError> {
    let (system, user) = prompts_for(incident, ev, cls)?;
    let key = format!("{}|{}", cfg.base_url, cfg.model);
    let (v, mode) = llm::ask(port, &key, &cfg.model, &system, &user, cfg.max_tokens).await?;
    tracing::debug!(?mode, "model answered");
    Ok(v)
}

static COUNT_SUFFIX: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\s*\(x\d+\)\s*$").expect("suffix pattern compiles"));

/// Text that carries instructions rather than explanation: what a prompt injection makes a model repeat.
static INSTRUCTION: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b(?:ignore|disregard|forget)\b[^.]{0,30}\b(?:previous|prior|above|all|earlier)\b[^.]{0,20}\b(?:instructions?|prompts?|rules?)|\bas instructed\b|\bsystem prompt\b|\byou are now\b")
        .expect("instruction pattern compiles")
});

fn clean_text(v: &Value, max: usize) -> Option<String> {
    let s = v.as_str()?.trim();
    if s.is_empty() || s.chars().count() > max || INSTRUCTION.is_match(s) {
        return None;
    }
    Some(redact(s))
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Merges the model's answer into the template draft, part by part, keeping only what passes the checks.
/// Returns the parts, the provenance entries and the prior ids the model named.
pub fn merge(
    tpl: &Draft,
    cls: &Classification,
    answer: &Value,
    ev: &Evidence,
    name: &str,
) -> (Draft, Vec<String>, Vec<String>) {
    let mut prov = Vec::new();
    // evidence: verbatim quotes only
    let mut quotes: Vec<EvidenceQuote> = Vec::new();
    let mut invented = 0;
    for q in string_list(answer.get("evidence").unwrap_or(&Value::Null)) {
        let q = COUNT_SUFFIX
            .replace(q.trim().trim_matches('"'), "")
            .trim()
            .to_string();
        match ev.source_of(&q) {
            Some(src) if q.chars().count() >= 8 && q.chars().count() <= MAX_ITEM => {
                if !quotes.iter().any(|e| e.text == q) && quotes.len() < MAX_QUOTES / 2 {
                    quotes.push(EvidenceQuote {
                        count: ev.count_of(&q),
                        text: q,
                        source: src.into(),
                    });
                }
            }
            _ => invented += 1,
        }
    }
    let model_quotes = !quotes.is_empty();
    // category: the model may confirm, or choose another category the evidence supports nearly as well
    let proposed = answer
        .get("category")
        .and_then(Value::as_str)
        .map(str::parse::<Category>);
    let category = match proposed {
        Some(Ok(c)) if c == tpl.category => {
            prov.push(format!("category: {name}+template"));
            c
        }
        Some(Ok(c))
            if c != Category::Unknown
                && supported(ev, c)
                && model_quotes
                && (cls.by_absence || cls.score_of(c) >= CATEGORY_SHARE * cls.top_score()) =>
        {
            prov.push(format!("category: {name}"));
            c
        }
        Some(Ok(c)) => {
            prov.push(format!(
                "category: template ({name} said {c}, not supported by evidence)"
            ));
            tpl.category
        }
        Some(Err(_)) => {
            prov.push(format!(
                "category: template ({name} gave a category outside the taxonomy)"
            ));
            tpl.category
        }
        None => {
            prov.push(format!("category: template ({name} gave none)"));
            tpl.category
        }
    };
    let agrees = category == proposed.and_then(Result::ok).unwrap_or(tpl.category);
    if category == tpl.category {
        for t in &tpl.evidence {
            if quotes.len() >= MAX_QUOTES / 2 + 2 {
                break;
            }
            if !quotes
                .iter()
                .any(|e| e.text == t.text || t.text.contains(&e.text))
            {
                quotes.push(t.clone());
            }
        }
    }
    prov.push(match (model_quotes, invented) {
        (true, 0) => format!("evidence: {name}+template"),
        (true, n) => format!("evidence: {name}+template ({n} quote(s) not in evidence dropped)"),
        (false, 0) => "evidence: template".into(),
        (false, n) => {
            format!("evidence: template ({n} quote(s) from {name} not in evidence dropped)")
        }
    });
    // prose: the model's when it argued for the category we kept
    let summary = answer
        .get("summary")
        .and_then(|v| clean_text(v, MAX_SUMMARY))
        .filter(|_| agrees);
    let root_cause = answer
        .get("root_cause")
        .and_then(|v| clean_text(v, MAX_ROOT_CAUSE))
        .filter(|_| agrees);
    prov.push(if summary.is_some() {
        format!("summary: {name}")
    } else {
        "summary: template".into()
    });
    prov.push(if root_cause.is_some() {
        format!("root_cause: {name}")
    } else {
        "root_cause: template".into()
    });
    let tpl_recs = if category == tpl.category {
        tpl.recommendations.clone()
    } else {
        template::recommendations(category, "", false, &[])
            .unwrap_or_else(|_| tpl.recommendations.clone())
    };
    let mut recs: Vec<String> = if agrees {
        string_list(answer.get("recommendations").unwrap_or(&Value::Null))
            .iter()
            .filter_map(|r| clean_text(&Value::String(r.clone()), 300))
            .take(4)
            .collect()
    } else {
        Vec::new()
    };
    prov.push(if recs.is_empty() {
        "recommendations: template".into()
    } else {
        format!("recommendations: {name}+template")
    });
    for r in tpl_recs {
        if recs.len() >= MAX_RECOMMENDATIONS {
            break;
        }
        if !recs.contains(&r) {
            recs.push(r);
        }
    }
    let related = string_list(answer.get("related_incidents").unwrap_or(&Value::Null));
    let (summary, root_cause) = if category == tpl.category || summary.is_some() {
        (
            summary.unwrap_or_else(|| tpl.summary.clone()),
            root_cause.unwrap_or_else(|| tpl.root_cause.clone()),
        )
    } else {
        let meaning = format!("{}: {}.", category.as_str(), category.meaning());
        (tpl.summary.clone(), meaning)
    };
    let quotes = if quotes.is_empty() {
        tpl.evidence.clone()
    } else {
        quotes
    };
    (
        Draft {
            category,
            summary,
            root_cause,
            evidence: quotes,
            recommendations: recs,
        },
        prov,
        related,
    )
}
