#!/usr/bin/env bash
# Side-by-side timings for process memory and archives, on inputs made with
# our own generator (make-memory-inputs, benches/src/bin/; criu cannot dump
# on every kernel):
#   1. literal search over a 1 GiB process: criu-images mem search vs
#      grep -c -F over the same pages file vs a bare memmem over it;
#   2. full-process read (mem dump) of 256 MiB vs 1 GiB: time per byte;
#   3. opening a multi-GB uncompressed tar: peak resident memory and time
#      per member (ls of the tar);
#   4. dense (768 MiB in one run) vs fragmented (200,000 one-page runs
#      between pages not dumped, 800 MB) memory: search, strings and dump,
#      time per dumped byte side by side, with grep -c -F and GNU strings
#      over the same pages files. SECTIONS="4" runs only this one.
# Needs hyperfine and /usr/bin/time (Debian packages hyperfine, time).
# Prints ratios; the machine is shared and noisy, so absolute times mean little.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-bench.XXXXXX)}
mib=${BENCH_MIB:-1024}
needle=SYNTHETIC-NEEDLE-0123456789

sections=${SECTIONS:-1 2 3 4}
cargo build --release -q -p criu-images --bin criu-images --example memmem_file
cargo build --release -q -p criu-images-benches --bin make-memory-inputs
bin=target/release/criu-images
want() { [[ " $sections " == *" $1 "* ]]; }
if want 1 || want 2 || want 3; then
[ -f "$work/cp/pages-1.img" ] || target/release/make-memory-inputs --gapped "$work/cp" "$mib"
[ -f "$work/small/pages-1.img" ] || target/release/make-memory-inputs --gapped "$work/small" $((mib / 4))

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
fi

if want 4; then
echo "== 4. dense vs fragmented layouts (load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"
target/release/make-memory-inputs "$work/layouts" >/dev/null
dense=$work/layouts/dense
frag=$work/layouts/fragmented
start() { "$bin" mem maps "$1" --pid 1 --format json | python3 -c 'import json,sys; print(hex(json.load(sys.stdin)[0]["start"]))'; }
# Dumps go to memory (tmpfs) where there is one: gigabytes written to disk
# measure the disk's writeback (seconds of throttling), not the dump.
out=$work
[ -d /dev/shm ] && [ -w /dev/shm ] && out=/dev/shm
# grep and strings write to a pipe that hyperfine reads: with /dev/null GNU grep stops at the first match.
hyperfine --output=pipe -N -w 1 -r ${RUNS:-5} --export-json "$work/layouts.json" \
    "$bin mem search $dense --pid 1 -s $needle --all" \
    "$bin mem search $frag --pid 1 -s $needle --all" \
    "grep -c -F $needle $dense/pages-1.img" \
    "grep -c -F $needle $frag/pages-1.img" \
    "$bin mem strings $dense --pid 1 -n 8" \
    "$bin mem strings $frag --pid 1 -n 8" \
    "strings -n 8 $dense/pages-1.img" \
    "strings -n 8 $frag/pages-1.img" \
    "$bin mem dump $dense --pid 1 --vma $(start "$dense") -o $out/criu-images-dense.bin" \
    "$bin mem dump $frag --pid 1 --vma $(start "$frag") -o $out/criu-images-frag.bin" >/dev/null
frag_written=$(stat -c %s "$out/criu-images-frag.bin")
dense_written=$(stat -c %s "$out/criu-images-dense.bin")
rm -f "$out"/criu-images-dense.bin* "$out"/criu-images-frag.bin*
python3 - "$work/layouts.json" "$(stat -c %s "$dense/pages-1.img")" "$(stat -c %s "$frag/pages-1.img")" "$dense_written" "$frag_written" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
res = [x["mean"] for x in results]
cpu = [x["user"] + x["system"] for x in results]
dense_bytes, frag_bytes = int(sys.argv[2]), int(sys.argv[3])
dense_written, frag_written = int(sys.argv[4]), int(sys.argv[5])
names = ["mem search", "grep -c -F", "mem strings", "GNU strings", "mem dump"]
for i, name in enumerate(names):
    d, f = res[2 * i], res[2 * i + 1]
    print(f"{name:12} dense {d:7.3f} s ({dense_bytes / d / 2**20:7.0f} MiB/s)  fragmented {f:7.3f} s ({frag_bytes / f / 2**20:7.0f} MiB/s)"
          f"  fragmented/dense per byte = {(f / frag_bytes) / (d / dense_bytes):.2f}x")
print("CPU time (user + system), fragmented/dense per dumped byte: "
      + ", ".join(f"{name} {(cpu[2 * i + 1] / frag_bytes) / (cpu[2 * i] / dense_bytes):.2f}x" for i, name in enumerate(names)))
# A dump writes the whole address range (file offset = address - start):
# the fragmented layout's one-page holes are in its file too.
d, f = res[8], res[9]
print(f"mem dump per byte written ({dense_written} vs {frag_written} bytes): wall {(f / frag_written) / (d / dense_written):.2f}x, "
      f"CPU {(cpu[9] / frag_written) / (cpu[8] / dense_written):.2f}x")
print(f"grep -c -F / mem search: dense {res[2] / res[0]:.2f}x, fragmented {res[3] / res[1]:.2f}x (target >= 1, 3 with two idle cores)")
print(f"GNU strings / mem strings: dense {res[6] / res[4]:.2f}x, fragmented {res[7] / res[5]:.2f}x")
PY
fi
echo "inputs kept in $work (BENCH_DIR=$work to reuse)"
