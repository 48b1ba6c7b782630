#!/usr/bin/env bash
# Side by side: our Python API against pycriu (the Python package of
# Debian's criu 3.17, the interpreter on crit's #! line), on inputs made
# with our own encoder:
#   1. whole-directory decode: pycriu.images.load of every protobuf image
#      vs criu_images.open(DIR).decode_all(), both giving a dict per image,
#      on a real checkpoint (the pytree fixture: 3 processes, 39 images)
#      and on busy/ (benches/src/bin/make-bench-inputs.rs: 41 images,
#      4 processes x 4 threads, 2,000 VMAs, 5,000 pagemap runs and 256
#      files each, 22k entries);
#   2. the table form (issue #19): the same directories (and busy-100k/,
#      108k entries) decoded to Arrow (Checkpoint.image_tables(): every
#      image in one call; and made pyarrow tables) against pycriu's
#      images.load, in one interpreter
#      each; Checkpoint.image_table("pagemap") over 200 checkpoints in one
#      call (criu_images.image_table), with the peak RSS it adds beside the
#      bytes of the columns it returns;
#   3. process-memory search, which pycriu cannot do: Checkpoint.search in
#      Python vs the Rust CLI `criu-images mem search`, on a synthetic
#      checkpoint (make-memory-inputs --gapped, benches/src/bin/, BENCH_MIB MiB).
# Each is timed as whole processes with hyperfine (interpreter start and
# imports included; `python -c "import criu_images"` is timed too, to show
# what is left once they are taken out), and inside one interpreter (best
# of RUNS, only the work). Prints ratios: the machine is shared and noisy,
# times mean little.
#
# Needs: cargo, hyperfine, crit (Debian packages hyperfine, criu).
# Environment: PARTS (default "dicts tables search": any of the three
# parts above, 1 to 3), CARGO_TARGET_DIR (default target), BENCH_DIR
# (default a new temporary directory, kept), BENCH_MIB (default 1024), RUNS (default 5),
# PYTHON (an interpreter with criu_images installed; default: a venv in
# $CARGO_TARGET_DIR/bench-venv with `pip install .`, a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
mib=${BENCH_MIB:-1024}
parts=${PARTS:-dicts tables search}
want() { [[ " $parts " == *" $1 "* ]]; }
target=${CARGO_TARGET_DIR:-$PWD/target}
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-vs-pycriu.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
needle=SYNTHETIC-NEEDLE-0123456789

command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
crit=$(command -v crit) || { echo "needs crit (apt-get install criu)" >&2; exit 2; }
# crit's interpreter (the one that has pycriu), from its #! line.
critpy=$(head -1 "$crit" | sed -e 's/^#! *//' -e 's/ .*//')
"$critpy" -c 'import pycriu' || { echo "$critpy has no pycriu" >&2; exit 2; }

echo "== building (release) and writing the inputs to $work"
# The CLI (a release build with YARA: minutes) only for the search part.
if want search; then
    cargo build --release -q -p criu-images --bin criu-images
fi
cargo build --release -q -p criu-images-benches --bin make-bench-inputs --bin make-memory-inputs
"$target/release/make-bench-inputs" "$work" >/dev/null
if want search; then
    [ -f "$work/mem-$mib/pages-1.img" ] || "$target/release/make-memory-inputs" --gapped "$work/mem-$mib" "$mib"
fi
cli=$target/release/criu-images
python=${PYTHON:-}
if [ -z "$python" ]; then
    venv=$target/bench-venv
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet .
    python=$venv/bin/python
fi
busy=$work/busy
real=$work/pytree
[ -f "$real/pstree.img" ] || { mkdir -p "$real" && tar -xzf tests/fixtures/pytree/checkpoint.tar.gz -C "$real" --strip-components=1 checkpoint/; }

# pycriu's share of a directory: the .img files with protobuf entries
# (not pages-*.img or tmpfs-*.tar.gz.img, raw data it cannot load).
cat >"$work/pycriu-all.py" <<'PY'
import os, sys
from pycriu import images
def names(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".img") and not n.startswith(("pages-", "tmpfs-")))
def load_all(d):
    decoded = {}
    for name in names(d):
        with open(os.path.join(d, name), "rb") as f:
            decoded[name] = images.load(f)
    return decoded
if __name__ == "__main__":
    load_all(sys.argv[1])
