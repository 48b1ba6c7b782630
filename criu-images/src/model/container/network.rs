//! The container's network interfaces: Podman's `network.status` (netavark
//! or CNI results) and CRI-O's `io.kubernetes.cri-o.IP.<n>` annotations.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::bounded_json::{self, Node};
use super::members::NETWORK_STATUS;
use super::{keys, MAX_METADATA_SIZE};
use crate::error::Result;

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

pub(super) fn strip_prefix_len(address: &str) -> &str {
    address.split_once('/').map_or(address, |(ip, _)| ip)
}

/// CRI-O records the pod's addresses as `io.kubernetes.cri-o.IP.0`, `.1`, ...
pub(super) fn crio_ip_annotations(annotations: &BTreeMap<String, String>) -> Option<Vec<NetworkInterface>> {
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

/// Podman's `network.status`: netavark's status (Podman 4+, an object keyed
/// by network name), a list of CNI results (Podman 3), or `null`.
pub(super) fn parse_network_status(bytes: &[u8]) -> Result<Vec<NetworkInterface>> {
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
