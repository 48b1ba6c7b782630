//! Secrets in memory: credentials matching a built-in set of patterns,
//! masked unless asked for.

use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};
use serde_json::json;

use super::{hex_addr, Context, Finding, Severity};
use crate::error::Result;
use crate::memory::{Origin, Pattern, ProcessMemory, SearchOptions};
use crate::model::Process;

/// Most matches read from one process (a dump full of one key stops here).
const MAX_HITS: usize = 2000;
/// Most addresses listed for one secret.
const MAX_ADDRESSES: usize = 16;

/// A kind of credential: its name, how much it matters, its pattern (the
/// secret part is the group `s`; what precedes it, a key name, is shown).
struct Kind {
    id: &'static str,
    name: &'static str,
    what: &'static str,
    severity: Severity,
    expr: &'static str,
}

const CREDENTIAL: &str = "secrets.credential";

const KINDS: &[Kind] = &[
    Kind {
        id: "indicators.mining_pool",
        name: "mining_pool_url",
        what: "a cryptocurrency mining pool address (a miner's configuration)",
        severity: Severity::High,
        expr: r#"(?:"url"\s{0,4}:\s{0,4}")?(?P<s>stratum\+(?:tcp|ssl|tls)://[A-Za-z0-9._-]{1,253}:[0-9]{1,5})"#,
    },
    Kind {
        id: CREDENTIAL,
        name: "private_key",
        what: "a private key",
        severity: Severity::High,
        expr: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?P<s>[A-Za-z0-9+/=\r\n\\]{32,3500})",
    },
    Kind {
        id: CREDENTIAL,
        name: "aws_secret_access_key",
        what: "an AWS secret access key",
        severity: Severity::High,
        expr: r#"(?i:aws_?secret_?access_?key)["']?\s{0,4}[:=]\s{0,4}["']?(?P<s>[A-Za-z0-9/+]{40})"#,
    },
    Kind {
        id: CREDENTIAL,
        name: "aws_access_key_id",
        what: "an AWS access key id",
        severity: Severity::Medium,
        expr: r"\b(?P<s>(?:AKIA|ASIA|AROA|AIDA|AGPA)[A-Z2-7]{16})\b",
    },
    Kind {
        id: CREDENTIAL,
        name: "github_token",
        what: "a GitHub token",
        severity: Severity::High,
        expr: r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})",
    },
    Kind {
        id: CREDENTIAL,
        name: "gitlab_token",
        what: "a GitLab token",
        severity: Severity::High,
        expr: r"\b(?P<s>glpat-[A-Za-z0-9_-]{20})",
    },
    Kind {
        id: CREDENTIAL,
        name: "slack_token",
        what: "a Slack token",
        severity: Severity::High,
        expr: r"\b(?P<s>xox[baprs]-[A-Za-z0-9-]{10,72})",
    },
    Kind {
        id: CREDENTIAL,
        name: "stripe_live_key",
        what: "a Stripe live key",
        severity: Severity::High,
        expr: r"\b(?P<s>[sr]k_live_[0-9A-Za-z]{24,99})",
    },
    Kind {
        id: CREDENTIAL,
        name: "google_api_key",
        what: "a Google API key",
        severity: Severity::Medium,
        expr: r"\b(?P<s>AIza[0-9A-Za-z_-]{35})",
    },
    Kind {
        id: CREDENTIAL,
        name: "jwt",
        what: "a JSON web token (bearer credential)",
        severity: Severity::Medium,
        expr: r"\b(?P<s>eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,2000}\.[A-Za-z0-9_-]{16,1000})",
    },
];

struct Compiled {
    any: Pattern,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let build = |e: &str| RegexBuilder::new(e).unicode(false).build();
        // The built-in patterns are constants: a failure here is a bug caught by the unit test.
        let each: Vec<Regex> = KINDS.iter().filter_map(|k| build(k.expr).ok()).collect();
        let all = KINDS.iter().map(|k| format!("(?:{})", k.expr.replace("?P<s>", ""))).collect::<Vec<_>>().join("|");
        let any = Pattern::regex(&all).unwrap_or_else(|_| Pattern::literal(Vec::<u8>::new()));
        Compiled { any, each }
    })
}

