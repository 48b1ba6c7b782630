//! Programs: what each process runs and how it was started.

use serde_json::json;

use super::{base_name, vma_json, Context, Finding, Severity};
use crate::model::Process;

/// Directories anyone can write to, where dropped payloads usually land.
pub(crate) const TEMP_DIRS: &[&str] = &["/tmp/", "/dev/shm/", "/var/tmp/", "/run/shm/"];

/// Names the kernel gives its own threads. A container's pid namespace
/// never holds kernel threads, so a process named like one is disguised.
const KERNEL_THREAD_PREFIXES: &[&str] = &[
    "kworker",
    "kthreadd",
    "ksoftirqd",
    "kswapd",
    "kcompactd",
    "khugepaged",
    "kblockd",
    "kdevtmpfs",
    "khungtaskd",
    "kauditd",
    "migration/",
    "rcu_",
    "watchdog/",
    "watchdogd",
    "jbd2/",
    "irq/",
    "cpuhp/",
    "idle_inject/",
    "oom_reaper",
    "writeback",
    "kintegrityd",
    "md_misc",
    "scsi_eh",
    "edac-poller",
    "netns",
    "kthrotld",
    "ecryptfs-kthread",
    "kstrp",
    "xfsaild",
];

/// Shells: `-c` runs code given on the command line.
pub(crate) const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"];

/// Interpreters and the options that take code inline.
const INTERPRETERS: &[(&str, &[&str])] = &[
    ("python", &["-c"]),
    ("perl", &["-e", "-E"]),
    ("ruby", &["-e"]),
    ("node", &["-e", "--eval", "-p", "--print"]),
    ("nodejs", &["-e", "--eval", "-p", "--print"]),
    ("php", &["-r"]),
    ("lua", &["-e"]),
    ("tclsh", &[]),
    ("awk", &[]),
];

/// The interpreter family of a program name (`python3.11` -> `python`).
pub(crate) fn interpreter_family(name: &str) -> Option<&'static str> {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.iter().map(|(n, _)| *n).find(|n| *n == trimmed || *n == name)
}

/// Whether the process is a shell or an interpreter, by its `argv[0]`,
/// name or executable (busybox runs as `sh` through `argv[0]`).
pub(crate) fn is_shell_or_interpreter(p: &Process) -> bool {
    names_of(p).iter().any(|n| SHELLS.contains(n) || interpreter_family(n).is_some())
}

fn names_of(p: &Process) -> Vec<&str> {
    let mut names = vec![p.comm.as_str()];
    if let Some(arg0) = p.cmdline.first() {
        names.push(base_name(arg0).trim_start_matches('-'));
    }
    if let Some(exe) = &p.exe {
        names.push(base_name(exe));
    }
    names
}

pub(super) fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    // Containers run programs from their image; hosts also run builds and tests from /tmp.
    let temp = if cx.container.is_some() { Severity::High } else { Severity::Medium };
    for p in &cx.processes {
        exe(p, temp, out);
        kernel_thread_name(p, out);
        loader_variables(cx, p, out);
        inline_code(cx, p, out);
        libraries_in_temp(p, temp, out);
    }
}

fn exe(p: &Process, temp: Severity, out: &mut Vec<Finding>) {
    let Some(exe) = &p.exe else { return };
    let common = json!({"exe": exe, "comm": p.comm, "cmdline": p.cmdline});
    if exe.starts_with("/memfd:") {
        out.push(Finding {
            id: "program.memfd_exe",
            severity: Severity::High,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) runs from a memfd ({exe}): a program loaded without a file on disk, the usual fileless-malware technique",
                p.pid, p.comm
            ),
            evidence: common.clone(),
        });
    } else if exe.ends_with(" (deleted)") {
        out.push(Finding {
            id: "program.deleted_exe",
            severity: Severity::High,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) runs an executable that was deleted after it started ({exe}): dropped payloads remove themselves this way",
                p.pid, p.comm
            ),
            evidence: common.clone(),
        });
    }
    let path = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    if let Some(dir) = TEMP_DIRS.iter().find(|d| path.starts_with(**d)) {
        out.push(Finding {
            id: "program.exe_in_temp",
            severity: temp,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) runs an executable from {dir}, a world-writable directory where attackers drop payloads",
                p.pid, p.comm
            ),
            evidence: common,
        });
    }
}

fn kernel_thread_name(p: &Process, out: &mut Vec<Finding>) {
    let looks_like = |name: &str| {
        let bracketed = name.len() > 2 && name.starts_with('[') && name.ends_with(']');
        let inner = name.trim_start_matches('[').trim_end_matches(']');
        bracketed || KERNEL_THREAD_PREFIXES.iter().any(|k| inner.starts_with(k))
    };
    let arg0 = p.cmdline.first().map(String::as_str).unwrap_or("");
    if looks_like(&p.comm) || looks_like(arg0) {
        out.push(Finding {
            id: "program.kernel_thread_name",
            severity: Severity::High,
            pid: Some(p.pid),
            summary: format!(
                "{} is named like a kernel thread ({:?}, argv[0] {:?}), but a container holds no kernel threads: a disguised process",
                p.pid, p.comm, arg0
            ),
            evidence: json!({"comm": p.comm, "cmdline": p.cmdline, "exe": p.exe}),
        });
    }
}

