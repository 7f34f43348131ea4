"""The array path of the CityJSON reader (cim.io._cityjson_fast) stores exactly what the model path stores.

For each real file (and the sample city's own CityJSON export, as it is and with the service's
``cim:collection`` marks taken off so that its buildings go through the array path too) the file is read
twice: into pydantic models (``ImportContext.encode`` off: the object-by-object path of before) and into
encoded features (the array path the importer uses); the rows the store would write (ids, JSON documents,
2-D WKB, 3-D boxes), the warnings and the placement checks must be equal, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cim.encoded import Encoded
from cim.io import ImportContext, import_files, read
from cim.io.cityjson_out import cityjson_chunks, cityjsonseq_chunks
from cim.io.placement import result_xy, result_z
from cim.model import City
from cim.store import open_store
from cim.store.base import prepare_rows

from ..conftest import shared_data

FILES = [  # (file, city EPSG, CRS for files that declare none)
    ("delft.json", 28992, None),
    ("zurich_subset_lod2.json", 2056, None),
    ("multi_lod.json", 28992, "EPSG:7415"),
]


def _both(path: Path, epsg: int, crs: str | None):
    city = City(name="t", crs_epsg=epsg)
    slow = read(path, ImportContext(city=city, crs=crs))
    fast = read(path, ImportContext(city=city, crs=crs, encode=True))
    return slow, fast


def _assert_same(slow, fast, min_encoded: int) -> None:
    assert all(not isinstance(f, Encoded) for f in slow.features)
    n_enc = sum(isinstance(f, Encoded) for f in fast.features)
    assert n_enc >= min_encoded  # the array path did the work, not the fallback
    assert [f.id for f in fast.features] == [f.id for f in slow.features]
    assert fast.warnings == slow.warnings
    a, b = prepare_rows(slow.features), prepare_rows(fast.features)
    assert a.keys() == b.keys()
    for cid in a:
        assert b[cid].ids == a[cid].ids
        for i, d_old, d_new in zip(a[cid].ids, a[cid].docs, b[cid].docs, strict=True):
            assert d_new == d_old, i
        assert b[cid].geoms == a[cid].geoms
        assert [tuple(map(float, x)) for x in b[cid].boxes] == [tuple(map(float, x)) for x in a[cid].boxes]
    assert (result_xy(fast) == result_xy(slow)).all()
    assert (result_z(fast) == result_z(slow)).all()


@pytest.mark.parametrize(("name", "epsg", "crs"), FILES)
def test_real_files_store_the_same_documents(name, epsg, crs):
    path = shared_data("buildings", name)
    slow, fast = _both(path, epsg, crs)
    assert len(slow.features) >= 10
    _assert_same(slow, fast, min_encoded=len(slow.features))


def _export(store_path: Path, out: Path, seq: bool, strip: bool) -> Path:
    from cim.collections import get_spec

    s = open_store(store_path)
    try:
        city = s.city()
        feats = s.query("buildings", limit=400).features  # a few hundred of them: the test stays short
        spec = get_spec("buildings")
        chunks = cityjsonseq_chunks(city, spec, feats) if seq else cityjson_chunks(city, spec, lambda: feats)
        data = b"".join(chunks)
    finally:
        s.close()
    if strip:  # the service's marks off: a plain CityJSON file of the same buildings
        lines = data.splitlines() if seq else [data]
        docs = [orjson.loads(x) for x in lines]
        for d in docs:
            for o in d.get("CityObjects", {}).values():
                for k in [k for k in o.get("attributes", {}) if k.startswith("cim:")]:
                    del o["attributes"][k]
        data = b"\n".join(orjson.dumps(d) for d in docs) + (b"\n" if seq else b"")
    out.write_bytes(data)
    return out, city.crs_epsg


@pytest.mark.parametrize(("seq", "strip"), [(False, False), (False, True), (True, True)])
def test_sample_city_export_stores_the_same_documents(sample_city_path, tmp_path, seq, strip):
    path, epsg = _export(sample_city_path, tmp_path / ("b.city.jsonl" if seq else "b.city.json"), seq, strip)
    slow, fast = _both(path, epsg, None)
    assert len(slow.features) >= 10
    _assert_same(slow, fast, min_encoded=len(slow.features) if strip else 0)


def test_import_files_stores_what_models_store(tmp_path):
    """End to end: import_files (array path) and a write of the models give the same stored documents."""
    path = shared_data("buildings", "zurich_subset_lod2.json")
    city = City(name="t", crs_epsg=2056)
    docs = []
    for k, how in enumerate(("import", "models")):
        s = open_store(tmp_path / f"{k}.sqlite", create=True)
        s.init(city)
        if how == "import":
            rep = import_files(s, [path])
            assert rep.counts == {"buildings": 49}
        else:
            s.write(read(path, ImportContext(city=city)).features)
        docs.append({f.id: f.model_dump(mode="json") for f in s.query("buildings", limit=1000).features})
        s.close()
    assert docs[0] == docs[1]
    assert len(docs[0]) == 49


def _zurich_seq(tmp_path: Path, lines_edit=None) -> Path:
    import json

    from .test_cityjson import to_seq

    doc = json.loads(shared_data("buildings", "zurich_subset_lod2.json").read_text())
    lines = to_seq(doc)
    if lines_edit is not None:
        lines = lines_edit(lines)
    path = tmp_path / "zurich.city.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cityjsonseq_in_batches_stores_the_same_documents(tmp_path, monkeypatch):
    """Zurich (buildings with parts) as CityJSONSeq, read 7 lines at a time: what the whole-file read gives."""
    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 7)
    path = _zurich_seq(tmp_path)
    ctx = ImportContext(city=City(name="t", crs_epsg=2056), encode=True, filename=path.name)
    assert cityjson.CityJSONReader()._read_seq_batches(path, path.name, ctx) is not None  # batches, not whole
    slow, fast = _both(path, 2056, None)
    assert len(fast.features) == 49
    _assert_same(slow, fast, min_encoded=49)


def test_cityjsonseq_part_on_another_line_is_read_whole(tmp_path, monkeypatch):
    """A BuildingPart on a line of its own (its parent in another batch): the file is read whole, the same."""
    import json

    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 3)

    def split(lines: list[str]) -> list[str]:
        k = next(i for i, ln in enumerate(lines[1:], 1) if len(json.loads(ln)["CityObjects"]) > 1)
        feat = json.loads(lines[k])
        pid = next(o for o, v in feat["CityObjects"].items() if v["type"] == "BuildingPart")
        part = {"type": "CityJSONFeature", "id": pid, "CityObjects": {pid: feat["CityObjects"].pop(pid)}}
        part["vertices"] = feat["vertices"]  # the part's indices stay valid in a copy of the vertices
        lines[k] = json.dumps(feat)
        return [*lines, json.dumps(part)]

    path = _zurich_seq(tmp_path, split)
    ctx = ImportContext(city=City(name="t", crs_epsg=2056), encode=True, filename=path.name)
    with pytest.raises(cityjson._Restart):
        cityjson.CityJSONReader()._read_seq_batches(path, path.name, ctx)
    slow, fast = _both(path, 2056, None)
    _assert_same(slow, fast, min_encoded=40)


def test_cityjsonseq_bad_line_in_a_later_batch_is_named(tmp_path, monkeypatch):
    from cim.io import cityjson
    from cim.io.base import ImportError_

    monkeypatch.setattr(cityjson, "BATCH", 4)

    def cut(lines: list[str]) -> list[str]:
        lines[30] = lines[30][: len(lines[30]) // 2]
        return lines

    path = _zurich_seq(tmp_path, cut)
    city = City(name="t", crs_epsg=2056)
    errors = []
    for encode in (False, True):
        with pytest.raises(ImportError_) as exc:
            read(path, ImportContext(city=city, encode=encode))
        errors.append((exc.value.message, exc.value.where))
    assert errors[0] == errors[1]
    assert errors[1][1]["line"] == 31


def test_encoded_features_in_each_store(empty_store):
    """SQLite and PostGIS store the encoded features as they store models: documents, and the geometry and
    box the spatial index answers from."""
    from cim.store.base import Region

    path = shared_data("buildings", "zurich_subset_lod2.json")
    city = City(name="z", crs_epsg=2056)
    empty_store.init(city, overwrite=True)
    rep = import_files(empty_store, [path])
    assert rep.counts == {"buildings": 49}
    models = {f.id: f for f in read(path, ImportContext(city=city)).features}
    stored = {f.id: f for f in empty_store.query("buildings", limit=1000).features}
    assert stored.keys() == models.keys()
    for fid, m in models.items():
        assert stored[fid].model_dump(mode="json") == m.model_dump(mode="json"), fid
    b = next(iter(models.values()))
    import shapely

    pt = shapely.Polygon(b.exterior()).representative_point()  # inside the footprint
    x, y = pt.x, pt.y
    hit = empty_store.query("buildings", region=Region.box(x - 0.5, y - 0.5, x + 0.5, y + 0.5)).features
    assert b.id in {f.id for f in hit}


@pytest.mark.parametrize("fault", ["vertex", "geometry type"])
def test_a_fault_in_a_batch_is_named_as_before(tmp_path, fault):
    """A batch with a fault goes through the object-by-object path: the same error, naming the object."""
    import json

    from cim.io.base import ImportError_

    doc = json.loads(shared_data("buildings", "multi_lod.json").read_text())
    oid = list(doc["CityObjects"])[4]
    g = doc["CityObjects"][oid]["geometry"][2]
    if fault == "vertex":
        g["boundaries"][0][3][0][1] = len(doc["vertices"]) + 7
    else:
        g["type"] = "MultiPoint"
    path = tmp_path / "bad.city.json"
    path.write_text(json.dumps(doc))
    city = City(name="t", crs_epsg=28992)
    errors = []
    for encode in (False, True):
        with pytest.raises(ImportError_) as exc:
            read(path, ImportContext(city=city, crs="EPSG:7415", encode=encode))
        errors.append((exc.value.message, exc.value.where))
    assert errors[0] == errors[1]
    assert errors[1][1]["feature"] == oid


def _sample_city_cityjson(sample_city_path: Path, tmp_path: Path) -> tuple[Path, int, str | None]:
    path, epsg = _export(sample_city_path, tmp_path / "b.city.json", False, True)
    return path, epsg, None


@pytest.mark.parametrize("name", [*(f[0] for f in FILES), "sample city"])
def test_batch_geojson_is_encode_geojson(name, sample_city_path, tmp_path):
    """The CRS84 GeoJSON the array path encodes from what it holds (footprint rings, property values) is byte for
    byte what ``encode_geojson`` makes of the stored documents, in SQLite's key order and in PostgreSQL jsonb's."""
    from cim.store.base import encode_geojson, stored_geojson

    if name == "sample city":
        path, epsg, crs = _sample_city_cityjson(sample_city_path, tmp_path)
    else:
        path, epsg, crs = shared_data("buildings", name), *next(f[1:] for f in FILES if f[0] == name)
    fast = read(path, ImportContext(city=City(name="t", crs_epsg=epsg), crs=crs, encode=True))
    feats = [f for f in fast.features if f.collection == "buildings"]
    assert len(feats) >= 10 and all(isinstance(f, Encoded) and f.gj is not None for f in feats)
    assert {f.gj_epsg for f in feats} == {epsg}
    docs = [f.doc for f in feats]
    for jsonb in (False, True):
        want = encode_geojson("buildings", docs, epsg, jsonb=jsonb)
        got = stored_geojson("buildings", feats, docs, epsg, jsonb=jsonb)
        for f, a, b in zip(feats, got, want, strict=True):
            assert a == b, (f.id, jsonb)
    lods = {orjson.loads(g)["properties"]["lod"] for g in got}
    assert lods == {"delft.json": {1.0}, "zurich_subset_lod2.json": {2.0}, "multi_lod.json": {2.2}}.get(
        name, {1.0, 2.0}
    )


def test_batch_geojson_stored_without_encoding_back(empty_store, monkeypatch):
    """An import through the array path stores its GeoJSON without validating a document back (encode_geojson is
    not called), on SQLite and PostGIS; what each store then serves is checked in tests/api/test_items_fast.py."""
    import cim.store.base as base

    path = shared_data("buildings", "multi_lod.json")
    city = City(name="m", crs_epsg=28992)
    empty_store.init(city, overwrite=True)
    want = {f.id: f for f in read(path, ImportContext(city=city, crs="EPSG:7415", encode=True)).features}

    def refuse(*a, **k):
        raise AssertionError("encode_geojson called")

    monkeypatch.setattr(base, "encode_geojson", refuse)
    rep = import_files(empty_store, [path], crs="EPSG:7415")
    assert rep.counts == {"buildings": 10}
    page = empty_store.query_geojson("buildings", limit=100)
    assert page is not None and page.matched == 10
    monkeypatch.undo()
    jsonb = type(empty_store).__name__ == "PostGISStore"
    for raw in page.features:
        fid = orjson.loads(raw)["id"]
        assert raw == base.encode_geojson("buildings", [want[fid].doc], 28992, jsonb=jsonb)[0]


def _pooled(path: Path, epsg: int, jobs: int):
    return read(path, ImportContext(city=City(name="t", crs_epsg=epsg), encode=True, jobs=jobs, filename=path.name))


def test_cityjsonseq_in_worker_processes_stores_the_same(tmp_path, monkeypatch):
    """Zurich as CityJSONSeq, 5 lines a batch, read by 2 worker processes: the rows, GeoJSON, warnings and placement
    points of the in-process read, in the same order; the documents travel packed and come out unpacked."""
    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 5)
    path = _zurich_seq(tmp_path)
    here, pooled = _pooled(path, 2056, 1), _pooled(path, 2056, 2)
    assert "workers" not in here.info
    assert pooled.info["workers"]["jobs"] == 2 and pooled.info["workers"]["peak_rss_mib"] > 20
    assert [f.id for f in pooled.features] == [f.id for f in here.features] and len(here.features) == 49
    assert all(f.packed for f in pooled.features) and not any(f.packed for f in here.features)
    assert [f.document() for f in pooled.features] == [f.doc for f in here.features]
    assert pooled.features[0].model() == here.features[0].model()
    assert pooled.warnings == here.warnings
    for jsonb in (False, True):
        a = prepare_rows(here.features, city_epsg=2056, jsonb=jsonb)["buildings"]
        b = prepare_rows(pooled.features, city_epsg=2056, jsonb=jsonb)["buildings"]
        assert list(b.docs) == a.docs and b.docs[3] == a.docs[3] and b.docs[2:4] == a.docs[2:4]
        assert b.geoms == a.geoms and b.geojson == a.geojson and b.boxes == a.boxes
    assert (result_xy(pooled) == result_xy(here)).all()
    assert (result_z(pooled) == result_z(here)).all()


def test_cityjsonseq_faults_with_workers_are_named_as_in_process(tmp_path, monkeypatch):
    """A cut line in a later batch, and an id repeated on a line of another batch: with worker processes the import
    fails as it does in process, naming the file and the line (the file is then read whole, in process)."""
    import json

    from cim.io import cityjson
    from cim.io.base import ImportError_

    monkeypatch.setattr(cityjson, "BATCH", 4)

    def cut(lines: list[str]) -> list[str]:
        lines[30] = lines[30][: len(lines[30]) // 2]
        return lines

    def repeat(lines: list[str]) -> list[str]:
        return [*lines, lines[2]]  # the same CityObject ids again, 12 batches later

    for edit in (cut, repeat):
        path = _zurich_seq(tmp_path, edit)
        errors = []
        for jobs in (1, 2):
            with pytest.raises(ImportError_) as exc:
                _pooled(path, 2056, jobs)
            errors.append((exc.value.message, exc.value.where))
        assert errors[0] == errors[1]
        assert errors[1][1]["file"] == path.name
        if edit is cut:
            assert errors[1][1]["line"] == 31
        else:
            assert "occurs twice" in errors[1][0]
            assert errors[1][1]["feature"] in json.loads(path.read_text().splitlines()[2])["CityObjects"]


def test_import_files_with_workers_in_each_store(empty_store, tmp_path, monkeypatch):
    """import_files(jobs=2) on SQLite and PostGIS stores what the in-process import stores: documents, GeoJSON
    (PostGIS: jsonb key order), index; one transaction, reported with the workers' peak memory."""
    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 6)
    path = _zurich_seq(tmp_path)
    city = City(name="z", crs_epsg=2056)
    empty_store.init(city, overwrite=True)
    rep = import_files(empty_store, [path], jobs=2)
    assert rep.counts == {"buildings": 49}
    assert rep.files[0]["info"]["workers"]["jobs"] == 2
    models = {f.id: f for f in read(path, ImportContext(city=city)).features}
    stored = {f.id: f for f in empty_store.query("buildings", limit=1000).features}
    assert stored.keys() == models.keys()
    for fid, m in models.items():
        assert stored[fid].model_dump(mode="json") == m.model_dump(mode="json"), fid
    jsonb = type(empty_store).__name__ == "PostGISStore"
    page = empty_store.query_geojson("buildings", limit=1000)
    assert page is not None and page.matched == 49
    from cim.store.base import encode_geojson

    want = {f.id: f for f in _pooled(path, 2056, 1).features}
    for raw in page.features:
        fid = orjson.loads(raw)["id"]
        assert raw == encode_geojson("buildings", [want[fid].doc], 2056, jsonb=jsonb)[0]


