"""Ultra-high-rise screening: the rule data and its readings, every threshold at, just below and just above it,
the sample city's threshold towers, heights from three sources (Delft LOD1 against AHN3 LiDAR), fire stations,
siting, profiles, overrides, the report and CSV, on every store backend."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from cim.analysis.highrise import (
    Screener,
    attribute_height,
    geometry_height,
    lidar_heights,
    screen_buildings,
    screen_proposals,
    summary,
)
from cim.analysis.highrise_report import CSV_COLUMNS, markdown_report, to_csv
from cim.errors import InvalidParameter
from cim.model import Building, BuildingUse, City, FireStation, Surface, SurfaceType
from cim.rules import (
    RULE_SETS,
    CityProfile,
    Verdict,
    Zone,
    load_profile,
    load_rule_sets,
    resolve_profile,
    shipped_profiles,
)

from .. import common
from ..conftest import shared_data

X0, Y0 = common.ORIGIN
GE3M = City(name="big", urban_population=9_000_000)
LT3M = City(name="small", urban_population=1_540_000)
CITIES = {"ge_3m": GE3M, "lt_3m": LT3M}
RULES = {r.id: r for s in load_rule_sets() for r in s.rules}


def square(x: float = X0, y: float = Y0, w: float = 30.0) -> list[list[tuple[float, float]]]:
    return [[(x, y), (x + w, y), (x + w, y + w), (x, y + w)]]


def proposal(height: float, use: str, *, new: bool = True, pid: str = "p", **kw) -> dict:
    return {"id": pid, "footprint": square(), "height": height, "use": use, "new": new, **kw}


def screen_one(height: float, use: str, population: str = "ge_3m", new: bool = True, **kw):
    return screen_proposals(CITIES[population], [proposal(height, use, new=new, **kw)])[0]


def _p(d: dict):
    from cim.analysis.highrise import Proposal

    return Proposal.model_validate(d)


def rule_ids(result) -> set[str]:
    return {r.rule for r in result.reasons}


# -- the rule data ---------------------------------------------------------------------------------------------


def test_rule_sets_load_as_package_data():
    sets = load_rule_sets()
    assert [s.id for s in sets] == ["gb50352", "gb50016", "jianke-2021-76", "notice-2020"]
    assert len(RULE_SETS) == 4
    for s in sets:
        for r in s.rules:
            assert r.id and r.clause and r.document and r.effective and r.wording
            assert r.confidence in ("C", "S", "M")
            if r.threshold is not None and r.kind not in ("ladder", "siting"):
                assert r.unit and r.inclusive is not None and r.reading, r.id


# every threshold and the reading chosen for it (the wording: 大于/超过 exclude the number, 以上/以下 include it)
READINGS = {
    "gb50352.high-rise.residential": (27.0, False),  # 大于27.0m
    "gb50352.high-rise.public": (24.0, False),  # 大于24.0m
    "gb50352.ultra-high-rise": (100.0, False),  # 大于100.0m
    "gb50352.rooftop-plant": (0.25, True),  # ≤ 1/4 of the roof area
    "gb50016.class-II.residential": (27.0, False),
    "gb50016.class-I.residential": (54.0, False),
    "gb50016.class-II.public": (24.0, False),
    "gb50016.class-I.public": (50.0, False),
    "gb50016.refuge-floors": (100.0, False),
    "76.population-split": (3_000_000, True),  # 300万以上 includes 3,000,000 (国发〔2014〕51号 convention)
    "76.strict.lt3m": (150.0, True),  # 150米以上
    "76.ban.lt3m": (250.0, True),
    "76.strict.ge3m": (250.0, True),
    "76.ban.ge3m": (500.0, True),
    "76.no-ultra-high-rise-residential": (100.0, False),  # 超高层 = GB 50352's > 100 m
    "76.consult.residential": (80.0, True),  # 80米以上住宅
    "76.consult.public": (100.0, True),  # 100米以上公共建筑
    "76.accountability.lt3m": (150.0, True),
    "76.accountability.ge3m": (250.0, True),
    "76.existing.rescue-capacity": (100.0, False),
    "2020.ban-500": (500.0, True),
    "2020.strict-250": (250.0, True),
    "2020.match-100": (100.0, True),
}


@pytest.mark.parametrize("rid", sorted(READINGS))
def test_each_reading_is_recorded(rid):
    r = RULES[rid]
    assert (r.threshold, r.inclusive) == READINGS[rid]
    if r.wording_zh and "以上" in r.wording_zh:
        assert r.inclusive, rid
    if r.wording_zh and r.wording_zh.startswith("建筑高度大于"):
        assert not r.inclusive, rid


def test_s_and_m_marks_follow_rules_md():
    assert {r.confidence for r in RULES.values() if r.rule_set in ("gb50352", "gb50016")} <= {"S", "M"}
    assert RULES["gb50016.refuge-floors"].confidence == "M"
    assert RULES["76.siting.ventilation-corridor"].confidence == "M"
    assert RULES["76.strict.ge3m"].confidence == "C" and RULES["2020.ban-500"].confidence == "C"


# -- every threshold at, just below and just above it ---------------------------------------------------------

USE_OF_CATEGORY = {
    "residential": ["residential", "mixed"],
    "public": ["public", "commercial"],
    "any": ["residential", "public"],
}
THRESHOLD_CASES = [
    (rid, use, pop, new)
    for rid, r in RULES.items()
    if r.kind in ("verdict", "note") and r.applies_to != "existing"
    for use in USE_OF_CATEGORY[r.category]
    for pop in (["ge_3m", "lt_3m"] if r.population == "any" else [r.population])
    for new in (True, False)
]


@pytest.mark.parametrize(("rid", "use", "population", "new"), THRESHOLD_CASES)
def test_threshold_at_below_above(rid, use, population, new):
    r = RULES[rid]
    t = r.threshold
    assert rid not in rule_ids(screen_one(t - 0.01, use, population, new))
    assert (rid in rule_ids(screen_one(t, use, population, new))) is r.inclusive
    above = screen_one(t + 0.01, use, population, new)
    assert rid in rule_ids(above)
    assert above.verdict.rank >= _for(r.verdict, new, r).rank
    # issue 15: an existing building never gets restricted/not-allowed from a rule on new construction (新建)
    reason = next(x for x in above.reasons if x.rule == rid)
    assert reason.verdict == _for(r.verdict, new, r)


def _for(verdict: Verdict, new: bool, rule=None) -> Verdict:
    """The verdict an existing building gets where a new one gets ``verdict`` (rules on new construction)."""
    if new or verdict not in (Verdict.restricted, Verdict.not_allowed):
        return verdict
    if rule is not None and not rule.new_construction:
        return verdict
    return Verdict.exceeds_new_build_limit


# the verdicts themselves, pinned by hand: (population, use, height) -> verdict of a new building; an existing
# one gets exceeds-new-build-limit where a new one gets restricted or not-allowed (every such rule here is on
# new construction, 新建: issue 15)
V = Verdict
VERDICTS = [
    ("ge_3m", "public", 99.99, V.ok),
    ("ge_3m", "public", 100.0, V.consult_fire_rescue),
    ("ge_3m", "public", 100.01, V.consult_fire_rescue),
    ("ge_3m", "public", 149.99, V.consult_fire_rescue),
    ("ge_3m", "public", 150.0, V.consult_fire_rescue),
    ("ge_3m", "public", 249.99, V.consult_fire_rescue),
    ("ge_3m", "public", 250.0, V.restricted),
    ("ge_3m", "public", 250.01, V.restricted),
    ("ge_3m", "public", 499.99, V.restricted),
    ("ge_3m", "public", 500.0, V.not_allowed),
    ("ge_3m", "public", 500.01, V.not_allowed),
    ("lt_3m", "public", 99.99, V.ok),
    ("lt_3m", "public", 100.0, V.consult_fire_rescue),
    ("lt_3m", "public", 149.99, V.consult_fire_rescue),
    ("lt_3m", "public", 150.0, V.restricted),
    ("lt_3m", "public", 150.01, V.restricted),
    ("lt_3m", "public", 249.99, V.restricted),
    ("lt_3m", "public", 250.0, V.not_allowed),
    ("lt_3m", "public", 250.01, V.not_allowed),
    ("ge_3m", "commercial", 250.0, V.restricted),
    ("lt_3m", "commercial", 250.0, V.not_allowed),
    ("ge_3m", "residential", 79.99, V.ok),
    ("ge_3m", "residential", 80.0, V.consult_fire_rescue),
    ("ge_3m", "residential", 80.01, V.consult_fire_rescue),
    ("ge_3m", "residential", 100.0, V.consult_fire_rescue),
    ("ge_3m", "residential", 100.01, V.not_allowed),
    ("lt_3m", "residential", 79.99, V.ok),
    ("lt_3m", "residential", 80.0, V.consult_fire_rescue),
    ("lt_3m", "residential", 100.0, V.consult_fire_rescue),
    ("lt_3m", "residential", 100.01, V.not_allowed),
    ("ge_3m", "mixed", 79.99, V.ok),
    ("ge_3m", "mixed", 80.0, V.consult_fire_rescue),
    ("ge_3m", "mixed", 100.01, V.not_allowed),  # mixed counts as residential: no new ultra-high-rise housing
    ("ge_3m", "industrial", 99.99, V.ok),
    ("ge_3m", "industrial", 100.0, V.consult_fire_rescue),
    ("ge_3m", "industrial", 250.0, V.restricted),
]


@pytest.mark.parametrize("new", [True, False], ids=["new", "existing"])
@pytest.mark.parametrize(("population", "use", "height", "verdict"), VERDICTS)
def test_verdicts(population, use, height, verdict, new):
    r = screen_one(height, use, population, new)
    assert r.verdict == _for(verdict, new), [x.rule for x in r.reasons]
    assert r.new is new
    # existing ultra-high-rise buildings: match rescue capacity (existing only, > 100 m)
    assert ("76.existing.rescue-capacity" in rule_ids(r)) is (not new and height > 100)


CLASSES = [  # use, height, floors -> GB 50352 height class, GB 50016 fire class
    ("residential", 26.99, None, "low-multi-storey", "single-multi-storey"),
    ("residential", 27.0, None, "low-multi-storey", "single-multi-storey"),
    ("residential", 27.01, None, "high-rise", "class-II"),
    ("residential", 54.0, None, "high-rise", "class-II"),
    ("residential", 54.01, None, "high-rise", "class-I"),
    ("residential", 100.0, None, "high-rise", "class-I"),
    ("residential", 100.01, None, "ultra-high-rise", "class-I"),
    ("public", 23.99, None, "low-multi-storey", "single-multi-storey"),
    ("public", 24.0, None, "low-multi-storey", "single-multi-storey"),
    ("public", 24.01, None, "high-rise", "class-II"),
    ("public", 50.0, None, "high-rise", "class-II"),
    ("public", 50.01, None, "high-rise", "class-I"),
    ("public", 99.99, None, "high-rise", "class-I"),
    ("public", 100.0, None, "high-rise", "class-I"),
    ("public", 100.01, None, "ultra-high-rise", "class-I"),
    ("commercial", 24.01, None, "high-rise", "class-II"),
    ("public", 30.0, 1, "low-multi-storey", "single-multi-storey"),  # single-storey: any height up to 100 m
    ("public", 100.01, 1, "ultra-high-rise", "single-multi-storey"),
    ("mixed", 25.0, None, "high-rise", "class-II"),  # the public part is high-rise above 24 m
    ("mixed", 52.0, None, "high-rise", "class-I"),  # ... and class I above 50 m
    ("industrial", 30.0, None, "high-rise", None),  # GB 50016 classes factories by hazard, not height
]


@pytest.mark.parametrize(("use", "height", "floors", "height_class", "fire_class"), CLASSES)
def test_classes(use, height, floors, height_class, fire_class):
    kw = {"floors": floors} if floors else {}
    r = screen_one(height, use, **kw)
    assert (r.height_class, r.fire_class) == (height_class, fire_class)


def test_public_use_class_one():
    assert screen_one(30.0, "public", attributes={"kind": "hospital"}).fire_class == "class-I"
    assert screen_one(24.0, "public", attributes={"kind": "hospital"}).fire_class == "single-multi-storey"


@pytest.mark.parametrize(
    ("population", "expected"), [(2_999_999, "lt_3m"), (3_000_000, "ge_3m"), (3_000_001, "ge_3m"), (0, "lt_3m")]
)
def test_population_split(population, expected):
    s = Screener(City(urban_population=population))
    assert s.population_class == expected and s.population_known
    verdict = screen_proposals(City(urban_population=population), [proposal(250.0, "public")])[0].verdict
    assert verdict == (V.restricted if expected == "ge_3m" else V.not_allowed)


def test_unknown_population_takes_the_stricter_class():
    s = Screener(City(name="nowhere"))
    assert not s.population_known and s.population_class == "lt_3m"
    r = s.screen_proposals([_p(proposal(150.0, "public"))])[0]
    assert r.verdict == V.restricted
    assert any("urban population unknown" in x.note for x in r.reasons)


# -- profiles and overrides --------------------------------------------------------------------------------------


def test_shipped_profiles():
    p = shipped_profiles()
    assert set(p) == {"shenyang", "dalian", "anshan"}
    assert p["shenyang"].population_class == "ge_3m" and p["dalian"].population_class == "ge_3m"
    assert p["anshan"].population_class == "lt_3m" and p["anshan"].urban_population == 1_540_000
    assert load_profile("鞍山") == p["anshan"] and load_profile("Dalian") == p["dalian"]
    # a city named like a shipped profile, with no population of its own, takes the profile's class
    assert Screener(City(name="鞍山")).population_class == "lt_3m"
    assert Screener(City(name="大连")).population_class == "ge_3m"
    # an explicit profile wins over the city model
    assert Screener(GE3M, "anshan").population_class == "lt_3m"
    assert resolve_profile(GE3M).urban_population == 9_000_000


def test_profile_file(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('name = "X"\nurban_population = 3000000\n[overrides]\n"76.strict.ge3m" = 200.0\n')
    s = Screener(LT3M, str(f))
    assert s.population_class == "ge_3m" and s.rules["76.strict.ge3m"].threshold == 200.0
    assert s.screen_proposals([_p(proposal(200.0, "public"))])[0].verdict == V.restricted
    with pytest.raises(InvalidParameter) as err:
        load_profile(str(tmp_path / "missing.toml"))
    assert err.value.parameter == "profile"


def test_overrides():
    r = screen_proposals(GE3M, [proposal(200.0, "public")], overrides={"76.strict.ge3m": 200.0})[0]
    assert r.verdict == V.restricted
    t = next(x for x in r.reasons if x.rule == "76.strict.ge3m")
    assert t.threshold == 200.0 and t.inclusive
    with pytest.raises(InvalidParameter, match="No rule"):
        load_rule_sets(overrides={"76.nope": 1.0})
    with pytest.raises(InvalidParameter):
        load_rule_sets(overrides={"76.ban.ge3m": float("nan")})


# -- fire stations and siting --------------------------------------------------------------------------------------


def test_ladder_reach():
    st = FireStation(id="FS", name="站", position=(X0, Y0), ladder_reach=54.0, response_radius=1000.0)
    city = GE3M.model_copy(update={"fire_stations": [st]})
    at, over = screen_proposals(city, [proposal(54.0, "residential", pid="a"), proposal(60.0, "residential", pid="b")])
    assert "76.rescue.ladder-reach" not in rule_ids(at) and at.verdict == V.ok
    assert over.verdict == V.consult_fire_rescue  # a warning: raises the verdict to consult-fire-rescue at most
    reason = next(x for x in over.reasons if x.rule == "76.rescue.ladder-reach")
    assert "exceeds aerial ladder reach" in reason.note and reason.threshold == 54.0
    far = {"id": "far", "footprint": square(X0 + 5000, Y0), "height": 40.0, "use": "residential"}
    low = {"id": "low", "footprint": square(X0 + 5000, Y0), "height": 20.0, "use": "residential"}
    r_far, r_low = screen_proposals(city, [far, low])
    assert r_far.verdict == V.consult_fire_rescue and "no fire station" in r_far.reasons[-1].note
    assert r_low.verdict == V.ok  # not high-rise: no ladder check
    # beyond every ladder, a 501 m tower is still not-allowed: the warning never lowers or tops a verdict
    assert screen_proposals(city, [proposal(501.0, "public")])[0].verdict == V.not_allowed


def test_siting_zones():
    zone = Zone(id="VC-1", name="浑河通风廊道", rings=square(X0 - 10, Y0 - 10, 100.0))
    hist = Zone(id="H-1", name="历史街区", rings=square(X0 - 10, Y0 - 10, 100.0))
    prof = CityProfile(urban_population=9_000_000, ventilation_corridors=[zone], historic_districts=[hist])
    props = [
        proposal(150.0, "public", pid="t"),
        proposal(30.0, "residential", pid="h"),
        proposal(27.0, "residential", pid="l"),
    ]
    tall, high, low = screen_proposals(GE3M, props, profile=prof)
    assert tall.verdict == V.restricted
    vc = next(x for x in tall.reasons if x.rule == "76.siting.ventilation-corridor")
    assert vc.confidence == "M" and "浑河通风廊道" in vc.note
    assert "76.siting.ventilation-corridor" not in rule_ids(high)  # not ultra-high-rise
    assert high.verdict == V.restricted and "76.siting.historic-district" in rule_ids(high)
    assert low.verdict == V.ok  # 27 m residential is not high-rise
    outside = {"id": "o", "footprint": square(X0 + 500, Y0), "height": 150.0, "use": "public"}
    assert screen_proposals(GE3M, [outside], profile=prof)[0].verdict == V.consult_fire_rescue


# -- proposals: validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"height": None}, "proposals.0.height"),
        ({"height": -1.0}, "proposals.0.height"),
        ({"height": 1000.5}, "proposals.0.height"),
        ({"height": None, "floors": 200, "storey_height": 6.0}, "proposals.0.floors"),
        ({"use": "hotel"}, "proposals.0.use"),
        ({"footprint": [[(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)]]}, "proposals.0.footprint"),
    ],
)
def test_bad_proposals(change, parameter):
    p = {**proposal(50.0, "residential"), **change}
    with pytest.raises(InvalidParameter) as err:
        screen_proposals(GE3M, [p])
    assert err.value.parameter == parameter


def test_floors_give_the_height():
    r = screen_proposals(GE3M, [{"id": "f", "footprint": square(), "floors": 27, "use": "residential"}])[0]
    assert r.height == 81.0 and r.heights.design == 81.0 and r.heights.source == "design"
    assert r.verdict == V.consult_fire_rescue
    r = screen_proposals(
        GE3M, [{"id": "f", "footprint": square(), "floors": 9, "storey_height": 3.1, "use": "residential"}]
    )[0]
    assert r.height == 27.9 and r.height_class == "high-rise"


# -- heights from three sources ---------------------------------------------------------------------------------------


def _ring(x, y, w, h, z):
    return [(x, y, z), (x + w, y, z), (x + w, y + h, z), (x, y + h, z)]


def tower_with_plant(plant: float, main: float = 20.0, rise: float = 6.0) -> Building:
    """A flat roof (main x main m) at 100 m with a plant room (plant x plant m) on it, ``rise`` m higher."""
    g = 40.0
    hole = _ring(X0, Y0, plant, plant, g + 100)
    roofs = [
        Surface(type=SurfaceType.roof, rings=[_ring(X0, Y0, main, main, g + 100), hole]),
        Surface(type=SurfaceType.roof, rings=[_ring(X0, Y0, plant, plant, g + 100 + rise)]),
        Surface(type=SurfaceType.wall, rings=[[(X0, Y0, g), (X0 + main, Y0, g), (X0 + main, Y0, g + 100)]]),
    ]
    return Building(
        id="t", footprint=square(X0, Y0, main), ground_elevation=g, height=106.0, surfaces=roofs, use=BuildingUse.public
    )


@pytest.mark.parametrize(
    ("plant", "height", "excluded"),
    [
        (5.0, 100.0, 0.0625),  # 25 m2 of 400: left out
        (10.0, 100.0, 0.25),  # exactly a quarter: still left out (≤ 1/4)
        (10.5, 106.0, 0.0),  # 110.25 m2 of 400 (27.6 %): counted
    ],
)
def test_rooftop_plant_rule(plant, height, excluded):
    h, share = geometry_height(tower_with_plant(plant))
    assert h == pytest.approx(height) and share == pytest.approx(excluded)
    r = Screener(GE3M).screen_buildings([tower_with_plant(plant)])[0]
    assert r.height == pytest.approx(height)
    assert ("gb50352.rooftop-plant" in rule_ids(r)) is (excluded > 0)
    # 100.00 m after leaving the plant out: high-rise, not ultra-high-rise
    assert r.height_class == ("high-rise" if height == 100.0 else "ultra-high-rise")


def test_a_slender_tower_is_not_rooftop_plant():
    h, share = geometry_height(tower_with_plant(5.0, rise=30.0))  # 6 % of the roof, but 30 m above it
    assert h == pytest.approx(130.0) and share == 0.0


def _plain(h: float, **attrs) -> Building:
    return Building(id="b", footprint=square(), ground_elevation=40.0, height=h, attributes=attrs)


@pytest.mark.parametrize(
    ("geometry", "attribute", "flagged"),
    [
        (100.0, 101.5, False),  # 1.5 m: under 2 m and under 5 %
        (100.0, 102.5, True),  # over 2 m
        (10.0, 10.4, False),  # 0.4 m: under 5 % (0.5 m)
        (10.0, 10.6, True),  # over 5 % though under 2 m: "over 2 m or 5 %" flags either
    ],
)
def test_disagreement_is_over_2m_or_5pct(geometry, attribute, flagged):
    b = _plain(geometry, measuredHeight=attribute)
    assert attribute_height(b) == attribute
    r = Screener(GE3M).screen_buildings([b])[0]
    assert r.heights.geometry == geometry and r.heights.attribute == attribute
    assert r.heights.source == "geometry" and r.height == geometry
    assert r.heights.flagged is flagged and r.heights.disagreement == pytest.approx(abs(attribute - geometry))


def test_height_source_fallbacks():
    est = Building(id="e", footprint=square(), ground_elevation=40.0, height=30.0, height_source="floors")
    r = Screener(GE3M).screen_buildings([est])[0]
    assert r.heights.geometry is None and r.heights.source == "model" and r.height == 30.0
    meas = Building(id="m", footprint=square(), ground_elevation=40.0, height=30.0, height_source="attribute")
    r = Screener(GE3M).screen_buildings([meas])[0]
    assert r.heights.attribute == 30.0 and r.heights.source == "attribute"


def test_lidar_heights_synthetic():
    rng = np.random.default_rng(1)
    shapes = np.array([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), shapely.box(500, 500, 510, 510)])
    roof = np.column_stack([rng.uniform(0, 10, 400), rng.uniform(0, 10, 400), 30 + rng.normal(0, 0.02, 400)])
    roof[:5, 2] = 80.0  # a few stray points (a bird, a crane): the 95th percentile ignores them
    other = np.column_stack([rng.uniform(20, 30, 2), rng.uniform(0, 10, 2), [12.0, 12.0]])  # too few points
    h, n = lidar_heights(shapes, np.vstack([roof, other]), np.array([10.0, 10.0, 10.0]))
    assert h[0] == pytest.approx(20.0, abs=0.1) and n[0] == 400
    assert np.isnan(h[1]) and n[1] == 2
    assert np.isnan(h[2]) and n[2] == 0  # outside the survey


# -- the sample city's threshold towers (sample_city/README.md) --------------------------------------------------------

C, R_, N, OK = V.consult_fire_rescue, V.restricted, V.not_allowed, V.ok
TOWERS = {  # id: (verdict >= 3M, verdict < 3M, height class, fire class)
    "B-TWR-P024": (OK, OK, "low-multi-storey", "single-multi-storey"),
    "B-TWR-P025": (OK, OK, "high-rise", "class-II"),
    "B-TWR-P099": (OK, OK, "high-rise", "class-I"),
    "B-TWR-P100": (C, C, "high-rise", "class-I"),
    "B-TWR-P101": (C, C, "ultra-high-rise", "class-I"),
    "B-TWR-P149": (C, C, "ultra-high-rise", "class-I"),
    "B-TWR-P150": (C, R_, "ultra-high-rise", "class-I"),
    "B-TWR-P151": (C, R_, "ultra-high-rise", "class-I"),
    "B-TWR-P249": (C, R_, "ultra-high-rise", "class-I"),
    "B-TWR-P250": (R_, N, "ultra-high-rise", "class-I"),
    "B-TWR-P251": (R_, N, "ultra-high-rise", "class-I"),
    "B-TWR-P499": (R_, N, "ultra-high-rise", "class-I"),
    "B-TWR-P500": (N, N, "ultra-high-rise", "class-I"),
    "B-TWR-P501": (N, N, "ultra-high-rise", "class-I"),
    "B-TWR-R027": (OK, OK, "low-multi-storey", "single-multi-storey"),
    "B-TWR-R028": (OK, OK, "high-rise", "class-II"),
    "B-TWR-R054": (OK, OK, "high-rise", "class-II"),
    "B-TWR-R055": (OK, OK, "high-rise", "class-I"),
    "B-TWR-R079": (OK, OK, "high-rise", "class-I"),
    "B-TWR-R080": (C, C, "high-rise", "class-I"),
    "B-TWR-R081": (C, C, "high-rise", "class-I"),
    "B-TWR-R100": (C, C, "high-rise", "class-I"),
    "B-TWR-R101": (N, N, "ultra-high-rise", "class-I"),
}


@pytest.fixture(scope="module")
def sample_store(sample_city_path):
    from cim.store import open_store

    s = open_store(sample_city_path)
    yield s
    s.close()


def test_threshold_towers_as_the_sample_readme_says(sample_store):
    from sample_city.towers import THRESHOLD_TOWERS

    assert {t.id for t in THRESHOLD_TOWERS} == set(TOWERS)
    big = {r.id: r for r in screen_buildings(sample_store) if r.id in TOWERS}
    small = {r.id: r for r in screen_buildings(sample_store, profile="anshan") if r.id in TOWERS}
    for t in THRESHOLD_TOWERS:
        ge, lt, hclass, fclass = TOWERS[t.id]
        assert big[t.id].height == t.height and big[t.id].heights.source == "geometry"
        # the towers are in the store, so existing: exceeds-new-build-limit where a proposal is restricted/not-allowed
        assert (big[t.id].verdict, small[t.id].verdict) == (_for(ge, False), _for(lt, False)), t.id
        assert (big[t.id].height_class, big[t.id].fire_class) == (hclass, fclass), t.id
    # the README's notes, one by one
    assert "76.consult.public" not in rule_ids(big["B-TWR-P099"])
    assert "76.consult.public" in rule_ids(big["B-TWR-P100"])
    assert "76.consult.residential" not in rule_ids(big["B-TWR-R079"])
    assert "76.accountability.lt3m" in rule_ids(small["B-TWR-P151"])
    assert "76.no-ultra-high-rise-residential" in rule_ids(big["B-TWR-R101"])
    assert "76.no-ultra-high-rise-residential" not in rule_ids(big["B-TWR-R100"])
    assert {"76.ban.ge3m", "2020.ban-500"} <= rule_ids(big["B-TWR-P500"])
    # FS-2's 101 m ladder covers the CBD: only towers above 101 m exceed it
    ladder = {i for i, r in big.items() if "76.rescue.ladder-reach" in rule_ids(r)}
    assert ladder == {i for i in TOWERS if big[i].height > 101}


def test_sample_city_summary(sample_store):
    results = screen_buildings(sample_store)
    table = summary(results)
    assert sum(sum(v.values()) for v in table.values()) == 3347
    # every building in the store is existing: the 6 over a new-construction limit are register entries (issue 15)
    assert table["ultra-high-rise"] == {
        "ok": 0,
        "consult-fire-rescue": 5,
        "exceeds-new-build-limit": 6,
        "restricted": 0,
        "not-allowed": 0,
    }
    assert table["low-multi-storey"]["ok"] == 3190 and sum(table["low-multi-storey"].values()) == 3190


def test_sample_lidar_agrees_with_the_model(sample_city_path, tmp_path):
    """The sample LAS survey (roof points on the modelled roofs) gives every building's height to a few cm."""
    from cim.io import import_files
    from cim.store import open_store

    las = sample_city_path.parent / "sample.las"
    path = tmp_path / "s.sqlite"
    shutil.copy(sample_city_path, path)
    s = open_store(path)
    import_files(s, [las])
    results = screen_buildings(s)
    s.close()
    with_lidar = [r for r in results if r.heights.lidar is not None]
    assert len(with_lidar) == len(results) == 3347
    diff = np.array([r.heights.lidar - r.heights.geometry for r in with_lidar])
    assert np.median(np.abs(diff)) < 0.02 and np.percentile(np.abs(diff), 95) < 0.05
    assert not any(r.heights.flagged for r in results)  # hip roofs differ most (<= 0.9 m, under 5 %)


