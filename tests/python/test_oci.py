"""Checkpoints delivered as container images, from Python (issue #13)."""

import json
import shutil

import pytest

import criu_images

PODMAN_MANIFEST = "sha256:a614266a6846394761cde4b457f9c072923aef648fe9bfb4c182d5d5c735cb83"


@pytest.mark.parametrize(
    "path, form, kind",
    [
        ("oci-image/oci-archive.tar", "oci-archive", "podman checkpoint"),
        ("oci-image/oci-dir", "oci-layout", "podman checkpoint"),
        ("oci-image/docker-archive.tar", "docker-archive", "image"),
        ("oci-image/buildah-oci-archive.tar", "oci-archive", "kubernetes checkpoint"),
        ("containerd/containerd-checkpoint-nobase.tar", "oci-archive", "containerd checkpoint"),
    ],
)
def test_image_forms_open_like_checkpoints(fixtures, path, form, kind):
    with criu_images.open(fixtures / path) as cp:
        assert cp.format == form
        image = cp.container_image
        assert image["form"] == form and image["kind"] == kind
        assert all(b["digest"].startswith("sha256:") for b in image["blobs"])
        assert cp.pids == [1]
        assert cp.container is not None
        assert b"FORENSIC-MARKER-counter-" in bytes(cp.memory(1).read(cp.search(b"FORENSIC-MARKER-counter-")[0].address, 24))


def test_containerd_image_reaches_the_container_record(fixtures):
    with criu_images.open(fixtures / "containerd/containerd-checkpoint-nobase.tar") as cp:
        assert cp.container["engine"] == "containerd"
        assert cp.container["image"] == "localhost/fx-base:latest"
        assert cp.container_image["base_image"] == "localhost/fx-base:latest"


def test_a_plain_archive_has_no_container_image(fixtures):
    with criu_images.open(fixtures / "counter/none/checkpoint.tar") as cp:
        assert cp.container_image is None


def test_image_chooses_among_several(fixtures, tmp_path):
    layout = tmp_path / "layout"
    shutil.copytree(fixtures / "oci-image/oci-dir", layout)
    index = (layout / "index.json").read_text()
    # The same manifest listed twice under two names.
    doc = json.loads(index)
    second = dict(doc["manifests"][0], annotations={"org.opencontainers.image.ref.name": "other:1"})
    doc["manifests"].append(second)
    (layout / "index.json").write_text(json.dumps(doc))
    with pytest.raises(criu_images.CriuImagesError, match="choose one with --image"):
        criu_images.open(layout)
    with criu_images.open(layout, image="other:1") as cp:
        assert cp.container_image["reference"] == "other:1"
        assert len(cp.container_image["choices"]) == 2
        assert cp.container_image["digest"] == PODMAN_MANIFEST
