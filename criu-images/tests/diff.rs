//! `Diff` on the real fixtures: a checkpoint compared with itself reports
//! nothing; the memory diff equals a naive page-by-page comparison of
//! reads; the Podman counter runs and the pre-dump chain report what is
//! known to have changed (truth.json, the programs' sources).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use criu_images::chain::{DumpChain, ImageStore};
use criu_images::diff::{diff_pages, Change, Diff, DiffOptions, PageChange, PageRange};
use criu_images::memory::ProcessMemory;
use criu_images::Checkpoint;
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    common::fixtures_dir().join(path)
}

/// Every fixture checkpoint with processes.
fn checkpoints() -> Vec<PathBuf> {
    [
        "counter/none/checkpoint.tar",
        "counter/gzip/checkpoint.tar.gz",
        "counter/zstd/checkpoint.tar.zst",
        "pytree/checkpoint.tar.gz",
        "threads/checkpoint.tar.zst",
        "pytree-host/images.tar.zst",
        "counter-host/images",
        "predump/dump",
        "attack/checkpoint.tar.zst",
    ]
    .iter()
    .map(|p| fixture(p))
    .chain(std::iter::once(common::k8s_counter_tar()))
    .collect()
}

fn diff(old: &str, new: &str) -> Diff {
    let (old, new) = (Checkpoint::open(fixture(old)).unwrap(), Checkpoint::open(fixture(new)).unwrap());
    Diff::compute(&old, &new, &DiffOptions::default(), None).unwrap()
}

#[test]
fn a_checkpoint_compared_with_itself_reports_nothing() {
    for path in checkpoints() {
        // Opened twice: nothing is shared between the sides but the file.
        let (a, b) = (Checkpoint::open(&path).unwrap(), Checkpoint::open(&path).unwrap());
        let diff = Diff::compute(&a, &b, &DiffOptions::default(), None).unwrap();
        assert!(diff.is_empty(), "{}: {:#?}", path.display(), diff.to_json());
        assert!(diff.notes.is_empty(), "{}: {:?}", path.display(), diff.notes);
    }
}

/// Where to lay out a pre-dump level's pages: its own memory images, the
/// rest from the final dump (what `Diff` does for a pre-dump side).
struct Overlay<'a> {
    level: &'a dyn ImageStore,
    donor: &'a dyn ImageStore,
}

impl ImageStore for Overlay<'_> {
    fn file(&self, name: &str) -> criu_images::Result<Option<&[u8]>> {
        if name.starts_with("pagemap") || name.starts_with("pages-") {
            return self.level.file(name);
        }
        match self.level.file(name)? {
            Some(bytes) => Ok(Some(bytes)),
            None => self.donor.file(name),
        }
    }
    fn label(&self) -> String {
        self.level.label()
    }
}

/// The page ranges a reader finds by reading every page of both sides.
fn naive(old: &ProcessMemory<'_>, new: &ProcessMemory<'_>) -> Vec<PageRange> {
    let page = new.page_size();
    let mut pages = BTreeSet::new();
    for vma in old.vmas().iter().chain(new.vmas()) {
        pages.extend((vma.start..vma.end).step_by(page as usize));
    }
    let mut out: Vec<PageRange> = Vec::new();
    for p in pages {
        let (in_old, in_new) = (old.vma_at(p).is_some(), new.vma_at(p).is_some());
        let (o, n) = (old.read(p, page).ok(), new.read(p, page).ok());
        let change = match (in_old, in_new) {
            (true, true) => match (o, n) {
                (Some(o), Some(n)) if o != n => Some(PageChange::Changed),
                _ => None,
            },
            (false, true) => n.map(|_| PageChange::Added),
            (true, false) => o.map(|_| PageChange::Removed),
            (false, false) => None,
        };
        let Some(change) = change else { continue };
        match out.last_mut() {
            Some(last) if last.end == p && last.change == change => {
                last.end += page;
                last.pages += 1;
            }
            _ => out.push(PageRange { pid: new.pid(), start: p, end: p + page, change, pages: 1 }),
        }
    }
    out
}

