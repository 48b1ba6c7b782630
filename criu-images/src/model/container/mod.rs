//! The container a checkpoint came from, read from the metadata members that
//! Podman, CRI-O and containerd put beside CRIU's images in their archives.
//!
//! | member | written by | read into |
//! |---|---|---|
//! | `config.dump` | all (Podman: libpod's whole container config; CRI-O, containerd: a reduced one) | [`ContainerInfo`]: id, name, image, runtime, times |
//! | `spec.dump` | all: the OCI runtime spec the container ran with | [`ContainerInfo`]: engine, hostname, process, mounts, annotations, cgroup |
//! | `network.status` | Podman | [`ContainerInfo::network`] |
//! | `bind.mounts` | CRI-O | [`ContainerInfo::bind_mounts`] |
//! | `stats-dump` | all: CRIU's STATS image | [`DumpStats`] |
//! | `dump.log` | CRI-O (Podman 4 keeps it out of the archive) | [`DumpLog`] |
//! | `deleted.files` | Podman, CRI-O: files deleted from the image's rootfs | [`deleted_files`] |
//!
//! Nothing here opens an archive: [`ContainerInfo::from_members`] takes a
//! lookup of members by their path from the archive top, so a directory, a
//! tar or a compressed tar feed it alike. See `docs/container.md` for where
//! each field comes from, per engine.
//!
//! All of it is attacker-controlled: JSON members larger than
//! [`MAX_METADATA_SIZE`] are refused, absent or `null` fields are simply
//! absent, and a field of the wrong type is an [`Error::Malformed`] naming the
//! member and the JSON path. Nothing panics on bad input.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::bounded_json::{self, Node};
use crate::error::{Error, Result};

mod deleted_files;
mod dump_log;
mod dump_stats;
mod image;
mod mounts;
mod network;
mod oci;

pub use deleted_files::deleted_files;
pub use dump_log::{dump_log_summary, DumpLog, LogLine, MAX_LOG_LINES};
pub use dump_stats::DumpStats;
pub use image::from_image;
pub use mounts::BindMount;
pub use network::{IpAddress, NetworkInterface};
pub use oci::{OciMount, OciProcess, OciUser};

use mounts::parse_bind_mounts;
use network::{crio_ip_annotations, parse_network_status, strip_prefix_len};
use oci::{oci_mount, oci_process};

/// Largest metadata member read (`config.dump`, `spec.dump`, ...). Real ones
/// are tens of KiB; this only stops hostile archives from exhausting memory.
pub const MAX_METADATA_SIZE: usize = 64 << 20;

/// Names of the archive members this module reads, from the archive top.
pub mod members {
    /// The engine's container configuration (JSON).
    pub const CONFIG_DUMP: &str = "config.dump";
    /// The OCI runtime spec the container ran with (JSON).
    pub const SPEC_DUMP: &str = "spec.dump";
    /// Podman's network status of the container (JSON, or `null`).
    pub const NETWORK_STATUS: &str = "network.status";
    /// CRI-O's list of the bind mounts it created for the container (JSON).
    pub const BIND_MOUNTS: &str = "bind.mounts";
    /// CRIU's dump statistics (a STATS image).
    pub const STATS_DUMP: &str = "stats-dump";
    /// CRIU's log of the dump.
    pub const DUMP_LOG: &str = "dump.log";
    /// Files deleted from the container's root file system (JSON list).
    pub const DELETED_FILES: &str = "deleted.files";
    /// The container's log as CRI-O exports it, named after the annotation
    /// that holds its original path.
    pub const CRIO_LOG: &str = "io.kubernetes.cri-o.LogPath";
    /// The container's log (stdout/stderr) as Podman exports it.
    pub const PODMAN_LOG: &str = "ctr.log";
}

use members::*;

