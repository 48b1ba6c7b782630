#!/usr/bin/env bash
# Many checkpoints at once (issue #18): 200 copies of a fixture archive,
# search for a string across all of them, three ways in one interleaved run:
#   loop   a plain Python loop in one process (open, search, to_arrow, concat)
#   dask1  criu_images.dask.search on a distributed.LocalCluster, 1 process worker
#   dask2  the same with 2 process workers (1 thread each)
# Prints the best of RUNS runs of each, the ratios (target: dask2 vs dask1
# >= 1.7x), the per-checkpoint cost, and the estimate for 1,000 checkpoints
# on a 10-node cluster. The clusters are started (and warmed with one
# checkpoint) before timing: cluster start-up is not in the figures.
#
# Needs the extension installed in $PYTHON (default target/py-test-venv,
# `maturin develop --release` for figures that mean something) with the
# dask extra. Environment: COPIES (200), SOURCE (a fixture archive, default
# counter/zstd), PATTERN (counter), RUNS (3), PER_PARTITION (checkpoints
# per Dask task, 1), TASK_THREADS (threads per Dask task, 1: the default of
# criu_images.dask; 0 lifts the limit), BENCH_DIR (kept if given).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-target/py-test-venv/bin/python}
work=${BENCH_DIR:-$(mktemp -d /tmp/criu-images-bench-scale.XXXXXX)}
copies=${COPIES:-200}
source=${SOURCE:-tests/fixtures/counter/zstd/checkpoint.tar.zst}
echo "== search across $copies copies of $source (load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"
# A file, not stdin: the process workers are spawned and re-import __main__.
cat > "$work/bench_scale.py" <<'PY'
import os, shutil, sys, time

import pyarrow as pa
import distributed

import criu_images
import criu_images.dask as cd


def main():
    work, copies, source, pattern, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    per, task_threads = int(sys.argv[6]), int(sys.argv[7])
    suffix = "".join(s for s in os.path.basename(source).split(".", 1)[1:2])
    paths = []
    for i in range(copies):
        dst = os.path.join(work, f"cp-{i:04d}.{suffix}")
        if not os.path.exists(dst):
            shutil.copyfile(source, dst)
        paths.append(dst)

    def loop():
        tables = []
        for p in paths:
            with criu_images.open(p) as cp:
                tables.append(cp.search(pattern).to_arrow())
        return pa.concat_tables(tables).num_rows

    clusters = {}
    for n in (1, 2):
        cluster = distributed.LocalCluster(processes=True, n_workers=n, threads_per_worker=1, dashboard_address=":0")
        client = distributed.Client(cluster, set_as_default=False)
        clusters[n] = (cluster, client)

    best = {"loop": float("inf"), "dask1": float("inf"), "dask2": float("inf")}
    rows = {}
    for r in range(runs):
        for name in best:
            if name == "loop":
                fn = loop
            else:
                client = clusters[int(name[-1])][1]
                if r == 0:  # warm the workers (imports, first open) outside the timing
                    client.compute(cd.search(paths[:4], pattern, per_partition=per, task_threads=task_threads)).result()

                def fn(client=client):
                    return len(client.compute(cd.search(paths, pattern, per_partition=per, task_threads=task_threads)).result())
            t = time.perf_counter()
            rows[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t)
    for cluster, client in clusters.values():
        client.close()
        cluster.close()

    assert len(set(rows.values())) == 1, f"hit counts differ: {rows}"
    for name, t in best.items():
        print(f"{name:6s} {t:8.3f} s   {t / copies * 1000:7.2f} ms per checkpoint   ({rows[name]} hits)")
    print(f"dask1 / loop  = {best['dask1'] / best['loop']:.2f}x  (Dask's overhead with one worker)")
    print(f"speed-up 1->2 workers = {best['dask1'] / best['dask2']:.2f}x  (target >= 1.7x)")
    each = best["dask1"] / copies
    cores = 10 * 8
    print(f"estimate: 1,000 checkpoints like these on 10 nodes x 8 cores = {1000 * each / cores:.2f} s of work "
          f"(+ fetch from object storage and cluster start-up), {each * 1000:.1f} ms each x 1000 / {cores} workers")


if __name__ == "__main__":
    main()
PY
"$python" "$work/bench_scale.py" "$work" "$copies" "$source" "${PATTERN:-counter}" "${RUNS:-3}" "${PER_PARTITION:-1}" "${TASK_THREADS:-1}"
echo "   (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
[ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
