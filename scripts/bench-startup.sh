#!/usr/bin/env bash
# Start-up cost of the `criu-images` binary, which bounds shell loops that
# run it once per image (`for f in *.img; do criu-images decode -i $f; done`):
# `--version` and `info` on a small real image, against `true`, with
# hyperfine; and the binary's relative relocations (each one patched by the
# loader at every start of the position-independent executable).
#
# Prints wall time (mean, median, min) and CPU time (user + system, steadier
# on a shared machine), each also as the difference to `true`.
#
# With BASE=another/criu-images (e.g. a build of the previous commit), also
# runs both binaries interleaved in random order (fair on a machine whose load
# drifts) and prints the median CPU time of each command.
#
# Last figures (README's performance table; CPU medians over true of 2,000
# interleaved rounds, load average 8 and 3): --version 0.63-0.73 -> 0.42-0.43
# ms and info 0.67-0.79 -> 0.48-0.49 ms with the C main and clap's deferred
# subcommands (0.79 and 0.85 ms before the relocation-free schema tables).
#
# Needs: cargo, hyperfine, readelf, python3.
# Environment: BIN (a criu-images binary to measure instead of building the
# release one), BASE (see above), RUNS (default 1000), WARMUP (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-1000}
warmup=${WARMUP:-50}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }

bin=${BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -q -p criu-images --bin criu-images
    bin=${CARGO_TARGET_DIR:-$PWD/target}/release/criu-images
fi
work=$(mktemp -d /tmp/criu-images-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A copy in /tmp: time the tool, not the file system of the work tree.
cp tests/fixtures/counter-host/images/pstree.img "$work/"
image=$work/pstree.img
out=$work/hyperfine.json

echo "== $bin"
if command -v readelf >/dev/null; then
    echo "relative relocations (RELACOUNT): $(readelf -d "$bin" | awk '/RELACOUNT/ {print $NF}')"
    echo "all dynamic relocations: $(readelf -rW "$bin" | grep -c '^[0-9a-f]\{16\} ')"
fi
hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$out" \
    true "$bin --version" "$bin info $image" >/dev/null 2>"$work/hyperfine.err" || { cat "$work/hyperfine.err" >&2; exit 1; }
python3 - "$out" <<'PY'
import json, statistics, sys

results = json.load(open(sys.argv[1]))["results"]
base = results[0]
base_wall = statistics.median(base["times"])
base_cpu = base["user"] + base["system"]
for r in results:
    wall = statistics.median(r["times"])
    cpu = r["user"] + r["system"]
    name = " ".join(word.split("/")[-1] for word in r["command"].split())
    print(
        f"{name:35s} wall mean {r['mean'] * 1e3:.3f} median {wall * 1e3:.3f} min {r['min'] * 1e3:.3f} ms"
        f" (median - true: {(wall - base_wall) * 1e3:+.3f});"
        f" cpu {cpu * 1e3:.3f} ms (- true: {(cpu - base_cpu) * 1e3:+.3f})"
    )
PY

[ -n "${BASE:-}" ] || exit 0
echo "== interleaved, $runs rounds: $BASE vs $bin"
python3 - "$runs" "$BASE" "$bin" "$image" <<'PY'
import os, random, statistics, sys

runs, base, new, image = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
commands = [["/usr/bin/true"]]
for binary in (base, new):
    commands += [[binary, "--version"], [binary, "info", image]]
devnull = os.open(os.devnull, os.O_WRONLY)
cpu = [[] for _ in commands]
for _ in range(runs):
    for i in random.sample(range(len(commands)), len(commands)):
        pid = os.posix_spawn(commands[i][0], commands[i], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        _, status, usage = os.wait4(pid, 0)
        if status != 0:
            sys.exit(f"{commands[i]} failed")
        cpu[i].append(usage.ru_utime + usage.ru_stime)
true_cpu = statistics.median(cpu[0])
for command, times in zip(commands, cpu):
    median = statistics.median(times)
    print(f"{' '.join(command):70s} cpu median {median * 1e3:.3f} ms (- true: {(median - true_cpu) * 1e3:+.3f})")
PY
