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
use std::net::IpAddr;

use serde_json::Value;

use super::bounded_json::{self, Node};
use crate::error::{Error, Location, Result};
use crate::image::{Image, ImageKind};
use crate::proto::wire::{Fields, WireValue};
use crate::proto::Message;

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

/// The process of an OCI runtime spec: what the container ran as its init.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OciProcess {
    /// `argv`.
    pub args: Vec<String>,
    /// Environment, `NAME=value`, in order.
    pub env: Vec<String>,
    /// Working directory inside the container.
    pub cwd: Option<String>,
    /// The user it ran as.
    pub user: OciUser,
}

/// The user of an OCI process.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OciUser {
    /// User id inside the container.
    pub uid: Option<u32>,
    /// Group id inside the container.
    pub gid: Option<u32>,
    /// The umask (a number; `18` is `0o022`).
    pub umask: Option<u32>,
    /// Supplementary group ids.
    pub additional_gids: Vec<u32>,
    /// User name (Windows containers; unused on Linux).
    pub username: Option<String>,
}

/// A mount of an OCI runtime spec.
#[derive(Clone, Debug, PartialEq)]
pub struct OciMount {
    /// Where it is mounted inside the container (required by the OCI spec).
    pub destination: String,
    /// File system type, e.g. `proc`, `tmpfs`, `bind`.
    pub fs_type: Option<String>,
    /// The source: a host path for bind mounts, a device or a name otherwise.
    pub source: Option<String>,
    /// Mount options, e.g. `ro`, `nosuid`, `rbind`.
    pub options: Vec<String>,
}

/// A network interface of the container.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkInterface {
    /// The Podman network it is attached to (e.g. `podman`); `None` for
    /// CNI-format status and for CRI-O's annotations.
    pub network: Option<String>,
    /// The interface name inside the container, e.g. `eth0`.
    pub name: Option<String>,
    /// Its MAC address, as stored.
    pub mac: Option<String>,
    /// Its addresses.
    pub addresses: Vec<IpAddress>,
}

/// An address of a network interface.
#[derive(Clone, Debug, PartialEq)]
pub struct IpAddress {
    /// The address as stored: CIDR (`10.88.0.12/16`) in `network.status`,
    /// a plain address in CRI-O's annotations.
    pub address: String,
    /// The gateway of its subnet.
    pub gateway: Option<String>,
}

impl IpAddress {
    /// The address without its prefix length, if it parses as IPv4 or IPv6.
    pub fn ip(&self) -> Option<IpAddr> {
        strip_prefix_len(&self.address).parse().ok()
    }
}

fn strip_prefix_len(address: &str) -> &str {
    address.split_once('/').map_or(address, |(ip, _)| ip)
}