# -- Delft: LOD1 (delft.json) against AHN3 LiDAR (ahn3_cropped_2.laz) --------------------------------------------------


@pytest.fixture(scope="module")
def delft(tmp_path_factory):
    from cim.io import import_files
    from cim.store import open_store

    path = tmp_path_factory.mktemp("delft") / "delft.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="Delft", crs_epsg=28992, vertical_datum="EPSG:5709"))
    import_files(
        s, [shared_data("buildings", "delft.json"), shared_data("terrain", "ahn3_cropped_2.laz")], crs="EPSG:7415"
    )
    yield s
    s.close()


@pytest.mark.shared_data
def test_delft_lidar_against_lod1(delft):
    """AHN3 sees the ridges; the Delft LOD1 roofs sit at the eaves.

    The LAZ crop overlaps the east edge of delft.json: 22 of the 160 buildings lie (at least 90 %) inside it, with
    106 to 3434 building points each.  Most are terraced houses with pitched roofs: their LOD1 roof lies at the
    lowest roof points (the 5th percentile of the points reproduces the LOD1 height within 0.09 m in the
    median), while the 95th percentile, near the ridge, is 2.3 to 3.1 m higher; four larger buildings are 7.1 to
    8.7 m taller in the LiDAR than in the LOD1.  So every LiDAR height exceeds the LOD1 height, the median
    difference is 2.77 m and every one of the 22 is flagged (over 2 m).  The bounds below leave about 0.3 m of
    room around these figures.
    """
    results = screen_buildings(delft)
    have = [r for r in results if r.heights.lidar is not None]
    assert len(results) == 160 and len(have) == 22
    diff = np.array([r.heights.lidar - r.heights.geometry for r in have])
    assert (diff > 2.0).all()
    assert 2.5 < np.median(diff) < 3.1 and diff.max() < 9.0 and (diff > 5).sum() == 4
    assert all(r.heights.flagged and r.heights.lidar_points >= 100 for r in have)
    # the LOD1 roof is a low percentile of the roof points: the 5th percentile reproduces it
    buildings = {b.id: b for b in delft.iter_features("buildings")}
    bs = [buildings[r.id] for r in have]
    import shapely

    shapes = np.array([shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in bs])
    ground = np.array([b.ground_elevation for b in bs])
    p5, _ = lidar_heights(shapes, delft.building_points(), ground, q=5)
    lod1 = np.array([b.height for b in bs])
    assert np.median(np.abs(p5 - lod1)) < 0.15
    p95, _ = lidar_heights(shapes, delft.building_points(), ground, q=95)
    assert 2.5 < np.median(np.abs(p95 - lod1)) < 3.1
    # measuredHeight in this file is the roof's NAP elevation, not a height: it differs from the LOD1 height by
    # exactly the ground elevation (-0.34 to 0.30 m)
    attr = np.array([r.heights.attribute - r.heights.geometry for r in have])
    assert np.allclose(attr, ground, atol=0.011)
    assert all(r.verdict == V.ok and r.height_class == "low-multi-storey" for r in results)


