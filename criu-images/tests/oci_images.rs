//! Checkpoints delivered as container images (issue #13): Podman's
//! `--create-image` checkpoint saved as oci-archive, oci-layout directory and
//! docker-archive, the Kubernetes blog's buildah image, and a real
//! containerd checkpoint image, each read like the plain checkpoint tar they
//! carry; and hostile images failing with clear errors.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use criu_images::archive::oci::ImageKind;
use criu_images::archive::{Archive, ArchiveFormat, OpenOptions};
use criu_images::image::Image;
use criu_images::json::{self, DecodeOptions};
use criu_images::Checkpoint;
use sha2::{Digest, Sha256};

fn fixture(path: &str) -> PathBuf {
    common::fixtures_dir().join(path)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

const PODMAN_LAYER: &str = "22ad402ddf832bedad154bdab9fbc3a2df1a7b3e43670a296b33fb5c487c770d";
const PODMAN_MANIFEST: &str = "a614266a6846394761cde4b457f9c072923aef648fe9bfb4c182d5d5c735cb83";
const PODMAN_DIFF_ID: &str = "4fd5cb32d616daa2489b81195afdbb111a79b0d20c0643f5f8ff8da1fd2f6f06";

/// The plain checkpoint tar the Podman image carries: its layer, gunzipped
/// (byte-identical to the shared fixture's checkpoint.tar, whose sha256 is
/// the image's diff_id).
fn plain_checkpoint_tar(dir: &Path) -> PathBuf {
    let gz = std::fs::read(fixture(&format!("oci-image/oci-dir/blobs/sha256/{PODMAN_LAYER}"))).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut tar).unwrap();
    assert_eq!(sha256(&tar), PODMAN_DIFF_ID);
    let path = dir.join("checkpoint.tar");
    std::fs::write(&path, tar).unwrap();
    path
}

const FORMS: [(&str, ArchiveFormat, ImageKind); 4] = [
    ("oci-image/oci-archive.tar", ArchiveFormat::OciArchive, ImageKind::Podman),
    ("oci-image/oci-dir", ArchiveFormat::OciLayout, ImageKind::Podman),
    ("oci-image/docker-archive.tar", ArchiveFormat::DockerArchive, ImageKind::Unmarked),
    ("oci-image/buildah-oci-archive.tar", ArchiveFormat::OciArchive, ImageKind::Kubernetes),
];

const CONTAINERD: &str = "containerd/containerd-checkpoint-nobase.tar";

/// `inspect --all --format json` without what differs by design: the path,
/// the form and the image (digests).
fn inspect_json(path: &Path) -> serde_json::Value {
    let text = stdout(&["inspect", "--all", "--format", "json", path.to_str().unwrap()]);
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let checkpoint = value["checkpoint"].as_object_mut().unwrap();
    for key in ["path", "format", "archive_format", "image"] {
        checkpoint.remove(key);
    }
    value
}

#[test]
fn every_image_form_inspects_exactly_like_the_plain_tar() {
    let dir = tempfile::tempdir().unwrap();
    let plain = inspect_json(&plain_checkpoint_tar(dir.path()));
    assert_eq!(plain["processes"][0]["pid"], 1);
    for (form, _, _) in FORMS {
        assert_eq!(inspect_json(&fixture(form)), plain, "{form}");
    }
}

#[test]
fn forms_and_kinds_are_detected_from_the_content() {
    for (form, format, kind) in FORMS {
        let archive = Archive::open(fixture(form), &OpenOptions::default()).unwrap();
        assert_eq!(archive.format(), format, "{form}");
        let image = archive.image().unwrap();
        assert_eq!(image.kind, kind, "{form}");
        assert!(archive.get("checkpoint/inventory.img").is_some(), "{form}");
    }
    // The same bytes under a name that says nothing.
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("evidence-17.bin");
    std::fs::copy(fixture("oci-image/oci-archive.tar"), &renamed).unwrap();
    assert_eq!(Archive::open(&renamed, &OpenOptions::default()).unwrap().format(), ArchiveFormat::OciArchive);
    let containerd = Archive::open(fixture(CONTAINERD), &OpenOptions::default()).unwrap();
    assert_eq!(containerd.image().unwrap().kind, ImageKind::Containerd);
    // A plain checkpoint tar is not an image.
    assert!(Archive::open(plain_checkpoint_tar(dir.path()), &OpenOptions::default()).unwrap().image().is_none());
}

