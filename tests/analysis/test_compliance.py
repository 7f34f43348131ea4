"""Pipeline rule compliance: exactly the sample city's planted violations; the rules' edge cases on tiny cities."""

from __future__ import annotations

import re

import pytest
import shapely

from cim.analysis.compliance import PipelineRules, pipe_compliance
from cim.errors import InvalidParameter
from cim.model import Building, City, Compartment, UndergroundStructure
from cim.store import open_store
from sample_city import build_sample_city
from tests.common import X0, Y0

from .underground_cases import GROUND, flat_terrain, pipe


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("compliance") / "sample.cim.sqlite"
    summary = build_sample_city(path)
    store = open_store(path)
    yield store, summary
    store.close()


def planted_kind(v) -> tuple[str, str | None]:
    """The check a planted violation's rule text names (and the clause, for the compartment rules)."""
    if "GB 50838" in v.rule:
        return "compartment", re.search(r"§4\.3\.\d+", v.rule).group(0)
    if "table 4.1.1 " in v.rule or v.rule.endswith("table 4.1.1"):
        return "cover", None
    if "§4.1.12" in v.rule:
        return "crossing_order", None
    if "4.1.14" in v.rule:
        return "vertical_clearance", None
    if "4.1.9" in v.rule:
        building = any(f.startswith("B-") for f in v.feature_ids)
        return ("building_clearance" if building else "horizontal_clearance"), None
    raise AssertionError(v.rule)


def test_the_sample_city_has_exactly_its_planted_violations(sample):
    store, summary = sample
    report = pipe_compliance(store)
    got = {
        (v.kind, frozenset(f.id for f in v.features), v.clause if v.kind == "compartment" else None): v
        for v in report.violations
    }
    want = {}
    for p in summary.violations:
        kind, clause = planted_kind(p)
        want[(kind, frozenset(p.feature_ids), clause)] = p
    assert set(got) == set(want)
    assert len(report.violations) == len(summary.violations) == 8
    for key, p in want.items():
        v = got[key]
        if p.measured is not None:
            assert v.measured == pytest.approx(p.measured, abs=1e-3), p.id
            assert v.required == pytest.approx(p.required, abs=1e-9), p.id
        assert v.confidence in ("C", "S", "M") and v.document.startswith("GB ") and v.clause
        assert v.location["type"] in ("Point", "LineString", "Polygon")
        if v.confidence != "C":
            assert any("(S)" in n or "(M)" in n for n in v.notes), v.notes  # S and M values are shown as such
    v1 = got[("cover", frozenset({"P-WAT-V1"}), None)]
    assert v1.rule == "cover.frost" and v1.also == ["cover.water.motor_lane"]  # the frost depth governs
    assert report.counts == {
        "cover": 2,
        "horizontal_clearance": 1,
        "building_clearance": 1,
        "vertical_clearance": 1,
        "crossing_order": 1,
        "compartment": 2,
    }
    assert report.checked["crossings"] >= 910 and report.checked["pipes"] == store.counts()["pipes"]


def test_a_region_reports_what_lies_in_it(sample):
    store, summary = sample
    v1 = next(p for p in store.iter_features("pipes") if p.id == "P-WAT-V1")
    x, y, _ = v1.centreline[0]
    report = pipe_compliance(store, shapely.box(x - 5, y - 30, x + 5, y + 30))
    assert [v.id for v in report.violations] == ["cover:P-WAT-V1"]
    with pytest.raises(InvalidParameter) as e:
        pipe_compliance(store, shapely.box(x, y, x + 3000, y + 3000), max_area_km2=4)
    assert e.value.parameter == "bbox"


def test_city_overrides(sample, tmp_path):
    store, _ = sample
    rules = PipelineRules.load(overrides={"cover.gas.motor_lane": 0.5, "cover.frost": 0.4})
    report = pipe_compliance(store, rules=rules)
    covers = {v.features[0].id: v for v in report.violations if v.kind == "cover"}
    assert set(covers) == {"P-WAT-V1"}  # V2's 0.60 m now passes
    assert covers["P-WAT-V1"].rule == "cover.water.motor_lane" and covers["P-WAT-V1"].required == 0.70
    f = tmp_path / "dalian.toml"
    f.write_text('cover.water.motor_lane = 0.3\n"cover.frost" = 0.3\n')
    assert PipelineRules.load(f).get("cover.water.motor_lane").value == 0.3
    with pytest.raises(InvalidParameter) as e:
        PipelineRules.load(overrides={"cover.nope": 1.0})
    assert e.value.parameter == "rules"
    with pytest.raises(InvalidParameter):
        PipelineRules.load(overrides={"cover.frost": "deep"})


