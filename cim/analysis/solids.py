"""Underground features as solids in arrays: swept sections, vertical prisms and chambers.

Every analysis of the underground (use by depth band, excavation conflicts) works on the same three
kinds of solid, held as parallel numpy arrays so that the geometry is computed for all features at once:

* **swept** solids: a section moved along a 3-D centreline (z = axis elevation): pipes (circle of the
  outer diameter, or the ``width`` x ``section_height`` box) and tunnels and utility tunnels
  (``section`` circular or box).  Held per straight centreline piece: ends ``a``, ``b`` (m, 3), the
  section's half width and half height, and whether it is circular.
* **prisms**: a footprint polygon between a bottom and a top elevation: basements, civil-defence
  spaces, metro stations (and buildings, ground to roof, for excavation clearances).
* **chambers**: vertical cylinders, manholes and valve chambers, from the cover elevation (the node's
  z) down ``depth``, of the node's ``diameter``.  A node without a diameter is a chamber of radius 0
  (it has no volume but an excavation can still hit it).

Depth is metres below the terrain surface (:func:`ground_sampler`).  All coordinates are metres in the
city CRS and heights metres in its datum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import shapely
from pydantic import BaseModel

from ..model import Building, PipeNode, PipeSegment, UndergroundStructure
from ..store.base import Region, Store
from ..store.memo import per_version
from ..store.solid_columns import Unpacked
from ..terrain import Terrain
from ..typed import ArrayNx2, FloatArray, IntArray

#: collections whose features have an underground solid
UNDERGROUND = ("pipes", "pipe-nodes", "underground-structures")

#: categories a feature falls into (each utility type for pipes)
CATEGORIES = (
    "water",
    "reclaimed",
    "sewer",
    "storm",
    "gas",
    "heat",
    "power",
    "telecom",
    "basement",
    "tunnel",
    "utility_tunnel",
    "station",
    "civil_defence",
    "manhole",
)

GroundFn = Callable[[ArrayNx2], FloatArray]


@dataclass
class Owners:
    """The features the solids belong to, indexed by the solids' ``owner`` arrays."""

    ids: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "pipe", a node kind, a structure kind or "building"
    utilities: list[str | None] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)

    def add(self, fid: str, collection: str, category: str, kind: str, utility: str | None, name: str | None) -> int:
        self.ids.append(fid)
        self.collections.append(collection)
        self.categories.append(category)
        self.kinds.append(kind)
        self.utilities.append(utility)
        self.names.append(name)
        return len(self.ids) - 1

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Swept:
    """Straight pieces of swept solids: (m, 3) ends, (m,) section half sizes (metres), owner index."""

    a: FloatArray
    b: FloatArray
    half_w: FloatArray
    half_h: FloatArray
    circular: np.ndarray  # (m,) bool
    owner: IntArray

    def __len__(self) -> int:
        return len(self.owner)


@dataclass
class Prisms:
    """Footprints (k,) shapely polygons between (k,) bottom and top elevations, metres."""

    polygons: np.ndarray
    bottom: FloatArray
    top: FloatArray
    owner: IntArray

    def __len__(self) -> int:
        return len(self.owner)


@dataclass
class Chambers:
    """Vertical cylinders: (c, 2) centres, (c,) radius, bottom and top elevations, metres."""

    xy: FloatArray
    radius: FloatArray
    bottom: FloatArray
    top: FloatArray
    owner: IntArray

    def __len__(self) -> int:
        return len(self.owner)