#[test]
fn the_memory_diff_equals_reading_every_page_of_both_sides() {
    let pairs = [
        ("counter/none/checkpoint.tar", "counter/gzip/checkpoint.tar.gz"),
        ("counter/gzip/checkpoint.tar.gz", "counter/zstd/checkpoint.tar.zst"),
        ("counter/none/checkpoint.tar", "counter-host/images"),
        ("counter-host/images", "counter/zstd/checkpoint.tar.zst"),
    ];
    let mut compared = 0;
    for (old_path, new_path) in pairs {
        let (old, new) = (Checkpoint::open(fixture(old_path)).unwrap(), Checkpoint::open(fixture(new_path)).unwrap());
        let expected = Diff::compute(&old, &new, &DiffOptions::default(), None).unwrap();
        let (old_ps, new_ps) = (old.processes().unwrap(), new.processes().unwrap());
        for (i, o) in old_ps.iter().enumerate() {
            // The pairs Diff matched: same pid, or the same program.
            let n = new_ps.iter().find(|n| n.pid == o.pid).or_else(|| new_ps.iter().find(|n| n.comm == o.comm && n.cmdline == o.cmdline));
            let Some(n) = n else { continue };
            if old_ps.iter().take(i).any(|p| p.pid == o.pid) {
                continue;
            }
            let (om, nm) = (old.memory(o.pid).unwrap(), new.memory(n.pid).unwrap());
            let naive = naive(&om, &nm);
            let ours = diff_pages(&om, &nm, None).unwrap();
            assert_eq!(ours, naive, "{old_path} {} vs {new_path} {}", o.pid, n.pid);
            let in_diff: Vec<PageRange> = expected.pages.iter().filter(|r| r.pid == n.pid).copied().collect();
            assert_eq!(in_diff, naive, "{old_path} vs {new_path}: Diff::compute of {}", n.pid);
            compared += naive.len();
        }
    }
    assert!(compared >= 10, "only {compared} ranges compared: the pairs do not differ?");

    // Pre-dump levels, laid out in the final dump's areas.
    let dump = Checkpoint::open(fixture("predump/dump")).unwrap();
    for level in ["pre1", "pre2"] {
        let pre = Checkpoint::open(fixture(&format!("predump/{level}"))).unwrap();
        let overlay = Overlay { level: pre.images(), donor: dump.images() };
        let chain = DumpChain::new(&overlay, pre.parents().iter().map(|p| p as &dyn ImageStore));
        let old = ProcessMemory::build_with_files(25946, &chain, None).unwrap();
        let new = dump.memory(25946).unwrap();
        let expected = naive(&old, &new);
        assert_eq!(diff_pages(&old, &new, None).unwrap(), expected, "{level}");
        assert_eq!(Diff::compute(&pre, &dump, &DiffOptions::default(), None).unwrap().pages, expected, "{level}");
    }
}

fn pages_changed(diff: &Diff) -> BTreeSet<u64> {
    diff.pages.iter().filter(|r| r.change == PageChange::Changed).flat_map(|r| (r.start..r.end).step_by(4096)).collect()
}