/// Annotation keys, as the engines write them into `spec.dump`.
mod keys {
    pub const MANAGER: &str = "io.container.manager";
    pub const CRIO_METADATA: &str = "io.kubernetes.cri-o.Metadata";
    pub const CRIO_CREATED: &str = "io.kubernetes.cri-o.Created";
    pub const CRIO_CONTAINER_ID: &str = "io.kubernetes.cri-o.ContainerID";
    pub const CRIO_SANDBOX_ID: &str = "io.kubernetes.cri-o.SandboxID";
    pub const CRIO_IMAGE_NAME: &str = "io.kubernetes.cri-o.ImageName";
    pub const CRIO_IMAGE_REF: &str = "io.kubernetes.cri-o.ImageRef";
    pub const CRIO_LOG_PATH: &str = "io.kubernetes.cri-o.LogPath";
    pub const CRIO_IP_PREFIX: &str = "io.kubernetes.cri-o.IP.";
    pub const K8S_CONTAINER_NAME: &str = "io.kubernetes.container.name";
    pub const K8S_POD_NAME: &str = "io.kubernetes.pod.name";
    pub const K8S_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
    pub const CRI_CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
    pub const CRI_SANDBOX_NAME: &str = "io.kubernetes.cri.sandbox-name";
    pub const CRI_SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
    pub const CRI_SANDBOX_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
    pub const CRI_IMAGE_NAME: &str = "io.kubernetes.cri.image-name";
}

/// The container engine that wrote the checkpoint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Engine {
    /// Podman (`io.container.manager` = `libpod`).
    Podman,
    /// CRI-O, usually for the kubelet (`io.container.manager` = `cri-o`).
    CriO,
    /// containerd: any other value, or none.
    Containerd,
}

impl Engine {
    /// The engine named by the `io.container.manager` annotation, inferred
    /// the way checkpointctl does: `libpod` is Podman, `cri-o` is CRI-O, and
    /// anything else (containerd sets none) is containerd.
    pub fn from_manager(manager: Option<&str>) -> Engine {
        match manager {
            Some("libpod") => Engine::Podman,
            Some("cri-o") => Engine::CriO,
            _ => Engine::Containerd,
        }
    }

    /// `"Podman"`, `"CRI-O"` or `"containerd"`, as checkpointctl prints it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Podman => "Podman",
            Engine::CriO => "CRI-O",
            Engine::Containerd => "containerd",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The container a checkpoint archive came from.
///
/// Strings are copied out of the members (they are small, and this outlives
/// the parsed JSON). Fields an engine does not record are `None` or empty;
/// times are the strings the engine stored (RFC 3339), not reparsed, with Go's
/// zero time (`0001-01-01T00:00:00Z`, "never") read as `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    /// The engine, from the `io.container.manager` annotation.
    pub engine: Engine,
    /// The OCI runtime that ran the container, e.g. `runc` (`config.dump` `runtime`).
    pub runtime: Option<String>,
    /// The container's name: Podman's `--name`; for Kubernetes engines the
    /// container name of the pod spec (e.g. `counter`, not CRI-O's
    /// `k8s_counter_<pod>_<ns>_<uid>_0`, which is in [`annotations`](Self::annotations)).
    pub name: Option<String>,
    /// The container id (64 hex digits).
    pub id: Option<String>,
    /// The image the container was created from, e.g. `localhost/app:latest`.
    pub image_name: Option<String>,
    /// The image's id or reference (a digest or 64 hex digits).
    pub image_id: Option<String>,
    /// Kubernetes pod name (CRI-O, containerd).
    pub pod: Option<String>,
    /// The pod or sandbox id: Podman's pod id, CRI-O's and containerd's sandbox id.
    pub pod_id: Option<String>,
    /// Kubernetes namespace of the pod (CRI-O, containerd).
    pub namespace: Option<String>,
    /// When the container was created (RFC 3339, as stored).
    pub created: Option<String>,
    /// When it was checkpointed (RFC 3339, as stored; CRI-O and containerd only).
    pub checkpointed: Option<String>,
    /// The hostname inside the container (`spec.dump` `hostname`).
    pub hostname: Option<String>,
    /// The container's init process as the OCI spec defines it.
    pub process: Option<OciProcess>,
    /// Mounts of the OCI spec, in order.
    pub mounts: Vec<OciMount>,
    /// Annotations of the OCI spec, sorted by key.
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup path (`spec.dump` `linux.cgroupsPath`).
    pub cgroup_path: Option<String>,
    /// Network interfaces: from Podman's `network.status` (an empty list when
    /// it is `null`, as with `--network none`), or CRI-O's
    /// `io.kubernetes.cri-o.IP.<n>` annotations; `None` when neither exists.
    pub network: Option<Vec<NetworkInterface>>,
    /// CRI-O's `bind.mounts`, when present.
    pub bind_mounts: Option<Vec<BindMount>>,
    /// Where the engine wrote the container's log on the host.
    pub log_path: Option<String>,
    /// The archive member holding a copy of the container's log, if any
    /// (`ctr.log` for Podman, `io.kubernetes.cri-o.LogPath` for CRI-O).
    pub log_member: Option<&'static str>,
    /// The command line that created the container (Podman's `CreateCommand`:
    /// it shows `-e NAME=value` secrets and volumes as given).
    pub create_command: Vec<String>,
}

