//! Redaction of secrets (tokens, keys, passwords, private keys) before text reaches a model or memory.

use regex::{Captures, Regex};
use std::sync::LazyLock;

/// What a removed secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// A secret shape: a pattern and how to rewrite a match.
struct Rule {
    re: Regex,
    /// Capture group holding the secret; the rest of the match is kept. `0` = the whole match.
    group: usize,
}

fn rule(pattern: &str, group: usize) -> Rule {
    Rule {
        re: Regex::new(pattern).expect("redaction pattern compiles"),
        group,
    }
}

static PEM: LazyLock<Regex> = LazyLock::new(|| {
    // A whole block, or a block cut off by the end of the text (a truncated log tail).
    Regex::new(
        r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
    )
    .expect("pem pattern compiles")
});

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // Passwords in URLs: scheme://user:password@host
        rule(r"(?i)\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:([^@\s/]+)@", 1),
        // Authorization headers: Basic/Bearer/Token/anything after the colon.
        rule(
            r"(?i)\b(?:proxy-)?authorization\s*[:=]\s*(?:(?:basic|bearer|token|digest|apikey)\s+)?([^\s,;]+)",
            1,
        ),
        // Bearer tokens anywhere.
        rule(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=\-]{8,})", 1),
        // JWTs (header.payload.signature, base64url).
        rule(
            r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
            0,
        ),
        // AWS access key ids.
        rule(
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b",
            0,
        ),
        // GitHub tokens.
        rule(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", 0),
        rule(r"\bgithub_pat_[A-Za-z0-9_]{30,}\b", 0),
        // GitLab, npm, Hugging Face, PyPI-style, Doppler, Shopify tokens.
        rule(r"\bglpat-[A-Za-z0-9_\-]{20,}", 0),
        rule(r"\bnpm_[A-Za-z0-9]{30,}\b", 0),
        rule(r"\bhf_[A-Za-z0-9]{30,}\b", 0),
        rule(r"\bpypi-[A-Za-z0-9_\-]{40,}", 0),
        rule(r"\bdp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{30,}\b", 0),
        rule(r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b", 0),
        // OpenAI / Anthropic style keys.
        rule(r"\bsk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_\-]{20,}", 0),
        // Stripe keys.
        rule(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b", 0),
        rule(r"\bwhsec_[A-Za-z0-9]{20,}\b", 0),
        // Slack tokens and webhooks.
        rule(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", 0),
        rule(r"(?i)hooks\.slack\.com/services/([A-Za-z0-9/]+)", 1),
        // Discord webhooks and bot tokens.
        rule(
            r"(?i)discord(?:app)?\.com/api/webhooks/\d+/([A-Za-z0-9_\-]+)",
            1,
        ),
        rule(
            r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}\b",
            0,
        ),
        // Google API keys and OAuth tokens.
        rule(r"\bAIza[0-9A-Za-z_\-]{35}\b", 0),
        rule(r"\bya29\.[0-9A-Za-z_\-]{20,}", 0),
        // Telegram bot tokens (also inside /bot<token>/ URLs).
        rule(r"\d{6,12}:[A-Za-z0-9_\-]{33,}", 0),
        // Passwords on command lines.
        rule(r#"\bsshpass\s+-p\s*['"]?([^\s'"]+)"#, 1),
        rule(r#"(?:\s|^)(?:-u|--user)\s+['"]?[^:\s'"]+:([^\s'"@]+)"#, 1),
        rule(r#"\bredis-cli\b[^\n]*?\s-a\s+['"]?([^\s'"]+)"#, 1),
        rule(r#"\bmysql(?:dump)?\b[^\n]*?\s-p([^\s'"]+)"#, 1),
        rule(r#"--pass(?:word)?[= ]['"]?([^\s'"]+)"#, 1),
        // SendGrid, Twilio, Mailgun.
        rule(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}", 0),
        rule(r"\b(?:SK|AC)[0-9a-f]{32}\b", 0),
        rule(r"\bkey-[0-9a-f]{32}\b", 0),
        // Azure / generic connection strings.
        rule(
            r"(?i)\b(?:AccountKey|SharedAccessKey|sig)=([A-Za-z0-9+/=%]{16,})",
            1,
        ),
        // key = value where the key names a secret (env files, query strings, JSON, YAML).
        rule(
            r#"(?i)["']?\b[a-z0-9_.\-]*(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|client[_\-]?secret|credentials?|auth[_\-]?key|session[_\-]?id|cookie)[a-z0-9_.\-]*["']?\s*(?:=|:)\s*["']?([^\s"',;&}\]]+)"#,
            1,
        ),
    ]
});

/// True when a captured value of a `key = value` pair is plausibly a secret, not a setting.
fn secret_value(key_and_value: &str, value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() || v == MASK || v.starts_with("[REDACTED") {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null"
            | "none"
            | "nil"
            | "true"
            | "false"
            | "undefined"
            | "empty"
            | "missing"
            | "unset"
            | "required"
            | "***"
            | "<redacted>"
            | "redacted"
    ) {
        return false;
    }
    // code and references, not values: `os.environ[`, `${API_KEY}`, `getenv(`, `OPENAI_API_KEY`
    if v.contains(['(', '[', '{', '$', '%', '<'])
        || v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let key = key_and_value.to_ascii_lowercase();
    let strong = ["passw", "passphrase", "pwd", "secret", "private"]
        .iter()
        .any(|k| key.contains(k));
    if strong {
        return v.len() >= 3;
    }
    // token/key names also label counts, settings and dates (`max_tokens=700`, `token-expiration=2026-11-05`).
    if v.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | ':' | '+' | '/' | 'T' | 'Z'))
    {
        return false;
    }
    v.len() >= 8
}

/// Replaces every secret of a known shape in `text` with `[REDACTED]`; everything else is kept as is.
pub fn redact(text: &str) -> String {
    let mut out = PEM
        .replace_all(text, |c: &Captures| format!("[REDACTED {}]", &c[1]))
        .into_owned();
    for (i, r) in RULES.iter().enumerate() {
        let keyed = i == RULES.len() - 1;
        if !r.re.is_match(&out) {
            continue;
        }
        out =
            r.re.replace_all(&out, |c: &Captures| {
                let whole = c.get(0).map_or("", |m| m.as_str());
                let Some(m) = c.get(r.group) else {
                    return whole.to_string();
                };
                if keyed && !secret_value(whole, m.as_str()) {
                    return whole.to_string();
                }
                if r.group == 0 {
                    return MASK.to_string();
                }
                let start = m.start() - c.get(0).map_or(0, |w| w.start());
                let end = start + m.len();
                format!("{}{}{}", &whole[..start], MASK, &whole[end..])
            })
            .into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_masked() {
        let r = redact("GET /v1 Authorization: Bearer abcdEFGH1234ijklMNOP5678");
        assert!(!r.contains("abcdEFGH1234"), "{r}");
        assert!(r.contains("Authorization"));
    }

    #[test]
    fn url_password_is_masked_but_user_and_host_stay() {
        let r = redact("connecting to postgres://app:s3cr3t-pw@db.internal:5432/app");
        assert_eq!(
            r,
            "connecting to postgres://app:[REDACTED]@db.internal:5432/app"
        );
    }

    #[test]
    fn private_key_block_is_removed_even_when_truncated() {
        let r = redact(
            "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----\ny",
        );
        assert_eq!(r, "x\n[REDACTED RSA PRIVATE KEY]\ny");
        let r = redact("x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n");
        assert!(!r.contains("b3BlbnNzaC1rZXk"));
    }

    #[test]
    fn keyed_values_are_masked_but_counts_are_not() {
        let r = redact("OPENAI_API_KEY=abc123def456ghi max_tokens=700 password: hunter2");
        assert!(!r.contains("abc123def456ghi"), "{r}");
        assert!(r.contains("max_tokens=700"), "{r}");
        assert!(!r.contains("hunter2"), "{r}");
    }

    #[test]
    fn lookalikes_survive() {
        for s in [
            "commit 3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
            "request 550e8400-e29b-41d4-a716-446655440000 done",
            "image sha256:9b2f0c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
            "KeyError: 'OPENAI_API_KEY'",
            "    API_KEY = os.environ[\"POLYMARKET_KEY\"]",
            "api_key = os.getenv(\"OPENAI_KEY\")",
            "token=${GITHUB_TOKEN}",
            "POST /order -> 403 Forbidden: {\"error\":\"Unauthorized/Invalid api key\"}",
        ] {
            assert_eq!(redact(s), s);
        }
    }
}
