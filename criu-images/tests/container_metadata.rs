//! Container metadata of the real Podman and kubelet (CRI-O) archives,
//! checked against what podman printed (`podman-print-stats.json`), the
//! commands that made them (`commands.json`), the /proc ground truth
//! (`truth.json`) and the READMEs; then hostile variants of those members.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use criu_images::model::container::{deleted_files, dump_log_summary, ContainerInfo, DumpStats, Engine, MAX_METADATA_SIZE};
use criu_images::Error;
use proptest::prelude::*;
use serde_json::Value;

type Members = BTreeMap<String, Vec<u8>>;

fn lookup<'m>(members: &'m Members) -> impl Fn(&str) -> Option<&'m [u8]> + 'm {
    move |name: &str| members.get(name).map(Vec::as_slice)
}

fn container(members: &Members) -> ContainerInfo {
    ContainerInfo::from_members(lookup(members)).expect("metadata parses").expect("a container archive")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `(fixture dir, archive)` of every container archive among the fixtures.
fn archives() -> Vec<(&'static str, std::path::PathBuf)> {
    let root = common::fixtures_dir();
    vec![
        ("counter/none", root.join("counter/none/checkpoint.tar")),
        ("counter/gzip", root.join("counter/gzip/checkpoint.tar.gz")),
        ("counter/zstd", root.join("counter/zstd/checkpoint.tar.zst")),
        ("k8s-counter", common::k8s_counter_tar()),
        ("pytree", root.join("pytree/checkpoint.tar.gz")),
        ("threads", root.join("threads/checkpoint.tar.zst")),
    ]
}

fn podman_stats(dir: &str) -> Value {
    let stats = read_json(&common::fixtures_dir().join(dir).join("podman-print-stats.json"));
    stats["container_statistics"][0].clone()
}

#[test]
fn podman_counter_archives_on_the_bridge_network() {
    for (dir, archive) in archives().into_iter().filter(|(d, _)| d.starts_with("counter/")) {
        let info = container(&common::archive_members(&archive));
        let printed = podman_stats(dir);
        let commands = read_json(&common::fixtures_dir().join(dir).join("commands.json"));

        assert_eq!(info.engine, Engine::Podman, "{dir}");
        assert_eq!(info.runtime.as_deref(), Some("runc"), "{dir}");
        assert_eq!(info.name.as_deref(), printed["RawInput"].as_str(), "{dir}");
        assert_eq!(info.id.as_deref(), printed["Id"].as_str(), "{dir}");
        assert_eq!(info.id.as_deref(), commands["container_id"].as_str(), "{dir}");
        assert_eq!(info.image_name.as_deref(), Some("localhost/fx-base:latest"), "{dir}");
        assert_eq!(info.image_id.as_ref().map(String::len), Some(64), "{dir}");
        assert_eq!((info.pod.as_ref(), info.namespace.as_ref(), info.checkpointed.as_ref()), (None, None, None));
        assert!(info.created.as_deref().is_some_and(|t| t.starts_with("2026-11-28T20:")), "{dir}: {:?}", info.created);
        assert_eq!(info.log_member, Some("ctr.log"), "{dir}");
        assert!(info.log_path.as_deref().is_some_and(|p| p.ends_with("/userdata/ctr.log")), "{dir}");
        assert_eq!(info.annotations.get("io.container.manager").map(String::as_str), Some("libpod"));
        assert_eq!(info.bind_mounts, None, "{dir}");

        // `podman run` as commands.json recorded it, secret included.
        let run: Vec<&str> = commands["commands"][0]["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(info.create_command, run, "{dir}");

        // The README: podman's default bridge network, eth0 with IP and MAC.
        let network = info.network.as_ref().expect("network.status");
        assert_eq!(network.len(), 1, "{dir}: {network:?}");
        let eth0 = &network[0];
        assert_eq!((eth0.network.as_deref(), eth0.name.as_deref()), (Some("podman"), Some("eth0")));
        let mac = eth0.mac.as_deref().unwrap();
        assert!(mac.len() == 17 && mac.split(':').all(|b| u8::from_str_radix(b, 16).is_ok()), "{mac}");
        assert_eq!(eth0.addresses.len(), 1);
        assert_eq!(eth0.addresses[0].gateway.as_deref(), Some("10.88.0.1"));
        assert!(eth0.addresses[0].address.ends_with("/16"));
        let ip = info.primary_ip().unwrap();
        assert!(ip.starts_with("10.88.") && ip.parse::<std::net::Ipv4Addr>().is_ok(), "{dir}: {ip}");
        assert_eq!(eth0.addresses[0].ip().unwrap().to_string(), ip);
    }
    let none = container(&common::archive_members(&archives()[0].1));
    assert_eq!(none.primary_ip(), Some("10.88.0.12"));
}

#[test]
fn kubelet_archive_from_crio() {
    let dir = common::fixtures_dir().join("k8s-counter");
    let members = common::archive_members(&common::k8s_counter_tar());
    let info = container(&members);
    let commands = read_json(&dir.join("commands.json"));
    let crio = &commands["crio"];

    assert_eq!(info.engine, Engine::CriO);
    assert_eq!(info.engine.to_string(), "CRI-O");
    assert_eq!(info.name.as_deref(), crio["container"].as_str());
    assert_eq!(info.name.as_deref(), Some("counter"));
    assert_eq!(info.pod.as_deref(), crio["pod"].as_str());
    assert_eq!(info.namespace.as_deref(), crio["namespace"].as_str());
    assert_eq!(info.id.as_deref(), commands["container_id"].as_str());
    assert_eq!(info.runtime.as_deref(), Some("runc"));
    assert_eq!(info.image_name.as_deref(), Some("localhost/fx-base:latest"));
    assert_eq!(info.image_id.as_ref().map(String::len), Some(64));
    assert!(info.pod_id.is_some());
    assert_eq!(info.created.as_deref(), Some("2026-11-28T20:11:09.850862000Z"));
    // The kubelet file name's timestamp is the checkpoint time, to the second.
    let checkpointed = info.checkpointed.as_deref().unwrap();
    assert!(checkpointed.starts_with(&crio["checkpointed"].as_str().unwrap()[..19]), "{checkpointed}");
    assert_eq!(info.annotations.get("io.kubernetes.cri-o.Name").map(String::as_str), crio["crio_container_name"].as_str());
    // CRI-O writes no network.status, and this pod had no IP annotation.
    assert!(crio["ip"].is_null());
    assert_eq!((info.network.as_ref(), info.primary_ip()), (None, None));

    let bind = info.bind_mounts.as_ref().expect("bind.mounts");
    let destinations: Vec<_> = bind.iter().map(|b| b.destination.as_str()).collect();
    assert_eq!(destinations, ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"]);
    assert!(bind.iter().all(|b| b.file_type.as_deref() == Some("file") && b.permissions == Some(0o644)));

    assert_eq!(info.log_member, Some("io.kubernetes.cri-o.LogPath"));
    assert!(info.log_path.as_deref().unwrap().starts_with("/var/log/pods/default_counters_"));
    let log = String::from_utf8(members["io.kubernetes.cri-o.LogPath"].clone()).unwrap();
    assert!(log.lines().all(|l| l.contains(" stdout F counter: ")), "{log}");
}

#[test]
fn network_none_archives_have_a_null_network_status() {
    for dir in ["pytree", "threads"] {
        let (_, archive) = archives().into_iter().find(|(d, _)| *d == dir).unwrap();
        let members = common::archive_members(&archive);
        assert_eq!(members["network.status"], b"null");
        let info = container(&members);
        assert_eq!(info.engine, Engine::Podman);
        assert_eq!(info.name.as_deref(), podman_stats(dir)["RawInput"].as_str());
        assert_eq!(info.network, Some(vec![]), "{dir}");
        assert_eq!(info.primary_ip(), None);
    }
}

#[test]
fn process_spec_matches_the_proc_truth() {
    for (dir, archive) in archives() {
        let info = container(&common::archive_members(&archive));
        let truth = read_json(&common::fixtures_dir().join(dir).join("truth.json"));
        let init = &truth["processes"][0];
        let strings = |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
        let process = info.process.as_ref().expect("spec.dump process");
        assert_eq!(process.args, strings(&init["cmdline"]), "{dir}");
        // Same variables; the kernel keeps the order runc passed, which is the spec's.
        assert_eq!(process.env, strings(&init["environ"]), "{dir}");
        assert_eq!(process.cwd.as_deref(), init["cwd"].as_str(), "{dir}");
        assert_eq!((process.user.uid, process.user.gid), (Some(0), Some(0)), "{dir}");

        let hostname_env = process.env.iter().find_map(|e| e.strip_prefix("HOSTNAME="));
        assert_eq!(info.hostname.as_deref(), hostname_env, "{dir}");
        if dir == "pytree" {
            assert_eq!(info.hostname.as_deref(), Some("fx-pytree")); // --hostname fx-pytree
        }

        // cgroup v2 line "0::<path>" of /proc/PID/cgroup is the spec's cgroupsPath.
        let unified = strings(&init["cgroup"]).into_iter().find_map(|l| l.strip_prefix("0::").map(String::from));
        assert_eq!(info.cgroup_path, unified, "{dir}");
        assert!(info.cgroup_path.as_deref().unwrap().ends_with(info.id.as_deref().unwrap()), "{dir}");

        let destinations: BTreeSet<_> = info.mounts.iter().map(|m| m.destination.as_str()).collect();
        for expected in ["/proc", "/dev", "/sys", "/dev/shm", "/etc/hosts", "/etc/hostname"] {
            assert!(destinations.contains(expected), "{dir}: no {expected} in {destinations:?}");
        }
        // With --network none, podman bind-mounts no resolv.conf.
        let networked = info.network.as_ref().is_none_or(|n| !n.is_empty());
        assert_eq!(destinations.contains("/etc/resolv.conf"), networked, "{dir}");
    }
}

#[test]
fn pytree_bind_mount_of_usr_is_read_only() {
    let (_, archive) = archives().into_iter().find(|(d, _)| *d == "pytree").unwrap();
    let info = container(&common::archive_members(&archive));
    let usr = info.mounts.iter().find(|m| m.destination == "/usr").expect("-v /usr:/usr:ro");
    assert_eq!(usr.source.as_deref(), Some("/usr"));
    assert!(usr.options.iter().any(|o| o == "ro"), "{usr:?}");
    assert!(usr.options.iter().any(|o| o == "rbind"), "{usr:?}");
}

#[test]
fn dump_stats_equal_what_podman_printed() {
    for (dir, archive) in archives() {
        let members = common::archive_members(&archive);
        let stats = DumpStats::parse(&members["stats-dump"]).unwrap().expect("a dump entry");
        let printed = podman_stats(dir);
        let printed = printed["criu_statistics"].as_object().unwrap();
        let ours = [
            ("freezing_time", stats.freezing_time),
            ("frozen_time", stats.frozen_time),
            ("memdump_time", stats.memdump_time),
            ("memwrite_time", stats.memwrite_time),
            ("pages_scanned", stats.pages_scanned),
            ("pages_skipped_parent", stats.pages_skipped_parent),
            ("pages_written", stats.pages_written),
            ("irmap_resolve", stats.irmap_resolve),
            ("pages_lazy", stats.pages_lazy),
            ("page_pipes", stats.page_pipes),
            ("page_pipe_bufs", stats.page_pipe_bufs),
            ("shpages_scanned", stats.shpages_scanned),
            ("shpages_skipped_parent", stats.shpages_skipped_parent),
            ("shpages_written", stats.shpages_written),
        ];
        assert_eq!(printed.len(), 6, "{dir}: podman prints six of the fields");
        for (key, value) in printed {
            let ours = ours.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("{dir}: unknown {key}")).1;
            assert_eq!(ours, value.as_u64(), "{dir}: {key}");
        }
        // CRIU 4.2 writes every field; podman just does not print them all.
        assert!(ours.iter().all(|(_, v)| v.is_some()), "{dir}: {stats:?}");
        assert_eq!(stats.pages_skipped_parent, Some(0), "{dir}: no pre-dump");
    }
}

#[test]
fn dump_log_of_the_kubelet_archive() {
    let members = common::archive_members(&common::k8s_counter_tar());
    let log = dump_log_summary(&members["dump.log"]);
    assert_eq!(log.version.as_deref(), Some("4.2 (gitid 0)"));
    assert_eq!(log.total_lines, 844);
    // runc's CRIU config asks for a bigger RLIMIT_NOFILE; CRIU logs it and goes on.
    assert_eq!(log.error_count, 1);
    assert_eq!(log.errors[0].number, 68);
    assert!(log.errors[0].text.contains("Can't setup RLIMIT_NOFILE"));
    assert_eq!((log.warning_count, log.warnings.len()), (0, 0));
    assert_eq!(log.finished, Some(true));
    // The same log is kept beside the archive.
    let kept = std::fs::read(common::fixtures_dir().join("k8s-counter/criu-dump.log")).unwrap();
    assert_eq!(dump_log_summary(&kept), log);
}

#[test]
fn dump_logs_kept_beside_podman_archives() {
    // Podman 4.3 leaves dump.log out of the archive; the fixtures keep it beside.
    let members = common::archive_members(&archives()[5].1);
    assert!(!members.contains_key("dump.log"));
    let bytes = std::fs::read(common::fixtures_dir().join("threads/criu-dump.log")).unwrap();
    let log = dump_log_summary(&bytes);
    assert_eq!(log.warning_count, 8, "one per interrupted sigwaitinfo/futex thread");
    assert!(log.warnings.iter().all(|w| w.text.contains("with interrupted system call")));
    assert_eq!((log.error_count, log.finished), (1, Some(true)));
    assert_eq!(log.total_lines, bytes.split(|&b| b == b'\n').count() - 1, "the log ends with a newline");
}

#[test]
fn no_fixture_deletes_image_files() {
    // No fixture program deletes a file of its image, so no archive has
    // deleted.files (the unit tests cover its forms); rootfs-diff.tar is there.
    for (dir, archive) in archives() {
        let members = common::archive_members(&archive);
        assert!(!members.contains_key("deleted.files"), "{dir}");
        assert!(members.contains_key("rootfs-diff.tar"), "{dir}");
    }
}

#[test]
fn plain_image_directories_are_not_containers() {
    let dir = common::fixtures_dir().join("counter-host/images");
    let mut members = Members::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        members.insert(entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap());
    }
    assert!(members.contains_key("stats-dump"), "counter-host keeps stats-dump in the image dir");
    assert_eq!(ContainerInfo::from_members(lookup(&members)).unwrap(), None);
    assert!(DumpStats::parse(&members["stats-dump"]).unwrap().is_some());
}

// ---- hostile inputs: errors, never panics ------------------------------------------------

/// counter/none's members, unpacked once for all the hostile cases.
fn counter_members() -> &'static Members {
    static MEMBERS: std::sync::OnceLock<Members> = std::sync::OnceLock::new();
    MEMBERS.get_or_init(|| common::archive_members(&archives()[0].1))
}