/// Each protobuf image of the checkpoint decodes to crit 4.2's JSON.
fn assert_decodes_like_crit(path: &Path, goldens: &str) -> usize {
    let checkpoint = Checkpoint::open(path).unwrap();
    let mut checked = 0;
    for name in checkpoint.protobuf_image_names().unwrap() {
        let golden = std::fs::read_to_string(fixture(&format!("{goldens}/decoded-crit-4.x/{name}.json")))
            .unwrap_or_else(|_| panic!("{}: no golden for {name}", path.display()));
        let plain = std::fs::read_to_string(fixture(&format!("{goldens}/decoded-crit-4.x-plain/{name}.json"))).unwrap();
        let image = Image::parse(&name, checkpoint.image_bytes(&name).unwrap()).unwrap();
        assert_eq!(json::to_json(&image, &DecodeOptions::PRETTY).unwrap(), golden, "{}: {name}", path.display());
        assert_eq!(json::to_json(&image, &DecodeOptions::PLAIN).unwrap(), plain, "{}: {name}", path.display());
        checked += 1;
    }
    checked
}

#[test]
fn every_image_decodes_to_the_crit_goldens() {
    // Every golden is matched: as many images as crit decoded.
    let goldens = |set: &str| std::fs::read_dir(fixture(&format!("{set}/decoded-crit-4.x"))).unwrap().count();
    assert_eq!(goldens("oci-image"), 16);
    assert_eq!(goldens("containerd"), 15);
    for (form, _, _) in FORMS {
        assert_eq!(assert_decodes_like_crit(&fixture(form), "oci-image"), 16, "{form}");
    }
    assert_eq!(assert_decodes_like_crit(&fixture(CONTAINERD), "containerd"), 15);
}

/// Processes, markers and peeks of truth.json, read through the image.
fn assert_truth(path: &Path, truth_file: &str) {
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture(truth_file)).unwrap()).unwrap();
    let checkpoint = Checkpoint::open(path).unwrap();
    let vpids: Vec<u32> = truth["processes"].as_array().unwrap().iter().map(|p| p["vpid"].as_u64().unwrap() as u32).collect();
    assert_eq!(checkpoint.pids().unwrap(), vpids, "{}", path.display());
    let mut markers = 0;
    for process in truth["processes"].as_array().unwrap() {
        let memory = checkpoint.memory(process["vpid"].as_u64().unwrap() as u32).unwrap();
        for marker in process["markers"].as_array().unwrap() {
            let value = marker["value"].as_str().unwrap().as_bytes();
            let read = memory.read(marker["addr"].as_u64().unwrap(), value.len() as u64).unwrap();
            assert_eq!(&*read, value, "{}", path.display());
            markers += 1;
        }
        let processes = checkpoint.processes().unwrap();
        assert_eq!(
            processes[0].cmdline.join(" "),
            process["cmdline"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect::<Vec<_>>().join(" ")
        );
    }
    for (_, peek) in truth["peeks"].as_object().unwrap() {
        let memory = checkpoint.memory(1).unwrap();
        let bytes = memory.read(peek["addr"].as_u64().unwrap(), peek["len"].as_u64().unwrap()).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, peek["hex"].as_str().unwrap(), "{}", path.display());
    }
    assert_eq!(markers, 2, "{}", path.display());
}

