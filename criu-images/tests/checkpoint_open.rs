//! Opening checkpoints as they arrive: the same checkpoint as tar, tar.gz
//! and tar.zst gives the same members, bytes, processes and memory; images
//! directories follow their pre-dump chain; hostile archives are refused
//! with clear errors.

mod common;

use std::io::Write;

use criu_images::archive::{Archive, ArchiveFormat, MemberKind, OpenOptions};
use criu_images::memory::{Pattern, SearchOptions};
use criu_images::{Checkpoint, Error};

fn fixture(path: &str) -> std::path::PathBuf {
    common::fixtures_dir().join(path)
}

#[test]
fn tar_gz_and_zst_of_one_checkpoint_are_identical() {
    let formats = [
        ("counter/none/checkpoint.tar", ArchiveFormat::Tar),
        ("counter/gzip/checkpoint.tar.gz", ArchiveFormat::TarGz),
        ("counter/zstd/checkpoint.tar.zst", ArchiveFormat::TarZst),
    ];
    let mut listings = Vec::new();
    for (path, format) in formats {
        let checkpoint = Checkpoint::open(fixture(path)).unwrap();
        assert_eq!(checkpoint.archive().format(), format);
        assert_eq!(checkpoint.images().dir(), "checkpoint");
        let members: Vec<(String, u64)> = checkpoint.archive().members().map(|m| (m.name.to_string(), m.size)).collect();
        assert!(members.iter().any(|(n, _)| n == "checkpoint/pstree.img"));
        // The bytes of every member equal what the tar crate extracts.
        let truth = common::image_sets().into_iter().find(|s| s.label == path.rsplit_once('/').unwrap().0).unwrap();
        for (name, bytes) in &truth.files {
            assert_eq!(checkpoint.image_bytes(name).unwrap(), bytes.as_slice(), "{path}: {name}");
        }
        let memory = checkpoint.memory(1).unwrap();
        let hits = memory.search(&Pattern::regex("FORENSIC-MARKER-counter-[0-9a-f]{16}").unwrap(), &SearchOptions::default()).unwrap();
        listings.push((members, checkpoint.pids().unwrap(), hits.iter().map(|h| (h.address, h.matched.clone())).collect::<Vec<_>>()));
    }
    // The three exports are separate Podman runs of one program: same
    // layout and processes; the marker is found once in each.
    for (members, pids, hits) in &listings {
        assert_eq!(pids, &vec![1]);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(members.len(), listings[0].0.len());
    }
}

