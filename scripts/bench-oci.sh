#!/usr/bin/env bash
# Open cost of a checkpoint delivered as a container image, against the plain
# checkpoint tar it carries (issue #13). A generated checkpoint of BENCH_MIB
# MiB of process memory (synth_checkpoint) is tarred, then wrapped by
# scripts/make-oci-image.py as: oci-archive with an uncompressed layer,
# docker-archive, oci-archive with a gzip layer (podman save's default); the
# plain tar.gz is the compressed baseline. `criu-images show` opens each
# (every blob read is sha256-checked). Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-bench-oci.XXXXXX)}
mib=${BENCH_MIB:-256}
cargo build --release -q -p criu-images --bin criu-images --example synth_checkpoint
bin=target/release/criu-images
[ -f "$work/cp/pages-1.img" ] || target/release/examples/synth_checkpoint "$work/cp" "$mib"
[ -f "$work/plain.tar" ] || tar -C "$work/cp" -cf "$work/plain.tar" .
[ -f "$work/plain.tar.gz" ] || gzip -6 -c "$work/plain.tar" > "$work/plain.tar.gz"
[ -f "$work/oci-none.tar" ] || scripts/make-oci-image.py "$work/plain.tar" "$work/oci-none.tar" --form oci-archive
[ -f "$work/docker.tar" ] || scripts/make-oci-image.py "$work/plain.tar" "$work/docker.tar" --form docker-archive
[ -f "$work/oci-gzip.tar" ] || scripts/make-oci-image.py "$work/plain.tar" "$work/oci-gzip.tar" --form oci-archive --gzip
hyperfine --output=pipe -N -w 1 -r "${RUNS:-10}" --export-json "$work/open.json" \
    "$bin show $work/plain.tar" "$bin show $work/oci-none.tar" "$bin show $work/docker.tar" \
    "$bin show $work/plain.tar.gz" "$bin show $work/oci-gzip.tar" >/dev/null
python3 - "$work/open.json" "$mib" <<'PY'
import json, sys
r = {x["command"].split()[-1].rsplit("/", 1)[-1]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"open (show) of a {sys.argv[2]} MiB checkpoint, mean seconds: " + ", ".join(f"{k} {v:.4f}" for k, v in r.items()))
print(f"oci-archive (uncompressed layer) / plain tar = {r['oci-none.tar'] / r['plain.tar']:.2f}x")
print(f"docker-archive / plain tar                  = {r['docker.tar'] / r['plain.tar']:.2f}x")
print(f"oci-archive (gzip layer) / plain tar.gz     = {r['oci-gzip.tar'] / r['plain.tar.gz']:.2f}x")
print(f"oci-archive (gzip layer) / plain tar        = {r['oci-gzip.tar'] / r['plain.tar']:.2f}x")
PY