/// `value` with its secret part masked: the first 4 characters kept.
fn masked(prefix: &str, secret: &str, show: bool) -> String {
    if show {
        return format!("{prefix}{secret}");
    }
    let keep: String = secret.chars().take(4).collect();
    format!("{prefix}{keep}{} ({} characters)", "*".repeat(secret.chars().count().saturating_sub(4).min(40)), secret.chars().count())
}

pub(super) fn check(cx: &Context<'_>, p: &Process, mem: &ProcessMemory<'_>, out: &mut Vec<Finding>) -> Result<()> {
    let c = compiled();
    if c.each.len() != KINDS.len() {
        return Ok(());
    }
    let options = SearchOptions { max_hits: Some(MAX_HITS), ..SearchOptions::default() };
    let hits = mem.search(&c.any, &options)?;
    // (kind, secret) -> (addresses, shown value)
    let mut found: Vec<(usize, Vec<u8>, Vec<u64>, String)> = Vec::new();
    for hit in &hits {
        // Only what the process holds: not bytes filled in from files.
        if hit.origins.iter().any(|(_, _, o)| !matches!(o, Origin::Dumped | Origin::Zero)) {
            continue;
        }
        let Some((k, caps)) = c.each.iter().enumerate().find_map(|(k, re)| re.captures(&hit.matched).map(|caps| (k, caps))) else {
            continue;
        };
        let (Some(whole), Some(secret)) = (caps.get(0), caps.name("s")) else { continue };
        let address = hit.address + whole.start() as u64;
        let prefix = String::from_utf8_lossy(&hit.matched[whole.start()..secret.start()]).into_owned();
        let secret_text = String::from_utf8_lossy(secret.as_bytes()).into_owned();
        let shown = match KINDS[k].name {
            // An address, not a secret.
            "mining_pool_url" => format!("{prefix}{secret_text}"),
            "private_key" if !cx.show_secrets => format!("{prefix} ({} bytes of key material)", secret.len()),
            _ => masked(&prefix, &secret_text, cx.show_secrets),
        };
        match found.iter_mut().find(|(fk, s, _, _)| *fk == k && s == secret.as_bytes()) {
            Some((_, _, addresses, _)) => addresses.push(address),
            None => found.push((k, secret.as_bytes().to_vec(), vec![address], shown)),
        }
    }
    for (k, secret, mut addresses, shown) in found {
        addresses.sort_unstable();
        let kind = &KINDS[k];
        let first = addresses[0];
        let area = mem.vma_at(first).map(super::vma_json);
        out.push(Finding {
            id: kind.id,
            severity: kind.severity,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) holds {} in memory at {} ({} cop{}): {}",
                p.pid,
                p.comm,
                kind.what,
                hex_addr(first),
                addresses.len(),
                if addresses.len() == 1 { "y" } else { "ies" },
                if kind.id == CREDENTIAL { "a credential an intruder can take" } else { "the container runs a cryptominer" }
            ),
            evidence: json!({
                "kind": kind.name,
                "address": first,
                "address_hex": hex_addr(first),
                "addresses": addresses.iter().take(MAX_ADDRESSES).collect::<Vec<_>>(),
                "copies": addresses.len(),
                "area": area,
                "value": shown,
                "masked": !cx.show_secrets,
                "secret_len": secret.len(),
            }),
        });
    }
    if hits.len() >= MAX_HITS {
        out.push(Finding {
            id: "secrets.credential",
            severity: Severity::Info,
            pid: Some(p.pid),
            summary: format!("{} ({}): secret search stopped after {MAX_HITS} matches; more may exist", p.pid, p.comm),
            evidence: json!({"limit": MAX_HITS}),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile_and_mask() {
        let c = compiled();
        assert_eq!(c.each.len(), KINDS.len());
        assert!(matches!(c.any, Pattern::Regex(_)));
        let text = b"x AWS_SECRET_ACCESS_KEY=abcdEFGHijklMNOPqrstUVWXyz0123456789/+ab\n";
        let caps = c.each[2].captures(text).expect("matches");
        assert_eq!(caps.get(0).map(|m| m.start()), Some(2));
        assert_eq!(masked("K=", "abcdefgh", false), "K=abcd**** (8 characters)");
        assert_eq!(masked("K=", "abcdefgh", true), "K=abcdefgh");
    }
}
