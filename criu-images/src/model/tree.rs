//! The process tree of `pstree.img`, in the order to print it: built once,
//! without recursion, each process visited once, whatever the parent links
//! say (they are attacker-controlled: a parent chain 100,000 levels deep, a
//! loop of parents, a pid listed twice).
//!
//! A pid listed twice is an error: every view (tree, JSON, memory by pid)
//! would have to pick one of the two, and CRIU never writes it. A loop of
//! parents (with distinct pids) is shown: the first process of the loop in
//! `pstree.img` order becomes a root, and [`ProcessTree::loops`] names it
//! so that the caller can warn.

use std::collections::HashMap;

use crate::chain::ImageStore;
use crate::error::{Error, Location, Result};
use crate::proto::Message;

/// One process in printing order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TreeNode {
    /// Index of the entry in `pstree.img` (and in [`Process::load_all`](super::Process::load_all)'s result).
    pub index: usize,
    /// The process id.
    pub pid: u32,
    /// 0 for a root, 1 for its children, ...
    pub depth: usize,
    /// Whether it is the last child of its parent (or the last root).
    pub last: bool,
    /// How many children follow it.
    pub children: usize,
}

/// Every process of `pstree.img` once, parents before children (depth
/// first, children in `pstree.img` order).
#[derive(Clone, Debug, Default)]
pub struct ProcessTree {
    /// The processes in printing order.
    pub nodes: Vec<TreeNode>,
    /// Pids made roots because their parent links loop back to them.
    pub loops: Vec<u32>,
}

/// The tree of the images directory `store` (empty without `pstree.img`).
pub fn process_tree(store: &dyn ImageStore) -> Result<ProcessTree> {
    let Some(bytes) = store.file("pstree.img")? else { return Ok(ProcessTree::default()) };
    let label = format!("{}/pstree.img", store.label());
    let image = crate::image::Image::parse(&label, bytes)?;
    let mut tasks: Vec<(u32, u32)> = Vec::new();
    let mut first_seen: HashMap<u32, usize> = HashMap::new();
    for entry in image.entries() {
        let entry = entry?;
        if let Message::PstreeEntry(task) = entry.decode()? {
            if let Some(first) = first_seen.insert(task.pid, tasks.len()) {
                return Err(Error::Malformed {
                    at: Location::new(&label, entry.offset() as u64).in_entry(entry.index()),
                    detail: format!(
                        "pid {} is listed twice (entries {first} and {}): a process tree has each pid once",
                        task.pid,
                        entry.index()
                    ),
                });
            }
            tasks.push((task.pid, task.ppid));
        }
    }
    Ok(tree_of(&tasks))
}

/// The tree of `(pid, ppid)` pairs with distinct pids.
fn tree_of(tasks: &[(u32, u32)]) -> ProcessTree {
    let index: HashMap<u32, usize> = tasks.iter().enumerate().map(|(i, &(pid, _))| (pid, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    let mut roots = Vec::new();
    for (i, &(pid, ppid)) in tasks.iter().enumerate() {
        match index.get(&ppid) {
            Some(&parent) if ppid != pid => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    let mut tree = ProcessTree { nodes: Vec::with_capacity(tasks.len()), loops: Vec::new() };
    let mut visited = vec![false; tasks.len()];
    let mut stack: Vec<(usize, usize, bool)> = Vec::new();
    let mut walk = |start: usize, tree: &mut ProcessTree, visited: &mut Vec<bool>| {
        visited[start] = true;
        stack.push((start, 0, false));
        while let Some((i, depth, last)) = stack.pop() {
            // In a loop, the child that leads back to the start is not shown again.
            let kids: Vec<usize> = children[i].iter().copied().filter(|&k| !visited[k]).collect();
            tree.nodes.push(TreeNode { index: i, pid: tasks[i].0, depth, last, children: kids.len() });
            for (n, &kid) in kids.iter().enumerate().rev() {
                visited[kid] = true;
                stack.push((kid, depth + 1, n + 1 == kids.len()));
            }
        }
    };
    for &root in &roots {
        walk(root, &mut tree, &mut visited);
    }
    // What no root reaches hangs off a loop of parents.
    for i in 0..tasks.len() {
        if !visited[i] {
            tree.loops.push(tasks[i].0);
            walk(i, &mut tree, &mut visited);
        }
    }
    if let Some(last_root) = tree.nodes.iter().rposition(|n| n.depth == 0) {
        for (n, node) in tree.nodes.iter_mut().enumerate() {
            if node.depth == 0 {
                node.last = n == last_root;
            }
        }
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(tree: &ProcessTree) -> Vec<(u32, usize, bool, usize)> {
        tree.nodes.iter().map(|n| (n.pid, n.depth, n.last, n.children)).collect()
    }

    #[test]
    fn an_ordinary_tree_is_depth_first_in_pstree_order() {
        let tree = tree_of(&[(1, 0), (6, 1), (7, 6), (8, 1)]);
        assert_eq!(shape(&tree), [(1, 0, true, 2), (6, 1, false, 1), (7, 2, true, 0), (8, 1, true, 0)]);
        assert!(tree.loops.is_empty());
    }

    #[test]
    fn loops_are_shown_once_and_named() {
        // 1 is a root; 5 -> 6 -> 7 -> 5 loop, 9 hangs off the loop; 4 is its own parent.
        let tree = tree_of(&[(1, 0), (5, 7), (6, 5), (7, 6), (9, 6), (4, 4)]);
        let pids: Vec<u32> = tree.nodes.iter().map(|n| n.pid).collect();
        assert_eq!(pids, [1, 4, 5, 6, 7, 9]);
        assert_eq!(tree.loops, [5]);
        assert_eq!(shape(&tree)[2..], [(5, 0, true, 1), (6, 1, true, 2), (7, 2, false, 0), (9, 2, true, 0)]);
    }

    #[test]
    fn a_deep_chain_needs_no_stack() {
        let tasks: Vec<(u32, u32)> = (1..=200_000u32).map(|pid| (pid, pid - 1)).collect();
        let tree = tree_of(&tasks);
        assert_eq!(tree.nodes.len(), 200_000);
        assert_eq!(tree.nodes.last().map(|n| n.depth), Some(199_999));
    }
}
