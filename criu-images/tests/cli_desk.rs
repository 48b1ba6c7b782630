//! Small things of the command line from issue #17: `mem strings --max`
//! and `--format json`, case-insensitive search (`-i`), and a summary line
//! that reads as a person would write it.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn pytree() -> PathBuf {
    common::fixtures_dir().join("pytree/checkpoint.tar.gz")
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap()
}

fn stdout_of<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn strings_json_equals_the_text_and_max_stops_with_a_note() {
    let path = pytree();
    let p = path.as_os_str();
    let args = |extra: &[&str]| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> =
            vec!["mem".into(), "strings".into(), p.into(), "--pid".into(), "7".into(), "-n".into(), "12".into()];
        v.extend(extra.iter().map(std::ffi::OsString::from));
        v
    };
    let text = stdout_of(&args(&["--encoding", "all"]));
    let doc: Value = serde_json::from_str(&stdout_of(&args(&["--encoding", "all", "--format", "json"]))).unwrap();
    let rows = doc.as_array().unwrap();
    assert!(rows.len() > 100, "{}", rows.len());
    // The same strings, line for line.
    let from_json: Vec<String> = rows
        .iter()
        .map(|r| {
            let tag = if r["encoding"] == "utf-16le" { " (utf-16le)" } else { "" };
            format!("{} {:#x}{tag} {}", r["pid"], r["address"].as_u64().unwrap(), r["text"].as_str().unwrap())
        })
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), from_json);
    assert!(rows.iter().any(|r| r["text"].as_str().unwrap().starts_with("SUBCHILD_TOKEN=SUB-ENV-TOKEN-")));

    let out = run(&args(&["--encoding", "all", "--max", "5"]));
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().collect::<Vec<_>>(), text.lines().take(5).collect::<Vec<_>>());
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "criu-images: note: stopped after 5 strings (--max)\n");
    let capped: Value = serde_json::from_str(&stdout_of(&args(&["--format", "json", "--max", "3", "--encoding", "all"]))).unwrap();
    assert_eq!(capped.as_array().unwrap()[..], rows[..3]);
    // No note when the limit is not reached.
    let all = run(&args(&["--encoding", "all", "--max", &(rows.len()).to_string()]));
    assert!(all.stderr.is_empty());
}

/// Addresses and matched bytes (hex) of `mem search --format json`.
fn hits(extra: &[&str]) -> Vec<(u64, String)> {
    let path = pytree();
    let mut args: Vec<&std::ffi::OsStr> = vec!["mem".as_ref(), "search".as_ref(), path.as_os_str(), "--format".as_ref(), "json".as_ref()];
    args.extend(extra.iter().map(|e| std::ffi::OsStr::new(*e)));
    let doc: Value = serde_json::from_str(&stdout_of(&args)).unwrap();
    doc.as_array().unwrap().iter().map(|h| (h["address"].as_u64().unwrap(), h["match"].as_str().unwrap().to_string())).collect()
}

#[test]
fn ignore_case_finds_every_spelling() {
    let upper = hits(&["-s", "API_KEY="]);
    let lower = hits(&["-s", "api_key="]);
    let any = hits(&["-i", "-s", "api_key="]);
    assert!(!upper.is_empty());
    // -i finds exactly the union of the spellings present, each match as it is in memory.
    let mut union: Vec<(u64, String)> = upper.iter().chain(&lower).cloned().collect();
    union.sort();
    let mut any_sorted = any.clone();
    any_sorted.sort();
    let spellings: Vec<(u64, String)> =
        any_sorted.iter().filter(|(_, m)| ["4150495f4b45593d", "6170695f6b65793d"].contains(&m.as_str())).cloned().collect();
    assert_eq!(spellings, union);
    assert!(any.len() >= upper.len() + lower.len());
    // The same with a regular expression; the punctuation of a literal stays literal.
    assert_eq!(hits(&["-i", "-r", "api_key=sk-test"]), hits(&["-i", "-s", "API_KEY=SK-TEST"]));
    assert!(hits(&["-i", "-s", "api.key="]).is_empty());
    let path = pytree();
    let out = run(&["mem".as_ref(), "search".as_ref(), path.as_os_str(), "-i".as_ref(), "-x".as_ref(), "41".as_ref()]);
    assert_eq!(out.status.code(), Some(2), "-i has no meaning with hex bytes");
}

#[test]
fn summary_line_counts_processes_in_words() {
    let one = common::fixtures_dir().join("counter/zstd/checkpoint.tar.zst");
    let text = stdout_of(&["inspect".as_ref(), one.as_os_str()]);
    assert!(text.lines().any(|l| l.ends_with("checkpoint.tar.zst (tar.zst, 1 process)")), "{text}");
    let path = pytree();
    let text = stdout_of(&["inspect".as_ref(), path.as_os_str()]);
    assert!(text.lines().any(|l| l.ends_with("checkpoint.tar.gz (tar.gz, 3 processes)")), "{text}");
}
