//! The tables against the model they are built from, on real fixtures.

use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

use super::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn open(name: &str, file: &str) -> Checkpoint {
    Checkpoint::open(fixture(name).join(file)).expect("fixture opens")
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> &'b dyn Array {
    batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).as_ref()
}

fn u32s(table: &Table, name: &str) -> Vec<Option<u32>> {
    table.batches.iter().flat_map(|b| column(b, name).as_primitive::<UInt32Type>().iter().collect::<Vec<_>>()).collect()
}

fn u64s(table: &Table, name: &str) -> Vec<Option<u64>> {
    table.batches.iter().flat_map(|b| column(b, name).as_primitive::<UInt64Type>().iter().collect::<Vec<_>>()).collect()
}

fn strs(table: &Table, name: &str) -> Vec<Option<String>> {
    table.batches.iter().flat_map(|b| text(column(b, name))).collect()
}

/// Utf8 (the checkpoint column) or LargeUtf8 values.
fn text(array: &dyn Array) -> Vec<Option<String>> {
    match array.data_type() {
        arrow_schema::DataType::Utf8 => array.as_string::<i32>().iter().map(|s| s.map(String::from)).collect(),
        _ => array.as_string::<i64>().iter().map(|s| s.map(String::from)).collect(),
    }
}

fn lists(table: &Table, name: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for batch in &table.batches {
        let list = column(batch, name).as_list::<i64>();
        for i in 0..list.len() {
            let items = list.value(i);
            out.push(items.as_string::<i64>().iter().map(|s| s.unwrap_or_default().to_string()).collect());
        }
    }
    out
}

#[test]
fn every_table_has_its_schema_with_and_without_rows() {
    for fixture_name in [("pytree", "checkpoint.tar.gz"), ("threads", "checkpoint.tar.zst"), ("attack", "checkpoint.tar.zst")] {
        let checkpoint = open(fixture_name.0, fixture_name.1);
        for name in CHECKPOINT_TABLES {
            let table = checkpoint_table(&checkpoint, "x", name).unwrap();
            let expected = schema(name).unwrap();
            assert_eq!(table.schema, expected, "{name}");
            assert_eq!(table.schema.field(0).name(), "checkpoint");
            for batch in &table.batches {
                assert_eq!(batch.schema(), expected, "{name}: a batch's schema");
            }
        }
    }
    for name in ["hits", "strings", "errors", "diff_pages", "diff_rootfs", "diff_metadata"] {
        assert_eq!(schema(name).unwrap().field(0).name(), "checkpoint", "{name}");
    }
    assert!(schema("nope").is_none());
    assert!(checkpoint_table(&open("pytree", "checkpoint.tar.gz"), "x", "nope").is_err());
}

