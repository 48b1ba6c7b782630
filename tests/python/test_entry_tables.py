"""Image entries as Arrow tables (issue #19): for every image of every
fixture and of the synthetic sets (all image kinds), the table converted
back (``to_pylist()``) equals ``decode_all``'s dicts entry by entry, up to
the representation differences listed in docs/python.md ("Entry tables"):

- a null column value is a key crit leaves out (absent field, or a
  repeated field with no values);
- ``bytes`` fields and payloads are raw bytes, crit's are MIME base64 text
  (``unix_sk_entry.name``: quoted-printable);
- strings that are not UTF-8 are read lossily (crit: lone surrogates);
- an enum value the schema does not declare is its decimal text (crit: int);
- a message nested in itself (cgroup directories) is its crit JSON text;
- SysV message queues are a list of ``{mtype, msize, data}`` (crit: a flat
  list alternating header dicts and base64 data).
"""

import base64
import json
import pathlib
import quopri

import pyarrow as pa
import pytest

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
K8S_TAR = next((FIXTURES / "k8s-counter").glob("*.tar"))

CHECKPOINTS = [
    FIXTURES / "counter/zstd/checkpoint.tar.zst",
    K8S_TAR,
    FIXTURES / "pytree/checkpoint.tar.gz",
    FIXTURES / "threads/checkpoint.tar.zst",
    FIXTURES / "counter-host/images",
    FIXTURES / "predump/dump",
    FIXTURES / "attack/checkpoint.tar.zst",
    FIXTURES / "containerd/containerd-checkpoint-nobase.tar",
]


def expected(value, ty, key=None):
    """crit's JSON value (of field ``key``) turned into the table's representation of type ``ty``."""
    if pa.types.is_list(ty):
        return [expected(v, ty.value_type, key) for v in value]
    if pa.types.is_struct(ty):
        if isinstance(value, list):  # SysV messages: [header, data, header, data, ...]
            raise AssertionError("a list where a struct is expected")
        return {k: expected(v, ty.field(k).type, k) for k, v in value.items()}
    if pa.types.is_binary(ty) and key == "name":
        # unix_sk_entry.name, the one bytes field crit prints quoted-printable.
        return quopri.decodestring(value.encode("latin-1"))
    if pa.types.is_binary(ty):
        return base64.b64decode("".join(value.split()), validate=True)
    if pa.types.is_dictionary(ty):
        return value if isinstance(value, str) else str(value)
    if pa.types.is_string(ty) and isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def actual(value, ty):
    """The table's value with nulls left out (crit leaves those keys out)."""
    if value is None:
        return None
    if pa.types.is_list(ty):
        return [actual(v, ty.value_type) for v in value]
    if pa.types.is_struct(ty):
        return {k: actual(v, ty.field(k).type) for k, v in value.items() if v is not None}
    return value


def compare_image(name, table, entries):
    rows = table.to_pylist()
    assert len(rows) == len(entries), name
    schema = table.schema
    for index, (row, entry) in enumerate(zip(rows, entries)):
        got = {k: actual(v, schema.field(k).type) for k, v in row.items() if v is not None}
        want = {}
        for key, value in entry.items():
            assert key in schema.names, f"{name} entry {index}: no column {key}"
            ty = schema.field(key).type
            if key == "extra" and pa.types.is_list(ty) and pa.types.is_struct(ty.value_type):
                value = [dict(header, data=base64.b64encode(base64.b64decode(data)).decode()) for header, data in zip(value[::2], value[1::2])]
            want[key] = expected(value, ty, key)
        # Recursive messages kept as crit JSON text.
        for key, value in list(got.items()):
            got[key] = cut_json(value, want.get(key))
        assert got == want, f"{name} entry {index}"


def cut_json(got, want):
    if isinstance(got, str) and isinstance(want, dict):
        return json.loads(got)
    if isinstance(got, list) and isinstance(want, list):
        return [cut_json(g, w) for g, w in zip(got, want)]
    if isinstance(got, dict) and isinstance(want, dict):
        return {k: cut_json(v, want.get(k)) for k, v in got.items()}
    return got


def check_checkpoint(path):
    with criu_images.open(path) as cp:
        decoded = cp.decode_all()
        assert decoded
        tables = cp.image_tables()
        assert list(tables) == list(decoded)
        for name, doc in decoded.items():
            table = cp.image(name).to_arrow()
            assert isinstance(table, pa.Table)
            assert pa.table(tables[name]).equals(table), name
            compare_image(f"{path.name}/{name}", table, doc["entries"])
        return set(doc["magic"] for doc in decoded.values())


@pytest.mark.parametrize("path", CHECKPOINTS, ids=[str(p.relative_to(FIXTURES)) for p in CHECKPOINTS])
def test_tables_equal_decode_all_on_real_checkpoints(path):
    check_checkpoint(path)


def test_tables_equal_decode_all_on_every_kind():
    # The synthetic sets are loose images (no process tree): each opened alone.
    kinds = set()
    for directory in ["synthetic", "synthetic-crit"]:
        for path in sorted((FIXTURES / directory).glob("*.img")):
            doc = criu_images.decode(path)
            with criu_images.open(path) as cp:
                (name,) = cp.images()
                compare_image(f"{directory}/{path.name}", cp.image(name).to_arrow(), doc["entries"])
            kinds.add(doc["magic"])
    # Every kind with protobuf entries (SERVICE images and the rest of the 68).
    assert len(kinds) >= 64, sorted(kinds)


def test_image_table_has_identity_columns_and_one_schema():
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        table = pa.table(cp.image_table("pagemap"))
        assert table.column_names[:4] == ["checkpoint", "image", "pid", "shmid"]
        assert set(table.column("checkpoint").to_pylist()) == {str(FIXTURES / "counter-host/images")}
        pagemaps = [n for n in cp.images() if n.startswith("pagemap-")]
        assert set(table.column("image").to_pylist()) == set(pagemaps)
        for name in pagemaps:
            rows = table.filter(pa.compute.equal(table.column("image"), name))
            assert rows.column("pid").to_pylist() == [int(name[len("pagemap-") : -4])] * rows.num_rows
            assert rows.num_rows == len(list(cp.image(name)))
        core = pa.table(cp.image_table("CORE"))
        assert "tc" in core.column_names and pa.types.is_struct(core.schema.field("tc").type)
        with pytest.raises(ValueError, match="no image kind"):
            cp.image_table("nonsense")
    # The same schema on another checkpoint: the tables concatenate.
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as other:
        assert pa.table(other.image_table("pagemap")).schema == table.schema


def test_image_table_over_many_checkpoints():
    paths = [FIXTURES / "counter-host/images", FIXTURES / "pytree/checkpoint.tar.gz"] * 3
    table = pa.table(criu_images.image_table(paths, "pagemap"))
    singles = [pa.table(criu_images.open(p).image_table("pagemap")) for p in paths]
    assert table.num_rows == sum(t.num_rows for t in singles)
    assert table.to_pylist() == pa.concat_tables(singles).to_pylist()


def test_hostile_entries_fail_with_their_offset(tmp_path):
    # files.img: file_entry { type: 1, reg (3): { id: <truncated varint> } }
    image = bytes.fromhex("19435654" "38313056") + (6).to_bytes(4, "little") + bytes([0x08, 0x01, 0x1A, 0x02, 0x08, 0x80])
    (tmp_path / "files.img").write_bytes(image)
    with criu_images.open(tmp_path / "files.img") as cp:
        with pytest.raises(criu_images.FormatError, match=r"files\.img: offset 17 \(entry 0\).*truncated varint"):
            cp.image(cp.images()[0]).to_arrow()
