//! What the container was declared to run: the facts triage compares the
//! processes with (ports, user, environment, command, seccomp), read
//! leniently from the engine's metadata members.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::model::container::ContainerInfo;

/// Largest metadata member parsed here; real ones are a few KiB.
const MAX_MEMBER: usize = 16 << 20;

/// The container's declared configuration, as far as the checkpoint says.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DeclaredSpec {
    /// Container ports the engine publishes or the image exposes, with
    /// protocol (`tcp`/`udp`); `None` when the checkpoint holds no container
    /// configuration at all (then no port is called undeclared).
    pub ports: Option<BTreeSet<(u16, String)>>,
    /// `process.user.uid` of the OCI spec.
    pub uid: Option<u32>,
    /// `process.env` of the OCI spec (`NAME=value`).
    pub env: Vec<String>,
    /// `process.args` of the OCI spec.
    pub args: Vec<String>,
    /// The OCI spec has a `linux.seccomp` profile.
    pub seccomp: Option<bool>,
    /// The engine says the container runs privileged.
    pub privileged: bool,
}

impl DeclaredSpec {
    pub(crate) fn read(checkpoint: &Checkpoint, container: Option<&ContainerInfo>, warnings: &mut Vec<String>) -> DeclaredSpec {
        let mut spec = DeclaredSpec::default();
        if let Some(c) = container {
            if let Some(p) = &c.process {
                spec.uid = p.user.uid;
                spec.env = p.env.clone();
                spec.args = p.args.clone();
            }
            spec.privileged = c.annotations.get("io.podman.annotations.privileged").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let mut ports = BTreeSet::new();
            // CRI-O: the pod spec's container ports as an annotation.
            for (key, value) in &c.annotations {
                if key == "io.kubernetes.container.ports" {
                    if let Ok(Value::Array(list)) = serde_json::from_str::<Value>(value) {
                        for p in &list {
                            add_port(&mut ports, p.get("containerPort"), p.get("protocol"));
                        }
                    }
                }
            }
            spec.ports = Some(ports);
        }
        for name in ["spec.dump", "config.dump"] {
            let bytes = match checkpoint.member(name) {
                Ok(b) if b.len() <= MAX_MEMBER => b,
                Ok(_) => {
                    warnings.push(format!("{name}: larger than {MAX_MEMBER} bytes, not read"));
                    continue;
                }
                Err(_) => continue,
            };
            let Ok(doc) = serde_json::from_slice::<Value>(bytes) else {
                warnings.push(format!("{name}: not JSON, declared ports and seccomp unknown"));
                continue;
            };
            let ports = spec.ports.get_or_insert_with(BTreeSet::new);
            if name == "spec.dump" {
                if let Some(linux) = doc.get("linux") {
                    spec.seccomp = Some(linux.get("seccomp").is_some_and(|s| !s.is_null()));
                }
            } else {
                // Podman: published ports (both spellings of its versions) and the image's EXPOSE.
                for key in ["newPortMappings", "portMappings"] {
                    if let Some(Value::Array(list)) = doc.get(key) {
                        for p in list {
                            add_port(ports, p.get("container_port"), p.get("protocol"));
                        }
                    }
                }
                if let Some(Value::Object(exposed)) = doc.get("exposedPorts") {
                    for (port, protocols) in exposed {
                        let Ok(port) = port.parse::<u16>() else { continue };
                        for proto in protocols.as_array().into_iter().flatten() {
                            if let Some(proto) = proto.as_str() {
                                ports.insert((port, proto.to_ascii_lowercase()));
                            }
                        }
                    }
                }
                if doc.get("privileged").and_then(Value::as_bool) == Some(true) {
                    spec.privileged = true;
                }
            }
        }
        spec
    }

    /// Whether `port` over `protocol` is declared.
    pub fn declares(&self, port: u16, protocol: &str) -> bool {
        self.ports.as_ref().is_none_or(|ports| ports.contains(&(port, protocol.to_ascii_lowercase())))
    }
}

fn add_port(ports: &mut BTreeSet<(u16, String)>, port: Option<&Value>, protocol: Option<&Value>) {
    let Some(port) = port.and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()) else { return };
    let protocol = protocol.and_then(Value::as_str).unwrap_or("tcp").to_ascii_lowercase();
    // Podman joins several protocols with commas ("tcp,udp").
    for proto in protocol.split(',') {
        ports.insert((port, proto.trim().to_string()));
    }
}