#[test]
fn processes_and_threads_equal_the_model() {
    for (name, file) in [("pytree", "checkpoint.tar.gz"), ("threads", "checkpoint.tar.zst"), ("attack", "checkpoint.tar.zst")] {
        let checkpoint = open(name, file);
        let model = checkpoint.processes().unwrap();
        assert!(!model.is_empty());
        let table = checkpoint_table(&checkpoint, name, "processes").unwrap();
        assert_eq!(table.num_rows(), model.len());
        assert_eq!(strs(&table, "checkpoint"), vec![Some(name.to_string()); model.len()]);
        assert_eq!(u32s(&table, "pid"), model.iter().map(|p| Some(p.pid)).collect::<Vec<_>>());
        assert_eq!(u32s(&table, "ppid"), model.iter().map(|p| Some(p.ppid)).collect::<Vec<_>>());
        assert_eq!(strs(&table, "comm"), model.iter().map(|p| Some(p.comm.clone())).collect::<Vec<_>>());
        assert_eq!(strs(&table, "exe"), model.iter().map(|p| p.exe.clone()).collect::<Vec<_>>());
        assert_eq!(lists(&table, "cmdline"), model.iter().map(|p| p.cmdline.clone()).collect::<Vec<_>>());
        assert_eq!(u32s(&table, "uid"), model.iter().map(|p| p.creds.as_ref().map(|c| c.uid)).collect::<Vec<_>>());
        assert_eq!(u32s(&table, "ns_pid"), model.iter().map(|p| p.namespaces.pid).collect::<Vec<_>>());
        // environ: a map column, entries in order.
        for batch in &table.batches {
            let map = column(batch, "environ").as_map();
            for (i, process) in model.iter().enumerate() {
                let entries = map.value(i);
                let keys = entries.column(0).as_string::<i64>();
                let values = entries.column(1).as_string::<i64>();
                let got: Vec<(String, String)> =
                    (0..keys.len()).map(|j| (keys.value(j).to_string(), values.value(j).to_string())).collect();
                assert_eq!(got, process.environ, "{name}: environ of {}", process.pid);
            }
        }

        let threads = checkpoint_table(&checkpoint, name, "threads").unwrap();
        let expected: Vec<(u32, u32)> = model.iter().flat_map(|p| p.threads.iter().map(move |t| (p.pid, t.tid))).collect();
        let got: Vec<(u32, u32)> =
            u32s(&threads, "pid").into_iter().zip(u32s(&threads, "tid")).map(|(p, t)| (p.unwrap(), t.unwrap())).collect();
        assert_eq!(got, expected, "{name}: threads");
    }
    // The threads fixture is the one with several threads in a process.
    let checkpoint = open("threads", "checkpoint.tar.zst");
    let threads = checkpoint_table(&checkpoint, "t", "threads").unwrap();
    assert!(threads.num_rows() > checkpoint.processes().unwrap().len());
}

#[test]
fn vmas_fds_sockets_and_connections_equal_the_model() {
    for (name, file) in [("pytree", "checkpoint.tar.gz"), ("attack", "checkpoint.tar.zst")] {
        let checkpoint = open(name, file);
        let model = checkpoint.processes().unwrap();
        let vmas = checkpoint_table(&checkpoint, name, "vmas").unwrap();
        let mut expected = Vec::new();
        for pid in checkpoint.memory_pids().unwrap() {
            let memory = checkpoint.memory(pid).unwrap();
            expected.extend(memory.vmas().iter().map(|v| (pid, v.start, v.end, v.perms())));
        }
        assert!(!expected.is_empty());
        let got: Vec<(u32, u64, u64, String)> = u32s(&vmas, "pid")
            .into_iter()
            .zip(u64s(&vmas, "start"))
            .zip(u64s(&vmas, "end"))
            .zip(strs(&vmas, "perms"))
            .map(|(((p, s), e), m)| (p.unwrap(), s.unwrap(), e.unwrap(), m.unwrap()))
            .collect();
        assert_eq!(got, expected, "{name}: vmas");

        let fds = checkpoint_table(&checkpoint, name, "fds").unwrap();
        let expected: Vec<(u32, u32, Option<String>)> =
            model.iter().flat_map(|p| p.fds.iter().map(move |f| (p.pid, f.fd, f.path.clone()))).collect();
        let got: Vec<(u32, u32, Option<String>)> = u32s(&fds, "pid")
            .into_iter()
            .zip(u32s(&fds, "fd"))
            .zip(strs(&fds, "path"))
            .map(|((p, f), path)| (p.unwrap(), f.unwrap(), path))
            .collect();
        assert_eq!(got, expected, "{name}: fds");

        let sockets = checkpoint_table(&checkpoint, name, "sockets").unwrap();
        let expected: Vec<(u32, u32)> =
            model.iter().flat_map(|p| p.fds.iter().filter(|f| f.is_socket()).map(move |f| (p.pid, f.fd))).collect();
        let got: Vec<(u32, u32)> =
            u32s(&sockets, "pid").into_iter().zip(u32s(&sockets, "fd")).map(|(p, f)| (p.unwrap(), f.unwrap())).collect();
        assert_eq!(got, expected, "{name}: sockets");

        let connections = checkpoint_table(&checkpoint, name, "connections").unwrap();
        let model = checkpoint.connections().unwrap();
        assert_eq!(u32s(&connections, "fd"), model.iter().map(|c| Some(c.fd)).collect::<Vec<_>>());
        assert_eq!(u32s(&connections, "local_port"), model.iter().map(|c| c.local_port.map(u32::from)).collect::<Vec<_>>());
    }
}

