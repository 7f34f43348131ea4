"""Ponding: Priority-Flood, the depression hierarchy and Fill-Spill-Merge on analytic terrains, design storms,
and the analysis end to end (library and HTTP, bad input as problem+json)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.city import LocalCity
from cim.errors import InvalidParameter
from cim.hydro import fsm
from cim.hydro.fill import fill_depressions
from cim.hydro.storm import Storm, chicago, design_return_period, formula, hyetograph
from cim.model import Building, City
from cim.store import open_store
from cim.terrain import Terrain

from ..api.conftest import assert_problem

pytest.importorskip("skimage")
pytest.importorskip("rasterio")

CRS = "EPSG:4550"


def bowl(cell=0.5, a=50.0, rim=4.0):
    """Paraboloid z = r^2 / a up to the rim height: the volume below level h is pi a h^2 / 2."""
    n = int(2 * math.sqrt(a * rim) / cell) + 12
    c = (np.arange(n) - (n - 1) / 2) * cell
    x, y = np.meshgrid(c, c)
    return np.minimum((x**2 + y**2) / a, rim)


def test_paraboloid_volume_closed_form():
    cell, a, rim = 0.5, 50.0, 4.0
    z = bowl(cell, a, rim)
    h = fsm.hierarchy(z, cell * cell)
    assert h.n_leaves == 1
    full = math.pi * a * rim**2 / 2
    res = fsm.fill_spill_merge(h, np.array([0.0, 2 * full]))
    assert res.stored_m3 == pytest.approx(full, rel=0.005)
    assert res.outflow_m3 == pytest.approx(2 * full - res.stored_m3, rel=1e-9)
    for share in (0.1, 0.5):  # a partial fill: the level is sqrt(2 W / (pi a))
        w = share * full
        res = fsm.fill_spill_merge(h, np.array([0.0, w]))
        (node, level, vol, spills) = res.lakes[0]
        assert level == pytest.approx(math.sqrt(2 * w / (math.pi * a)), rel=0.005)
        assert spills == -2 and res.outflow_m3 == 0
        depth = fsm.depth_grid(z, h.labels, res.water_level)
        assert depth.sum(dtype=np.float64) * cell * cell == pytest.approx(w, rel=1e-5)
    # everything filled: the hierarchy's level equals Priority-Flood's filled surface
    res = fsm.fill_spill_merge(h, np.array([0.0, 2 * full]))
    depth = fsm.depth_grid(z, h.labels, res.water_level)
    np.testing.assert_allclose(z + depth, fill_depressions(z), atol=1e-5)


def two_pits():
    """Box pits A (floor 0, 10 x 10 cells) and B (floor -2, 20 x 10 cells) in a plateau at 3 m, a wall at
    1 m between them: A fills to 1 m, spills into B."""
    z = np.full((14, 34), 3.0)
    z[2:12, 2:12] = 0.0  # A
    z[2:12, 12] = 1.0  # the wall (pass) between A and B
    z[2:12, 13:33] = -2.0  # B
    return z


def test_first_depression_fills_and_spills_into_the_second():
    z = two_pits()
    h = fsm.hierarchy(z, 1.0)
    a, b = h.labels[5, 5], h.labels[5, 20]
    assert a != b and h.n_leaves == 2
    water = np.zeros(h.n_leaves + 1)
    water[a] = 150.0  # A holds 100 m^3 up to the wall; 50 spill into B
    water[b] = 50.0
    res = fsm.fill_spill_merge(h, water)
    assert res.water_level[a] == pytest.approx(1.0, abs=1e-12)
    assert res.water_level[b] == pytest.approx(-2.0 + 100.0 / 200.0, abs=1e-12)  # exactly -1.5
    assert res.stored_m3 == pytest.approx(200.0) and res.outflow_m3 == 0
    lakes = {node: spill for node, _, _, spill in res.lakes}
    assert lakes[a] == b  # A is full and spills into B
    # more water: B fills to the wall too, both rise together as one lake
    water[a] = 800.0
    res = fsm.fill_spill_merge(h, water)
    both = 100 + 200 * 3  # up to the wall
    level = 1.0 + (850.0 - both) / (300 + 10)  # above the wall the lake spans A, the wall and B
    assert res.water_level[a] == res.water_level[b] == pytest.approx(level, abs=1e-9)
    # even more: over the 3 m plateau and away
    water[a] = 5000.0
    res = fsm.fill_spill_merge(h, water)
    assert res.water_level[a] == pytest.approx(3.0)
    assert res.stored_m3 == pytest.approx(300 + 1000 + 20) and res.outflow_m3 == pytest.approx(5050 - 1320)


def test_filling_matches_reconstruction_and_pysheds_semantics():
    rng = np.random.default_rng(7)
    z = rng.normal(0, 1, (60, 70)).cumsum(axis=1)
    z[10:14, 20:25] = np.nan  # no data is an outlet
    a = fill_depressions(z, method="numba")
    b = fill_depressions(z, method="reconstruction")
    np.testing.assert_array_equal(np.isnan(a), np.isnan(z))
    np.testing.assert_allclose(a, b, equal_nan=True)
    assert (np.nan_to_num(a - z) >= 0).all() and (a > z).sum() > 10


def test_design_storms():
    f = formula("shenyang")
    depth = chicago(f, 30, 120, 0.4, 5)
    # the Chicago hyetograph holds the formula's depth: a T / (T + b)^n
    assert depth.sum() == pytest.approx(f.depth_mm(30, 120), rel=1e-12)
    # every window around the peak (a share r before it) holds the formula's depth for its length
    fine = chicago(f, 30, 120, 0.4, 1.0)
    assert fine[44:54].sum() == pytest.approx(f.depth_mm(30, 10), rel=1e-12)
    assert fine[36:66].sum() == pytest.approx(f.depth_mm(30, 30), rel=1e-12)
    assert fine.argmax() in (47, 48)
    hy = hyetograph(Storm(rainfall_mm=80, duration_min=60))
    assert hy.total_mm == pytest.approx(80) and hy.excess_mm(0.5, 24) == pytest.approx(40 - 24)
    assert design_return_period(9_000_000) == (50.0, "特大")
    assert design_return_period(600_000)[0] == 20.0


def test_building_inside_depression_is_not_storage(tmp_path):
    """A 100 x 100 m box 1 m deep with a 20 x 20 m building in it: it stores (10,000 - 400) m^3."""
    x0, y0, cell = 500000.0, 4630000.0, 2.0
    n = 60
    z = np.full((n, n), 11.0, dtype=np.float32)
    z[5:55, 5:55] = 10.0  # 100 m x 100 m at 10 m, rim 11 m
    store = open_store(tmp_path / "box.sqlite", create=True)
    store.init(City(name="box", crs_epsg=4550, urban_population=2_000_000))
    bx, by = x0 + 60.0, y0 + 60.0  # the building covers the cell centres 60..78 m (10 x 10 cells)
    ring = [[bx - 1, by - 1], [bx + 19, by - 1], [bx + 19, by + 19], [bx - 1, by + 19], [bx - 1, by - 1]]
    store.write(
        [Building(id="B1", footprint=[ring], ground_elevation=10.0, height=12.0)],
        terrain=Terrain(x0, y0, cell, z),
    )
    store.close()
    with LocalCity(tmp_path / "box.sqlite") as city:
        res = city.analyse("ponding", storm={"rainfall_mm": 2000}, runoff_coefficient=1.0, crs=CRS)
        assert len(res.ponds) == 1
        p = res.ponds[0]
        assert p.volume_m3 == pytest.approx((2500 - 100) * 4.0 * 1.0, rel=1e-9)
        assert p.max_depth_m == pytest.approx(1.0) and p.spills_to == "outside"
        assert p.area_m2 == pytest.approx((2500 - 100) * 4.0)
        assert [b.id for b in res.buildings_flooded] == ["B1"]
        assert res.buildings_flooded[0].depth_m == pytest.approx(1.0)
        # a region around the box (EPSG:4550 is northing, easting): cells outside it are outlets; same pond
        lo, hi = 5.0, 113.0
        ring = [[y0 + lo, x0 + lo], [y0 + lo, x0 + hi], [y0 + hi, x0 + hi], [y0 + hi, x0 + lo], [y0 + lo, x0 + lo]]
        sub = city.analyse(
            "ponding",
            region={"type": "Polygon", "coordinates": [ring]},
            crs=CRS,
            storm={"rainfall_mm": 2000},
            runoff_coefficient=1.0,
        )
        assert sub.grid.shape == (54, 54) and len(sub.ponds) == 1  # cell centres 6 .. 112 m
        assert sub.ponds[0].volume_m3 == pytest.approx(p.volume_m3, rel=1e-9)
        assert sub.total_runoff_m3 == pytest.approx(54 * 54 * 4.0 * 2.0)
        # without the building as an obstacle its cells store water too
        res2 = city.analyse(
            "ponding", storm={"rainfall_mm": 2000}, runoff_coefficient=1.0, buildings_as_obstacles=False
        )
        assert res2.ponds[0].volume_m3 == pytest.approx(2500 * 4.0)
        # a little rain (3,600 cells x 4 m^2 x 10 mm): what the box catches stands level in it
        res3 = city.analyse("ponding", storm={"rainfall_mm": 10}, runoff_coefficient=1.0, crs=CRS)
        assert res3.total_runoff_m3 == pytest.approx(n * n * 4.0 * 0.01)
        assert res3.stored_m3 + res3.outflow_m3 == pytest.approx(res3.total_runoff_m3)
        assert res3.ponds[0].max_depth_m == pytest.approx(res3.stored_m3 / (2400 * 4.0), abs=1e-4)
        # the grid is a GeoTIFF that reads back with the same depths
        import rasterio

        with rasterio.open(res.grid.path) as src:
            d = src.read(1)[::-1]
            assert src.crs.to_epsg() == 4550 and d.shape == (n, n)
            assert np.nanmax(d) == pytest.approx(1.0)
            assert src.transform.c == pytest.approx(x0 - cell / 2)


def test_bad_input_is_a_problem_naming_the_field(tmp_path, tiny_city_path):
    app = create_app(Settings(store=str(tiny_city_path)))
    far = {"type": "Polygon", "coordinates": [[[10, 10], [10.01, 10], [10.01, 10.01], [10, 10.01], [10, 10]]]}
    with TestClient(app) as client:
        assert_problem(client.post("/analysis/ponding", json={"storm": {"rainfall_mm": -5}}), 400, "storm.rainfall_mm")
        assert_problem(client.post("/analysis/ponding", json={"region": far}), 400, "region")
        assert_problem(client.post("/analysis/ponding", json={"drainage_mm_per_h": -1}), 400, "drainage_mm_per_h")
        assert_problem(client.get("/grids/0123456789abcdef0123.tif"), 404)
    bare = tmp_path / "bare.sqlite"
    s = open_store(bare, create=True)
    s.init(City(name="bare", crs_epsg=4550))
    s.close()
    with LocalCity(bare) as city, pytest.raises(InvalidParameter) as exc:
        city.analyse("ponding", storm={"rainfall_mm": 50})
    assert exc.value.parameter == "terrain"
    with TestClient(create_app(Settings(store=str(bare)))) as client:
        assert_problem(client.post("/analysis/ponding", json={"storm": {"rainfall_mm": 50}}), 400, "terrain")


def test_sample_city_ponds_under_the_30_year_storm(sample_city_path):
    """The sample city's underpass and low block pond under the 30-year storm (sample_city/flood.py)."""
    from sample_city.flood import LOW_BLOCK_ID, UNDERPASS_ROAD, underpass_road

    app = create_app(Settings(store=str(sample_city_path)))
    body = {"storm": {"return_period_a": 30}, "crs": CRS, "drainage_mm_per_h": 20, "roads": [underpass_road("yx")]}
    with TestClient(app) as client:
        r = client.post("/analysis/ponding", json=body)
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["return_period_a"] == 30
        assert res["stored_m3"] + res["outflow_m3"] == pytest.approx(res["total_runoff_m3"], rel=1e-6)
        flooded = [b["id"] for b in res["buildings_flooded"]]
        assert sum(f.startswith(LOW_BLOCK_ID + "-") for f in flooded) >= 5
        assert [r["id"] for r in res["roads_over_15cm"]] == [UNDERPASS_ROAD]
        assert res["roads_over_15cm"][0]["max_depth_m"] > 0.25
        # every pond's polygon holds its area; the ponds' volumes add up to what is stored
        assert sum(p["volume_m3"] for p in res["ponds"]) <= res["stored_m3"] + 1e-3
        tif = client.get(res["grid"]["url"])
        assert tif.status_code == 200 and tif.content[:4] in (b"II*\x00", b"MM\x00*")
        part = client.get(res["grid"]["url"], headers={"Range": "bytes=0-99"})  # what GDAL's /vsicurl/ asks
        assert part.status_code == 206 and part.content == tif.content[:100]
        import rasterio

        with rasterio.open(res["grid"]["path"]) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.profile["tiled"]
            assert np.nanmax(src.read(1)) == pytest.approx(max(p["max_depth_m"] for p in res["ponds"]), abs=1e-4)
        gj = client.post("/analysis/ponding?f=geojson", json=body)
        assert gj.json()["type"] == "FeatureCollection" and len(gj.json()["features"]) == len(res["ponds"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fill_spill_merge_conserves_water_on_random_terrain(seed):
    """Random rough terrain: water is conserved, every lake is level and below its pass, and with water
    enough for everything the surface is Priority-Flood's filled surface."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1, (40, 50)).cumsum(axis=0) * 0.3 + rng.normal(0, 0.5, (40, 50))
    h = fsm.hierarchy(z, 4.0)
    assert h.n_leaves > 20
    for per_cell in (0.01, 0.2, 100.0):
        water = np.bincount(h.labels.ravel(), weights=np.full(z.size, per_cell * 4.0), minlength=h.n_leaves + 1)
        res = fsm.fill_spill_merge(h, water)
        depth = fsm.depth_grid(z, h.labels, res.water_level).astype(np.float64)
        assert depth.sum() * 4.0 == pytest.approx(res.stored_m3, rel=1e-4)
        assert res.stored_m3 + res.outflow_m3 == pytest.approx(water.sum(), rel=1e-9)
        filled = fill_depressions(z)
        assert (z + depth <= filled + 1e-6).all()  # never above the spill level
    np.testing.assert_allclose(z + depth, filled, atol=1e-6)


def test_compiled_and_python_fill_spill_merge_agree():
    rng = np.random.default_rng(11)
    z = rng.normal(0, 1, (50, 60)).cumsum(axis=1) * 0.2 + rng.normal(0, 0.3, (50, 60))
    z[20:24, 30:33] = np.nan
    lab = fsm.basins(z)
    hp = fsm.hierarchy(z, 2.0, lab, compiled=False)
    hc = fsm.hierarchy(z, 2.0, lab)
    assert hc._arrays is not None  # numba is installed with the flood extra
    np.testing.assert_allclose(hp.cap, hc.cap, rtol=1e-9, atol=1e-9)
    assert hp.parent == hc.parent and hp.children == hc.children
    for per_cell in (0.02, 0.3, 50.0):
        water = np.bincount(lab.ravel(), weights=np.full(z.size, per_cell), minlength=hp.n_leaves + 1)
        a = fsm.fill_spill_merge(hp, water, compiled=False)
        b = fsm.fill_spill_merge(hc, water)
        np.testing.assert_allclose(a.water_level, b.water_level, rtol=1e-9, equal_nan=True)
        assert a.outflow_m3 == pytest.approx(b.outflow_m3, rel=1e-9, abs=1e-9)
