#!/usr/bin/python3
"""Synthetic images of every kind Debian's crit 3.17 (pycriu) knows, with
crit's own decode as golden: tests/fixtures/synthetic-crit/<KIND>.img,
<KIND>.crit-plain.json, <KIND>.crit-pretty.json.

Every field of crit's schema is filled (nested messages, repeated fields,
enums, bytes, and values that exercise the hex/flags/dev/dict/ipadd/
unix_name pretty forms), plus the extra payloads. Images are written by
crit's own encoder where it works, else by ours (crit cannot encode
ipcns-shm and bpfmap-data). Needs Debian's criu package (python3-pycriu)
and, for those two kinds, a built criu-images binary:

    /usr/bin/python3 scripts/synthetic-goldens.py [path/to/criu-images]

Tests (criu-images/tests/crit_synthetic.rs) need neither.
"""
import base64
import json
import os
import subprocess
import sys

from google.protobuf.descriptor import FieldDescriptor as FD
from pycriu import images
from pycriu.images import pb2dict, magic

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "synthetic-crit")
OURS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "debug", "criu-images")

INTS = {FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_SINT32, FD.TYPE_SINT64,
        FD.TYPE_FIXED32, FD.TYPE_FIXED64, FD.TYPE_SFIXED32, FD.TYPE_SFIXED64}
SIGNED = {FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_SINT32, FD.TYPE_SINT64, FD.TYPE_SFIXED32, FD.TYPE_SFIXED64}
BIG = {FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64}
DICT_VALUES = {"task_state": 1, "family": 2, "type": 1, "state": 10, "proto": 6}


def int_value(field, seed):
    name = field.name
    if pb2dict._marked_as_dict(field):
        return DICT_VALUES.get(name, 1)
    if pb2dict._marked_as_dev(field) or pb2dict._marked_as_odev(field):
        return (8 << 20) | 17 if not pb2dict._marked_as_odev(field) else 0x811
    flags = pb2dict._marked_as_flags(field)
    if flags:
        return {"mmap.prot": 3, "mmap.flags": 0x22, "mmap.status": 0x241, "rfile.flags": 0o2102,
                "pmap.flags": 6, "seals.flags": 5}.get(flags, 0x10001)
    base = (sum(map(ord, name)) * 7 + seed) % 100000 + 1
    if field.type in SIGNED and seed % 3 == 1:
        return -base
    if field.type in BIG and seed % 4 == 2:
        return base * 0x100000001
    if field.type in (FD.TYPE_UINT32, FD.TYPE_FIXED32) and seed % 5 == 3:
        return 0xFFFFFFFF
    return base


def fill(desc, seed=0, depth=0):
    """A dict for message `desc` with every field set."""
    out = {}
    for i, field in enumerate(desc.fields):
        s = seed + i
        repeated = field.label == FD.LABEL_REPEATED
        if field.type == FD.TYPE_MESSAGE:
            if depth >= 3:
                if field.label == FD.LABEL_REQUIRED:
                    out[field.name] = fill(field.message_type, s, depth + 1)
                continue
            value = fill(field.message_type, s, depth + 1)
            out[field.name] = [value, fill(field.message_type, s + 1, depth + 1)] if repeated else value
            continue
        if repeated and pb2dict._marked_as_ip(field):
            out[field.name] = [0x0100007F] if s % 2 else [0x000080FE, 0, 0x01000000, 0x01000000]
            continue
        if field.type == FD.TYPE_ENUM:
            values = field.enum_type.values
            v = values[min(1, len(values) - 1)].name
        elif field.type in INTS:
            v = int_value(field, s)
        elif field.type == FD.TYPE_BOOL:
            v = s % 2 == 0
        elif field.type == FD.TYPE_STRING:
            v = "%s-%d" % (field.name, s)
        elif field.type == FD.TYPE_BYTES:
            raw = b"\x00abstract=sock" if pb2dict._custom_conv(field) else bytes(range(s % 7, s % 7 + 70))
            v = pb2dict.get_bytes_enc(field)(raw)
            if isinstance(v, bytes):
                v = v.decode()
        else:
            continue
        out[field.name] = [v, v] if repeated and field.type != FD.TYPE_ENUM else ([v] if repeated else v)
    return out


