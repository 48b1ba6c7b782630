"""criu_images.Table (Arrow PyCapsule stream) read by pyarrow, Polars and
DuckDB, the checkpoint column, and `criu-images export` read back by DuckDB
and Polars equal to the in-memory tables (issue #18)."""

import pathlib
import subprocess
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
PYTREE = FIXTURES / "pytree" / "checkpoint.tar.gz"
THREADS = FIXTURES / "threads" / "checkpoint.tar.zst"
ATTACK = FIXTURES / "attack" / "checkpoint.tar.zst"
KINDS = ["processes", "threads", "vmas", "fds", "sockets", "connections", "findings"]


@pytest.mark.parametrize("kind", KINDS)
def test_table_is_read_alike_by_pyarrow_polars_and_duckdb(kind):
    with criu_images.open(ATTACK, id="attack-1") as cp:
        t = cp.table(kind)
        assert isinstance(t, criu_images.Table)
        arrow = pa.table(t)
        assert arrow.column_names[0] == "checkpoint"
        assert list(t.schema) == arrow.column_names
        assert len(t) == t.num_rows == arrow.num_rows
        assert set(arrow.column("checkpoint").to_pylist()) <= {"attack-1"}
        assert arrow.equals(cp.to_arrow(kind))
        frame = pl.DataFrame(t)
        assert frame.columns == arrow.column_names and frame.height == arrow.num_rows
        assert t.to_polars().equals(frame)
        got = duckdb.sql("select * from t").arrow()
        got = got.read_all() if hasattr(got, "read_all") else got
        assert got.num_rows == arrow.num_rows
    # The stream is made anew each time it is asked for.
    assert pa.table(t).equals(arrow)


def test_strings_table_has_every_string_of_strings_with_the_checkpoint_id():
    with criu_images.open(ATTACK, id="attack-1") as cp:
        memory = cp.memory(7)
        for encodings in ("ascii", ("ascii", "utf-16le")):
            want = [(s.pid, s.address, s.encoding, s.text) for s in memory.strings(8, encodings, kind="heap")]
            table = pa.table(memory.strings_table(8, encodings, kind="heap"))
            assert table.column_names == ["checkpoint", "pid", "address", "encoding", "text"]
            assert list(zip(*(table.column(c).to_pylist() for c in table.column_names[1:]))) == want
            assert set(table.column("checkpoint").to_pylist()) == {"attack-1"} and len(want) > 0



def test_checkpoint_column_and_id():
    with criu_images.open(PYTREE) as cp:
        assert cp.id == str(PYTREE)
        assert cp.to_arrow("processes").column("checkpoint").to_pylist() == [str(PYTREE)] * 3
        hits = cp.search(b"/bin/")
        assert hits.checkpoint == str(PYTREE)
        table = hits.to_arrow()
        assert table.num_rows == len(hits) > 0
        assert table.column("address").to_pylist() == [h.address for h in hits]
        assert set(table.column("checkpoint").to_pylist()) == {str(PYTREE)}
    with criu_images.open(PYTREE, id="p") as old, criu_images.open(THREADS, id="t") as new:
        assert old.id == "p"
        assert old.memory(1).search(b"/bin/").checkpoint == "p"
        part = old.diff(new, memory=False).processes
        assert part.to_arrow().column_names[0] == "checkpoint"
        assert set(part.to_arrow().column("checkpoint").to_pylist()) == {"t"}
        assert pa.table(part.table()).equals(part.to_arrow())


def test_polars_and_duckdb_read_the_capsule_without_pyarrow():
    # pyarrow cannot be imported in this interpreter: Polars and DuckDB take
    # the stream from the capsule themselves.
    code = f"""
import sys
sys.modules["pyarrow"] = None
import criu_images, polars, duckdb
cp = criu_images.open({str(THREADS)!r}, id="x")
t = cp.table("threads")
frame = polars.DataFrame(t)
assert frame.height == len(t) > 1, frame
assert frame["checkpoint"].to_list() == ["x"] * len(t)
rows = duckdb.sql("select count(*), min(tid) from t").fetchall()
assert rows[0][0] == len(t), rows
try:
    cp.to_arrow("threads")
except ImportError as e:
    assert "pyarrow" in str(e)
else:
    raise AssertionError("to_arrow without pyarrow")
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_export_reads_back_in_duckdb_and_polars_equal_to_the_tables(tmp_path):
    corrupt = tmp_path / "corrupt.tar.zst"
    corrupt.write_bytes(ATTACK.read_bytes()[:5000])
    inputs = [PYTREE, corrupt, ATTACK, THREADS]
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "criu_images", "export", *map(str, inputs), "-o", str(out),
         "--tables", "processes,vmas,fds,findings", "--search", "/bin/", "--jobs", "2"],
        capture_output=True, text=True,
    )
    assert run.returncode == 1, run.stderr
    assert "corrupt.tar.zst" in run.stderr
    errors = pl.read_parquet(out / "errors" / "*.parquet")
    assert errors["checkpoint"].to_list() == [str(corrupt)]
    assert "corrupt.tar.zst" in errors["file"][0]

    # Every process of every checkpoint in one query.
    got = duckdb.sql(f"select checkpoint, pid, comm from '{out}/processes/*.parquet' order by checkpoint, pid").fetchall()
    expected = []
    for path in (PYTREE, ATTACK, THREADS):
        with criu_images.open(path) as cp:
            expected += [(str(path), p.pid, p.comm) for p in cp.processes]
            for kind in ("processes", "vmas", "fds", "findings"):
                index = inputs.index(path)
                written = pq.read_table(out / kind / f"part-{index:05}.parquet")
                assert written.equals(cp.to_arrow(kind)), (path, kind)
            hits = pl.read_parquet(out / "hits" / f"part-{inputs.index(path):05}.parquet")
            assert hits["address"].to_list() == [h.address for h in cp.search(b"/bin/", context=32)]
            assert set(hits["pattern"].to_list()) <= {"/bin/"}
    assert sorted(got) == sorted(expected) and len(got) == 3 + 10 + 1
    lazy = pl.scan_parquet(out / "vmas" / "*.parquet").group_by("checkpoint").len().collect()
    assert lazy.height == 3

    # The README's query and Polars line, over this export.
    readme = (pathlib.Path(__file__).resolve().parent.parent.parent / "README.md").read_text()
    sql = readme.split("```sql\n", 1)[1].split("```", 1)[0].replace("DIR", str(out))
    rows = duckdb.sql(sql).fetchall()
    assert [r[:3] for r in rows] == sorted((c, pid, comm) for c, pid, comm in expected if comm not in ("sleep", "pause"))
    assert rows and {r[0] for r in rows} == {str(p) for p in (PYTREE, ATTACK, THREADS)}
    counts = pl.scan_parquet(str(out / "hits" / "*.parquet")).group_by("checkpoint", "pattern").len().collect()
    assert counts.height >= 1 and set(counts["pattern"].to_list()) == {"/bin/"}