def test_every_rule_cites_its_source():
    rules = PipelineRules.load()
    for t in rules.thresholds.values():
        assert t.document in ("GB 50289-2016", "GB 50838-2015") and t.clause and t.confidence in "CSM"
        assert t.effective
        if t.section in ("cover", "horizontal", "vertical"):
            assert t.value is not None and t.unit == "m"
    assert rules.order == ["telecom", "power", "gas", "heat", "water", "reclaimed", "storm", "sewer"]


def test_clearance_pairs_crossings_and_connections(empty_store):
    z = GROUND - 3.0
    feats = [
        # a sewer 0.8 m clear beside a DN300 water main: too close (1.5)
        pipe("w1", [(0, 0, z), (100, 0, z)], 0.3, "water", lane="footway"),
        pipe("s1", [(0, 1.1, z - 0.5), (40, 1.1, z - 0.5)], 0.3, "sewer", lane="footway"),
        # a sewer crossing that main 0.5 m below it (0.40 needed): fine, and no horizontal check
        pipe("s2", [(50, -10, z - 0.8), (50, 10, z - 0.8)], 0.3, "sewer", lane="footway"),
        # a water pipe joined to a sewer by a node id, ending 0.3 m from it: connected, not compared
        pipe("w2", [(0, 50, z), (50, 50, z)], 0.3, "water", lane="footway", to_node="n"),
        pipe("s3", [(50, 50.5, z - 1), (100, 50.5, z - 1)], 0.3, "sewer", lane="footway", from_node="n"),
        # a gas pipe with no pressure class or lane, shallow: low pressure and motor lane assumed
        pipe("g1", [(0, 100, GROUND - 0.8), (50, 100, GROUND - 0.8)], 0.2, "gas"),
        pipe("s4", [(0, 101.0, z), (50, 101.0, z)], 0.2, "sewer", lane="footway"),
    ]
    b = Building(
        id="bld",
        footprint=[[(X0 + 200, Y0), (X0 + 220, Y0), (X0 + 220, Y0 + 20), (X0 + 200, Y0 + 20)]],
        ground_elevation=GROUND,
        height=10.0,
    )
    near_b = pipe("s5", [(190, 10, z), (198, 10, z)], 0.4, "storm", lane="footway")
    utl = UndergroundStructure(
        id="utl",
        kind="utility_tunnel",
        centreline=[(X0, Y0 + 300, 40.0), (X0 + 100, Y0 + 300, 40.0)],
        section="box",
        width=4.0,
        section_height=3.0,
        compartments=[Compartment(name="a", contents=["storm", "sewer"]), Compartment(name="b", contents=["gas"])],
    )
    empty_store.write([*feats, b, near_b, utl], terrain=flat_terrain())
    report = pipe_compliance(empty_store)
    got = {v.id: v for v in report.violations}
    assert set(got) == {
        "horizontal_clearance:s1+w1",
        "cover:g1",
        "horizontal_clearance:s4+g1",
        "building_clearance:s5+bld",
        "compartment:utl:utl.storm.apart-from-sewer:a",
    }
    assert got["horizontal_clearance:s1+w1"].measured == pytest.approx(0.8)
    assert got["horizontal_clearance:s1+w1"].rule == "h.drainage.water.gt200"
    assert got["cover:g1"].required == 0.9 and any("motor-lane" in n for n in got["cover:g1"].notes)
    assert got["horizontal_clearance:s4+g1"].rule == "h.drainage.gas.low"
    assert any("low pressure assumed" in n for n in got["horizontal_clearance:s4+g1"].notes)
    assert got["building_clearance:s5+bld"].measured == pytest.approx(1.8)
    assert report.checked["crossings"] == 1


def test_no_terrain_skips_the_cover_check(tmp_path):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(City(name="t", crs_epsg=4550))
    store.write([pipe("g", [(0, 0, 49.9), (10, 0, 49.9)], 0.2, "gas")])
    report = pipe_compliance(store)
    assert report.violations == [] and report.skipped and "terrain" in report.skipped[0]
    store.close()
