"""Issue 16, the first tileset and the tile build: SQLite bounds through the R*Tree equal the exact ones
(float32 boxes rounded outwards, refined from the few rows at the edge); the server's tile cache makes
the city frame in its own thread at start-up and builds buildings' skeleton and tiles there; LOD2
surfaces gathered with C loops mesh as the models do; ``cim tiles`` loads only its own commands."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cim.collections import COLLECTIONS
from cim.mesh import building_meshes, building_meshes_docs
from cim.model import Building, City, Surface
from cim.store import open_store
from tiles import city_frame

from .test_stream import _assert_same_mesh


def _exact(path, cid: str):
    """min/max of the exact box columns over every row (what bounds() returned before: a full scan)."""
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            f"SELECT min(minx), min(miny), min(minz), max(maxx), max(maxy), max(maxz) FROM f_{cid.replace('-', '_')}"
        ).fetchone()
    return None if row[0] is None else tuple(row)


def _box(i: int, x: float, y: float, w: float, ground: float, height: float) -> Building:
    return Building(
        id=f"b{i}",
        footprint=[[(x, y), (x + w, y), (x + w, y + w), (x, y + w)]],
        ground_elevation=ground,
        height=height,
    )


def test_sqlite_bounds_from_the_index_are_exact(tmp_path, sample_city_path):
    # the sample city: every collection, and one with nothing in it
    s = open_store(sample_city_path)
    for cid in COLLECTIONS:
        assert s.bounds(cid) == _exact(sample_city_path, cid), cid
    s.close()
    # far from the origin, many buildings within one float32 step (0.5 m at 4.6e6 m) of each edge: the
    # R*Tree's extent is not the exact one, the refinement must find the extreme among the ties
    path = tmp_path / "far.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="far", crs_epsg=4550))
    rng = np.random.default_rng(16)
    xs = 4_600_000.0 + rng.uniform(0, 0.4, 200)
    ys = 4_600_000.0 + rng.uniform(0, 0.4, 200)
    s.write([_box(i, x, y, 0.3, 41.0 + x % 0.1, 5.0) for i, (x, y) in enumerate(zip(xs, ys, strict=True))])
    b = s.bounds("buildings")
    assert b == _exact(path, "buildings")
    with sqlite3.connect(path) as conn:  # the index alone would be off
        outer = conn.execute("SELECT min(minx), max(maxx) FROM rt_buildings").fetchone()
    assert outer[0] < b[0] and outer[1] > b[3]
    assert b[0] == pytest.approx(xs.min(), abs=1e-9) and b[3] == pytest.approx((xs + 0.3).max(), abs=1e-9)
    # a write moves them (cached per store version)
    s.write([_box(999, 4_599_999.9, 4_600_000.1, 0.05, 40.0, 3.0)])
    assert s.bounds("buildings") == _exact(path, "buildings")
    assert s.bounds("buildings")[0] == pytest.approx(4_599_999.9) and s.bounds("buildings")[2] == 40.0
    s.close()


def test_the_tile_cache_makes_the_frame_at_start_up_and_tiles_in_its_thread(sample_city_path, monkeypatch):
    import api.tilecache as tc
    from api.main import create_app
    from api.settings import Settings

    threads: list[str] = []
    real = tc.build_tile

    def recording(*args, **kw):  # the real build, noting the thread it runs in
        threads.append(threading.current_thread().name)
        return real(*args, **kw)

    monkeypatch.setattr(tc, "build_tile", recording)
    with TestClient(create_app(Settings(store=str(sample_city_path)))) as c:
        cache = c.app.state.tile_cache
        cache._thread.submit(lambda: None).result()  # the warm-up queued at start-up is done
        version = cache.store.read_version()
        assert cache._frame is not None and cache._frame[0] == version
        made = cache._frame[1]
        again = city_frame(cache.store)
        assert made.epsg == again.epsg and np.array_equal(made.enu.origin, again.enu.origin)
        doc = c.get("/3dtiles/buildings/tileset.json").json()
        assert cache.frame(version) is made  # the request used the frame made at start-up
        uri = (
            doc["root"]["children"][0]["content"]["uri"]
            if "content" not in doc["root"]
            else doc["root"]["content"]["uri"]
        )
        assert c.get(f"/3dtiles/buildings/{uri}").status_code == 200
        assert threads and all(t.startswith("cim-tiles") for t in threads)
    assert cache._thread._shutdown  # stopped with the app


def test_surfaces_gathered_with_c_loops_mesh_as_the_models_do():
    """Types given, None, left out of the document; holes; LOD1 buildings between LOD2 ones."""
    sq = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    hole = [(3.0, 3.0, 5.0), (3.0, 6.0, 5.0), (6.0, 6.0, 5.0), (6.0, 3.0, 5.0)]
    roof = Surface(type="roof", rings=[[(x, y, 5.0) for x, y in sq], hole])
    wall = Surface(type="wall", rings=[[(0.0, 0.0, 0.0), (10.0, 0.0, 0.0), (10.0, 0.0, 5.0), (0.0, 0.0, 5.0)]])
    untyped = Surface(rings=[[(0.0, 0.0, 0.0), (0.0, 10.0, 0.0), (10.0, 10.0, 0.0)]], part="p[1]")
    feats = [
        Building(id="a", footprint=[sq], ground_elevation=0, height=5, surfaces=[roof, wall, untyped]),
        Building(id="b", footprint=[sq], ground_elevation=1, height=7, use="public"),
        Building(id="c", footprint=[sq], ground_elevation=0, height=5, surfaces=[untyped, roof]),
    ]
    docs = [f.model_dump(mode="json", exclude_none=True) for f in feats]
    assert "type" not in docs[0]["surfaces"][2]
    docs[2]["surfaces"][0]["type"] = None  # stored as null rather than left out
    m = building_meshes_docs(docs)
    _assert_same_mesh(m, building_meshes(feats))
    assert len(np.unique(m.colors[m.feature == 0], axis=0)) == 3  # roof, wall, other


@pytest.mark.parametrize(
    ("argv", "only"),
    [
        (["-m", "tiles", "build"], True),
        (["/usr/local/bin/cim", "tiles", "build"], True),
        (["-m", "analyse", "x"], False),
        (["-m", "--help"], False),
        (["-m"], False),
        (["pytest", "tiles"], False),
    ],
)
def test_cim_tiles_loads_only_its_commands(argv, only):
    from cim.cli import _only_tiles

    assert _only_tiles(argv) is only