#[test]
fn the_pre_dump_chain_reports_the_pages_the_program_rewrote() {
    // threads.c with SIGUSR1 between the dumps (predump/README.md):
    // region at 0x7fcbe3600000; round 1 refills pages 8-15, zeroes page
    // 20, writes a marker in page 3 and in a never-touched page
    // (0x7fcbe3e02000); round 2 rewrites pages 8-15 with the same bytes,
    // writes marker 2 in page 3 and in another page (0x7fcbe3e03000).
    let region = 0x7fcb_e360_0000u64;
    let page = |n: u64| region + n * 4096;
    let first = diff("predump/pre1", "predump/dump");
    let changed = pages_changed(&first);
    for n in [3, 8, 9, 10, 11, 12, 13, 14, 15, 20] {
        assert!(changed.contains(&page(n)), "pre1 -> dump: region page {n} changed");
    }
    assert!(changed.contains(&0x7fcb_e3e0_2000) && changed.contains(&0x7fcb_e3e0_3000));
    assert!(!changed.contains(&page(16)) && !changed.contains(&page(4)));
    assert!(first.pages.iter().all(|r| r.change == PageChange::Changed && r.pid == 25946));
    assert!(first.notes.iter().any(|n| n.contains("old side is a pre-dump level")));
    assert!(first.processes.is_empty() && first.areas.is_empty());

    let second = diff("predump/pre2", "predump/dump");
    let changed = pages_changed(&second);
    assert!(changed.contains(&page(3)) && changed.contains(&0x7fcb_e3e0_3000));
    for n in [8, 15, 20] {
        assert!(!changed.contains(&page(n)), "pre2 -> dump: page {n} was rewritten with the same bytes");
    }
    assert!(!changed.contains(&0x7fcb_e3e0_2000), "marker 1 stayed");
    // The stats say how much the final dump took from its parents.
    let stat = |d: &Diff, f: &str| d.metadata.iter().find(|c| c.field == f).map(|c| (c.old.clone(), c.new.clone()));
    assert_eq!(stat(&second, "stats.pages_skipped_parent"), Some((Value::from(603), Value::from(611))));

    // Two pre-dump levels have no areas to lay their pages out in.
    let both = diff("predump/pre1", "predump/pre2");
    assert!(both.pages.is_empty() && both.notes.iter().any(|n| n.contains("both sides are pre-dump levels")));
}

#[test]
fn the_three_podman_counter_checkpoints_are_different_runs() {
    let truth = |p: &str| common::truth_of(p);
    let secret = |t: &Value| {
        let env = t["processes"][0]["environ"].as_array().unwrap();
        env.iter().filter_map(Value::as_str).find_map(|e| e.strip_prefix("COUNTER_SECRET=")).unwrap().to_string()
    };
    let (none, gzip) = (truth("counter/none"), truth("counter/gzip"));
    let d = diff("counter/none/checkpoint.tar", "counter/gzip/checkpoint.tar.gz");
    assert_eq!(d.processes.len(), 1);
    let p = &d.processes[0];
    assert_eq!((p.pid, p.change, p.matched_by), (1, Change::Changed, Some("pid")));
    let field = |name: &str| p.fields.iter().find(|f| f.field == name).map(|f| (f.old.clone(), f.new.clone()));
    assert_eq!(field("environ.COUNTER_SECRET"), Some((Value::from(secret(&none)), Value::from(secret(&gzip)))));
    assert_eq!(field("cmdline"), None, "same command line");
    // Each container has its own cgroup, named by its id.
    let (old_cg, new_cg) = field("cgroups").unwrap();
    assert!(old_cg.to_string().contains("libpod-a072487ce4cd") && new_cg.to_string().contains("libpod-f482fd28c76f"));
    let meta = |name: &str| d.metadata.iter().find(|f| f.field == name).map(|f| (f.old.clone(), f.new.clone()));
    assert_eq!(meta("container.name"), Some((Value::from("fx-counter-none"), Value::from("fx-counter-gzip"))));
    assert_eq!(meta("container.ip"), Some((Value::from("10.88.0.12"), Value::from("10.88.0.13"))));
    // The heap moved (ASLR): matched by name; the marker is on it.
    let heap = d.areas.iter().find(|a| a.new_path.as_deref() == Some("[heap]")).unwrap();
    assert_eq!(heap.what, ["moved"]);
    let marker = |t: &Value| {
        let info = t["program_info"]["counter.info"].as_str().unwrap();
        let hex = info.lines().find_map(|l| l.strip_prefix("marker_addr=0x")).unwrap();
        u64::from_str_radix(hex, 16).unwrap()
    };
    assert!((heap.old_start.unwrap()..heap.old_end.unwrap()).contains(&marker(&none)));
    assert!((heap.start..heap.new_end.unwrap()).contains(&marker(&gzip)));
    let added = d.pages.iter().find(|r| r.change == PageChange::Added && r.start == heap.start).unwrap();
    assert_eq!(added.end, heap.new_end.unwrap());
    // /tmp/counter.info holds the run's addresses: same size, other bytes.
    assert_eq!(d.rootfs.len(), 1);
    let info = &d.rootfs[0];
    assert_eq!((info.path.as_str(), info.change), ("/tmp/counter.info", "changed"));
    assert_ne!(info.old_sha256, info.new_sha256);
    assert_eq!(info.old_mode, info.new_mode);
    assert!(info.old_mode.is_some());
}

