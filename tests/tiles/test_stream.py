"""City-scale buildings tiles (tiles.stream): the skeleton from the index, tiles one by one, the same
meshes as the whole-layer build, every building in exactly one tile; numpy LOD2 polygons equal to
meshing each polygon on its own; the store's index and documents on SQLite and PostGIS."""

from __future__ import annotations

import json

import mapbox_earcut
import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from cim.io import import_files
from cim.mesh import (
    SURFACE_COLORS,
    Mesh,
    _colors,
    _orient,
    _polygon_loop,
    building_meshes,
    building_meshes_docs,
    polygons,
)
from cim.model import City
from cim.store import open_store
from tests.conftest import shared_data
from tiles import MemorySink, build_layer, city_frame
from tiles.gltf import read_glb
from tiles.stream import build_streamed, estimate_vertices, iter_tiles, skeleton
from tiles.tileset import Budget, tile_paths

from .conftest import glb_vertices
from .test_tileset import to_city


def _reference_polygons(polys, feature, colors, ids) -> Mesh:
    """Each polygon meshed on its own, then put together (the per-polygon loop :func:`polygons` replaced)."""
    pts, tris, counts, norms = [], [], [], []
    off = 0
    for rings in polys:
        res = _polygon_loop([np.asarray(r, float) for r in rings])
        if res is None:
            counts.append(0)
            norms.append(np.zeros(3))
            continue
        p, t, n = res
        pts.append(p)
        tris.append(t + off)
        counts.append(len(p))
        norms.append(n)
        off += len(p)
    vertices = np.concatenate(pts)
    normals = np.repeat(np.asarray(norms), counts, axis=0)
    poly_of = np.repeat(np.arange(len(polys)), counts)
    faces = _orient(vertices, np.concatenate(tris), normals)
    return Mesh(vertices, faces, normals.astype(np.float32), _colors(colors, poly_of), feature[poly_of], ids)


def _assert_same_mesh(a: Mesh, b: Mesh) -> None:
    assert a.ids == b.ids
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert np.array_equal(a.feature, b.feature) and np.array_equal(a.colors, b.colors)
    assert np.abs(a.normals - b.normals).max(initial=0) <= 1e-6  # unit vectors, float32


@pytest.fixture(scope="module")
def lod2_store(tmp_path_factory):
    """Real LOD2 buildings (zurich: holes, long rings, parts; 3D BAG: triangles) in one SQLite store each."""
    out = {}
    for name, file, crs in [
        ("zurich", "zurich_subset_lod2.json", None),
        ("bag", "multi_lod.json", "EPSG:7415"),
    ]:
        path = tmp_path_factory.mktemp(name) / "city.sqlite"
        s = open_store(path, create=True)
        s.init(City(name=name, crs_epsg=2056 if name == "zurich" else 7415))
        import_files(s, [shared_data("buildings", file)], crs=crs)
        s.close()
        out[name] = path
    return out


@pytest.mark.parametrize("name", ["zurich", "bag"])
def test_numpy_polygons_equal_one_polygon_at_a_time(lod2_store, name):
    s = open_store(lod2_store[name])
    feats = list(s.iter_features("buildings"))
    polys, feat, cols = [], [], []
    for k, b in enumerate(feats):
        for srf in b.surfaces or []:
            polys.append([np.asarray(r, float) for r in srf.rings])
            feat.append(k)
            cols.append(SURFACE_COLORS.get(srf.type, SURFACE_COLORS[None]))
    assert len(polys) > 100
    if name == "zurich":
        assert any(len(p) > 1 for p in polys) and any(len(p[0]) >= 8 for p in polys)  # both slow paths run
    ids = [b.id for b in feats]
    args = (np.asarray(feat), np.asarray(cols), ids)
    _assert_same_mesh(polygons(polys, *args), _reference_polygons(polys, *args))
    s.close()


