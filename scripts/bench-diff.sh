#!/usr/bin/env bash
# criu-images diff on two generated checkpoints (make-diff-inputs: one
# process, one dense run of pages, the second with one byte changed in 5% of
# its pages), side by side with cmp -l over the same two pages files (cmp
# alone stops at the first difference; -l reads both to the end), at
# 100 MiB, 1 GiB and (when the disk has room: DIFF_SIZES) 4 GiB per side.
# Also the peak anonymous memory (RssAnon, polled) of the diff: the pages
# are mapped, not copied, so it follows the index and the ranges found,
# not the data. Needs hyperfine. Inputs are deleted after each size.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-bench-diff.XXXXXX)}
sizes=${DIFF_SIZES:-100 1024 4096}
cargo build --release -q -p criu-images --bin criu-images
cargo build --release -q -p criu-images-benches --bin make-diff-inputs
bin=$PWD/target/release/criu-images
for mib in $sizes; do
    free=$(df -Pm "$work" | awk 'NR == 2 {print $4}')
    if [ "$free" -lt $((2 * mib + 4096)) ]; then
        echo "== $mib MiB: skipped, $free MiB free"
        continue
    fi
    target/release/make-diff-inputs "$work/$mib" "$mib" 5
    old=$work/$mib/old new=$work/$mib/new
    echo "== $mib MiB per side, 5% of pages changed"
    hyperfine --output=pipe -N -i -w 1 -r 5 --export-json "$work/$mib.json" \
        "$bin diff $old $new --format json" \
        "cmp -l $old/pages-1.img $new/pages-1.img" >/dev/null
    python3 - "$work/$mib.json" "$bin" "$old" "$new" <<'PY'
import json, subprocess, sys, time
r = [x["mean"] for x in json.load(open(sys.argv[1]))["results"]]
print(f"  criu-images diff {r[0]:.3f} s, cmp -l {r[1]:.3f} s: cmp / diff = {r[1] / r[0]:.2f}x (>= 1 means at least as fast)")
p = subprocess.Popen([sys.argv[2], "diff", sys.argv[3], sys.argv[4], "--format", "json"], stdout=subprocess.PIPE)
peak, out = 0, []
while p.poll() is None:
    try:
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("RssAnon:"):
                peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
    out.append(p.stdout.read1(1 << 20) if p.stdout else b"")
    time.sleep(0.005)
out.append(p.stdout.read())
ranges = len(json.loads(b"".join(out))["memory"])
print(f"  peak anonymous memory of the diff: {peak / 1024:.1f} MiB; {ranges} page ranges reported")
PY
    rm -rf "${work:?}/$mib"
done
