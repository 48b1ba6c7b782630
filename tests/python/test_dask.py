"""criu_images.dask on a real distributed.LocalCluster (2 process workers)
over 50+ checkpoint archives, and from a real S3-compatible server (moto in
server mode on 127.0.0.1): the Dask frames equal the concatenation of the
single-checkpoint tables row for row; a corrupt archive raises or is
skipped as asked and never kills a worker."""

import os
import pathlib
import shutil
import socket
import sys

import pandas as pd
import pyarrow as pa
import pytest

import boto3
import distributed
import moto.server

import criu_images
import criu_images.dask as cd

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
SOURCES = [
    FIXTURES / "counter/zstd/checkpoint.tar.zst",
    FIXTURES / "counter/gzip/checkpoint.tar.gz",
    FIXTURES / "counter/none/checkpoint.tar",
    next((FIXTURES / "k8s-counter").glob("*.tar")),
]
PYTREE = FIXTURES / "pytree/checkpoint.tar.gz"  # sockets (two copies)
ATTACK = FIXTURES / "attack/checkpoint.tar.zst"
COPIES = 52
KINDS = ["processes", "threads", "vmas", "fds", "sockets", "connections"]


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """52 copies of four small fixture archives under different names, in
    four directories, and two copies of pytree, whose sockets table is not empty."""
    root = tmp_path_factory.mktemp("many")
    paths = []
    for i in range(COPIES):
        src = PYTREE if i % 26 == 5 else SOURCES[i % len(SOURCES)]
        folder = root / f"ns{i % 4}"
        folder.mkdir(exist_ok=True)
        suffix = "".join(src.suffixes[-2:]) if src.name.endswith((".tar.zst", ".tar.gz")) else ".tar"
        dst = folder / f"pod-{i:03d}{suffix}"
        shutil.copyfile(src, dst)
        paths.append(str(dst))
    return paths


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory):
    """A truncated zstd archive and a file that is no archive at all."""
    root = tmp_path_factory.mktemp("corrupt")
    data = SOURCES[0].read_bytes()
    truncated = root / "truncated.tar.zst"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = root / "garbage.tar"
    garbage.write_bytes(b"\x00not a checkpoint\x00" * 64)
    return [str(truncated), str(garbage)]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as c:
            yield c


def single(paths, table_of, ids=None):
    """The concatenation of the single-checkpoint tables, opened here in the test process."""
    tables = []
    for path, cid in zip(paths, ids or paths):
        with criu_images.open(path, id=cid) as cp:
            table = table_of(cp)
            assert table.column("checkpoint").to_pylist() == [cid] * table.num_rows
            tables.append(table)
    return pa.concat_tables(tables)


def frame(table):
    return cd._pandas(table)


def assert_same(ddf, table):
    got = ddf.compute()
    assert list(got.dtypes) == list(ddf.dtypes), "the meta's dtypes are the data's"
    assert len(got) == table.num_rows and len(got) > 0
    pd.testing.assert_frame_equal(got.reset_index(drop=True), frame(table))


def worker_pids(client):
    return sorted(client.run(os.getpid).values())


@pytest.mark.parametrize("kind", KINDS)
def test_tables_on_a_cluster_equal_the_single_tables(client, archives, kind):
    pids = worker_pids(client)
    ddf = getattr(cd, kind)(archives)
    assert ddf.npartitions == COPIES
    assert ddf.columns[0] == "checkpoint"
    assert_same(ddf, single(archives, lambda cp: cp.to_arrow(kind)))
    assert worker_pids(client) == pids


def test_partitions_group_checkpoints_and_ids_name_them(client, archives):
    ids = [f"pod-{i}" for i in range(len(archives))]
    ddf = cd.processes(archives, ids=ids, per_partition=8)
    assert ddf.npartitions == 7
    assert_same(ddf, single(archives, lambda cp: cp.to_arrow("processes"), ids))
    assert set(ddf.checkpoint.unique().compute()) == set(ids)
    # Without the one-thread limit per task (task_threads=0), the same rows.
    assert_same(cd.vmas(archives, per_partition=8, task_threads=0), single(archives, lambda cp: cp.to_arrow("vmas")))


def test_search_on_a_cluster(client, archives):
    ddf = cd.search(archives, "counter", context=16, perms="r")
    assert_same(ddf, single(archives, lambda cp: cp.search("counter", context=16, perms="r").to_arrow()))


def test_yara_and_findings_on_a_cluster(client, archives, tmp_path):
    paths = archives[:4] + [str(shutil.copyfile(ATTACK, tmp_path / "attack.tar.zst"))]
    rules = FIXTURES / "attack/rules.yar"
    hits = cd.yara(paths, rules).compute()
    want = []
    for path in paths:
        with criu_images.open(path) as cp:
            want += [(path, h["rule"], h["pid"], h["address"]) for h in cp.yara(str(rules))]
    assert len(want) == 5  # the attack fixture's 5 hits, none in the counters
    assert list(zip(hits.checkpoint, hits.rule, hits.pid, hits.address)) == want
    assert_same(cd.yara(paths, rules), single(paths, lambda cp: cp.yara(str(rules)).to_arrow()))
    found = cd.findings(paths).compute()
    want = []
    for path in paths:
        with criu_images.open(path) as cp:
            want += [(path, f["id"], f["severity"], f["pid"], f["summary"]) for f in cp.findings()]
    pids = [None if pd.isna(p) else p for p in found.pid]
    assert list(zip(found.checkpoint, found.id, found.severity, pids, found.summary)) == want
    assert len(want) > 17 and len({w[0] for w in want}) == len(paths) and any(w[3] == 7 for w in want)