#[test]
fn directories_follow_their_parent_chain() {
    let checkpoint = Checkpoint::open(fixture("predump/dump")).unwrap();
    assert_eq!(checkpoint.archive().format(), ArchiveFormat::Directory);
    let parents: Vec<String> =
        checkpoint.parents().iter().map(|p| p.archive().path().file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(parents, ["pre2", "pre1"]);
    assert!(matches!(checkpoint.archive().get("parent").unwrap().kind, MemberKind::Symlink(t) if t == "../pre2"));
    let memory = checkpoint.memory(25946).unwrap();
    assert!(!memory.search(&Pattern::literal("THREAD-HEAP-MARKER-3"), &SearchOptions::default()).unwrap().is_empty());
}

#[test]
fn single_images_and_image_directories_open_too() {
    let single = Checkpoint::open(fixture("counter-host/images/pstree.img")).unwrap();
    assert_eq!(single.archive().format(), ArchiveFormat::File);
    assert_eq!(single.pids().unwrap(), vec![24152]);
    let dir = Checkpoint::open(fixture("counter-host/images")).unwrap();
    assert_eq!(dir.images().dir(), "");
    assert!(dir.image_names().contains(&"pages-1.img".to_string()));
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("criu-images-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tar_with(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::new(*kind));
        if !link.is_empty() {
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend(vec![0u8; 1024]);
    out
}

#[test]
fn hostile_archives_give_clear_errors() {
    let dir = temp_dir("hostile");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let err = |path: &std::path::Path| Archive::open(path, &OpenOptions::default()).unwrap_err().to_string();

    let traversal = write("traversal.tar", &tar_with(&[("../../etc/cron.d/x", b'0', b"evil", "")]));
    let text = err(&traversal);
    assert!(text.contains("traversal.tar: offset 0") && text.contains("outside"), "{text}");

    let absolute = write("absolute.tar", &tar_with(&[("/etc/passwd", b'0', b"evil", "")]));
    assert!(err(&absolute).contains("absolute"));

    // Links are listed, never followed out of the archive.
    let links = write(
        "links.tar",
        &tar_with(&[
            ("a", b'0', b"data", ""),
            ("sym", b'2', b"", "/etc/shadow"),
            ("hard", b'1', b"", "a"),
            ("dangling", b'1', b"", "nope"),
        ]),
    );
    let archive = Archive::open(&links, &OpenOptions::default()).unwrap();
    assert_eq!(archive.read("hard").unwrap(), b"data");
    assert!(archive.read("sym").unwrap_err().to_string().contains("not a regular file"));
    assert!(archive.read("dangling").unwrap_err().to_string().contains("does not have"));
    assert!(archive.resolve_link("", "/etc/shadow").is_err());
    assert!(archive.resolve_link("checkpoint", "../../x").is_err());

    // A size larger than the file, and a truncated header.
    let mut big = tar_with(&[("a", b'0', b"data", "")]);
    big[124..135].copy_from_slice(b"77777777777");
    let sum: u32 = big[..512].iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) }).sum();
    big[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    assert!(err(&write("big.tar", &big)).contains("claims"));
    let truncated = tar_with(&[("a", b'0', b"data", "")]);
    let mut cut = truncated[..512 + 512 + 100].to_vec();
    cut[1024..1124].fill(1);
    assert!(err(&write("cut.tar", &cut)).contains("truncated tar header"));

    // A parent link that leaves the archive, and one that loops.
    let outside = write(
        "outside.tar",
        &tar_with(&[("checkpoint/inventory.img", b'0', b"", ""), ("checkpoint/parent", b'2', b"", "../../elsewhere")]),
    );
    let text = Checkpoint::open(&outside).err().unwrap().to_string();
    assert!(text.contains("points outside the archive"), "{text}");
    let looped = write(
        "loop.tar",
        &tar_with(&[
            ("a/inventory.img", b'0', b"", ""),
            ("a/parent", b'2', b"", "../b"),
            ("b/inventory.img", b'0', b"", ""),
            ("b/parent", b'2', b"", "../a"),
        ]),
    );
    let text = Checkpoint::open(&looped).err().unwrap().to_string();
    assert!(text.contains("loop"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    let dir = temp_dir("bomb");
    // 1 GiB of zeros compresses to a few kilobytes.
    let path = dir.join("bomb.tar.zst");
    let bomb = |path: &std::path::Path, declared: u64| {
        let mut encoder = zstd::Encoder::new(std::fs::File::create(path).unwrap(), 3).unwrap();
        let zeros = vec![0u8; 1 << 20];
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..1].copy_from_slice(b"a");
        header.set_size(declared);
        header.set_mode(0o644);
        header.set_cksum();
        encoder.write_all(header.as_bytes()).unwrap();
        for _ in 0..1024 {
            encoder.write_all(&zeros).unwrap();
        }
        encoder.finish().unwrap();
        assert!(std::fs::metadata(path).unwrap().len() < 1 << 20);
    };
    let options = OpenOptions { max_decompressed: 64 << 20, ..OpenOptions::default() };
    // A member of 1 GiB of zeros: its header alone says it is too large.
    bomb(&path, 1 << 30);
    match Archive::open(&path, &options) {
        Err(Error::Limit { limit, .. }) => assert_eq!(limit, 64 << 20),
        other => panic!("expected a limit error, got {other:?}"),
    }
    // A 1-byte member, then zeros: they end the archive, the rest is not read.
    bomb(&path, 1);
    let archive = Archive::open(&path, &options).unwrap();
    assert_eq!(archive.read("a").unwrap(), b"\0");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_backed_pages_come_from_the_rootfs_diff_or_from_nothing() {
    use criu_images::memory::{Content, Missing};
    let checkpoint = Checkpoint::open(fixture("pytree/checkpoint.tar.gz")).unwrap();
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("pytree/truth.json")).unwrap()).unwrap();
    let marker =
        truth["processes"][0]["markers"].as_array().unwrap().iter().find(|m| m["mapping_path"] == "/data/run/mapped-shared.bin").unwrap();
    let addr = marker["addr"].as_u64().unwrap();
    let value = marker["value"].as_str().unwrap().as_bytes();

    let plain = checkpoint.memory_with(1, None).unwrap();
    let piece = plain.pieces_in(addr, addr + 1).next().unwrap();
    assert_eq!(piece.content, Content::Missing(Missing::FileBacked));

    let diff = checkpoint.rootfs_diff().unwrap().unwrap();
    assert!(diff.members().any(|(name, _, _)| name == "data/run/mapped-shared.bin"));
    let filled = checkpoint.memory_with(1, Some(&diff)).unwrap();
    assert_eq!(&*filled.read(addr, value.len() as u64).unwrap(), value);
    assert!(matches!(filled.pieces_in(addr, addr + 1).next().unwrap().content, Content::File(..)));
}

#[test]
fn a_rootfs_directory_does_not_follow_links_out_of_it() {
    use criu_images::archive::RootDir;
    use criu_images::memory::FileSource;
    let dir = temp_dir("rootdir");
    std::fs::create_dir_all(dir.join("root/usr/lib")).unwrap();
    std::fs::write(dir.join("root/usr/lib/libx.so"), b"library bytes").unwrap();
    std::fs::write(dir.join("secret"), b"analyst's own file").unwrap();
    std::os::unix::fs::symlink(dir.join("secret"), dir.join("root/usr/lib/evil.so")).unwrap();
    std::os::unix::fs::symlink("../../../secret", dir.join("root/usr/lib/evil2.so")).unwrap();
    let root = RootDir::new(dir.join("root")).unwrap();
    assert_eq!(root.file_bytes("/usr/lib/libx.so"), Some(&b"library bytes"[..]));
    assert_eq!(root.file_bytes("/usr/lib/evil.so"), None);
    assert_eq!(root.file_bytes("/usr/lib/evil2.so"), None);
    assert_eq!(root.file_bytes("/../secret"), None);
    std::fs::remove_dir_all(&dir).unwrap();
}