@dataclass
class Solids:
    """The underground features of a region as arrays of simple solids (swept, prisms, chambers)."""

    owners: Owners
    swept: Swept
    prisms: Prisms
    chambers: Chambers

    @classmethod
    def from_features(cls, features: Iterable[BaseModel]) -> Solids:
        """Solids of pipes, pipe nodes, underground structures and buildings (others are ignored).

        A loop over features builds the arrays; everything computed from them is vectorised.
        """
        own = Owners()
        sw_pts: list[FloatArray] = []
        sw_sec: list[tuple[float, float, bool, int, int]] = []  # half_w, half_h, circular, owner, pieces
        pr_poly: list[shapely.Geometry] = []
        pr_z: list[tuple[float, float, int]] = []
        ch: list[tuple[float, float, float, float, float, int]] = []
        for f in features:
            if isinstance(f, PipeSegment):
                k = own.add(f.id, "pipes", f.utility.value, "pipe", f.utility.value, f.name)
                c = f.coords()
                if f.diameter is not None:
                    sec = (f.diameter / 2, f.diameter / 2, True)
                else:
                    sec = (f.width / 2, f.section_height / 2, False)  # type: ignore[operator]
                sw_pts.append(c)
                sw_sec.append((*sec, k, len(c) - 1))
            elif isinstance(f, UndergroundStructure):
                k = own.add(f.id, "underground-structures", f.kind.value, f.kind.value, None, f.name)
                if f.centreline is not None:
                    c = np.asarray(f.centreline, dtype=float)
                    hh = (f.width if f.section == "circular" else f.section_height) / 2  # type: ignore[operator]
                    sw_pts.append(c)
                    sw_sec.append((f.width / 2, hh, f.section == "circular", k, len(c) - 1))  # type: ignore[operator]
                else:
                    pr_poly.append(shapely.Polygon(f.footprint[0], f.footprint[1:]))  # type: ignore[index]
                    pr_z.append((f.bottom_elevation, f.top_elevation, k))  # type: ignore[arg-type]
            elif isinstance(f, PipeNode):
                k = own.add(f.id, "pipe-nodes", "manhole", f.kind.value, f.utility.value, f.name)
                x, y, z = f.position
                ch.append((x, y, (f.diameter or 0.0) / 2, z - (f.depth or 0.0), z, k))
            elif isinstance(f, Building):
                k = own.add(f.id, "buildings", "building", "building", None, f.name)
                pr_poly.append(shapely.Polygon(f.footprint[0], f.footprint[1:]))
                lo, hi = sorted((f.ground_elevation, f.roof_elevation))  # type: ignore[type-var]
                pr_z.append((lo, hi, k))  # type: ignore[arg-type]
        if sw_pts:
            n = np.array([s[4] for s in sw_sec])
            a = np.concatenate([c[:-1] for c in sw_pts])
            b = np.concatenate([c[1:] for c in sw_pts])
            secs = np.array([s[:4] for s in sw_sec], dtype=float)
            rep = np.repeat(np.arange(len(sw_sec)), n)
            swept = Swept(a, b, secs[rep, 0], secs[rep, 1], secs[rep, 2].astype(bool), secs[rep, 3].astype(np.int64))
        else:
            swept = Swept(
                np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0), np.zeros(0, bool), np.zeros(0, np.int64)
            )
        z = np.array(pr_z, dtype=float).reshape(-1, 3)  # type: ignore[assignment]
        polys = np.array(pr_poly, dtype=object)
        bad = ~shapely.is_valid(polys)
        if bad.any():  # imported footprints may cross themselves: repair rather than fail in GEOS
            polys[bad] = shapely.make_valid(polys[bad])
        prisms = Prisms(polys, z[:, 0], z[:, 1], z[:, 2].astype(np.int64))  # type: ignore[index]
        c = np.array(ch, dtype=float).reshape(-1, 6)
        chambers = Chambers(c[:, :2], c[:, 2], c[:, 3], c[:, 4], c[:, 5].astype(np.int64))
        return cls(own, swept, prisms, chambers)


#: document fields :func:`underground_solids` reads, per collection
_FIELDS = {
    "pipes": ("utility", "name", "centreline", "diameter", "width", "section_height"),
    "pipe-nodes": ("kind", "utility", "name", "position", "depth", "diameter"),
    "underground-structures": (
        "kind",
        "name",
        "centreline",
        "section",
        "width",
        "section_height",
        "bottom_elevation",
        "top_elevation",
    ),
}


def _floats(values: list) -> FloatArray:
    """JSON numbers (None where absent) -> (n,) floats, NaN for None."""
    return np.array(values, dtype=float).reshape(-1)


