//! Built-in patterns for secrets, to find and mask them in any checkpoint
//! without knowing their names: cloud keys, tokens, private keys, and
//! `NAME=value` assignments whose name says secret. One table, used by
//! `criu-images report` (masking environments) and by Python's
//! `criu_images.secrets` (searching memory).

use std::sync::OnceLock;

use regex::bytes::Regex;

/// One kind of secret: its name (in reports, Python's
/// `criu_images.secrets.PATTERNS`, triage evidence), what it is in words,
/// and its regular expression over bytes, in which the group `s` is the
/// secret itself (what precedes it, e.g. a key name, may be shown).
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    /// Stable name, e.g. `aws-access-key-id`.
    pub name: &'static str,
    /// What it is, for a sentence: "an AWS access key id".
    pub what: &'static str,
    /// The pattern; `(?i)` marks ASCII case-insensitive parts.
    pub expr: &'static str,
    /// A credential format that is one by its shape (a key prefix, a PEM
    /// header), as opposed to a `NAME=value` whose name says secret: only
    /// these are searched for in raw memory by triage (the assignments are
    /// in every environment block).
    pub by_shape: bool,
}

const fn kind(name: &'static str, what: &'static str, expr: &'static str, by_shape: bool) -> Kind {
    Kind { name, what, expr, by_shape }
}

/// The one table of built-in secret patterns (report masking, Python's
/// `criu_images.secrets`, triage's secrets in memory).
pub const KINDS: &[Kind] = &[
    kind(
        "private-key",
        "a private key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?P<s>[A-Za-z0-9+/=\r\n\\]{32,3500})",
        true,
    ),
    kind(
        "aws-secret-access-key",
        "an AWS secret access key",
        r#"(?i:aws_?secret_?access_?key)["']?\s{0,4}[:=]\s{0,4}["']?(?P<s>[A-Za-z0-9/+]{40})"#,
        true,
    ),
    kind("aws-access-key-id", "an AWS access key id", r"\b(?P<s>(?:AKIA|ASIA|AROA|AIDA|AGPA)[A-Z2-7]{16})\b", true),
    kind("github-token", "a GitHub token", r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})", true),
    kind("gitlab-token", "a GitLab token", r"\b(?P<s>glpat-[A-Za-z0-9_-]{20})", true),
    kind("slack-token", "a Slack token", r"\b(?P<s>xox[baprs]-[A-Za-z0-9-]{10,72})", true),
    kind("stripe-live-key", "a Stripe live key", r"\b(?P<s>[sr]k_live_[0-9A-Za-z]{24,99})", true),
    kind("google-api-key", "a Google API key", r"\b(?P<s>AIza[0-9A-Za-z_-]{35})", true),
    kind(
        "jwt",
        "a JSON web token (bearer credential)",
        r"\b(?P<s>eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,2000}\.[A-Za-z0-9_-]{8,1000})",
        true,
    ),
    kind(
        "secret-assignment",
        "a NAME=value whose name says secret",
        r#"(?i)\b[A-Za-z0-9_]*(?:SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)[A-Za-z0-9_]*=(?P<s>[^\s\x00'"]{6,})"#,
        false,
    ),
];

/// `(name, regular expression)` of every kind, for Python.
pub fn patterns() -> Vec<(&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.name, k.expr)).collect()
}

fn compiled() -> &'static [(&'static str, Regex)] {
    static COMPILED: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        KINDS.iter().filter_map(|k| regex::bytes::RegexBuilder::new(k.expr).unicode(false).build().ok().map(|r| (k.name, r))).collect()
    })
}

/// The name of the first pattern that matches `text`, if any.
pub fn matching_pattern(text: &[u8]) -> Option<&'static str> {
    compiled().iter().find(|(_, re)| re.is_match(text)).map(|(name, _)| *name)
}

/// `NAME=abcd…(24 chars)`: the name (if any) and the first four characters
/// of the value.
pub fn mask(text: &str) -> String {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (format!("{name}="), value),
        None => (String::new(), text),
    };
    let count = value.chars().count();
    let shown: String = value.chars().take(4).collect();
    let ellipsis = if count > 4 { "…" } else { "" };
    format!("{name}{shown}{ellipsis}({count} chars)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_masks_keep_the_name() {
        assert_eq!(compiled().len(), KINDS.len());
        assert!(KINDS.iter().all(|k| k.expr.contains("(?P<s>")), "every pattern names its secret part");
        assert_eq!(matching_pattern(b"COUNTER_SECRET=5a8b0ebd5989efbd06f3faa2"), Some("secret-assignment"));
        assert_eq!(matching_pattern(b"db_password=hunter22"), Some("secret-assignment"));
        assert_eq!(matching_pattern(b"key AKIAVEDLTBB25HHTUDXS"), Some("aws-access-key-id"));
        assert_eq!(matching_pattern(b"PATH=/usr/bin:/bin"), None);
        assert_eq!(mask("COUNTER_SECRET=5a8b0ebd5989efbd06f3faa2"), "COUNTER_SECRET=5a8b…(24 chars)");
        assert_eq!(mask("abc"), "abc(3 chars)");
    }
}
