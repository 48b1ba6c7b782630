#!/usr/bin/env bash
# CPU time of the core writer (coredump::write_core_file, through
# examples/write_core.rs: no provenance sidecar) on processes whose memory
# is cut into many small dumped runs between holes, written to ext4 and to
# tmpfs. Run it at two commits to compare two hole rules. Layouts (one
# private anonymous area each, made here with `criu-images encode`):
#   scattered:  RUNS runs of 1-4 dumped pages, each followed by a hole of
#               1-15 pages (pseudo-random, fixed seed);
#   fragmented: RUNS runs of 1 page, each followed by a hole of 1 page.
# Registers come from the counter fixture's core-1.img.
#
#   scripts/bench-core-holes.sh          # RUNS=40000, 5 runs each, /tmp and /dev/shm
#   RUNS=200000 REPEAT=3 DIRS="/tmp" scripts/bench-core-holes.sh
#
# Prints, per layout and directory, user+sys CPU seconds of each run (from
# /usr/bin/time), the best and median, and the core's size and blocks
# allocated (du): what writeback then has to write on a disk.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
target=${CARGO_TARGET_DIR:-$repo/target}
runs=${RUNS:-40000}
repeat=${REPEAT:-5}
dirs=${DIRS:-/tmp /dev/shm}
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-core-holes.XXXXXX)}
cargo build --release -q -p criu-images --no-default-features --features cli --bin criu-images --example write_core
bin=$target/release/criu-images
writer=$target/release/examples/write_core

make_layout() { # DIR MIN_RUN MAX_RUN MIN_HOLE MAX_HOLE
    local dir=$1
    [ -f "$dir/pages-1.img" ] && return
    mkdir -p "$dir"
    python3 - "$dir" "$runs" "$2" "$3" "$4" "$5" <<'PY'
import json, random, sys
dir, runs, lo, hi, hole_lo, hole_hi = sys.argv[1], *map(int, sys.argv[2:])
rng, base, page = random.Random(20261202), 0x7F0000000000, 4096
entries, at, dumped = [{"pages_id": 1}], 0, 0
for _ in range(runs):
    n = rng.randint(lo, hi)
    entries.append({"vaddr": base + at * page, "compat_nr_pages": 0, "flags": 4, "nr_pages": n})
    at += n + rng.randint(hole_lo, hole_hi)
    dumped += n
def put(name, doc):
    with open(f"{dir}/{name}.json", "w") as f:
        json.dump(doc, f)
put("pagemap-1", {"magic": "PAGEMAP", "entries": entries})
put("pstree", {"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]})
zero = dict.fromkeys(["mm_start_code", "mm_end_code", "mm_start_data", "mm_end_data", "mm_start_stack", "mm_start_brk",
                      "mm_brk", "mm_arg_start", "mm_arg_end", "mm_env_start", "mm_env_end", "exe_file_id"], 0)
vma = {"start": base, "end": base + at * page, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}
put("mm-1", {"magic": "MM", "entries": [{**zero, "mm_saved_auxv": [6, 4096], "vmas": [vma]}]})
with open(f"{dir}/pages-1.img", "wb") as f:
    for _ in range(dumped):
        f.write(rng.randbytes(page))
print(f"{dir}: {runs} runs, {dumped} dumped pages in {at} pages of addresses")
PY
    for name in pagemap-1 pstree mm-1; do
        "$bin" encode -i "$dir/$name.json" -o "$dir/$name.img"
        rm "$dir/$name.json"
    done
    tar -xaf "$repo/tests/fixtures/counter/zstd/checkpoint.tar.zst" -C "$dir" --strip-components=1 checkpoint/core-1.img checkpoint/files.img
}

make_layout "$work/scattered" 1 4 1 15
make_layout "$work/fragmented" 1 1 1 1

for layout in scattered fragmented; do
    for dir in $dirs; do
        core=$dir/criu-images-bench-core.$$
        times=()
        for _ in $(seq "$repeat"); do
            rm -f "$core"
            /usr/bin/time -f "%U %S" -o "$work/time" "$writer" "$work/$layout" 1 "$core" >/dev/null
            times+=("$(awk '{printf "%.2f", $1 + $2}' "$work/time")")
        done
        size=$(stat -c %s "$core")
        blocks=$(du -k "$core" | cut -f1)
        rm -f "$core"
        sorted=$(printf '%s\n' "${times[@]}" | sort -n)
        echo "$layout on $dir ($(df --output=fstype "$dir" | tail -1)): CPU s ${times[*]}; best $(head -1 <<<"$sorted"), median $(sed -n "$(((repeat + 1) / 2))p" <<<"$sorted"); core $((size >> 20)) MiB, $((blocks >> 10)) MiB allocated"
    done
done
echo "(inputs in $work; remove it when done)"
