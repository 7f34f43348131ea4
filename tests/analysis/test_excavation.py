"""Excavation conflicts: analytic clearances on a flat tiny city (every backend), and a street of the sample city."""

from __future__ import annotations

import math

import pytest
import shapely

from cim.analysis.excavation import conflicts, excavation_conflicts, severity
from cim.analysis.solids import Solids, ground_sampler
from cim.errors import InvalidParameter
from cim.model import Utility
from cim.store import open_store
from sample_city.layout import ew_street, origin
from sample_city.utilities import COVER, MIN_COVER
from tests.common import X0, Y0

from .underground_cases import GROUND, basement, flat_terrain, manhole, pipe, tunnel

PIT = shapely.box(X0 + 100, Y0 + 100, X0 + 110, Y0 + 110)  # 10 m x 10 m
GROUND_FN = ground_sampler(flat_terrain())


def cases():
    return [
        # crosses the pit 2 m down: hit
        pipe("gas-hit", [(90, 105, GROUND - 2), (120, 105, GROUND - 2)], 0.3, "gas"),
        # passes 1.8 m under the pit's bottom (3 m): axis 5 m down, radius 0.2
        pipe("under", [(90, 103, GROUND - 5), (120, 103, GROUND - 5)], 0.4, "water"),
        # parallel beside it, 1.5 m from the wall in plan, above the bottom
        pipe("beside", [(90, 111.5, GROUND - 2), (120, 111.5, GROUND - 2)], 0.4, "telecom"),
        # beside and below: 1.2 m out, axis 4.6 m down (1.6 m under the bottom)
        pipe("corner", [(90, 98.8, GROUND - 4.6), (120, 98.8, GROUND - 4.6)], 0.2, "sewer"),
        # a box duct 0.5 m from the wall (its edge), over the bottom
        pipe(
            "duct",
            [(110.9, 90, GROUND - 1.5), (110.9, 120, GROUND - 1.5)],
            None,
            "power",
            width=0.8,
            section_height=0.4,
        ),
        pipe("far", [(200, 200, GROUND - 2), (220, 200, GROUND - 2)], 0.3, "gas"),
        basement("bsm", 112, 100, 10, 10, GROUND, GROUND - 8),  # 2 m from the pit's east wall
        manhole("mh", 104, 96, 4.0, 1.0),  # 4 m south of the centre: 3.5 m to the disc's edge; wall at 100 -> 3.5 m
        tunnel("metro", [(80, 80, GROUND - 9.1), (130, 80, GROUND - 9.1)], 6.0),  # crown 6.1 m down, 20 m south
    ]


def hits_of(depth=3.0, buffer=2.0, **kw):
    return {
        h.id: h
        for h in conflicts(Solids.from_features(cases()), PIT, depth=depth, buffer=buffer, ground=GROUND_FN, **kw)
    }


def test_analytic_clearances():
    h = hits_of()
    assert h["gas-hit"].distance == 0 and h["gas-hit"].severity == "critical"
    assert h["gas-hit"].depth == pytest.approx(2.0) and h["gas-hit"].elevation == pytest.approx(GROUND - 2)
    assert h["under"].distance == pytest.approx(1.8, abs=1e-3) and h["under"].severity == "medium"
    assert h["under"].depth == pytest.approx(5.0)
    assert h["beside"].distance == pytest.approx(1.3, abs=1e-3) and h["beside"].severity == "low"
    assert h["corner"].distance == pytest.approx(math.hypot(1.2, 1.6) - 0.1, abs=3e-3)
    assert h["duct"].distance == pytest.approx(0.5, abs=1e-3) and h["duct"].severity == "high"
    assert h["bsm"].distance == pytest.approx(2.0, abs=1e-9) and h["bsm"].severity == "medium"
    assert "far" not in h and "metro" not in h and "mh" not in h
    ranks = [("critical", "high", "medium", "low").index(x.severity) for x in h.values()]
    assert ranks == sorted(ranks)


