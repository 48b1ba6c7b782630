#!/usr/bin/env bash
# Side by side: `criu-images decode` vs `crit decode` (Debian's crit 3.17),
# plain and --pretty, on inputs made with our own encoder
# (benches/src/bin/make-bench-inputs.rs):
#   1. pagemap-100k.img: a 100,000-run CRIU 4.2 pagemap (1.8 MB), one process each;
#   2. fixture/: the real counter-host images directory (11 small images, 4 KB);
#   3. busy/: a generated images directory (41 images, 0.75 MB: 4 processes x 4 threads,
#      2,000 VMAs, 5,000 pagemap runs and 256 files per process).
# A directory is timed as a shell loop with one process per image for both
# tools, and also as one process for all images (our `decode-all`; crit's own
# Python code, pycriu.images.load + json.dump, in one interpreter).
#
# First checks that both tools print the same JSON for every compared image
# (see check_outputs below for what crit 3.17 cannot know), then times with
# hyperfine and prints crit time / our time, for wall-clock time and for CPU
# time (user + system; steadier than wall time on a shared machine).
#
# Needs: cargo, hyperfine, crit (Debian packages hyperfine, criu).
# Environment: CARGO_TARGET_DIR (default target), BENCH_DIR (default a new
# temporary directory; kept at the end), RUNS (default 10), WARMUP (default 1),
# CHECK_ONLY=1 (stop after the output check).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
warmup=${WARMUP:-1}
target=${CARGO_TARGET_DIR:-$PWD/target}
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-vs-crit.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)

command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
crit=$(command -v crit) || { echo "needs crit (apt-get install criu)" >&2; exit 2; }
# crit's interpreter (the one that has pycriu), from its #! line.
critpy=$(head -1 "$crit" | sed -e 's/^#! *//' -e 's/ .*//')

echo "== building (release) and writing the inputs to $work"
cargo build --release -q -p criu-images --bin criu-images
cargo run --release -q -p criu-images-benches --bin make-bench-inputs -- "$work" >/dev/null
ours=$target/release/criu-images
pm=$work/pagemap-100k.img
"$crit" --help >/dev/null

