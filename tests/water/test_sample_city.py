"""The sample city's water network: isolation valves with realistic gaps, inlets, the four district metered
areas; the water analyses over HTTP (registered routes, problem+json for bad input)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.city import LocalCity
from cim.water.network import load
from cim.water.segments import criticality, isolate, segments

from ..api.conftest import assert_problem


@pytest.fixture(scope="module")
def city(sample_city_path):
    c = LocalCity(sample_city_path)
    yield c
    c.close() if hasattr(c, "close") else None


@pytest.fixture(scope="module")
def net(city):
    return load(city.store)


def test_districts_are_the_four_quadrants(city):
    ds = {d.id: d for d in city.store.iter_features("water-districts")}
    assert sorted(ds) == ["DMA-NE", "DMA-NW", "DMA-SE", "DMA-SW"]
    polys = {k: shapely.Polygon(d.area[0]) for k, d in ds.items()}
    assert all(p.area == pytest.approx(1e6) for p in polys.values())
    union = shapely.union_all(list(polys.values()))
    assert union.area == pytest.approx(4e6) and union.equals(union.envelope)
    sw, ne = polys["DMA-SW"].bounds, polys["DMA-NE"].bounds
    assert sw[2] == ne[0] and sw[3] == ne[1]  # NE lies north-east of SW, touching at the centre


def test_valves_beside_their_nodes_with_gaps(net):
    assert len(net.valve_ids) > 100
    # every valve names an end of its pipe; the new gate valves lie 3 m from it
    ends = np.stack([net.a[net.valve_link], net.b[net.valve_link]], axis=1)
    assert np.all((ends == net.valve_node[:, None]).any(axis=1))
    gate = np.array([v.startswith("V-WAT-") for v in net.valve_ids])
    d = np.hypot(*(net.valve_xy[gate] - net.node_xy[net.valve_node[gate]]).T)
    assert np.allclose(d, 3.0, atol=0.01)
    # N-1 at tees and crosses: exactly one link of every junction of degree >= 3 without a valve beside it
    deg = np.bincount(np.concatenate([net.a, net.b]), minlength=net.n)
    valved = np.bincount(net.valve_node[gate], minlength=net.n)
    tee = (deg >= 3) & (net.node_kind == "junction") & ~net.source
    assert tee.sum() > 50 and np.all(valved[tee] == deg[tee] - 1)
    assert np.all(valved[net.source] == deg[net.source])  # every inlet can be shut
    seg = segments(net)
    pipes_per_segment = np.bincount(seg.link_seg, minlength=seg.count)
    assert (pipes_per_segment >= 2).sum() >= 10  # gaps: segments that hold more than one pipe
    assert net.source.sum() >= 4


def test_every_segment_is_supplied_and_criticality_matches_isolation(net):
    seg = segments(net)
    w = np.column_stack([np.ones(net.n), np.arange(net.n, dtype=float)])
    lost, supplied = criticality(seg, seg.node_weights(w))
    assert (~supplied).sum() <= 2  # the planted temporary main (violations.py) is not on the network
    rng = np.random.default_rng(0)
    for s in rng.choice(np.flatnonzero(supplied), 25, replace=False):
        link = int(np.flatnonzero(seg.link_seg == s)[0]) if (seg.link_seg == s).any() else None
        if link is None:
            continue
        cut = isolate(seg, link).nodes_cut_off
        assert lost[s].tolist() == w[cut].sum(axis=0).tolist()


def test_water_analyses_over_http(sample_city_path, net):
    app = create_app(Settings(store=str(sample_city_path)))
    with TestClient(app) as client:
        r = client.get("/analysis/water-criticality", params={"top": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        ranked = body["ranked"]
        assert len(ranked) == 3 and ranked[0]["population_cut_off"] >= ranked[2]["population_cut_off"] > 0
        pipe = ranked[0]["pipes"][0]
        iso = client.post("/analysis/water-isolation", json={"pipe": pipe})
        assert iso.status_code == 200, iso.text
        j = iso.json()
        assert j["valves_to_close"] == ranked[0]["valves"]
        assert j["population_affected"] == pytest.approx(ranked[0]["population_cut_off"], abs=0.01)
        assert len(j["buildings_affected"]) > 0
        assert_problem(client.post("/analysis/water-isolation", json={"pipe": "nope"}), 400, "pipe")
        fc = client.get("/collections/water-districts/items").json()
        assert sorted(f["id"] for f in fc["features"]) == ["DMA-NE", "DMA-NW", "DMA-SE", "DMA-SW"]
        assert {f["geometry"]["type"] for f in fc["features"]} == {"Polygon"}
        assert_problem(
            client.post("/analysis/water-isolation", json={"pipe": pipe, "failed_valves": ["V-none"]}),
            400,
            "failed_valves",
        )


def test_water_balance_routes_without_meter_data(tmp_path):
    """POST and GET are both served; districts with no meter data are listed apart, not ranked."""
    from cim.store import open_store
    from cim.water.district import WaterDistrict

    from ..common import CITY, X0, Y0

    path = tmp_path / "city.sqlite"
    store = open_store(path, create=True)
    store.init(CITY)
    sq = [[(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)]]
    store.write([WaterDistrict(id="DMA-A", area=sq), WaterDistrict(id="DMA-B", area=sq)])
    store.close()
    with TestClient(create_app(Settings(store=str(path)))) as client:
        r = client.get("/analysis/water-balance")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["districts"] == [] and sorted(body["without_meters"]) == ["DMA-A", "DMA-B"]
        assert_problem(client.post("/analysis/water-balance", json={"district": "DMA-A"}), 400, "district")
        assert client.post("/analysis/water-balance", json={"district": "DMA-XX"}).status_code == 404
        assert_problem(client.get("/analysis/water-balance", params={"utc_offset_h": 99}), 400)
