//! `criu-images report CHECKPOINT -o report.html [--format html|json]`: one
//! self-contained page (inline CSS and SVG, no script, nothing fetched) with
//! the summary, hashes, process tree, command lines and environments
//! (secrets masked), the network table, root filesystem changes, the memory
//! map of each process and, when given, findings. The JSON is the same
//! document the page is rendered from (schema: docs/report.md).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::io::write_output;
use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::evidence::{archive_digests, utc_now, Provenance};
use crate::secrets;
use crate::triage::Finding;

/// Version of the report's JSON (docs/report.md).
pub const REPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ReportFormat {
    Html,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// The file to write (standard output without it); gets a provenance sidecar FILE.json.
    #[arg(short = 'o', long = "out")]
    output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "html")]
    format: ReportFormat,
    /// Leave out the triage findings (docs/triage.md), which are in by default.
    #[arg(long)]
    no_triage: bool,
    /// YARA rules whose hits join the findings (repeatable; as `triage -r`).
    #[cfg(feature = "yara")]
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    rules: Vec<PathBuf>,
}

/// A triage finding (or a YARA hit, `-r`) as the report's Findings section
/// holds it: `severity`, `pid`, `title` (`id: summary`) and `detail` (the
/// evidence lines, secrets masked as triage masks them).
fn finding_json(f: &Finding) -> Value {
    json!({
        "severity": f.severity.name(),
        "pid": f.pid,
        "title": format!("{}: {}", f.id, f.summary),
        "detail": super::triage::evidence_lines(&f.evidence).join("\n"),
    })
}

pub(crate) fn run(args: ReportArgs) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    let findings = match args.no_triage {
        true => Vec::new(),
        false => {
            // `mut` for the YARA findings, when the feature is built.
            #[cfg_attr(not(feature = "yara"), allow(unused_mut))]
            let mut report = crate::triage::triage(&checkpoint, &crate::triage::TriageOptions::default())?;
            #[cfg(feature = "yara")]
            if !args.rules.is_empty() {
                super::triage::add_yara_findings(&checkpoint, &args.rules, &mut report)?;
            }
            report.findings
        }
    };
    let doc = report_json(&checkpoint, &findings)?;
    let bytes = match args.format {
        ReportFormat::Json => format!("{doc:#}\n").into_bytes(),
        ReportFormat::Html => render_html(&doc).into_bytes(),
    };
    write_output(args.output.as_ref(), &bytes)?;
    if let Some(output) = &args.output {
        super::io::write_provenance(output, Provenance { source: args.path.clone(), ..Provenance::default() })?;
    }
    Ok(())
}