PY
cat >"$work/ours-all.py" <<'PY'
import sys
import criu_images
decoded = criu_images.open(sys.argv[1]).decode_all()
PY
# pycriu inside one interpreter: the best of RUNS, the work only.
cat >"$work/pycriu-best.py" <<'PY'
import runpy, sys, time
load_all = runpy.run_path(sys.argv[1] + "/pycriu-all.py")["load_all"]
best = float("inf")
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    load_all(sys.argv[2])
    best = min(best, time.perf_counter() - t)
print(best)
PY
inproc_pycriu() { "$critpy" "$work/pycriu-best.py" "$work" "$1" "$runs" >"$work/inproc-pycriu-$(basename "$1").txt"; }

echo "== the same images, the same entries"
for dir in "$real" "$busy"; do
    "$critpy" - "$work" "$dir" >"$work/pycriu-counts.json" <<'PY'
import json, runpy, sys
load_all = runpy.run_path(sys.argv[1] + "/pycriu-all.py")["load_all"]
json.dump({n: len(doc["entries"]) for n, doc in load_all(sys.argv[2]).items()}, sys.stdout)
PY
    "$python" - "$dir" "$work/pycriu-counts.json" <<'PY'
import json, sys
import criu_images
ours = {n: len(doc["entries"]) for n, doc in criu_images.open(sys.argv[1]).decode_all().items()}
theirs = json.load(open(sys.argv[2]))
assert ours == theirs, (ours, theirs)
print(f"{sys.argv[1]}: {len(ours)} images, {sum(ours.values())} entries, decoded by both")
PY
done

big=$work/busy-100k
if want tables; then
echo "== the table form: whole directories to Arrow, image_table over 200 checkpoints"
for dir in "$real" "$busy" "$big"; do
    inproc_pycriu "$dir"
    "$python" - "$dir" "$runs" >"$work/inproc-arrow-$(basename "$dir").txt" <<'PY'
import os, sys, time
import pyarrow as pa
import criu_images
d = sys.argv[1]
# pycriu's share of the directory (pycriu-all.py's names).
names = sorted(n for n in os.listdir(d) if n.endswith(".img") and not n.startswith(("pages-", "tmpfs-")))
cp = criu_images.open(d)
def tables():
    # One call: every image decoded to Arrow (Rust threads), as criu_images.Table.
    return cp.image_tables()
def pyarrow_tables():
    return {n: pa.table(t) for n, t in cp.image_tables().items()}