/// A bind mount CRI-O set up for the container (`bind.mounts`), so that the
/// restore can recreate missing mount points.
#[derive(Clone, Debug, PartialEq)]
pub struct BindMount {
    /// Where it is mounted inside the container.
    pub destination: String,
    /// The host path.
    pub source: Option<String>,
    /// `file` or `directory`.
    pub file_type: Option<String>,
    /// Go `os.FileMode` bits of the source (`420` is `0o644`).
    pub permissions: Option<u32>,
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
        let (config_bytes, spec_bytes) = match (member(CONFIG_DUMP), member(SPEC_DUMP)) {
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

        let network = match member(NETWORK_STATUS) {
            Some(bytes) => Some(parse_network_status(bytes)?),
            None => crio_ip_annotations(&annotations),
        };
        let bind_mounts = member(BIND_MOUNTS).map(parse_bind_mounts).transpose()?;
        let log_member = [CRIO_LOG, PODMAN_LOG].into_iter().find(|name| member(name).is_some());

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

/// CRI-O records the pod's addresses as `io.kubernetes.cri-o.IP.0`, `.1`, ...
fn crio_ip_annotations(annotations: &BTreeMap<String, String>) -> Option<Vec<NetworkInterface>> {
    let mut indexed: Vec<(u64, &String)> = annotations
        .iter()
        .filter_map(|(key, value)| {
            let index = key.strip_prefix(keys::CRIO_IP_PREFIX)?.parse().ok()?;
            Some((index, value))
        })
        .collect();
    if indexed.is_empty() {
        return None;
    }
    indexed.sort();
    let addresses = indexed.into_iter().map(|(_, ip)| IpAddress { address: ip.clone(), gateway: None }).collect();
    Some(vec![NetworkInterface { network: None, name: None, mac: None, addresses }])
}

fn oci_process(node: &Node<'_>) -> Result<OciProcess> {
    let user = match node.get("user")? {
        Some(user) => OciUser {
            uid: user.opt_u32("uid")?,
            gid: user.opt_u32("gid")?,
            umask: user.opt_u32("umask")?,
            additional_gids: user.list("additionalGids")?.iter().map(Node::as_u32).collect::<Result<_>>()?,
            username: user.opt_str("username")?,
        },
        None => OciUser::default(),
    };
    Ok(OciProcess { args: node.str_list("args")?, env: node.str_list("env")?, cwd: node.opt_str("cwd")?, user })
}

fn oci_mount(node: &Node<'_>) -> Result<OciMount> {
    Ok(OciMount {
        destination: node.req_str("destination")?,
        fs_type: node.opt_str("type")?,
        source: node.opt_str("source")?,
        options: node.str_list("options")?,
    })
}

/// Podman's `network.status`: netavark's status (Podman 4+, an object keyed
/// by network name), a list of CNI results (Podman 3), or `null`.
fn parse_network_status(bytes: &[u8]) -> Result<Vec<NetworkInterface>> {
    let value = bounded_json::parse(NETWORK_STATUS, bytes, MAX_METADATA_SIZE)?;
    let root = Node::root(NETWORK_STATUS, &value);
    match &value {
        Value::Null => Ok(Vec::new()),
        Value::Object(_) => netavark_status(&root),
        Value::Array(_) => cni_results(&root),
        _ => Err(root.error("an object (netavark), an array (CNI results) or null")),
    }
}

fn netavark_status(root: &Node<'_>) -> Result<Vec<NetworkInterface>> {
    let mut interfaces = Vec::new();
    for (network, block) in root.fields()? {
        let Some(by_name) = block.get("interfaces")? else { continue };
        for (name, interface) in by_name.fields()? {
            let addresses = interface
                .list("subnets")?
                .iter()
                .map(|subnet| Ok(IpAddress { address: subnet.req_str("ipnet")?, gateway: subnet.opt_str("gateway")? }))
                .collect::<Result<_>>()?;
            interfaces.push(NetworkInterface {
                network: Some(network.to_string()),
                name: Some(name.to_string()),
                mac: interface.opt_str("mac_address")?,
                addresses,
            });
        }
    }
    // JSON object order is not kept in every build of serde_json; sort so
    // the result does not depend on it.
    interfaces.sort_by(|a, b| (&a.network, &a.name).cmp(&(&b.network, &b.name)));
    Ok(interfaces)
}

/// CNI results: `interfaces` (host and container side) and `ips`, each IP
/// pointing at its interface by index.
fn cni_results(root: &Node<'_>) -> Result<Vec<NetworkInterface>> {
    let mut out = Vec::new();
    for result in root.items()? {
        let mut interfaces = Vec::new();
        let mut in_container = Vec::new();
        for interface in result.list("interfaces")? {
            interfaces.push(NetworkInterface {
                network: None,
                name: interface.opt_str("name")?,
                mac: interface.opt_str("mac")?,
                addresses: Vec::new(),
            });
            // Only interfaces with a sandbox (netns path) are the container's.
            in_container.push(interface.opt_str("sandbox")?.is_some());
        }
        let mut unattached = Vec::new();
        for ip in result.list("ips")? {
            let address = IpAddress { address: ip.req_str("address")?, gateway: ip.opt_str("gateway")? };
            let index = ip.opt_u64("interface")?.and_then(|i| usize::try_from(i).ok());
            match index.and_then(|i| interfaces.get_mut(i)) {
                Some(interface) => interface.addresses.push(address),
                None => unattached.push(address),
            }
        }
        out.extend(
            interfaces
                .into_iter()
                .zip(in_container)
                .filter(|(interface, in_container)| *in_container || !interface.addresses.is_empty())
                .map(|(interface, _)| interface),
        );
        if !unattached.is_empty() {
            out.push(NetworkInterface { network: None, name: None, mac: None, addresses: unattached });
        }
    }
    Ok(out)
}

fn parse_bind_mounts(bytes: &[u8]) -> Result<Vec<BindMount>> {
    let value = bounded_json::parse(BIND_MOUNTS, bytes, MAX_METADATA_SIZE)?;
    let root = Node::root(BIND_MOUNTS, &value);
    root.items()?
        .iter()
        .map(|mount| {
            Ok(BindMount {
                destination: mount.req_str("destination")?,
                source: mount.opt_str("source")?,
                file_type: mount.opt_str("file_type")?,
                permissions: mount.opt_u32("permissions")?,
            })
        })
        .collect()
}

/// The paths listed in `deleted.files`: files of the container image that
/// were deleted in the container before the checkpoint (restore deletes them
/// again). A JSON list of strings; `null` is an empty list.
///
/// ```
/// use criu_images::model::container::deleted_files;
///
/// let files = deleted_files(br#"["/etc/motd", "/tmp/payload"]"#)?;
/// assert_eq!(files, ["/etc/motd", "/tmp/payload"]);
/// # Ok::<(), criu_images::Error>(())
/// ```
pub fn deleted_files(bytes: &[u8]) -> Result<Vec<String>> {
    let value = bounded_json::parse(DELETED_FILES, bytes, MAX_METADATA_SIZE)?;
    Node::root(DELETED_FILES, &value).as_str_list()
}

/// CRIU's statistics of the dump (`stats-dump`, message `dump_stats_entry`).
///
/// Every field is `None` when the image does not hold it (CRIU always writes
/// the first seven and `pages_lazy`; the others depend on its version). Times
/// are in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DumpStats {
    /// Time to freeze the process tree (µs).
    pub freezing_time: Option<u64>,
    /// Time the tree stayed frozen, i.e. the application's downtime (µs).
    pub frozen_time: Option<u64>,
    /// Time to collect memory pages into pipes (µs).
    pub memdump_time: Option<u64>,
    /// Time to write the pages to the images (µs).
    pub memwrite_time: Option<u64>,
    /// Pages examined.
    pub pages_scanned: Option<u64>,
    /// Pages not written because a parent (pre-dump) image has them.
    pub pages_skipped_parent: Option<u64>,
    /// Pages written to `pages-*.img`.
    pub pages_written: Option<u64>,
    /// Time to resolve inotify/fanotify watch paths (µs).
    pub irmap_resolve: Option<u64>,
    /// Pages left for lazy migration (a page server serves them at restore).
    pub pages_lazy: Option<u64>,
    /// Page pipes used to collect memory.
    pub page_pipes: Option<u64>,
    /// Buffers in those page pipes.
    pub page_pipe_bufs: Option<u64>,
    /// Shared memory pages examined.
    pub shpages_scanned: Option<u64>,
    /// Shared memory pages a parent image has.
    pub shpages_skipped_parent: Option<u64>,
    /// Shared memory pages written.
    pub shpages_written: Option<u64>,
}

impl DumpStats {
    /// Reads `stats-dump`, a STATS image. `Ok(None)` when it has no entry or
    /// its entry has no dump part (e.g. `stats-restore`). CRIU writes one
    /// entry; a second one is refused.
    ///
    /// ```
    /// use criu_images::model::container::DumpStats;
    ///
    /// // IMG_SERVICE, STATS, one entry: stats_entry { dump { freezing_time: 7, pages_written: 3 } }
    /// let bytes = [
    ///     0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57,
    ///     0x06, 0x00, 0x00, 0x00, 0x0a, 0x04, 0x08, 0x07, 0x38, 0x03,
    /// ];
    /// let stats = DumpStats::parse(&bytes)?.expect("a dump entry");
    /// assert_eq!(stats.freezing_time, Some(7));
    /// assert_eq!(stats.pages_written, Some(3));
    /// assert_eq!(stats.frozen_time, None); // not in the entry
    /// # Ok::<(), criu_images::Error>(())
    /// ```
    pub fn parse(stats_dump: &[u8]) -> Result<Option<DumpStats>> {
        let image = Image::parse(STATS_DUMP, stats_dump)?;
        if image.kind() != ImageKind::Stats {
            return Err(Error::Malformed {
                at: Location::new(STATS_DUMP, 0),
                detail: format!("expected a STATS image, found {}", image.kind().name()),
            });
        }
        let mut entries = image.entries();
        let Some(entry) = entries.next().transpose()? else { return Ok(None) };
        if let Some(second) = entries.next().transpose()? {
            return Err(Error::Malformed {
                at: Location::new(STATS_DUMP, second.offset() as u64).in_entry(second.index()),
                detail: "a second stats entry; CRIU writes one".to_string(),
            });
        }
        let stats = match entry.decode()? {
            Message::StatsEntry(stats) => stats,
            other => {
                return Err(Error::Malformed {
                    at: Location::new(STATS_DUMP, entry.offset() as u64).in_entry(0),
                    detail: format!("expected a stats_entry, found {}", other.id().name()),
                })
            }
        };
        let Some(dump) = stats.dump else { return Ok(None) };

        // prost reads an absent `required` field as 0; the wire bytes tell
        // whether CRIU actually wrote it.
        let present = dump_fields_present(entry.payload()).map_err(|err| Error::Protobuf {
            at: Location::new(STATS_DUMP, (entry.offset() + 4 + err.offset) as u64).in_entry(0),
            message: "stats_entry",
            detail: err.what.to_string(),
        })?;
        let required = |number: u32, value: u64| (present & (1 << number) != 0).then_some(value);
        Ok(Some(DumpStats {
            freezing_time: required(1, dump.freezing_time.into()),
            frozen_time: required(2, dump.frozen_time.into()),
            memdump_time: required(3, dump.memdump_time.into()),
            memwrite_time: required(4, dump.memwrite_time.into()),
            pages_scanned: required(5, dump.pages_scanned),
            pages_skipped_parent: required(6, dump.pages_skipped_parent),
            pages_written: required(7, dump.pages_written),
            irmap_resolve: dump.irmap_resolve.map(u64::from),
            pages_lazy: required(9, dump.pages_lazy),
            page_pipes: dump.page_pipes,
            page_pipe_bufs: dump.page_pipe_bufs,
            shpages_scanned: dump.shpages_scanned,
            shpages_skipped_parent: dump.shpages_skipped_parent,
            shpages_written: dump.shpages_written,
        }))
    }
}

/// Bit `n` set for every field number `n` < 32 present in any `dump`
/// (field 1) of a `stats_entry`; repeated `dump`s merge, as in protobuf.
fn dump_fields_present(stats_entry: &[u8]) -> Result<u32, crate::proto::wire::WireError> {
    let mut present = 0u32;
    for field in Fields::new(stats_entry) {
        if let (1, WireValue::Bytes(dump)) = field? {
            for inner in Fields::new(dump) {
                let (number, _) = inner?;
                if number < 32 {
                    present |= 1 << number;
                }
            }
        }
    }
    Ok(present)
}

/// Most warning and error lines a [`DumpLog`] keeps (the counts stay exact).
pub const MAX_LOG_LINES: usize = 10_000;

/// A summary of CRIU's `dump.log`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DumpLog {
    /// The CRIU version from the `Version: ` line, e.g. `4.2 (gitid 0)`.
    pub version: Option<String>,
    /// `Warn` lines, at most [`MAX_LOG_LINES`].
    pub warnings: Vec<LogLine>,
    /// `Error` lines, at most [`MAX_LOG_LINES`]. CRIU logs some errors it
    /// recovers from, so errors do not mean the dump failed; see [`finished`](Self::finished).
    pub errors: Vec<LogLine>,
    /// All `Warn` lines, including those not kept.
    pub warning_count: usize,
    /// All `Error` lines, including those not kept.
    pub error_count: usize,
    /// `Some(true)` if the log says `Dumping finished successfully`,
    /// `Some(false)` if it says `Dumping FAILED.`, `None` if neither (a
    /// truncated log, or not a dump log).
    pub finished: Option<bool>,
    /// Number of lines.
    pub total_lines: usize,
}

