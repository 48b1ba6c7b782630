//! Hostile container images cost memory in proportion to what is read, not
//! to what they claim: a manifest listing 10,000 layers, a 5 MiB manifest,
//! a layer declaring an exabyte. The largest single allocation is recorded.

use std::path::Path;
use std::sync::atomic::Ordering;

use criu_images::Checkpoint;
use sha2::{Digest, Sha256};

#[path = "common/largest_alloc.rs"]
mod largest_alloc;

use largest_alloc::{Largest, LARGEST};

#[global_allocator]
static ALLOCATOR: Largest = Largest;

fn copy_layout(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/oci-image/oci-dir");
    std::fs::create_dir_all(to.join("blobs/sha256")).unwrap();
    std::fs::copy(from.join("oci-layout"), to.join("oci-layout")).unwrap();
    for entry in std::fs::read_dir(from.join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join("blobs/sha256").join(path.file_name().unwrap())).unwrap();
    }
}

/// Writes `manifest` as a blob and points index.json at it.
fn use_manifest(layout: &Path, manifest: &serde_json::Value) {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(layout.join(format!("blobs/sha256/{hex}")), &bytes).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{hex}"), "size": bytes.len()}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn podman_manifest(layout: &Path) -> serde_json::Value {
    let name = "a614266a6846394761cde4b457f9c072923aef648fe9bfb4c182d5d5c735cb83";
    serde_json::from_slice(&std::fs::read(layout.join(format!("blobs/sha256/{name}"))).unwrap()).unwrap()
}

/// Opens `layout` (which must fail) and returns the largest allocation made.
fn largest_allocation_of_a_failed_open(layout: &Path) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    assert!(Checkpoint::open(layout).is_err());
    LARGEST.load(Ordering::Relaxed)
}

#[test]
fn hostile_manifests_allocate_little() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    copy_layout(&layout);
    let manifest = podman_manifest(&layout);

    let mut many = manifest.clone();
    many["layers"] = serde_json::Value::Array(vec![manifest["layers"][0].clone(); 10_000]);
    use_manifest(&layout, &many);
    let largest = largest_allocation_of_a_failed_open(&layout);
    assert!(largest < 4 << 20, "10,000 layers: largest allocation {largest} bytes");

    let mut huge = manifest.clone();
    huge["annotations"]["padding"] = "x".repeat(5 << 20).into();
    use_manifest(&layout, &huge);
    let largest = largest_allocation_of_a_failed_open(&layout);
    assert!(largest < 1 << 20, "5 MiB manifest: largest allocation {largest} bytes");

    let mut claims = manifest.clone();
    claims["layers"][0]["size"] = (1u64 << 60).into();
    use_manifest(&layout, &claims);
    let largest = largest_allocation_of_a_failed_open(&layout);
    assert!(largest < 1 << 20, "a layer claiming 2^60 bytes: largest allocation {largest} bytes");
}