def _polylines(lines: list[list]) -> tuple[FloatArray, FloatArray, IntArray]:
    """3-D polylines (lists of [x, y, z]) -> their straight pieces' ends (m, 3), (m, 3) and pieces per line (n,)."""
    n = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    if len(lines) and (n == 2).all():
        ends = np.array(lines, dtype=float).reshape(-1, 2, 3)
        return ends[:, 0], ends[:, 1], n - 1
    pts = np.array(list(chain.from_iterable(lines)), dtype=float).reshape(-1, 3)
    last = np.cumsum(n) - 1
    first = last - n + 1
    not_last = np.ones(len(pts), bool)
    not_last[last] = False
    not_first = np.ones(len(pts), bool)
    not_first[first] = False
    return pts[not_last], pts[not_first], n - 1


@dataclass
class _Pipes:
    """The pipes of a region: names and arrays as underground_solids needs them (n pipes, m pieces)."""

    utility: list
    name: list
    a: FloatArray  # (m, 3)
    b: FloatArray  # (m, 3)
    pieces: IntArray  # (n,)
    hw: FloatArray  # (n,)
    hh: FloatArray  # (n,)
    circ: np.ndarray  # (n,) bool


@dataclass
class _Nodes:
    kind: list
    utility: list
    name: list
    pos: FloatArray  # (n, 3)
    depth: FloatArray  # (n,) 0 where absent
    radius: FloatArray  # (n,) 0 where absent


@dataclass
class _Structs:
    kind: list
    name: list
    tun: np.ndarray  # (n,) bool: has a centreline
    a: FloatArray  # (m, 3) the tunnels' pieces
    b: FloatArray
    pieces: IntArray  # (t,) per tunnel
    hw: FloatArray  # (t,)
    hh: FloatArray  # (t,)
    round_: np.ndarray  # (t,) bool
    bottom: FloatArray  # (n,)
    top: FloatArray  # (n,)


def _pipes_from_fields(c) -> _Pipes:
    a, b, pieces = _polylines(c.fields["centreline"])
    d = _floats(c.fields["diameter"])
    circ = ~np.isnan(d)
    hw = np.where(circ, d, _floats(c.fields["width"])) / 2
    hh = np.where(circ, d, _floats(c.fields["section_height"])) / 2
    return _Pipes(c.fields["utility"], c.fields["name"], a, b, pieces, hw, hh, circ)


def _pipes_from_packed(u: Unpacked) -> _Pipes:
    n = u.col(5).astype(np.int64)
    pts = u.points(6, n)
    last = np.cumsum(n) - 1
    if len(n) and (n == 2).all():
        a, b = pts[0::2], pts[1::2]
    else:
        not_last = np.ones(len(pts), bool)
        not_last[last] = False
        not_first = np.ones(len(pts), bool)
        not_first[last - n + 1] = False
        a, b = pts[not_last], pts[not_first]
    d = u.col(2)
    circ = ~np.isnan(d)
    hw = np.where(circ, d, u.col(3)) / 2
    hh = np.where(circ, d, u.col(4)) / 2
    return _Pipes(u.codes(0, "utility"), u.names(1, 6 + 3 * n), a, b, n - 1, hw, hh, circ)


def _nodes_from_fields(c) -> _Nodes:
    pos = np.array(c.fields["position"], dtype=float).reshape(-1, 3)
    depth = np.nan_to_num(_floats(c.fields["depth"]), nan=0.0)
    radius = np.nan_to_num(_floats(c.fields["diameter"]), nan=0.0) / 2
    return _Nodes(c.fields["kind"], c.fields["utility"], c.fields["name"], pos, depth, radius)


def _nodes_from_packed(u: Unpacked) -> _Nodes:
    pos = u.points(3, np.ones(len(u), np.int64))
    depth = np.nan_to_num(u.col(6), nan=0.0)
    radius = np.nan_to_num(u.col(7), nan=0.0) / 2
    return _Nodes(u.codes(0, "node_kind"), u.codes(1, "utility"), u.names(2, 8), pos, depth, radius)


def _structs_from_fields(c) -> _Structs:
    cl = c.fields["centreline"]
    tun = np.array([x is not None for x in cl], dtype=bool)
    ti = np.flatnonzero(tun)
    ta, tb, tp = _polylines([cl[i] for i in ti.tolist()])
    w = _floats(c.fields["width"])[ti]
    round_ = np.array([c.fields["section"][i] == "circular" for i in ti.tolist()], dtype=bool)
    th = np.where(round_, w, _floats(c.fields["section_height"])[ti]) / 2
    bottom, top = _floats(c.fields["bottom_elevation"]), _floats(c.fields["top_elevation"])
    return _Structs(c.fields["kind"], c.fields["name"], tun, ta, tb, tp, w / 2, th, round_, bottom, top)