fn with(members: &Members, name: &str, bytes: Vec<u8>) -> Members {
    let mut members = members.clone();
    members.insert(name.to_string(), bytes);
    members
}

fn edited_spec(members: &Members, edit: impl FnOnce(&mut Value)) -> Members {
    let mut spec: Value = serde_json::from_slice(&members["spec.dump"]).unwrap();
    edit(&mut spec);
    with(members, "spec.dump", serde_json::to_vec(&spec).unwrap())
}

#[test]
fn truncated_members_are_json_errors() {
    let members = counter_members();
    for name in ["config.dump", "spec.dump", "network.status"] {
        let whole = &members[name];
        for cut in [0, 1, whole.len() / 3, whole.len() / 2, whole.len() - 1] {
            let err = ContainerInfo::from_members(lookup(&with(members, name, whole[..cut].to_vec()))).expect_err("a truncated member");
            let Error::Json { file, line, .. } = &err else { panic!("{name} cut at {cut}: {err:?}") };
            assert_eq!(file, name);
            assert!(*line >= 1, "{err}");
        }
    }
    let stats = &members["stats-dump"];
    for cut in 0..stats.len() {
        let parsed = DumpStats::parse(&stats[..cut]);
        if cut == 8 {
            // Both magics and no entry: a valid, empty STATS image.
            assert_eq!(parsed.unwrap(), None);
        } else {
            assert!(parsed.is_err(), "stats-dump cut at {cut}");
        }
    }
}

