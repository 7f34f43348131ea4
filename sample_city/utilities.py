"""The pipe network: eight utilities under every street, a riverside interceptor and outfalls.

Layout (see ``layout.SECTION``): every street carries each utility once, on a fixed side.  N-S
pipes run through the crossroads; an E-W pipe of a given block span joins the N-S pipe of the
same utility at one end only (east-side utilities at the span's west end, west-side utilities at
its east end) and stops 2 m short of the red line at the other end.  An E-W pipe therefore
crosses only N-S pipes that lie on its own side and nearer the building line, and those are
always shallower (the depth on each side increases inwards, in GB 50289 §4.1.12 order):

====================  ==========  ==========================================
utility               cover (m)   max outer height -> bottom depth (m)
====================  ==========  ==========================================
telecom (conduit)     1.00        0.15 -> 1.15
power (duct bank)     1.30        0.40 -> 1.70
heat (twin, casing)   1.65        0.70 -> 2.35
gas                   2.25        0.30 -> 2.55
reclaimed             2.75        0.30 -> 3.05
water                 2.95        0.50 -> 3.45
sewer (gravity)       >= 3.70     crown falls >= 0.2 %
storm (gravity)       >= 4.10
====================  ==========  ==========================================

so every crossing keeps the order telecom, power, gas, heat, water, reclaimed, storm, sewer
with at least 0.25 m more than the vertical clearance of table 4.1.14 (cables taken as in
conduit, 0.25 m; 0.50 m even if taken as direct-buried), except the planted violations
(violations.py).  Pressure pipes and cables keep a constant cover: their
vertices lie on every DEM grid line, where the bilinear DEM is linear, so the cover is exact
everywhere along them.  Sewers and storm drains fall towards the river; N-S collectors take the
laterals (crown to crown) and carry on through the riverside park: storm drains to outfalls at
the river bank, sewers into the Xi River interceptor, which runs east and leaves by an outfall.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from cim.model import LaneType, NodeKind, PipeNode, PipeSegment, Utility
from cim.terrain import Terrain

from .layout import (
    DEM_CELL,
    EW_STREETS,
    NS_STREETS,
    OUTFALL_OFFSET,
    SIZE,
    Street,
    origin,
    river_centre,
)

U = Utility
COVER = {U.telecom: 1.00, U.power: 1.30, U.heat: 1.65, U.gas: 2.25, U.reclaimed: 2.75, U.water: 2.95}
MIN_COVER = {U.storm: 4.10, U.sewer: 3.70}  # gravity pipes: crown at least this deep in the streets
PARK_COVER = 1.5  # storm outfalls and the interceptor's outfall leg towards the bank
SLOPE_LATERAL, SLOPE_COLLECTOR, SLOPE_TRUNK = 0.002, 0.002, 0.001
MANHOLE_SPACING = 50.0
DEAD_END = 2.0  # E-W pipes stop this far short of the crossing street's red line
INTERCEPTOR_V, INTERCEPTOR_U = 365.0, (60.0, 1960.0)
INTERCEPTOR_GAP = 0.40  # storm outfalls pass this far above the interceptor (table 4.1.14: 0.15)
CODE = {
    U.water: "WAT",
    U.reclaimed: "REC",
    U.sewer: "SEW",
    U.storm: "STM",
    U.gas: "GAS",
    U.heat: "HEA",
    U.power: "PWR",
    U.telecom: "TEL",
}
ZH = {
    U.water: "给水",
    U.reclaimed: "再生水",
    U.sewer: "污水",
    U.storm: "雨水",
    U.gas: "燃气",
    U.heat: "热力",
    U.power: "电力",
    U.telecom: "通信",
}
PRESSURE_UTILS = (U.telecom, U.power, U.heat, U.gas, U.reclaimed, U.water)
# N-S collector diameters, span by span from the north edge (index = laterals joined upstream)
COLLECTOR_D = {
    (U.storm, True): (0.8, 0.8, 1.0, 1.0, 1.0, 1.2, 1.2, 1.2, 1.2),
    (U.storm, False): (0.6, 0.6, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0, 1.0),
    (U.sewer, True): (0.5, 0.5, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0, 1.0),
    (U.sewer, False): (0.4, 0.4, 0.5, 0.5, 0.6, 0.6, 0.8, 0.8, 0.8),
}
LATERAL_D = {(U.storm, True): 0.8, (U.storm, False): 0.6, (U.sewer, True): 0.5, (U.sewer, False): 0.4}
PARK_STORM_D = {True: 1.5, False: 1.0}  # storm outfalls below the interceptor


@dataclass
class Section:
    """Outer section of a pipe: a diameter, or a box (width x height)."""

    diameter: float | None = None
    width: float | None = None
    height: float | None = None

    @property
    def outer_height(self) -> float:
        return float(self.diameter if self.diameter is not None else self.height)

    @property
    def half_width(self) -> float:
        return float(self.diameter if self.diameter is not None else self.width) / 2

    def fields(self) -> dict:
        if self.diameter is not None:
            return {"diameter": self.diameter}
        return {"width": self.width, "section_height": self.height}

    def label(self) -> str:
        if self.diameter is not None:
            return f"DN{round(self.diameter * 1000)}"
        return f"{round(self.width * 1000)}x{round(self.height * 1000)}"


@dataclass
class Node:
    id: str
    kind: NodeKind
    utility: Utility
    x: float  # local metres
    y: float
    attrs: dict = field(default_factory=dict)
    inverts: list[float] = field(default_factory=list)  # absolute invert elevations of pipe ends here
    sizes: list[float] = field(default_factory=list)
    crown_cap: float = math.inf  # gravity: the crown of a lateral ending here (collector must not be higher)
    ground: float = math.nan


@dataclass
class Seg:
    utility: Utility
    pts: np.ndarray  # (n, 3): local x, local y, absolute z of the axis
    section: Section
    a: Node
    b: Node
    lane: LaneType
    name: str
    year: int
    material: str
    pressure_class: str | None = None
    in_conduit: bool = False
    attrs: dict = field(default_factory=dict)
    id: str = ""


def _ts(a: float, b: float, extra: list[float]) -> np.ndarray:
    """Along-axis vertex positions from a to b: the ends, every DEM grid line and ``extra``."""
    lo, hi = min(a, b), max(a, b)
    grid = DEM_CELL * np.arange(math.floor(lo / DEM_CELL) + 1, math.ceil(hi / DEM_CELL))
    ex = [e for e in extra if lo + 1e-6 < e < hi - 1e-6]
    t = np.unique(np.round(np.concatenate([[lo, hi], grid, ex]), 6))
    return t if a <= b else t[::-1]


def _path(corners: list[tuple[float, float]], extra: list[tuple[float, float]]) -> np.ndarray:
    """Vertices (n, 2) along axis-aligned legs through ``corners``, with DEM lines and ``extra`` points."""
    out: list[np.ndarray] = []
    for (xa, ya), (xb, yb) in pairwise(corners):
        if xa == xb:
            t = _ts(ya, yb, [p[1] for p in extra if abs(p[0] - xa) < 1e-6])
            leg = np.column_stack([np.full(len(t), xa), t])
        else:
            t = _ts(xa, xb, [p[0] for p in extra if abs(p[1] - ya) < 1e-6])
            leg = np.column_stack([t, np.full(len(t), ya)])
        out.append(leg if not out else leg[1:])
    return np.vstack(out)


def _index(xy: np.ndarray, x: float, y: float) -> int:
    hit = np.flatnonzero((np.abs(xy[:, 0] - x) < 1e-6) & (np.abs(xy[:, 1] - y) < 1e-6))
    if len(hit) != 1:
        raise AssertionError(f"node ({x}, {y}) is not a vertex of its path")
    return int(hit[0])


def _park_cover(xy: np.ndarray) -> np.ndarray:
    """Storm collectors: street cover, and PARK_COVER past the interceptor on the way to the bank."""
    return np.where(xy[:, 1] < INTERCEPTOR_V - 1e-6, PARK_COVER, MIN_COVER[U.storm])


def _spaced(a: float, b: float, spacing: float) -> list[float]:
    """Interior points splitting [a, b] into equal parts no longer than ``spacing``."""
    n = math.ceil(abs(b - a) / spacing - 1e-9)
    return [round(a + (b - a) * k / n, 1) for k in range(1, n)]


class Network:
    """Builds the network in local coordinates; :meth:`features` returns the cim features."""

    def __init__(self, terrain: Terrain, seed: int) -> None:
        self.terrain = terrain
        self.seed = seed
        self.nodes: dict[tuple, Node] = {}
        self.segs: list[Seg] = []
        self._n: dict[str, int] = {}
        self.storm_caps: dict[tuple[float, float], float] = {}  # interceptor crossings -> max crown
        self.sections: dict[tuple[str, Utility], Section] = {}
        self.years: dict[str, int] = {}
        self.pressure: dict[str, str] = {}
        for s in NS_STREETS + EW_STREETS:
            self._street_setup(s)

    # -- helpers -------------------------------------------------------------------------------
    def _street_setup(self, s: Street) -> None:
        rng = np.random.default_rng([self.seed, 2, int(s.at), s.axis == "ns"])
        self.years[s.code] = int(rng.integers(1985, 2011)) if s.main else int(rng.integers(1980, 2016))
        ns = s.axis == "ns"
        m = s.main
        self.sections.update(
            {
                (s.code, U.water): Section((0.5 if ns else 0.4) if m else float(rng.choice([0.2, 0.3]))),
                (s.code, U.reclaimed): Section(0.3 if m else 0.2),
                (s.code, U.gas): Section(0.3 if m else float(rng.choice([0.15, 0.2]))),
                (s.code, U.heat): Section((0.7 if ns else 0.6) if m else float(rng.choice([0.3, 0.4]))),
                (s.code, U.power): Section(width=0.8, height=0.4) if m else Section(0.15),
                (s.code, U.telecom): Section(0.15 if m else 0.1),
            }
        )
        self.pressure[s.code] = "medium" if m else "low"

    def ground(self, xy: np.ndarray) -> np.ndarray:
        x0, y0 = origin()
        return self.terrain.sample(np.asarray(xy, dtype=float) + np.array([x0, y0]))

    def node(self, util: Utility, x: float, y: float, kind: NodeKind, **attrs) -> Node:
        key = (util, round(x, 3), round(y, 3))
        n = self.nodes.get(key)
        if n is None:
            code = CODE[util]
            self._n[code] = self._n.get(code, 0) + 1
            n = Node(f"N-{code}-{self._n[code]:05d}", kind, util, float(x), float(y), dict(attrs))
            self.nodes[key] = n
        return n

    def _add(self, seg: Seg) -> Seg:
        code = CODE[seg.utility]
        self._n["P" + code] = self._n.get("P" + code, 0) + 1
        seg.id = f"P-{code}-{self._n['P' + code]:05d}"
        self.segs.append(seg)
        return seg

    def _year(self, street: Street, util: Utility) -> int:
        rng = np.random.default_rng([self.seed, 3, int(street.at), street.axis == "ns", list(U).index(util)])
        return min(2024, self.years[street.code] + int(rng.integers(0, 12)))

    @staticmethod
    def _material(util: Utility, sec: Section, pressure: str | None) -> str:
        d = sec.diameter or 0.0
        return {
            U.water: "ductile_iron" if d >= 0.3 else "PE",
            U.reclaimed: "ductile_iron",
            U.sewer: "reinforced_concrete" if d >= 0.6 else "HDPE",
            U.storm: "reinforced_concrete",
            U.gas: "steel" if pressure == "medium" else "PE",
            U.heat: "preinsulated_steel",
            U.power: "concrete_duct_bank" if sec.diameter is None else "MPP_conduit",
            U.telecom: "steel_conduit",
        }[util]

    def _crossings_ns(self) -> list[float]:
        return [e.at + e.offset(u) for e in EW_STREETS for u in U]

    @staticmethod
    def _crossings_ew(*streets: Street | None) -> list[float]:
        return [s.at + s.offset(u) for s in streets if s is not None for u in U]

    # -- pressure pipes and cables -------------------------------------------------------------
    def _pressure_run(self, util: Utility, street: Street, xy: np.ndarray, stops: list[Node]) -> None:
        """One straight run split at ``stops`` (nodes in path order, first and last at the ends)."""
        sec = self.sections[(street.code, util)]
        g = self.ground(xy)
        z = g - COVER[util] - sec.outer_height / 2
        pts = np.column_stack([xy, z])
        idx = [_index(xy, n.x, n.y) for n in stops]
        pressure = self.pressure[street.code] if util == U.gas else None
        for (i, a), (j, b) in pairwise(zip(idx, stops, strict=True)):
            self._add(
                Seg(
                    util,
                    pts[i : j + 1],
                    sec,
                    a,
                    b,
                    LaneType(street.lane(util)),
                    f"{street.name.split(' ')[0]} {ZH[util]} {sec.label()}",
                    self._year(street, util),
                    self._material(util, sec, pressure),
                    pressure,
                    util in (U.power, U.telecom),
                    {"street": street.name},
                )
            )
            for n in (a, b):
                n.inverts.append(float(g[_index(xy, n.x, n.y)] - COVER[util] - sec.outer_height))
                n.sizes.append(sec.outer_height)

    def _dead_end(self, util: Utility, x: float, y: float) -> Node:
        kind = {U.water: NodeKind.hydrant, U.power: NodeKind.junction, U.telecom: NodeKind.junction}.get(
            util, NodeKind.valve
        )
        return self.node(util, x, y, kind, end="dead_end")

    def _valves(self, util: Utility, stops: list[Node]) -> list[Node]:
        """Water and gas: a line valve halfway between consecutive stops more than 60 m apart."""
        if util not in (U.water, U.gas):
            return stops
        out = [stops[0]]
        for a, b in pairwise(stops):
            if abs(b.x - a.x) + abs(b.y - a.y) > 60:
                mx, my = round((a.x + b.x) / 2, 1), round((a.y + b.y) / 2, 1)
                out.append(self.node(util, mx, my, NodeKind.valve, role="line_valve"))
            out.append(b)
        return out

    def pressure_ns(self) -> None:
        for s in NS_STREETS:
            for util in PRESSURE_UTILS:
                x = s.at + s.offset(util)
                stops = [self.node(util, x, e.at + e.offset(util), NodeKind.junction) for e in EW_STREETS]
                stops.append(self.node(util, x, SIZE, NodeKind.junction, boundary=True))
                stops = self._valves(util, stops)
                xy = _path(
                    [(x, stops[0].y), (x, SIZE)], [(x, t) for t in self._crossings_ns()] + [(n.x, n.y) for n in stops]
                )
                self._pressure_run(util, s, xy, stops)

    def _ew_span(self, util: Utility, e: Street, west: Street | None, east: Street | None) -> tuple[Node, Node]:
        """Start (west) and end (east) node of an E-W pipe between two N-S streets (None: district edge)."""
        y = e.at + e.offset(util)
        joint = NodeKind.manhole if util in MIN_COVER else NodeKind.junction

        def dead_end(x: float) -> Node:
            if util in MIN_COVER:
                return self.node(util, x, y, NodeKind.manhole, end="dead_end")
            return self._dead_end(util, x, y)

        east_side = e.offset(util) > 0  # joins at the west end, else at the east end
        if west is None:
            a = self.node(util, 0.0, y, joint, boundary=True)
        else:
            a = (
                self.node(util, west.at + west.offset(util), y, joint)
                if east_side
                else dead_end(west.at + west.half_width + DEAD_END)
            )
        if east is None:
            b = self.node(util, SIZE, y, joint, boundary=True)
        else:
            b = (
                dead_end(east.at - east.half_width - DEAD_END)
                if east_side
                else self.node(util, east.at + east.offset(util), y, joint)
            )
        return a, b

    @staticmethod
    def _spans() -> list[tuple[Street | None, Street | None]]:
        ns: list[Street | None] = [None, *NS_STREETS, None]
        return list(pairwise(ns))

    def pressure_ew(self) -> None:
        for e in EW_STREETS:
            for west, east in self._spans():
                for util in PRESSURE_UTILS:
                    a, b = self._ew_span(util, e, west, east)
                    stops = self._valves(util, [a, b])
                    xy = _path(
                        [(a.x, a.y), (b.x, b.y)],
                        [(t, a.y) for t in self._crossings_ew(west, east)] + [(n.x, n.y) for n in stops],
                    )
                    self._pressure_run(util, e, xy, stops)

    # -- gravity pipes ---------------------------------------------------------------------------
    def _gravity(
        self,
        util: Utility,
        corners: list[tuple[float, float]],
        stops: list[Node],
        diam: list[float],
        slope: float,
        c_min: Callable[[np.ndarray], np.ndarray] | None,
        extra: list[tuple[float, float]],
        street: Street | None,
        name: str,
        lane: LaneType,
        year: int,
        caps: dict[tuple[float, float], float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A gravity path in flow order.  ``stops``: nodes in flow order (first and last at the ends);
        ``diam[k]``: diameter between stops k and k+1; ``c_min(xy)``: least cover at the vertices;
        ``caps``: highest crown allowed at some vertices.  The crown falls at least ``slope`` and
        keeps the cover: crown_i = min over j <= i of (bound_j - slope * (s_i - s_j)).
        Returns the path's vertices (n, 2) and crown elevations (n,)."""
        xy = _path(corners, extra + [(n.x, n.y) for n in stops])
        g = self.ground(xy)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        bound = g - (np.full(len(xy), MIN_COVER[util]) if c_min is None else c_min(xy))
        idx = [_index(xy, n.x, n.y) for n in stops]
        for i, n in zip(idx, stops, strict=True):
            bound[i] = min(bound[i], n.crown_cap)
        for (cx, cy), cap in (caps or {}).items():
            i = _index(xy, cx, cy)
            bound[i] = min(bound[i], cap)
        crown = np.minimum.accumulate(bound + slope * s) - slope * s
        for k, ((i, a), (j, b)) in enumerate(pairwise(zip(idx, stops, strict=True))):
            d = diam[k]
            sec = Section(d)
            pts = np.column_stack([xy[i : j + 1], crown[i : j + 1] - d / 2])
            self._add(
                Seg(
                    util,
                    pts,
                    sec,
                    a,
                    b,
                    lane,
                    f"{name} {ZH[util]} {sec.label()}",
                    year,
                    self._material(util, sec, None),
                    None,
                    False,
                    {"street": street.name} if street is not None else {},
                )
            )
            a.inverts.append(float(crown[i] - d))
            b.inverts.append(float(crown[j] - d))
            a.sizes.append(d)
            b.sizes.append(d)
        return xy, crown

    def laterals(self) -> None:
        """E-W sewers and storm drains, each span on its own, flowing to the end that joins a collector."""
        for e in EW_STREETS:
            for west, east in self._spans():
                for util in (U.storm, U.sewer):
                    a, b = self._ew_span(util, e, west, east)
                    # storm (north side) flows west to the collector at the span's west end, sewer
                    # (south side) east; the edge spans drain across the district boundary.
                    up, down = (b, a) if util == U.storm else (a, b)
                    mids = _spaced(up.x, down.x, MANHOLE_SPACING)
                    stops = [up] + [self.node(util, x, up.y, NodeKind.manhole) for x in mids] + [down]
                    d = LATERAL_D[(util, e.main)]
                    _, crown = self._gravity(
                        util,
                        [(up.x, up.y), (down.x, down.y)],
                        stops,
                        [d] * (len(stops) - 1),
                        SLOPE_LATERAL,
                        None,
                        [(t, up.y) for t in self._crossings_ew(west, east)],
                        e,
                        e.name.split(" ")[0],
                        LaneType(e.lane(util)),
                        self._year(e, util),
                    )
                    down.crown_cap = min(down.crown_cap, float(crown[-1]))

    def collectors(self) -> None:
        """N-S collectors from the north edge through the riverside road into the park."""
        for s in NS_STREETS:
            for util in (U.storm, U.sewer):
                x = s.at + s.offset(util)
                joins = [self.node(util, x, e.at + e.offset(util), NodeKind.manhole) for e in reversed(EW_STREETS)]
                top = self.node(util, x, SIZE, NodeKind.manhole, boundary=True)
                if util == U.storm:
                    end = self.node(
                        util,
                        x,
                        round(float(river_centre(x)) + OUTFALL_OFFSET, 1),
                        NodeKind.outfall,
                        receiving_water="细河 (Xi River)",
                    )
                else:
                    end = self.node(util, x, INTERCEPTOR_V, NodeKind.manhole)
                hard = [top, *joins, end]
                stops: list[Node] = [top]
                diam: list[float] = []
                d_up = d_cross = 0.0
                for k, (a, b) in enumerate(pairwise(hard)):
                    if k >= 1:  # a lateral joined at ``a``
                        d_up = max(d_up, LATERAL_D[(util, EW_STREETS[len(EW_STREETS) - k].main)])
                    d = d_up = max(COLLECTOR_D[(util, s.main)][k], d_up)
                    if util == U.storm and b is end:
                        # through the park: manholes 10 m either side of the interceptor, wider below it
                        ys = [INTERCEPTOR_V + 10, INTERCEPTOR_V - 10]
                        ys += _spaced(INTERCEPTOR_V - 10, b.y, MANHOLE_SPACING)
                        ds = [d, d] + [max(d, PARK_STORM_D[s.main])] * (len(ys) - 1)
                        d_cross = d
                    else:
                        ys = _spaced(a.y, b.y, MANHOLE_SPACING)
                        ds = [d] * (len(ys) + 1)
                    stops += [self.node(util, x, y, NodeKind.manhole) for y in ys] + [b]
                    diam += ds
                extra = [(x, t) for t in self._crossings_ns()] + [(x, INTERCEPTOR_V)]
                xy, crown = self._gravity(
                    util,
                    [(x, SIZE), (x, end.y)],
                    stops,
                    diam,
                    SLOPE_COLLECTOR,
                    _park_cover if util == U.storm else None,
                    extra,
                    s,
                    s.name.split(" ")[0],
                    LaneType(s.lane(util)),
                    self._year(s, util),
                )
                if util == U.storm:  # the interceptor must pass under this outfall
                    i = _index(xy, x, INTERCEPTOR_V)
                    self.storm_caps[(x, INTERCEPTOR_V)] = float(crown[i] - d_cross - INTERCEPTOR_GAP)
                else:
                    end.crown_cap = min(end.crown_cap, float(crown[-1]))

    def interceptor(self) -> None:
        """The Xi River interceptor: west to east along the park, then south to its outfall."""
        u0, u1 = INTERCEPTOR_U
        v = INTERCEPTOR_V
        outfall_v = round(float(river_centre(u1)) + OUTFALL_OFFSET, 1)
        joins = sorted((n for (ut, _, _), n in self.nodes.items() if ut == U.sewer and n.y == v), key=lambda n: n.x)
        start = self.node(U.sewer, u0, v, NodeKind.manhole)
        corner = self.node(U.sewer, u1, v, NodeKind.manhole)
        end = self.node(
            U.sewer,
            u1,
            outfall_v,
            NodeKind.outfall,
            receiving_water="细河 (Xi River)",
            note="interceptor overflow / to the wastewater plant downstream",
        )
        hard = [start, *joins, corner, end]
        stops: list[Node] = [start]
        diam: list[float] = []
        for a, b in pairwise(hard):
            if a.y == b.y:  # manholes keep 6 m from the storm outfalls passing overhead
                xs = []
                for x in _spaced(a.x, b.x, MANHOLE_SPACING):
                    near = [cx for cx, _ in self.storm_caps if abs(x - cx) < 6.0]
                    if near:
                        x = near[0] - 6.0 if x < near[0] else near[0] + 6.0
                    if a.x + 3.0 < x < b.x - 3.0:
                        xs.append(round(x, 1))
                mids = [self.node(U.sewer, x, v, NodeKind.manhole) for x in sorted(set(xs))]
            else:
                mids = [self.node(U.sewer, u1, y, NodeKind.manhole) for y in _spaced(a.y, b.y, MANHOLE_SPACING)]
            stops += mids + [b]
            diam += [1.0 if a.x < SIZE / 2 else 1.2] * (len(mids) + 1)

        def cover(xy: np.ndarray) -> np.ndarray:  # the outfall leg runs down the bank
            return np.where(xy[:, 1] < v - 1e-6, PARK_COVER, MIN_COVER[U.sewer])

        self._gravity(
            U.sewer,
            [(u0, v), (u1, v), (u1, outfall_v)],
            stops,
            diam,
            SLOPE_TRUNK,
            cover,
            list(self.storm_caps),
            None,
            "细河截污干管 (Xi River interceptor)",
            LaneType.green,
            2008,
            caps=self.storm_caps,
        )

    def build(self) -> Network:
        self.pressure_ns()
        self.pressure_ew()
        self.laterals()
        self.collectors()
        self.interceptor()
        return self

    # -- features --------------------------------------------------------------------------------
    def features(self) -> tuple[list[PipeSegment], list[PipeNode]]:
        x0, y0 = origin()
        nodes = sorted(self.nodes.values(), key=lambda n: n.id)
        g = self.ground(np.array([[n.x, n.y] for n in nodes]))
        out_nodes = []
        for n, gz in zip(nodes, g.tolist(), strict=True):
            n.ground = gz
            dmax = max(n.sizes) if n.sizes else 0.0
            diameter = None
            if n.kind == NodeKind.manhole:
                diameter = 1.0 if dmax <= 0.6 else (1.25 if dmax <= 1.0 else 1.5)
            elif n.kind == NodeKind.valve:
                diameter = 1.2
            depth = round(gz - min(n.inverts), 3) if n.inverts else None
            out_nodes.append(
                PipeNode(
                    id=n.id,
                    kind=n.kind,
                    utility=n.utility,
                    position=(round(x0 + n.x, 3), round(y0 + n.y, 3), gz),
                    depth=depth,
                    diameter=diameter,
                    attributes=n.attrs,
                )
            )
        pipes = []
        for sg in self.segs:
            pts = sg.pts + np.array([x0, y0, 0.0])
            pipes.append(
                PipeSegment(
                    id=sg.id,
                    name=sg.name,
                    utility=sg.utility,
                    centreline=[(round(px, 3), round(py, 3), pz) for px, py, pz in pts.tolist()],
                    **sg.section.fields(),
                    pressure_class=sg.pressure_class,
                    material=sg.material,
                    year=sg.year,
                    lane=sg.lane,
                    from_node=sg.a.id,
                    to_node=sg.b.id,
                    in_conduit=sg.in_conduit,
                    attributes=sg.attrs,
                )
            )
        return pipes, out_nodes


def build_network(terrain: Terrain, seed: int) -> Network:
    return Network(terrain, seed).build()