/// One line of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// 1-based line number.
    pub number: usize,
    /// The whole line, timestamp included; invalid UTF-8 replaced.
    pub text: String,
}

/// Summarises CRIU's `dump.log`: its version, its warnings and errors with
/// line numbers, and whether the dump finished.
///
/// ```
/// use criu_images::model::container::dump_log_summary;
///
/// let log = b"(00.000046) Version: 4.2 (gitid 0)\n\
///             (00.051176) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE\n\
///             (00.140009) Dumping finished successfully\n";
/// let summary = dump_log_summary(log);
/// assert_eq!(summary.version.as_deref(), Some("4.2 (gitid 0)"));
/// assert_eq!(summary.errors[0].number, 2);
/// assert_eq!(summary.finished, Some(true));
/// assert_eq!(summary.total_lines, 3);
/// ```
pub fn dump_log_summary(bytes: &[u8]) -> DumpLog {
    let mut log = DumpLog::default();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return log;
    }
    for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
        log.total_lines += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        let message = log_message(&line);
        let kept = |list: &mut Vec<LogLine>| {
            if list.len() < MAX_LOG_LINES {
                list.push(LogLine { number: index + 1, text: line.clone().into_owned() });
            }
        };
        if message.starts_with("Error (") {
            log.error_count += 1;
            kept(&mut log.errors);
        } else if message.starts_with("Warn  (") || message.starts_with("Warn (") {
            log.warning_count += 1;
            kept(&mut log.warnings);
        } else if let Some(version) = message.strip_prefix("Version: ") {
            log.version.get_or_insert_with(|| version.trim_end().to_string());
        } else if message.starts_with("Dumping finished successfully") {
            log.finished = Some(true);
        } else if message.starts_with("Dumping FAILED") {
            log.finished = Some(false);
        }
    }
    log
}

