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
        rule(r"\bAIza[0-9A-Za-z_\-]{35}", 0),
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
    // (`%` and `<` only lead a placeholder: `%s`, `<token>`; inside a value they are a password's)
    if v.contains(['(', '[', '{', '$'])
        || v.starts_with(['%', '<'])
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

/// A URL as it may be shown and stored: its user info masked whole (a token is often the user
/// name), and in its query and fragment the value of every parameter whose name sounds secret,
/// or whose value has a secret's shape. What is not a URL comes back through [`redact`].
pub fn redact_url(url: &str) -> String {
    let (head, fragment) = match url.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (url, None),
    };
    let (base, query) = match head.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (head, None),
    };
    let Some(scheme_end) = base.find("://") else {
        return redact(url);
    };
    let rest = &base[scheme_end + 3..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let mut out = match rest[..auth_end].rfind('@') {
        Some(at) => format!("{}://{MASK}@{}", &base[..scheme_end], &rest[at + 1..]),
        None => base.to_string(),
    };
    for (sep, part) in [('?', query), ('#', fragment)] {
        if let Some(part) = part {
            out.push(sep);
            out.push_str(&redact_params(part));
        }
    }
    out
}

/// `a=1&token=x`: values of secret-sounding names masked, the others redacted by shape.
fn redact_params(params: &str) -> String {
    params
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if secret_name(k) && !v.is_empty() => format!("{k}={MASK}"),
            Some((k, v)) => format!("{k}={}", redact(v)),
            None => redact(kv),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A parameter name that labels a credential.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "pass",
        "pwd",
        "auth",
        "sig",
        "credential",
        "session",
        "jwt",
        "bearer",
        "access",
        "code",
        "otp",
        "cookie",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// [`redact`] in place; the string is rewritten only when it held a secret.
pub fn redact_in_place(text: &mut String) {
    let r = redact(text);
    if r != *text {
        *text = r;
    }
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
    fn a_url_loses_its_user_info_and_query_secrets_but_keeps_the_rest() {
        assert_eq!(
            redact_url("https://admin:hunter2@api.example.com:8443/health?token=abc&verbose=1#access_token=xyz"),
            "https://[REDACTED]@api.example.com:8443/health?token=[REDACTED]&verbose=1#access_token=[REDACTED]"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/healthz"),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(
            redact_url("https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/x"),
            "https://[REDACTED]@github.com/x"
        );
        assert_eq!(
            redact_url("http://h/p?q=AKIAIOSFODNN7EXAMPLE"),
            "http://h/p?q=[REDACTED]"
        );
        assert_eq!(
            redact_url("not a url password=hunter22"),
            "not a url password=[REDACTED]"
        );
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

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Secrets of common shapes, and the part of each that must not survive.
        fn secret() -> impl Strategy<Value = (String, String)> {
            let whole = |re: &'static str| re.prop_map(|s: String| (s.clone(), s));
            prop_oneof![
                whole("ghp_[A-Za-z0-9]{36}"),
                whole("github_pat_[A-Za-z0-9_]{40}"),
                whole("AKIA[A-Z0-9]{16}"),
                whole("sk-[A-Za-z0-9]{40}"),
                whole("sk-ant-api03-[A-Za-z0-9_-]{40}"),
                whole("sk_live_[A-Za-z0-9]{24}"),
                whole("xoxb-[0-9]{11}-[A-Za-z0-9]{24}"),
                whole("glpat-[A-Za-z0-9_-]{20}"),
                whole("AIza[0-9A-Za-z_-]{35}"),
                whole("npm_[A-Za-z0-9]{36}"),
                whole("hf_[A-Za-z0-9]{34}"),
                whole("eyJ[A-Za-z0-9_-]{10,30}[.][A-Za-z0-9_-]{10,40}[.][A-Za-z0-9_-]{10,40}"),
                "[a-z][A-Za-z0-9]{7,20}".prop_map(|p| (format!("postgres://app:{p}@db:5432/x"), p)),
                "[a-z][A-Za-z0-9!#%^*]{7,20}".prop_map(|p| (format!("password={p}"), p)),
                "[a-z][A-Za-z0-9]{15,30}".prop_map(|t| (format!("Authorization: Bearer {t}"), t)),
                "[a-z0-9]{20,40}".prop_map(|t| (format!("https://h/cb?access_token={t}"), t)),
                "[A-Za-z0-9+/]{40}".prop_map(|k| (
                    format!("-----BEGIN PRIVATE KEY-----\n{k}\n-----END PRIVATE KEY-----"),
                    k
                )),
            ]
        }

        proptest! {
            #[test]
            fn a_planted_secret_never_survives(
                (planted, secret) in secret(),
                before in "[ -~]{0,30}[ \n:(]",
                after in "[ \n,;][ -~]{0,30}",
            ) {
                let line = format!("{before}{planted}{after}");
                let out = redact(&line);
                prop_assert!(!out.contains(&secret), "{line:?} -> {out:?}");
            }

            #[test]
            fn any_text_is_redacted_without_panic(s in any::<String>()) {
                let out = redact(&s);
                prop_assert_eq!(redact(&out), out.clone(), "redaction is stable");
                let _ = redact_url(&s);
            }

            #[test]
            fn a_url_keeps_no_user_info_or_query_secret(
                user in "[a-z]{1,8}", pass in "[A-Za-z0-9]{6,20}",
                host in "[a-z]{1,10}", token in "[A-Za-z0-9]{6,30}",
            ) {
                let url = format!("https://{user}:{pass}@{host}.example/health?token={token}&v=1");
                let out = redact_url(&url);
                prop_assert!(!out.contains(&format!(":{pass}@")), "{out}");
                prop_assert!(!out.contains(&format!("token={token}")), "{out}");
                prop_assert!(out.contains(&host), "{out}");
            }
        }
    }
}
