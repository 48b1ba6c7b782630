#!/usr/bin/env python3
"""Wraps a plain checkpoint archive (an uncompressed tar, as Podman writes it)
into a container image the way `podman container checkpoint --create-image`
followed by `podman save` does: one layer whose files are the checkpoint,
Podman's checkpoint annotation on the manifest, real sha256 digests.

    make-oci-image.py CHECKPOINT.tar OUT --form oci-archive|oci-layout|docker-archive [--gzip] [--name NAME]

oci-archive / oci-layout: index.json -> manifest -> config + layer
(`--gzip`: tar+gzip, as podman save writes it; else an uncompressed tar
layer). docker-archive: manifest.json -> <config-hex>.json + <diff_id>.tar
(always uncompressed, as docker/podman save write it). Used by
scripts/bench-oci.sh; standard library only.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--form", choices=["oci-archive", "oci-layout", "docker-archive"], required=True)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--name", default="localhost/checkpoint:latest")
    args = ap.parse_args()

    layer_tar = open(args.checkpoint, "rb").read()
    diff_id = digest(layer_tar)
    config = json.dumps({
        "created": "2026-12-01T00:00:00Z", "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
    }, separators=(",", ":")).encode()
    files = {}  # path in the output -> bytes
    if args.form == "docker-archive":
        config_hex = digest(config)
        files[f"{config_hex}.json"] = config
        files[f"{diff_id}.tar"] = layer_tar
        files["manifest.json"] = json.dumps(
            [{"Config": f"{config_hex}.json", "RepoTags": [args.name], "Layers": [f"{diff_id}.tar"]}]).encode()
    else:
        layer = gzip.compress(layer_tar, compresslevel=6, mtime=0) if args.gzip else layer_tar
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if args.gzip else "")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{digest(config)}", "size": len(config)},
            "layers": [{"mediaType": media, "digest": f"sha256:{digest(layer)}", "size": len(layer)}],
            "annotations": {"io.podman.annotations.checkpoint.name": "checkpoint"},
        }, separators=(",", ":")).encode()
        for blob in (config, layer, manifest):
            files[f"blobs/sha256/{digest(blob)}"] = blob
        files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
        files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{digest(manifest)}",
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": args.name}}]}).encode()
    if args.form == "oci-layout":
        for path, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(args.out, path)) or args.out, exist_ok=True)
            with open(os.path.join(args.out, path), "wb") as f:
                f.write(data)
        return
    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as out:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o444
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
