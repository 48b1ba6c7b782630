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
res = json.load(open(sys.argv[1]))["results"]
wall = {x["command"].split()[-1].rsplit("/", 1)[-1]: x["mean"] for x in res}
cpu = {x["command"].split()[-1].rsplit("/", 1)[-1]: x["user"] + x["system"] for x in res}
print(f"open (show) of a {sys.argv[2]} MiB checkpoint, mean wall / CPU seconds: " + ", ".join(f"{k} {wall[k]:.3f} / {cpu[k]:.3f}" for k in wall))
for a, b, what in [("oci-none.tar", "plain.tar", "oci-archive (uncompressed layer) / plain tar"),
                   ("docker.tar", "plain.tar", "docker-archive / plain tar"),
                   ("oci-gzip.tar", "plain.tar.gz", "oci-archive (gzip layer) / plain tar.gz"),
                   ("oci-gzip.tar", "plain.tar", "oci-archive (gzip layer) / plain tar")]:
    print(f"{what:<46} wall {wall[a] / wall[b]:7.2f}x   CPU {cpu[a] / cpu[b]:7.2f}x")
PY
