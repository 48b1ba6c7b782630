//! The OCI runtime spec's process and mounts (`spec.dump`).

use super::bounded_json::Node;
use crate::error::Result;

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

pub(super) fn oci_process(node: &Node<'_>) -> Result<OciProcess> {
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

pub(super) fn oci_mount(node: &Node<'_>) -> Result<OciMount> {
    Ok(OciMount {
        destination: node.req_str("destination")?,
        fs_type: node.opt_str("type")?,
        source: node.opt_str("source")?,
        options: node.str_list("options")?,
    })
}
