"""Clash detection against analytic cases: pipes crossing with a known vertical gap, parallel pipes at a known
plan distance, a new basement cutting a pipe, a BIM building's basement walls cut by a tunnel; the import
check (``--check clashes``, ``--reject-on-clash``) on both stores; the registered analysis over HTTP."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from cim.analysis.clashes import Bodies, ClashesFound, clashes_of_new, detect_clashes, segment_distance
from cim.analysis.compliance import PipelineRules
from cim.io import import_files
from cim.store import open_store
from tests.common import CITY, X0, Y0

from .underground_cases import basement, manhole, pipe, tunnel

RULES = PipelineRules.load()
GEOREF = Path(__file__).parent.parent / "data" / "georef_ifc4.ifc"


def crossing(gap: float, d_water: float = 0.6, d_sewer: float = 0.4):
    """A water main along x at z 47 and a sewer along y below it, ``gap`` metres clear between them."""
    zs = 47.0 - d_water / 2 - d_sewer / 2 - gap
    return [
        pipe("w", [(0, 50, 47.0), (100, 50, 47.0)], d=d_water, utility="water"),
        pipe("s", [(50, 0, zs), (50, 100, zs)], d=d_sewer, utility="sewer"),
    ]


def test_segment_distance_matches_hand_cases():
    p1, q1 = np.array([[0.0, 0, 0], [0, 0, 0]]), np.array([[10.0, 0, 0], [10, 0, 0]])
    p2, q2 = np.array([[5.0, -5, 2], [12, 3, 0]]), np.array([[5.0, 5, 2], [20, 3, 0]])
    d, c1, c2 = segment_distance(p1, q1, p2, q2)
    assert d == pytest.approx([2.0, math.hypot(2, 3)])
    assert c1[0] == pytest.approx([5, 0, 0]) and c2[1] == pytest.approx([12, 3, 0])


@pytest.mark.parametrize("gap", [0.05, 0.30, 0.399])
def test_crossing_closer_than_the_vertical_rule_is_a_clearance_clash(gap):
    rep = detect_clashes(Bodies.of(crossing(gap)), RULES)
    [c] = rep.clashes
    assert c.type == "clearance" and c.rule == "v.drainage.water" and c.required == 0.40
    assert c.distance == pytest.approx(gap, abs=1e-4) and c.direction == "vertical"
    assert {c.a.id, c.b.id} == {"w", "s"} and c.clause == "table 4.1.14"
    z_mid = 47.0 - 0.3 - gap / 2
    assert c.location == pytest.approx((X0 + 50, Y0 + 50, z_mid), abs=1e-3)


@pytest.mark.parametrize("gap", [0.401, 0.5, 2.0])
def test_crossing_beyond_the_vertical_rule_is_no_clash(gap):
    assert detect_clashes(Bodies.of(crossing(gap)), RULES).clashes == []


def test_crossing_pipes_that_overlap_are_a_hard_clash():
    rep = detect_clashes(Bodies.of(crossing(-0.12)), RULES)
    [c] = rep.clashes
    assert c.type == "hard" and c.penetration == pytest.approx(0.12, abs=1e-4) and c.rule is None


def test_parallel_pipes_closer_than_the_horizontal_rule():
    # sewer d 0.4 and water d 0.6 (> 200 mm: h.drainage.water.gt200 = 1.5 m) at 1.2 m clear, same depth
    feats = [
        pipe("w", [(0, 0, 47.0), (100, 0, 47.0)], d=0.6, utility="water"),
        pipe("s", [(0, 1.7, 47.0), (100, 1.7, 47.0)], d=0.4, utility="sewer"),
        pipe("s2", [(0, 4.0, 47.0), (100, 4.0, 47.0)], d=0.4, utility="sewer"),  # 3.2 m clear: fine
    ]
    [c] = detect_clashes(Bodies.of(feats), RULES).clashes
    assert (c.type, c.rule, c.direction) == ("clearance", "h.drainage.water.gt200", "horizontal")
    assert c.distance == pytest.approx(1.2, abs=1e-6) and c.required == 1.5


def test_connected_pipes_and_their_manhole_do_not_clash():
    feats = [
        pipe("a", [(0, 0, 45.0), (50, 0, 45.0)], d=0.4, utility="sewer", to_node="m"),
        pipe("b", [(50, 0, 45.0), (100, 0, 44.9)], d=0.4, utility="sewer", from_node="m"),
        manhole("m", 50, 0, depth=6.0, d=1.2),
        pipe("c", [(0, 0.2, 45.0), (10, 0.2, 45.0)], d=0.2, utility="storm"),  # into pipe a by 0.1 + 0.2 - 0.2
    ]
    rep = detect_clashes(Bodies.of(feats), RULES, clearance=False)
    assert [(c.a.id, c.b.id) for c in rep.clashes] == [("a", "c")]
    assert rep.clashes[0].penetration == pytest.approx(0.2 / 2 + 0.4 / 2 - 0.2, abs=1e-4)


def test_new_basement_cutting_a_pipe(tmp_path):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(CITY)
    store.write([pipe("w", [(0, 50, 47.0), (100, 50, 47.0)], d=0.6, utility="water")])
    new = [basement("B-new", 40, 40, 20, 20, top=50.0, bottom=45.0)]
    rep = clashes_of_new(store, new, RULES)
    [c] = rep.clashes
    assert c.type == "hard" and {c.a.id, c.b.id} == {"w", "B-new"}
    # the way out: up by 47.3 - 45 = 2.3 m (down would be 50 - 46.7 = 3.3 m)
    assert c.penetration == pytest.approx(2.3, abs=1e-4)
    assert c.location == pytest.approx((X0 + 50, Y0 + 50, 47.0), abs=1e-3)
    # 1.0 m beside the pipe (the water main is over 200 mm: 3.0 m from buildings, h.water.building.gt200)
    beside = [basement("B-near", 40, 51.3, 20, 20, top=50.0, bottom=45.0)]
    [c] = clashes_of_new(store, beside, RULES).clashes
    assert (c.type, c.rule, c.required) == ("clearance", "h.water.building.gt200", 3.0)
    assert c.distance == pytest.approx(1.0, abs=1e-6)
    far = [basement("B-far", 40, 55.0, 20, 20, top=50.0, bottom=45.0)]  # 4.7 m clear
    assert clashes_of_new(store, far, RULES).clashes == []
    store.close()


def _model_to_city(xy_m: np.ndarray) -> np.ndarray:
    """The test file's IfcMapConversion (metres of the model; see tests/data/make_georef_ifc4.py)."""
    t = math.radians(30)
    x, y = xy_m.T
    return np.column_stack([534100 + x * math.cos(t) - y * math.sin(t), 4628300 + x * math.sin(t) + y * math.cos(t)])