#[test]
fn wrong_types_in_real_members_name_the_path() {
    let members = counter_members();
    let cases: Vec<(Members, &str)> = vec![
        (edited_spec(members, |s| s["process"]["args"] = Value::from(5)), "$.process.args: expected an array"),
        (edited_spec(members, |s| s["process"]["env"][3] = Value::Null), "$.process.env[3]: expected a string"),
        (edited_spec(members, |s| s["mounts"][2]["options"] = Value::from("ro")), "$.mounts[2].options"),
        (edited_spec(members, |s| s["linux"] = Value::from(true)), "$.linux: expected an object"),
        (edited_spec(members, |s| s["process"]["user"]["uid"] = Value::from(-5)), "$.process.user.uid"),
        (with(members, "config.dump", br#"{"name": {"first": "x"}}"#.to_vec()), "$.name: expected a string"),
        (with(members, "network.status", br#"{"podman": {"interfaces": []}}"#.to_vec()), "$.podman.interfaces"),
        (with(members, "network.status", br#""eth0""#.to_vec()), "network.status"),
    ];
    for (members, expected) in cases {
        let err = ContainerInfo::from_members(lookup(&members)).expect_err(expected);
        assert!(matches!(err, Error::Malformed { .. }), "{expected}: {err:?}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

#[test]
fn huge_members_are_refused() {
    let members = counter_members();
    // Far below the size cap, but far more values than any real spec.
    let args: Vec<Value> = (0..300_000).map(|_| Value::from("")).collect();
    let err =
        ContainerInfo::from_members(lookup(&edited_spec(members, |s| s["process"]["args"] = args.into()))).expect_err("too many values");
    assert!(matches!(&err, Error::Json { file, detail, .. } if file == "spec.dump" && detail.contains("JSON values")));

    let mut big = b"[".to_vec();
    big.resize(MAX_METADATA_SIZE + 1, b' ');
    for name in ["config.dump", "spec.dump", "network.status", "bind.mounts"] {
        let err = ContainerInfo::from_members(lookup(&with(members, name, big.clone()))).expect_err(name);
        assert!(matches!(&err, Error::Limit { file, .. } if file == name), "{err:?}");
    }
    assert!(matches!(deleted_files(&big), Err(Error::Limit { .. })));

    let deep = "[".repeat(10_000);
    assert!(matches!(deleted_files(deep.as_bytes()), Err(Error::Json { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutated_real_members_never_panic(
        member in prop::sample::select(vec!["config.dump", "spec.dump", "network.status", "stats-dump"]),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let members = counter_members();
        let mut bytes = members[member].clone();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = ContainerInfo::from_members(lookup(&with(members, member, bytes.clone())));
        let _ = DumpStats::parse(&bytes);
        let _ = deleted_files(&bytes);
        let _ = dump_log_summary(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let members = with(&with(&Members::new(), "config.dump", b"{}".to_vec()), "spec.dump", bytes.clone());
        let _ = ContainerInfo::from_members(lookup(&members));
        let _ = DumpStats::parse(&bytes);
        let _ = deleted_files(&bytes);
        let _ = dump_log_summary(&bytes);
    }
}
