"""The Store contract: every backend must pass these (the ``store`` fixtures are parametrised)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cim.collections import COLLECTIONS
from cim.errors import DuplicateFeature, FeatureNotFound, StoreError, UnknownCollection
from cim.model import Building
from cim.store import Region, Store

from .. import common
from ..common import X0, Y0


def test_is_a_store(store):
    assert isinstance(store, Store)


def test_city_round_trips(store):
    assert store.city() == common.CITY


def test_counts(store):
    counts = store.counts()
    assert {k: counts.pop(k) for k in ("buildings", "pipes", "pipe-nodes", "underground-structures")} == {
        "buildings": 101,
        "pipes": 9,
        "pipe-nodes": 6,
        "underground-structures": 2,
    }
    assert not any(counts.values())  # the other collections are empty


def test_get_returns_equal_feature(store):
    for feat in common.all_features():
        cid = "buildings" if isinstance(feat, Building) else None
        if cid:
            assert store.get(cid, feat.id) == feat


def test_get_unknown(store):
    with pytest.raises(FeatureNotFound) as exc:
        store.get("buildings", "nope")
    assert exc.value.where == {"collection": "buildings", "feature": "nope"}
    with pytest.raises(UnknownCollection):
        store.get("roads", "x")


def test_terrain_round_trips(store):
    t = store.terrain()
    ref = common.terrain()
    assert (t.x0, t.y0, t.cell) == (ref.x0, ref.y0, ref.cell)
    np.testing.assert_array_equal(t.z, ref.z)


def test_bounds_are_solid_bounds(store):
    b = store.bounds("buildings")
    assert b[0] == pytest.approx(X0, abs=1) and b[1] == pytest.approx(Y0, abs=1)
    assert b[2] == pytest.approx(45.0, abs=0.01)
    assert b[5] == pytest.approx(45.0 + 300.0, abs=0.05)  # the 300 m building's roof
    tunnel = store.bounds("underground-structures")
    assert tunnel[0] == pytest.approx(X0 - 54, abs=0.01)  # centreline x - width / 2
    assert tunnel[2] == pytest.approx(37.0, abs=0.01)  # basement bottom


def test_paging_visits_each_once(store):
    seen = []
    for off in range(0, 101, 7):
        page = store.query("buildings", limit=7, offset=off)
        assert page.matched == 101
        seen += [f.id for f in page.features]
    assert seen == [b.id for b in common.buildings()]  # insertion order, each once


def plain_shape(f) -> shapely.Geometry:
    """The feature's 2-D geometry, built here independently of cim.collections."""
    if getattr(f, "footprint", None):
        return shapely.Polygon(f.footprint[0], f.footprint[1:])
    if getattr(f, "centreline", None):
        return shapely.LineString([p[:2] for p in f.centreline])
    return shapely.Point(f.position[:2])


@pytest.mark.parametrize(
    "box",
    [
        (X0 - 5, Y0 - 5, X0 + 5, Y0 + 5),  # touches b-0-0 only
        (X0 + 21, Y0, X0 + 49, Y0 + 500),  # a gap column: nothing
        (X0 + 30, Y0 + 30, X0 + 130, Y0 + 130),  # b-1-1, b-1-2, b-2-1, b-2-2 (corners at 50..70)
        (X0 + 595, Y0 + 595, X0 + 650, Y0 + 650),  # inside b-L's bounding box but outside the L
        (X0 + 750, Y0 + 0, X0 + 760, Y0 + 10),  # near the diagonal pipe but off it
        (X0 + 795, Y0 + 90, X0 + 805, Y0 + 110),  # on the diagonal pipe
    ],
)
def test_region_is_exact(store, box):
    region = Region.box(*box)
    for cid in COLLECTIONS:
        expected = [f.id for f in store.iter_features(cid) if plain_shape(f).intersects(shapely.box(*box))]
        got = store.query(cid, region=region)
        assert [f.id for f in got.features] == expected
        assert got.matched == len(expected)


def test_region_z_range(store):
    everything = Region.box(X0 - 1000, Y0 - 1000, X0 + 1000, Y0 + 1000)
    tall = Region(everything.polygon, zmin=45.0 + 250.0)
    ids = {f.id for f in store.iter_features("buildings", region=tall)}
    assert ids == {b.id for b in common.buildings() if b.roof_elevation >= 295.0}
    deep = Region(everything.polygon, zmax=38.0)
    assert {f.id for f in store.iter_features("underground-structures", region=deep)} == {"s-basement"}


def test_region_polygon_not_box(store):
    tri = shapely.Polygon([(X0 - 1, Y0 - 1), (X0 + 200, Y0 - 1), (X0 - 1, Y0 + 200)])
    got = {f.id for f in store.query("buildings", region=Region(tri)).features}
    expected = {b.id for b in common.buildings() if shapely.Polygon(b.footprint[0]).intersects(tri)}
    assert got == expected and "b-0-3" in got and "b-3-3" not in got


