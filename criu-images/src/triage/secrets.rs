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

/// What triage looks for: every credential of the shared table
/// ([`crate::secrets::KINDS`]) that is one by its shape, and one indicator
/// of its own, a mining pool address.
struct Kind {
    id: &'static str,
    name: &'static str,
    what: &'static str,
    severity: Severity,
    expr: &'static str,
}

const CREDENTIAL: &str = "secrets.credential";
const MINING_POOL: &str = "mining-pool-url";

/// Medium for formats that are identifiers or often short-lived (an access
/// key id is useless without its secret; JWTs expire); high otherwise.
fn credential_severity(name: &str) -> Severity {
    match name {
        "aws-access-key-id" | "google-api-key" | "jwt" => Severity::Medium,
        _ => Severity::High,
    }
}

fn kinds() -> &'static [Kind] {
    static KINDS: OnceLock<Vec<Kind>> = OnceLock::new();
    KINDS.get_or_init(|| {
        let mining = Kind {
            id: "indicators.mining_pool",
            name: MINING_POOL,
            what: "a cryptocurrency mining pool address (a miner's configuration)",
            severity: Severity::High,
            expr: r#"(?:"url"\s{0,4}:\s{0,4}")?(?P<s>stratum\+(?:tcp|ssl|tls)://[A-Za-z0-9._-]{1,253}:[0-9]{1,5})"#,
        };
        let credentials = crate::secrets::KINDS.iter().filter(|k| k.by_shape).map(|k| Kind {
            id: CREDENTIAL,
            name: k.name,
            what: k.what,
            severity: credential_severity(k.name),
            expr: k.expr,
        });
        std::iter::once(mining).chain(credentials).collect()
    })
}

struct Compiled {
    any: Pattern,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let build = |e: &str| RegexBuilder::new(e).unicode(false).build();
        // The built-in patterns are constants: a failure here is a bug caught by the unit test.
        let each: Vec<Regex> = kinds().iter().filter_map(|k| build(k.expr).ok()).collect();
        let all = kinds().iter().map(|k| format!("(?:{})", k.expr.replace("?P<s>", ""))).collect::<Vec<_>>().join("|");
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
    if c.each.len() != kinds().len() {
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
        let shown = match kinds()[k].name {
            // An address, not a secret.
            MINING_POOL => format!("{prefix}{secret_text}"),
            "private-key" if !cx.show_secrets => format!("{prefix} ({} bytes of key material)", secret.len()),
            _ => masked(&prefix, &secret_text, cx.show_secrets),
        };
        match found.iter_mut().find(|(fk, s, _, _)| *fk == k && s == secret.as_bytes()) {
            Some((_, _, addresses, _)) => addresses.push(address),
            None => found.push((k, secret.as_bytes().to_vec(), vec![address], shown)),
        }
    }
    for (k, secret, mut addresses, shown) in found {
        addresses.sort_unstable();
        let kind = &kinds()[k];
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
        assert_eq!(c.each.len(), kinds().len());
        assert!(matches!(c.any, Pattern::Regex(_)));
        let text = b"x AWS_SECRET_ACCESS_KEY=abcdEFGHijklMNOPqrstUVWXyz0123456789/+ab\n";
        let secret_key = kinds().iter().position(|k| k.name == "aws-secret-access-key").expect("in the table");
        let caps = c.each[secret_key].captures(text).expect("matches");
        assert_eq!(caps.get(0).map(|m| m.start()), Some(2));
        assert_eq!(masked("K=", "abcdefgh", false), "K=abcd**** (8 characters)");
        assert_eq!(masked("K=", "abcdefgh", true), "K=abcdefgh");
    }
}
