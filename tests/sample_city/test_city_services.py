"""The sample district's streets, facilities and communities, and its deliberate gaps, found by the analyses."""

from __future__ import annotations

import pytest

from cim.city import LocalCity
from cim.indicators import board
from cim.rules.city_services import facility_kinds
from sample_city.layout import EW_STREETS, NS_STREETS
from sample_city.streets import GAPS, SMALL_SHELTER, SMALL_SUPERMARKET


@pytest.fixture(scope="module")
def city(sample_city_path):
    with LocalCity(sample_city_path) as c:
        yield c


def test_layers(city):
    streets = list(city.store.iter_features("streets"))
    assert len(streets) == len(NS_STREETS) + len(EW_STREETS) + 1
    assert all(s.name for s in streets) and {s.street_class for s in streets} == {"primary", "secondary", "footway"}
    kinds = {f.kind for f in city.store.iter_features("facilities")}
    assert kinds == set(facility_kinds())  # every kind of the vocabulary
    comms = list(city.store.iter_features("communities"))
    assert len(comms) == 20 and sum(c.population for c in comms) > 50_000


def test_gaps_are_found(city):
    res = city.analyse("living-circles", {})
    far = [b.distances_m["kindergarten"] for b in res.buildings if b.community == "C54"]
    assert far and min(far) > 1000.0  # no kindergarten within 1,000 m of any home of C54
    checks = {c.id: c for c in res.communities}
    for cid, kinds in GAPS.items():
        assert set(checks[cid].missing) == kinds
    assert checks[SMALL_SUPERMARKET].too_small == ["supermarket"]
    assert checks["C11"].complete
    sh = city.analyse("shelters", {})
    rows = {r.id: r for r in sh.shelters}
    assert rows[f"SH-{SMALL_SHELTER}"].over_capacity > 1000 and rows[f"SH-{SMALL_SHELTER}"].capacity == 400.0
    assert sh.unserved_population > rows[f"SH-{SMALL_SHELTER}"].over_capacity - 1e-6
    green = city.analyse("green-buildings", since=2021)
    assert 0 < green.total.star_rated < green.total.buildings and green.total.meets_target is False


def test_indicator_board_on_the_sample(city):
    rows = {r.id: r for r in board(city)}
    assert rows["ultra-high-rise.flagged"].value > 0  # the threshold towers
    bands = [r for r in rows.values() if r.group == "underground-use"]
    assert len(bands) == 4 and bands[0].value > 0 and all(r.value is not None for r in bands)
    assert rows["complete-community.share"].value == pytest.approx(
        sum(c.complete for c in city.analyse("living-circles", {}).communities) / 20
    )
    assert rows["shelters.area-per-person"].value > 1.5