def test_auto_jobs_only_for_large_files():
    from cim.io._seq_pool import AUTO_MIN_BYTES, auto_jobs

    assert auto_jobs(AUTO_MIN_BYTES - 1) == 0
    assert auto_jobs(10 * AUTO_MIN_BYTES) in {0, *range(2, min(len(__import__("os").sched_getaffinity(0)), 4) + 1)}


def test_cli_import_jobs(tmp_path, monkeypatch):
    """``cim import --jobs 2`` reads a CityJSONSeq with worker processes and reports them (--json)."""
    from typer.testing import CliRunner

    from cim.cli import app
    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 10)
    path = _zurich_seq(tmp_path)
    store = tmp_path / "z.sqlite"
    s = open_store(store, create=True)
    s.init(City(name="z", crs_epsg=2056))
    s.close()
    r = CliRunner().invoke(app, ["import", str(path), "--store", str(store), "--jobs", "2", "--json"])
    assert r.exit_code == 0, r.output
    out = orjson.loads(r.stdout)
    assert out["counts"] == {"buildings": 49} and out["files"][0]["info"]["workers"]["jobs"] == 2


def test_no_worker_process_reads_in_process(tmp_path, monkeypatch):
    """Where no worker process starts (no Python to run), the batches are read in this process: the same rows."""
    import sys

    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 5)
    path = _zurich_seq(tmp_path)
    here = _pooled(path, 2056, 1)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    fallback = _pooled(path, 2056, 3)
    assert "workers" not in fallback.info and not any(f.packed for f in fallback.features)
    assert [f.doc for f in fallback.features] == [f.doc for f in here.features] and len(here.features) == 49


def test_skip_invalid_with_workers_lists_what_in_process_lists(tmp_path, monkeypatch):
    """--skip-invalid: a flat building (no height) in a later batch is skipped and listed alike with workers."""
    import json

    from cim.io import cityjson

    monkeypatch.setattr(cityjson, "BATCH", 4)

    def flatten(lines: list[str]) -> list[str]:
        feat = json.loads(lines[21])
        feat["vertices"] = [[x, y, 0] for x, y, _ in feat["vertices"]]
        lines[21] = json.dumps(feat)
        return lines

    path = _zurich_seq(tmp_path, flatten)
    city = City(name="t", crs_epsg=2056)
    runs = []
    for jobs in (1, 2):
        ctx = ImportContext(city=city, encode=True, jobs=jobs, skip_invalid=True, filename=path.name)
        r = read(path, ctx)
        runs.append(([f.id for f in r.features], r.warnings, ctx.skipped, "workers" in r.info))
    assert runs[0][:3] == runs[1][:3] and (runs[0][3], runs[1][3]) == (False, True)
    assert len(runs[1][2]) == 1 and len(runs[1][0]) == 48
