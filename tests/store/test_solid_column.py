"""The packed underground solid kept beside each row (column ``solid``, :mod:`cim.store.solid_columns`).

Written on every write of pipes, pipe nodes and underground structures on both stores; read back it gives the
same solid arrays as the documents' fields (to the last digit); rows of older stores (no column, or NULL) take
the documents and answer the same.
"""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
import shapely

from cim.analysis import solids as S
from cim.analysis.underground import underground_use
from cim.model import NodeKind, PipeNode, StructureKind, Utility
from cim.store import Region, open_store
from cim.store.solid_columns import CODES, PACKED, Unpacked, pack
from tests.analysis.underground_cases import GROUND, basement, flat_terrain, manhole, pipe, tunnel
from tests.common import X0, Y0


def _features() -> list:
    """Every shape the layout holds: multi-point and box pipes, names (non-ASCII, empty, 8 bytes), a node without
    depth or diameter, circular and box tunnels, a basement."""
    return [
        pipe("p1", [(0, 0, GROUND - 2), (50, 0, GROUND - 2.2)], 0.6, name="给水 main"),
        pipe("p2", [(0, 10, GROUND - 3), (20, 12, GROUND - 3.1), (40, 30, GROUND - 3.5)], 0.3, "sewer"),
        pipe("p3", [(0, 20, GROUND - 1), (60, 20, GROUND - 1)], None, "power", width=0.8, section_height=0.5),
        pipe("p4", [(5, 40, GROUND - 4), (5, 80, GROUND - 4.4)], 1.0, "storm", name=""),
        pipe("p5", [(10, 40, GROUND - 4), (10, 80, GROUND - 4)], 0.2, "gas", name="12345678"),
        manhole("m1", 0, 0, 3.0),
        manhole("m2", 50, 0, 2.5, d=1.2, utility="water"),
        PipeNode(id="m3", kind="valve", utility="gas", position=(X0 + 10, Y0 + 60, GROUND), name="v"),
        tunnel("t1", [(0, 90, GROUND - 12), (40, 90, GROUND - 12.5), (80, 95, GROUND - 13)], 6.0),
        tunnel("t2", [(0, 100, GROUND - 6), (70, 100, GROUND - 6)], 4.0, "box", 3.0, kind="utility_tunnel", name="廊"),
        basement("b1", 20, 30, 25, 15, GROUND, GROUND - 7.2),
    ]


@pytest.fixture
def ug_store(empty_store):
    empty_store.write(_features(), terrain=flat_terrain())
    return empty_store


def _region() -> Region:
    return Region(shapely.box(X0 - 5, Y0 - 5, X0 + 100, Y0 + 110), GROUND - 60, GROUND + 5)


def _assert_same(new: S.Solids, old: S.Solids) -> None:
    assert vars(new.owners) == vars(old.owners)
    for part in ("swept", "chambers"):
        for key, v in vars(getattr(old, part)).items():
            np.testing.assert_array_equal(getattr(getattr(new, part), key), v, err_msg=f"{part}.{key}")
    assert shapely.equals_exact(new.prisms.polygons, old.prisms.polygons, tolerance=0).all()
    for key in ("bottom", "top", "owner"):
        np.testing.assert_array_equal(getattr(new.prisms, key), getattr(old.prisms, key))


def test_the_column_is_written_and_equals_the_documents(ug_store):
    region = _region()
    for cid in PACKED:
        c = ug_store.columns(cid, region=region, solid=True, boxes=False)
        assert len(c) > 0 and all(isinstance(b, bytes) and len(b) % 8 == 0 for b in c.solid), cid
        full = ug_store.columns(cid, region=region, solid=True, boxes=True)
        assert c.boxes.shape == (len(c), 0) and full.boxes.shape == (len(c), 6)  # boxes only when asked for
        assert c.ids == full.ids and c.solid == full.solid and shapely.equals_exact(c.geoms, full.geoms, 0).all()
    assert ug_store.columns("buildings", solid=True).solid == []  # no buildings: nothing asked, nothing read
    # the packed numbers give exactly what the documents' fields give, collection by collection
    for cid, packed, fields in (
        ("pipes", S._pipes_from_packed, S._pipes_from_fields),
        ("pipe-nodes", S._nodes_from_packed, S._nodes_from_fields),
        ("underground-structures", S._structs_from_packed, S._structs_from_fields),
    ):
        a = packed(Unpacked(ug_store.columns(cid, region=region, solid=True).solid))
        b = fields(ug_store.columns(cid, S._FIELDS[cid], region=region))
        for key, v in vars(b).items():
            if isinstance(v, list):
                assert getattr(a, key) == v, (cid, key)
            else:
                np.testing.assert_array_equal(getattr(a, key), v, err_msg=f"{cid}.{key}")
    solids = S.underground_solids(ug_store, region)
    assert solids.owners.names[:5] == ["给水 main", None, None, "", "12345678"]
    assert "廊" in solids.owners.names and len(solids.swept) == 1 + 2 + 1 + 1 + 1 + 2 + 1
    # and the same arrays as the feature models give
    old = S.Solids.from_features([f for cid in S.UNDERGROUND for f in ug_store.iter_features(cid, region=region)])
    _assert_same(solids, old)


