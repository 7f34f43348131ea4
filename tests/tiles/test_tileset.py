"""3D Tiles 1.1 of the sample city: structure, the glTF validator on every tile, placement on the globe."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Transformer

from cim.store import open_store
from tiles.tileset import Budget, quadtree, tile_paths

from .conftest import glb_vertices, validate_glbs

ECEF_TO_LLH = Transformer.from_crs(4978, 4979, always_xy=True)
LONLAT_TO_CITY = Transformer.from_crs(4326, 4550, always_xy=True)
LAYERS = ("buildings", "pipes", "underground-structures", "terrain")


def walk(tile, parent=None, depth=0):
    yield tile, parent, depth
    for c in tile.get("children", []):
        yield from walk(c, tile, depth + 1)


def to_city(yup: np.ndarray, transform: list[float]) -> np.ndarray:
    """glTF y-up tile coordinates -> z-up ENU -> tile transform (ECEF) -> EPSG:4550 and height (pyproj)."""
    enu = np.column_stack([yup[:, 0], -yup[:, 2], yup[:, 1]])
    m = np.asarray(transform, dtype=float).reshape(4, 4).T  # column-major
    ecef = enu @ m[:3, :3].T + m[:3, 3]
    lon, lat, h = ECEF_TO_LLH.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    x, y = LONLAT_TO_CITY.transform(lon, lat)
    return np.column_stack([x, y, h])


@pytest.mark.parametrize("layer", LAYERS)
def test_tileset_structure(sample_tiles, layer):
    sink, result = sample_tiles[layer]
    import json

    doc = json.loads(sink.read("tileset.json"))
    assert doc["asset"]["version"] == "1.1"
    root = doc["root"]
    assert root["refine"] in ("ADD", "REPLACE")
    assert len(root["transform"]) == 16 and all(isinstance(v, float) for v in root["transform"])
    assert doc["geometricError"] > 0 and doc["geometricError"] >= root["geometricError"] >= 0
    uris = tile_paths(doc)
    assert len(uris) == len(set(uris)) == result.tiles > 0
    assert set(uris) | {"tileset.json"} == set(sink.paths())
    for tile, parent, _ in walk(root):
        assert set(tile) <= {"boundingVolume", "geometricError", "content", "children", "refine", "transform"}
        w, s, e, n, lo, hi = tile["boundingVolume"]["region"]
        assert -math.pi <= w <= e <= math.pi and -math.pi / 2 <= s <= n <= math.pi / 2 and lo <= hi
        assert tile["geometricError"] >= 0
        if "content" in tile:
            assert tile["content"]["uri"].startswith("v1/") and tile["content"]["uri"].endswith(".glb")
        if parent is not None:
            assert tile["geometricError"] < parent["geometricError"], "geometric error must decrease downwards"
            pw, ps, pe, pn, plo, phi = parent["boundingVolume"]["region"]
            assert pw <= w and ps <= s and e <= pe and n <= pn and plo <= lo and hi <= phi, "child outside parent"
        if not tile.get("children"):
            assert tile["geometricError"] == 0 or layer == "terrain"


@pytest.mark.parametrize("layer", LAYERS)
def test_tiles_respect_budget_and_hold_every_feature(sample_tiles, sample_city_path, layer):
    sink, result = sample_tiles[layer]
    budget = Budget()
    ids: list[str] = []
    for uri in [p for p in sink.paths() if p.endswith(".glb")]:
        data = sink.read(uri)
        pos, feature, table, _ = glb_vertices(data)
        assert len(data) <= 1.2e6 and len(table["id"]) <= budget.max_features
        assert len(pos) <= budget.max_vertices or len(table["id"]) == 1
        assert feature is not None and set(np.unique(feature)) == set(range(len(table["id"])))
        ids += table["id"]
    if layer == "terrain":
        return
    assert len(ids) == len(set(ids)) == result.features
    store = open_store(sample_city_path)
    expected = set()
    for cid in {
        "buildings": ["buildings"],
        "pipes": ["pipes", "pipe-nodes"],
        "underground-structures": ["underground-structures"],
    }[layer]:
        expected |= {f.id for f in store.iter_features(cid) if getattr(f, "kind", None) != "junction"}
    assert set(ids) == expected


def test_every_glb_passes_the_khronos_validator(sample_tiles, tmp_path):
    paths = []
    for layer, (sink, _) in sample_tiles.items():
        for uri in sink.paths():
            if uri.endswith(".glb"):
                p = tmp_path / f"{layer}-{uri.replace('/', '-')}"
                p.write_bytes(sink.read(uri))
                paths.append(p)
    report = validate_glbs(paths)
    assert len(report) == len(paths) > 100
    bad = {k: v for k, v in report.items() if v["numErrors"]}
    assert not bad, bad
    assert sum(v["numWarnings"] for v in report.values()) == 0


def test_content_lies_inside_its_bounding_region(sample_tiles):
    import json

    for layer in LAYERS:
        sink, _ = sample_tiles[layer]
        doc = json.loads(sink.read("tileset.json"))
        m = np.asarray(doc["root"]["transform"]).reshape(4, 4).T
        for tile, _, _ in walk(doc["root"]):
            if "content" not in tile:
                continue
            pos, _, _, _ = glb_vertices(sink.read(tile["content"]["uri"]))
            enu = np.column_stack([pos[:, 0], -pos[:, 2], pos[:, 1]])
            ecef = enu @ m[:3, :3].T + m[:3, 3]
            lon, lat, h = ECEF_TO_LLH.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2], radians=True)
            w, s, e, n, lo, hi = tile["boundingVolume"]["region"]
            eps = 1e-9  # ~6 mm
            assert lon.min() >= w - eps and lon.max() <= e + eps and lat.min() >= s - eps and lat.max() <= n + eps
            assert h.min() >= lo - 0.01 and h.max() <= hi + 0.01


def _feature_vertices(sink, fid: str) -> tuple[np.ndarray, list[float]]:
    import json

    doc = json.loads(sink.read("tileset.json"))
    for uri in tile_paths(doc):
        pos, feature, table, _ = glb_vertices(sink.read(uri))
        if fid in table["id"]:
            return to_city(pos[feature == table["id"].index(fid)], doc["root"]["transform"]), table
    raise AssertionError(f"{fid} in no tile")


def _dist_to_points(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.min(np.linalg.norm(p[:, None, :] - q[None, :, :], axis=2), axis=1)


def _dist_to_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    a, b = line[:-1], line[1:]
    ab = b - a
    t = np.clip(np.einsum("psk,sk->ps", p[:, None, :] - a[None], ab) / np.einsum("sk,sk->s", ab, ab), 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.min(np.linalg.norm(p[:, None, :] - closest, axis=2), axis=1)


def test_buildings_are_placed_within_5_cm(sample_tiles, sample_city_path):
    store = open_store(sample_city_path)
    tower = store.get("buildings", "B-TWR-P501")  # LOD2 surfaces
    plain = next(b for b in store.iter_features("buildings") if not b.surfaces and b.height > 10)
    sink, _ = sample_tiles["buildings"]
    got, _ = _feature_vertices(sink, tower.id)
    src = np.array([v for s in tower.surfaces for ring in s.rings for v in ring])
    assert _dist_to_points(got, src).max() < 0.05
    got, _ = _feature_vertices(sink, plain.id)
    ring = np.asarray(plain.footprint[0])
    src = np.vstack(
        [np.column_stack([ring, np.full(len(ring), z)]) for z in (plain.ground_elevation, plain.roof_elevation)]
    )
    assert _dist_to_points(got, src).max() < 0.05
    assert got[:, 2].min() == pytest.approx(plain.ground_elevation, abs=0.05)
    assert got[:, 2].max() == pytest.approx(plain.roof_elevation, abs=0.05)


@pytest.mark.parametrize("pid", ["P-TEL-00001", "box", "manhole"])
def test_pipes_and_manholes_are_placed_within_5_cm(sample_tiles, sample_city_path, pid):
    store = open_store(sample_city_path)
    if pid == "box":
        feat = next(p for p in store.iter_features("pipes") if p.diameter is None)
    elif pid == "manhole":
        feat = next(n for n in store.iter_features("pipe-nodes") if n.kind == "manhole")
    else:
        feat = store.get("pipes", pid)
    sink, _ = sample_tiles["pipes"]
    got, _ = _feature_vertices(sink, feat.id)
    if pid == "manhole":
        x, y, z = feat.position
        axis = np.array([[x, y, z - feat.depth], [x, y, z]])
        r = feat.diameter / 2
    else:
        axis = feat.coords()
        r = feat.diameter / 2 if feat.diameter else math.hypot(feat.width, feat.section_height) / 2
    d = _dist_to_polyline(got, axis)
    assert d.max() < r / 0.5 + 0.05  # inside the pipe's envelope (mitres reach r / cos)
    if feat.diameter or pid == "manhole":
        on_surface = np.abs(d - r) < 0.05
        assert on_surface.mean() > 0.8, f"{on_surface.mean():.2f} of the vertices on the tube"
    # the ends of the tube are at the ends of the centreline
    ends = axis[[0, -1]]
    assert _dist_to_points(ends, got).max() < r + 0.05


def test_terrain_is_placed_within_5_cm(sample_tiles, sample_city_path):
    import json

    store = open_store(sample_city_path)
    terrain = store.terrain()
    sink, _ = sample_tiles["terrain"]
    doc = json.loads(sink.read("tileset.json"))
    leaf = next(t for t, _, _ in walk(doc["root"]) if not t.get("children") and "content" in t)
    pos, _, _, _ = glb_vertices(sink.read(leaf["content"]["uri"]))
    got = to_city(pos, doc["root"]["transform"])
    assert np.nanmax(np.abs(terrain.sample(got[:, :2]) - got[:, 2])) < 0.05


def test_quadtree_keeps_prominent_features_high():
    rng = np.random.default_rng(1)
    centres = rng.uniform(0, 1000, (5000, 2))
    prominence = rng.uniform(1, 50, 5000)
    prominence[:10] = 500  # ten towers
    root = quadtree(centres, np.full(5000, 24), prominence, (0, 0, 1000, 1000), Budget(max_features=400))
    assert set(range(10)) <= set(root.content.tolist())
    seen = np.concatenate([t.content for t in root.walk()])
    assert len(seen) == len(set(seen.tolist())) == 5000
    for t in root.walk():
        assert len(t.content) <= 400
        for c in t.children:
            assert c.geometric_error < t.geometric_error