def b64(data):
    return base64.encodebytes(data).decode()


def entries_for(name, handler):
    """Entries (dicts, with "extra" where the kind has one) for one image."""
    if name == "PAGEMAP":
        head = {"pages_id": 3}
        e1 = {"vaddr": 0x7F0000000000, "nr_pages": 4, "flags": 4}
        e2 = {"vaddr": 0x7F0000010000, "nr_pages": 1, "in_parent": True, "flags": 1}
        return [head, e1, e2]
    if name == "GHOST_FILE":
        return None  # two variants below
    payload = handler.payload
    entries = [fill(payload.DESCRIPTOR, s * 5) for s in range(2)]
    if name in ("PIPES_DATA", "FIFO_DATA"):
        for i, e in enumerate(entries):
            data = b"pipe contents %d \x00\xff" % i * (i + 1)
            e["bytes"] = len(data)
            e["extra"] = b64(data)
    elif name == "SK_QUEUES":
        for i, e in enumerate(entries):
            data = b"queued packet %d" % i
            e["length"] = len(data)
            e["extra"] = b64(data)
    elif name == "TCP_STREAM":
        entries = entries[:1]
        e = entries[0]
        e["inq_len"], e["outq_len"] = 5, 3
        e["extra"] = {"inq": b64(b"hello"), "outq": b64(b"bye")}
    elif name == "IPCNS_SEM":
        for e in entries:
            e["nsems"] = 3
            e["extra"] = [1, 2, 65535]
    elif name == "IPCNS_MSG":
        for e in entries:
            e["qnum"] = 2
            e["extra"] = [{"mtype": 1, "msize": 5}, b64(b"hello"), {"mtype": 2, "msize": 9}, b64(b"more text")]
    elif name == "IPCNS_SHM":
        for e in entries:
            e.pop("in_pagemaps", None)
            e["size"] = 10
            e["extra"] = b64(b"0123456789")
    elif name == "BPFMAP_DATA":
        for e in entries:
            e["keys_bytes"], e["values_bytes"] = 4, 6
            e["extra"] = b64(b"keysvalues")
    return entries


def encode(img):
    try:
        return images.dumps(dict(img, entries=[dict(e) for e in img["entries"]]))
    except Exception:
        out = subprocess.run([OURS, "encode"], input=json.dumps(img).encode(), capture_output=True, check=True)
        return out.stdout


def write(stem, img):
    data = encode(img)
    with open(os.path.join(OUT, stem + ".img"), "wb") as f:
        f.write(data)
    for kind, pretty in (("plain", False), ("pretty", True)):
        decoded = images.loads(data, pretty)
        with open(os.path.join(OUT, "%s.crit-%s.json" % (stem, kind)), "w") as f:
            json.dump(decoded, f, indent=4 if pretty else None)
    print(stem, len(data), "bytes")


os.makedirs(OUT, exist_ok=True)
for name, handler in sorted(images.handlers.items()):
    if name not in magic.by_name:
        continue  # handlers for names without a magic of their own (MEMFD_FILE)
    if name == "GHOST_FILE":
        g = fill(images.pb.ghost_file_entry.DESCRIPTOR)
        g["chunks"] = False
        write("GHOST_FILE", {"magic": name, "entries": [dict(g, extra=b64(b"whole ghost file\n" * 5))]})
        g["chunks"] = True
        chunks = [{"len": 6, "off": 0, "extra": b64(b"chunk0")}, {"len": 3, "off": 4096, "extra": b64(b"end")}]
        write("GHOST_FILE-chunked", {"magic": name, "entries": [g] + chunks})
        continue
    write(name, {"magic": name, "entries": entries_for(name, handler)})
# An image with no entries at all.
write("PSTREE-empty", {"magic": "PSTREE", "entries": []})