def _structs_from_packed(u: Unpacked) -> _Structs:
    n = u.col(7).astype(np.int64)
    tun = n > 0
    ti = np.flatnonzero(tun)
    pts = u.points(8, n)
    nt = n[ti]
    last = np.cumsum(nt) - 1
    not_last = np.ones(len(pts), bool)
    not_last[last] = False
    not_first = np.ones(len(pts), bool)
    not_first[last - nt + 1] = False
    w = u.col(5)[ti]
    round_ = u.col(4)[ti] == 1
    th = np.where(round_, w, u.col(6)[ti]) / 2
    return _Structs(
        u.codes(0, "structure_kind"),
        u.names(1, 8 + 3 * n),
        tun,
        pts[not_last],
        pts[not_first],
        nt - 1,
        w / 2,
        th,
        round_,
        u.col(2),
        u.col(3),
    )


def _read(store: Store, collection: str, region: Region, from_packed, from_fields):
    """A collection's candidates (:meth:`Store.columns`) and their solids' numbers: from the packed column, or from
    the documents where a row has none (older stores)."""
    c = store.columns(collection, region=region, solid=True, boxes=False)
    if None not in c.solid and len(c.solid) == len(c):
        return c, from_packed(Unpacked(c.solid))  # type: ignore[arg-type]
    c = store.columns(collection, _FIELDS[collection], region=region)
    return c, from_fields(c)


def underground_solids(store: Store, region: Region) -> Solids:
    """The solids of the pipes, pipe nodes and underground structures matching ``region``, built from the
    store's columns (:meth:`Store.columns`: each row's packed solid, or the documents' fields in rows written
    without one) without feature models: the same arrays, in the same order, as ``Solids.from_features`` over
    ``store.iter_features`` of :data:`UNDERGROUND`."""
    pc, p = _read(store, "pipes", region, _pipes_from_packed, _pipes_from_fields)
    nc, nd = _read(store, "pipe-nodes", region, _nodes_from_packed, _nodes_from_fields)
    sc, st = _read(store, "underground-structures", region, _structs_from_packed, _structs_from_fields)
    own = Owners()
    np_, nn, ns = len(pc), len(nc), len(sc)
    own.ids += pc.ids
    own.collections += ["pipes"] * np_
    own.categories += p.utility
    own.kinds += ["pipe"] * np_
    own.utilities += p.utility
    own.names += p.name
    own.ids += nc.ids
    own.collections += ["pipe-nodes"] * nn
    own.categories += ["manhole"] * nn
    own.kinds += nd.kind
    own.utilities += nd.utility
    own.names += nd.name
    own.ids += sc.ids
    own.collections += ["underground-structures"] * ns
    own.categories += st.kind
    own.kinds += st.kind
    own.utilities += [None] * ns
    own.names += st.name

    # swept: pipes (circle of the diameter, else the box), then tunnels (circle or box of width x height)
    ti = np.flatnonzero(st.tun)
    parts = [(p.a, p.b, p.hw, p.hh, p.circ, np.arange(np_), p.pieces)]
    if len(ti):
        parts.append((st.a, st.b, st.hw, st.hh, st.round_, np_ + nn + ti, st.pieces))
    if len(parts) == 1:  # pipes only: no concatenation
        r = np.repeat(np.arange(np_), p.pieces)
        swept = Swept(
            p.a.reshape(-1, 3),
            p.b.reshape(-1, 3),
            p.hw[r].astype(float),
            p.hh[r].astype(float),
            p.circ[r].astype(bool),
            r.astype(np.int64),
        )
    else:
        rep = [np.repeat(np.arange(len(q[2])), q[6]) for q in parts]
        swept = Swept(
            np.concatenate([q[0] for q in parts]).reshape(-1, 3),
            np.concatenate([q[1] for q in parts]).reshape(-1, 3),
            np.concatenate([q[2][r] for q, r in zip(parts, rep, strict=True)]).astype(float),
            np.concatenate([q[3][r] for q, r in zip(parts, rep, strict=True)]).astype(float),
            np.concatenate([q[4][r] for q, r in zip(parts, rep, strict=True)]).astype(bool),
            np.concatenate([q[5][r] for q, r in zip(parts, rep, strict=True)]).astype(np.int64),
        )

    # prisms: structures with a footprint (their stored 2-D geometry), between bottom and top
    pi = np.flatnonzero(~st.tun)
    polys = np.asarray(sc.geoms, dtype=object)[pi]
    bad = ~shapely.is_valid(polys)
    if bad.any():  # as Solids.from_features: repair rather than fail in GEOS
        polys[bad] = shapely.make_valid(polys[bad])
    prisms = Prisms(polys, st.bottom[pi], st.top[pi], (np_ + nn + pi).astype(np.int64))

    # chambers: cover at the node's z, down its depth, radius half its diameter (0 without one)
    pos = nd.pos
    chambers = Chambers(
        pos[:, :2].copy(), nd.radius, pos[:, 2] - nd.depth, pos[:, 2], np_ + np.arange(nn, dtype=np.int64)
    )
    return Solids(own, swept, prisms, chambers)