def test_convex_rings_get_earcuts_triangles():
    """Random convex and non-convex rings of 3..9 vertices, both orientations, closed or not, with
    repeated vertices, on all three planes: the same triangles as earcut gives each."""
    rng = np.random.default_rng(5)
    polys = []
    for _ in range(3000):
        m = int(rng.integers(3, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, m))
        rad = rng.uniform(0.3, 1.0, m) if rng.random() < 0.3 else np.ones(m)  # some not convex
        uv = np.column_stack([np.cos(ang) * rad, np.sin(ang) * rad]) * rng.uniform(1, 50) + rng.uniform(-1e3, 1e3, 2)
        if rng.random() < 0.5:
            uv = uv[::-1]
        ring = np.insert(uv, int(rng.integers(0, 3)), 0.0, axis=1) + [5e5, 4.6e6, 40.0]
        ring[:, int(rng.integers(0, 3))] += rng.normal(0, 1e-3)  # slightly off the plane
        if rng.random() < 0.2:
            ring = np.vstack([ring, ring[:1]])  # closed
        if rng.random() < 0.1:
            ring = np.insert(ring, 1, ring[1], axis=0)  # a repeated vertex
        polys.append([ring])
    ids = [str(i) for i in range(len(polys))]
    args = (np.arange(len(polys)), np.tile([1, 2, 3, 255], (len(polys), 1)), ids)
    _assert_same_mesh(polygons(polys, *args), _reference_polygons(polys, *args))
    # and the reference is earcut itself on a plain convex quad
    quad = np.array([[0.0, 0, 0], [4, 0, 0], [4, 3, 0], [0, 3, 0]])
    tri = mapbox_earcut.triangulate_float64(quad[:, :2], np.array([4], np.uint32)).reshape(-1, 3)
    assert np.array_equal(polygons([[quad]], np.zeros(1, int), np.zeros((1, 4)), ["q"]).faces, tri)


@pytest.mark.parametrize("name", ["zurich", "bag", "sample"])
def test_meshes_from_documents_equal_meshes_from_models(lod2_store, sample_city_path, name):
    s = open_store(sample_city_path if name == "sample" else lod2_store[name])
    ix = s.feature_index("buildings")
    docs = [orjson.loads(d) for d in s.feature_docs("buildings", ix.fids, without=("lods",))]
    feats = list(s.iter_features("buildings"))
    assert [d["id"] for d in docs] == [f.id for f in feats]
    _assert_same_mesh(building_meshes_docs(docs), building_meshes(feats))
    s.close()


def _tiles_by_building(sink: MemorySink) -> tuple[dict, dict]:
    """{building id: (city-coordinate vertices (n, 3), triangle count)} and {id: property row} of a tileset."""
    doc = json.loads(sink.read("tileset.json"))
    meshes, rows = {}, {}
    for uri in tile_paths(doc):
        pos, feature, table, gltf = glb_vertices(sink.read(uri))
        _, binary = read_glb(sink.read(uri))
        from tiles.gltf import read_accessor

        faces = read_accessor(gltf, binary, gltf["meshes"][0]["primitives"][0]["indices"]).reshape(-1, 3)
        city = to_city(pos, doc["root"]["transform"])
        for j, fid in enumerate(table["id"]):
            assert fid not in meshes, f"{fid} in two tiles"
            meshes[fid] = (city[feature == j], int((feature[faces[:, 0]] == j).sum()))
            rows[fid] = {k: v[j] for k, v in table.items()}
    return meshes, rows


@pytest.mark.parametrize("name", ["zurich", "bag", "sample"])
def test_vertex_estimates_are_on_the_high_side(lod2_store, sample_city_path, name):
    s = open_store(sample_city_path if name == "sample" else lod2_store[name])
    ix = s.feature_index("buildings")
    est = estimate_vertices(s, "buildings", ix)
    feats = list(s.iter_features("buildings"))
    actual = np.bincount(building_meshes(feats).feature, minlength=len(feats))
    assert np.mean(est >= actual) >= 0.95 and est.sum() >= actual.sum() and est.sum() <= 8 * actual.sum()
    s.close()


@pytest.mark.parametrize("name", ["zurich", "bag", "sample"])
def test_streamed_tiles_hold_every_building_once_with_todays_meshes(lod2_store, sample_city_path, name):
    s = open_store(sample_city_path if name == "sample" else lod2_store[name])
    frame = city_frame(s)
    budget = Budget(max_features=150 if name == "sample" else 4, max_vertices=3000)  # several tiles each
    new, old = MemorySink(), MemorySink()
    result = build_layer(s, "buildings", new, frame=frame, budget=budget, prefix="v1/")
    build_layer(s, "buildings", old, frame=frame, budget=budget, prefix="v1/", streamed=False)
    assert result.tiles > 1
    got, got_rows = _tiles_by_building(new)
    want, want_rows = _tiles_by_building(old)
    assert sorted(got) == sorted(want) == sorted(f.id for f in s.iter_features("buildings"))
    for fid, (v, ntri) in want.items():
        assert got[fid][1] == ntri and got[fid][0].shape == v.shape
        assert np.abs(got[fid][0] - v).max() < 2e-3, fid  # metres: float32 positions in either tile
        assert got_rows[fid] == want_rows[fid]
    s.close()


def test_parallel_build_writes_the_same_tiles(lod2_store):
    s = open_store(lod2_store["zurich"])
    frame = city_frame(s)
    skel = skeleton(s, "buildings", frame, budget=Budget(max_features=10), prefix="v1/")
    one = {a: d for a, d, _ in iter_tiles(s, skel, jobs=1)}
    two = {a: d for a, d, _ in iter_tiles(s, skel, jobs=2)}
    assert len(one) > 3 and one == two
    sink = MemorySink()
    r = build_streamed(s, "buildings", sink, frame, budget=Budget(max_features=10), prefix="v1/", jobs=2)
    assert sorted(sink.paths()) == sorted(["tileset.json", *skel.content_paths()]) and r.features == 49
    s.close()


