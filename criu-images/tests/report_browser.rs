//! `criu-images report` on the attack fixture, checked in a real headless
//! browser (Debian's `chromium`; scripts/test installs it): the page renders
//! with every section, logs nothing to the console (its Content-Security-
//! Policy forbids any fetch, and a blocked one would be logged), references
//! nothing outside itself, and its screenshot is saved under target/ (the
//! path is printed). The harness proves it sees console errors on a control
//! page that makes one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default() {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("headless Chromium is needed for this test: apt-get install chromium (scripts/test installs it)");
}

/// Runs the page in headless Chromium: (the rendered DOM, the console lines).
fn browse(page: &Path, screenshot: Option<&Path>) -> (String, Vec<String>) {
    let mut command = Command::new(chromium());
    command.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2400",
    ]);
    match screenshot {
        Some(path) => command.arg(format!("--screenshot={}", path.display())),
        None => command.arg("--dump-dom"),
    };
    let out = command.arg(format!("file://{}", page.display())).output().unwrap();
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let console = String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn report_renders_in_chromium_without_console_errors() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The harness sees console errors.
    let control = dir.join("control.html");
    std::fs::write(&control, "<!DOCTYPE html><html><body><p>control</p><script>console.error('deliberate-error')</script></body></html>")
        .unwrap();
    let (_, console) = browse(&control, None);
    assert!(console.iter().any(|l| l.contains("deliberate-error")), "{console:?}");

    let archive = common::fixtures_dir().join("attack/checkpoint.tar.zst");
    let page = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_criu-images")).arg("report").arg(&archive).arg("-o").arg(&page).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch. Checked in the markup (every tag, and
    // the style sheets), not in the text: findings quote what the attacker
    // typed, URLs included, escaped as text. The SVG namespace is a name,
    // not a fetch.
    let without_ns = html.replace("xmlns='http://www.w3.org/2000/svg'", "");
    let tags: Vec<&str> = without_ns.split('<').skip(1).filter_map(|rest| rest.split('>').next()).collect();
    assert!(tags.len() > 100);
    for tag in &tags {
        let lower = tag.to_ascii_lowercase();
        let name = lower.split_whitespace().next().unwrap_or("");
        assert!(!["script", "link", "iframe", "object", "embed", "img", "image", "use"].contains(&name), "<{tag}>");
        for forbidden in ["http://", "https://", "src=", "href=", "url("] {
            assert!(!lower.contains(forbidden), "{forbidden} in the tag <{tag}>");
        }
    }
    for style in without_ns.split("<style>").skip(1).filter_map(|rest| rest.split("</style>").next()) {
        assert!(!style.contains("url(") && !style.contains("@import"), "a fetch in the style sheet");
    }

    let (dom, console) = browse(&page, None);
    assert!(console.is_empty(), "console: {console:#?}");
    for section in [
        "Summary",
        "Findings",
        "Hashes (SHA-256)",
        "Process tree",
        "Command lines and environments",
        "Network",
        "Root filesystem changes",
        "Memory map per process",
    ] {
        assert!(dom.contains(&format!(">{section}")), "{section}");
    }
    // The reverse shell's rows, linked to c2's socket and listener; every process has a memory map.
    assert_eq!(dom.matches("<td>127.0.0.1:39960</td><td>127.0.0.1:4444</td><td>0</td><td>21/4</td><td>21/3</td>").count(), 3, "{dom}");
    assert_eq!(dom.matches("<svg").count(), 10);
    assert!(dom.contains("[42] bash (alive, uid 0) bash -i"));
    // Triage's findings are in by default, most severe first: the reverse shell among them.
    let findings = dom.split(">Findings").nth(1).and_then(|rest| rest.split("<h2").next()).unwrap();
    assert!(findings.contains("network.reverse_shell: "), "{findings}");
    assert!(findings.find(">high<").unwrap() < findings.find(">info<").unwrap_or(usize::MAX));
    // The archive's hash as sha256sum computes it.
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    assert!(dom.contains(sum.split_whitespace().next().unwrap()));

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-attack.png");
    let (_, console) = browse(&page, Some(&shot));
    assert!(console.is_empty(), "console: {console:#?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000);
    println!("screenshot of the report: {}", shot.display());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_json_masks_secrets_and_carries_a_sidecar() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-json");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let archive = common::fixtures_dir().join("pytree/checkpoint.tar.gz");
    let out = dir.join("report.json");
    let run = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .arg("report")
        .arg(&archive)
        .args(["--format", "json", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema_version"], 1);
    // DB_PASSWORD (every process) and SUBCHILD_TOKEN (pytree-sub) are masked; their values appear nowhere.
    let truth: Value = serde_json::from_slice(&std::fs::read(common::fixtures_dir().join("pytree/truth.json")).unwrap()).unwrap();
    for p in truth["processes"].as_array().unwrap() {
        for entry in p["environ"].as_array().unwrap().iter().filter_map(Value::as_str) {
            let (name, value) = entry.split_once('=').unwrap();
            if name == "DB_PASSWORD" || name == "SUBCHILD_TOKEN" {
                assert!(!text.contains(value), "{name} value in the report");
                assert!(text.contains(&format!("{name}={}", &value[..4])));
            }
        }
    }
    assert_eq!(doc["processes"].as_array().unwrap().len(), 3);
    assert_eq!(doc["connections"].as_array().unwrap().len(), 5);
    assert!(doc["rootfs_changes"].as_array().unwrap().iter().any(|m| m["name"] == "data/run/data.txt" && m["mode"].is_u64()));
    // The findings are triage's (none high on this clean fixture: tests/triage.rs
    // justifies the lower ones), and --no-triage leaves them out.
    let triage = Command::new(env!("CARGO_BIN_EXE_criu-images")).arg("triage").arg(&archive).args(["--format", "json"]).output().unwrap();
    let triage: Value = serde_json::from_slice(&triage.stdout).unwrap();
    let ids = |list: &Value, key: &str| -> Vec<String> {
        list.as_array().unwrap().iter().map(|f| f[key].as_str().unwrap().split(':').next().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&doc["findings"], "title"), ids(&triage["findings"], "id"));
    assert!(!doc["findings"].as_array().unwrap().is_empty());
    assert!(doc["findings"].as_array().unwrap().iter().all(|f| f["severity"] != "high"));
    let bare = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .arg("report")
        .arg(&archive)
        .args(["--format", "json", "--no-triage"])
        .output()
        .unwrap();
    let bare: Value = serde_json::from_slice(&bare.stdout).unwrap();
    assert!(bare["findings"].as_array().unwrap().is_empty());
    let sidecar: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json.json")).unwrap()).unwrap();
    assert_eq!(sidecar["evidence"]["size"].as_u64().unwrap(), text.len() as u64);
    assert!(sidecar["source"]["sha256"].is_string());
    std::fs::remove_dir_all(&dir).unwrap();
}