# -- terrain -------------------------------------------------------------------------------------
def ground_sampler(terrain: Terrain | None) -> GroundFn | None:
    """A vectorised ground-elevation function ``(n, 2) -> (n,)`` over the terrain, or None without one.

    Points beyond the DEM take the elevation at the nearest point of its edge; no-data cells take the
    DEM's mean, so that every point gets a finite ground.
    """
    if terrain is None:
        return None
    x0, y0, _, x1, y1, _ = terrain.bounds
    fill = float(np.nanmean(terrain.z))

    def ground(xy: ArrayNx2) -> FloatArray:
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        if len(xy) == 0:
            return np.zeros(0)
        clamped = np.column_stack([np.clip(xy[:, 0], x0, x1), np.clip(xy[:, 1], y0, y1)])
        g = terrain.sample(clamped)
        return np.where(np.isfinite(g), g, fill)

    last: list = [None]  # ((box), (lo, hi)) of the last call: a request asks for its region's twice

    def bounds(xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[float, float]:
        """Lowest and highest ground :func:`ground` can return in a box: the DEM nodes it interpolates there
        (and the no-data fill), widened by 1e-9 m for rounding."""
        memo = last[0]
        if memo is not None and memo[0] == (xmin, ymin, xmax, ymax):
            return memo[1]
        out = _bounds(xmin, ymin, xmax, ymax)
        last[0] = ((xmin, ymin, xmax, ymax), out)
        return out

    def _bounds(xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[float, float]:
        ny, nx = terrain.z.shape
        fx = (np.clip([xmin, xmax], x0, x1) - terrain.x0) / terrain.cell
        fy = (np.clip([ymin, ymax], y0, y1) - terrain.y0) / terrain.cell
        i0, i1 = np.clip(np.floor(fx).astype(np.int64), 0, nx - 2)
        j0, j1 = np.clip(np.floor(fy).astype(np.int64), 0, ny - 2)
        sub = terrain.z[j0 : j1 + 2, i0 : i1 + 2]
        nan = np.isnan(sub)
        lo = min(float(np.min(sub, where=~nan, initial=np.inf)), fill if nan.any() else np.inf)
        hi = max(float(np.max(sub, where=~nan, initial=-np.inf)), fill if nan.any() else -np.inf)
        return lo - 1e-9, hi + 1e-9

    ground.bounds = bounds  # type: ignore[attr-defined]
    return ground


def store_ground(store: Store) -> GroundFn | None:
    """:func:`ground_sampler` of the store's terrain, kept per store until its version changes: the DEM is read
    and decoded once, not on every request."""
    return per_version(store, "ground", lambda: ground_sampler(store.terrain()))


def ground_range(ground: GroundFn, polygon: shapely.Geometry, cell: float = 5.0) -> tuple[float, float]:
    """Lowest and highest ground over a polygon: at its vertices and on a grid of about ``cell`` metres
    inside it (coarser for large regions, at most ~40,000 points)."""
    x0, y0, x1, y1 = polygon.bounds
    cell = max(cell, np.sqrt(max((x1 - x0) * (y1 - y0), 0.0)) / 200)
    gx, gy = np.meshgrid(np.arange(x0, x1 + cell, cell), np.arange(y0, y1 + cell, cell))
    gx, gy = gx.ravel(), gy.ravel()  # type: ignore[assignment]
    inside = shapely.contains_xy(polygon, gx, gy)
    pts = np.vstack([shapely.get_coordinates(polygon), np.column_stack([gx[inside], gy[inside]])])
    g = ground(pts)
    return float(g.min()), float(g.max())


# -- plan geometry -------------------------------------------------------------------------------
def grid_pieces(polygons: np.ndarray, cell: float) -> tuple[np.ndarray, IntArray]:
    """Cut each polygon by a square grid of ``cell`` metres (anchored at the polygon's lower-left corner).

    Returns the non-empty pieces (k,) and the index of the polygon each came from (k,).  The pieces'
    areas add up to each polygon's area exactly; their centroids are where a piece samples the ground.
    """
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) == 0:
        return np.zeros(0, dtype=object), np.zeros(0, np.int64)
    b = shapely.bounds(polygons)
    nx = np.maximum(1, np.ceil((b[:, 2] - b[:, 0]) / cell - 1e-9)).astype(np.int64)
    ny = np.maximum(1, np.ceil((b[:, 3] - b[:, 1]) / cell - 1e-9)).astype(np.int64)
    count = nx * ny
    owner = np.repeat(np.arange(len(polygons)), count)
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    ix, iy = j % nx[owner], j // nx[owner]
    x0 = b[owner, 0] + ix * cell
    y0 = b[owner, 1] + iy * cell
    boxes = shapely.box(x0, y0, np.minimum(x0 + cell, b[owner, 2]), np.minimum(y0 + cell, b[owner, 3]))
    whole = count == 1
    pieces = np.where(whole[owner], polygons[owner], None)  # type: ignore[call-overload]
    # an axis-aligned rectangle (4 corners, no hole, the area of its box) is cut into the boxes themselves
    rect = (shapely.get_num_coordinates(polygons) == 5) & (shapely.get_num_interior_rings(polygons) == 0)
    rect &= np.isclose(shapely.area(polygons), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), rtol=1e-12, atol=0)
    use_box = ~whole[owner] & rect[owner]
    pieces[use_box] = boxes[use_box]
    cut = ~whole[owner] & ~rect[owner]
    if cut.any():
        pieces[cut] = shapely.intersection(boxes[cut], polygons[owner[cut]])
    keep = shapely.area(pieces) > 0
    return pieces[keep], owner[keep]


