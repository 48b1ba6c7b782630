#!/usr/bin/env bash
# Side-by-side timings for process memory and archives, on inputs made with
# our own generator (criu cannot dump on every kernel):
#   1. literal search over a 1 GiB process: criu-images mem search vs
#      grep -c -F over the same pages file vs a bare memmem over it;
#   2. full-process read (mem dump) of 256 MiB vs 1 GiB: time per byte;
#   3. opening a multi-GB uncompressed tar: peak resident memory and time
#      per member (ls of the tar).
# Needs hyperfine and /usr/bin/time (Debian packages hyperfine, time).
# Prints ratios; the machine is shared and noisy, so absolute times mean little.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-bench.XXXXXX)}
mib=${BENCH_MIB:-1024}
needle=SYNTHETIC-NEEDLE-0123456789

cargo build --release -q -p criu-images --bin criu-images --example synth_checkpoint --example memmem_file
bin=target/release/criu-images
[ -f "$work/cp/pages-1.img" ] || target/release/examples/synth_checkpoint "$work/cp" "$mib"
[ -f "$work/small/pages-1.img" ] || target/release/examples/synth_checkpoint "$work/small" $((mib / 4))

echo "== 1. literal search over $mib MiB of process memory"
hyperfine --output=pipe -N -w 2 -r 10 --export-json "$work/search.json" \
    "$bin mem search $work/cp --pid 1 -s $needle --format json" \
    "grep -c -F $needle $work/cp/pages-1.img" \
    "target/release/examples/memmem_file $work/cp/pages-1.img $needle" >/dev/null
python3 - "$work/search.json" <<'PY'
import json, sys
r = {x["command"].split()[0].rsplit("/", 1)[-1]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
ours, grep, memmem = r["criu-images"], r["grep"], r["memmem_file"]
print(f"grep -c -F / criu-images mem search = {grep / ours:.2f}x  (target >= 3x)")
print(f"criu-images mem search / bare memmem = {ours / memmem:.2f}x  (1.0 = the floor)")
PY

echo "== 2. full-process read (mem dump), $((mib / 4)) MiB vs $mib MiB"
area() { "$bin" mem maps "$1" --pid 1 --format json | python3 -c 'import json,sys; m=json.load(sys.stdin)[0]; print(hex(m["start"]))'; }
hyperfine --output=pipe -N -w 1 -r 5 --export-json "$work/dump.json" \
    "$bin mem dump $work/small --pid 1 --vma $(area "$work/small") -o $work/small.bin" \
    "$bin mem dump $work/cp --pid 1 --vma $(area "$work/cp") -o $work/big.bin" >/dev/null
python3 - "$work/dump.json" <<'PY'
import json, sys
small, big = (x["mean"] for x in json.load(open(sys.argv[1]))["results"])
print(f"4x the memory takes {big / small:.2f}x the time (linear = 4.0)")
PY
rm -f "$work/small.bin" "$work/big.bin"

echo "== 3. opening a multi-GB tar (members indexed from headers only)"
if [ ! -f "$work/big.tar" ]; then
    mkdir -p "$work/filler"
    for i in $(seq 1 2000); do echo "$i" > "$work/filler/m$i.txt"; done
    truncate -s 2G "$work/filler/zeros.bin"
    tar -C "$work" -cf "$work/big.tar" cp filler
fi
size=$(du -h --apparent-size "$work/big.tar" | cut -f1)
members=$(tar -tf "$work/big.tar" | wc -l)
/usr/bin/time -f "%M" -o "$work/rss.txt" "$bin" ls "$work/big.tar" >/dev/null
echo "ls of a $size tar with $members members: peak RSS $(( $(cat "$work/rss.txt") / 1024 )) MiB (target < 50 MiB)"
hyperfine --output=pipe -N -w 1 -r 5 --export-json "$work/open.json" "$bin ls $work/big.tar" >/dev/null
python3 - "$work/open.json" "$members" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
print(f"ls of the tar: {res[-1]['mean'] * 1e6 / int(sys.argv[2]):.1f} us per member")
PY
echo "inputs kept in $work (BENCH_DIR=$work to reuse)"
