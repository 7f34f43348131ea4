"""Underground structures: basements, compound garages, civil-defence shelters, metro, utility tunnels.

* Basements under towers, large public and commercial buildings: the building's footprint (super
  tall towers: a podium 6 m wider, within the block), top at the building's ground elevation,
  ``floors_below`` levels of 3.6 m (residential) or 4.0 m (others).
* Compound garages (one level) between tower rows, and civil-defence shelters (2 m of soil cover,
  6 m high) under two school playgrounds and the central park.
* Metro line 1 (示范段) under 北二路 (local v = 1200 m): twin circular running tunnels (6.2 m, axes
  7 m either side of the road centre, 16-20 m deep) and two 3-level station boxes (200 x 21 m,
  bottom 24 m below ground, roof slab under every pipe above it).
* The utility tunnel (综合管廊) in the centre band of 勋工街 (local u = 1300 m), 8 x 3.5 m, top 3 m
  below ground, and a deeper branch under 沈辽路 that dives under the crossing pipes; the branch
  carries the two planted compartment violations (violations.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from cim.model import Building, Compartment, PipeNode, PipeSegment, StructureKind, UndergroundStructure, Utility
from cim.terrain import Terrain

from .layout import SIZE, blocks, origin
from .plans import Plan, global_ring, rect

U = Utility
LEVEL = {True: 3.6, False: 4.0}  # basement level height, residential / others
PODIUM = 6.0
METRO_V, METRO_HALF_SPACING, METRO_D = 1200.0, 7.0, 6.2
STATIONS = ((400.0, "启工街站 (Qigong St station)"), (1000.0, "重工街站 (Zhonggong St station)"))
STATION_LEN, STATION_W, STATION_BOTTOM = 200.0, 21.0, 24.0
UTIL_TUNNEL_U, UTIL_TUNNEL_V = 1300.0, (430.0, 1640.0)
BRANCH_V, BRANCH_U = 1600.0, (1304.0, 1470.0)
BRANCH_ID = "U-UTL-2"


@dataclass(frozen=True)
class StationBox:
    id: str
    name: str
    top_depth: float  # metres below the lowest ground over the box
    bottom_depth: float


def _ground(terrain: Terrain, xy: np.ndarray) -> np.ndarray:
    x0, y0 = origin()
    return terrain.sample(np.atleast_2d(np.asarray(xy, dtype=float)) + np.array([x0, y0]))


def basements(
    plans: list[Plan],
    buildings: list[Building],
    garages: list[Plan],
    terrain: Terrain,
    civil: list[tuple[str, tuple[float, float, float, float]]],
) -> list[UndergroundStructure]:
    out = []
    reds = [shapely.box(*b.red) for b in blocks()]
    for p, b in zip(plans, buildings, strict=True):
        if p.basement is None or p.floors_below == 0:
            continue
        ring = b.footprint[0]
        if p.basement == "podium":
            x0, y0, x1, y1 = p.bbox
            red = next(r for r in reds if r.contains(shapely.Point((x0 + x1) / 2, (y0 + y1) / 2)))
            rx0, ry0, rx1, ry1 = red.bounds
            ring = global_ring(
                rect(max(x0 - PODIUM, rx0), max(y0 - PODIUM, ry0), min(x1 + PODIUM, rx1), min(y1 + PODIUM, ry1))
            )
        top = b.ground_elevation
        out.append(
            UndergroundStructure(
                id="U-BSM-" + b.id[2:],
                name=f"{b.name} 地下室" if b.name else None,
                kind=StructureKind.basement,
                footprint=[ring],
                top_elevation=top,
                bottom_elevation=round(top - p.floors_below * LEVEL[p.use == "residential"], 3),
                building_id=b.id,
                year=b.year_built,
                attributes={"levels": p.floors_below},
            )
        )
    for g in garages:
        ring = global_ring(g.ring)
        top = float(_ground(terrain, [shapely.Polygon(g.ring).centroid.coords[0]])[0])
        out.append(
            UndergroundStructure(
                id=g.bid,
                name=g.name,
                kind=StructureKind.basement,
                footprint=[ring],
                top_elevation=top,
                bottom_elevation=round(top - LEVEL[True] - 0.2, 3),
                year=g.year,
                attributes={"levels": 1},
            )
        )
    for k, (name, r) in enumerate(civil):
        corners = np.array([[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]]])
        top = round(float(_ground(terrain, corners).min()) - 2.0, 3)
        out.append(
            UndergroundStructure(
                id=f"U-CDF-{k + 1}",
                name=name,
                kind=StructureKind.civil_defence,
                footprint=[global_ring(rect(*r))],
                top_elevation=top,
                bottom_elevation=round(top - 6.0, 3),
                year=1998 + 5 * k,
                attributes={"protection_class": "6"},
            )
        )
    return out


def _deepest_below(
    pipes: list[PipeSegment], nodes: list[PipeNode], box: shapely.Polygon, terrain: Terrain, margin: float = 5.0
) -> float:
    """Lowest pipe bottom or chamber floor (absolute elevation) within ``box`` (city CRS) + margin."""
    area = box.buffer(margin)
    lows = [np.inf]
    for p in pipes:
        c = p.coords()
        inside = shapely.contains_xy(area, c[:, 0], c[:, 1])
        if inside.any():
            lows.append(float((c[inside, 2] - p.outer_height / 2).min()))
    for n in nodes:
        if area.contains(shapely.Point(n.position[:2])):
            lows.append(n.position[2] - (n.depth or 0.0))
    return min(lows)


def metro(
    pipes: list[PipeSegment], nodes: list[PipeNode], terrain: Terrain
) -> tuple[list[UndergroundStructure], list[StationBox]]:
    x0, y0 = origin()
    out: list[UndergroundStructure] = []
    infos: list[StationBox] = []
    walls: list[tuple[float, float, float]] = []  # (u west wall, u east wall, tunnel axis z at the walls)
    for k, (uc, name) in enumerate(STATIONS):
        ua, ub = uc - STATION_LEN / 2, uc + STATION_LEN / 2
        va, vb = METRO_V - STATION_W / 2, METRO_V + STATION_W / 2
        ring = global_ring(rect(ua, va, ub, vb))
        box = shapely.Polygon(ring)
        gx = np.arange(ua, ub + 0.1, 5.0)
        g = _ground(terrain, np.column_stack([np.repeat(gx, 3), np.tile([va, METRO_V, vb], len(gx))]))
        top = min(float(g.min()) - 6.5, _deepest_below(pipes, nodes, box, terrain) - 1.0)
        g_c = float(_ground(terrain, [[uc, METRO_V]])[0])
        bottom = g_c - STATION_BOTTOM
        sid = f"U-MTR-ST{k + 1}"
        out.append(
            UndergroundStructure(
                id=sid,
                name=f"地铁1号线 {name}",
                kind=StructureKind.station,
                footprint=[ring],
                top_elevation=round(top, 3),
                bottom_elevation=round(bottom, 3),
                year=2010,
                attributes={"levels": 3, "line": "M1"},
            )
        )
        infos.append(StationBox(sid, name, round(float(g.min()) - top, 2), STATION_BOTTOM))
        walls.append((ua, ub, bottom + 4.0))
    # running tunnels between the district edges and the station walls
    legs = [
        (0.0, walls[0][0], None, walls[0][2]),
        (walls[0][1], walls[1][0], walls[0][2], walls[1][2]),
        (walls[1][1], SIZE, walls[1][2], None),
    ]
    lines = (("UP", METRO_HALF_SPACING, "上行 (eastbound)"), ("DN", -METRO_HALF_SPACING, "下行 (westbound)"))
    for side, dv, label in lines:
        for k, (ua, ub, za, zb) in enumerate(legs):
            u = np.unique(np.concatenate([np.arange(ua, ub, 20.0), [ub]]))
            um = (ua + ub) / 2
            ctrl_u = [ua, um, ub]
            ctrl_z = [
                za if za is not None else float(_ground(terrain, [[ua, METRO_V]])[0]) - 17.0,
                float(_ground(terrain, [[um, METRO_V]])[0]) - 16.0,
                zb if zb is not None else float(_ground(terrain, [[ub, METRO_V]])[0]) - 17.0,
            ]
            z = np.interp(u, ctrl_u, ctrl_z)
            line = [
                (round(x0 + uu, 3), round(y0 + METRO_V + dv, 3), round(float(zz), 3))
                for uu, zz in zip(u, z, strict=True)
            ]
            out.append(
                UndergroundStructure(
                    id=f"U-MTR-{side}-{k + 1}",
                    name=f"地铁1号线 {label} 区间 {k + 1}",
                    kind=StructureKind.tunnel,
                    centreline=line,
                    section="circular",
                    width=METRO_D,
                    year=2010,
                    attributes={"line": "M1"},
                )
            )
    return out, infos


def utility_tunnels(pipes: list[PipeSegment], terrain: Terrain) -> list[UndergroundStructure]:
    x0, y0 = origin()
    v = np.arange(UTIL_TUNNEL_V[0], UTIL_TUNNEL_V[1] + 0.1, 10.0)
    g = _ground(terrain, np.column_stack([np.full(len(v), UTIL_TUNNEL_U), v]))
    main = UndergroundStructure(
        id="U-UTL-1",
        name="勋工街综合管廊 (Xungong St utility tunnel)",
        kind=StructureKind.utility_tunnel,
        centreline=[
            (round(x0 + UTIL_TUNNEL_U, 3), round(y0 + vv, 3), round(float(gz) - 3.0 - 1.75, 3))
            for vv, gz in zip(v, g, strict=True)
        ],
        section="box",
        width=8.0,
        section_height=3.5,
        year=2019,
        compartments=[
            Compartment(name="综合舱 (general)", contents=[U.water, U.reclaimed, U.telecom], width=2.6, height=2.9),
            Compartment(name="电力舱 (power)", contents=[U.power], width=1.9, height=2.9, voltage_kv=110.0),
            Compartment(name="燃气舱 (gas)", contents=[U.gas], width=1.4, height=2.9),
            Compartment(name="热力舱 (heat)", contents=[U.heat], width=1.7, height=2.9),
        ],
        attributes={"top_depth": 3.0},
    )
    # the branch dives under the pipes it crosses at the crossroads of 勋工街 and 沈辽路
    ua, ub = BRANCH_U
    corridor = shapely.box(x0 + ua - 4, y0 + BRANCH_V - 8, x0 + ub, y0 + BRANCH_V + 8)
    need = 6.5
    for p in pipes:
        c = p.coords()
        inside = shapely.contains_xy(corridor, c[:, 0], c[:, 1])
        if inside.any():
            gz = terrain.sample(c[inside, :2])
            need = max(need, float((gz - (c[inside, 2] - p.outer_height / 2)).max()) + 1.0)
    top_depth = float(np.ceil(need * 10) / 10)
    u = np.unique(np.concatenate([np.arange(ua, ub, 10.0), [ub]]))
    g = _ground(terrain, np.column_stack([u, np.full(len(u), BRANCH_V)]))
    branch = UndergroundStructure(
        id=BRANCH_ID,
        name="沈辽路支线管廊 (Shenliao Rd branch tunnel)",
        kind=StructureKind.utility_tunnel,
        centreline=[
            (round(x0 + uu, 3), round(y0 + BRANCH_V, 3), round(float(gz) - top_depth - 1.5, 3))
            for uu, gz in zip(u, g, strict=True)
        ],
        section="box",
        width=5.0,
        section_height=3.0,
        year=2021,
        compartments=[
            Compartment(name="综合舱 (general)", contents=[U.water, U.telecom, U.gas], width=2.6, height=2.5),
            Compartment(
                name="热电舱 (heat and power)", contents=[U.heat, U.power], width=2.0, height=2.5, voltage_kv=10.0
            ),
        ],
        attributes={"top_depth": top_depth, "joins": "U-UTL-1"},
    )
    return [main, branch]