@pytest.mark.parametrize(
    "region",
    [
        None,
        Region.box(X0 - 5, Y0 - 5, X0 + 5, Y0 + 5),
        Region.box(X0 + 595, Y0 + 595, X0 + 650, Y0 + 650),  # in b-L's box, outside the L
        Region.box(X0 + 795, Y0 + 90, X0 + 805, Y0 + 110),  # on the diagonal pipe
        Region.box(X0 - 1000, Y0 - 1000, X0 + 1000, Y0 + 1000, zmax=38.0),  # the basement only, by z
        Region(shapely.Polygon([(X0 - 60, Y0 - 60), (X0 + 200, Y0 - 60), (X0 - 60, Y0 + 200)]), 30.0, 60.0),
    ],
)
def test_columns_are_the_matching_features(store, region):
    """columns(): the features query() finds, in insertion order, with their boxes, 2-D geometries and document
    fields equal to the models' (stored without None values: absent or None fields read as None), without
    building models."""
    for cid, spec in COLLECTIONS.items():
        feats = list(store.iter_features(cid, region=region))
        names = sorted({k for f in feats for k in type(f).model_fields})[:12] + ["no_such_field"]
        cols = store.columns(cid, names, region=region)
        assert cols.ids == [f.id for f in feats] and len(cols) == len(feats)
        assert cols.boxes.shape == (len(feats), 6) and cols.geoms.shape == (len(feats),)
        for k, f in enumerate(feats):
            np.testing.assert_allclose(cols.boxes[k], spec.bounds(f), rtol=0, atol=1e-9)
            assert shapely.equals_exact(cols.geoms[k], plain_shape(f), tolerance=0)
            doc = f.model_dump(mode="json", exclude_none=True)  # as stored
            for n in names:
                assert cols.fields[n][k] == doc.get(n), (cid, f.id, n)
    with pytest.raises(ValueError, match="field name"):
        store.columns("pipes", ["utility') FROM x; --"])
    with pytest.raises(UnknownCollection):
        store.columns("roads", [])


def test_write_is_all_or_nothing(store):
    before = (store.counts(), store.version())
    fresh = Building(id="new", footprint=common.rect(X0, Y0 + 2000, 10, 10), ground_elevation=40, height=5)
    dup = common.buildings()[5]
    with pytest.raises(DuplicateFeature) as exc:
        store.write([fresh, dup])
    assert exc.value.where["feature"] == dup.id
    assert (store.counts(), store.version()) == before
    with pytest.raises(FeatureNotFound):
        store.get("buildings", "new")


def test_duplicate_within_batch(empty_store):
    b = common.buildings()[0]
    with pytest.raises(DuplicateFeature):
        empty_store.write([b, b])
    assert empty_store.counts()["buildings"] == 0


def test_replace_updates_feature_and_index(store):
    b = common.buildings()[0]
    moved = b.model_copy(update={"footprint": common.rect(X0 + 5000, Y0, 20, 20)})
    v = store.version()
    store.write([moved], replace=True)
    assert store.version() > v
    assert store.counts()["buildings"] == 101
    assert store.get("buildings", b.id).footprint == moved.footprint

    def ids_in(*box):
        return {f.id for f in store.query("buildings", region=Region.box(*box)).features}

    assert b.id not in ids_in(X0 - 1, Y0 - 1, X0 + 1, Y0 + 1)
    assert b.id in ids_in(X0 + 5001, Y0 + 1, X0 + 5002, Y0 + 2)


def test_iter_features_streams_everything(store):
    assert [f.id for f in store.iter_features("buildings", batch=13)] == [b.id for b in common.buildings()]


def test_uninitialised_store_says_so(tmp_path):
    from cim.store import open_store

    with pytest.raises(StoreError, match="cim init"):
        open_store(tmp_path / "missing.sqlite")
    s = open_store(tmp_path / "empty.sqlite", create=True)
    with pytest.raises(StoreError, match="holds no city"):
        s.city()


def test_init_refuses_to_overwrite(store):
    with pytest.raises(StoreError, match="already holds a city"):
        store.init(common.CITY)
    assert store.counts()["buildings"] == 101


def test_integrity_after_writes(store):
    assert store.integrity_check()


def test_building_points_append(store):
    assert store.building_points() is None
    a = np.array([[X0, Y0, 60.0], [X0 + 1, Y0 + 1, 61.0]])
    store.write([], building_points=a)
    store.write([], building_points=a + 10)
    np.testing.assert_array_equal(store.building_points(), np.concatenate([a, a + 10]))


def test_terrain_replaced_not_duplicated(store):
    t = common.terrain()
    z2 = t.z + 1
    store.write([], terrain=type(t)(t.x0, t.y0, t.cell, z2))
    np.testing.assert_array_equal(store.terrain().z, z2)


def test_jobs_round_trip(store):
    assert store.get_job("j1") is None
    store.put_job("j1", {"status": "running", "progress": 0.5})
    store.put_job("j1", {"status": "succeeded", "counts": {"buildings": 3}})
    assert store.get_job("j1") == {"status": "succeeded", "counts": {"buildings": 3}}


