#!/bin/sh
# Makes the goldens of tests/fixtures/synthetic: every <name>.json there (a
# synthetic image in crit's plain JSON form) is encoded with our CLI into
# <name>.img, and that image is decoded with Debian's crit 3.17:
#
#   crit decode -i <name>.img -o <name>.crit-plain.json
#   crit decode --pretty -i <name>.img -o <name>.crit-pretty.json
#   crit show --nopl <name>.img          (stdout, final newline removed) -> <name>.crit-nopl.json
#
# A golden is only written when crit succeeds; its error goes to
# crit-failures.txt instead. For images listed in crit-differences.json
# (newer fields than crit 3.17 knows, and our deliberate deviations from
# crit) our own output is kept as well, as <name>.ours-{plain,pretty,nopl}.json.
# For every other image our output must equal crit's byte for byte, or this
# script fails. It also records in crit-encode.txt whether crit's own
# encoder turns <name>.json into the same bytes as ours.
#
# Needs crit (Debian package criu, /usr/bin/crit) and python3; the tests
# (criu-images/tests/synthetic.rs) need neither.
#
# Usage: scripts/synthetic-goldens.sh [path/to/criu-images]
#   default binary: target/debug/criu-images (build it with `cargo build`)
#   MAKE_JSON=1 re-creates the <name>.json inputs from make-json.py first.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$ROOT/tests/fixtures/synthetic
BIN=${1:-$ROOT/target/debug/criu-images}
CRIT=${CRIT:-/usr/bin/crit}
PYTHON=${PYTHON:-python3}

[ -x "$BIN" ] || { echo "no criu-images binary at $BIN (cargo build first)" >&2; exit 1; }
[ -x "$CRIT" ] || { echo "no crit at $CRIT (apt-get install criu)" >&2; exit 1; }

cd "$DIR"
if [ "${MAKE_JSON:-0}" = 1 ]; then
    "$PYTHON" make-json.py
fi

# Start from the inputs only.
rm -f ./*.img ./*.crit-plain.json ./*.crit-pretty.json ./*.crit-nopl.json \
      ./*.ours-plain.json ./*.ours-pretty.json ./*.ours-nopl.json crit-failures.txt crit-encode.txt

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

listed() { # is $1 a key of crit-differences.json?
    "$PYTHON" -c 'import json, sys; sys.exit(0 if sys.argv[1] in json.load(open("crit-differences.json")) else 1)' "$1"
}

inputs=$(ls ./*.json | sed 's|^\./||' | grep -v -e '\.crit-' -e '\.ours-' -e '^crit-differences\.json$' | sort)
status=0
count=0
for input in $inputs; do
    name=${input%.json}
    count=$((count + 1))
    "$BIN" encode -i "$input" -o "$name.img"

    # crit's three renderings; a failure is recorded, not fatal.
    for mode in plain pretty nopl; do
        out=$name.crit-$mode.json
        case $mode in
            plain) set -- decode -i "$name.img" -o "$TMP/crit" ;;
            pretty) set -- decode --pretty -i "$name.img" -o "$TMP/crit" ;;
            nopl) set -- show --nopl "$name.img" ;;
        esac
        if "$CRIT" "$@" >"$TMP/stdout" 2>"$TMP/stderr"; then
            if [ "$mode" = nopl ]; then
                # show writes to stdout and adds a newline; -o would not.
                "$PYTHON" -c 'import sys; d = open(sys.argv[1]).read(); open(sys.argv[2], "w").write(d[:-1] if d.endswith("\n") else d)' "$TMP/stdout" "$out"
            else
                mv "$TMP/crit" "$out"
            fi
        else
            echo "$name $mode: $(grep -v '^ ' "$TMP/stderr" | grep -v '^Traceback' | tail -n 1)" >>crit-failures.txt
            rm -f "$TMP/crit"
        fi
    done

    # Ours, with the same options.
    "$BIN" decode -i "$name.img" -o "$TMP/ours-plain"
    "$BIN" decode --pretty -i "$name.img" -o "$TMP/ours-pretty"
    "$BIN" decode --pretty --nopl -i "$name.img" -o "$TMP/ours-nopl"
    if listed "$name"; then
        for mode in plain pretty nopl; do
            cp "$TMP/ours-$mode" "$name.ours-$mode.json"
        done
    else
        for mode in plain pretty nopl; do
            if [ ! -f "$name.crit-$mode.json" ]; then
                echo "FAIL $name: crit $mode failed and the image is not in crit-differences.json" >&2
                status=1
            elif ! cmp -s "$name.crit-$mode.json" "$TMP/ours-$mode"; then
                echo "FAIL $name: our $mode output differs from crit's (not in crit-differences.json)" >&2
                diff "$name.crit-$mode.json" "$TMP/ours-$mode" | head -n 20 >&2 || true
                status=1
            fi
        done
    fi

    # Does crit's encoder agree with ours? (Informational.)
    if "$CRIT" encode -i "$input" -o "$TMP/crit.img" 2>"$TMP/stderr"; then
        if cmp -s "$TMP/crit.img" "$name.img"; then
            echo "$name: same bytes" >>crit-encode.txt
        else
            echo "$name: DIFFERENT bytes" >>crit-encode.txt
        fi
    else
        echo "$name: crit encode fails: $(grep -v '^ ' "$TMP/stderr" | grep -v '^Traceback' | tail -n 1)" >>crit-encode.txt
    fi
done

echo "$count synthetic images; crit failures: $(wc -l <crit-failures.txt 2>/dev/null || echo 0)" \
     "; crit encode gives our bytes for $(grep -c ': same bytes' crit-encode.txt) of them"
exit $status
