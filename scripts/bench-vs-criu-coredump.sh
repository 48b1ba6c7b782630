#!/usr/bin/env bash
# CRIU's own coredump script (coredump/coredump in github.com/checkpoint-restore/criu)
# side by side with `criu-images core`, on the same images:
#   1. notes: which each writes, their sizes, and the fields that differ;
#   2. memory: every truth.json marker read from both cores at its address,
#      and the pages whose contents differ (CRIU's script follows the parent
#      *process* instead of the parent image directory of a pre-dump chain,
#      and counts the pages of every pagemap entry, PE_PARENT ones too, when
#      it computes offsets in pages-N.img);
#   3. time: both on a generated process of BENCH_MIB MiB (default 256), and
#      `cp` of the same number of bytes.
#
# Usage: scripts/bench-vs-criu-coredump.sh CRIU_SRC
#   CRIU_SRC: a checkout of checkpoint-restore/criu. Nothing of it is copied
#   into this repository: its pycriu is built in a scratch directory as
#   CRIU's make does (protoc on images/*.proto, scripts/magic-gen.py), with
#   grpcio-tools 1.62 (protoc, protobuf 4.x) from PyPI in target/criu-coredump-venv.
# CRIU's script reads file-backed pages from the host at the container's
# paths and exits when one is missing: here, in a private mount namespace
# (unshare -m), a scratch directory holding those files (from the
# checkpoint's rootfs-diff.tar, else sparse placeholders) is mounted over
# their top directory (/opt for the fixtures), so the host is untouched.
# FIXTURES: default "counter/zstd/checkpoint.tar.zst predump/dump" (the
# threads fixture's 640 MiB of areas take CRIU's script more than 10 minutes).
# SECTIONS: "compare time" (default both).
set -euo pipefail
cd "$(dirname "$0")/.."
criu_src=$(realpath "${1:?usage: $0 CRIU_SRC (a checkout of checkpoint-restore/criu)}")
repo=$PWD
# Not under /tmp: files a container mapped from /tmp are given to CRIU's script on a tmpfs there.
work=${BENCH_DIR:-$repo/target/bench-vs-criu-coredump}
mkdir -p "$work"
mib=${BENCH_MIB:-256}
fixtures=${FIXTURES:-"counter/zstd/checkpoint.tar.zst predump/dump"}

sections=${SECTIONS:-compare time}
want() { [[ " $sections " == *" $1 "* ]]; }
cargo build --release -q -p criu-images --bin criu-images
want time && cargo build --release -q -p criu-images-benches --bin make-memory-inputs
bin=$repo/target/release/criu-images