#[test]
fn errors_name_the_side() {
    let good = Checkpoint::open(fixture("counter-host/images")).unwrap();
    let dir = std::env::temp_dir().join(format!("criu-images-diff-side-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture("counter-host/images")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let mm = dir.join("mm-24152.img");
    let bytes = std::fs::read(&mm).unwrap();
    std::fs::write(&mm, &bytes[..bytes.len() - 10]).unwrap();
    let bad = Checkpoint::open(&dir).unwrap();
    let err = Diff::compute(&good, &bad, &DiffOptions::default(), None).unwrap_err().to_string();
    assert!(err.starts_with("new: ") && err.contains("mm-24152.img"), "{err}");
    let err = Diff::compute(&bad, &good, &DiffOptions::default(), None).unwrap_err().to_string();
    assert!(err.starts_with("old: ") && err.contains("mm-24152.img"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn cli(args: &[&str]) -> (String, String, i32) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.code().unwrap_or(-1))
}

#[test]
fn the_command_line_prints_a_tree_or_versioned_json() {
    let (old, new) = (fixture("counter/none/checkpoint.tar"), fixture("counter/gzip/checkpoint.tar.gz"));
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    let (json_out, _, status) = cli(&["diff", old, new, "--format", "json"]);
    assert_eq!(status, 0);
    let value: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["processes"][0]["pid"], 1);
    assert_eq!(value["processes"][0]["change"], "changed");
    let memory = value["memory"].as_array().unwrap();
    assert!(!memory.is_empty() && memory.iter().all(|r| r["start"].is_u64() && r["end"].is_u64() && r["pages"].is_u64()));
    let library = diff("counter/none/checkpoint.tar", "counter/gzip/checkpoint.tar.gz");
    assert_eq!(memory.len(), library.pages.len());
    assert_eq!(value, library.to_json(), "the streamed JSON is the library's");

    // Text: a tree, no colour codes when not on a terminal; pages only with --memory.
    let (text, _, status) = cli(&["diff", old, new]);
    assert_eq!(status, 0);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.contains("~ 1 counter (changed)") && text.contains("environ.COUNTER_SECRET"), "{text}");
    assert!(text.contains("memory pages not compared (--memory)") && !text.contains("pages changed"), "{text}");
    let (text, _, _) = cli(&["diff", old, new, "--memory"]);
    assert!(text.contains("memory pages\n") && text.contains("pages changed"), "{text}");
    assert!(text.lines().count() < 60, "one screen: {text}");

    // A pre-dump level is addressed by its images directory; --bytes shows a hex diff.
    let (pre1, dump) = (fixture("predump/pre1"), fixture("predump/dump"));
    let args = ["diff", pre1.to_str().unwrap(), dump.to_str().unwrap(), "--pid", "25946", "--bytes", "0x7fcbe3603060:32"];
    let (text, err, status) = cli(&args);
    assert_eq!(status, 0, "{err}");
    assert!(text.contains("bytes of process 25946 at 0x7fcbe3603060"), "{text}");
    assert!(text.contains("+ 0x7fcbe3603060  84 80 5f 86 50 52 45 44 55 4d 50 2d 43 48 41 4e  |.._.PREDUMP-CHAN|"), "{text}");

    // A missing side is an error naming the file.
    let (_, err, status) = cli(&["diff", old, "/nonexistent/checkpoint.tar"]);
    assert_eq!(status, 1);
    assert!(err.contains("/nonexistent/checkpoint.tar"), "{err}");
}
