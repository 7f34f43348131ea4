"""A burst on the hand-made network (tests/water/nets.py) before and after isolation, WNTR's leak model."""

from __future__ import annotations

import pytest

from cim.analysis import water_burst
from cim.city import LocalCity
from cim.io import import_files
from cim.store import open_store

from ..common import CITY
from . import nets


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("burst")
    store = open_store(tmp / "city.sqlite", create=True)
    store.init(CITY)
    store.write(nets.network())
    import_files(store, [nets.valves_geojson(tmp / "v.geojson")], crs="EPSG:4550")
    yield LocalCity(store)
    store.close()


def test_burst_then_isolation(city):
    r = water_burst.ANALYSIS.execute(city, pipe="P6", leak_area_m2=0.05, duration_h=2)
    assert r.service_pressure_m == 14.0  # the city's default
    assert r.valves_to_close == ["V5", "V6"] and r.segment_pipes == ["P6", "P8"]
    normal, burst, isolated = r.phases
    # normal operation: 60 m head over 40 m ground, small losses: every junction above 14 m
    assert normal.nodes_below_service == []
    assert normal.demand_delivered_m3 == pytest.approx(normal.demand_required_m3, abs=1e-3)
    assert normal.demand_required_m3 == pytest.approx(9.0 * 2, abs=1e-3)  # 9 m³/h for 2 h
    # the burst: a 0.05 m² opening at ~20 m drains 0.75 x 0.05 x sqrt(2 g p) ~ 0.74 m³/s at most
    assert 0 < burst.leak_m3_per_h < 0.75 * 0.05 * (2 * 9.81 * 20) ** 0.5 * 3600
    assert {"J5", "J6", "J7"} <= set(burst.newly_below_service)
    # isolated: P6 and P8 closed; J5, J7 (the segment) and J6 (beyond V6) get nothing: 9 m³/h less
    assert isolated.newly_below_service == ["J5", "J6", "J7"]
    assert isolated.buildings_affected == ["B6", "B7"]
    assert isolated.population_affected == pytest.approx(75.0)
    assert isolated.demand_delivered_m3 == pytest.approx(isolated.demand_required_m3 - 9.0 * 2, abs=1e-3)


def test_burst_of_an_unknown_pipe(city):
    from cim.errors import InvalidParameter

    with pytest.raises(InvalidParameter) as e:
        water_burst.ANALYSIS.execute(city, pipe="nope")
    assert "nope" in str(e.value)
