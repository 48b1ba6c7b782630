//! Privileges: capabilities, seccomp and user ids compared with what a
//! container gets by default and with what it was declared to run as.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Context, Finding, Severity};

/// The largest default capability set of the common engines: Docker and
/// containerd (moby's `DefaultCapabilities`); Podman's and CRI-O's defaults
/// are subsets of it.
const ENGINE_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Capabilities that let a process escape or control the host.
const DANGEROUS_CAPS: &[&str] = &[
    "CAP_SYS_ADMIN",
    "CAP_SYS_MODULE",
    "CAP_SYS_PTRACE",
    "CAP_SYS_RAWIO",
    "CAP_DAC_READ_SEARCH",
    "CAP_NET_ADMIN",
    "CAP_BPF",
    "CAP_PERFMON",
    "CAP_SYS_BOOT",
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
    "CAP_SYSLOG",
    "CAP_SYS_TIME",
];

/// Adds one finding per distinct value: the pid when one process has it,
/// `None` and the pids in the evidence when several do.
fn grouped<K: Ord>(groups: BTreeMap<K, Vec<u32>>, mut make: impl FnMut(&K, Option<u32>, &[u32]) -> Finding, out: &mut Vec<Finding>) {
    for (key, pids) in groups {
        let pid = (pids.len() == 1).then(|| pids[0]);
        out.push(make(&key, pid, &pids));
    }
}

fn who(pid: Option<u32>, pids: &[u32]) -> String {
    match pid {
        Some(p) => format!("process {p}"),
        None => format!("{} processes ({})", pids.len(), pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
    }
}

pub(super) fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    // Engine defaults and seccomp profiles describe containers: a plain
    // CRIU dump of host processes has neither to compare with.
    let in_container = cx.container.is_some();
    let mut extra: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
    let mut ambient: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
    let mut inheritable: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
    let mut no_seccomp: BTreeMap<(), Vec<u32>> = BTreeMap::new();
    for p in &cx.processes {
        let Some(creds) = &p.creds else { continue };
        let mut beyond: Vec<String> = creds
            .cap_effective
            .iter()
            .chain(&creds.cap_permitted)
            .chain(&creds.cap_bounding)
            .filter(|c| !ENGINE_DEFAULT_CAPS.contains(&c.as_str()))
            .cloned()
            .collect();
        beyond.sort();
        beyond.dedup();
        if in_container && !beyond.is_empty() {
            extra.entry(beyond).or_default().push(p.pid);
        }
        if !creds.cap_ambient.is_empty() {
            ambient.entry(creds.cap_ambient.clone()).or_default().push(p.pid);
        }
        if !creds.cap_inheritable.is_empty() {
            inheritable.entry(creds.cap_inheritable.clone()).or_default().push(p.pid);
        }
        if in_container && p.threads.iter().any(|t| t.seccomp == "disabled") {
            no_seccomp.entry(()).or_default().push(p.pid);
        }
        uid0(cx, p, out);
    }
    let privileged = cx.spec.privileged;
    grouped(
        extra,
        |caps, pid, pids| {
            let dangerous: Vec<&String> = caps.iter().filter(|c| DANGEROUS_CAPS.contains(&c.as_str())).collect();
            Finding {
                id: "privileges.extra_capabilities",
                severity: if dangerous.is_empty() { Severity::Medium } else { Severity::High },
                pid,
                summary: format!(
                    "{} can use capabilities beyond a container engine's default set ({}){}: {}",
                    who(pid, pids),
                    caps.join(", "),
                    if privileged { ", the container was started privileged" } else { "" },
                    if dangerous.is_empty() {
                        "more power than a container needs by default"
                    } else {
                        "these let a process reach the host (mounts, modules, ptrace, raw devices)"
                    }
                ),
                evidence: json!({"pids": pids, "capabilities": caps, "dangerous": dangerous, "engine_default": ENGINE_DEFAULT_CAPS, "privileged": privileged}),
            }
        },
        out,
    );
    grouped(
        ambient,
        |caps, pid, pids| Finding {
            id: "privileges.ambient_capabilities",
            severity: Severity::High,
            pid,
            summary: format!(
                "{} has ambient capabilities ({}): every program it runs gets them, even without file capabilities",
                who(pid, pids),
                caps.join(", ")
            ),
            evidence: json!({"pids": pids, "cap_ambient": caps}),
        },
        out,
    );
    grouped(
        inheritable,
        |caps, pid, pids| Finding {
            id: "privileges.inheritable_capabilities",
            severity: Severity::Medium,
            pid,
            summary: format!(
                "{} has inheritable capabilities ({}): programs with matching file capabilities gain them at exec",
                who(pid, pids),
                caps.join(", ")
            ),
            evidence: json!({"pids": pids, "cap_inheritable": caps}),
        },
        out,
    );
    let spec_seccomp = cx.spec.seccomp;
    grouped(
        no_seccomp,
        |_, pid, pids| Finding {
            id: "privileges.seccomp_disabled",
            // Declared but absent cannot come from the engine: something ran outside the profile.
            severity: if spec_seccomp == Some(true) { Severity::High } else { Severity::Medium },
            pid,
            summary: format!(
                "{} runs without seccomp{}: every system call is open to it, including those container escapes use",
                who(pid, pids),
                match spec_seccomp {
                    Some(true) => " although the container spec declares a profile",
                    Some(false) => " (the container spec declares none: started unconfined)",
                    None => "",
                }
            ),
            evidence: json!({"pids": pids, "spec_declares_seccomp": spec_seccomp}),
        },
        out,
    );
}

fn uid0(cx: &Context<'_>, p: &crate::model::Process, out: &mut Vec<Finding>) {
    let Some(declared) = cx.spec.uid else { return };
    if declared == 0 {
        return;
    }
    let Some(c) = &p.creds else { return };
    if [c.uid, c.euid, c.suid, c.fsuid].contains(&0) {
        out.push(Finding {
            id: "privileges.unexpected_root",
            severity: Severity::High,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) runs with uid 0 (uid {} euid {} suid {} fsuid {}) in a container started as uid {declared}: a privilege escalation",
                p.pid, p.comm, c.uid, c.euid, c.suid, c.fsuid
            ),
            evidence: json!({"uid": c.uid, "euid": c.euid, "suid": c.suid, "fsuid": c.fsuid, "declared_uid": declared}),
        });
    }
}