def test_corrupt_archives_raise_or_are_skipped_and_no_worker_dies(client, archives, corrupt):
    pids = worker_pids(client)
    mixed = archives[:20] + [corrupt[0]] + archives[20:] + [corrupt[1]]
    with pytest.raises(cd.CheckpointError) as raised:
        cd.processes(mixed).compute()
    message = str(raised.value)
    assert ("truncated.tar.zst" in message or "garbage.tar" in message) and "Error" in message, message
    assert worker_pids(client) == pids, "the workers that ran the corrupt archives are still the same processes"

    assert_same(cd.processes(mixed, errors="skip"), single(archives, lambda cp: cp.to_arrow("processes")))
    assert_same(cd.vmas(mixed, errors="skip", per_partition=5), single(archives, lambda cp: cp.to_arrow("vmas")))

    report = cd.errors(mixed, tables=["processes", "vmas"]).compute().reset_index(drop=True)
    assert sorted(set(report.checkpoint)) == sorted(corrupt)
    assert sorted(zip(report.checkpoint, report.table)) == sorted((c, t) for c in corrupt for t in ("processes", "vmas"))
    for row in report.itertuples():
        with pytest.raises(criu_images.CriuImagesError) as direct:
            criu_images.open(row.checkpoint)
        assert row.error == type(direct.value).__name__ and row.message == str(direct.value)
        assert row.file is not None and pd.notna(row.offset)
    assert worker_pids(client) == pids


def test_bad_arguments_fail_on_the_client():
    with pytest.raises(ValueError, match="errors must be"):
        cd.processes(["x.tar"], errors="ignore")
    with pytest.raises(ValueError, match="2 ids for 1 paths"):
        cd.processes(["x.tar"], ids=["a", "b"])
    with pytest.raises(ValueError, match="no checkpoint paths"):
        cd.fds([])
    with pytest.raises(criu_images.CriuImagesError):
        cd.yara(["x.tar"], "rule broken {")
    for bad in (-1, 1.5, None):
        with pytest.raises(ValueError, match="task_threads"):
            cd.sockets(["x.tar"], task_threads=bad)
        with pytest.raises(ValueError, match="task_threads"):
            cd.errors(["x.tar"], task_threads=bad)


def test_missing_dask_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"pip install 'criu-images\[dask\]'"):
        cd.processes(["x.tar"])


# --- S3 -------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(archives):
    """A moto S3 server on 127.0.0.1 with a bucket of 12 archives (two with
    one base name in different folders); yields (urls, local paths, options)."""
    port = free_port()
    server = moto.server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
        s3client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name="us-east-1")
        s3client.create_bucket(Bucket="checkpoints")
        local = archives[:12]
        urls = []
        for i, path in enumerate(local):
            key = f"ns{i % 2}/{'same' if i < 2 else i}{''.join(pathlib.Path(path).suffixes)}"
            s3client.upload_file(path, "checkpoints", key)
            urls.append(f"s3://checkpoints/{key}")
        yield urls, local, options
    finally:
        server.stop()


def test_s3_paths_give_the_local_results(client, s3, tmp_path):
    urls, local, options = s3
    cache = tmp_path / "cache"
    fetched = None
    for kind in KINDS:
        got = getattr(cd, kind)(urls, ids=local, storage_options=options, cache_dir=str(cache))
        assert_same(got, single(local, lambda cp: cp.to_arrow(kind)))
        if fetched is None:
            fetched = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert_same(cd.search(urls, "counter", storage_options=options, cache_dir=str(cache)),
                single(local, lambda cp: cp.search("counter").to_arrow(), urls))
    cached = sorted(p for p in os.listdir(cache))
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == fetched, "fetched once, then reused"
    assert len(cached) == len(urls) and not any(p.endswith(".part") for p in cached)
    for path in local:  # every cached copy is byte for byte the archive
        assert any((cache / c).read_bytes() == pathlib.Path(path).read_bytes() for c in cached)


def test_s3_missing_object_is_a_checkpoint_error(client, s3, tmp_path):
    urls, _, options = s3
    missing = "s3://checkpoints/ns0/absent.tar.zst"
    with pytest.raises(cd.CheckpointError, match="absent.tar.zst"):
        cd.processes(urls[:2] + [missing], storage_options=options, cache_dir=str(tmp_path)).compute()
    report = cd.errors([missing] + urls[:1], tables=["processes"], storage_options=options, cache_dir=str(tmp_path)).compute()
    assert list(report.checkpoint) == [missing] and list(report.error) == ["FileNotFoundError"]
