"""Planted rule violations: a handful of features that break one rule each, by a known amount.

Each is placed where nothing else is near it (mid-block, away from crossroads), so that the
violation is the only one it causes; everywhere else the network keeps its clearances with a
margin of at least 0.25 m (utilities.py).  Values are measured as the tests measure them:

* cover = ground - (axis z + outer height / 2) at the pipe's vertices (constant along the pipe);
* horizontal clearance = plan distance between centre lines - both outer half-widths (or, for a
  building, the distance from the footprint to the centre line - the pipe's half-width);
* vertical clearance at a crossing = bottom of the upper pipe - top of the lower pipe, and the
  "signed" clearance of V4 is gas crown - water invert (negative: the gas pipe is below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from cim.model import Building, LaneType, NodeKind, PipeNode, PipeSegment, Utility
from cim.terrain import Terrain

from .layout import DEM_CELL, ew_street, ns_street, origin
from .plans import Plan
from .underground import BRANCH_ID
from .utilities import COVER, Network

U = Utility


@dataclass(frozen=True)
class PlantedViolation:
    """One planted violation: which features, which rule, and the measured vs required value."""

    id: str
    feature_ids: tuple[str, ...]
    rule: str  # standard and clause, with the RULES.md section
    description: str
    measured: float | None  # metres (None for a compartment rule)
    required: float | None
    comparison: str  # how measured must relate to required: ">=", "above", "not together"


def _grid_ts(a: float, b: float, extra: tuple[float, ...] = ()) -> np.ndarray:
    lo, hi = min(a, b), max(a, b)
    t = np.arange(np.floor(lo / DEM_CELL) + 1, np.ceil(hi / DEM_CELL)) * DEM_CELL
    t = np.unique(np.round(np.concatenate([[lo, hi], t, [e for e in extra if lo < e < hi]]), 6))
    return t if a <= b else t[::-1]


class _Planter:
    def __init__(self, terrain: Terrain) -> None:
        self.terrain = terrain
        self.x0, self.y0 = origin()
        self.pipes: list[PipeSegment] = []
        self.nodes: list[PipeNode] = []

    def ground(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.terrain.sample(np.column_stack([u + self.x0, v + self.y0]))

    def pipe(
        self,
        pid: str,
        util: Utility,
        u: np.ndarray,
        v: np.ndarray,
        z: np.ndarray,
        kinds: tuple[NodeKind, NodeKind],
        node_d: float | None,
        name: str,
        lane: LaneType,
        **kw,
    ) -> PipeSegment:
        g = self.ground(u, v)
        h = kw.get("diameter") or kw.get("section_height")
        ends = []
        for k, i in enumerate((0, -1)):
            nid = f"N-{pid[2:]}{'AB'[k]}"
            self.nodes.append(
                PipeNode(
                    id=nid,
                    kind=kinds[k],
                    utility=util,
                    position=(round(self.x0 + u[i], 3), round(self.y0 + v[i], 3), float(g[i])),
                    depth=round(float(g[i] - (z[i] - h / 2)), 3),
                    diameter=node_d,
                    attributes={"planted": True},
                )
            )
            ends.append(nid)
        p = PipeSegment(
            id=pid,
            name=name,
            utility=util,
            lane=lane,
            from_node=ends[0],
            to_node=ends[1],
            centreline=[
                (round(self.x0 + a, 3), round(self.y0 + b, 3), float(c)) for a, b, c in zip(u, v, z, strict=True)
            ],
            attributes={"planted": True},
            **kw,
        )
        self.pipes.append(p)
        return p


def plant(
    net: Network, plans: list[Plan], buildings: list[Building], terrain: Terrain, avoid: list[shapely.Geometry]
) -> tuple[list[PipeSegment], list[PipeNode], list[PlantedViolation]]:
    """The planted pipes and nodes, and the records of all planted violations (V7 and V8 live in
    the branch utility tunnel built by underground.py).  ``avoid``: footprints V6 keeps 3 m from."""
    pl = _Planter(terrain)
    out: list[PlantedViolation] = []
    frost = 1.2

    # V1: a water main at 0.45 m cover in the centre of 建设大路 (motor lane)
    e = ew_street(800.0)
    u = _grid_ts(570.0, 630.0)
    v = np.full(len(u), e.at)
    d = 0.3
    z = pl.ground(u, v) - 0.45 - d / 2
    p = pl.pipe(
        "P-WAT-V1",
        U.water,
        u,
        v,
        z,
        (NodeKind.valve, NodeKind.valve),
        1.2,
        f"{e.name.split(' ')[0]} 临时给水管 (temporary water main) DN300",
        LaneType.motor_lane,
        diameter=d,
        material="PE",
        year=2023,
    )
    out.append(
        PlantedViolation(
            "V1",
            (p.id,),
            "GB 50289-2016 table 4.1.1 and §4.1.1 frost depth (RULES.md §4)",
            "water main under a motor lane with 0.45 m cover (min 0.70; frost depth 1.20 governs)",
            0.45,
            max(0.70, frost),
            ">=",
        )
    )

    # V2: a low-pressure gas pipe at 0.60 m cover in the centre of 细河北路 (motor lane)
    e = ew_street(400.0)
    u = _grid_ts(1570.0, 1630.0)
    v = np.full(len(u), e.at)
    d = 0.15
    z = pl.ground(u, v) - 0.60 - d / 2
    p = pl.pipe(
        "P-GAS-V2",
        U.gas,
        u,
        v,
        z,
        (NodeKind.valve, NodeKind.valve),
        1.2,
        f"{e.name.split(' ')[0]} 燃气支管 (gas branch) DN150",
        LaneType.motor_lane,
        diameter=d,
        pressure_class="low",
        material="PE",
        year=2022,
    )
    out.append(
        PlantedViolation(
            "V2",
            (p.id,),
            "GB 50289-2016 table 4.1.1 (RULES.md §4)",
            "gas pipe under a motor lane with 0.60 m cover (min 0.90)",
            0.60,
            0.90,
            ">=",
        )
    )

    # V3: a sewer laid 0.60 m (clear) beside the DN500 water main of 卫工街
    s = ns_street(500.0)
    water = net.sections[(s.code, U.water)]
    d = 0.4
    x = s.at + s.offset(U.water) - water.half_width - 0.60 - d / 2
    v = _grid_ts(1070.0, 1030.0)
    u = np.full(len(v), x)
    g = pl.ground(u, v)
    crown = np.minimum.accumulate((g - 2.0) + 0.003 * (1070.0 - v)) - 0.003 * (1070.0 - v)
    p = pl.pipe(
        "P-SEW-V3",
        U.sewer,
        u,
        v,
        crown - d / 2,
        (NodeKind.manhole, NodeKind.manhole),
        0.7,
        f"{s.name.split(' ')[0]} 污水支管 (sewer branch) DN400",
        LaneType.motor_lane,
        diameter=d,
        material="HDPE",
        year=2021,
    )
    wid = _pipe_at(net, U.water, s.at + s.offset(U.water), 1050.0)
    out.append(
        PlantedViolation(
            "V3",
            (p.id, wid),
            "GB 50289-2016 table 4.1.9, sewer/storm row (RULES.md §4)",
            f"sewer 0.60 m (clear) beside water main DN{round(water.diameter * 1000)} (> 200 mm: min 1.50)",
            0.60,
            1.50,
            ">=",
        )
    )

    # V4: an old gas service crossing 0.30 m BELOW the water main of 建设大路
    e = ew_street(800.0)
    water = net.sections[(e.code, U.water)]
    yw = e.at + e.offset(U.water)
    d = 0.1
    v = _grid_ts(e.at + 12.0, e.at + 15.8, (yw,))
    u = np.full(len(v), 1370.0)
    g = pl.ground(u, v)
    water_invert = g - COVER[U.water] - water.outer_height  # the main keeps a constant cover
    crown = water_invert - 0.30
    p = pl.pipe(
        "P-GAS-V4",
        U.gas,
        u,
        v,
        crown - d / 2,
        (NodeKind.valve, NodeKind.junction),
        None,
        f"{e.name.split(' ')[0]} 废弃燃气引入管 (old gas service) DN100",
        LaneType.footway,
        diameter=d,
        pressure_class="low",
        material="steel",
        year=1996,
    )
    wid = _pipe_at(net, U.water, 1370.0, yw)
    out.append(
        PlantedViolation(
            "V4",
            (p.id, wid),
            "GB 50289-2016 §4.1.12 vertical order (RULES.md §4)",
            "gas pipe crosses 0.30 m below a water main (gas must pass above water, table 4.1.14: >= 0.15 m)",
            -0.30,
            0.15,
            "above",
        )
    )

    # V5: a sewer crossing 0.05 m under the DN500 water main of 云峰街
    s = ns_street(1700.0)
    water = net.sections[(s.code, U.water)]
    xw = s.at + s.offset(U.water)
    d = 0.4
    u = _grid_ts(xw + 1.5, xw - 2.0, (xw,))
    v = np.full(len(u), 700.0)
    g = pl.ground(u, v)
    iw = int(np.flatnonzero(np.abs(u - xw) < 1e-6)[0])
    crown_w = float(g[iw] - COVER[U.water] - water.outer_height - 0.05)
    crown = crown_w - 0.005 * (np.abs(u - u[0]) - abs(xw - u[0]))
    p = pl.pipe(
        "P-SEW-V5",
        U.sewer,
        u,
        v,
        crown - d / 2,
        (NodeKind.manhole, NodeKind.manhole),
        0.7,
        f"{s.name.split(' ')[0]} 污水连管 (sewer connection) DN400",
        LaneType.footway,
        diameter=d,
        material="HDPE",
        year=2020,
    )
    wid = _pipe_at(net, U.water, xw, 700.0)
    out.append(
        PlantedViolation(
            "V5",
            (p.id, wid),
            "GB 50289-2016 table 4.1.14, sewer/storm row (RULES.md §4)",
            "sewer crosses 0.05 m under a water main (min 0.40)",
            0.05,
            0.40,
            ">=",
        )
    )

    # V6: a compound sewer 1.50 m (clear) from the north wall of a slab block
    pv6, bid = _v6(pl, plans, buildings, avoid)
    out.append(
        PlantedViolation(
            "V6",
            (pv6.id, bid),
            "GB 50289-2016 table 4.1.9, sewer/storm row (RULES.md §4)",
            "sewer 1.50 m (clear) from a building (min 2.50)",
            1.50,
            2.50,
            ">=",
        )
    )

    out.append(
        PlantedViolation(
            "V7",
            (BRANCH_ID,),
            "GB 50838-2015 §4.3.6 (RULES.md §5)",
            "heat pipes share the 热电舱 compartment with power cables",
            None,
            None,
            "not together",
        )
    )
    out.append(
        PlantedViolation(
            "V8",
            (BRANCH_ID,),
            "GB 50838-2015 §4.3.4 (RULES.md §5)",
            "natural gas shares the 综合舱 compartment with water and telecom",
            None,
            None,
            "not together",
        )
    )
    return pl.pipes, pl.nodes, out


def _pipe_at(net: Network, util: Utility, u: float, v: float) -> str:
    """Id of the network segment of ``util`` passing through local point (u, v)."""
    for s in net.segs:
        if s.utility != util:
            continue
        xy = s.pts[:, :2]
        lo, hi = xy.min(axis=0) - 1e-6, xy.max(axis=0) + 1e-6
        if lo[0] <= u <= hi[0] and lo[1] <= v <= hi[1]:
            return s.id
    raise LookupError(f"no {util} pipe at ({u}, {v})")


def _v6(
    pl: _Planter, plans: list[Plan], buildings: list[Building], avoid: list[shapely.Geometry]
) -> tuple[PipeSegment, str]:
    """The first six-or-more-storey slab whose north side leaves room for the pipe alone."""
    shapes = [shapely.Polygon(b.footprint[0]) for b in buildings]
    tree = shapely.STRtree(shapes)
    avoid_tree = shapely.STRtree(avoid)
    d = 0.3
    for k, (p, b) in enumerate(zip(plans, buildings, strict=True)):
        if p.kind != "slab" or not p.is_rect or p.year < 2000:
            continue
        x0, y0, x1, y1 = p.bbox
        if x1 - x0 < 40:
            continue
        yv = y1 + 1.5 + d / 2
        line = shapely.LineString([(pl.x0 + x0 + 4, pl.y0 + yv), (pl.x0 + x1 - 4, pl.y0 + yv)])
        near = [i for i in tree.query(line, predicate="dwithin", distance=5.0 + d / 2) if i != k]
        if near or len(avoid_tree.query(line, predicate="dwithin", distance=3.0)):
            continue
        u = _grid_ts(x1 - 4, x0 + 4)
        v = np.full(len(u), yv)
        g = pl.ground(u, v)
        s = x1 - 4 - u
        crown = np.minimum.accumulate((g - 1.6) + 0.005 * s) - 0.005 * s
        pipe = pl.pipe(
            "P-SEW-V6",
            U.sewer,
            u,
            v,
            crown - d / 2,
            (NodeKind.manhole, NodeKind.manhole),
            0.7,
            f"{p.name or b.id} 北侧污水支管 (compound sewer) DN300",
            LaneType.green,
            diameter=d,
            material="HDPE",
            year=2019,
        )
        return pipe, b.id
    raise LookupError("no slab for V6")
