"""Clash detection (碰撞检测, CJJ/T 315-2022 §4.3.3): pipes, underground structures and building parts in 3-D.

Every feature becomes solids (all held in numpy arrays):

* **swept pieces**: each straight piece of a pipe (circle of the outer diameter, or the box section) or of a
  tunnel / utility tunnel centreline (z = axis elevation);
* **prisms**: a plan polygon between a bottom and a top elevation: basements, civil-defence spaces,
  stations, manhole chambers (a 32-gon of the chamber's diameter from the cover down its depth), buildings
  (footprint, ground to roof) and, for BIM buildings (IFC), one prism per element: the plan convex hull
  of its triangles between their lowest and highest vertex (a building's derived below-ground structure
  is then left out: its elements stand for it).

Candidate pairs come from a shapely STRtree over the solids' plan boxes, each query box grown by the
largest clearance any rule could ask of that solid, then filtered on the vertical extents.  Each pair is
measured exactly, vectorised over all pairs:

* **swept / swept**: the 3-D distance between the two axes (closest points of two segments, clamped; numpy)
  less each section's extent towards the other (the radius of a circle; for a box, its support
  ``half_w·|u·s| + half_h·|u·up|`` along the unit vector u between the closest points).  Exact for circular
  sections; for boxes exact when u is vertical or horizontal-perpendicular.  A negative value is a **hard
  clash** (penetration = its opposite); otherwise a **clearance clash** when below the pipeline rules' value
  for the pair (GB 50289 table 4.1.14 when u is within 45° of vertical, table 4.1.9 otherwise).
* **swept / prism**: plan distance from the axis to the polygon (shapely) less the half width, and the
  vertical gap between the section's [z − half_h, z + half_h] at the closest point (or over the part of the
  axis inside the polygon) and the prism's [bottom, top].  Both overlapping: hard clash, penetration = the
  smaller way out (vertical or sideways); a horizontal gap with the heights overlapping is checked against
  the pipe-to-building clearance of table 4.1.9 (buildings, their parts and basements).
* **prism / prism**: plan overlap (area > 1 cm²) and vertical overlap: hard clash, penetration = the smaller
  of the vertical overlap and the width of the plan overlap (short side of its minimum rotated rectangle).

Not clashes: solids of one feature; a building with its own basement; pipes sharing a node; pipe pieces
sharing an end point (within 1 mm); a pipe and the chamber of its own end node.  Penetrations under 1 mm
are contact, not clashes.  One clash per pair of features (and parts): the deepest, or the closest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..errors import CIMError
from ..model import Building, PipeNode, PipeSegment, UndergroundStructure
from .compliance import BUILDING, PipeClass, PipelineRules, Threshold, _norm_pressure
from .params import CRS_DOC, Region, city_region, output_crs
from .registry import Analysis

CONTACT = 1e-3  # m: penetrations and shared end points within this are contact, not clashes
_PLAN_AREA = 1e-4  # m²: smaller plan overlaps of two prisms are contact
_CHAMBER_SIDES = 32


# -- the report -------------------------------------------------------------------------------------------------
class ClashEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="Feature id.")
    collection: str
    kind: str = Field(description="A utility for pipes, a structure or node kind, or 'building'.")
    part: str | None = Field(None, description="BIM element: 'IfcClass GlobalId' (name).")


class Clash(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["hard", "clearance"]
    a: ClashEnd
    b: ClashEnd
    location: tuple[float, float, float] = Field(
        description="Where: the middle of the closest points or of the overlap (x, y in the result's CRS, z)."
    )
    penetration: float | None = Field(None, description="Hard clash: how deep the solids overlap, metres.")
    distance: float | None = Field(None, description="Clearance clash: clear distance between the solids, metres.")
    required: float | None = Field(None, description="Clearance the rule asks for, metres.")
    direction: Literal["vertical", "horizontal"] | None = None
    rule: str | None = Field(None, description="Rule id in cim/rules/pipelines.toml (clearance clashes).")
    document: str | None = None
    clause: str | None = None
    confidence: str | None = None


class ClashReport(BaseModel):
    clashes: list[Clash]
    counts: dict[str, int] = Field(description="Clashes by type (hard, clearance).")
    features: int = Field(description="Features tested.")
    solids: int = Field(description="Solids tested (pipe pieces, prisms, BIM elements).")
    candidates: int = Field(description="Candidate pairs from the index.")

    def feature_collection(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection: one Point Z per clash (coordinates as in the report)."""
        feats = [
            {
                "type": "Feature",
                "id": f"{c.type}:{c.a.id}:{c.b.id}:{k}",
                "geometry": {"type": "Point", "coordinates": list(c.location)},
                "properties": c.model_dump(exclude={"location"}),
            }
            for k, c in enumerate(self.clashes)
        ]
        return {"type": "FeatureCollection", "features": feats, "counts": self.counts}