#[test]
fn truth_facts_read_back_through_every_form() {
    for (form, _, _) in FORMS {
        assert_truth(&fixture(form), "oci-image/truth.json");
    }
    assert_truth(&fixture(CONTAINERD), "containerd/truth.json");
}

#[test]
fn containerd_checkpoint_reaches_the_container_model() {
    let checkpoint = Checkpoint::open(fixture(CONTAINERD)).unwrap();
    let container = checkpoint.container().unwrap().expect("spec from the config blob");
    assert_eq!(container.engine.name(), "containerd");
    assert_eq!(container.image_name.as_deref(), Some("localhost/fx-base:latest"));
    assert_eq!(container.runtime.as_deref(), Some("io.containerd.runc.v2"));
    assert_eq!(container.cgroup_path.as_deref(), Some("/fx/fx-counter"));
    let process = container.process.unwrap();
    assert_eq!(process.args, ["/opt/fx/counter", "/var/log/counter.log", "/tmp/counter.info"]);
    assert!(process.env.iter().any(|e| e == "COUNTER_SECRET=07523389e03c01a1f5cf7a74"));
    // The CRIU images are read in place: they lie inside the mapped tar.
    assert_eq!(checkpoint.images().dir(), "checkpoint");
    // The rw layer is the container's changed files.
    let diff = checkpoint.rootfs_diff().unwrap().unwrap();
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("containerd/truth.json")).unwrap()).unwrap();
    assert_eq!(diff.get("/tmp/counter.info").unwrap(), truth["program_info"]["counter.info"].as_str().unwrap().as_bytes());
    let listing = stdout(&["rootfs", fixture(CONTAINERD).to_str().unwrap(), "ls"]);
    assert!(listing.contains("/tmp/counter.info") && listing.contains("/var/log/counter.log"), "{listing}");
}

