//! Built-in patterns for secrets, to find and mask them in any checkpoint
//! without knowing their names: cloud keys, tokens, private keys, and
//! `NAME=value` assignments whose name says secret. One table, used by
//! `criu-images report` (masking environments) and by Python's
//! `criu_images.secrets` (searching memory).

use std::sync::OnceLock;

use regex::bytes::Regex;

/// `(name, regular expression over bytes)`; `(?i)` marks ASCII case-insensitive parts.
pub const PATTERNS: &[(&str, &str)] = &[
    ("aws-access-key-id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ("github-token", r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    ("slack-token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    (
        "secret-assignment",
        r#"(?i)\b[A-Za-z0-9_]*(?:SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)[A-Za-z0-9_]*=[^\s\x00'"]{6,}"#,
    ),
];

fn compiled() -> &'static [(&'static str, Regex)] {
    static COMPILED: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PATTERNS
            .iter()
            .filter_map(|(name, expr)| regex::bytes::RegexBuilder::new(expr).unicode(false).build().ok().map(|r| (*name, r)))
            .collect()
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
        assert_eq!(compiled().len(), PATTERNS.len());
        assert_eq!(matching_pattern(b"COUNTER_SECRET=5a8b0ebd5989efbd06f3faa2"), Some("secret-assignment"));
        assert_eq!(matching_pattern(b"db_password=hunter22"), Some("secret-assignment"));
        assert_eq!(matching_pattern(b"key AKIAVEDLTBB25HHTUDXS"), Some("aws-access-key-id"));
        assert_eq!(matching_pattern(b"PATH=/usr/bin:/bin"), None);
        assert_eq!(mask("COUNTER_SECRET=5a8b0ebd5989efbd06f3faa2"), "COUNTER_SECRET=5a8b…(24 chars)");
        assert_eq!(mask("abc"), "abc(3 chars)");
    }
}