echo "== building CRIU's pycriu from $criu_src (in $work/pycriu)"
venv=$repo/target/criu-coredump-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import grpc_tools' 2>/dev/null || "$venv/bin/pip" install -q 'grpcio-tools==1.62.3'
py=$venv/bin/python
mkdir -p "$work/pycriu"
cp -r "$criu_src/lib/pycriu" "$work/pycriu/"
inc=$("$py" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
protos=$(ls "$criu_src"/images/*.proto | grep -v '/rpc.proto$')
"$py" -m grpc_tools.protoc -I "$criu_src/images" -I "$inc" --python_out="$work/pycriu/pycriu/images" $protos
"$py" -m grpc_tools.protoc -I "$criu_src/images" -I "$inc" --python_out="$work/pycriu/pycriu" "$criu_src/images/rpc.proto"
{
    echo "# generated"
    for m in "$work"/pycriu/pycriu/images/*_pb2.py; do
        m=$(basename "$m" .py)
        [ "$m" = opts_pb2 ] || echo "from .$m import *"
    done
} >"$work/pycriu/pycriu/images/pb.py"
"$py" "$criu_src/scripts/magic-gen.py" "$criu_src/criu/include/magic.h" "$work/pycriu/pycriu/images/magic.py"
echo "__version__ = 'source'" >"$work/pycriu/pycriu/version.py"
# The script too: CRIU_SRC may be under /tmp, which gets a tmpfs for CRIU's script below.
mkdir -p "$work/criu-coredump"
cp -r "$criu_src/coredump/criu_coredump" "$criu_src/coredump/coredump" "$work/criu-coredump/"
export PYTHONPATH=$work/pycriu:$work/criu-coredump

# CRIU's coredump of the images in $1 into $2, with the files of $3 (a root
# directory) mounted over their top directories in a private mount namespace.
criu_coredump() {
    local images=$1 out=$2 root=$3 mounts="" top
    for top in "$root"/*; do
        [ -e "$top" ] || continue
        case $(basename "$top") in
            tmp) mounts="$mounts mount -t tmpfs tmpfs /tmp && cp -a '$top/.' /tmp/ &&" ;;
            *) mounts="$mounts mount --bind '$top' '/$(basename "$top")' &&" ;;
        esac
    done
    # Run as `python -c`: the script's own directory holds a pycriu link to the unbuilt sources.
    unshare -m sh -c "$mounts '$py' -c 'import sys; sys.argv = [\"coredump\", \"-i\", \"$images\", \"-o\", \"$out\"]; exec(open(\"$work/criu-coredump/coredump\").read())'"
}

# The files a core maps (NT_FILE of our core), for the placeholder root.
mapped_files() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", f, 32); phnum, = struct.unpack_from("<H", f, 56)
for i in range(phnum):
    t, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", f, phoff + 56 * i)
    if t != 4: continue
    at, end = off, off + filesz
    while at < end:
        namesz, descsz, kind = struct.unpack_from("<III", f, at)
        desc = at + 12 + (namesz + 3) // 4 * 4
        if kind == 0x46494C45:
            count, page = struct.unpack_from("<QQ", f, desc)
            ents = [struct.unpack_from("<QQQ", f, desc + 16 + 24 * j) for j in range(count)]
            names = f[desc + 16 + 24 * count: desc + descsz].split(b"\0")
            sizes = {}
            for (s, e, pg), n in zip(ents, names):
                sizes[n.decode()] = max(sizes.get(n.decode(), 0), pg * page + e - s)
            for n, size in sizes.items(): print(size, n)
        at = desc + (descsz + 3) // 4 * 4
PY
}

compare() {
    python3 - "$@" <<'PY'
import json, struct, sys
ours_path, criu_path, truth_path, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def parse(path):
    f = open(path, "rb").read()
    phoff, = struct.unpack_from("<Q", f, 32); phnum, = struct.unpack_from("<H", f, 56)
    notes, loads = [], []
    for i in range(phnum):
        t, flags, off, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", f, phoff + 56 * i)
        if t == 1: loads.append((vaddr, memsz, filesz, off))
        if t != 4: continue
        at, end = off, off + filesz
        while at < end:
            namesz, descsz, kind = struct.unpack_from("<III", f, at)
            name = f[at + 12: at + 11 + namesz].decode()
            desc = at + 12 + (namesz + 3) // 4 * 4
            notes.append((name, kind, f[desc: desc + descsz]))
            at = desc + (descsz + 3) // 4 * 4
    return f, notes, loads
NAMES = {1: "NT_PRSTATUS", 2: "NT_PRFPREG", 3: "NT_PRPSINFO", 6: "NT_AUXV", 0x202: "NT_X86_XSTATE",
         0x53494749: "NT_SIGINFO", 0x46494C45: "NT_FILE"}
ours, criu = parse(ours_path), parse(criu_path)
def summary(notes):
    out = {}
    for n, k, d in notes:
        key = NAMES.get(k, hex(k))
        c, sizes = out.get(key, (0, set()))
        out[key] = (c + 1, sizes | {len(d)})
    return out
so, sc = summary(ours[1]), summary(criu[1])
print(f"  {'note':<14} {'criu-images':>18} {'CRIU coredump':>18}")
for key in sorted(set(so) | set(sc)):
    fmt = lambda v: f"{v[0]} x {'/'.join(map(str, sorted(v[1])))} B" if v else "-"
    print(f"  {key:<14} {fmt(so.get(key)):>18} {fmt(sc.get(key)):>18}")
PR = [("pr_info", 0, 12), ("pr_cursig", 12, 2), ("pr_sigpend", 16, 8), ("pr_sighold", 24, 8), ("pr_pid", 32, 4),
      ("pr_ppid", 36, 4), ("pr_pgrp", 40, 4), ("pr_sid", 44, 4), ("pr_times", 48, 64), ("pr_reg", 112, 216), ("pr_fpvalid", 328, 4)]
PS = [("pr_state", 0, 1), ("pr_sname", 1, 1), ("pr_zomb", 2, 1), ("pr_nice", 3, 1), ("pr_flag", 8, 8), ("pr_uid", 16, 4),
      ("pr_gid", 20, 4), ("pr_pid", 24, 4), ("pr_ppid", 28, 4), ("pr_pgrp", 32, 4), ("pr_sid", 36, 4), ("pr_fname", 40, 16), ("pr_psargs", 56, 80)]
def fields(kind, layout):
    a = [d for _, k, d in ours[1] if k == kind]; b = [d for _, k, d in criu[1] if k == kind]
    diff = set()
    for x, y in zip(a, b):
        for name, off, size in layout:
            if x[off:off + size] != y[off:off + size]: diff.add(name)
    return sorted(diff)
print("  NT_PRSTATUS fields that differ:", fields(1, PR) or "none")
print("  NT_PRPSINFO fields that differ:", fields(3, PS) or "none")
for kind in (2, 6, 0x46494C45, 0x53494749):
    a = [d for _, k, d in ours[1] if k == kind]; b = [d for _, k, d in criu[1] if k == kind]
    same = sum(x == y for x, y in zip(a, b))
    print(f"  {NAMES[kind]}: {same} of {min(len(a), len(b))} equal")
xa = [d for _, k, d in ours[1] if k == 0x202]; xb = [d for _, k, d in criu[1] if k == 0x202]
if xa and xb:
    print(f"  NT_X86_XSTATE: ours {len(xa[0])} B, CRIU's {len(xb[0])} B; first {min(len(xa[0]), len(xb[0]))} B equal: {xa[0][:min(len(xa[0]), len(xb[0]))] == xb[0][:min(len(xa[0]), len(xb[0]))]}")
def read(core, addr, n):
    f, _, loads = core
    for vaddr, memsz, filesz, off in loads:
        if vaddr <= addr and addr + n <= vaddr + filesz:
            return f[off + addr - vaddr: off + addr - vaddr + n]
    return None
truth = json.load(open(truth_path)) if truth_path != "-" else {"processes": [{"vpid": pid, "markers": []}]}
proc = next(p for p in truth["processes"] if p["vpid"] == pid)
for label, core in (("criu-images", ours), ("CRIU coredump", criu)) if proc["markers"] else ():
    ok = bad = absent = 0
    for m in proc["markers"]:
        if m["mapping_perms"].endswith("s") and m["mapping_path"].startswith("/"): continue
        got = read(core, m["addr"], len(m["value"]))
        if got is None: absent += 1
        elif got == m["value"].encode(): ok += 1
        else: bad += 1
    print(f"  markers ({label}): {ok} right, {bad} wrong bytes, {absent} not in the core")
same = differ = only_criu = 0; examples = []
for vaddr, memsz, filesz, off in criu[2]:
    for a in range(vaddr, vaddr + filesz, 4096):
        c = criu[0][off + a - vaddr: off + a - vaddr + 4096]
        o = read(ours, a, 4096)
        if o is None: only_criu += 1
        elif o == c: same += 1
        else:
            differ += 1
            if len(examples) < 3: examples.append(hex(a))
print(f"  pages: {same} equal, {differ} differ (e.g. {', '.join(examples) or '-'}), {only_criu} only in CRIU's core (not in the checkpoint: from host files or zeros)")
PY
}

want compare || fixtures=""
for fixture in $fixtures; do
    src=$repo/tests/fixtures/$fixture
    name=$(echo "$fixture" | tr / _)
    echo "== $fixture"
    images=$src
    if [ -f "$src" ]; then
        mkdir -p "$work/$name.x"
        tar -xaf "$src" -C "$work/$name.x"
        images=$work/$name.x/checkpoint
    fi
    truth=$(dirname "$src")/truth.json
    mkdir -p "$work/$name.ours" "$work/$name.criu" "$work/$name.root"
    "$bin" core "$src" --all --rootfs none -o "$work/$name.ours" | sed 's/^/  /'
    for core in "$work/$name.ours"/core.*; do
        mapped_files "$core" | while read -r size path; do
            [ -e "$path" ] && { echo "  CRIU's script reads the HOST's $path for this container's pages"; continue; }
            case $(echo "$path" | cut -d/ -f2) in
                usr | lib | lib64 | bin | sbin | etc | var | proc | sys | dev | run | home | root | work)
                    echo "  $path is not on this host: CRIU's script will exit"; continue ;;
            esac
            [ -d "/$(echo "$path" | cut -d/ -f2)" ] || { echo "  /$(echo "$path" | cut -d/ -f2) is not on this host: CRIU's script will exit"; continue; }
            mkdir -p "$work/$name.root$(dirname "$path")"
            "$bin" rootfs "$src" cat "$path" >"$work/$name.root$path" 2>/dev/null || truncate -s "$size" "$work/$name.root$path"
        done
    done
    if ! criu_coredump "$images" "$work/$name.criu" "$work/$name.root" >"$work/$name.criu.log" 2>&1; then
        echo "  CRIU's coredump failed:"; tail -3 "$work/$name.criu.log" | sed 's/^/    /'; continue
    fi
    for core in "$work/$name.ours"/core.*; do
        pid=${core##*.}
        [ -f "$work/$name.criu/core.$pid" ] || { echo "  pid $pid: no core from CRIU's script"; continue; }
        echo "  pid $pid:"
        compare "$core" "$work/$name.criu/core.$pid" "$truth" "$pid"
    done
done

want time || exit 0
echo "== time: one process of $mib MiB (generated with our encoder, runs of 255 pages)"
gen=$work/gen
[ -f "$gen/pages-1.img" ] || "$repo/target/release/make-memory-inputs" --gapped "$gen" "$mib" >/dev/null
# Registers and file table of a real x86-64 process (the counter's), for both tools.
tar -xaf "$repo/tests/fixtures/counter/zstd/checkpoint.tar.zst" -C "$work" checkpoint/core-1.img checkpoint/files.img
cp "$work/checkpoint/core-1.img" "$work/checkpoint/files.img" "$gen/"
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
best() { local best=999999 t i; for i in 1 2 3; do t=$(seconds "$@"); best=$(echo "if ($t < $best) $t else $best" | bc -l); done; echo "$best"; }
rm -rf "$work/gen.criu" && mkdir -p "$work/gen.criu" "$work/gen.root"
ours=$(best "$bin" core "$gen" --pid 1 -o "$work/gen.core")
copy=$(best cp "$gen/pages-1.img" "$work/gen.copy")
criu=$(seconds criu_coredump "$gen" "$work/gen.criu" "$work/gen.root")
[ -f "$work/gen.criu/core.1" ] || echo "  CRIU's coredump wrote no core"
bytes=$(stat -c %s "$gen/pages-1.img")
echo "  criu-images core: ${ours}s; CRIU coredump: ${criu}s; cp of the same $bytes bytes: ${copy}s"
echo "  CRIU coredump / criu-images core = $(echo "$criu / $ours" | bc -l | cut -c1-6)x (target >= 50x)"
echo "  criu-images core / cp = $(echo "$ours / $copy" | bc -l | cut -c1-5)x (target <= 1.5x)"
[ -f "$work/gen.criu/core.1" ] && compare "$work/gen.core" "$work/gen.criu/core.1" - 1 | grep -E "pages|NT_PRSTATUS fields"
rm -f "$work/gen.core" "$work/gen.copy"
echo "(inputs and cores in $work; remove it when done)"