assert sorted(tables()) == names
rows = sum(t.num_rows for t in pyarrow_tables().values())
assert rows == sum(len(doc["entries"]) for doc in cp.decode_all().values()), rows
def best(work):
    times = []
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return min(times)
print(best(tables), best(pyarrow_tables), rows)
PY
done
"$python" - "$real" 200 >"$work/image-table-200.txt" <<'PY'
import resource, sys, time
import pyarrow as pa
import criu_images
paths = [sys.argv[1]] * int(sys.argv[2])
# pyarrow's first table sets up its memory pool and type registry (tens of
# MB of peak RSS): done before the baseline, so that what is measured is
# what the 200 checkpoints add.
pa.table(criu_images.image_table(paths[:1], "pagemap"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
table = pa.table(criu_images.image_table(paths, "pagemap"))
took = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(took, table.num_rows, table.nbytes, (peak - before) * 1024)
PY
fi

echo "== timings (hyperfine, $runs runs each)"
echo "import criu_images" >"$work/import.py"
cat >"$work/ours-search.py" <<'PY'
import sys
import criu_images
hits = criu_images.open(sys.argv[1]).search(sys.argv[2].encode())
print(len(hits))
PY
hf() { hyperfine --style=basic --warmup 1 --runs "$runs" "$@"; }
if want dicts; then
for dir in "$real" "$busy"; do
    hf -N --export-json "$work/decode-$(basename "$dir").json" \
        -n pycriu "$critpy $work/pycriu-all.py $dir" \
        -n criu_images "$python $work/ours-all.py $dir"
done
fi
if want search; then
hf -N --export-json "$work/search.json" \
    -n python "$python $work/ours-search.py $work/mem-$mib $needle" \
    -n cli "$cli mem search $work/mem-$mib --pid 1 -s $needle --format json" \
    -n import "$python $work/import.py"
fi

echo "== inside one interpreter (best of $runs, the work only)"
if want dicts; then
for dir in "$real" "$busy"; do
    inproc_pycriu "$dir"
    "$python" - "$dir" "$runs" >"$work/inproc-ours-$(basename "$dir").txt" <<'PY'
import marshal, sys, time
import criu_images
def best(work):
    times = []
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return min(times)
cp = criu_images.open(sys.argv[1])
print(best(lambda: cp.decode_all()))
# The floor for anything that hands over these dicts: CPython making the
# same objects from marshal's compact form (C code, no decoding at all).
blob = marshal.dumps(cp.decode_all())
print(best(lambda: marshal.loads(blob)))
PY
done
fi
if want search; then
"$python" - "$work/mem-$mib" "$needle" "$runs" >"$work/inproc-search.txt" <<'PY'
import sys, time
import criu_images
mem_cp = criu_images.open(sys.argv[1])
mem_cp.memory(1)  # the page index, built once (the CLI builds it too)
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    mem_cp.search(sys.argv[2].encode())
    times.append(time.perf_counter() - t)
print(min(times))
PY
fi

echo "== ratios"
python3 - "$work" "$mib" "$parts" <<'PY'
import json, os, sys
work, mib, parts = sys.argv[1], sys.argv[2], sys.argv[3].split()
def load(name):
    return {r["command"]: r for r in json.load(open(os.path.join(work, name + ".json")))["results"]}
def number(name):
    return [float(x) for x in open(os.path.join(work, name + ".txt")).read().split()]
cpu = lambda r: r["user"] + r["system"]
def dicts():
    print("whole-directory decode to dicts, pycriu / criu_images (target >= 30x):")
    for dir, what in [("pytree", "real checkpoint, 39 images"), ("busy", "generated, 41 images, 22k entries")]:
        d = load("decode-" + dir)
        (pycriu_in,) = number("inproc-pycriu-" + dir)
        ours, floor = number("inproc-ours-" + dir)
        print(f"  {dir}/ ({what}):")
        print(f"    processes: {d['pycriu']['mean'] / d['criu_images']['mean']:6.1f}x wall  {cpu(d['pycriu']) / cpu(d['criu_images']):6.1f}x CPU")
        print(f"    in-process: {pycriu_in / ours:6.1f}x  (pycriu {pycriu_in * 1000:.1f} ms, criu_images {ours * 1000:.2f} ms)")
        print(f"    ceiling for any producer of these dicts (marshal.loads of them, {floor * 1000:.2f} ms): {pycriu_in / floor:6.1f}x")
def tables():
    print("whole-directory decode to Arrow (Checkpoint.image_tables(); then as pyarrow tables), pycriu / criu_images (target >= 100x):")
    for dir, what in [("pytree", "real checkpoint, 39 images"), ("busy", "generated, 22k entries"), ("busy-100k", "generated, 108k entries")]:
        (pycriu_in,) = number("inproc-pycriu-" + dir)
        arrow, pyarrow, rows = number("inproc-arrow-" + dir)
        print(f"  {dir}/ ({what}, {rows:.0f} rows): {pycriu_in / arrow:7.1f}x  as pyarrow tables {pycriu_in / pyarrow:7.1f}x  (pycriu {pycriu_in * 1000:.1f} ms, Arrow {arrow * 1000:.2f} ms, pyarrow {pyarrow * 1000:.2f} ms)")
    took, rows, nbytes, rss = number("image-table-200")
    print(f"image_table(200 checkpoints, 'pagemap') in one call: {took * 1000:.0f} ms, {rows:.0f} rows, columns {nbytes / 1e6:.1f} MB, peak RSS added {rss / 1e6:.1f} MB")
def search():
    s = load("search")
    (ours_search,) = number("inproc-search")
    print(f"search of {mib} MiB of process memory, Python Checkpoint.search / Rust CLI mem search (pycriu cannot search):")
    print(f"    processes: {s['python']['mean'] / s['cli']['mean']:6.2f}x wall  {cpu(s['python']) / cpu(s['cli']):6.2f}x CPU   (1.00 = Rust speed)")
    print(f"    without interpreter start and import ({s['import']['mean'] * 1000:.0f} ms): {(s['python']['mean'] - s['import']['mean']) / s['cli']['mean']:6.2f}x wall")
    print(f"    in-process search alone: {ours_search * 1000:.0f} ms for {mib} MiB ({int(mib) / 1024 / ours_search:.1f} GiB/s)")
for part in parts:
    {"dicts": dicts, "tables": tables, "search": search}[part]()
print("the machine is shared and noisy: compare ratios, not times")
PY
echo "inputs and hyperfine JSON kept in $work (BENCH_DIR=$work to reuse)"