echo "== outputs agree"
# Our JSON of every image, plain and pretty, next to the inputs.
mkdir -p "$work/ours"
for f in "$pm" "$work"/fixture/*.img "$work"/busy/*.img; do
    out=$work/ours/$(basename "$(dirname "$f")")-$(basename "$f")
    "$ours" decode -i "$f" -o "$out.plain.json"
    "$ours" decode --pretty -i "$f" -o "$out.pretty.json"
done
# crit's JSON made in one interpreter with crit's own code (what
# `crit decode [--pretty] -i F -o OUT` runs), compared byte for byte.
"$critpy" - "$work" <<'PY'
import json, os, sys
from pycriu import images

work = sys.argv[1]
inputs = [os.path.join(work, "pagemap-100k.img")]
for d in ("fixture", "busy"):
    inputs += sorted(os.path.join(work, d, f) for f in os.listdir(os.path.join(work, d)) if f.endswith(".img"))

def crit_view(ours, crit, path, dropped):
    """`ours` without the keys crit 3.17 does not know (fields newer than
    it); every value it does know must be equal."""
    if isinstance(ours, dict) and isinstance(crit, dict):
        out = {}
        for k, v in ours.items():
            if k in crit:
                out[k] = crit_view(v, crit[k], path + "." + k, dropped)
            else:
                dropped.add((path + "." + k).lstrip("."))
        return out
    if isinstance(ours, list) and isinstance(crit, list) and len(ours) == len(crit):
        return [crit_view(o, c, path, dropped) for o, c in zip(ours, crit)]
    return ours

def pagemap_as_crit317(doc):
    """crit 3.17 predates CRIU 4.2's 64-bit nr_pages (field 5): it prints the
    old field 2 (compat_nr_pages, 0 in CRIU 4.2 images) as "nr_pages" and
    does not know field 5."""
    entries = [doc["entries"][0]]
    for e in doc["entries"][1:]:
        entries.append({("nr_pages" if k == "compat_nr_pages" else k): v for k, v in e.items() if k != "nr_pages"})
    return {"magic": doc["magic"], "entries": entries}

identical = normalised = 0
all_dropped = set()
bad = []
for path in inputs:
    for mode in ("plain", "pretty"):
        pretty = mode == "pretty"
        with open(path, "rb") as f:
            crit_text = json.dumps(images.load(f, pretty), indent=4 if pretty else None)
        ours_path = os.path.join(work, "ours", "%s-%s.%s.json" % (os.path.basename(os.path.dirname(path)), os.path.basename(path), mode))
        ours_text = open(ours_path).read()
        if ours_text == crit_text:
            identical += 1
            continue
        ours_doc, crit_doc = json.loads(ours_text), json.loads(crit_text)
        if ours_doc.get("magic") == "PAGEMAP":
            ours_doc = pagemap_as_crit317(ours_doc)
            all_dropped.add("pagemap_entry.nr_pages (field 5; compat_nr_pages printed as nr_pages)")
        dropped = set()
        view = crit_view(ours_doc, crit_doc, ours_doc["magic"], dropped)
        if json.dumps(view, indent=4 if pretty else None) == crit_text:
            normalised += 1
            all_dropped |= dropped
        else:
            bad.append("%s (%s)" % (path, mode))
total = 2 * len(inputs)
print("%d of %d outputs (%d images, plain and pretty) byte-identical to crit 3.17" % (identical, total, len(inputs)))
print("%d more byte-identical once the fields crit 3.17 predates are taken out:" % normalised)
for d in sorted(all_dropped):
    print("    " + d)
if bad:
    print("DIFFERENT: " + ", ".join(bad))
    sys.exit(1)
PY

[ -n "${CHECK_ONLY:-}" ] && exit 0
echo "== timings (hyperfine: $warmup warm-up run(s), $runs runs each)"
hf() { hyperfine --style=basic --warmup "$warmup" --runs "$runs" "$@"; }
hf -N --export-json "$work/pagemap.json" \
    -n ours-plain "$ours decode -i $pm -o /dev/null" \
    -n crit-plain "$crit decode -i $pm -o /dev/null" \
    -n ours-pretty "$ours decode --pretty -i $pm -o /dev/null" \
    -n crit-pretty "$crit decode --pretty -i $pm -o /dev/null"

# crit's decode in one interpreter for a whole directory (what crit does per
# image, without starting Python once per image).
cat >"$work/crit-all.py" <<'PY'
import json, os, sys
from pycriu import images
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for name in sorted(os.listdir(src)):
    if name.endswith(".img") and not name.startswith("pages-"):
        with open(os.path.join(src, name), "rb") as f, open(os.path.join(dst, name + ".json"), "w") as out:
            json.dump(images.load(f, False), out)
PY
for dir in fixture busy; do
    d=$work/$dir
    hf -S bash --export-json "$work/$dir.json" \
        -n ours-loop "for f in $d/*.img; do $ours decode -i \$f -o /dev/null; done" \
        -n crit-loop "for f in $d/*.img; do $crit decode -i \$f -o /dev/null; done" \
        -n ours-one-process "$ours decode-all $d -o $work/out-ours-$dir" \
        -n crit-one-process "$critpy $work/crit-all.py $d $work/out-crit-$dir"
done

echo "== ratios: crit time / criu-images time (wall clock; CPU = user + system)"
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
def load(name):
    return {r["command"]: r for r in json.load(open(os.path.join(work, name + ".json")))["results"]}
def line(label, results, crit, ours):
    c, o = results[crit], results[ours]
    wall = c["mean"] / o["mean"]
    cpu = (c["user"] + c["system"]) / (o["user"] + o["system"])
    print("%-58s %6.0fx wall  %6.0fx CPU   (ours %.3f s, crit %.3f s)" % (label, wall, cpu, o["mean"], c["mean"]))
pm = load("pagemap")
line("100k-entry pagemap, plain", pm, "crit-plain", "ours-plain")
line("100k-entry pagemap, --pretty", pm, "crit-pretty", "ours-pretty")
for d, what in (("fixture", "real images dir (11 small images)"), ("busy", "generated images dir (41 images)")):
    r = load(d)
    line(what + ", process per image", r, "crit-loop", "ours-loop")
    line(what + ", one process", r, "crit-one-process", "ours-one-process")
    line(what + ", crit loop vs decode-all", r, "crit-loop", "ours-one-process")
PY
echo "inputs, outputs and hyperfine JSON kept in $work"