def clip_segments(a: FloatArray, b: FloatArray, polygon: shapely.Geometry) -> tuple[FloatArray, FloatArray, IntArray]:
    """The parts of straight 3-D segments whose plan projection lies in ``polygon``, exactly.

    ``a``, ``b`` (m, 3) segment ends.  Returns the clipped ends (k, 3), (k, 3) (z interpolated along
    each segment) and the index of the segment each part came from (k,).  Segments wholly inside are
    returned unchanged; those crossing the boundary are cut with shapely (vectorised).  A vertical
    segment (no plan length) counts when its plan point lies in the polygon or on its boundary.
    """
    if len(a) == 0:
        return a, b, np.zeros(0, np.int64)
    box = _as_box(polygon)
    if box is not None:
        return _clip_box(a, b, box)
    shapely.prepare(polygon)
    boundary = polygon.boundary
    shapely.prepare(boundary)
    d2 = b[:, :2] - a[:, :2]
    len2 = (d2**2).sum(axis=1)
    lines = shapely.linestrings(np.stack([a[:, :2], b[:, :2]], axis=1))
    crossing = shapely.intersects(boundary, lines)
    mid = (a[:, :2] + b[:, :2]) / 2
    whole = np.flatnonzero(~crossing & shapely.contains_xy(polygon, mid[:, 0], mid[:, 1]))
    vertical = np.flatnonzero(crossing & (len2 == 0))
    cut = np.flatnonzero(crossing & (len2 > 0))
    parts, pidx = shapely.get_parts(shapely.intersection(lines[cut], polygon), return_index=True)
    is_line = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)
    parts, seg = parts[is_line], cut[pidx[is_line]]
    p0 = shapely.get_coordinates(shapely.get_point(parts, 0))
    p1 = shapely.get_coordinates(shapely.get_point(parts, -1))
    t0 = ((p0 - a[seg, :2]) * d2[seg]).sum(axis=1) / len2[seg]
    t1 = ((p1 - a[seg, :2]) * d2[seg]).sum(axis=1) / len2[seg]
    d3 = b[seg] - a[seg]
    idx = np.concatenate([whole, vertical, seg])
    a2 = np.concatenate([a[whole], a[vertical], a[seg] + t0[:, None] * d3])
    b2 = np.concatenate([b[whole], b[vertical], a[seg] + t1[:, None] * d3])
    return a2, b2, idx


