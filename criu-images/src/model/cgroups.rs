//! Control groups (`cgroup.img`): the cgroup sets tasks belong to (a set
//! maps each controller to a path; threads name theirs by `cg_set`), and
//! the controllers' directory trees with the properties CRIU saved
//! (limits such as `pids.max` or `memory.limit_in_bytes`).

use crate::chain::ImageStore;
use crate::error::Result;
use crate::proto::{CgroupDirEntry, Message};

use crate::chain::decode_all;

/// One controller's cgroup in a set, as a line of `/proc/PID/cgroup` shows it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CgroupMember {
    /// Controller name (`memory`, `pids`, `name=systemd`; empty for the
    /// cgroup v2 unified hierarchy).
    pub controller: String,
    /// Path of the cgroup from the hierarchy's root.
    pub path: String,
    /// Length of the path's prefix that lies outside the task's cgroup
    /// namespace (what the task itself saw starts after it).
    pub cgns_prefix: Option<u32>,
}

/// A cgroup set: the cgroups of every controller, shared by the tasks in it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CgroupSet {
    /// The id threads refer to (`cg_set`).
    pub id: u32,
    /// Its cgroups, one per controller (or group of co-mounted controllers).
    pub members: Vec<CgroupMember>,
}

/// A directory of a controller's tree, with the properties CRIU saved.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CgroupDir {
    /// Path from the hierarchy's root, e.g. `/libpod_parent/libpod-9578…`.
    pub path: String,
    /// `(file name, value)`, e.g. `("pids.max", "2048")`.
    pub properties: Vec<(String, String)>,
}

/// A hierarchy: the controllers mounted together and the directories CRIU saved.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CgroupController {
    /// Controller names (`cpu`, `cpuacct`, ...; empty for cgroup v2).
    pub names: Vec<String>,
    /// The directories, parents before children.
    pub dirs: Vec<CgroupDir>,
    /// A threaded cgroup v2 hierarchy.
    pub threaded: bool,
}

/// Everything `cgroup.img` holds.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Cgroups {
    /// The sets, by id.
    pub sets: Vec<CgroupSet>,
    /// The hierarchies.
    pub controllers: Vec<CgroupController>,
}

impl Cgroups {
    /// The set with this id (tasks in CRIU's own set have none: CRIU does
    /// not write the set it runs in, `inventory.img` `root_cg_set`).
    pub fn set(&self, id: u32) -> Option<&CgroupSet> {
        self.sets.iter().find(|s| s.id == id)
    }
}

/// Reads `cgroup.img` (empty if there is none, as when CRIU ran with
/// `--manage-cgroups=ignore`).
pub fn cgroups(store: &dyn ImageStore) -> Result<Cgroups> {
    let mut out = Cgroups::default();
    for message in decode_all(store, "cgroup.img")?.unwrap_or_default() {
        let Message::CgroupEntry(entry) = message else { continue };
        for set in entry.sets {
            let members =
                set.ctls.into_iter().map(|m| CgroupMember { controller: m.name, path: m.path, cgns_prefix: m.cgns_prefix }).collect();
            out.sets.push(CgroupSet { id: set.id, members });
        }
        for controller in entry.controllers {
            let mut dirs = Vec::new();
            // prost refuses messages nested deeper than 100, so this recursion is bounded.
            flatten("", &controller.dirs, &mut dirs);
            out.controllers.push(CgroupController { names: controller.cnames, dirs, threaded: controller.is_threaded.unwrap_or(false) });
        }
    }
    Ok(out)
}

fn flatten(parent: &str, dirs: &[CgroupDirEntry], out: &mut Vec<CgroupDir>) {
    for dir in dirs {
        let name = dir.dir_name.trim_start_matches('/');
        let path = match (parent, name) {
            ("", "") => "/".to_string(),
            (_, "") => parent.to_string(),
            _ => format!("{}/{name}", parent.trim_end_matches('/')),
        };
        out.push(CgroupDir { path: path.clone(), properties: dir.properties.iter().map(|p| (p.name.clone(), p.value.clone())).collect() });
        flatten(&path, &dir.children, out);
    }
}
