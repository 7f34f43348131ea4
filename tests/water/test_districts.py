"""The water-districts collection on every backend: round trip, region query, GeoJSON over HTTP."""

from __future__ import annotations

import pytest
import shapely

from cim.store import Region
from cim.water.district import WaterDistrict

from ..common import X0, Y0


def square(x, y, s):
    return [[(x, y), (x + s, y), (x + s, y + s), (x, y + s)]]


def test_round_trip_and_region_query(empty_store):
    a = WaterDistrict(
        id="DMA-A", name="A", area=square(X0, Y0, 1000), inlets=[3, "ds-7"], legitimate_night_use_m3_per_h=2.5
    )
    b = WaterDistrict(id="DMA-B", area=square(X0 + 1000, Y0, 1000))
    assert empty_store.write([a, b]) == {"water-districts": 2}
    assert empty_store.get("water-districts", "DMA-A") == a
    hit = empty_store.query("water-districts", region=Region(shapely.box(X0 + 1500, Y0 + 10, X0 + 1600, Y0 + 20)))
    assert [d.id for d in hit.features] == ["DMA-B"]
    assert empty_store.counts()["water-districts"] == 2


def test_a_ring_needs_three_vertices():
    with pytest.raises(ValueError):
        WaterDistrict(id="x", area=[[(0, 0), (1, 1)]])