/// The report as data: what the page shows, section by section.
pub(crate) fn report_json(checkpoint: &Checkpoint, findings: &[Finding]) -> Result<Value> {
    let digests = archive_digests(checkpoint.archive(), None)?;
    let processes = checkpoint.processes()?;
    let connections = crate::model::connections(&checkpoint.chain(), &processes)?;
    let container = checkpoint.container()?.map(|c| masked(c.to_json()));
    let tree = crate::model::process_tree(checkpoint.images())?;
    let tree: Vec<Value> = tree.nodes.iter().map(|n| json!({"index": n.index, "pid": n.pid, "depth": n.depth, "last": n.last})).collect();
    let mut procs = Vec::new();
    for p in &processes {
        let environ: Vec<Value> = p
            .environ_raw
            .iter()
            .map(|entry| match secrets::matching_pattern(entry.as_bytes()) {
                Some(pattern) => json!({"entry": secrets::mask(entry), "masked": true, "pattern": pattern}),
                None => json!({"entry": entry, "masked": false, "pattern": null}),
            })
            .collect();
        let memory = checkpoint.memory(p.pid).ok();
        let areas: Vec<Value> = match &memory {
            Some(m) => m
                .vmas()
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let counts = m.page_counts(i);
                    json!({"start": v.start, "end": v.end, "perms": v.perms(), "kind": v.kind().name(), "path": v.path,
                           "pages_dumped": counts.dumped, "pages_zero": counts.zero, "pages_missing": counts.missing})
                })
                .collect(),
            None => Vec::new(),
        };
        procs.push(json!({
            "pid": p.pid, "ppid": p.ppid, "comm": p.comm, "state": p.state.name(), "threads": p.threads.len(),
            "uid": p.creds.as_ref().map(|c| c.uid), "exe": p.exe, "cmdline": masked(json!(p.cmdline)), "environ": environ, "memory": areas,
        }));
    }
    let rootfs: Vec<Value> = match checkpoint.rootfs_diff()? {
        Some(view) => view
            .members()
            .map(|(name, size, kind)| {
                let stat = view.stat(name);
                json!({"name": name, "kind": kind.name(), "size": size, "mode": stat.map(|s| s.mode),
                       "uid": stat.map(|s| s.uid), "gid": stat.map(|s| s.gid), "mtime": stat.map(|s| s.mtime), "target": kind.target()})
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_utc": utc_now(),
        "tool": {"name": "criu-images", "version": env!("CARGO_PKG_VERSION")},
        "checkpoint": {"path": checkpoint.path().display().to_string(), "format": checkpoint.archive().format().name()},
        "container": container,
        "hashes": digests.to_json(),
        "processes": procs,
        "tree": tree,
        "connections": connections.iter().map(crate::model::Connection::to_json).collect::<Vec<_>>(),
        "rootfs_changes": rootfs,
        "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
    }))
}

/// `value` with every string a built-in secret pattern matches masked
/// (the container's create command, labels, command lines).
fn masked(value: Value) -> Value {
    match value {
        Value::String(s) if secrets::matching_pattern(s.as_bytes()).is_some() => Value::String(secrets::mask(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(masked).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, masked(v))).collect()),
        other => other,
    }
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as table text: strings as they are, null as empty.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