fn loader_variables(cx: &Context<'_>, p: &Process, out: &mut Vec<Finding>) {
    for (name, value) in &p.environ {
        let (id, severity, why) = match name.as_str() {
            "LD_PRELOAD" => (
                "program.ld_preload",
                Severity::High,
                "loads code into the process before its own libraries, the classic userland rootkit hook",
            ),
            "LD_AUDIT" => ("program.ld_preload", Severity::High, "loads an audit library that sees every symbol binding, a rootkit hook"),
            "LD_LIBRARY_PATH" => (
                "program.ld_library_path",
                Severity::Medium,
                "makes the loader search other directories first, which can replace system libraries",
            ),
            _ => continue,
        };
        let declared = cx.spec.env.iter().any(|e| e.split_once('=') == Some((name.as_str(), value.as_str())));
        // Objects named by the variable that are mapped in the process.
        let objects: Vec<&str> = value.split([':', ' ']).filter(|s| !s.is_empty()).collect();
        let mapped: Vec<_> = p
            .vmas
            .iter()
            .filter(|v| {
                v.path.as_deref().is_some_and(|path| {
                    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
                    objects.iter().any(|o| {
                        path == *o || (id == "program.ld_library_path" && path.starts_with(&format!("{}/", o.trim_end_matches('/'))))
                    })
                })
            })
            .map(vma_json)
            .collect();
        out.push(Finding {
            id,
            severity: if declared { Severity::Low } else { severity },
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) has {name}={value} in its environment{}: it {why}",
                p.pid,
                p.comm,
                if declared { " (declared by the container spec)" } else { "" }
            ),
            evidence: json!({"variable": name, "value": value, "declared_in_spec": declared, "mapped": mapped}),
        });
    }
}

fn inline_code(cx: &Context<'_>, p: &Process, out: &mut Vec<Finding>) {
    let Some(arg0) = p.cmdline.first() else { return };
    let name = base_name(arg0).trim_start_matches('-');
    let mut args: &[String] = &p.cmdline[1..];
    let mut name = name.to_string();
    // `busybox sh -c ...` and `env python -c ...` name the real program next.
    if (name == "busybox" || name == "env") && !args.is_empty() {
        name = base_name(&args[0]).to_string();
        args = &args[1..];
    }
    let options: &[&str] = if SHELLS.contains(&name.as_str()) {
        &["-c"]
    } else if let Some(family) = interpreter_family(&name) {
        INTERPRETERS.iter().find(|(n, _)| *n == family).map(|(_, o)| *o).unwrap_or(&[])
    } else {
        return;
    };
    let is_shell = SHELLS.contains(&name.as_str());
    let position = args.iter().position(|a| {
        options.contains(&a.as_str())
            // Shell option clusters: `-ec`, `-lc`.
            || (is_shell && a.starts_with('-') && !a.starts_with("--") && a.len() > 2 && a[1..].chars().all(|c| c.is_ascii_alphabetic()) && a.contains('c'))
    });
    let Some(position) = position else { return };
    let code = args.get(position + 1).map(String::as_str).unwrap_or("");
    let code_shown: String = code.chars().take(300).collect();
    let declared = !cx.spec.args.is_empty() && cx.spec.args == p.cmdline;
    out.push(Finding {
        id: "program.inline_code",
        severity: if declared { Severity::Low } else { Severity::Medium },
        pid: Some(p.pid),
        summary: format!(
            "{} runs {name} with code on its command line ({}){}: how one-liner payloads and download-and-run commands are started",
            p.pid,
            args[position],
            if declared { " as the container's declared command" } else { "" }
        ),
        evidence: json!({"cmdline": p.cmdline, "option": args[position], "code": code_shown, "declared_in_spec": declared}),
    });
}

fn libraries_in_temp(p: &Process, temp: Severity, out: &mut Vec<Finding>) {
    let exe = p.exe.as_deref().map(|e| e.strip_suffix(" (deleted)").unwrap_or(e));
    let mut seen: Vec<&str> = Vec::new();
    for v in &p.vmas {
        let Some(path) = v.path.as_deref() else { continue };
        let plain = path.strip_suffix(" (deleted)").unwrap_or(path);
        if v.prot & 4 == 0 || Some(plain) == exe || seen.contains(&plain) || !TEMP_DIRS.iter().any(|d| plain.starts_with(*d)) {
            continue;
        }
        seen.push(plain);
        let areas: Vec<_> = p.vmas.iter().filter(|w| w.path.as_deref() == Some(path)).map(vma_json).collect();
        out.push(Finding {
            id: "program.library_in_temp",
            severity: temp,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) runs code mapped from {path}, a world-writable directory: an injected or preloaded library",
                p.pid, p.comm
            ),
            evidence: json!({"path": path, "areas": areas}),
        });
    }
}