_LAST_BOX: list = [None]  # (polygon, its _as_box) of the last call: a request asks for its region's twice


def _as_box(polygon: shapely.Geometry) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) when ``polygon`` is an axis-aligned rectangle (4 corners, no hole), else None."""
    memo = _LAST_BOX[0]
    if memo is not None and memo[0] is polygon:
        return memo[1]
    out = _box_of(polygon)
    _LAST_BOX[0] = (polygon, out)
    return out


def _box_of(polygon: shapely.Geometry) -> tuple[float, float, float, float] | None:
    if shapely.get_type_id(polygon) != 3 or shapely.get_num_interior_rings(polygon) != 0:
        return None
    ring = shapely.get_coordinates(polygon)
    if len(ring) != 5:
        return None
    d = np.diff(ring, axis=0)
    if not ((d[:, 0] == 0) ^ (d[:, 1] == 0)).all():  # every edge parallel to an axis, none of zero length
        return None
    lo, hi = ring.min(axis=0), ring.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def are_boxes(polygons: np.ndarray) -> np.ndarray:
    """(k,) bool: which polygons are axis-aligned rectangles (:func:`_as_box`, vectorised)."""
    polygons = np.asarray(polygons, dtype=object)
    out = (
        (shapely.get_type_id(polygons) == 3)
        & (shapely.get_num_interior_rings(polygons) == 0)
        & (shapely.get_num_coordinates(polygons) == 5)
    )
    if out.any():
        idx = np.flatnonzero(out)
        d = np.diff(shapely.get_coordinates(polygons[idx]).reshape(-1, 5, 2), axis=1)
        out[idx] = ((d[:, :, 0] == 0) ^ (d[:, :, 1] == 0)).all(axis=1)
    return out


def box_cells(boxes: FloatArray, cell: float) -> tuple[FloatArray, FloatArray, IntArray]:
    """:func:`grid_pieces` of axis-aligned rectangles (k, 4) minx, miny, maxx, maxy, in numpy: the cells' areas (n,),
    centroids (n, 2) and the index of the rectangle each came from (n,), in the same order."""
    if len(boxes) == 0:
        return np.zeros(0), np.zeros((0, 2)), np.zeros(0, np.int64)
    nx = np.maximum(1, np.ceil((boxes[:, 2] - boxes[:, 0]) / cell - 1e-9)).astype(np.int64)
    ny = np.maximum(1, np.ceil((boxes[:, 3] - boxes[:, 1]) / cell - 1e-9)).astype(np.int64)
    count = nx * ny
    owner = np.repeat(np.arange(len(boxes)), count)
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    b = boxes[owner]
    x0 = b[:, 0] + (j % nx[owner]) * cell
    y0 = b[:, 1] + (j // nx[owner]) * cell
    x1, y1 = np.minimum(x0 + cell, b[:, 2]), np.minimum(y0 + cell, b[:, 3])
    area = (x1 - x0) * (y1 - y0)
    keep = area > 0
    return area[keep], np.column_stack([(x0 + x1) / 2, (y0 + y1) / 2])[keep], owner[keep]


def _clip_box(
    a: FloatArray, b: FloatArray, box: tuple[float, float, float, float]
) -> tuple[FloatArray, FloatArray, IntArray]:
    """:func:`clip_segments` for an axis-aligned rectangle, by the Liang-Barsky parameters of every segment at once
    (the rectangle closed: parts along its edges count; parts of no plan length do not, except vertical
    segments whose point lies in the rectangle or on its edge)."""
    x0, y0, x1, y1 = box
    d = b[:, :2] - a[:, :2]
    t0, t1 = np.zeros(len(a)), np.ones(len(a))
    out = np.zeros(len(a), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for p, q in (
            (-d[:, 0], a[:, 0] - x0),
            (d[:, 0], x1 - a[:, 0]),
            (-d[:, 1], a[:, 1] - y0),
            (d[:, 1], y1 - a[:, 1]),
        ):
            r = q / p
            t0 = np.where(p < 0, np.maximum(t0, r), t0)
            t1 = np.where(p > 0, np.minimum(t1, r), t1)
            out |= (p == 0) & (q < 0)
    flat = (d == 0).all(axis=1)
    keep = np.flatnonzero(~out & ((t0 < t1) | flat))
    t0, t1 = t0[keep, None], t1[keep, None]
    ak, bk = a[keep], b[keep]
    d3 = bk - ak
    a2 = np.where(t0 == 0, ak, ak + t0 * d3)
    b2 = np.where(t1 == 1, bk, ak + t1 * d3)
    return a2, b2, keep.astype(np.int64)


def subdivide(a: FloatArray, b: FloatArray, step: float) -> tuple[FloatArray, FloatArray, IntArray]:
    """Cut segments into equal pieces no longer than ``step`` (3-D length).

    Returns the pieces' midpoints (n, 3), 3-D lengths (n,) and the index of their segment (n,).
    """
    length = np.linalg.norm(b - a, axis=1)
    k = np.maximum(1, np.ceil(length / step - 1e-9)).astype(np.int64)
    seg = np.repeat(np.arange(len(a)), k)
    j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    t = (j + 0.5) / k[seg]
    mid = a[seg] + t[:, None] * (b - a)[seg]
    return mid, (length / k)[seg], seg


def sample_points(a: FloatArray, b: FloatArray, step: float) -> tuple[FloatArray, FloatArray, IntArray]:
    """Points along segments no more than ``step`` apart, both ends included.

    Returns the points (n, 3), their parameter t in [0, 1] along their segment (n,) and the segment
    index (n,).
    """
    length = np.linalg.norm(b - a, axis=1)
    k = np.maximum(1, np.ceil(length / step - 1e-9)).astype(np.int64)
    seg = np.repeat(np.arange(len(a)), k + 1)
    j = np.arange((k + 1).sum()) - np.repeat(np.cumsum(k + 1) - (k + 1), k + 1)
    t = j / k[seg]
    return a[seg] + t[:, None] * (b - a)[seg], t, seg


# -- sections ------------------------------------------------------------------------------------
def circle_area_below(h: FloatArray, r: FloatArray) -> FloatArray:
    """Area of a circle of radius ``r`` below a horizontal line ``h`` above its centre (metres, m^2).

    The circular-segment formula r^2 (acos(-t) + t sqrt(1 - t^2)) with t = h / r clipped to [-1, 1]:
    0 below the circle, pi r^2 above it.
    """
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(np.where(r > 0, h / r, np.sign(h)), -1.0, 1.0)
    return r * r * (np.arccos(-t) + t * np.sqrt(1.0 - t * t))


def section_area_between(
    lo: FloatArray, hi: FloatArray, half_w: FloatArray, half_h: FloatArray, circular: np.ndarray
) -> FloatArray:
    """Area (m^2) of a section between the horizontal planes ``lo`` < ``hi`` (heights above the axis, m).

    Circular sections (radius ``half_h``) by the circular-segment formula; box sections by the
    overlap of [-half_h, half_h] with [lo, hi] times the width.
    """
    hi = np.maximum(hi, lo)
    circ = circle_area_below(hi, half_h) - circle_area_below(lo, half_h)
    box = 2 * half_w * np.clip(np.minimum(hi, half_h) - np.maximum(lo, -half_h), 0.0, None)
    return np.where(circular, circ, box)


def section_area(half_w: FloatArray, half_h: FloatArray, circular: np.ndarray) -> FloatArray:
    """Whole section areas, m^2."""
    return np.where(circular, np.pi * half_h**2, 4 * half_w * half_h)


def discs(xy: FloatArray, radius: FloatArray) -> np.ndarray:
    """Chamber plan discs as polygons (64 segments; areas normalised by the callers)."""
    return shapely.buffer(shapely.points(xy), radius, quad_segs=16)