impl ContainerInfo {
    /// Reads the container metadata of a checkpoint archive. `member` returns
    /// the bytes of a member by its path from the archive top (`config.dump`,
    /// `spec.dump`, `network.status`, ...), or `None` if there is no such
    /// member.
    ///
    /// Returns `Ok(None)` for a plain CRIU image directory, which has neither
    /// `config.dump` nor `spec.dump`. Every engine writes both, so one without
    /// the other is an [`Error::NotFound`].
    ///
    /// ```
    /// use criu_images::model::container::{ContainerInfo, Engine};
    ///
    /// let config = br#"{"id": "4f2a", "name": "web", "runtime": "runc",
    ///                   "rootfsImageName": "docker.io/library/nginx:latest"}"#;
    /// let spec = br#"{"hostname": "4f2a", "process": {"args": ["nginx"]},
    ///                 "annotations": {"io.container.manager": "libpod"}}"#;
    /// let member = |name: &str| match name {
    ///     "config.dump" => Some(&config[..]),
    ///     "spec.dump" => Some(&spec[..]),
    ///     "network.status" => Some(&b"null"[..]),
    ///     _ => None,
    /// };
    /// let info = ContainerInfo::from_members(member)?.expect("a container archive");
    /// assert_eq!(info.engine, Engine::Podman);
    /// assert_eq!(info.name.as_deref(), Some("web"));
    /// assert_eq!(info.network, Some(vec![])); // --network none
    /// # Ok::<(), criu_images::Error>(())
    /// ```
    pub fn from_members<'a>(member: impl Fn(&str) -> Option<&'a [u8]>) -> Result<Option<ContainerInfo>> {
        ContainerInfo::try_from_members(|name| Ok(member(name)))
    }

    /// Like [`ContainerInfo::from_members`], for a lookup that can fail: a
    /// member that is present but cannot be read is an error of its own,
    /// returned as it is, never taken for an absent member.
    pub fn try_from_members<'a>(member: impl Fn(&str) -> Result<Option<&'a [u8]>>) -> Result<Option<ContainerInfo>> {
        let (config_bytes, spec_bytes) = match (member(CONFIG_DUMP)?, member(SPEC_DUMP)?) {
            (None, None) => return Ok(None),
            (Some(config), Some(spec)) => (config, spec),
            (Some(_), None) => return Err(missing_partner(SPEC_DUMP, CONFIG_DUMP)),
            (None, Some(_)) => return Err(missing_partner(CONFIG_DUMP, SPEC_DUMP)),
        };
        let config_value = bounded_json::parse(CONFIG_DUMP, config_bytes, MAX_METADATA_SIZE)?;
        let spec_value = bounded_json::parse(SPEC_DUMP, spec_bytes, MAX_METADATA_SIZE)?;
        let config = object_root(CONFIG_DUMP, &config_value)?;
        let spec = object_root(SPEC_DUMP, &spec_value)?;

        let annotations = spec.str_map("annotations")?;
        let annotation = |key: &str| annotations.get(key).cloned();
        let engine = Engine::from_manager(annotations.get(keys::MANAGER).map(String::as_str));

        // Where the Kubernetes engines keep names differs; checkpointctl reads
        // the same annotations.
        let config_name = config.opt_str("name")?;
        let (name, pod, pod_id, namespace) = match engine {
            Engine::Podman => (config_name, None, config.opt_str("pod")?, None),
            Engine::CriO => (
                crio_metadata_name(&spec, &annotations)?.or_else(|| annotation(keys::K8S_CONTAINER_NAME)).or(config_name),
                annotation(keys::K8S_POD_NAME),
                annotation(keys::CRIO_SANDBOX_ID),
                annotation(keys::K8S_POD_NAMESPACE),
            ),
            Engine::Containerd => (
                annotation(keys::CRI_CONTAINER_NAME).or(config_name),
                annotation(keys::CRI_SANDBOX_NAME),
                annotation(keys::CRI_SANDBOX_ID),
                annotation(keys::CRI_SANDBOX_NAMESPACE),
            ),
        };

        let config_created = config.opt_str("createdTime")?;
        let created = match engine {
            // checkpointctl shows CRI-O's annotation, the others' config.
            Engine::CriO => annotation(keys::CRIO_CREATED).or(config_created),
            _ => config_created.or_else(|| annotation(keys::CRIO_CREATED)),
        };

        let network = match member(NETWORK_STATUS)? {
            Some(bytes) => Some(parse_network_status(bytes)?),
            None => crio_ip_annotations(&annotations),
        };
        let bind_mounts = member(BIND_MOUNTS)?.map(parse_bind_mounts).transpose()?;
        let mut log_member = None;
        for name in [CRIO_LOG, PODMAN_LOG] {
            if member(name)?.is_some() {
                log_member = Some(name);
                break;
            }
        }

        let process = spec.get("process")?.map(|node| oci_process(&node)).transpose()?;
        let mounts = spec.list("mounts")?.iter().map(oci_mount).collect::<Result<_>>()?;
        let cgroup_path = match spec.get("linux")? {
            Some(linux) => linux.opt_str("cgroupsPath")?,
            None => None,
        };

        Ok(Some(ContainerInfo {
            engine,
            runtime: config.opt_str("runtime")?,
            name,
            id: config.opt_str("id")?.or_else(|| annotation(keys::CRIO_CONTAINER_ID)),
            image_name: first_of(&config, &["rootfsImageName", "RawImageName", "rootfsImage"])?
                .or_else(|| annotation(keys::CRIO_IMAGE_NAME))
                .or_else(|| annotation(keys::CRI_IMAGE_NAME)),
            image_id: first_of(&config, &["rootfsImageID", "rootfsImageRef"])?.or_else(|| annotation(keys::CRIO_IMAGE_REF)),
            pod,
            pod_id,
            namespace,
            created: not_zero_time(created),
            checkpointed: not_zero_time(config.opt_str("checkpointedTime")?),
            hostname: spec.opt_str("hostname")?,
            process,
            mounts,
            cgroup_path,
            network,
            bind_mounts,
            log_path: annotation(keys::CRIO_LOG_PATH).or(config.opt_str("logPath")?),
            log_member,
            create_command: config.str_list("CreateCommand")?,
            annotations,
        }))
    }

    /// The container's first IP address without prefix length, as
    /// checkpointctl shows it (`10.88.0.12`).
    pub fn primary_ip(&self) -> Option<&str> {
        let interfaces = self.network.as_deref()?;
        interfaces.iter().flat_map(|i| &i.addresses).map(|a| strip_prefix_len(&a.address)).next()
    }

    /// The `container` object of `inspect --format json` (docs/inspect.md),
    /// also `Checkpoint.container` in Python.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "engine": self.engine.name(),
            "runtime": self.runtime,
            "name": self.name,
            "id": self.id,
            "image": self.image_name,
            "image_id": self.image_id,
            "pod": self.pod,
            "namespace": self.namespace,
            "created": self.created,
            "checkpointed": self.checkpointed,
            "hostname": self.hostname,
            "ip": self.primary_ip(),
            "network": self.network.as_ref().map(|interfaces| interfaces.iter().map(|i| serde_json::json!({
                "network": i.network, "name": i.name, "mac": i.mac,
                "addresses": i.addresses.iter().map(|a| serde_json::json!({"address": a.address, "gateway": a.gateway})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()),
            "cgroup_path": self.cgroup_path,
            "annotations": self.annotations,
            "create_command": self.create_command,
        })
    }
}

