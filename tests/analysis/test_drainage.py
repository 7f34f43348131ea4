"""Drainage: the stored SWMM model (Bellinge, ../shared/data/pipes) runs like the original file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.analysis.drainage import simulate
from cim.city import LocalCity
from cim.errors import InvalidParameter
from cim.hydro.storm import Storm, hyetograph
from cim.io import import_files
from cim.model import City
from cim.store import open_store

from ..api.conftest import assert_problem
from ..conftest import shared_data

pytest.importorskip("pyswmm")
pytestmark = pytest.mark.shared_data

STORM = {"return_period_a": 30, "duration_min": 120, "peak_ratio": 0.4, "step_min": 5}


def original_run(tmp_path) -> dict:
    """pyswmm on the unmodified original, its gage reading the storm from the file it names (storm.dat:
    station 1, intensities in mm/h every 5 minutes from 01/01/2000 00:00)."""
    src = shared_data("pipes", "bellinge_small.inp")
    d = tmp_path / "original"
    d.mkdir()
    shutil.copy(src, d / "bellinge_small.inp")
    hy = hyetograph(Storm(**STORM))
    rows = [f"1 2000 1 1 {k * 5 // 60} {k * 5 % 60} {v:.6f}" for k, v in enumerate(hy.intensity_mm_per_h)]
    (d / "storm.dat").write_text("\n".join(rows) + "\n")
    return simulate((d / "bellinge_small.inp").read_text(), workdir=d)


@pytest.fixture
def bellinge_store(empty_store, request):
    empty_store.init(City(name="Bellinge", crs_epsg=32632), overwrite=True)
    import_files(empty_store, [shared_data("pipes", "bellinge_small.inp")], crs="EPSG:32632")
    return empty_store


def test_stored_model_runs_like_the_original(bellinge_store, tmp_path):
    assert bellinge_store.blob_names("swmm/") == ["swmm/bellinge_small"]
    ref = original_run(tmp_path)
    with LocalCity(bellinge_store) as city:
        res = city.analyse("drainage", storm=STORM)
    assert res.model == "bellinge_small" and res.flow_units == "LPS"
    got = {n.id: n for n in res.nodes}
    flooding = {k: v["flooding_volume"] for k, v in ref["nodes"].items()}
    assert sum(flooding.values()) > 100  # the 30-year storm floods this network
    for nid, vol in flooding.items():
        assert got[nid].flooding_m3 == pytest.approx(vol, rel=1e-3, abs=1e-6), nid
        assert got[nid].hours_flooded == pytest.approx(ref["nodes"][nid]["flooding_duration"], rel=1e-3, abs=1e-6)
    ((oid, ovol),) = ref["outfalls"].items()
    assert {o.id: o.volume_m3 for o in res.outfalls}[oid] == pytest.approx(ovol, rel=1e-3)
    assert set(res.flooded_nodes) == {k for k, v in flooding.items() if v > 0}
    assert all(0 <= c.max_depth_ratio <= 1.0 + 1e-9 for c in res.conduits)
    assert max(c.max_depth_ratio for c in res.conduits) == pytest.approx(1.0)  # some conduit runs full
    assert res.surcharged_conduits  # a flooding network runs full somewhere


def test_couple_pours_manhole_flooding_onto_the_terrain(tmp_path):
    """Bellinge on a plateau with a 2 m deep pit (20 x 20 m) under every node: all the flooding ponds."""
    path = tmp_path / "b.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="Bellinge", crs_epsg=32632))
    import_files(s, [shared_data("pipes", "bellinge_small.inp")], crs="EPSG:32632")
    nodes = [f for f in s.iter_features("pipe-nodes")]
    xy = np.array([n.position[:2] for n in nodes])
    cell = 2.0
    x0, y0 = xy.min(axis=0) - 50
    nx, ny = (np.ceil((xy.max(axis=0) - xy.min(axis=0) + 100) / cell)).astype(int)
    from cim.terrain import Terrain

    z = np.full((ny, nx), 20.0, dtype=np.float32)
    for i, j in np.rint((xy - [x0, y0]) / cell).astype(int):
        z[j - 5 : j + 5, i - 5 : i + 5] = 18.0
    s.write([], terrain=Terrain(float(x0), float(y0), cell, z))
    s.close()
    with LocalCity(path) as city:
        res = city.analyse(
            "drainage",
            storm=STORM,
            couple=True,
            ponding={"runoff_coefficient": 0.0, "buildings_as_obstacles": False},
        )
    assert res.flooding_m3 > 100
    assert res.ponding.total_runoff_m3 == pytest.approx(res.flooding_m3, rel=1e-6)
    assert res.ponding.stored_m3 == pytest.approx(res.flooding_m3, rel=1e-6)
    assert res.ponding.outflow_m3 == pytest.approx(0.0, abs=1e-6)
    assert max(p.max_depth_m for p in res.ponding.ponds) <= 2.0


def test_no_model_and_unknown_model(tiny_city_path):
    with LocalCity(tiny_city_path) as city, pytest.raises(InvalidParameter) as exc:
        city.analyse("drainage", storm=STORM)
    assert exc.value.parameter == "model"
    with TestClient(create_app(Settings(store=str(tiny_city_path)))) as client:
        assert_problem(client.post("/analysis/drainage", json={"storm": STORM}), 400, "model")
        assert_problem(client.post("/analysis/drainage", json={"storm": {"rainfall_mm": -1}}), 400, "storm.rainfall_mm")


def test_sample_city_cbd_branch_surcharges(sample_city_path):
    """The sample city's SWMM model (sample_city/flood.py): under the pipes' 3-year design storm only the CBD
    branch (the collector under 重工街, local u = 900 m, and the laterals joining it from the east) floods;
    coupled, that flooding ponds on the terrain."""
    from sample_city.flood import CBD_COLLECTOR_U, MODEL
    from sample_city.layout import origin

    x0 = origin()[0]
    with LocalCity(sample_city_path) as city:
        res = city.analyse("drainage", storm={"return_period_a": 3}, couple=True, ponding={"drainage_mm_per_h": 20})
        assert res.model == MODEL and res.return_period_a == 3
        assert len(res.flooded_nodes) >= 5
        for nid in res.flooded_nodes:
            u = city.get("pipe-nodes", nid).position[0] - x0
            assert CBD_COLLECTOR_U - 10 <= u <= CBD_COLLECTOR_U + 200, (nid, u)
        assert res.ponding is not None
        assert res.ponding.total_runoff_m3 > res.flooding_m3 > 0


def test_runs_at_once_in_threads_agree_with_one_run(tmp_path):
    """SWMM keeps its state in process-wide globals: two runs at once (a server's threads) must not share it.
    Each run has a process of its own, so both answer what one run alone answers."""
    from concurrent.futures import ThreadPoolExecutor

    from cim.analysis.drainage import with_storm

    text = shared_data("pipes", "bellinge_small.inp").read_text()
    inp = with_storm(text, hyetograph(Storm(**STORM)))
    alone = simulate(inp)
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(simulate, [inp, inp]))
    flooding = {k: v["flooding_volume"] for k, v in alone["nodes"].items()}
    assert sum(flooding.values()) > 100
    for got in both:
        assert {k: v["flooding_volume"] for k, v in got["nodes"].items()} == flooding
        assert got["outfalls"] == alone["outfalls"]