class ClashesFound(CIMError):
    """An import refused because its features clash with the city (``--reject-on-clash``)."""

    title = "Import refused: clashes"

    def __init__(self, report: ClashReport) -> None:
        worst = report.clashes[0]
        what = f"{worst.a.id} and {worst.b.id}" + (
            f" ({worst.penetration:.3f} m deep)" if worst.type == "hard" else f" ({worst.distance:.3f} m apart)"
        )
        super().__init__(
            f"The import clashes with the city: {report.counts.get('hard', 0)} hard and "
            f"{report.counts.get('clearance', 0)} clearance clashes, the first {worst.type}: {what}.",
            where={"clashes": len(report.clashes)},
        )
        self.report = report


# -- features as solids ---------------------------------------------------------------------------------------
@dataclass
class Bodies:
    """Features and their solids.  Owners: (n,) lists; swept pieces: (m, 3) ends ``a``, ``b`` and (m,) arrays;
    prisms: (k,) shapely polygons with (k,) bottom, top, owner and part index (-1: the whole feature)."""

    ids: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    classes: list[PipeClass | None] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # features that belong together share a group
    nodes: list[tuple[int, int]] = field(default_factory=list)  # node codes (pipes: ends; chambers: own)
    source: list[int] = field(default_factory=list)  # index of each owner's feature in the input
    parts: list[str] = field(default_factory=list)
    sa: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    sb: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    shw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scirc: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    sown: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ppoly: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    pbot: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ptop: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pown: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ppart: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_solids(self) -> int:
        return len(self.sown) + len(self.pown)

    @classmethod
    def of(cls, features: Iterable[BaseModel]) -> Bodies:
        """Solids of pipes, pipe nodes, underground structures and buildings (see the module docstring)."""
        feats = list(features)
        bim = {f.id for f in feats if isinstance(f, Building) and f.elements and f.surfaces}
        out = cls()
        codes: dict[str, int] = {}
        groups: dict[str, int] = {}

        def code(nid: str | None, k: int) -> int:
            return codes.setdefault(nid, len(codes)) if nid else -(2 * k + 1)

        def owner(fid: str, coll: str, kind: str, pc: PipeClass | None, grp: str, nodes: tuple[int, int]) -> int:
            out.ids.append(fid)
            out.collections.append(coll)
            out.kinds.append(kind)
            out.classes.append(pc)
            out.group.append(groups.setdefault(grp, len(groups)))
            out.nodes.append(nodes)
            out.source.append(here[0])
            return len(out.ids) - 1

        sw_pts: list[np.ndarray] = []
        sw_sec: list[tuple[float, float, bool, int]] = []
        pr: list[tuple[Any, float, float, int, int]] = []
        here = [0]  # the feature being read
        for src, f in enumerate(feats):
            here[0] = src
            n = len(out.ids)
            if isinstance(f, PipeSegment):
                size = float(f.diameter if f.diameter is not None else f.width)  # type: ignore[arg-type]
                pressure = _norm_pressure(f.pressure_class) or ("low" if f.utility.value == "gas" else None)
                pc = PipeClass(f.utility.value, size, pressure, bool(f.in_conduit))
                k = owner(f.id, "pipes", f.utility.value, pc, "p:" + f.id, (code(f.from_node, n), code(f.to_node, n)))
                sw_pts.append(f.coords())
                sw_sec.append((size / 2, f.outer_height / 2, f.diameter is not None, k))
            elif isinstance(f, UndergroundStructure):
                if f.building_id is not None and f.building_id in bim:
                    continue  # the BIM building's elements stand for its below-ground part
                grp = "b:" + f.building_id if f.building_id else "s:" + f.id
                pc = BUILDING if f.kind.value in ("basement", "civil_defence") else None
                k = owner(f.id, "underground-structures", f.kind.value, pc, grp, (code(None, n), code(None, n)))
                if f.centreline is not None:
                    c = np.asarray(f.centreline, dtype=float)
                    hh = (f.width if f.section == "circular" else f.section_height) / 2  # type: ignore[operator]
                    sw_pts.append(c)
                    sw_sec.append((f.width / 2, hh, f.section == "circular", k))  # type: ignore[operator]
                else:
                    poly = shapely.Polygon(f.footprint[0], f.footprint[1:])  # type: ignore[index]
                    pr.append((poly, f.bottom_elevation, f.top_elevation, k, -1))
            elif isinstance(f, PipeNode):
                if not f.diameter:
                    continue
                c = code(f.id, n)
                k = owner(f.id, "pipe-nodes", f.kind.value, None, "n:" + f.id, (c, c))
                x, y, z = f.position
                disc = shapely.Point(x, y).buffer(f.diameter / 2, quad_segs=_CHAMBER_SIDES // 4)
                pr.append((disc, z - (f.depth or 0.0), z, k, -1))
            elif isinstance(f, Building):
                k = owner(f.id, "buildings", "building", BUILDING, "b:" + f.id, (code(None, n), code(None, n)))
                if f.id in bim:
                    pr += _element_prisms(f, k, out.parts)
                else:
                    lo, hi = sorted((f.ground_elevation, f.roof_elevation))  # type: ignore[type-var]
                    pr.append((shapely.Polygon(f.footprint[0], f.footprint[1:]), lo, hi, k, -1))
        if sw_pts:
            npieces = np.array([len(c) - 1 for c in sw_pts])
            rep = np.repeat(np.arange(len(sw_pts)), npieces)
            sec = np.array(sw_sec, dtype=float)[rep]
            out.sa = np.concatenate([c[:-1] for c in sw_pts])
            out.sb = np.concatenate([c[1:] for c in sw_pts])
            out.shw, out.shh, out.scirc, out.sown = sec[:, 0], sec[:, 1], sec[:, 2].astype(bool), sec[:, 3].astype(int)
        if pr:
            polys = np.array([p[0] for p in pr], dtype=object)
            bad = ~shapely.is_valid(polys)
            if bad.any():
                polys[bad] = shapely.make_valid(polys[bad])
            out.ppoly = polys
            out.pbot = np.array([p[1] for p in pr], dtype=float)
            out.ptop = np.array([p[2] for p in pr], dtype=float)
            out.pown = np.array([p[3] for p in pr], dtype=np.int64)
            out.ppart = np.array([p[4] for p in pr], dtype=np.int64)
        return out


def _element_prisms(b: Building, k: int, parts: list[str]) -> list[tuple[Any, float, float, int, int]]:
    """One prism per BIM element with triangles: the plan convex hull of its vertices, lowest to highest."""
    label = {e.global_id: f"{e.ifc_class} {e.global_id}" + (f" ({e.name})" if e.name else "") for e in b.elements or []}
    spaces = {e.global_id for e in b.elements or [] if e.ifc_class == "IfcSpace"}
    names = sorted({s.part for s in b.surfaces or [] if s.part in label and s.part not in spaces})
    if not names:
        return []
    index = {n: i for i, n in enumerate(names)}
    pts, which = [], []
    for s in b.surfaces or []:
        i = index.get(s.part)  # type: ignore[arg-type]
        if i is not None:
            ring = s.rings[0]
            pts += ring
            which += [i] * len(ring)
    order = np.argsort(np.asarray(which), kind="stable")
    xyz = np.asarray(pts, dtype=float)[order]
    w = np.asarray(which)[order]
    hulls = shapely.convex_hull(shapely.multipoints(xyz[:, :2], indices=w))
    thin = shapely.area(hulls) < 1e-6
    if thin.any():
        hulls[thin] = shapely.buffer(hulls[thin], 1e-3)
    zlo = np.full(len(names), np.inf)
    zhi = np.full(len(names), -np.inf)
    np.minimum.at(zlo, w, xyz[:, 2])
    np.maximum.at(zhi, w, xyz[:, 2])
    base = len(parts)
    parts += [label[n] for n in names]
    return [(hulls[i], float(zlo[i]), float(zhi[i]), k, base + i) for i in range(len(names))]


# -- the rules ------------------------------------------------------------------------------------------------
class _Rules:
    """Pair thresholds and per-class search margins, cached by class."""

    def __init__(self, rules: PipelineRules) -> None:
        self.rules = rules
        self._pair: dict[tuple[str, int, int], Threshold | None] = {}
        self._pair_v: dict[tuple[str, PipeClass, PipeClass], Threshold | None] = {}
        self._margin: dict[PipeClass | None, float] = {}
        self._by_id: dict[int, float] = {}

    def pair(self, section: str, p: PipeClass | None, q: PipeClass | None) -> Threshold | None:
        if p is None or q is None or (p == BUILDING and q == BUILDING):
            return None
        key = (section, id(p), id(q))  # the classes outlive the search: identity first (cheap), then value
        if key in self._pair:
            return self._pair[key]
        vkey = (section, p, q)
        if vkey not in self._pair_v:
            self._pair_v[vkey] = self.rules.pair(section, p, q)
        self._pair[key] = self._pair_v[vkey]
        return self._pair[key]

    def margin(self, p: PipeClass | None) -> float:
        """The largest clearance any rule asks between ``p`` and anything."""
        if p is None:
            return 0.0
        hit = self._by_id.get(id(p))
        if hit is not None:
            return hit
        if p not in self._margin:
            vals = [
                t.value or 0.0
                for t in self.rules.section("horizontal") + self.rules.section("vertical")
                if t.a is not None and t.b is not None and (t.a.matches(p) or t.b.matches(p))
            ]
            self._margin[p] = max(vals, default=0.0)
        self._by_id[id(p)] = self._margin[p]
        return self._margin[p]


# -- geometry kernels (numpy, vectorised over pairs) -----------------------------------------------------------
def segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> tuple[np.ndarray, ...]:
    """Closest points of segments p1q1 and p2q2, (n, 3) each: returns (distance (n,), c1 (n, 3), c2 (n, 3))."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.einsum("ij,ij->i", d1, d1)
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = np.einsum("ij,ij->i", d1, r)
    b = np.einsum("ij,ij->i", d1, d2)
    eps = 1e-12
    a_ok, e_ok = a > eps, e > eps
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > eps * np.maximum(a * e, eps), np.clip((b * f - c * e) / denom, 0, 1), 0.0)
        t = np.where(e_ok, (b * s + f) / np.where(e_ok, e, 1), 0.0)
        lo, hi = t < 0, t > 1
        s = np.where(
            lo, np.clip(-c / np.where(a_ok, a, 1), 0, 1), np.where(hi, np.clip((b - c) / np.where(a_ok, a, 1), 0, 1), s)
        )
        t = np.clip(t, 0, 1)
    s = np.where(a_ok, s, 0.0)
    c1 = p1 + d1 * s[:, None]
    c2 = p2 + d2 * t[:, None]
    return np.linalg.norm(c1 - c2, axis=1), c1, c2


def _support(d: np.ndarray, u: np.ndarray, hw: np.ndarray, hh: np.ndarray, circ: np.ndarray) -> np.ndarray:
    """Extent of swept sections (axis direction ``d`` (n, 3)) along unit vectors ``u`` (n, 3), metres."""
    t = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    s = np.cross(t, np.array([0.0, 0.0, 1.0]))
    ns = np.linalg.norm(s, axis=1, keepdims=True)
    s = np.where(ns > 1e-9, s / np.maximum(ns, 1e-12), np.array([1.0, 0.0, 0.0]))
    up = np.cross(s, t)
    box = hw * np.abs(np.einsum("ij,ij->i", u, s)) + hh * np.abs(np.einsum("ij,ij->i", u, up))
    return np.where(circ, hw, box)


# -- detection -------------------------------------------------------------------------------------------------
def detect_clashes(
    bodies: Bodies,
    rules: PipelineRules | None = None,
    *,
    new: np.ndarray | None = None,
    clearance: bool = True,
) -> ClashReport:
    """Clashes among ``bodies``; with ``new`` ((n,) bool over the owners), only pairs with a new feature.

    Coordinates in the report are those of the bodies (the city CRS); see the module docstring for the method.
    """
    r = _Rules(rules or PipelineRules.load())
    n_own = len(bodies.ids)
    ms, mp = len(bodies.sown), len(bodies.pown)
    own = np.concatenate([bodies.sown, bodies.pown]).astype(np.int64)
    # boxes (x0, y0, z0, x1, y1, z1) of every solid: swept pieces first, then prisms
    box = np.zeros((ms + mp, 6))
    if ms:
        ext = np.column_stack([bodies.shw, bodies.shw, bodies.shh])
        box[:ms, :3] = np.minimum(bodies.sa, bodies.sb) - ext
        box[:ms, 3:] = np.maximum(bodies.sa, bodies.sb) + ext
    if mp:
        b2 = shapely.bounds(bodies.ppoly)
        box[ms:] = np.column_stack([b2[:, 0], b2[:, 1], bodies.pbot, b2[:, 2], b2[:, 3], bodies.ptop])
    report = ClashReport(clashes=[], counts={"hard": 0, "clearance": 0}, features=n_own, solids=ms + mp, candidates=0)
    if ms + mp == 0:
        return report
    query = np.arange(ms + mp) if new is None else np.flatnonzero(new[own])
    # the search margin of each querying solid: the largest clearance any rule asks of its feature
    q_own, inv = np.unique(own[query], return_inverse=True)
    classes = bodies.classes
    margin_q = np.array([r.margin(classes[o]) if clearance else 0.0 for o in q_own.tolist()])
    g = (margin_q[inv] if len(q_own) else np.zeros(0)) + CONTACT
    tree = shapely.STRtree(shapely.box(box[:, 0], box[:, 1], box[:, 3], box[:, 4]))
    q = box[query]
    qi, ti = tree.query(shapely.box(q[:, 0] - g, q[:, 1] - g, q[:, 3] + g, q[:, 4] + g))
    i, j = query[qi], ti
    # vertical extents, then pairs that may not clash by nature
    zg = g[qi]
    keep = (box[i, 2] - zg <= box[j, 5]) & (box[j, 2] - zg <= box[i, 5])
    oi, oj = own[i], own[j]
    grp = np.asarray(bodies.group)
    keep &= grp[oi] != grp[oj]
    nodes = np.asarray(bodies.nodes, dtype=np.int64).reshape(-1, 2)
    a_n, b_n = nodes[oi], nodes[oj]
    shared = (a_n[:, :1] == b_n).any(axis=1) | (a_n[:, 1:] == b_n).any(axis=1)
    keep &= ~shared
    if new is None:
        keep &= i < j
    else:  # new against old once, new against new once
        keep &= ~(new[oj] & (j < i))
    i, j = i[keep], j[keep]
    report.candidates = int(len(i))
    # order each pair: swept before prism
    swap = (i >= ms) & (j < ms)
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    rows: list[dict[str, Any]] = []
    ss = (i < ms) & (j < ms)
    sp = (i < ms) & (j >= ms)
    pp = (i >= ms) & (j >= ms)
    if ss.any():
        rows += _swept_swept(bodies, r, i[ss], j[ss], clearance)
    if sp.any():
        rows += _swept_prism(bodies, r, i[sp], j[sp] - ms, clearance)
    if pp.any():
        rows += _prism_prism(bodies, i[pp] - ms, j[pp] - ms)
    report.clashes = _best_per_pair(bodies, rows)
    report.counts = {
        "hard": sum(c.type == "hard" for c in report.clashes),
        "clearance": sum(c.type == "clearance" for c in report.clashes),
    }
    return report


def _swept_swept(bodies: Bodies, r: _Rules, i: np.ndarray, j: np.ndarray, clearance: bool) -> list[dict[str, Any]]:
    sa, sb = bodies.sa, bodies.sb
    # pieces meeting end to end are joined (a pipe into the next), not clashing
    ends = np.stack([sa[i], sb[i]], 1)[:, :, None, :] - np.stack([sa[j], sb[j]], 1)[:, None, :, :]
    joined = (np.linalg.norm(ends, axis=3) < CONTACT).any(axis=(1, 2))
    i, j = i[~joined], j[~joined]
    if not len(i):
        return []
    dist, c1, c2 = segment_distance(sa[i], sb[i], sa[j], sb[j])
    d = c1 - c2
    u = d / np.maximum(dist, 1e-12)[:, None]
    along = np.cross(sb[i] - sa[i], sb[j] - sa[j])  # axes that meet: separate across both
    na = np.linalg.norm(along, axis=1, keepdims=True)
    fallback = np.where(na > 1e-9, along / np.maximum(na, 1e-12), np.array([0.0, 0.0, 1.0]))
    u = np.where((dist > 1e-9)[:, None], u, fallback)
    hi = _support(sb[i] - sa[i], u, bodies.shw[i], bodies.shh[i], bodies.scirc[i])
    hj = _support(sb[j] - sa[j], u, bodies.shw[j], bodies.shh[j], bodies.scirc[j])
    gap = dist - hi - hj
    vertical = np.abs(u[:, 2]) >= np.sqrt(0.5)
    loc = (c1 - u * hi[:, None] + c2 + u * hj[:, None]) / 2  # the middle of the gap (or overlap) between the surfaces
    out = []
    oi, oj = bodies.sown[i], bodies.sown[j]
    for k in np.flatnonzero(gap < -CONTACT):
        out.append(_row("hard", oi[k], oj[k], -1, -1, loc[k], pen=-gap[k], vertical=vertical[k]))
    if clearance:
        for k in np.flatnonzero(gap >= -CONTACT):
            t = r.pair("vertical" if vertical[k] else "horizontal", bodies.classes[oi[k]], bodies.classes[oj[k]])
            if t is not None and t.value is not None and gap[k] < t.value - 1e-9:
                out.append(
                    _row("clearance", oi[k], oj[k], -1, -1, loc[k], dist=max(gap[k], 0.0), t=t, vertical=vertical[k])
                )
    return out


def _swept_prism(bodies: Bodies, r: _Rules, i: np.ndarray, j: np.ndarray, clearance: bool) -> list[dict[str, Any]]:
    a, b = bodies.sa[i], bodies.sb[i]
    seg = shapely.linestrings(np.stack([a[:, :2], b[:, :2]], 1).reshape(-1, 2), indices=np.repeat(np.arange(len(i)), 2))
    poly = bodies.ppoly[j]
    hw, hh = bodies.shw[i], bodies.shh[i]
    bot, top = bodies.pbot[j], bodies.ptop[j]
    dp = shapely.distance(seg, poly)
    dxy = b[:, :2] - a[:, :2]
    L2 = np.maximum(np.einsum("ij,ij->i", dxy, dxy), 1e-12)

    def z_at(pts: np.ndarray, rows: np.ndarray) -> np.ndarray:
        t = np.clip(np.einsum("ij,ij->i", pts - a[rows, :2], dxy[rows]) / L2[rows], 0, 1)
        return a[rows, 2] + t * (b[rows, 2] - a[rows, 2])

    zlo = np.empty(len(i))
    zhi = np.empty(len(i))
    loc = np.empty((len(i), 3))
    inside = dp <= 0
    if (~inside).any():
        rows = np.flatnonzero(~inside)
        near = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(seg[rows], poly[rows]), 0))
        z = z_at(near, rows)
        zlo[rows] = zhi[rows] = z
        loc[rows] = np.column_stack([near, z])
    if inside.any():
        rows = np.flatnonzero(inside)
        part = shapely.intersection(seg[rows], poly[rows])
        xy, which = shapely.get_coordinates(part, return_index=True)
        empty = np.setdiff1d(np.arange(len(rows)), which)
        if len(empty):  # touching at a point that GEOS did not return: the nearest point
            near = shapely.get_coordinates(
                shapely.get_point(shapely.shortest_line(seg[rows[empty]], poly[rows[empty]]), 0)
            )
            xy = np.concatenate([xy, near])
            which = np.concatenate([which, empty])
        z = z_at(xy, rows[which])
        lo = np.full(len(rows), np.inf)
        hi_ = np.full(len(rows), -np.inf)
        np.minimum.at(lo, which, z)
        np.maximum.at(hi_, which, z)
        sx = np.zeros((len(rows), 2))
        np.add.at(sx, which, xy)
        cnt = np.bincount(which, minlength=len(rows))
        zlo[rows], zhi[rows] = lo, hi_
        loc[rows] = np.column_stack([sx / np.maximum(cnt, 1)[:, None], (lo + hi_) / 2])
    # vertical: overlap of [zlo - hh, zhi + hh] with [bot, top]; horizontal: plan gap less the half width
    v_overlap = np.minimum(zhi + hh, top) - np.maximum(zlo - hh, bot)
    h = np.where(inside, -np.inf, dp - hw)
    hard = (v_overlap > CONTACT) & (h < -CONTACT)
    way_out_v = np.minimum(zhi + hh - bot, top - (zlo - hh))
    pen = np.where(inside, way_out_v, np.minimum(-h, way_out_v))
    out = []
    oi, oj, part = bodies.sown[i], bodies.pown[j], bodies.ppart[j]
    for k in np.flatnonzero(hard):
        out.append(_row("hard", oi[k], oj[k], -1, part[k], loc[k], pen=pen[k], vertical=bool(inside[k])))
    if clearance:
        for k in np.flatnonzero(~hard & (v_overlap > 0) & (h >= -CONTACT)):
            t = r.pair("horizontal", bodies.classes[oi[k]], bodies.classes[oj[k]])
            if t is not None and t.value is not None and h[k] < t.value - 1e-9:
                out.append(
                    _row("clearance", oi[k], oj[k], -1, part[k], loc[k], dist=max(h[k], 0.0), t=t, vertical=False)
                )
    return out


def _prism_prism(bodies: Bodies, i: np.ndarray, j: np.ndarray) -> list[dict[str, Any]]:
    v = np.minimum(bodies.ptop[i], bodies.ptop[j]) - np.maximum(bodies.pbot[i], bodies.pbot[j])
    rows = np.flatnonzero(v > CONTACT)
    if not len(rows):
        return []
    inter = shapely.intersection(bodies.ppoly[i[rows]], bodies.ppoly[j[rows]])
    area = shapely.area(inter)
    ok = area > _PLAN_AREA
    rows, inter = rows[ok], inter[ok]
    if not len(rows):
        return []
    rect = shapely.oriented_envelope(inter)
    ring = shapely.get_coordinates(shapely.get_exterior_ring(rect), return_index=True)
    xy, which = ring
    width = np.full(len(rows), np.inf)
    starts = np.searchsorted(which, np.arange(len(rows)))
    for k in range(len(rows)):  # short side of each rectangle (a ring of 5 points)
        p = xy[starts[k] : starts[k] + 3]
        if len(p) >= 3:
            width[k] = min(np.linalg.norm(p[1] - p[0]), np.linalg.norm(p[2] - p[1]))
    c = shapely.get_coordinates(shapely.centroid(inter))
    zlo = np.maximum(bodies.pbot[i[rows]], bodies.pbot[j[rows]])
    loc = np.column_stack([c, zlo + v[rows] / 2])
    pen = np.minimum(v[rows], width)
    out = []
    for k in np.flatnonzero(pen > CONTACT):
        ii, jj = i[rows[k]], j[rows[k]]
        out.append(
            _row(
                "hard",
                bodies.pown[ii],
                bodies.pown[jj],
                bodies.ppart[ii],
                bodies.ppart[jj],
                loc[k],
                pen=pen[k],
                vertical=bool(v[rows[k]] <= width[k]),
            )
        )
    return out


def _row(
    kind: str,
    oa: int,
    ob: int,
    pa: int,
    pb: int,
    loc: np.ndarray,
    *,
    pen: float | None = None,
    dist: float | None = None,
    t: Threshold | None = None,
    vertical: bool = False,
) -> dict[str, Any]:
    return {
        "type": kind,
        "oa": int(oa),
        "ob": int(ob),
        "pa": int(pa),
        "pb": int(pb),
        "loc": loc,
        "pen": pen,
        "dist": dist,
        "t": t,
        "vertical": bool(vertical),
    }


def _best_per_pair(bodies: Bodies, rows: list[dict[str, Any]]) -> list[Clash]:
    """One clash per (feature, part) pair: hard before clearance, deepest or closest first; sorted so."""
    best: dict[tuple[int, int, int, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["oa"], row["pa"], row["ob"], row["pb"])
        if (row["oa"], row["pa"]) > (row["ob"], row["pb"]):
            key = (row["ob"], row["pb"], row["oa"], row["pa"])
        score = (0, -row["pen"]) if row["type"] == "hard" else (1, row["dist"])
        if key not in best or score < best[key]["score"]:
            best[key] = {**row, "score": score}
    out = []
    for row in sorted(best.values(), key=lambda x: x["score"]):
        t: Threshold | None = row["t"]
        out.append(
            Clash(
                type=row["type"],
                a=_end(bodies, row["oa"], row["pa"]),
                b=_end(bodies, row["ob"], row["pb"]),
                location=tuple(round(float(x), 3) for x in row["loc"]),  # type: ignore[arg-type]
                penetration=None if row["pen"] is None else round(float(row["pen"]), 4),
                distance=None if row["dist"] is None else round(float(row["dist"]), 4),
                required=None if t is None else t.value,
                direction="vertical" if row["vertical"] else "horizontal",
                rule=None if t is None else t.id,
                document=None if t is None else t.document,
                clause=None if t is None else t.clause,
                confidence=None if t is None else t.confidence,
            )
        )
    return out


def _end(bodies: Bodies, o: int, p: int) -> ClashEnd:
    return ClashEnd(
        id=bodies.ids[o],
        collection=bodies.collections[o],
        kind=bodies.kinds[o],
        part=bodies.parts[p] if p >= 0 else None,
    )


# -- on a store: a region, or an import's new features against the city ----------------------------------------
CLASH_COLLECTIONS = ("pipes", "pipe-nodes", "underground-structures", "buildings")


def clashes_in(
    store: Any,
    polygon: shapely.Geometry,
    rules: PipelineRules | None = None,
    *,
    clearance: bool = True,
    zmin: float | None = None,
    zmax: float | None = None,
    since: int | None = None,
) -> ClashReport:
    """Clashes among the features of a region (city CRS polygon; optional z range).  With ``since`` (a version,
    :mod:`cim.versions`), only clashes involving a feature added or changed after that version."""
    from ..store.base import Region

    region = Region(polygon, zmin, zmax)
    feats = [f for cid in CLASH_COLLECTIONS for f in store.iter_features(cid, region=region)]
    if since is None:
        return detect_clashes(Bodies.of(feats), rules, clearance=clearance)
    from ..collections import collection_of
    from ..versions import diff, latest

    changed = diff(store, since, latest(store), CLASH_COLLECTIONS)
    fresh = {(cid, i) for cid, ch in changed.items() for i in ch.added + ch.changed}
    bodies = Bodies.of(feats)
    is_new = np.array([(collection_of(f), f.id) in fresh for f in feats], dtype=bool)
    new = is_new[np.asarray(bodies.source, dtype=np.int64)] if bodies.source else np.zeros(0, bool)
    return detect_clashes(bodies, rules, new=new, clearance=clearance)


def clashes_of_new(
    store: Any,
    features: Sequence[BaseModel],
    rules: PipelineRules | None = None,
    *,
    replace: bool = False,
    clearance: bool = True,
) -> ClashReport:
    """Clashes of features about to be written against the store's features near them and among themselves.

    With ``replace``, stored features with the ids of new ones are left out (they are being replaced).
    """
    from ..collections import COLLECTIONS, collection_of
    from ..store.base import Region

    cand = [f for f in features if isinstance(f, PipeSegment | PipeNode | UndergroundStructure | Building)]
    if not cand:
        return ClashReport(clashes=[], counts={"hard": 0, "clearance": 0}, features=0, solids=0, candidates=0)
    r = rules or PipelineRules.load()
    reach = max(
        [_Rules(r).margin(BUILDING)] + [t.value or 0.0 for t in r.section("horizontal") + r.section("vertical")]
    )
    bounds = np.array([COLLECTIONS[collection_of(f)].bounds(f) for f in cand], dtype=float)
    plan = shapely.union_all(shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 3], bounds[:, 4])).buffer(
        reach + 1.0, join_style="mitre"
    )
    region = Region(plan, float(bounds[:, 2].min()) - reach - 1.0, float(bounds[:, 5].max()) + reach + 1.0)
    new_ids = {(collection_of(f), f.id) for f in cand}
    old = [
        f
        for cid in CLASH_COLLECTIONS
        for f in store.iter_features(cid, region=region)
        if not (replace and (cid, f.id) in new_ids)
    ]
    bodies = Bodies.of(list(cand) + old)
    new = np.asarray(bodies.source, dtype=np.int64) < len(cand)
    return detect_clashes(bodies, r, new=new, clearance=clearance)


# -- the registered analysis -----------------------------------------------------------------------------------
class ClashRequest(BaseModel):
    """``POST /analysis/clashes``: clashes among the pipes, structures and buildings of a region."""

    model_config = ConfigDict(extra="forbid")
    region: Region = Field(description="GeoJSON Polygon or MultiPolygon in ``crs``.")
    crs: str | None = Field(None, description=CRS_DOC)
    clearance: bool = Field(True, description="Also report clearance clashes (closer than the pipeline rules ask).")
    rules: dict[str, float] | None = Field(
        None, description="Overrides of cim/rules/pipelines.toml values: {rule id: metres}."
    )
    z_min: float | None = Field(None, description="Only solids reaching above this elevation, metres.")
    z_max: float | None = Field(None, description="Only solids reaching below this elevation, metres.")
    since: int | None = Field(
        None, ge=0, description="A version: only clashes of features added or changed after it (version pair)."
    )


def _run(city: Any, req: ClashRequest) -> ClashReport:
    polygon = city_region(city, req.region, req.crs)
    rules = PipelineRules.load(overrides=req.rules)
    report = clashes_in(
        city.store, polygon, rules, clearance=req.clearance, zmin=req.z_min, zmax=req.z_max, since=req.since
    )
    out = output_crs(city, req.crs)
    if report.clashes:
        loc = np.array([c.location for c in report.clashes], dtype=float)
        xy = out.xy(loc[:, :2])
        for c, p, z in zip(report.clashes, xy, loc[:, 2], strict=True):
            c.location = (round(float(p[0]), 8), round(float(p[1]), 8), float(z))
    return report


def _geojson(result: ClashReport, request: ClashRequest) -> str:
    import json

    return json.dumps(result.feature_collection(), ensure_ascii=False)


ANALYSIS = Analysis(
    id="clashes",
    title="Clash detection",
    description="Hard clashes (solids intersect) and clearance clashes (closer than GB 50289's clearances) among "
    "the pipes, pipe chambers, underground structures, buildings and BIM building elements of a region, in 3-D; "
    "each with both features, the location, the penetration or distance and the rule.",
    request=ClashRequest,
    result=ClashReport,
    run=_run,
    keywords=("clash", "碰撞检测", "BIM", "pipes", "underground"),
    writers={"geojson": _geojson},
    media_types={"geojson": "application/geo+json"},
)