#[test]
fn attack_findings_and_hits_equal_the_library_results() {
    let checkpoint = open("attack", "checkpoint.tar.zst");
    let triage = crate::triage::triage(&checkpoint, &TriageOptions::default()).unwrap();
    assert!(!triage.findings.is_empty());
    let table = checkpoint_table(&checkpoint, "a", "findings").unwrap();
    assert_eq!(strs(&table, "id"), triage.findings.iter().map(|f| Some(f.id.to_string())).collect::<Vec<_>>());
    assert_eq!(u32s(&table, "pid"), triage.findings.iter().map(|f| f.pid).collect::<Vec<_>>());

    let pattern = crate::memory::Pattern::literal(b"/bin/");
    let mut all = Vec::new();
    for pid in checkpoint.memory_pids().unwrap() {
        all.extend(checkpoint.memory(pid).unwrap().search(&pattern, &crate::memory::SearchOptions::default()).unwrap());
    }
    assert!(!all.is_empty());
    let refs: Vec<(Option<&str>, &Hit)> = all.iter().map(|h| (Some("/bin/"), h)).collect();
    let table = hits("a", &refs).unwrap();
    assert_eq!(strs(&table, "pattern"), vec![Some("/bin/".to_string()); all.len()]);
    assert_eq!(u64s(&table, "address"), all.iter().map(|h| Some(h.address)).collect::<Vec<_>>());
    let matched: Vec<Vec<u8>> = table
        .batches
        .iter()
        .flat_map(|b| column(b, "match").as_binary::<i64>().iter().map(|m| m.unwrap().to_vec()).collect::<Vec<_>>())
        .collect();
    assert!(matched.iter().all(|m| m == b"/bin/"));
}

#[test]
fn large_tables_come_in_bounded_batches() {
    // 20,000 synthetic hits: three batches of at most HIT_BATCH_ROWS rows, in order.
    let checkpoint = open("pytree", "checkpoint.tar.gz");
    let pid = checkpoint.memory_pids().unwrap()[0];
    let memory = checkpoint.memory(pid).unwrap();
    let area = memory.vmas()[0].clone();
    let all: Vec<Hit> = (0..20_000u64)
        .map(|i| Hit { pid, address: i, matched: vec![1], context_start: i, context: vec![1], area: area.clone(), origins: Vec::new() })
        .collect();
    let refs: Vec<(Option<&str>, &Hit)> = all.iter().map(|h| (None, h)).collect();
    let table = hits("p", &refs).unwrap();
    assert_eq!(table.batches.len(), 20_000usize.div_ceil(HIT_BATCH_ROWS));
    assert!(table.batches.iter().all(|b| b.num_rows() <= HIT_BATCH_ROWS));
    assert_eq!(u64s(&table, "address"), (0..20_000u64).map(Some).collect::<Vec<_>>());
}

#[test]
fn a_failure_names_its_file_and_offset() {
    let error = Error::Malformed { at: crate::error::Location::new("pstree.img", 12), detail: "bad".into() };
    let failure = Failure::new("c1", Some("processes"), &error);
    assert_eq!(failure.file.as_deref(), Some("pstree.img"));
    assert_eq!(failure.offset, Some(12));
    let table = errors(&[failure.clone(), Failure::new("c2", None, &Error::Cancelled)]).unwrap();
    assert_eq!(strs(&table, "checkpoint"), vec![Some("c1".into()), Some("c2".into())]);
    assert_eq!(u64s(&table, "offset"), vec![Some(12), None]);
    assert_eq!(strs(&table, "message"), vec![Some(error.to_string()), Some("cancelled".into())]);
}
