//! The crate's layers point down only (issue #12): every `crate::<module>`
//! reference in `src/` goes from a module to one below it in [`LAYERS`],
//! the same order as docs/architecture.md. A new module, or a new edge that
//! points up, fails here until the table (and the document) say where it
//! belongs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules, lowest first. A module may use those before it.
const LAYERS: &[&str] = &[
    "error",       // the one error type, with locations
    "utc",         // Unix times as RFC 3339 text
    "warning",     // a part left out: a typed warning around an error
    "progress",    // progress reporting and cancellation
    "parallel",    // ordered parallel map
    "secrets",     // built-in secret patterns and masking
    "archive",     // byte sources: directories, tar, tar.gz, tar.zst; mapping
    "proto",       // generated messages and their schema tables
    "image",       // framing: magics, entries, extras
    "json",        // crit-compatible JSON both ways
    "chain",       // dump chain, typed image access, file objects
    "memory",      // process memory: index, reads, search
    "model",       // processes, files, container
    "checkpoint",  // the facade: open, chain, caches
    "metadata",    // the facade's lenient read of the metadata members
    "diff",        // two checkpoints compared: processes, files, memory, rootfs
    "triage",      // suspicious traces as findings (issue #16)
    "yara",        // YARA scans of memory and files (feature yara)
    "tables",      // tables as Arrow record batches, Parquet (features tables, parquet)
    "decode_all",  // the one decode-all pipeline of the CLI and Python
    "entry_table", // image entries as Arrow tables (feature tables)
    "evidence",    // hashes of archives and members, provenance sidecars
    "coredump",    // ELF core files of checkpointed processes
    "cli",         // the command line
];

/// Items the crate root re-exports, by the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Checkpoint", "checkpoint"),
    ("Error", "error"),
    ("Location", "error"),
    ("Result", "error"),
    ("Entry", "image"),
    ("Extra", "image"),
    ("Image", "image"),
    ("ImageFile", "image"),
    ("ImageKind", "image"),
    ("Message", "proto"),
];

/// The source without comments (doc links name modules without using them)
/// and without string literals.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let mut code = String::new();
        let mut in_string = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => in_string = !in_string,
                '\\' if in_string => {
                    chars.next();
                }
                '/' if !in_string && chars.peek() == Some(&'/') => break,
                _ if in_string => {}
                _ => code.push(c),
            }
        }
        out.push_str(&code);
        out.push('\n');
    }
    out
}

/// The top-level modules (or root items) that `source` names after `crate::`,
/// including inside `crate::{a::b, c}` groups.
fn referenced(source: &str) -> BTreeSet<String> {
    let code = code_only(source);
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first identifier after `{` and after each depth-1 comma.
            let (mut depth, mut expect_name) = (1, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            rest = &group[i..];
                            break;
                        }
                    }
                    ',' if depth == 1 => expect_name = true,
                    c if expect_name && (c.is_alphanumeric() || c == '_') => {
                        let name: String = group[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        names.insert(name);
                        expect_name = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The layer of a name after `crate::`.
fn layer_of(name: &str) -> Option<usize> {
    let module = ROOT_ITEMS.iter().find(|(item, _)| *item == name).map_or(name, |(_, module)| module);
    LAYERS.iter().position(|l| *l == module)
}

/// Every edge `(from, to)` between top-level modules, with the file it is in.
fn edges(src: &Path) -> Vec<(String, String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue; // the root declares and re-exports every module
        }
        for name in referenced(&std::fs::read_to_string(&file).unwrap()) {
            let module = ROOT_ITEMS.iter().find(|(item, _)| *item == name).map_or(name.clone(), |(_, m)| m.to_string());
            if module != top {
                edges.push((top.clone(), module, relative.to_path_buf()));
            }
        }
    }
    edges
}

/// The edges that point up or to a module the table does not list.
fn violations(edges: &[(String, String, PathBuf)]) -> Vec<String> {
    edges
        .iter()
        .filter_map(|(from, to, file)| match (layer_of(from), layer_of(to)) {
            (Some(f), Some(t)) if t < f => None,
            (Some(_), Some(_)) => Some(format!("{}: {from} uses {to}, which is not below it", file.display())),
            _ => Some(format!("{}: {from} -> {to}: a module missing from LAYERS", file.display())),
        })
        .collect()
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    assert!(edges.len() > 30, "the scan found only {} edges: is it reading src/?", edges.len());
    let bad = violations(&edges);
    assert!(bad.is_empty(), "layering broken (order: {LAYERS:?}):\n{}", bad.join("\n"));
    // Every module in src/ has its place in the table.
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let top =
            file.strip_prefix(&src).unwrap().components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        assert!(top == "lib" || top == "main" || layer_of(&top).is_some(), "{top} is not in LAYERS");
    }
}

#[test]
fn the_scan_sees_upward_edges_in_every_form() {
    let found = referenced(
        "use crate::memory::Vma;\nuse crate::{\n    chain::{decode_all, DumpChain},\n    error::Result,\n};\n// crate::cli in a comment\nlet s = \"crate::model\";\nfn f() -> crate::Result<()> { crate::Checkpoint::open(\"x\") }",
    );
    let expected: BTreeSet<String> = ["memory", "chain", "error", "Result", "Checkpoint"].iter().map(|s| s.to_string()).collect();
    assert_eq!(found, expected);
    // archive using memory (the edge issue #12 removed) is refused.
    let upward = vec![("archive".to_string(), "memory".to_string(), PathBuf::from("archive/view.rs"))];
    assert_eq!(violations(&upward).len(), 1);
    let downward = vec![("memory".to_string(), "chain".to_string(), PathBuf::from("memory/build.rs"))];
    assert!(violations(&downward).is_empty());
}