def test_buffer_and_bottom_z():
    h = hits_of(buffer=1.0)
    assert set(h) == {"gas-hit", "duct"}
    h = hits_of(depth=None, bottom_z=GROUND - 6.0, buffer=0.0)  # a deeper pit also cuts the water main
    assert set(h) == {"gas-hit", "under"}
    h = hits_of(depth=None, bottom_z=GROUND - 6.0, buffer=3.6)
    assert h["mh"].distance == pytest.approx(3.5) and h["corner"].distance == pytest.approx(1.1, abs=1e-3)
    h = hits_of(depth=None, bottom_z=GROUND - 12.0, buffer=17.5)  # deep enough to reach the metro's side
    assert h["metro"].distance == pytest.approx(17.0, abs=1e-3) and h["metro"].severity == "high"
    assert h["metro"].depth == pytest.approx(9.1)  # depth of the axis at the closest point


def test_severity_table():
    assert [severity(c, True) for c in ("gas", "water", "telecom", "utility_tunnel")] == [
        "critical",
        "high",
        "medium",
        "critical",
    ]
    assert [severity(c, False) for c in ("power", "basement", "telecom")] == ["high", "medium", "low"]


def test_bad_input():
    sol = Solids.from_features(cases())
    with pytest.raises(InvalidParameter):
        conflicts(sol, PIT, depth=3.0, bottom_z=40.0, ground=GROUND_FN)
    with pytest.raises(InvalidParameter) as e:
        conflicts(sol, PIT, depth=3.0, ground=None)  # no terrain: a depth cannot be placed
    assert e.value.parameter == "depth"


def test_excavation_from_the_store(empty_store):
    empty_store.write(cases(), terrain=flat_terrain())
    res = excavation_conflicts(empty_store, PIT, depth=3.0, buffer=2.0)
    got = {h.id: h.distance for h in res.hits}
    assert got == pytest.approx({k: v.distance for k, v in hits_of().items()})
    assert res.counts["critical"] == 1 and sum(res.counts.values()) == len(res.hits)
    for bad in ({"depth": -1.0}, {"depth": None}, {"depth": 3.0, "buffer": -1.0}):
        with pytest.raises(InvalidParameter):
            excavation_conflicts(empty_store, PIT, **{"depth": 3.0, **bad})


def test_a_trench_across_a_street_of_the_sample_city(sample_city_path):
    """A 5 m deep trench across 北一路 (a secondary road at v = 1000, mid-block) finds its eight utilities where
    sample_city/utilities.py lays them: offsets from the centre line, covers to the top."""
    x0, y0 = origin()
    street = ew_street(1000.0)
    pit = shapely.box(x0 + 780, y0 + street.at - street.half_width, x0 + 820, y0 + street.at + street.half_width)
    store = open_store(sample_city_path)
    try:
        res = excavation_conflicts(store, pit, depth=5.0, buffer=0.5)
        pipes = {p.id: p for p in store.iter_features("pipes", region=None) if p.id in {h.id for h in res.hits}}
    finally:
        store.close()
    by_util: dict[str, list] = {}
    for h in res.hits:
        if h.collection == "pipes":
            by_util.setdefault(h.utility, []).append(h)
    assert set(by_util) == {u.value for u in Utility}
    for util, hits in by_util.items():
        for h in hits:
            p = pipes[h.id]
            assert h.distance == 0
            assert h.location[1] == pytest.approx(y0 + street.at + street.offset(Utility(util)), abs=1e-3)
            if Utility(util) in COVER:  # pressure pipes and cables: constant cover to the top
                assert h.depth == pytest.approx(COVER[Utility(util)] + p.outer_height / 2, abs=0.01)
            else:  # gravity pipes: at least their minimum crown depth
                assert h.depth >= MIN_COVER[Utility(util)] + p.outer_height / 2 - 0.01
    sev = {h.utility: h.severity for h in res.hits if h.collection == "pipes"}
    assert {u for u, s in sev.items() if s == "critical"} == {"gas", "power", "heat"}
    assert sev["telecom"] == "medium" and sev["water"] == "high"
    assert not [h for h in res.hits if h.collection == "buildings"]  # buildings stand back from the red line
