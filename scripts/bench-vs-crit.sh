#!/usr/bin/env bash
# Side-by-side: criu-images decode vs crit decode (Debian's crit 3.17) on
#   1. a 100,000-entry pagemap image (plain and --pretty), one process each;
#   2. a whole images directory (every .img decoded, one process per image
#      for both tools, as a shell loop would).
# Inputs are made with our own encoder (benches/src/bin/make-bench-inputs.rs).
# Checks the outputs agree, then prints crit time / our time.
# Needs: hyperfine, crit (Debian packages hyperfine, criu).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-vs-crit.XXXXXX)}
cargo build --release -q -p criu-images --bin criu-images
cargo run --release -q -p criu-images-benches --bin make-bench-inputs -- "$work" >/dev/null
ours=$PWD/target/release/criu-images
pm=$work/pagemap-100k.img

echo "== outputs agree"
"$ours" decode -i "$pm" -o "$work/ours.json"
crit decode -i "$pm" -o "$work/crit.json"
python3 - "$work/ours.json" "$work/crit.json" <<'PY'
import json, sys
ours, crit = (json.load(open(p))["entries"] for p in sys.argv[1:3])
# crit 3.17 predates CRIU 4.2's 64-bit nr_pages (field 5): it prints the old
# field 2 (always 0 in CRIU 4.2 images) under the name "nr_pages".
key = lambda e: (e.get("pages_id"), e.get("vaddr"), e.get("flags"))
assert [key(e) for e in ours] == [key(e) for e in crit], "pagemap entries differ"
print(f"pagemap: {len(ours)} entries agree (crit 3.17 cannot read nr_pages of CRIU 4.2)")
PY
same=0; total=0
for f in "$work"/dir/*.img; do
    total=$((total + 1))
    "$ours" decode -i "$f" -o "$work/a.json"
    crit decode -i "$f" -o "$work/b.json" 2>/dev/null || continue
    python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$work/a.json" "$work/b.json" && same=$((same + 1))
done
echo "directory: $same of $total images decode to the same JSON (the rest hold fields newer than crit 3.17)"

echo "== timings"
hyperfine --output=pipe -N -w 1 -r 5 --export-json "$work/pagemap.json" \
    "$ours decode -i $pm" "crit decode -i $pm" \
    "$ours decode --pretty -i $pm" "crit decode --pretty -i $pm" >/dev/null
loop() { echo "bash -c 'for f in $work/dir/*.img; do $1 decode -i \$f > /dev/null; done'"; }
hyperfine --output=pipe -w 1 -r 5 --export-json "$work/dir.json" "$(loop "$ours")" "$(loop crit)" \
    "$ours decode-all $work/dir -o $work/out" >/dev/null
python3 - "$work/pagemap.json" "$work/dir.json" <<'PY'
import json, sys
pm = [r["mean"] for r in json.load(open(sys.argv[1]))["results"]]
d = [r["mean"] for r in json.load(open(sys.argv[2]))["results"]]
print(f"100k-entry pagemap, plain:  crit / criu-images = {pm[1] / pm[0]:.0f}x")
print(f"100k-entry pagemap, pretty: crit / criu-images = {pm[3] / pm[2]:.0f}x")
print(f"whole images directory, one process per image for both: crit / criu-images = {d[1] / d[0]:.0f}x")
print(f"whole images directory, crit loop vs criu-images decode-all: {d[1] / d[2]:.0f}x")
PY
echo "inputs kept in $work"
