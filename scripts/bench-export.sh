#!/bin/sh
# `criu-images export` of COPIES (default 200) fixture checkpoints (symlinks
# under different names to tests/fixtures/{pytree,attack,threads}), with
# --jobs 1 and --jobs 2, interleaved by hyperfine: the ratio is the speed-up
# from one to two workers (issue #18 wants every core used).
#
#   CRIU_IMAGES=target/release/criu-images COPIES=200 scripts/bench-export.sh
set -eu
cd "$(dirname "$0")/.."
BIN=${CRIU_IMAGES:-target/release/criu-images}
COPIES=${COPIES:-200}
RUNS=${RUNS:-3}
[ -x "$BIN" ] || { echo "build $BIN first (cargo build --release -p criu-images)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/bench-export.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir "$WORK/in"
i=0
while [ "$i" -lt "$COPIES" ]; do
    case $((i % 3)) in
        0) src=tests/fixtures/pytree/checkpoint.tar.gz; ext=tar.gz ;;
        1) src=tests/fixtures/attack/checkpoint.tar.zst; ext=tar.zst ;;
        *) src=tests/fixtures/threads/checkpoint.tar.zst; ext=tar.zst ;;
    esac
    ln -s "$PWD/$src" "$WORK/in/pod-$i.$ext"
    i=$((i + 1))
done
TABLES=${TABLES:-processes,threads,vmas,fds,sockets,connections}
hyperfine --runs "$RUNS" --style basic \
    --prepare "rm -rf $WORK/out" \
    -n "jobs 1" "$BIN export $WORK/in/* -o $WORK/out --tables $TABLES --search /bin/ --jobs 1" \
    -n "jobs 2" "$BIN export $WORK/in/* -o $WORK/out --tables $TABLES --search /bin/ --jobs 2"
rm -rf "$WORK/out"
"$BIN" export "$WORK"/in/* -o "$WORK/out" --tables "$TABLES" --search /bin/ --jobs 2
echo "written: $(find "$WORK/out" -name '*.parquet' | wc -l) files, $(du -sh "$WORK/out" | cut -f1)"