#[test]
fn show_names_form_engine_image_annotations_time_and_digests() {
    let text = stdout(&["show", fixture("oci-image/oci-archive.tar").to_str().unwrap()]);
    for expected in [
        "Container:      fx-oci-counter (Podman, runc)",
        "Delivered as:   oci-archive (podman checkpoint)",
        &format!("Checkpoint image: localhost/counter-checkpoint:latest sha256:{PODMAN_MANIFEST}"),
        "Image created:  2026-12-01T14:12:12.792078311Z",
        "Base image:     localhost/fx-base:latest",
        "  io.podman.annotations.checkpoint.criu.version=40200",
        &format!("layer                sha256:{PODMAN_LAYER}"),
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let text = stdout(&["show", fixture(CONTAINERD).to_str().unwrap()]);
    for expected in [
        "(containerd, io.containerd.runc.v2)",
        "Image:          localhost/fx-base:latest",
        "Delivered as:   oci-archive (containerd checkpoint)",
        "Checkpoint image: localhost/fx-counter-checkpoint:latest sha256:e97c9e72d22cce40add574b85814c0314e7d87f7124f0530d8f4a7405c86b00e",
        "criu images          sha256:49f4b0ffd28d0d365fceed964ad11891543f328ab0ace7ec3151d53baecd63ea",
        "  io.containerd.checkpoint.snapshotter=overlayfs",
        // The CRIU blob's members are dated 2026-12-01 14:19 (README), the
        // truth was captured just before.
        "Checkpointed:   2026-12-01T14:19:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let text = stdout(&["show", fixture("oci-image/docker-archive.tar").to_str().unwrap()]);
    assert!(text.contains("Delivered as:   docker-archive (image)"), "{text}");
    assert!(text.contains(&format!("layer                sha256:{PODMAN_DIFF_ID}")), "{text}");
    let text = stdout(&["ls", fixture("oci-image/oci-dir").to_str().unwrap()]);
    assert!(
        text.starts_with(&format!("oci-layout: podman checkpoint localhost/counter-checkpoint:latest sha256:{PODMAN_MANIFEST}\n")),
        "{text}"
    );
}

#[test]
fn verify_checks_every_blob_and_reports_mismatches() {
    let text = stdout(&["show", "--verify", fixture(CONTAINERD).to_str().unwrap()]);
    assert!(text.contains("Verify:         8 blobs, 8 ok, 0 mismatched"), "{text}");
    let text = stdout(&["ls", "--verify", fixture("oci-image/docker-archive.tar").to_str().unwrap()]);
    assert!(text.contains("Verify:         2 blobs, 2 ok, 0 mismatched"), "{text}");
    // A blob the checkpoint does not use, altered: opening works, --verify fails.
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let unused = layout.join(format!("blobs/sha256/{}", "0".repeat(64)));
    std::fs::write(&unused, b"not what the name says").unwrap();
    stdout(&["show", layout.to_str().unwrap()]);
    let out = run(&["show", "--verify", layout.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 blobs, 3 ok, 1 mismatched") && text.contains("MISMATCH"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("do not match their digest"));
}

// ---- several images -----------------------------------------------------------

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A writable copy of the Podman image's OCI layout.
fn copy_layout(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    copy_dir(&fixture("oci-image/oci-dir"), &layout);
    layout
}

fn write_blob(layout: &Path, bytes: &[u8]) -> String {
    let hex = sha256(bytes);
    std::fs::write(layout.join(format!("blobs/sha256/{hex}")), bytes).unwrap();
    format!("sha256:{hex}")
}

fn set_index(layout: &Path, manifests: serde_json::Value) {
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// The Podman layout plus the buildah image's blobs, both listed.
fn two_image_layout(dir: &Path) -> PathBuf {
    let layout = copy_layout(dir);
    let buildah = Archive::open(fixture("oci-image/buildah-oci-archive.tar"), &OpenOptions::default()).unwrap();
    let mut buildah_outer = tar::Archive::new(std::fs::File::open(fixture("oci-image/buildah-oci-archive.tar")).unwrap());
    for entry in buildah_outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if name.starts_with("blobs/sha256/") {
            entry.unpack(layout.join(&name)).unwrap();
        }
    }
    let buildah_manifest = buildah.image().unwrap().chosen.digest.clone();
    let size = std::fs::metadata(layout.join(format!("blobs/sha256/{}", &buildah_manifest[7..]))).unwrap().len();
    set_index(
        &layout,
        serde_json::json!([
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{PODMAN_MANIFEST}"), "size": 1538,
             "annotations": {"org.opencontainers.image.ref.name": "localhost/counter-checkpoint:latest"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": buildah_manifest, "size": size,
             "annotations": {"org.opencontainers.image.ref.name": "localhost/checkpoint-image:latest"}},
        ]),
    );
    layout
}

#[test]
fn several_images_need_a_choice_and_the_error_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let layout = two_image_layout(dir.path());
    let err = Checkpoint::open(&layout).err().unwrap().to_string();
    assert!(err.contains("offers 2 images") && err.contains("--image"), "{err}");
    assert!(err.contains("localhost/counter-checkpoint:latest") && err.contains("localhost/checkpoint-image:latest"), "{err}");
    let by_ref = OpenOptions { image: Some("localhost/checkpoint-image:latest".into()), ..OpenOptions::default() };
    let checkpoint = Checkpoint::open_with(&layout, &by_ref).unwrap();
    assert_eq!(checkpoint.archive().image().unwrap().kind, ImageKind::Kubernetes);
    let by_digest = OpenOptions { image: Some(PODMAN_MANIFEST[..12].into()), ..OpenOptions::default() };
    let checkpoint = Checkpoint::open_with(&layout, &by_digest).unwrap();
    assert_eq!(checkpoint.archive().image().unwrap().kind, ImageKind::Podman);
    assert_eq!(checkpoint.archive().image().unwrap().choices.len(), 2);
    let none = OpenOptions { image: Some("nope".into()), ..OpenOptions::default() };
    let err = Checkpoint::open_with(&layout, &none).err().unwrap().to_string();
    assert!(err.contains("no image matches --image \"nope\""), "{err}");
    // The command line's global option.
    let text = stdout(&["show", "--image", "localhost/checkpoint-image:latest", layout.to_str().unwrap()]);
    assert!(text.contains("kubernetes checkpoint") && text.contains("one of 2 images"), "{text}");
    let out = run(&["inspect", layout.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose one with --image"));
}

// ---- hostile images -------------------------------------------------------------

fn open_err(path: &Path) -> String {
    match Checkpoint::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(err) => err.to_string(),
    }
}

/// Writes `manifest` as a blob and points index.json at it.
fn use_manifest(layout: &Path, manifest: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let digest = write_blob(layout, &bytes);
    set_index(
        layout,
        serde_json::json!([{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": bytes.len()}]),
    );
    digest
}

fn podman_manifest(layout: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(layout.join(format!("blobs/sha256/{PODMAN_MANIFEST}"))).unwrap()).unwrap()
}

#[test]
fn a_missing_blob_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    std::fs::remove_file(layout.join(format!("blobs/sha256/{PODMAN_LAYER}"))).unwrap();
    let err = open_err(&layout);
    assert!(err.contains(&format!("layer blob blobs/sha256/{PODMAN_LAYER}")) && err.contains("does not have it"), "{err}");
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let path = layout.join(format!("blobs/sha256/{PODMAN_LAYER}"));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = open_err(&layout);
    assert!(err.contains(PODMAN_LAYER) && err.contains("digest mismatch"), "{err}");
    // docker-archive: the layer against the config's diff_id.
    let tar_bytes = std::fs::read(fixture("oci-image/docker-archive.tar")).unwrap();
    let mut tampered = tar_bytes.clone();
    let needle = b"FORENSIC-MARKER-counter-";
    let pos = tampered.windows(needle.len()).position(|w| w == needle).unwrap();
    tampered[pos] = b'X';
    let path = dir.path().join("docker.tar");
    std::fs::write(&path, tampered).unwrap();
    let err = open_err(&path);
    assert!(err.contains(&format!("{PODMAN_DIFF_ID}.tar")) && err.contains("digest mismatch") && err.contains(PODMAN_DIFF_ID), "{err}");
}

#[test]
fn a_layer_that_is_not_a_tar_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let junk = vec![0x42u8; 4096];
    let digest = write_blob(&layout, &junk);
    let mut manifest = podman_manifest(&layout);
    manifest["layers"][0]["digest"] = digest.clone().into();
    manifest["layers"][0]["size"] = junk.len().into();
    use_manifest(&layout, &manifest);
    let err = open_err(&layout);
    assert!(err.contains(&digest[7..]) && err.contains("not a tar archive"), "{err}");
    // gzip data that is not a tar.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &[7u8; 8192]).unwrap();
    let gz = gz.finish().unwrap();
    let digest = write_blob(&layout, &gz);
    manifest["layers"][0]["digest"] = digest.clone().into();
    manifest["layers"][0]["size"] = gz.len().into();
    use_manifest(&layout, &manifest);
    let err = open_err(&layout);
    assert!(err.contains(&digest[7..]) && err.contains("not a tar archive"), "{err}");
}

#[test]
fn an_index_that_contains_itself_is_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    // A content-addressed index cannot list its own digest, so the loop
    // needs a blob stored under a name that is not its digest: the loop is
    // what gets reported (it is judged before the digest).
    let name = "1".repeat(64);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": format!("sha256:{name}"), "size": 10}]});
    std::fs::write(layout.join(format!("blobs/sha256/{name}")), serde_json::to_vec(&index).unwrap()).unwrap();
    set_index(&layout, index["manifests"].clone());
    let err = open_err(&layout);
    assert!(err.contains("index loop"), "{err}");
}

#[test]
fn deep_index_nesting_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let mut child = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{PODMAN_MANIFEST}"), "size": 1538});
    for _ in 0..20 {
        let bytes = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [child]})).unwrap();
        let digest = write_blob(&layout, &bytes);
        child = serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": bytes.len()});
    }
    set_index(&layout, serde_json::json!([child]));
    let err = open_err(&layout);
    assert!(err.contains("nested deeper than 8"), "{err}");
}