def test_jobs_listed_by_type_newest_first(store):
    assert store.list_jobs() == []
    store.put_job("a", {"type": "process", "created": "2026-01-01T00:00:00Z", "n": 1})
    store.put_job("b", {"type": "process", "created": "2026-01-03T00:00:00Z", "n": 2})
    store.put_job("c", {"type": "import", "created": "2026-01-02T00:00:00Z", "n": 3})
    store.put_job("a", {"type": "process", "created": "2026-01-01T00:00:00Z", "n": 4})  # updated, same place
    assert [j["n"] for j in store.list_jobs(type="process")] == [2, 4]
    assert [j["n"] for j in store.list_jobs()] == [2, 3, 4]
    assert [j["n"] for j in store.list_jobs(limit=1, offset=1)] == [3]
    assert store.list_jobs(type="nothing") == []


def test_blobs_land_with_the_write_and_replace_by_name(store):
    v = store.version()
    store.write([], blobs={"model/epanet/a": b"one", "model/epanet/b": b"\x00two"})
    assert store.version() == v + 1
    assert store.get_blob("model/epanet/a") == b"one"
    assert store.get_blob("model/epanet/b") == b"\x00two"
    assert store.get_blob("nope") is None
    store.write([], blobs={"model/epanet/a": b"three"})
    assert store.get_blob("model/epanet/a") == b"three"
    assert store.blob_names("model/epanet/") == ["model/epanet/a", "model/epanet/b"]
    assert "terrain" in store.blob_names()


def test_blobs_of_a_failed_write_do_not_land(store):
    dup = next(iter(common.all_features()))
    with pytest.raises(DuplicateFeature):
        store.write([dup], blobs={"model/x": b"x"})
    assert store.get_blob("model/x") is None


# -- CQL2 filters and sortby: each backend's SQL against the same predicate written in Python --------------------
def _buildings() -> list[Building]:
    return [f for f in common.all_features() if isinstance(f, Building)]


_SQUARE = shapely.box(X0 - 1, Y0 - 1, X0 + 120, Y0 + 70)  # rows 0-1, columns 0-2 of the grid (city CRS)
FILTERS = [
    ("height > 150 AND year_built < 2030", lambda b: b.height > 150 and (b.year_built or 9999) < 2030),
    ("use = 'residential' OR height BETWEEN 30 AND 60", lambda b: b.use == "residential" or 30 <= b.height <= 60),
    (
        "use IN ('public', 'commercial') AND NOT height < 100",
        lambda b: b.use in ("public", "commercial") and b.height >= 100,
    ),
    ("year_built IS NULL", lambda b: b.year_built is None),
    (
        "floors_above * 3 = height AND height <= 30",
        lambda b: b.floors_above is not None and b.floors_above * 3 == b.height and b.height <= 30,
    ),
    (
        f"S_INTERSECTS(geometry, POLYGON(({Y0 - 1} {X0 - 1}, {Y0 - 1} {X0 + 120}, {Y0 + 70} {X0 + 120}, "
        f"{Y0 + 70} {X0 - 1}, {Y0 - 1} {X0 - 1})))",
        lambda b: _SQUARE.intersects(shapely.Polygon(b.footprint[0])),
    ),
]


@pytest.mark.parametrize("text, predicate", FILTERS, ids=[f[0][:40] for f in FILTERS])
def test_cql2_filter_runs_as_the_backends_sql(store, text, predicate):
    from cim.crs import epsg_uri
    from cim.query.cql2 import parse_filter

    flt = parse_filter(text, crs=epsg_uri(4550), city_epsg=4550)
    want = [b.id for b in _buildings() if predicate(b)]
    assert want  # each case selects something, and not everything
    assert len(want) < len(_buildings())
    page = store.query("buildings", filter=flt)
    assert [f.id for f in page.features] == want
    assert page.matched == len(want)
    paged = store.query("buildings", filter=flt, limit=3, offset=1)
    assert [f.id for f in paged.features] == want[1:4] and paged.matched == len(want)


@pytest.mark.parametrize(
    "sortby",
    [[("height", False)], [("use", True), ("height", False)], [("year_built", True)], [("year_built", False)]],
)
def test_sortby_then_insertion_order(store, sortby):
    from cim.query.cql2 import parse_sortby

    text = ",".join(("" if asc else "-") + name for name, asc in sortby)
    order = parse_sortby(text, "buildings")
    assert order == sortby
    got = [f.id for f in store.query("buildings", sortby=order).features]
    rows = _buildings()
    want = list(range(len(rows)))
    for name, asc in reversed(sortby):  # stable sorts, last key first; missing values last either way
        present = [i for i in want if getattr(rows[i], name) is not None]
        missing = [i for i in want if getattr(rows[i], name) is None]
        present.sort(key=lambda i: getattr(rows[i], name), reverse=not asc)
        want = present + missing
    assert got == [rows[i].id for i in want]