def test_tunnel_through_a_bim_buildings_basement_walls(tmp_path):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(CITY)
    import_files(store, [GEOREF])
    ends = _model_to_city(np.array([[-10.0, 6.0], [30.0, 6.0]]))
    metro = tunnel("T1", [(0, 0, 0), (1, 0, 0)], 2.0)
    metro = metro.model_copy(update={"centreline": [(*ends[0], 43.0), (*ends[1], 43.0)]})
    rep = clashes_of_new(store, [metro], RULES)
    hits = {c.b.part.split(" (")[1].rstrip(")"): c for c in rep.clashes if c.b.collection == "buildings"}
    hits |= {c.a.part.split(" (")[1].rstrip(")"): c for c in rep.clashes if c.a.collection == "buildings"}
    assert set(hits) == {"B1-wall-2", "B1-wall-4"}  # the end walls across the tunnel; not the storeys above
    for c in hits.values():
        assert c.type == "hard" and c.penetration == pytest.approx(44.0 - 41.2, abs=1e-3)  # wall from 41.2 m
        assert "IfcWall" in (c.a.part or c.b.part)
    assert len(rep.clashes) == 2  # the derived basement structure is not counted twice
    store.close()


def _geojson_pipes(path: Path, gap: float) -> Path:
    zs = 47.0 - 0.3 - 0.2 - gap
    feats = [
        {
            "type": "Feature",
            "properties": {"id": "s-new", "utility": "sewer", "diameter": 0.4},
            "geometry": {
                "type": "LineString",
                "coordinates": [[*_to_crs84(X0 + 50, Y0), zs], [*_to_crs84(X0 + 50, Y0 + 100), zs]],
            },
        }
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _to_crs84(x: float, y: float) -> list[float]:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(4550, 4326, always_xy=True).transform(x, y)
    return [lon, lat]


def test_import_check_and_reject_on_clash(empty_store, tmp_path):
    store = empty_store  # initialised with tests.common.CITY
    store.write([pipe("w", [(0, 50, 47.0), (100, 50, 47.0)], d=0.6, utility="water")])
    close = _geojson_pipes(tmp_path / "close.geojson", 0.2)
    with pytest.raises(ClashesFound) as err:
        import_files(store, [close], reject_on_clash=True)
    rep = err.value.report
    assert [(c.type, c.rule) for c in rep.clashes] == [("clearance", "v.drainage.water")]
    assert rep.clashes[0].distance == pytest.approx(0.2, abs=2e-3)  # GeoJSON coordinates: ~mm
    assert store.counts()["pipes"] == 1  # refused: nothing written
    report = import_files(store, [close], check=["clashes"])
    assert report.clashes.counts == {"hard": 0, "clearance": 1} and store.counts()["pipes"] == 2
    clear = _geojson_pipes(tmp_path / "clear.geojson", 0.6)
    report = import_files(store, [clear], check=["clashes"], replace=True)
    assert report.clashes.clashes == []  # the replaced pipe itself is not an obstacle


def test_cli_reject_on_clash(tmp_path):
    from typer.testing import CliRunner

    from cim.cli import app

    db = tmp_path / "c.sqlite"
    store = open_store(db, create=True)
    store.init(CITY)
    store.write([pipe("w", [(0, 50, 47.0), (100, 50, 47.0)], d=0.6, utility="water")])
    store.close()
    close = _geojson_pipes(tmp_path / "close.geojson", -0.05)
    res = CliRunner().invoke(app, ["import", str(close), "--store", str(db), "--reject-on-clash"])
    assert res.exit_code == 2
    assert '"type": "hard"' in res.stdout and "s-new" in res.stdout
    res = CliRunner().invoke(app, ["import", str(close), "--store", str(db), "--check", "clashes", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["clashes"]["counts"] == {"hard": 1, "clearance": 0}


def test_registered_analysis_over_a_region(tmp_path):
    import cim

    db = tmp_path / "c.sqlite"
    store = open_store(db, create=True)
    store.init(CITY)
    store.write(crossing(0.3) + [basement("B1", 40, 40, 20, 20, top=50.0, bottom=46.0)])
    store.close()
    city = cim.open(str(db))
    ring = [_to_crs84(X0 + x, Y0 + y) for x, y in [(-10, -10), (110, -10), (110, 110), (-10, 110), (-10, -10)]]
    rep = city.analyse("clashes", region={"type": "Polygon", "coordinates": [ring]})
    got = {(c.type, frozenset((c.a.id, c.b.id))): c for c in rep.clashes}
    # the basement (46-50 m) cuts the water main (46.7-47.3 m) and the sewer below it (46.0-46.4 m)
    assert set(got) == {
        ("clearance", frozenset("ws")),
        ("hard", frozenset({"w", "B1"})),
        ("hard", frozenset({"s", "B1"})),
    }
    assert got["hard", frozenset({"w", "B1"})].penetration == pytest.approx(1.3, abs=1e-4)
    assert got["hard", frozenset({"s", "B1"})].penetration == pytest.approx(0.4, abs=1e-4)
    lon, lat = _to_crs84(X0 + 50, Y0 + 50)
    clr = next(c for c in rep.clashes if c.type == "clearance")
    assert clr.location[:2] == pytest.approx((lon, lat), abs=1e-7)
    region = shapely.Polygon(ring)
    assert region.contains(shapely.Point(clr.location[:2]))


def test_clashes_since_a_version(tmp_path):
    """A version pair: only the clashes of what was added after version 1 (old clashes stay out)."""
    from cim import versions
    from cim.analysis.clashes import clashes_in

    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(CITY)
    old = crossing(-0.1)  # an old hard clash, w and s
    versions.write(store, old, note="as built")
    versions.write(store, [pipe("g", [(20, 0, 46.8), (20, 100, 46.8)], d=0.3, utility="gas")], note="new gas main")
    region = shapely.box(X0 - 10, Y0 - 10, X0 + 110, Y0 + 110)
    everything = clashes_in(store, region, RULES)
    assert {frozenset((c.a.id, c.b.id)) for c in everything.clashes} == {frozenset("ws"), frozenset("wg")}
    since = clashes_in(store, region, RULES, since=1)
    [c] = since.clashes
    assert {c.a.id, c.b.id} == {"w", "g"} and c.type == "hard"  # 46.8 + 0.15 > 47 - 0.3: 0.25 m into w
    assert c.penetration == pytest.approx(0.25, abs=1e-4)
    assert clashes_in(store, region, RULES, since=2).clashes == []
