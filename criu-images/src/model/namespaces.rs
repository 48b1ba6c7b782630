//! Namespaces' contents: the mount table (`mountpoints-<mnt_ns>.img`) and
//! host and domain names (`utsns-<uts_ns>.img`).

use crate::chain::ImageStore;
use crate::error::Result;
use crate::proto::{Fstype, Message};

use crate::chain::decode_all;

/// One mount, as `/proc/PID/mountinfo` would list it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Mount {
    /// Mount id.
    pub id: u32,
    /// Parent mount id.
    pub parent: u32,
    /// Where it is mounted.
    pub mountpoint: String,
    /// What is mounted (device, `overlay`, `tmpfs`, ...).
    pub source: String,
    /// File system type (`fsname` when CRIU recorded it, else its enum name).
    pub fstype: String,
    /// Root of the mount inside its file system.
    pub root: String,
    /// Mount options.
    pub options: String,
    /// Mounted from outside the checkpoint (e.g. a bind mount of the host).
    pub external: bool,
}

/// Mounts of mount namespace `mnt_ns` (ids as CRIU numbers them).
pub fn mounts(store: &dyn ImageStore, mnt_ns: u32) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for message in decode_all(store, &format!("mountpoints-{mnt_ns}.img"))?.unwrap_or_default() {
        if let Message::MntEntry(m) = message {
            let fstype = m.fsname.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| {
                Fstype::try_from(m.fstype as i32).map_or_else(|_| m.fstype.to_string(), |f| f.as_str_name().to_lowercase())
            });
            out.push(Mount {
                id: m.mnt_id,
                parent: m.parent_mnt_id,
                mountpoint: m.mountpoint,
                source: m.source,
                fstype,
                root: m.root,
                options: m.options,
                external: m.ext_mount.unwrap_or(false) || m.ext_key.is_some(),
            });
        }
    }
    // CRIU writes children before parents; list them as mountinfo does.
    out.sort_by_key(|m| m.id);
    Ok(out)
}

/// Host name and domain name of UTS namespace `uts_ns`.
pub fn uts(store: &dyn ImageStore, uts_ns: u32) -> Result<Option<(String, String)>> {
    Ok(decode_all(store, &format!("utsns-{uts_ns}.img"))?.unwrap_or_default().into_iter().find_map(|m| match m {
        Message::UtsnsEntry(u) => Some((u.nodename, u.domainname)),
        _ => None,
    }))
}
