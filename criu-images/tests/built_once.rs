//! What a checkpoint decodes or builds once and then shares: the file
//! objects and SysV keys of its chain, and the memory index of each process
//! (issue #12: no per-process decode of files.img, no index built twice).

mod common;

use std::cell::Cell;
use std::sync::Arc;

use criu_images::model::Process;
use criu_images::Checkpoint;

fn open(path: &str) -> Checkpoint {
    Checkpoint::open(common::fixtures_dir().join(path)).unwrap()
}

#[test]
fn a_process_memory_index_is_built_once_and_shared() {
    let checkpoint = open("pytree/checkpoint.tar.gz");
    let first = checkpoint.memory(1).unwrap();
    let again = checkpoint.memory(1).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the second call must return the index the first built");
    // Another process has its own.
    let pids = checkpoint.memory_pids().unwrap();
    let other = *pids.iter().find(|&&p| p != 1).expect("pytree has several processes");
    assert!(!Arc::ptr_eq(&first, &checkpoint.memory(other).unwrap()));
}

#[test]
fn the_model_takes_each_memory_index_from_the_source_it_is_given() {
    let checkpoint = open("pytree/checkpoint.tar.gz");
    let chain = checkpoint.chain();
    let asked = Cell::new(0);
    let processes = Process::load_all_with(&chain, &|pid| {
        asked.set(asked.get() + 1);
        checkpoint.memory(pid)
    })
    .unwrap();
    assert_eq!(asked.get(), checkpoint.memory_pids().unwrap().len(), "one index per process with memory");
    // The same processes as the model builds on its own.
    assert_eq!(processes, Process::load_all(&chain).unwrap());
    assert_eq!(processes, checkpoint.processes().unwrap());
    assert!(processes.iter().any(|p| !p.cmdline.is_empty() && !p.vmas.is_empty()));
}

#[test]
fn the_file_objects_and_sysv_keys_of_a_checkpoint_are_decoded_once() {
    let checkpoint = open("pytree/checkpoint.tar.gz");
    let (one, two) = (checkpoint.chain(), checkpoint.chain());
    assert!(Arc::ptr_eq(&one.files().unwrap(), &two.files().unwrap()), "every chain of a checkpoint shares its file objects");
    assert!(Arc::ptr_eq(&one.sysv_keys().unwrap(), &two.sysv_keys().unwrap()));
    assert!(one.files().unwrap().entries().count() > 0);
}
