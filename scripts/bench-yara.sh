#!/usr/bin/env bash
# YARA over 1 GiB of process memory (issue #16): `criu-images yara` over a
# checkpoint holding one process with 1 GiB dumped in one run, against
# Debian's `yara` (and yara-x's `yr scan` when installed) over that run's
# pages file as one file, the same bytes. Rules: the attack fixture's
# rules.yar plus tests/fixtures/yara/generic.yar (regex, hex, wide, nocase).
# Needs hyperfine and yara (Debian packages). Prints the ratio (target 1.3x).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-bench-yara.XXXXXX)}
mib=${BENCH_MIB:-1024}
cargo build --release -q -p criu-images --bin criu-images
cargo build --release -q -p criu-images-benches --bin make-memory-inputs
bin=target/release/criu-images
[ -f "$work/layouts/dense/pages-1.img" ] || target/release/make-memory-inputs "$work/layouts" "$mib" 1 >/dev/null
dense=$work/layouts/dense
cat tests/fixtures/yara/generic.yar tests/fixtures/attack/rules.yar > "$work/rules.yar"
cmds=("$bin yara $dense -r $work/rules.yar --format json" "yara -s $work/rules.yar $dense/pages-1.img")
if command -v yr >/dev/null; then cmds+=("yr scan -s $work/rules.yar $dense/pages-1.img"); fi
echo "== YARA over $mib MiB of process memory (load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"
hyperfine --output=pipe -N -w 1 -r ${RUNS:-5} --export-json "$work/yara.json" "${cmds[@]}" >/dev/null
python3 - "$work/yara.json" <<'PY'
import json, sys
r = {x["command"].split()[0].rsplit("/", 1)[-1]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
ours = r.pop("criu-images")
for name, t in r.items():
    print(f"criu-images yara / {name} = {ours / t:.2f}x  ({ours:.2f} s vs {t:.2f} s; target <= 1.3x)")
PY
[ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