#[test]
fn an_index_listing_the_same_index_many_times_is_bounded() {
    // An index of the image, listed 64 times by an index listed 64 times:
    // 4096 paths to the same image if every reference were followed.
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let mut child = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{PODMAN_MANIFEST}"), "size": 1538});
    for fan_out in [1, 64, 64] {
        let bytes = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": vec![child; fan_out]})).unwrap();
        let digest = write_blob(&layout, &bytes);
        child = serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": bytes.len()});
    }
    set_index(&layout, serde_json::json!([child]));
    let err = open_err(&layout);
    assert!(err.contains("nested indexes read") && err.contains("256"), "{err}");
}

#[test]
fn a_huge_manifest_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let mut huge = podman_manifest(&layout);
    huge["annotations"]["padding"] = "x".repeat(5 << 20).into();
    let digest = use_manifest(&layout, &huge);
    let err = open_err(&layout);
    assert!(err.contains(&digest[7..]) && err.contains("manifest") && err.contains(&(4u64 << 20).to_string()), "{err}");
}

#[test]
fn ten_thousand_layers_are_refused_before_any_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let layout = copy_layout(dir.path());
    let mut manifest = podman_manifest(&layout);
    let layer = manifest["layers"][0].clone();
    manifest["layers"] = serde_json::Value::Array(vec![layer; 10_000]);
    use_manifest(&layout, &manifest);
    let err = open_err(&layout);
    assert!(err.contains("10000 listed") && err.contains("1024"), "{err}");
}