/// The message of a CRIU log line, after the `(SS.UUUUUU)` timestamp and
/// the optional `PID: ` of `--log-pid`.
fn log_message(line: &str) -> &str {
    let mut rest = line;
    if let Some(after) = rest.strip_prefix('(') {
        if let Some((stamp, tail)) = after.split_once(')') {
            if stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                rest = tail;
            }
        }
    }
    rest = rest.trim_start();
    if let Some((pid, tail)) = rest.split_once(':') {
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            rest = tail.trim_start();
        }
    }
    rest
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

    #[test]
    fn deleted_files_forms() {
        assert_eq!(deleted_files(b"null").unwrap(), Vec::<String>::new());
        assert_eq!(deleted_files(b"[]").unwrap(), Vec::<String>::new());
        assert_eq!(deleted_files(br#"["/a", "/b c"]"#).unwrap(), ["/a", "/b c"]);
        assert!(matches!(deleted_files(br#"["/a", 1]"#), Err(Error::Malformed { .. })));
        assert!(matches!(deleted_files(br#"{"a": 1}"#), Err(Error::Malformed { .. })));
        assert!(matches!(deleted_files(br#"["/a""#), Err(Error::Json { .. })));
        assert!(matches!(deleted_files(b""), Err(Error::Json { .. })));
    }

    fn stats_image(entries: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57];
        for entry in entries {
            out.extend_from_slice(&(entry.len() as u32).to_le_bytes());
            out.extend_from_slice(entry);
        }
        out
    }

    #[test]
    fn stats_presence_of_required_fields() {
        // dump { frozen_time: 0 }: present but zero, the rest absent.
        let stats = DumpStats::parse(&stats_image(&[&[0x0a, 0x02, 0x10, 0x00]])).unwrap().unwrap();
        assert_eq!(stats, DumpStats { frozen_time: Some(0), ..DumpStats::default() });
        // optional fields come from prost's own presence.
        let stats = DumpStats::parse(&stats_image(&[&[0x0a, 0x02, 0x70, 0x05]])).unwrap().unwrap();
        assert_eq!(stats, DumpStats { shpages_written: Some(5), ..DumpStats::default() });
    }

    #[test]
    fn stats_without_dump_or_entries() {
        assert_eq!(DumpStats::parse(&stats_image(&[])).unwrap(), None);
        // stats_entry { restore { ... } } only.
        let restore = [0x12, 0x08, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x04];
        assert_eq!(DumpStats::parse(&stats_image(&[&restore])).unwrap(), None);
    }

    #[test]
    fn stats_refuses_other_images_and_extra_entries() {
        let pstree = [0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50, 0x02, 0x00, 0x00, 0x00, 0x08, 0x01];
        let err = DumpStats::parse(&pstree).unwrap_err();
        assert!(err.to_string().contains("expected a STATS image, found PSTREE"), "{err}");
        let err = DumpStats::parse(&stats_image(&[&[0x0a, 0x00], &[0x0a, 0x00]])).unwrap_err();
        assert!(matches!(&err, Error::Malformed { at, .. } if at.entry == Some(1)), "{err:?}");
        assert!(DumpStats::parse(b"").is_err());
        let mut truncated = stats_image(&[&[0x0a, 0x02, 0x10, 0x00]]);
        truncated.pop();
        assert!(matches!(DumpStats::parse(&truncated), Err(Error::Truncated { .. })));
        assert!(DumpStats::parse(&stats_image(&[&[0x0a, 0x05, 0x10]])).is_err());
    }

    #[test]
    fn dump_log_lines() {
        let log = b"(00.000000) Unable to get $HOME directory\n\
            (00.000046) Version: 4.2 (gitid 0)\n\
            (00.089998) Warn  (compel/arch/x86/src/lib/infect.c:418): Will restore 25197 with interrupted system call\r\n\
            (00.1) 1234: Error (criu/cr-dump.c:1): something\n\
            Warn (plain line without timestamp)\n\
            (00.2) Dumping FAILED.";
        let summary = dump_log_summary(log);
        assert_eq!(summary.version.as_deref(), Some("4.2 (gitid 0)"));
        assert_eq!(summary.total_lines, 6);
        assert_eq!(summary.warnings.iter().map(|l| l.number).collect::<Vec<_>>(), [3, 5]);
        assert!(summary.warnings[0].text.ends_with("interrupted system call"));
        assert_eq!((summary.errors.len(), summary.errors[0].number), (1, 4));
        assert_eq!((summary.warning_count, summary.error_count), (2, 1));
        assert_eq!(summary.finished, Some(false));
    }

    #[test]
    fn dump_log_edge_cases() {
        assert_eq!(dump_log_summary(b""), DumpLog::default());
        assert_eq!(dump_log_summary(b"\n").total_lines, 1);
        let summary = dump_log_summary(b"(00.1) Error (\xff\xfe): bad bytes");
        assert_eq!(summary.errors[0].text, "(00.1) Error (\u{fffd}\u{fffd}): bad bytes");
        let many = "(0.1) Error (x): y\n".repeat(MAX_LOG_LINES + 5);
        let summary = dump_log_summary(many.as_bytes());
        assert_eq!((summary.errors.len(), summary.error_count), (MAX_LOG_LINES, MAX_LOG_LINES + 5));
    }
}