fn table(out: &mut String, headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    let mut any = false;
    for row in rows {
        any = true;
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    if !any {
        let _ = write!(out, "<tr><td colspan='{}' class='none'>none</td></tr>", headers.len());
    }
    out.push_str("</tbody></table>");
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}\
table{border-collapse:collapse;font-size:0.85em;margin:0.4em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}code,.mono{font-family:monospace}.masked{color:#a00}.none{color:#888}.tree{font-family:monospace;white-space:pre}\
.sev-high{color:#b00;font-weight:bold}.sev-medium{color:#c60}svg text{font-family:monospace;font-size:10px}";

/// The page: every section from `doc` (as [`report_json`] makes it).
pub(crate) fn render_html(doc: &Value) -> String {
    let mut out = String::new();
    let path = doc["checkpoint"]["path"].as_str().unwrap_or_default();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>criu-images report: {}</title><style>{STYLE}</style></head><body>",
        esc(path)
    );
    let _ = write!(out, "<h1>Checkpoint report: <code>{}</code></h1>", esc(path));
    let _ = write!(
        out,
        "<p>{} · generated {} by criu-images {} · {} processes · {} sockets · {} root filesystem changes</p>",
        cell(&doc["checkpoint"]["format"]),
        cell(&doc["generated_utc"]),
        cell(&doc["tool"]["version"]),
        doc["processes"].as_array().map_or(0, Vec::len),
        doc["connections"].as_array().map_or(0, Vec::len),
        doc["rootfs_changes"].as_array().map_or(0, Vec::len),
    );

    out.push_str("<h2 id='summary'>Summary</h2>");
    match doc["container"].as_object() {
        Some(container) => table(
            &mut out,
            &["field", "value"],
            container.iter().filter(|(_, v)| !v.is_null() && !v.is_object() && !v.is_array()).map(|(k, v)| vec![esc(k), cell(v)]),
        ),
        None => out.push_str("<p class='none'>No container metadata: a plain CRIU images directory.</p>"),
    }

    out.push_str("<h2 id='findings'>Findings</h2>");
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    if findings.is_empty() {
        out.push_str("<p class='none'>No findings: triage found nothing (or was left out with --no-triage).</p>");
    } else {
        table(
            &mut out,
            &["severity", "pid", "finding", "detail"],
            findings.iter().map(|f| {
                let severity = f["severity"].as_str().unwrap_or("info");
                vec![
                    format!("<span class='sev-{}'>{}</span>", esc(severity), esc(severity)),
                    cell(&f["pid"]),
                    cell(&f["title"]),
                    format!("<span class='mono'>{}</span>", cell(&f["detail"])),
                ]
            }),
        );
    }

    out.push_str("<h2 id='hashes'>Hashes (SHA-256)</h2>");
    let hashes = &doc["hashes"];
    if !hashes["sha256"].is_null() {
        let _ = write!(
            out,
            "<p>archive <code>{}</code>: <code>{}</code> ({} bytes)</p>",
            cell(&hashes["path"]),
            cell(&hashes["sha256"]),
            cell(&hashes["size"])
        );
    }
    let members = hashes["members"].as_array().map_or(0, |m| m.iter().filter(|m| !m["sha256"].is_null()).count());
    let _ = write!(out, "<details><summary>{members} members</summary>");
    table(
        &mut out,
        &["member", "size", "sha256"],
        hashes["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| !m["sha256"].is_null())
            .map(|m| vec![format!("<code>{}</code>", cell(&m["name"])), cell(&m["size"]), format!("<code>{}</code>", cell(&m["sha256"]))]),
    );
    out.push_str("</details>");

    let processes = doc["processes"].as_array().cloned().unwrap_or_default();
    out.push_str("<h2 id='tree'>Process tree</h2><div class='tree'>");
    tree_text(&mut out, &processes, doc["tree"].as_array().map(Vec::as_slice).unwrap_or_default());
    out.push_str("</div>");

    out.push_str(
        "<h2 id='processes'>Command lines and environments</h2><p>Environment entries a built-in secret pattern matches are masked.</p>",
    );
    for p in &processes {
        let cmdline: Vec<&str> = p["cmdline"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let _ = write!(out, "<h3>[{}] {}</h3><p><code>{}</code></p>", cell(&p["pid"]), cell(&p["comm"]), esc(&cmdline.join(" ")));
        table(
            &mut out,
            &["environment", "secret pattern"],
            p["environ"].as_array().into_iter().flatten().map(|e| {
                let class = if e["masked"] == true { " class='masked'" } else { "" };
                vec![format!("<code{class}>{}</code>", cell(&e["entry"])), cell(&e["pattern"])]
            }),
        );
    }

    out.push_str("<h2 id='network'>Network</h2>");
    let ends = |v: &Value| -> String {
        let list: Vec<String> = v.as_array().into_iter().flatten().map(|e| format!("{}/{}", e["pid"], e["fd"])).collect();
        list.join(", ")
    };
    let address = |a: &Value, p: &Value| -> String {
        match p.as_u64() {
            Some(port) => format!("{}:{port}", cell(a)),
            None => cell(a),
        }
    };
    table(
        &mut out,
        &["pid/fd", "comm", "family", "protocol", "state", "local", "peer", "queued bytes", "peer pid/fd", "listener"],
        doc["connections"].as_array().into_iter().flatten().map(|c| {
            vec![
                format!("{}/{}", c["pid"], c["fd"]),
                cell(&c["comm"]),
                cell(&c["family"]),
                cell(&c["protocol"]),
                cell(&c["state"]),
                address(&c["local_address"], &c["local_port"]),
                address(&c["peer_address"], &c["peer_port"]),
                cell(&c["queued_bytes"]),
                ends(&c["peers"]),
                if c["listener"].is_null() { String::new() } else { format!("{}/{}", c["listener"]["pid"], c["listener"]["fd"]) },
            ]
        }),
    );

    out.push_str("<h2 id='rootfs'>Root filesystem changes (rootfs-diff.tar)</h2>");
    table(
        &mut out,
        &["path", "kind", "size", "mode", "owner", "link target"],
        doc["rootfs_changes"].as_array().into_iter().flatten().map(|m| {
            vec![
                format!("<code>/{}</code>", cell(&m["name"])),
                cell(&m["kind"]),
                cell(&m["size"]),
                m["mode"].as_u64().map(|mode| format!("{mode:04o}")).unwrap_or_default(),
                format!("{}:{}", cell(&m["uid"]), cell(&m["gid"])),
                cell(&m["target"]),
            ]
        }),
    );

    out.push_str("<h2 id='memory'>Memory map per process</h2><p>One bar per area, grouped by kind; the bar's length is the area's size on a log scale, the dark part what the checkpoint holds.</p>");
    for p in &processes {
        let _ = write!(out, "<h3>[{}] {}</h3>", cell(&p["pid"]), cell(&p["comm"]));
        memory_svg(&mut out, p["memory"].as_array().map(Vec::as_slice).unwrap_or_default());
    }
    out.push_str("</body></html>\n");
    out
}

/// Deepest level drawn with tree lines; deeper ones say their depth (a
/// hostile chain of parents must not make the page quadratic).
const MAX_DRAWN_DEPTH: usize = 64;

/// The process tree as indented text, in the model's printing order
/// (`model::process_tree`: iterative, each process once, loops broken).
fn tree_text(out: &mut String, processes: &[Value], tree: &[Value]) {
    let mut open: Vec<bool> = Vec::new(); // per level: more siblings follow
    for node in tree {
        let depth = node["depth"].as_u64().unwrap_or(0) as usize;
        let last = node["last"] == true;
        let Some(p) = node["index"].as_u64().and_then(|i| processes.get(i as usize)) else { continue };
        open.truncate(depth);
        let mut prefix = String::new();
        if depth > MAX_DRAWN_DEPTH {
            let _ = write!(prefix, "… (depth {depth}) ");
        } else {
            for level in 1..depth {
                prefix.push_str(if open.get(level).copied().unwrap_or(false) { "│   " } else { "    " });
            }
            if depth > 0 {
                prefix.push_str(if last { "└── " } else { "├── " });
            }
        }
        open.resize(depth, false);
        open.push(!last);
        let cmdline: Vec<&str> = p["cmdline"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let _ = writeln!(
            out,
            "{}[{}] {} ({}, uid {}) {}",
            esc(&prefix),
            p["pid"],
            cell(&p["comm"]),
            cell(&p["state"]),
            cell(&p["uid"]),
            esc(&cmdline.join(" "))
        );
    }
}

/// One bar per area, grouped by kind, as inline SVG (no script, no fetch).
fn memory_svg(out: &mut String, areas: &[Value]) {
    if areas.is_empty() {
        out.push_str("<p class='none'>no memory areas</p>");
        return;
    }
    let rank =
        |kind: &str| ["heap", "stack", "anon", "shared", "file", "vdso", "vvar", "vsyscall"].iter().position(|k| *k == kind).unwrap_or(8);
    let mut sorted: Vec<&Value> = areas.iter().collect();
    sorted.sort_by_key(|a| (rank(a["kind"].as_str().unwrap_or_default()), a["start"].as_u64().unwrap_or(0)));
    const ROW: usize = 13;
    const LABEL: usize = 330;
    const BAR: f64 = 420.0;
    let height = sorted.len() * ROW + 20;
    let _ = write!(out, "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{height}' role='img'>", LABEL + BAR as usize + 120);
    let log = |bytes: f64| (bytes.max(4096.0).log2() - 12.0).max(0.0);
    let max = sorted
        .iter()
        .map(|a| log(a["end"].as_u64().unwrap_or(0).saturating_sub(a["start"].as_u64().unwrap_or(0)) as f64))
        .fold(1.0f64, f64::max);
    let colors = ["#d62728", "#9467bd", "#1f77b4", "#8c564b", "#2ca02c", "#ff7f0e", "#7f7f7f", "#bcbd22", "#17becf"];
    let mut previous_kind = "";
    for (row, a) in sorted.iter().enumerate() {
        let y = row * ROW + 4;
        let (start, end) = (a["start"].as_u64().unwrap_or(0), a["end"].as_u64().unwrap_or(0));
        let size = end.saturating_sub(start) as f64;
        let dumped = a["pages_dumped"].as_u64().unwrap_or(0).saturating_mul(4096) as f64;
        let kind = a["kind"].as_str().unwrap_or_default();
        let color = colors[rank(kind).min(colors.len() - 1)];
        let width = BAR * log(size) / max;
        let dumped_width = if dumped > 0.0 { BAR * log(dumped) / max } else { 0.0 };
        let name = a["path"].as_str().map_or_else(|| format!("[{kind}]"), str::to_string);
        let _ = write!(
            out,
            "<text x='0' y='{}'>{:#x} {}</text><rect x='{LABEL}' y='{y}' width='{width:.1}' height='{}' fill='{color}' fill-opacity='0.3'/><rect x='{LABEL}' y='{y}' width='{dumped_width:.1}' height='{}' fill='{color}'/>",
            y + ROW - 3,
            start,
            esc(&name.chars().take(40).collect::<String>()),
            ROW - 2,
            ROW - 2
        );
        if kind != previous_kind {
            let _ = write!(out, "<text x='{}' y='{}' fill='{color}'>{}</text>", LABEL + BAR as usize + 8, y + ROW - 3, esc(kind));
            previous_kind = kind;
        }
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_chain_of_parents_stays_linear_in_the_tree() {
        let n = 1000usize;
        let processes: Vec<Value> =
            (0..n).map(|i| json!({"pid": i + 1, "ppid": i, "comm": "x", "state": "alive", "uid": 0, "cmdline": ["x"]})).collect();
        let tree: Vec<Value> = (0..n).map(|i| json!({"index": i, "pid": i + 1, "depth": i, "last": true})).collect();
        let mut out = String::new();
        tree_text(&mut out, &processes, &tree);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), n);
        assert_eq!(lines[2], "    └── [3] x (alive, uid 0) x");
        assert_eq!(lines[999], "… (depth 999) [1000] x (alive, uid 0) x");
        assert!(out.len() < n * (MAX_DRAWN_DEPTH * 4 + 64), "{}", out.len());
    }

    #[test]
    fn findings_are_rendered_when_given_and_escaped() {
        let finding = Finding {
            id: "reverse",
            severity: crate::triage::Severity::High,
            pid: Some(23),
            summary: "shell <sh>".into(),
            evidence: json!({"fds": "0-2 -> 127.0.0.1:4444"}),
        };
        let doc = json!({"checkpoint": {"path": "x.tar", "format": "tar"}, "findings": [finding_json(&finding)], "processes": [], "connections": [],
                         "rootfs_changes": [], "hashes": {"members": []}, "container": null});
        let html = render_html(&doc);
        assert!(html.contains("<span class='sev-high'>high</span>"), "{html}");
        assert!(html.contains("<td>23</td><td>reverse: shell &lt;sh&gt;</td>"), "{html}");
        assert!(!html.contains("No findings:"));
        let empty = render_html(
            &json!({"checkpoint": {"path": "x.tar"}, "findings": [], "processes": [], "connections": [], "rootfs_changes": [], "hashes": {}}),
        );
        assert!(empty.contains("No findings: triage found nothing (or was left out with --no-triage)."));
    }
}