# -- every store backend ---------------------------------------------------------------------------------------------


def test_screen_store_backends(store):
    results = screen_buildings(store)
    assert len(results) == 101
    by = {r.id: r for r in results}
    # store buildings are existing: over a new-construction limit they are register entries (issue 15)
    assert by["b-9-9"].use == BuildingUse.mixed and by["b-9-9"].verdict == V.exceeds_new_build_limit  # 300 m housing
    assert by["b-9-6"].verdict == V.exceeds_new_build_limit  # 291 m public, >= 3M: 250 m 以上
    assert by["b-2-6"].verdict == V.ok and by["b-3-0"].verdict == V.consult_fire_rescue  # 81 m public; 93 m housing
    assert summary(results)["ultra-high-rise"] == {
        "ok": 0,
        "consult-fire-rescue": 30,
        "exceeds-new-build-limit": 37,
        "restricted": 0,
        "not-allowed": 0,
    }
    part = screen_buildings(store, bbox=(X0 - 1, Y0 - 1, X0 + 120, Y0 + 70))
    assert sorted(r.id for r in part) == ["b-0-0", "b-0-1", "b-0-2", "b-1-0", "b-1-1", "b-1-2"]


# -- the report, the CSV and the command ------------------------------------------------------------------------------


def test_report_and_csv(sample_store):
    screener = Screener(sample_store.city())
    results = screener.screen_buildings(list(sample_store.iter_features("buildings")))
    md = markdown_report(results, screener, source="sample")
    assert "## Summary by height class and verdict" in md
    assert "| ultra-high-rise 超高层 | 0 | 5 | 6 | 0 | 0 | 11 |" in md
    assert "### B-TWR-P501" in md and "### B-TWR-R079" not in md  # only buildings over the first threshold
    assert "| **S** |" in md and "| **M** |" in md and "| C |" in md
    assert "76.ban.ge3m" in md and "以上 includes the number" in md
    rows = list(csv.reader(io.StringIO(to_csv(results))))
    assert rows[0] == CSV_COLUMNS and len(rows) == 3348
    p500 = next(r for r in rows if r[0] == "B-TWR-P500")
    assert p500[CSV_COLUMNS.index("verdict")] == "exceeds-new-build-limit"  # existing (issue 15)
    assert "76.ban.ge3m [C] exceeds-new-build-limit" in p500[CSV_COLUMNS.index("reasons")]


def test_cli_screen_high_rise(sample_city_path, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cim.cli",
            "screen",
            "high-rise",
            "--store",
            str(sample_city_path),
            "--out",
            str(tmp_path),
            "--profile",
            "anshan",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert r.returncode == 0, r.stderr
    assert "exceeds-new-build-limit" in r.stdout and "3347" in r.stdout
    md = Path(tmp_path / "high-rise.md").read_text(encoding="utf-8")
    assert "city class < 3M" in md and "76.ban.lt3m" in md
    text = Path(tmp_path / "high-rise.csv").read_text(encoding="utf-8-sig")
    rows = {row[0]: row for row in csv.reader(io.StringIO(text))}
    assert rows["B-TWR-P250"][CSV_COLUMNS.index("verdict")] == "exceeds-new-build-limit"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "cim.cli",
            "screen",
            "high-rise",
            "--store",
            str(sample_city_path),
            "--out",
            str(tmp_path),
            "--profile",
            "nowhere",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "No city profile" in bad.stderr
