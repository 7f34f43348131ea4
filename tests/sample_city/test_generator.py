"""The sample district: its content, its determinism, its planted violations and its LiDAR file.

The city is built once for the module; every check measures the stored features afresh (shapely,
numpy) rather than trusting the generator's own bookkeeping.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import laspy
import numpy as np
import orjson
import pytest
import shapely

from cim.model import BuildingUse, NodeKind, PipeSegment, StructureKind, Utility
from cim.store import open_store
from sample_city import THRESHOLD_TOWERS, build_sample_city, default_las_path
from sample_city.layout import SIZE, STREETS, origin, river_channel

COLLECTIONS = ("buildings", "pipes", "pipe-nodes", "underground-structures")
ORDER = [
    Utility.telecom,
    Utility.power,
    Utility.gas,
    Utility.heat,
    Utility.water,
    Utility.reclaimed,
    Utility.storm,
    Utility.sewer,
]  # GB 50289 §4.1.12, top to bottom
README = Path(__file__).resolve().parents[2] / "sample_city" / "README.md"


def _load(path: Path):
    store = open_store(path)
    feats = {c: list(store.iter_features(c)) for c in COLLECTIONS}
    return store, feats


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample_city") / "sample.cim.sqlite"
    stages: list[tuple[str, float]] = []
    summary = build_sample_city(path, progress=lambda stage, f: stages.append((stage, f)))
    store, feats = _load(path)
    yield SimpleNamespace(
        path=path,
        summary=summary,
        stages=stages,
        store=store,
        terrain=store.terrain(),
        buildings=feats["buildings"],
        pipes=feats["pipes"],
        nodes=feats["pipe-nodes"],
        structures=feats["underground-structures"],
        feats=feats,
        pipe=({p.id: p for p in feats["pipes"]}),
        node=({n.id: n for n in feats["pipe-nodes"]}),
    )
    store.close()


def _dump(feats) -> list[bytes]:
    return [orjson.dumps(f.model_dump(mode="json")) for f in feats]


def _z_at(p: PipeSegment, xy) -> float:
    """Axis elevation of ``p`` at the plan point ``xy`` (on the pipe)."""
    c = p.coords()
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(c[:, :2], axis=0).T))])
    return float(np.interp(shapely.LineString(c[:, :2]).project(shapely.Point(xy)), s, c[:, 2]))


def _crossing_point(a: PipeSegment, b: PipeSegment) -> np.ndarray:
    (pt,) = shapely.get_coordinates(
        shapely.LineString(a.coords()[:, :2]).intersection(shapely.LineString(b.coords()[:, :2]))
    )
    return pt


def _cover(p: PipeSegment, terrain) -> np.ndarray:
    c = p.coords()
    return terrain.sample(c[:, :2]) - (c[:, 2] + p.outer_height / 2)


def _half(p: PipeSegment) -> float:
    return (p.diameter if p.diameter is not None else p.width) / 2


def _crossings(pipes: list[PipeSegment]):
    """Every plan crossing of two pipes of different utilities that share no node:
    (upper pipe by GB 50289 order, lower pipe, point, clearance = upper bottom - lower top)."""
    lines = [shapely.LineString(p.coords()[:, :2]) for p in pipes]
    a, b = shapely.STRtree(lines).query(lines, predicate="intersects")
    for i, j in zip(a[a < b], b[a < b], strict=True):
        pi, pj = pipes[i], pipes[j]
        if pi.utility == pj.utility or {pi.from_node, pi.to_node} & {pj.from_node, pj.to_node}:
            continue
        up, lo = (pi, pj) if ORDER.index(pi.utility) < ORDER.index(pj.utility) else (pj, pi)
        for pt in shapely.get_coordinates(lines[i].intersection(lines[j])):
            clear = (_z_at(up, pt) - up.outer_height / 2) - (_z_at(lo, pt) + lo.outer_height / 2)
            yield up, lo, pt, clear


# -- content ---------------------------------------------------------------------------------------
def test_counts_and_summary(city):
    counts = city.store.counts()
    assert counts == city.summary.counts
    assert counts["buildings"] >= 3000
    assert {p.utility for p in city.pipes} == set(Utility)
    assert city.summary.pipes_by_utility == {
        u.value: sum(p.utility == u for p in city.pipes) for u in sorted(Utility, key=lambda u: u.value)
    }
    # every use but mixed, and but unknown (issue 15: the use imports give buildings whose files state none)
    assert {b.use for b in city.buildings} == set(BuildingUse) - {BuildingUse.mixed, BuildingUse.unknown}
    assert sum(b.surfaces is not None for b in city.buildings) >= 20
    assert all(b.cim_level == (4 if b.surfaces else 3) for b in city.buildings)
    x0, y0 = origin()
    assert (x0, y0) == (round(x0), round(y0)) and city.summary.bounds == (x0, y0, x0 + SIZE, y0 + SIZE)


def test_every_street_carries_all_eight_utilities(city):
    by_street = defaultdict(set)
    for p in city.pipes:
        by_street[p.attributes.get("street")].add(p.utility)
    for street in STREETS:
        assert by_street[street.name] == set(Utility), street.name


def test_city_metadata(city):
    c = city.store.city()
    assert (c.crs_epsg, c.vertical_datum, c.urban_population, c.frost_depth) == (4550, "EPSG:5737", 9_000_000, 1.2)
    assert sorted(s.ladder_reach for s in c.fire_stations) == [54.0, 60.0, 101.0]
    x0, y0, x1, y1 = city.summary.bounds
    for s in c.fire_stations:
        assert x0 < s.position[0] < x1 and y0 < s.position[1] < y1
        assert 3000 <= s.response_radius <= 5000
        assert any(
            b.attributes["kind"] == "fire_station"
            and shapely.Polygon(b.footprint[0]).contains(shapely.Point(s.position))
            for b in city.buildings
        )


def test_progress_is_reported(city):
    fractions = [f for _, f in city.stages]
    assert len(city.stages) >= 4 and fractions == sorted(fractions)
    assert city.stages[-1] == ("done", 1.0)


def test_default_las_path():
    assert default_las_path("data/sample.cim.sqlite") == Path("data/sample.las")
    assert default_las_path("sqlite:///x/city.sqlite") == Path("x/city.las")


# -- determinism -----------------------------------------------------------------------------------
def test_two_builds_are_identical_and_replace_atomically(city, tmp_path):
    path = tmp_path / "again.cim.sqlite"
    path.write_bytes(b"not a database")  # replaced, not opened
    Path(str(path) + "-wal").write_bytes(b"stale")  # a stale WAL must not survive the replace
    build_sample_city(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.cim.sqlite", "again.las"]
    store, feats = _load(path)
    try:
        for c in COLLECTIONS:
            assert _dump(feats[c]) == _dump(city.feats[c]), c
        assert store.terrain().to_bytes() == city.terrain.to_bytes()
        assert store.city() == city.store.city()
    finally:
        store.close()
    a, b = laspy.read(city.summary.las_path), laspy.read(tmp_path / "again.las")
    for dim in ("X", "Y", "Z", "classification", "intensity", "gps_time"):
        assert np.array_equal(a[dim], b[dim]), dim


def test_another_seed_gives_another_city_with_the_same_towers(tmp_path):
    summary = build_sample_city(tmp_path / "other.sqlite", seed=7)
    store, feats = _load(tmp_path / "other.sqlite")
    try:
        heights = {b.id: b.height for b in feats["buildings"]}
        assert all(heights[t.id] == t.height for t in THRESHOLD_TOWERS)
        assert summary.counts["buildings"] >= 3000
    finally:
        store.close()


# -- buildings -------------------------------------------------------------------------------------
EXPECTED_TOWERS = {  # id: (height, residential?)
    **{
        f"B-TWR-P{h:03d}": (float(h), False)
        for h in (24, 25, 99, 100, 101, 149, 150, 151, 249, 250, 251, 499, 500, 501)
    },
    **{f"B-TWR-R{h:03d}": (float(h), True) for h in (27, 28, 54, 55, 79, 80, 81, 100, 101)},
}


def test_threshold_towers(city):
    by_id = {b.id: b for b in city.buildings}
    x0, y0 = origin()
    crossroads = shapely.Point(x0 + 900, y0 + 1200)
    basement_of = {s.building_id for s in city.structures if s.kind == StructureKind.basement}
    for tid, (height, residential) in EXPECTED_TOWERS.items():
        b = by_id[tid]
        assert b.height == height and b.roof_elevation == b.ground_elevation + height
        assert (b.use == BuildingUse.residential) == residential
        assert shapely.Polygon(b.footprint[0]).distance(crossroads) < 450
        assert b.floors_below > 0 and tid in basement_of
    assert {t.id for t in city.summary.threshold_towers} == set(EXPECTED_TOWERS)
    assert set(re.findall(r"B-TWR-[PR]\d{3}", README.read_text(encoding="utf-8"))) == set(EXPECTED_TOWERS)


def test_footprints_inside_the_district_and_disjoint(city):
    shapes = [shapely.Polygon(b.footprint[0]) for b in city.buildings]
    assert all(s.is_valid for s in shapes)
    assert all(shapely.box(*city.summary.bounds).contains(s) for s in shapes)
    a, b = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    assert not np.any(a < b), [(city.buildings[i].id, city.buildings[j].id) for i, j in zip(a, b, strict=True) if i < j]


def test_ground_elevation_is_the_dem_at_the_centroid(city):
    cent = shapely.get_coordinates(shapely.centroid([shapely.Polygon(b.footprint[0]) for b in city.buildings]))
    ground = np.array([b.ground_elevation for b in city.buildings])
    assert np.abs(city.terrain.sample(cent) - ground).max() < 1e-6
    assert 40.0 < ground.min() and ground.max() < 55.0


def test_heights_are_floors_times_floor_height(city):
    for b in city.buildings:
        fh = b.attributes["floor_height"]
        if b.use == BuildingUse.residential and b.attributes["kind"] not in ("shed", "garage", "house"):
            assert 2.9 - 1e-3 <= fh <= 3.0 + 1e-3, b.id
        elif b.use != BuildingUse.residential and b.attributes["roof"] == "flat":
            assert 3.6 - 1e-3 <= fh <= 4.5 + 1e-3, b.id
        if b.attributes["roof"] == "flat":
            assert 0 <= b.height - b.floors_above * fh <= 1.25 + 1e-6, b.id


def test_lod2_surfaces_close_the_prism(city):
    for b in (b for b in city.buildings if b.surfaces):
        zs = [z for s in b.surfaces for r in s.rings for *_, z in r]
        assert min(zs) == pytest.approx(b.ground_elevation) and max(zs) == pytest.approx(b.roof_elevation)
        ground = [s for s in b.surfaces if s.type.value == "ground"]
        assert len(ground) == 1
        area = shapely.Polygon([xy[:2] for xy in ground[0].rings[0]])
        assert area.area == pytest.approx(shapely.Polygon(b.footprint[0]).area)
        assert not area.exterior.is_ccw  # the ground faces down


# -- the river -------------------------------------------------------------------------------------
def test_nothing_in_the_river(city):
    channel = river_channel()
    shapes = (
        [shapely.Polygon(b.footprint[0]) for b in city.buildings]
        + [shapely.LineString(p.coords()[:, :2]) for p in city.pipes]
        + [shapely.Point(n.position[:2]) for n in city.nodes]
        + [
            shapely.Polygon(s.footprint[0]) if s.footprint else shapely.LineString([c[:2] for c in s.centreline])
            for s in city.structures
        ]
    )
    assert not shapely.intersects(channel, shapes).any()
    # the valley is really there: the channel lies well below the plain north of it
    pts = shapely.get_coordinates(channel.centroid)
    assert city.terrain.sample(pts)[0] < city.terrain.sample(pts + [0, 150])[0] - 5


def test_pipes_lie_clear_of_the_river_banks(city):
    channel = river_channel()
    for p in city.pipes:
        line = shapely.LineString(p.coords()[:, :2])
        assert line.distance(channel) >= _half(p), p.id


# -- pipes -----------------------------------------------------------------------------------------
def test_pipes_connect_their_nodes(city):
    for p in city.pipes:
        c = p.coords()
        a, b = city.node[p.from_node], city.node[p.to_node]
        assert np.allclose(c[0, :2], a.position[:2]) and np.allclose(c[-1, :2], b.position[:2]), p.id
        assert a.utility == p.utility == b.utility
    pos = np.array([n.position for n in city.nodes])
    assert np.abs(city.terrain.sample(pos[:, :2]) - pos[:, 2]).max() < 1e-6
    kinds = {n.kind for n in city.nodes}
    assert {NodeKind.manhole, NodeKind.valve, NodeKind.junction, NodeKind.outfall} <= kinds
    for n in city.nodes:
        if n.kind in (NodeKind.manhole, NodeKind.outfall):
            assert n.utility in (Utility.sewer, Utility.storm) and n.depth > 0


def test_gravity_pipes_fall_towards_their_outfalls(city):
    for p in city.pipes:
        if p.utility not in (Utility.sewer, Utility.storm):
            continue
        c = p.coords()
        slope = -np.diff(c[:, 2]) / np.hypot(*np.diff(c[:, :2], axis=0).T)
        assert slope.min() >= 0.001 - 1e-9, p.id
    # every manhole chain ends at an outfall: follow to_node from each sewer/storm pipe
    nxt = {p.from_node: p.to_node for p in city.pipes if p.utility in (Utility.sewer, Utility.storm)}
    ends = {n.id for n in city.nodes if n.kind == NodeKind.outfall or n.attributes.get("boundary")}
    ends |= {n.id for n in city.nodes if n.attributes.get("planted")}
    outfalls = {n.id for n in city.nodes if n.kind == NodeKind.outfall}
    assert len(outfalls) >= 2
    for start in nxt:
        node, seen = start, 0
        while node in nxt and seen < 10_000:
            node, seen = nxt[node], seen + 1
        assert node in ends, start


def test_pressure_pipes_keep_a_constant_cover(city):
    for p in city.pipes:
        if p.utility in (Utility.sewer, Utility.storm) or p.attributes.get("planted"):
            continue
        cov = _cover(p, city.terrain)
        assert cov.max() - cov.min() < 1e-6, p.id


PLANTED = {"V1", "V2", "V3", "V4", "V5", "V6"}


def _planted_ids(city) -> set[str]:
    return {f for v in city.summary.violations if v.id in PLANTED for f in v.feature_ids}


def test_covers_comply_except_the_planted_pipes(city):
    # GB 50289 table 4.1.1 (RULES.md §4); wet utilities and direct-buried power also below frost depth
    minimum = {
        "footway": {
            Utility.water: 0.6,
            Utility.sewer: 0.6,
            Utility.storm: 0.6,
            Utility.reclaimed: 0.6,
            Utility.power: 0.7,
            Utility.telecom: 0.6,
            Utility.heat: 0.7,
            Utility.gas: 0.6,
        },
        "motor_lane": {
            Utility.water: 0.7,
            Utility.sewer: 0.7,
            Utility.storm: 0.7,
            Utility.reclaimed: 0.7,
            Utility.power: 1.0,
            Utility.telecom: 0.9,
            Utility.heat: 1.0,
            Utility.gas: 0.9,
        },
    }
    frost = city.store.city().frost_depth
    bad = set()
    for p in city.pipes:
        need = minimum["motor_lane" if p.lane and p.lane.value == "motor_lane" else "footway"][p.utility]
        if p.utility in (Utility.water, Utility.sewer, Utility.storm, Utility.reclaimed, Utility.power):
            need = max(need, frost)
        if _cover(p, city.terrain).min() < need - 1e-9:
            bad.add(p.id)
    assert bad == {"P-WAT-V1", "P-GAS-V2"}


def _required_vertical(up: PipeSegment, lo: PipeSegment) -> float:
    """GB 50289 table 4.1.14 (RULES.md §4): 0.40 between water or reclaimed water and a drain, 0.25
    for cables in conduits, 0.15 otherwise."""
    pair = {up.utility, lo.utility}
    if pair & {Utility.sewer, Utility.storm} and pair & {Utility.water, Utility.reclaimed}:
        return 0.40
    if pair & {Utility.power, Utility.telecom}:
        return 0.25
    return 0.15


def test_crossings_keep_the_order_and_clearance_except_the_planted_ones(city):
    # every crossing keeps the order with at least 0.25 m more than the table asks
    bad = {
        (up.id, lo.id)
        for up, lo, _, clear in _crossings(city.pipes)
        if clear < _required_vertical(up, lo) + 0.25 - 1e-6
    }
    assert bad == {
        ("P-GAS-V4", city.summary.violations[3].feature_ids[1]),
        (city.summary.violations[4].feature_ids[1], "P-SEW-V5"),
    }


def test_horizontal_clearances_except_the_planted_ones(city):
    # GB 50289 table 4.1.9, sewer/storm row: water d <= 200 1.0, d > 200 1.5; buildings 2.5
    drains = [p for p in city.pipes if p.utility in (Utility.sewer, Utility.storm)]
    water = [p for p in city.pipes if p.utility == Utility.water]
    wl = [shapely.LineString(p.coords()[:, :2]) for p in water]
    tree = shapely.STRtree(wl)
    bad = set()
    for d in drains:
        dl = shapely.LineString(d.coords()[:, :2])
        for k in tree.query(dl, predicate="dwithin", distance=3.0):
            if dl.intersects(wl[k]):
                continue  # a crossing: vertical clearance applies
            need = 1.5 if water[k].diameter > 0.2 else 1.0
            if dl.distance(wl[k]) - _half(d) - _half(water[k]) < need:
                bad.add((d.id, water[k].id))
    assert bad == {tuple(city.summary.violations[2].feature_ids)}
    shapes = [shapely.Polygon(b.footprint[0]) for b in city.buildings]
    btree = shapely.STRtree(shapes)
    near = set()
    for d in drains:
        dl = shapely.LineString(d.coords()[:, :2])
        for k in btree.query(dl, predicate="dwithin", distance=2.5 + _half(d)):
            near.add((d.id, city.buildings[k].id))
    assert near == {tuple(city.summary.violations[5].feature_ids)}


def test_each_planted_violation_has_its_documented_value(city):
    v = {x.id: x for x in city.summary.violations}
    assert 6 <= len(v) <= 10 and {"V7", "V8"} <= set(v)
    for vid in ("V1", "V2"):
        (pid,) = v[vid].feature_ids
        cov = _cover(city.pipe[pid], city.terrain)
        assert np.allclose(cov, v[vid].measured, atol=1e-6) and v[vid].measured < v[vid].required
        assert city.pipe[pid].lane.value == "motor_lane"
    sewer, main = (city.pipe[i] for i in v["V3"].feature_ids)
    gap = shapely.LineString(sewer.coords()[:, :2]).distance(shapely.LineString(main.coords()[:, :2]))
    assert gap - _half(sewer) - _half(main) == pytest.approx(0.60, abs=1e-6) and main.diameter > 0.2
    gas, wat = (city.pipe[i] for i in v["V4"].feature_ids)
    pt = _crossing_point(gas, wat)
    signed = (_z_at(gas, pt) + gas.outer_height / 2) - (_z_at(wat, pt) - wat.outer_height / 2)  # gas crown - invert
    assert (gas.utility, wat.utility) == (Utility.gas, Utility.water)
    assert signed == pytest.approx(v["V4"].measured, abs=1e-6) and signed < 0  # the gas passes below
    assert -signed >= v["V4"].required  # the gap itself is wide enough: only the order is wrong
    sew, wat = (city.pipe[i] for i in v["V5"].feature_ids)
    pt = _crossing_point(sew, wat)
    clear = (_z_at(wat, pt) - wat.outer_height / 2) - (_z_at(sew, pt) + sew.outer_height / 2)
    assert clear == pytest.approx(v["V5"].measured, abs=1e-6) and clear < v["V5"].required
    pipe, bld = v["V6"].feature_ids
    b = next(x for x in city.buildings if x.id == bld)
    gap = shapely.Polygon(b.footprint[0]).distance(shapely.LineString(city.pipe[pipe].coords()[:, :2]))
    assert gap - _half(city.pipe[pipe]) == pytest.approx(1.50, abs=1e-6)
    branch = next(s for s in city.structures if s.id == v["V7"].feature_ids[0])
    contents = [set(c.contents) for c in branch.compartments]
    assert any({Utility.heat, Utility.power} <= c for c in contents)  # GB 50838 §4.3.6
    assert any(Utility.gas in c and len(c) > 1 for c in contents)  # §4.3.4
    main_tunnel = next(s for s in city.structures if s.id == "U-UTL-1")
    for c in main_tunnel.compartments:  # the main tunnel complies
        assert not (Utility.gas in c.contents and len(c.contents) > 1)
        assert not {Utility.heat, Utility.power} <= set(c.contents)
        assert not (Utility.power in c.contents and (c.voltage_kv or 0) >= 110 and Utility.telecom in c.contents)
    doc = README.read_text(encoding="utf-8")
    for x in city.summary.violations:
        assert x.id in doc and all(f in doc for f in x.feature_ids if f.startswith(("P-", "U-", "B-"))), x.id


# -- underground -----------------------------------------------------------------------------------
def test_basements_sit_under_their_buildings(city):
    by_id = {b.id: b for b in city.buildings}
    for s in city.structures:
        if s.footprint is not None:
            assert s.bottom_elevation < s.top_elevation
        if s.kind != StructureKind.basement or s.building_id is None:
            continue
        b = by_id[s.building_id]
        assert s.top_elevation == b.ground_elevation
        levels = (s.top_elevation - s.bottom_elevation) / b.floors_below
        assert 3.6 - 1e-3 <= levels <= 4.0 + 1e-3
        assert shapely.Polygon(s.footprint[0]).buffer(1e-6).contains(shapely.Polygon(b.footprint[0]))
    with_basement = {s.building_id for s in city.structures if s.building_id}
    assert {b.id for b in city.buildings if b.floors_below > 0} == with_basement
    assert sum(s.kind == StructureKind.civil_defence for s in city.structures) >= 2


def test_metro(city):
    tunnels = [s for s in city.structures if s.kind == StructureKind.tunnel]
    stations = [s for s in city.structures if s.kind == StructureKind.station]
    assert len(tunnels) == 6 and len(stations) == 2
    for t in tunnels:
        c = np.asarray(t.centreline)
        depth = city.terrain.sample(c[:, :2]) - c[:, 2]
        assert t.section == "circular" and t.width == 6.2 and 14.0 <= depth.min() and depth.max() <= 21.0
    for s in stations:
        fp = shapely.Polygon(s.footprint[0])
        x0, y0, x1, y1 = fp.bounds
        assert (x1 - x0, y1 - y0) == pytest.approx((200.0, 21.0))
        ground = city.terrain.sample(shapely.get_coordinates(fp.centroid))[0]
        assert ground - s.bottom_elevation == pytest.approx(24.0, abs=1e-3)
        for p in city.pipes:  # the roof slab passes under every pipe above it
            c = p.coords()
            inside = shapely.contains_xy(fp, c[:, 0], c[:, 1])
            if inside.any():
                assert (c[inside, 2] - p.outer_height / 2).min() > s.top_elevation, p.id


def test_utility_tunnel(city):
    main = next(s for s in city.structures if s.id == "U-UTL-1")
    assert (main.section, main.width, main.section_height) == ("box", 8.0, 3.5)
    c = np.asarray(main.centreline)
    top_depth = city.terrain.sample(c[:, :2]) - (c[:, 2] + 3.5 / 2)
    assert np.allclose(top_depth, 3.0, atol=1e-3)
    assert [set(x.contents) for x in main.compartments] == [
        {Utility.water, Utility.reclaimed, Utility.telecom},
        {Utility.power},
        {Utility.gas},
        {Utility.heat},
    ]
    # no pipe runs inside either tunnel's box
    for t in (s for s in city.structures if s.kind == StructureKind.utility_tunnel):
        axis = shapely.LineString([p[:2] for p in t.centreline])
        box = axis.buffer(t.width / 2, cap_style="flat")
        zlo = min(p[2] for p in t.centreline) - t.section_height / 2
        zhi = max(p[2] for p in t.centreline) + t.section_height / 2
        for p in city.pipes:
            c = p.coords()
            inside = shapely.contains_xy(box, c[:, 0], c[:, 1])
            if inside.any():
                z = c[inside, 2]
                assert ((z + p.outer_height / 2 < zlo) | (z - p.outer_height / 2 > zhi)).all(), (t.id, p.id)


# -- LiDAR -----------------------------------------------------------------------------------------
def test_las_file(city):
    las = laspy.read(city.summary.las_path)
    h = las.header
    assert str(h.version) == "1.4" and h.point_format.id == 6
    assert np.allclose(h.scales, 0.001)
    assert h.parse_crs().to_epsg() == 4550
    cls = np.asarray(las.classification)
    assert set(np.unique(cls)) == {2, 6}
    assert {2: int((cls == 2).sum()), 6: int((cls == 6).sum())} == city.summary.las_points
    xyz = np.column_stack([las.x, las.y, las.z])
    ground = xyz[cls == 2]
    assert np.abs(city.terrain.sample(ground[:, :2]) - ground[:, 2]).max() < 0.1
    x0, y0, x1, y1 = city.summary.bounds
    assert ground[:, 0].min() >= x0 and ground[:, 0].max() <= x1 and ground[:, 1].min() >= y0
    roofs = xyz[cls == 6]
    shapes = [shapely.Polygon(b.footprint[0]) for b in city.buildings]
    pi, bi = shapely.STRtree(shapes).query(shapely.points(roofs[:, :2]), predicate="intersects")
    assert len(np.unique(pi)) == len(roofs)  # every roof point is on a building
    top = np.array([b.roof_elevation for b in city.buildings])[bi]
    base = np.array([b.ground_elevation for b in city.buildings])[bi]
    assert (roofs[pi, 2] <= top + 0.002).all() and (roofs[pi, 2] > base).all()