#[test]
fn a_layer_larger_than_the_decompression_limit_is_refused() {
    let options = OpenOptions { max_decompressed: 64 << 10, ..OpenOptions::default() };
    let err = Checkpoint::open_with(fixture("oci-image/oci-archive.tar"), &options).err().unwrap().to_string();
    assert!(err.contains(PODMAN_LAYER) && err.contains("65536"), "{err}");
}

#[test]
fn docker_archive_layers_named_through_the_legacy_link_are_followed() {
    // docker save's older manifest.json names `<v1-id>/layer.tar`, a
    // symlink member to the layer: rewrite the real archive that way.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.tar");
    let mut out = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut input = tar::Archive::new(std::fs::File::open(fixture("oci-image/docker-archive.tar")).unwrap());
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "manifest.json" {
            let text = String::from_utf8(data).unwrap();
            let legacy = "506f7b1f43bbf3c257d43d5bdb50313fd1a5babc019d987f6dc6aa7566b9ca27/layer.tar";
            data = text.replace(&format!("{PODMAN_DIFF_ID}.tar"), legacy).into_bytes();
            assert!(data.windows(legacy.len()).any(|w| w == legacy.as_bytes()));
            header.set_size(data.len() as u64);
            header.set_cksum();
        }
        out.append(&header, &data[..]).unwrap();
    }
    out.finish().unwrap();
    drop(out);
    let checkpoint = Checkpoint::open(&path).unwrap();
    assert_eq!(checkpoint.pids().unwrap(), [1]);
    let text = stdout(&["ls", "--verify", path.to_str().unwrap()]);
    assert!(text.contains("Verify:         2 blobs, 2 ok, 0 mismatched"), "{text}");
    assert!(text.contains("506f7b1f43bbf3c257d43d5bdb50313fd1a5babc019d987f6dc6aa7566b9ca27/layer.tar"), "{text}");
}