def test_index_and_documents(store):
    """Both backends: the index lists every building in row order with its exact box; documents by
    row key parse to the same features, and ``without`` leaves members out."""
    feats = list(store.iter_features("buildings"))
    ix = store.feature_index("buildings")
    assert len(ix.fids) == len(feats) > 0 and np.all(np.diff(ix.fids) > 0)
    assert ix.boxes.shape == (len(feats), 6) and np.all(ix.boxes[:, 3:] >= ix.boxes[:, :3])
    b = np.asarray(store.bounds("buildings"))  # exact; the index's boxes may be rounded outwards (float32)
    lo, hi = ix.boxes[:, :3].min(axis=0), ix.boxes[:, 3:].max(axis=0)
    assert np.all(lo <= b[:3]) and np.all(lo > b[:3] - 1) and np.all(hi >= b[3:]) and np.all(hi < b[3:] + 1)
    assert np.all(ix.doc_bytes > 0) and np.all(ix.geom_bytes > 0)
    docs = store.feature_docs("buildings", ix.fids[::2])
    assert [orjson.loads(d)["id"] for d in docs] == [f.id for f in feats[::2]]
    slim = store.feature_docs("buildings", ix.fids[:3], without=("footprint",))
    assert all("footprint" not in orjson.loads(d) and "height" in orjson.loads(d) for d in slim)


def test_first_tileset_builds_no_tile(tmp_path, sample_city_path):
    """The server answers tileset.json from the index; a tile is built when asked for, and kept."""
    from api.main import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(store=str(sample_city_path)))) as c:
        doc = c.get("/3dtiles/buildings/tileset.json").json()
        built = c.app.state.tile_cache._built["buildings"]
        assert set(built.sink.paths()) == {"tileset.json", "tileset.json.gz"}
        uris = tile_paths(doc)
        r = c.get(f"/3dtiles/buildings/{uris[-1]}")
        assert r.status_code == 200
        assert set(built.sink.paths()) == {"tileset.json", "tileset.json.gz", uris[-1], uris[-1] + ".gz"}
        assert c.get(f"/3dtiles/buildings/{uris[-1]}").content == r.content
        n = sum(len(glb_vertices(c.get(f"/3dtiles/buildings/{u}").content)[2]["id"]) for u in uris)
        assert n == doc["extras"]["features"]


def test_a_write_during_a_tile_build_is_not_served_as_that_version(tmp_path, monkeypatch):
    """A tile built from the store while a write lands is not kept under the old version: 404, reload."""
    from api import tilecache
    from api.main import create_app
    from api.settings import Settings
    from tests import common

    path = tmp_path / "city.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.buildings()[:20])
    real = tilecache.build_tile

    def build_while_writing(store, skel, address):
        out = real(store, skel, address)
        s.write(common.buildings()[20:22])  # another client's import lands meanwhile
        return out

    monkeypatch.setattr(tilecache, "build_tile", build_while_writing)
    with TestClient(create_app(Settings(store=str(path)))) as c:
        uri = tile_paths(c.get("/3dtiles/buildings/tileset.json").json())[0]
        r = c.get(f"/3dtiles/buildings/{uri}")
        assert r.status_code == 404 and "reload" in r.json()["detail"]
        monkeypatch.setattr(tilecache, "build_tile", real)
        doc = c.get("/3dtiles/buildings/tileset.json").json()
        assert doc["extras"]["features"] == 22
        assert c.get(f"/3dtiles/buildings/{tile_paths(doc)[0]}").status_code == 200
    s.close()


def test_streamed_buildings_on_both_stores(store):
    """SQLite and PostGIS: the tiles from the index hold the same buildings and meshes as the whole-layer build."""
    frame = city_frame(store)
    new, old = MemorySink(), MemorySink()
    build_layer(store, "buildings", new, frame=frame, budget=Budget(max_features=5), prefix="v1/")
    build_layer(store, "buildings", old, frame=frame, budget=Budget(max_features=5), prefix="v1/", streamed=False)
    got, got_rows = _tiles_by_building(new)
    want, want_rows = _tiles_by_building(old)
    assert sorted(got) == sorted(want) == sorted(f.id for f in store.iter_features("buildings")) and len(got) > 5
    for fid, (v, ntri) in want.items():
        assert got[fid][1] == ntri and np.abs(got[fid][0] - v).max() < 2e-3 and got_rows[fid] == want_rows[fid]
