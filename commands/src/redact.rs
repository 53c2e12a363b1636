//! Redacting secret-shaped text: bearer tokens and `Authorization:` headers, OpenAI-style
//! `sk-…` keys, `password=` / `token=` / `api_key=` style pairs, AWS access key ids,
//! credentials in URLs, JWTs, GitHub and Slack tokens. The one redactor of opsbot: `logs`
//! runs it over log lines before they reach a chat channel (and greps the result), the
//! audit log over what it records. The patterns are compiled once, and one pass of a
//! [`RegexSet`] tells which (usually none) apply.

use std::{borrow::Cow, sync::LazyLock};

use regex::{Captures, Regex, RegexSet};

/// A pattern and what replaces a match (`$1` keeps the key, drops the value).
struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, replacement| Rule {
        pattern: Regex::new(pattern).expect("redaction patterns are valid"),
        replacement,
    };
    vec![
        // `Authorization: Bearer x`, `"authorization":"Basic x"`, `Proxy-Authorization=x`.
        rule(
            r#"(?i)(?-u:\b)((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token|digest|negotiate)\s+)?[^\s"',;]+"#,
            "${1}[redacted]",
        ),
        // A bearer token anywhere else (`curl -H "...Bearer x"` was caught above).
        rule(
            r"(?i)(?-u:\b)(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*",
            "${1}[redacted]",
        ),
        // `password=x`, `db_password: x`, `"api_key": "x"`, `aws_secret_access_key=x`.
        rule(
            r#"(?i)(?-u:\b)([A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key)["']?\s*[:=]\s*["']?)[^\s"',;&]+"#,
            "${1}[redacted]",
        ),
        // Credentials in a URL: `postgres://user:pass@host`.
        rule(
            r"(?i)(?-u:\b)([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+@",
            "${1}[redacted]@",
        ),
        // OpenAI / Anthropic style keys.
        rule(r"(?-u:\b)sk-[A-Za-z0-9_\-]{16,}", "sk-[redacted]"),
        // AWS access key ids.
        rule(
            r"(?-u:\b)(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}(?-u:\b)",
            "[redacted-aws-key]",
        ),
        // JSON Web Tokens.
        rule(
            r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
            "[redacted-jwt]",
        ),
        // GitHub and Slack tokens.
        rule(
            r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abposr]-[A-Za-z0-9\-]{10,})",
            "[redacted-token]",
        ),
    ]
});

/// Word boundaries are ASCII (`(?-u:\b)`): a Unicode `\b` makes regex's lazy DFA give up
/// on non-ASCII text (replies carry emoji), and every audit record passes through here.
///
/// All the patterns at once: one scan finds the rules that match (text without secrets,
/// the common case, is scanned once instead of once per rule).
static ANY: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(RULES.iter().map(|rule| rule.pattern.as_str()))
        .expect("redaction patterns are valid")
});

/// Builds the patterns now (a few milliseconds of regex compilation) instead of in the
/// first [`redact`], which is on the first command's path. A server calls it on a thread
/// of its own as it starts.
pub fn prepare() {
    LazyLock::force(&ANY);
}

/// The text with every secret replaced, and how many were. Borrowed when nothing was.
pub fn redact(line: &str) -> (Cow<'_, str>, usize) {
    let mut text = Cow::Borrowed(line);
    let mut count = 0;
    if !ANY.is_match(line) {
        return (text, count);
    }
    for index in ANY.matches(line).iter() {
        let rule = &RULES[index];
        let replaced = rule
            .pattern
            .replace_all(&text, |caps: &Captures<'_>| {
                count += 1;
                let mut out = String::new();
                caps.expand(rule.replacement, &mut out);
                out
            })
            .into_owned();
        text = Cow::Owned(replaced);
    }
    (text, count)
}

#[cfg(test)]
mod tests {
    use super::redact;

    fn clean(line: &str) -> String {
        redact(line).0.into_owned()
    }

    #[test]
    fn authorization_headers_and_bearer_tokens() {
        assert_eq!(
            clean("GET /v1 Authorization: Bearer abc.def-123456789"),
            "GET /v1 Authorization: [redacted]"
        );
        assert_eq!(
            clean(r#"{"authorization":"Basic dXNlcjpwYXNz"}"#),
            r#"{"authorization":"[redacted]"}"#
        );
        assert_eq!(
            clean("retrying with bearer eyJhbGciOi1234567890 now"),
            "retrying with bearer [redacted] now"
        );
    }

    #[test]
    fn api_keys() {
        assert_eq!(
            clean("using key sk-proj-AbCdEf1234567890XyZ for openai"),
            "using key sk-[redacted] for openai"
        );
        assert_eq!(
            clean("aws key AKIAIOSFODNN7EXAMPLE loaded"),
            "aws key [redacted-aws-key] loaded"
        );
        assert_eq!(
            clean("token ghp_0123456789abcdefghij0123456789abcdef ok"),
            "token [redacted-token] ok"
        );
        assert_eq!(
            clean("slack xoxb-1234567890-abcdefghij"),
            "slack [redacted-token]"
        );
    }

    #[test]
    fn key_value_pairs() {
        assert_eq!(
            clean("connect password=hunter2 user=bob"),
            "connect password=[redacted] user=bob"
        );
        assert_eq!(
            clean(r#"{"api_key": "abc123", "model": "gpt"}"#),
            r#"{"api_key": "[redacted]", "model": "gpt"}"#
        );
        assert_eq!(
            clean("GET /cb?access_token=xyz&state=1"),
            "GET /cb?access_token=[redacted]&state=1"
        );
        assert_eq!(
            clean("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG"),
            "aws_secret_access_key=[redacted]"
        );
        assert_eq!(clean("DB_PASSWORD: s3cret"), "DB_PASSWORD: [redacted]");
    }

    #[test]
    fn url_credentials_and_jwts() {
        assert_eq!(
            clean("db at postgres://app:s3cret@db:5432/prod"),
            "db at postgres://app:[redacted]@db:5432/prod"
        );
        assert_eq!(
            clean(
                "session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM end"
            ),
            "session [redacted-jwt] end"
        );
    }

    #[test]
    fn ordinary_lines_are_untouched_and_counted() {
        let line = "INFO served 200 in 12 ms, max_tokens=512, tokens: 300";
        let (text, count) = redact(line);
        assert_eq!(text, line);
        assert_eq!(count, 0);
        let (_, count) = redact("password=a token=b");
        assert_eq!(count, 2);
    }
}