def test_rows_without_the_column_answer_the_same(ug_store, tmp_path):
    """NULL in some rows (rows written before the column): those collections take the documents, same answer."""
    poly = shapely.box(X0 - 5, Y0 - 5, X0 + 100, Y0 + 110)
    before = underground_use(ug_store, poly)
    packed = S.underground_solids(ug_store, _region())
    if ug_store.url.startswith("postgresql"):
        with ug_store._pool.connection() as conn:
            for t in ("f_pipes", "f_underground_structures"):
                conn.execute(f"UPDATE \"{ug_store.schema}\".{t} SET solid = NULL WHERE id IN ('p2', 't2')")
    else:
        with sqlite3.connect(ug_store.url) as conn:
            for t in ("f_pipes", "f_underground_structures"):
                conn.execute(f"UPDATE {t} SET solid = NULL WHERE id IN ('p2', 't2')")
    assert None in ug_store.columns("pipes", region=_region(), solid=True).solid
    _assert_same(S.underground_solids(ug_store, _region()), packed)
    assert underground_use(ug_store, poly) == before


def test_an_older_sqlite_store_without_the_column(tmp_path):
    """A store file from before the column: read as it is (a read-only file), and opened writable it gains the
    column (NULL: the documents are read); both answer as a store written with the column."""
    path = tmp_path / "new.sqlite"
    store = open_store(str(path), create=True)
    from tests import common

    store.init(common.CITY)
    store.write(_features(), terrain=flat_terrain())
    poly = shapely.box(X0 - 5, Y0 - 5, X0 + 100, Y0 + 110)
    expected = underground_use(store, poly)
    store.close()
    old = tmp_path / "old.sqlite"
    shutil.copy(path, old)
    with sqlite3.connect(old) as conn:
        for cid in PACKED:
            conn.execute(f"ALTER TABLE f_{cid.replace('-', '_')} DROP COLUMN solid")
    reader = open_store(str(old))
    reader._ensured, reader._has_solid = True, False  # as a read-only file leaves them (root may write any file)
    try:
        assert underground_use(reader, poly) == expected
    finally:
        reader.close()
    store = open_store(str(old))
    try:
        assert underground_use(store, poly) == expected
        with sqlite3.connect(old) as conn:
            assert conn.execute("SELECT count(*), count(solid) FROM f_pipes").fetchone() == (5, 0)
    finally:
        store.close()


def test_codes_cover_the_model_and_odd_documents_stay_null():
    assert CODES["utility"] == tuple(u.value for u in Utility)
    assert CODES["node_kind"] == tuple(k.value for k in NodeKind)
    assert CODES["structure_kind"] == tuple(k.value for k in StructureKind)
    assert pack("pipes", {"utility": "steam", "centreline": [[0, 0, 0], [1, 0, 0]], "diameter": 0.1}) is None
    assert pack("pipes", {"utility": "water", "centreline": [[0, 0], [1, 0]], "diameter": 0.1}) is None
    assert pack("buildings", {"id": "b"}) is None
    b = pack("pipe-nodes", {"kind": "manhole", "utility": "sewer", "position": [1.5, 2.5, 3.5], "depth": 2})
    assert np.frombuffer(b, "<f8")[:6].tolist() == [0.0, 2.0, -1.0, 1.5, 2.5, 3.5]