fn missing_partner(absent: &str, present: &str) -> Error {
    Error::NotFound {
        container: "container checkpoint".to_string(),
        name: format!("member {absent}"),
        hint: format!(" ({present} is present, and every engine writes both)"),
    }
}

fn object_root<'v>(member: &'v str, value: &'v Value) -> Result<Node<'v>> {
    let root = Node::root(member, value);
    match value {
        Value::Object(_) => Ok(root),
        _ => Err(root.error("a JSON object")),
    }
}

/// The first of `keys` present in `node`, as a string.
fn first_of(node: &Node<'_>, keys: &[&str]) -> Result<Option<String>> {
    for key in keys {
        if let Some(value) = node.opt_str(key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// Go writes an unset `time.Time` as its zero value; that means "never".
fn not_zero_time(time: Option<String>) -> Option<String> {
    time.filter(|t| !t.starts_with("0001-01-01T00:00:00"))
}

/// The container name from CRI-O's `io.kubernetes.cri-o.Metadata`, itself a
/// JSON document (`{"name": "counter", "attempt": 0}`).
fn crio_metadata_name(spec: &Node<'_>, annotations: &BTreeMap<String, String>) -> Result<Option<String>> {
    let Some(text) = annotations.get(keys::CRIO_METADATA) else { return Ok(None) };
    let label = format!("{SPEC_DUMP} annotation {}", keys::CRIO_METADATA);
    let value = bounded_json::parse(&label, text.as_bytes(), MAX_METADATA_SIZE)?;
    let path = format!("{}.annotations[\"{}\"]", spec.path(), keys::CRIO_METADATA);
    let metadata = Node::nested(SPEC_DUMP, &value, path);
    match metadata.value() {
        Value::Object(_) => metadata.opt_str("name"),
        _ => Err(metadata.error("a JSON object in the string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Members = Vec<(&'static str, Vec<u8>)>;

    fn info(members: &Members) -> Result<Option<ContainerInfo>> {
        ContainerInfo::from_members(|name| members.iter().find(|(n, _)| *n == name).map(|(_, bytes)| bytes.as_slice()))
    }

    fn podman(spec: &str, network: Option<&str>) -> Members {
        let config = r#"{"id": "abc", "name": "fx", "runtime": "crun", "rootfsImageName": "img:1",
            "rootfsImageID": "c5fa", "createdTime": "2026-11-28T20:10:28.153239847Z",
            "CreateCommand": ["podman", "run", "img:1"], "logPath": "/x/ctr.log"}"#;
        let mut members = vec![(CONFIG_DUMP, config.as_bytes().to_vec()), (SPEC_DUMP, spec.as_bytes().to_vec())];
        if let Some(network) = network {
            members.push((NETWORK_STATUS, network.as_bytes().to_vec()));
        }
        members
    }

    const PODMAN_SPEC: &str = r#"{"hostname": "abc", "annotations": {"io.container.manager": "libpod"},
        "process": {"user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [10]},
                    "args": ["/bin/app", "-v"], "env": ["A=1"], "cwd": "/srv"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
                   {"destination": "/data"}],
        "linux": {"cgroupsPath": "/libpod_parent/libpod-abc"}}"#;

    #[test]
    fn plain_image_directories_have_no_container() {
        assert_eq!(info(&vec![("inventory.img", vec![1, 2, 3])]).unwrap(), None);
    }

    #[test]
    fn one_of_config_and_spec_is_not_found() {
        let err = info(&vec![(CONFIG_DUMP, b"{}".to_vec())]).unwrap_err();
        assert!(matches!(&err, Error::NotFound { name, .. } if name == "member spec.dump"), "{err}");
        let err = info(&vec![(SPEC_DUMP, b"{}".to_vec())]).unwrap_err();
        assert!(err.to_string().contains("config.dump"), "{err}");
    }

    #[test]
    fn podman_fields() {
        let network = r#"{"podman": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.12/16",
            "gateway": "10.88.0.1"}], "mac_address": "52:2b:71:46:f0:2d"}}}}"#;
        let mut members = podman(PODMAN_SPEC, Some(network));
        members.push((PODMAN_LOG, b"".to_vec()));
        let info = info(&members).unwrap().unwrap();
        assert_eq!(info.engine, Engine::Podman);
        assert_eq!(info.engine.to_string(), "Podman");
        assert_eq!(info.runtime.as_deref(), Some("crun"));
        assert_eq!((info.name.as_deref(), info.id.as_deref()), (Some("fx"), Some("abc")));
        assert_eq!((info.image_name.as_deref(), info.image_id.as_deref()), (Some("img:1"), Some("c5fa")));
        assert_eq!(info.created.as_deref(), Some("2026-11-28T20:10:28.153239847Z"));
        assert_eq!((info.pod.as_deref(), info.namespace.as_deref(), info.checkpointed.as_deref()), (None, None, None));
        assert_eq!(info.hostname.as_deref(), Some("abc"));
        let process = info.process.as_ref().unwrap();
        assert_eq!(process.args, ["/bin/app", "-v"]);
        assert_eq!(process.cwd.as_deref(), Some("/srv"));
        assert_eq!(process.user, OciUser { uid: Some(0), gid: Some(0), umask: Some(18), additional_gids: vec![10], username: None });
        assert_eq!(info.mounts.len(), 2);
        assert_eq!(info.mounts[1], OciMount { destination: "/data".into(), fs_type: None, source: None, options: vec![] });
        assert_eq!(info.cgroup_path.as_deref(), Some("/libpod_parent/libpod-abc"));
        assert_eq!(info.primary_ip(), Some("10.88.0.12"));
        let eth0 = &info.network.as_ref().unwrap()[0];
        assert_eq!((eth0.network.as_deref(), eth0.name.as_deref()), (Some("podman"), Some("eth0")));
        assert_eq!(eth0.addresses[0].gateway.as_deref(), Some("10.88.0.1"));
        assert_eq!(eth0.addresses[0].ip(), Some("10.88.0.12".parse().unwrap()));
        assert_eq!(info.log_member, Some(PODMAN_LOG));
        assert_eq!(info.log_path.as_deref(), Some("/x/ctr.log"));
        assert_eq!(info.create_command, ["podman", "run", "img:1"]);
        assert_eq!(info.bind_mounts, None);
    }

    #[test]
    fn network_status_null_absent_and_sorted() {
        let none = info(&podman(PODMAN_SPEC, Some("null"))).unwrap().unwrap();
        assert_eq!(none.network, Some(vec![]));
        assert_eq!(none.primary_ip(), None);
        let absent = info(&podman(PODMAN_SPEC, None)).unwrap().unwrap();
        assert_eq!(absent.network, None);
        let two = r#"{"zz": {"interfaces": {"eth1": {}}}, "aa": {"interfaces": {"eth0": {"subnets": null}}}}"#;
        let two = info(&podman(PODMAN_SPEC, Some(two))).unwrap().unwrap().network.unwrap();
        let names: Vec<_> = two.iter().map(|i| i.network.as_deref().unwrap()).collect();
        assert_eq!(names, ["aa", "zz"]);
    }

    #[test]
    fn cni_network_status() {
        let cni = r#"[{"cniVersion": "0.4.0",
            "interfaces": [{"name": "cni-podman0", "mac": "aa:aa"}, {"name": "vethX", "mac": "bb:bb"},
                           {"name": "eth0", "mac": "cc:cc", "sandbox": "/run/netns/x"}],
            "ips": [{"version": "4", "interface": 2, "address": "10.88.0.5/16", "gateway": "10.88.0.1"},
                    {"version": "6", "address": "fd00::5/64"}]}]"#;
        let network = info(&podman(PODMAN_SPEC, Some(cni))).unwrap().unwrap().network.unwrap();
        assert_eq!(network.len(), 2);
        assert_eq!((network[0].name.as_deref(), network[0].mac.as_deref()), (Some("eth0"), Some("cc:cc")));
        assert_eq!(network[0].addresses[0].address, "10.88.0.5/16");
        assert_eq!(network[1].name, None);
        assert_eq!(network[1].addresses[0].ip(), Some("fd00::5".parse().unwrap()));
    }

    #[test]
    fn crio_fields_from_annotations() {
        let config = r#"{"id": "92ad", "name": "k8s_counter_counters_default_uid_0", "runtime": "runc",
            "rootfsImageName": "img:1", "rootfsImageRef": "c5fa",
            "createdTime": "2026-11-28T20:11:09.850862000Z", "checkpointedTime": "2026-11-28T20:11:13.925663000Z",
            "restoredTime": "0001-01-01T00:00:00Z"}"#;
        let spec = r#"{"annotations": {"io.container.manager": "cri-o",
            "io.kubernetes.cri-o.Metadata": "{\"name\": \"counter\", \"attempt\": 0}",
            "io.kubernetes.cri-o.Created": "2026-11-28T20:11:09.85Z",
            "io.kubernetes.cri-o.SandboxID": "8631", "io.kubernetes.cri-o.LogPath": "/var/log/pods/x/0.log",
            "io.kubernetes.cri-o.IP.1": "fd00::2", "io.kubernetes.cri-o.IP.0": "10.0.0.2",
            "io.kubernetes.pod.name": "counters", "io.kubernetes.pod.namespace": "default"}}"#;
        let bind = r#"[{"source": "/run/x/resolv.conf", "destination": "/etc/resolv.conf",
            "file_type": "file", "permissions": 420}]"#;
        let members: Members =
            vec![(CONFIG_DUMP, config.into()), (SPEC_DUMP, spec.into()), (BIND_MOUNTS, bind.into()), (CRIO_LOG, b"log".to_vec())];
        let info = info(&members).unwrap().unwrap();
        assert_eq!(info.engine, Engine::CriO);
        assert_eq!(info.engine.name(), "CRI-O");
        assert_eq!(info.name.as_deref(), Some("counter"));
        assert_eq!((info.pod.as_deref(), info.namespace.as_deref()), (Some("counters"), Some("default")));
        assert_eq!(info.pod_id.as_deref(), Some("8631"));
        assert_eq!(info.created.as_deref(), Some("2026-11-28T20:11:09.85Z"));
        assert_eq!(info.checkpointed.as_deref(), Some("2026-11-28T20:11:13.925663000Z"));
        assert_eq!(info.image_id.as_deref(), Some("c5fa"));
        assert_eq!(info.primary_ip(), Some("10.0.0.2"));
        assert_eq!(info.network.as_ref().unwrap()[0].addresses[1].address, "fd00::2");
        let bind = &info.bind_mounts.as_ref().unwrap()[0];
        assert_eq!((bind.destination.as_str(), bind.permissions), ("/etc/resolv.conf", Some(0o644)));
        assert_eq!(info.log_member, Some(CRIO_LOG));
        assert_eq!(info.log_path.as_deref(), Some("/var/log/pods/x/0.log"));
        assert_eq!(info.process, None);
    }

    #[test]
    fn containerd_is_the_default_engine() {
        assert_eq!(Engine::from_manager(None), Engine::Containerd);
        assert_eq!(Engine::from_manager(Some("something")), Engine::Containerd);
        let spec = r#"{"annotations": {"io.kubernetes.cri.container-name": "web",
            "io.kubernetes.cri.sandbox-name": "pod1", "io.kubernetes.cri.sandbox-namespace": "prod",
            "io.kubernetes.cri.image-name": "docker.io/library/nginx:1"}}"#;
        let members: Members = vec![(CONFIG_DUMP, br#"{"name": "ignored"}"#.to_vec()), (SPEC_DUMP, spec.into())];
        let info = info(&members).unwrap().unwrap();
        assert_eq!(info.engine, Engine::Containerd);
        assert_eq!(info.name.as_deref(), Some("web"));
        assert_eq!((info.pod.as_deref(), info.namespace.as_deref()), (Some("pod1"), Some("prod")));
        assert_eq!(info.image_name.as_deref(), Some("docker.io/library/nginx:1"));
    }

    #[test]
    fn wrong_types_are_malformed_with_member_and_path() {
        let cases = [
            (r#"{"process": {"args": "sh -c x"}}"#, "$.process.args: expected an array"),
            (r#"{"process": {"user": {"uid": -1}}}"#, "$.process.user.uid: expected an unsigned 32-bit integer"),
            (r#"{"mounts": [{"type": "bind"}]}"#, r#"$.mounts[0]: missing the required field "destination""#),
            (r#"{"annotations": {"io.container.manager": 7}}"#, r#"$.annotations["io.container.manager"]"#),
            (r#"{"hostname": ["a"]}"#, "$.hostname: expected a string, found an array"),
            (r#"[]"#, "$: expected a JSON object"),
        ];
        for (spec, expected) in cases {
            let err = info(&podman(spec, None)).unwrap_err();
            assert!(matches!(err, Error::Malformed { .. }), "{spec}: {err:?}");
            let message = err.to_string();
            assert!(message.starts_with("spec.dump: "), "{message}");
            assert!(message.contains(expected), "{spec}: {message}");
        }
        let err = info(&podman(PODMAN_SPEC, Some(r#"{"podman": {"interfaces": {"eth0": {"subnets": [{}]}}}}"#)));
        assert!(err.unwrap_err().to_string().contains(r#"network.status: offset 0: $.podman.interfaces.eth0.subnets[0]: missing"#));
        let err = info(&podman(PODMAN_SPEC, Some("42"))).unwrap_err();
        assert!(err.to_string().contains("network.status"), "{err}");
    }

    #[test]
    fn crio_metadata_annotation_must_be_json() {
        let spec = r#"{"annotations": {"io.container.manager": "cri-o", "io.kubernetes.cri-o.Metadata": "{\"name\": 5}"}}"#;
        let err = info(&vec![(CONFIG_DUMP, b"{}".to_vec()), (SPEC_DUMP, spec.into())]).unwrap_err();
        assert!(err.to_string().contains(r#"$.annotations["io.kubernetes.cri-o.Metadata"].name: expected a string"#), "{err}");
        let spec = r#"{"annotations": {"io.container.manager": "cri-o", "io.kubernetes.cri-o.Metadata": "{"}}"#;
        let err = info(&vec![(CONFIG_DUMP, b"{}".to_vec()), (SPEC_DUMP, spec.into())]).unwrap_err();
        assert!(matches!(&err, Error::Json { file, .. } if file.contains("io.kubernetes.cri-o.Metadata")), "{err:?}");
    }

    #[test]
    fn go_zero_time_is_never() {
        assert_eq!(not_zero_time(Some("0001-01-01T00:00:00Z".into())), None);
        assert_eq!(not_zero_time(Some("2026-01-01T00:00:00Z".into())).as_deref(), Some("2026-01-01T00:00:00Z"));
    }
}
