"""Feature solids as triangle meshes: LOD1 extrusions, LOD2 surfaces, pipe tubes, manholes, tunnels, terrain.

Every mesh is in city coordinates (metres, city CRS and height datum, (easting, northing, elevation)),
keeps a per-vertex feature index (``Mesh.feature`` into ``Mesh.ids``) so that encoders can carry
feature ids, and has per-vertex normals and RGBA colours.  Faces are counter-clockwise seen from
outside (their normals agree with the vertex normals).  Vertices are shared only between faces of one
planar surface (flat shading) or along one smooth tube, so a vertex normal is meaningful.

Builders work on batches: the vertices of a whole batch are computed with numpy; Python loops run
per feature or per polygon only to assemble arrays and to call the polygon triangulator (earcut).

Colours follow the map-legend colours of Chinese underground-pipeline surveys (CJJ 61-2017,
城市地下管线探测技术规程): 给水 water sky blue, 排水 drainage brown (we use a dark brown for sewer 污水
and an ochre brown for storm 雨水), 燃气 gas pink, 热力 heat orange, 电力 power red, 通信 telecom green;
再生水 reclaimed water, not in that legend, is a light violet-blue (as the purple of international
practice).  See :data:`UTILITY_COLORS`.

Example
-------
>>> from cim.model import Building
>>> b = Building(id="b1", footprint=[[(0, 0), (10, 0), (10, 10), (0, 10)]], ground_elevation=40, height=9)
>>> m = building_meshes([b])
>>> m.vertices.shape[1], m.faces.shape[0], m.ids
(3, 12, ['b1'])
>>> float(m.vertices[:, 2].min()), float(m.vertices[:, 2].max())
(40.0, 49.0)
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import (
    Building,
    BuildingUse,
    NodeKind,
    PipeNode,
    PipeSegment,
    StructureKind,
    SurfaceType,
    UndergroundStructure,
    Utility,
)
from .terrain import Terrain
from .typed import FloatArray, IntArray

RGBA = tuple[int, int, int, int]

#: pipe colours by utility (CJJ 61-2017 legend colours; see the module docstring)
UTILITY_COLORS: dict[Utility, RGBA] = {
    Utility.water: (0, 176, 240, 255),  # 给水 sky blue
    Utility.reclaimed: (150, 150, 255, 255),  # 再生水 light violet-blue
    Utility.sewer: (120, 72, 30, 255),  # 污水 brown
    Utility.storm: (190, 140, 70, 255),  # 雨水 ochre brown
    Utility.gas: (255, 100, 200, 255),  # 燃气 pink
    Utility.heat: (255, 150, 0, 255),  # 热力 orange
    Utility.power: (230, 30, 30, 255),  # 电力 red
    Utility.telecom: (40, 170, 60, 255),  # 通信 green
}

BUILDING_COLORS: dict[BuildingUse, RGBA] = {
    BuildingUse.residential: (232, 226, 212, 255),
    BuildingUse.commercial: (176, 204, 232, 255),
    BuildingUse.public: (240, 206, 160, 255),
    BuildingUse.industrial: (196, 188, 204, 255),
    BuildingUse.mixed: (214, 214, 176, 255),
    BuildingUse.unknown: (200, 200, 200, 255),
}

SURFACE_COLORS: dict[SurfaceType | None, RGBA] = {
    SurfaceType.roof: (186, 84, 64, 255),
    SurfaceType.wall: (236, 232, 222, 255),
    SurfaceType.ground: (128, 128, 128, 255),
    None: (220, 220, 220, 255),
}

STRUCTURE_COLORS: dict[StructureKind, RGBA] = {
    StructureKind.basement: (150, 140, 200, 255),
    StructureKind.civil_defence: (120, 120, 160, 255),
    StructureKind.station: (200, 120, 200, 255),
    StructureKind.tunnel: (230, 140, 60, 255),
    StructureKind.utility_tunnel: (130, 130, 130, 255),
}

#: chamber diameters (m) for nodes that give none; junctions are points and get no solid
NODE_DIAMETERS: dict[NodeKind, float] = {
    NodeKind.manhole: 1.0,
    NodeKind.valve: 0.8,
    NodeKind.hydrant: 0.3,
    NodeKind.inlet: 0.6,
    NodeKind.outfall: 1.0,
    NodeKind.reservoir: 4.0,
    NodeKind.tank: 4.0,
    NodeKind.pump: 2.0,
}
NODE_DEFAULT_DEPTH = 1.5  # m, for nodes that give none


@dataclass
class Mesh:
    """A triangle mesh of one or more features.

    vertices : (n, 3) float64, metres, city CRS and height datum.
    faces : (m, 3) int64, counter-clockwise seen from outside.
    normals : (n, 3) float32, unit.
    colors : (n, 4) uint8, RGBA.
    feature : (n,) int64, index into ``ids`` of the feature each vertex belongs to.
    ids : feature ids.
    """

    vertices: FloatArray
    faces: IntArray
    normals: np.ndarray
    colors: np.ndarray
    feature: IntArray
    ids: list[str]

    @classmethod
    def empty(cls, ids: Sequence[str] = ()) -> Mesh:
        """A mesh with no vertices (of features ``ids`` that have no solid)."""
        return cls(
            np.zeros((0, 3)),
            np.zeros((0, 3), np.int64),
            np.zeros((0, 3), np.float32),
            np.zeros((0, 4), np.uint8),
            np.zeros(0, np.int64),
            list(ids),
        )

    def __len__(self) -> int:
        return len(self.vertices)

    @property
    def is_empty(self) -> bool:
        return len(self.faces) == 0

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """(min (3,), max (3,)) of the vertices, metres."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def feature_bounds(self) -> FloatArray:
        """(k, 6) minx, miny, minz, maxx, maxy, maxz of each feature's vertices (NaN where it has none)."""
        k = len(self.ids)
        lo = np.full((k, 3), np.inf)
        hi = np.full((k, 3), -np.inf)
        np.minimum.at(lo, self.feature, self.vertices)
        np.maximum.at(hi, self.feature, self.vertices)
        out = np.hstack([lo, hi])
        out[~np.isfinite(out)] = np.nan
        return out

    @staticmethod
    def concat(meshes: Sequence[Mesh]) -> Mesh:
        """One mesh of several; feature indices are renumbered, ids concatenated in order."""
        meshes = [m for m in meshes if len(m.ids)]
        if not meshes:
            return Mesh.empty()
        voff = np.cumsum([0] + [len(m.vertices) for m in meshes])
        foff = np.cumsum([0] + [len(m.ids) for m in meshes])
        return Mesh(
            np.concatenate([m.vertices for m in meshes]),
            np.concatenate([m.faces + voff[i] for i, m in enumerate(meshes)]),
            np.concatenate([m.normals for m in meshes]),
            np.concatenate([m.colors for m in meshes]),
            np.concatenate([m.feature + foff[i] for i, m in enumerate(meshes)]),
            [i for m in meshes for i in m.ids],
        )

    def split(self, group: IntArray, n_groups: int) -> list[Mesh]:
        """Split by feature into ``n_groups`` meshes: ``group`` (k,) gives each feature's group (-1: dropped).

        Within a group, features keep their relative order and are renumbered from 0; one sort of the
        vertices, faces and features, then slices.
        """
        group = np.asarray(group, dtype=np.int64)
        bins = np.arange(n_groups + 1)

        def by_group(g: IntArray) -> tuple[IntArray, IntArray, IntArray]:
            order = np.argsort(g, kind="stable")
            sg = g[order]
            start = np.searchsorted(sg, bins)
            local = np.empty(len(g), np.int64)
            local[order] = np.arange(len(g)) - start[np.maximum(sg, 0)]
            return order, start, local

        forder_, fstart_, flocal = by_group(group)
        vg = group[self.feature]
        vorder, vstart, vlocal = by_group(vg)
        tg = vg[self.faces[:, 0]] if len(self.faces) else np.zeros(0, np.int64)
        torder, tstart, _ = by_group(tg)
        out = []
        for g in range(n_groups):
            vs = vorder[vstart[g] : vstart[g + 1]]
            ts = torder[tstart[g] : tstart[g + 1]]
            out.append(
                Mesh(
                    self.vertices[vs],
                    vlocal[self.faces[ts]],
                    self.normals[vs],
                    self.colors[vs],
                    flocal[self.feature[vs]],
                    [self.ids[i] for i in forder_[fstart_[g] : fstart_[g + 1]]],
                )
            )
        return out

    def subset(self, features: Sequence[int] | IntArray) -> Mesh:
        """The mesh of some features (indices into ``ids``), in the order of ``ids``."""
        group = np.full(len(self.ids), -1, np.int64)
        group[np.asarray(features, dtype=np.int64)] = 0
        return self.split(group, 1)[0]

    def to_trimesh(self) -> Any:
        """A ``trimesh.Trimesh`` (vertex colours set; feature index in ``vertex_attributes['feature']``)."""
        import trimesh

        return trimesh.Trimesh(
            self.vertices,
            self.faces,
            vertex_normals=self.normals,
            vertex_colors=self.colors,
            vertex_attributes={"feature": self.feature},
            process=False,
        )


# -- helpers ------------------------------------------------------------------------------------
def _unit(v: FloatArray) -> FloatArray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 0)


def _orient(vertices: FloatArray, faces: IntArray, normals: FloatArray) -> IntArray:
    """Faces flipped where their winding disagrees with their vertices' normals."""
    if len(faces) == 0:
        return faces
    v = vertices[faces]
    geo = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    ref = normals[faces].sum(axis=1)
    flip = np.einsum("ij,ij->i", geo, ref) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return faces


def _colors(per_feature: np.ndarray, feature: IntArray) -> np.ndarray:
    return np.asarray(per_feature, dtype=np.uint8).reshape(-1, 4)[feature]


def _triangulate(pts2d: FloatArray, ring_ends: Sequence[int] | np.ndarray) -> IntArray:
    """Earcut triangulation of a polygon with holes: (t, 3) indices into ``pts2d``."""
    if len(ring_ends) == 1 and len(pts2d) == 3:
        return np.array([[0, 1, 2]], np.int64)
    import mapbox_earcut

    tri = mapbox_earcut.triangulate_float64(
        np.ascontiguousarray(pts2d, dtype=np.float64), np.asarray(ring_ends, dtype=np.uint32)
    )
    return tri.astype(np.int64).reshape(-1, 3)


def _clean_ring(ring: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """A ring without consecutive duplicates nor a repeated closing vertex."""
    r = np.asarray(ring, dtype=float)
    if len(r) < 2:
        return r
    keep = np.empty(len(r), bool)
    keep[0] = True
    keep[1:] = np.abs(np.diff(r, axis=0)).max(axis=1) > tol
    r = r[keep]
    if len(r) > 1 and np.abs(r[0] - r[-1]).max() <= tol:
        r = r[:-1]
    return r


# -- LOD1 extrusions ------------------------------------------------------------------------------
def extrusions(
    footprints: Sequence[Sequence[np.ndarray]], bottom: FloatArray, top: FloatArray, colors: np.ndarray, ids: list[str]
) -> Mesh:
    """Prisms: each footprint (exterior ring then holes, (n, 2) metres) from ``bottom`` to ``top``.

    bottom, top : (k,) float, metres.  colors : (k, 4) uint8 RGBA per footprint.
    """
    pts_list, ring_lens, ring_hole, tris, counts = [], [], [], [], []
    offset = 0
    for rings in footprints:
        rs = [r for r in rings if len(r) >= 3]
        if not rs:
            counts.append(0)
            continue
        pts = np.concatenate(rs) if len(rs) > 1 else rs[0]
        lens = [len(r) for r in rs]
        tris.append(_triangulate(pts, np.cumsum(lens)) + offset)
        pts_list.append(pts)
        ring_lens += lens
        ring_hole += [False] + [True] * (len(rs) - 1)
        counts.append(len(pts))
        offset += len(pts)
    if not pts_list:
        return Mesh.empty(ids)
    xy = np.concatenate(pts_list)
    n = len(xy)
    vfeat = np.repeat(np.arange(len(footprints)), counts)
    z0 = np.asarray(bottom, dtype=float)[vfeat]
    z1 = np.asarray(top, dtype=float)[vfeat]
    cap = np.concatenate(tris)

    ring_lens_a = np.asarray(ring_lens)
    ring_start = np.cumsum(ring_lens_a) - ring_lens_a
    ring_of = np.repeat(np.arange(len(ring_lens_a)), ring_lens_a)
    idx = np.arange(n)
    nxt = idx + 1
    nxt[ring_start + ring_lens_a - 1] = ring_start
    cross = xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1]
    area2 = np.add.reduceat(cross, ring_start)
    want = np.where(np.asarray(ring_hole), -1.0, 1.0)
    flip = (np.sign(area2) != want)[ring_of]
    a = np.where(flip, nxt, idx)
    b = np.where(flip, idx, nxt)
    d = xy[b] - xy[a]
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 1e-9
    a, b, d, length = a[ok], b[ok], d[ok], length[ok]
    e = len(a)
    wall_n = np.column_stack([d[:, 1] / length, -d[:, 0] / length, np.zeros(e)])
    wall_v = np.empty((e, 4, 3))
    wall_v[:, 0, :2], wall_v[:, 0, 2] = xy[a], z0[a]
    wall_v[:, 1, :2], wall_v[:, 1, 2] = xy[b], z0[b]
    wall_v[:, 2, :2], wall_v[:, 2, 2] = xy[b], z1[b]
    wall_v[:, 3, :2], wall_v[:, 3, 2] = xy[a], z1[a]
    base = 2 * n + 4 * np.arange(e)[:, None]
    wall_f = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]])

    vertices = np.concatenate([np.column_stack([xy, z1]), np.column_stack([xy, z0]), wall_v.reshape(-1, 3)])
    normals = np.concatenate(
        [np.tile([0.0, 0.0, 1.0], (n, 1)), np.tile([0.0, 0.0, -1.0], (n, 1)), np.repeat(wall_n, 4, axis=0)]
    )
    faces = np.concatenate([cap, cap + n, wall_f])
    feature = np.concatenate([vfeat, vfeat, np.repeat(vfeat[a], 4)])
    faces = _orient(vertices, faces, normals)
    return Mesh(vertices, faces, normals.astype(np.float32), _colors(colors, feature), feature, list(ids))


# -- planar 3-D polygons (LOD2 surfaces) -------------------------------------------------------
def polygons(polys: Sequence[Sequence[np.ndarray]], feature: IntArray, colors: np.ndarray, ids: list[str]) -> Mesh:
    """Planar 3-D polygons with holes (each a list of (n, 3) rings, exterior first), flat-shaded.

    Each polygon is projected on the coordinate plane its normal (Newell's) is most aligned with,
    triangulated there and the triangles use the original 3-D vertices.  Triangles face the way the
    exterior ring turns (right-hand rule), as CityGML and CityJSON surfaces are oriented.
    feature : (p,) index into ``ids`` per polygon.  colors : (p, 4) uint8 per polygon.
    """
    rings = [np.asarray(r, dtype=float).reshape(-1, 3) for rs in polys for r in rs]
    points = np.concatenate(rings) if rings else np.zeros((0, 3))
    return polygons_flat(
        points,
        np.array([len(r) for r in rings], np.int64),
        np.array([len(rs) for rs in polys], np.int64),
        feature,
        colors,
        ids,
    )


def _polygon_loop(rings: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One polygon (rings, exterior first): its cleaned points (m, 3), triangles (t, 3) local, unit normal (3,)."""
    rs = [_clean_ring(r) for r in rings]
    rs = [r for r in rs if len(r) >= 3]
    if not rs:
        return None
    ext = rs[0]
    nxt = np.roll(ext, -1, axis=0)
    normal = np.array(
        [
            np.sum((ext[:, 1] - nxt[:, 1]) * (ext[:, 2] + nxt[:, 2])),
            np.sum((ext[:, 2] - nxt[:, 2]) * (ext[:, 0] + nxt[:, 0])),
            np.sum((ext[:, 0] - nxt[:, 0]) * (ext[:, 1] + nxt[:, 1])),
        ]
    )
    if not np.any(normal):
        return None
    pts = np.concatenate(rs) if len(rs) > 1 else rs[0]
    drop = int(np.argmax(np.abs(normal)))
    keep = [i for i in range(3) if i != drop]
    return pts, _triangulate(pts[:, keep], np.cumsum([len(r) for r in rs])), normal / np.linalg.norm(normal)


#: earcut's triangles of a strictly convex ring of m vertices (a fan), by (m, clockwise in its 2-D projection)
_CONVEX_FANS: dict[tuple[int, bool], list[tuple[int, int, int]]] = {
    **{(m, False): [(m - 2, m - 1, 0)] + [(m - 2, j, j + 1) for j in range(m - 3)] for m in range(4, 8)},
    **{(m, True): [(1, 0, m - 1)] + [(1, j, j - 1) for j in range(m - 1, 2, -1)] for m in range(4, 8)},
}


def _strictly_convex(pts: FloatArray, lens: IntArray, drop_axis: IntArray) -> tuple[np.ndarray, np.ndarray]:
    """Per ring (consecutive in ``pts`` (n, 3), ``lens`` (q,)), projected without its ``drop_axis`` (q,):
    whether it turns the same way, strictly, at every vertex and once around (earcut's ``area`` test),
    and whether it runs clockwise (sum of (u' - u) (v' + v) over its edges > 0)."""
    q = len(lens)
    if q == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    ring = np.repeat(np.arange(q), lens)
    ax = drop_axis[ring]
    u = np.where(ax == 0, pts[:, 1], pts[:, 0])
    v = np.where(ax == 2, pts[:, 1], pts[:, 2])
    start = np.cumsum(lens) - lens
    local = np.arange(len(pts)) - start[ring]
    nxt = start[ring] + np.where(local + 1 == lens[ring], 0, local + 1)
    prv = start[ring] + np.where(local == 0, lens[ring] - 1, local - 1)
    # earcut's area(p, q, r) = (q.y - p.y) * (r.x - q.x) - (q.x - p.x) * (r.y - q.y) at every vertex q
    turn = (v - v[prv]) * (u[nxt] - u) - (u - u[prv]) * (v[nxt] - v)
    pos = np.bincount(ring, weights=turn > 0, minlength=q) == lens
    neg = np.bincount(ring, weights=turn < 0, minlength=q) == lens
    ang = np.arctan2(v[nxt] - v, u[nxt] - u) - np.arctan2(v - v[prv], u - u[prv])
    ang = (ang + np.pi) % (2 * np.pi) - np.pi
    once = np.abs(np.abs(np.bincount(ring, weights=ang, minlength=q)) - 2 * np.pi) < 1e-6
    signed = np.bincount(ring, weights=(u[nxt] - u) * (v[nxt] + v), minlength=q)
    return (pos | neg) & once, signed > 0


def polygons_flat(
    points: FloatArray,
    ring_len: IntArray,
    poly_rings: IntArray,
    feature: IntArray,
    colors: np.ndarray,
    ids: list[str],
    tol: float = 1e-9,
) -> Mesh:
    """:func:`polygons` from flat arrays: ``points`` (n, 3) every ring's vertices ring after ring, ``ring_len``
    (r,) vertices per ring, ``poly_rings`` (p,) rings per polygon (exterior first).

    Rings are cleaned (consecutive duplicates and a repeated closing vertex dropped) and single-ring
    polygons of fewer than 8 vertices get their normals and triangles with numpy for all at once (earcut
    per polygon beyond triangles); polygons with holes or longer rings go one by one.  The result is the
    same as meshing each polygon on its own, in polygon order.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    ring_len = np.asarray(ring_len, np.int64)
    poly_rings = np.asarray(poly_rings, np.int64)
    n, r, p = len(points), len(ring_len), len(poly_rings)
    if p == 0 or n == 0:
        return Mesh.empty(ids)
    ring_start = np.concatenate([[0], np.cumsum(ring_len)[:-1]])
    ring_of = np.repeat(np.arange(r), ring_len)
    poly_first_ring = np.concatenate([[0], np.cumsum(poly_rings)[:-1]])
    # clean every ring: drop a vertex equal to the one before it, then a closing vertex equal to the first
    keep = np.ones(n, bool)
    if n > 1:
        step = np.abs(np.diff(points, axis=0))
        keep[1:] = np.maximum(np.maximum(step[:, 0], step[:, 1]), step[:, 2]) > tol  # (not .max(axis=1): slow)
    keep[ring_start[ring_len > 0]] = True
    kept = np.flatnonzero(keep)
    kcount = np.bincount(ring_of[kept], minlength=r)
    kstart = np.concatenate([[0], np.cumsum(kcount)[:-1]])
    has2 = kcount > 1
    first_pt = points[kept[kstart[has2]]]
    last_pt = points[kept[kstart[has2] + kcount[has2] - 1]]
    closing = np.zeros(r, bool)
    gap = np.abs(first_pt - last_pt)
    closing[np.flatnonzero(has2)] = np.maximum(np.maximum(gap[:, 0], gap[:, 1]), gap[:, 2]) <= tol
    drop_last = np.zeros(len(kept), bool)
    drop_last[(kstart + kcount - 1)[closing]] = True
    kept = kept[~drop_last]
    clen = kcount - closing
    # which polygons take the vectorised path: one ring of 3..7 vertices
    single = poly_rings == 1
    ext_ring = poly_first_ring
    ext_len = np.where(single, clen[np.minimum(ext_ring, max(r - 1, 0))], 0)
    fast = single & (ext_len >= 3) & (ext_len < 8)
    slow = np.flatnonzero(~single | (ext_len >= 8))
    # fast polygons: their cleaned vertices, contiguous per polygon
    fpoly = np.flatnonzero(fast)
    fring = ext_ring[fpoly]
    flen = clen[fring]
    cstart = np.concatenate([[0], np.cumsum(clen)[:-1]])
    local = np.arange(flen.sum()) - np.repeat(np.cumsum(flen) - flen, flen)
    src = kept[np.repeat(cstart[fring], flen) + local]
    fpts = points[src]
    nxt_local = np.where(local + 1 == np.repeat(flen, flen), 0, local + 1)
    nxt = points[kept[np.repeat(cstart[fring], flen) + nxt_local]]
    terms = np.column_stack(
        [
            (fpts[:, 1] - nxt[:, 1]) * (fpts[:, 2] + nxt[:, 2]),
            (fpts[:, 2] - nxt[:, 2]) * (fpts[:, 0] + nxt[:, 0]),
            (fpts[:, 0] - nxt[:, 0]) * (fpts[:, 1] + nxt[:, 1]),
        ]
    )
    fstart = np.cumsum(flen) - flen
    fnormal = np.add.reduceat(terms, fstart, axis=0) if len(fpoly) else np.zeros((0, 3))
    fok = fnormal.any(axis=1)
    # per polygon: vertex count, normal, triangles
    count = np.zeros(p, np.int64)
    normal = np.zeros((p, 3))
    count[fpoly[fok]] = flen[fok]
    nn = fnormal[fok]
    normal[fpoly[fok]] = nn / np.linalg.norm(nn, axis=1)[:, None]
    slow_out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in slow.tolist():
        a = ring_start[poly_first_ring[k]]
        b = a + ring_len[poly_first_ring[k] : poly_first_ring[k] + poly_rings[k]].sum()
        bounds = np.cumsum(ring_len[poly_first_ring[k] : poly_first_ring[k] + poly_rings[k]])[:-1]
        res = _polygon_loop(np.split(points[a:b], bounds))
        if res is not None:
            slow_out[k] = res
            count[k] = len(res[0])
            normal[k] = res[2]
    if not count.any():
        return Mesh.empty(ids)
    vstart = np.cumsum(count) - count
    vertices = np.empty((int(count.sum()), 3))
    okp = fpoly[fok]
    okl = np.repeat(fok, flen)
    vertices[np.repeat(vstart[okp], flen[fok]) + local[okl]] = fpts[okl]
    # triangles: fans never, earcut always (as one polygon at a time would)
    tris: dict[int, np.ndarray] = {}
    fan_rows: list[tuple[np.ndarray, int, np.ndarray]] = []
    ntri = np.zeros(p, np.int64)
    tri3 = okp[flen[fok] == 3]
    ntri[tri3] = 1
    drop_axis = np.argmax(np.abs(fnormal[fok]), axis=1)
    convex, clockwise = _strictly_convex(fpts[okl], flen[fok], drop_axis)
    for m in range(4, 8):  # strictly convex: earcut's triangles are a fan, one of two by orientation
        for cw in (False, True):
            sel = (flen[fok] == m) & convex & (clockwise == cw)
            if sel.any():
                ks = okp[sel]
                ntri[ks] = m - 2
                for j, tri in enumerate(_CONVEX_FANS[m, cw]):
                    fan_rows.append((ks, j, np.asarray(tri)))
    for k, m, ax, s0, cx in zip(
        okp.tolist(), flen[fok].tolist(), drop_axis.tolist(), fstart[fok].tolist(), convex.tolist(), strict=True
    ):
        if m == 3 or cx:
            continue
        keep2 = [i for i in range(3) if i != ax]
        tris[k] = _triangulate(fpts[s0 : s0 + m][:, keep2], [m])
        ntri[k] = len(tris[k])
    for k, (pts, t, _) in slow_out.items():
        vertices[vstart[k] : vstart[k] + len(pts)] = pts
        tris[k] = t
        ntri[k] = len(t)
    tstart = np.cumsum(ntri) - ntri
    faces = np.empty((int(ntri.sum()), 3), np.int64)
    faces[tstart[tri3]] = vstart[tri3][:, None] + np.arange(3)
    for ks, j, fan in fan_rows:
        faces[tstart[ks] + j] = vstart[ks][:, None] + fan
    for k, t in tris.items():
        faces[tstart[k] : tstart[k] + len(t)] = t + vstart[k]
    normals = np.repeat(normal, count, axis=0)
    poly_of = np.repeat(np.arange(p), count)
    faces = _orient(vertices, faces, normals)
    vfeat = np.asarray(feature, dtype=np.int64)[poly_of]
    return Mesh(vertices, faces, normals.astype(np.float32), _colors(colors, poly_of), vfeat, list(ids))


# -- swept sections (pipes, tunnels, manholes) -----------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """A cross-section in unit coordinates (s: right of the axis, u: up), scaled per line by (sx, sy).

    points, normals : (m, 2); edges : (q, 2) pairs of points joined along the sweep; outline : (o, 2)
    the cap polygon (convex, in order).
    """

    points: np.ndarray
    normals: np.ndarray
    edges: np.ndarray
    outline: np.ndarray

    @classmethod
    def circle(cls, sides: int) -> Profile:
        a = np.pi / 2 + 2 * np.pi * np.arange(sides) / sides
        p = np.column_stack([np.cos(a), np.sin(a)])
        k = np.arange(sides)
        return cls(p, p, np.column_stack([k, (k + 1) % sides]), p)

    @classmethod
    def box(cls) -> Profile:
        c = np.array([[1, -1], [1, 1], [-1, 1], [-1, -1]], float)
        p = np.array([c[0], c[1], c[1], c[2], c[2], c[3], c[3], c[0]])
        n = np.repeat(np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], float), 2, axis=0)
        return cls(p, n, np.array([[0, 1], [2, 3], [4, 5], [6, 7]]), c)


def circle_sides(diameter: float) -> int:
    """Sides of the n-gon for a circular section: 8 below 0.5 m, 12 below 1.5 m, else 16."""
    return 8 if diameter < 0.5 else 12 if diameter < 1.5 else 16


def sweep(
    lines: Sequence[np.ndarray],
    profile: Profile,
    sx: FloatArray,
    sy: FloatArray,
    feature: IntArray,
    colors: np.ndarray,
    ids: list[str],
    caps: bool = True,
) -> Mesh:
    """A section swept along 3-D polylines (z = axis elevation), one tube of mitred segments per line.

    Each segment is a prism of the profile, cut at each joint by the plane that bisects the turn, so
    neighbouring segments meet on the same section (mitre limited to 60 degrees).  The section's
    s axis is horizontal, perpendicular to the segment, and u completes it upwards (for a vertical
    segment, s is east).  lines : (n_i, 3) metres; sx, sy : (l,) half-sizes (radius, or half width and
    half height), metres; feature : (l,) index into ``ids``; colors : (l, 4) RGBA per line.
    """
    clean = [_clean_ring(np.asarray(ln, dtype=float)[:, :3]) for ln in lines]
    lens = np.array([len(c) for c in clean])
    good = lens >= 2
    if not good.any():
        return Mesh.empty(ids)
    line_idx = np.flatnonzero(good)
    pts = np.concatenate([clean[i] for i in line_idx])
    lens = lens[line_idx]
    start = np.cumsum(lens) - lens
    nseg = lens - 1
    seg_line = np.repeat(line_idx, nseg)
    first_pt = np.repeat(start, nseg) + (np.arange(nseg.sum()) - np.repeat(np.cumsum(nseg) - nseg, nseg))
    a, b = pts[first_pt], pts[first_pt + 1]
    d = _unit(b - a)
    s_count = len(a)
    is_first = np.zeros(s_count, bool)
    is_first[np.cumsum(nseg) - nseg] = True
    is_last = np.zeros(s_count, bool)
    is_last[np.cumsum(nseg) - 1] = True
    d_prev = np.where(is_first[:, None], d, np.roll(d, 1, axis=0))
    d_next = np.where(is_last[:, None], d, np.roll(d, -1, axis=0))
    t0 = _unit(d_prev + d)
    t1 = _unit(d + d_next)
    t0 = np.where(np.linalg.norm(t0, axis=1, keepdims=True) > 0, t0, d)
    t1 = np.where(np.linalg.norm(t1, axis=1, keepdims=True) > 0, t1, d)
    s = np.cross(d, [0.0, 0.0, 1.0])
    vertical = np.linalg.norm(s, axis=1) < 1e-9
    s[vertical] = [1.0, 0.0, 0.0]
    s = _unit(s)
    u = np.cross(s, d)

    P, N = profile.points, profile.normals
    m = len(P)
    scale = np.column_stack([np.asarray(sx, float)[seg_line], np.asarray(sy, float)[seg_line]])
    off = _section(P, scale, s, u)
    nrm = _section(N, np.ones_like(scale), s, u)
    ring0, ring1 = _cut(a, off, d, t0), _cut(b, off, d, t1)
    side_v = np.concatenate([ring0, ring1], axis=1).reshape(-1, 3)  # per segment: m start then m end
    side_n = np.concatenate([nrm, nrm], axis=1).reshape(-1, 3)
    base = (2 * m * np.arange(s_count))[:, None]
    i, j = profile.edges[:, 0], profile.edges[:, 1]
    quads = np.concatenate([np.column_stack([i, j, m + j]), np.column_stack([i, m + j, m + i])])
    side_f = (base[:, None, :] + quads[None, :, :]).reshape(-1, 3)
    side_feat = np.repeat(seg_line, 2 * m)
    parts_v, parts_n, parts_f, parts_feat = [side_v], [side_n], [side_f], [side_feat]
    nv = len(side_v)
    if caps:
        o = profile.outline
        q = len(o)
        for mask, centre, ring_sign in ((is_first, a, -1.0), (is_last, b, 1.0)):
            k = np.flatnonzero(mask)
            if not len(k):
                continue
            t = t0[k] if ring_sign < 0 else t1[k]
            ov = _cut(centre[k], _section(o, scale[k], s[k], u[k]), d[k], t)
            cv = np.concatenate([centre[k][:, None, :], ov], axis=1).reshape(-1, 3)
            cb = nv + ((q + 1) * np.arange(len(k)))[:, None]
            jj = np.arange(q)
            fan = np.column_stack([np.zeros(q, np.int64), 1 + jj, 1 + (jj + 1) % q])
            parts_v.append(cv)
            parts_n.append(np.repeat(ring_sign * d[k], q + 1, axis=0))
            parts_f.append((cb[:, None, :] + fan[None, :, :]).reshape(-1, 3))
            parts_feat.append(np.repeat(seg_line[k], q + 1))
            nv += len(cv)
    vertices = np.concatenate(parts_v)
    normals = np.concatenate(parts_n)
    line_of_vertex = np.concatenate(parts_feat)
    faces = _orient(vertices, np.concatenate(parts_f), normals)
    vfeat = np.asarray(feature, dtype=np.int64)[line_of_vertex]
    return Mesh(vertices, faces, normals.astype(np.float32), _colors(colors, line_of_vertex), vfeat, list(ids))


def _section(points: np.ndarray, scale: FloatArray, s: FloatArray, u: FloatArray) -> FloatArray:
    """(segments, m, 3) offsets of profile points (m, 2) scaled by (segments, 2) in frames s, u (segments, 3)."""
    return (points[None, :, 0:1] * scale[:, None, 0:1]) * s[:, None, :] + (
        points[None, :, 1:2] * scale[:, None, 1:2]
    ) * u[:, None, :]


def _cut(centre: FloatArray, off: FloatArray, d: FloatArray, t: FloatArray) -> FloatArray:
    """Section offsets ``off`` around ``centre`` moved along the axis ``d`` onto the plane of normal ``t``
    (a mitre; the cosine is limited to 0.5)."""
    cos = np.maximum(np.einsum("ij,ij->i", d, t), 0.5)
    shift = np.einsum("smk,sk->sm", off, t) / cos[:, None]
    return centre[:, None, :] + off - d[:, None, :] * shift[..., None]


def simplify_line(line: np.ndarray, tol: float = 0.01) -> np.ndarray:
    """Douglas-Peucker in 3-D: the polyline's vertices within ``tol`` metres of the original."""
    pts = np.asarray(line, dtype=float)
    if len(pts) <= 2:
        return pts
    keep = np.zeros(len(pts), bool)
    keep[[0, -1]] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        seg = pts[j] - pts[i]
        ll = float(seg @ seg)
        rel = pts[i + 1 : j] - pts[i]
        if ll == 0:
            dist = np.linalg.norm(rel, axis=1)
        else:
            tpar = np.clip(rel @ seg / ll, 0, 1)
            dist = np.linalg.norm(rel - tpar[:, None] * seg, axis=1)
        k = int(np.argmax(dist))
        if dist[k] > tol:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return pts[keep]


# -- feature meshes --------------------------------------------------------------------------------
def building_meshes(buildings: Sequence[Building], lod: str = "best") -> Mesh:
    """Buildings: LOD2 surfaces where a building has them (``lod="best"``), else LOD1 prisms from
    ``ground_elevation`` to ``roof_elevation``.  ``lod="1"`` gives prisms for all.

    Prisms are coloured by use; LOD2 surfaces by semantic type (roof, wall, ground).
    """
    ids = [b.id for b in buildings]
    lod2 = [k for k, b in enumerate(buildings) if lod != "1" and b.surfaces]
    lod1 = sorted(set(range(len(buildings))) - set(lod2))
    meshes = []
    if lod1:
        sel = [buildings[k] for k in lod1]
        m = extrusions(
            [[np.asarray(r, float) for r in b.footprint] for b in sel],
            np.array([b.ground_elevation for b in sel]),
            np.array([b.roof_elevation for b in sel]),
            np.array([BUILDING_COLORS[b.use] for b in sel]),
            ids,
        )
        m.feature = np.asarray(lod1, np.int64)[m.feature]
        meshes.append(m)
    if lod2:
        polys, feat, cols = [], [], []
        for k in lod2:
            for srf in buildings[k].surfaces or []:
                polys.append([np.asarray(r, float) for r in srf.rings])
                feat.append(k)
                cols.append(SURFACE_COLORS.get(srf.type, SURFACE_COLORS[None]))
        meshes.append(polygons(polys, np.asarray(feat), np.asarray(cols), ids))
    return merge_meshes(meshes, ids)


def building_meshes_docs(docs: Sequence[dict[str, Any]]) -> Mesh:
    """:func:`building_meshes` (``lod="best"``) of stored building documents (parsed JSON, as written by
    ``Building.model_dump``) without validating them into models: the same mesh, several times faster
    (3D Tiles of a whole city).  Fields a document leaves out take the model's defaults."""
    ids = [d["id"] for d in docs]
    lod2 = [k for k, d in enumerate(docs) if d.get("surfaces")]
    lod1 = [k for k, d in enumerate(docs) if not d.get("surfaces")]
    meshes = []
    if lod1:
        sel = [docs[k] for k in lod1]
        ground = np.array([float(d["ground_elevation"]) for d in sel])
        roof = np.array(
            [
                float(d["roof_elevation"]) if d.get("roof_elevation") is not None else g + float(d["height"])
                for d, g in zip(sel, ground, strict=True)
            ]
        )
        m = extrusions(
            [[np.asarray(r, float) for r in d["footprint"]] for d in sel],
            ground,
            roof,
            np.array([BUILDING_COLORS[BuildingUse(d.get("use") or BuildingUse.residential)] for d in sel]),
            ids,
        )
        m.feature = np.asarray(lod1, np.int64)[m.feature]
        meshes.append(m)
    if lod2:
        meshes.append(_surfaces_mesh([docs[k]["surfaces"] for k in lod2], np.asarray(lod2, np.int64), ids))
    return merge_meshes(meshes, ids)


#: surface type -> row of :data:`_SURFACE_PALETTE` (other types and None: the last row)
_SURFACE_ROW = {t.value: i for i, t in enumerate(SurfaceType)}
_SURFACE_PALETTE = np.array([*(SURFACE_COLORS.get(t, SURFACE_COLORS[None]) for t in SurfaceType), SURFACE_COLORS[None]])
_rings_of = operator.itemgetter("rings")
_type_of = operator.methodcaller("get", "type")


def _surfaces_mesh(per_doc: Sequence[list[dict[str, Any]]], feature: IntArray, ids: list[str]) -> Mesh:
    """The LOD2 surfaces of parsed documents (``per_doc``: each document's ``surfaces`` list; ``feature``
    (d,) their indices into ``ids``) through :func:`polygons_flat`.  The nested lists are flattened a level
    at a time with ``itertools.chain`` and ``map`` (C loops, no Python-level pass over the surfaces)."""
    nsurf = np.fromiter(map(len, per_doc), np.int64, len(per_doc))
    surfaces = list(itertools.chain.from_iterable(per_doc))
    rings = list(map(_rings_of, surfaces))
    poly_rings = np.fromiter(map(len, rings), np.int64, len(rings))
    flat = list(itertools.chain.from_iterable(rings))
    ring_len = np.fromiter(map(len, flat), np.int64, len(flat))
    n = int(ring_len.sum())
    points = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(flat)), float, 3 * n).reshape(n, 3)
    types = map(_type_of, surfaces)
    colour = np.fromiter(
        map(_SURFACE_ROW.get, types, itertools.repeat(len(_SURFACE_PALETTE) - 1)), np.int64, len(rings)
    )
    return polygons_flat(points, ring_len, poly_rings, np.repeat(feature, nsurf), _SURFACE_PALETTE[colour], ids)


def merge_meshes(meshes: list[Mesh], ids: list[str]) -> Mesh:
    """Concatenate meshes whose feature indices already refer to the same ``ids``."""
    meshes = [m for m in meshes if len(m.vertices)]
    if not meshes:
        return Mesh.empty(ids)
    voff = np.cumsum([0] + [len(m.vertices) for m in meshes])
    return Mesh(
        np.concatenate([m.vertices for m in meshes]),
        np.concatenate([m.faces + voff[i] for i, m in enumerate(meshes)]),
        np.concatenate([m.normals for m in meshes]),
        np.concatenate([m.colors for m in meshes]),
        np.concatenate([m.feature for m in meshes]),
        list(ids),
    )


def pipe_meshes(pipes: Sequence[PipeSegment], simplify: float = 0.01) -> Mesh:
    """Pipes as tubes of their outer diameter (n-gon sections, see :func:`circle_sides`) or boxes of
    their width x section height, along the centreline (simplified within ``simplify`` metres), capped,
    coloured by utility (:data:`UTILITY_COLORS`)."""
    ids = [p.id for p in pipes]
    lines = [simplify_line(p.coords(), simplify) if simplify else p.coords() for p in pipes]
    meshes = []
    circ = [k for k, p in enumerate(pipes) if p.diameter is not None]
    for sides in (8, 12, 16):
        ks = [k for k in circ if circle_sides(pipes[k].diameter) == sides]  # type: ignore[arg-type]
        if ks:
            r = np.array([pipes[k].diameter / 2 for k in ks])  # type: ignore[operator]
            meshes.append(
                sweep(
                    [lines[k] for k in ks],
                    Profile.circle(sides),
                    r,
                    r,
                    np.asarray(ks),
                    np.array([UTILITY_COLORS[pipes[k].utility] for k in ks]),
                    ids,
                )
            )
    box = [k for k, p in enumerate(pipes) if p.diameter is None]
    if box:
        meshes.append(
            sweep(
                [lines[k] for k in box],
                Profile.box(),
                np.array([pipes[k].width / 2 for k in box]),  # type: ignore[operator]
                np.array([pipes[k].section_height / 2 for k in box]),  # type: ignore[operator]
                np.asarray(box),
                np.array([UTILITY_COLORS[pipes[k].utility] for k in box]),
                ids,
            )
        )
    return merge_meshes(meshes, ids)


def node_meshes(nodes: Sequence[PipeNode]) -> Mesh:
    """Manholes, valves and other chambers as vertical cylinders (octagons; 16-gons from 1.5 m) of their
    diameter (or the kind's default, :data:`NODE_DIAMETERS`) from the cover down ``depth`` (default
    1.5 m); junctions, which are points of the network, get no solid."""
    ids = [n.id for n in nodes]
    ks = [k for k, n in enumerate(nodes) if n.kind != NodeKind.junction]
    if not ks:
        return Mesh.empty(ids)
    meshes = []
    for sides in (8, 16):  # chambers: octagons up to 1.5 m across
        sel = [
            k
            for k in ks
            if (16 if (nodes[k].diameter or NODE_DIAMETERS.get(nodes[k].kind, 1.0)) >= 1.5 else 8) == sides
        ]
        if not sel:
            continue
        lines = []
        for k in sel:
            x, y, z = nodes[k].position
            depth = nodes[k].depth or NODE_DEFAULT_DEPTH
            lines.append(np.array([[x, y, z - depth], [x, y, z]]))
        r = np.array([(nodes[k].diameter or NODE_DIAMETERS.get(nodes[k].kind, 1.0)) / 2 for k in sel])
        meshes.append(
            sweep(
                lines,
                Profile.circle(sides),
                r,
                r,
                np.asarray(sel),
                np.array([UTILITY_COLORS[nodes[k].utility] for k in sel]),
                ids,
            )
        )
    return merge_meshes(meshes, ids)


def structure_meshes(structures: Sequence[UndergroundStructure]) -> Mesh:
    """Basements and other footprint structures as prisms (bottom to top elevation); tunnels as their
    box or circular section swept along the centreline (z = axis elevation)."""
    ids = [s.id for s in structures]
    meshes = []
    prism = [k for k, s in enumerate(structures) if s.footprint is not None]
    if prism:
        sel = [structures[k] for k in prism]
        m = extrusions(
            [[np.asarray(r, float) for r in s.footprint or []] for s in sel],
            np.array([s.bottom_elevation for s in sel]),
            np.array([s.top_elevation for s in sel]),
            np.array([STRUCTURE_COLORS[s.kind] for s in sel]),
            ids,
        )
        m.feature = np.asarray(prism, np.int64)[m.feature]
        meshes.append(m)
    swept = [k for k, s in enumerate(structures) if s.footprint is None and s.centreline is not None]
    for section in ("box", "circular"):
        ks = [k for k in swept if structures[k].section == section]
        if not ks:
            continue
        lines = [simplify_line(np.asarray(structures[k].centreline, float)) for k in ks]
        w = np.array([structures[k].width / 2 for k in ks])  # type: ignore[operator]
        h = np.array([(structures[k].section_height or structures[k].width) / 2 for k in ks])  # type: ignore[operator]
        prof = Profile.box() if section == "box" else Profile.circle(16)
        meshes.append(
            sweep(
                lines,
                prof,
                w,
                h if section == "box" else w,
                np.asarray(ks),
                np.array([STRUCTURE_COLORS[structures[k].kind] for k in ks]),
                ids,
            )
        )
    return merge_meshes(meshes, ids)


def feature_meshes(features: Sequence[Any]) -> Mesh:
    """A mesh of features of any types, ids in the order given (features without a solid have no vertices)."""
    groups: dict[type, list[int]] = {}
    for k, f in enumerate(features):
        groups.setdefault(type(f), []).append(k)
    builders: dict[type, Callable[[list[Any]], Mesh]] = {
        Building: building_meshes,
        PipeSegment: pipe_meshes,
        PipeNode: node_meshes,
        UndergroundStructure: structure_meshes,
    }
    meshes = []
    for typ, ks in groups.items():
        if typ not in builders:
            raise TypeError(f"no mesh for {typ.__name__}")
        m = builders[typ]([features[k] for k in ks])
        m.feature = np.asarray(ks, np.int64)[m.feature]
        meshes.append(m)
    return merge_meshes(meshes, [f.id for f in features])


# -- terrain -------------------------------------------------------------------------------------
TERRAIN_LOW: RGBA = (118, 150, 92, 255)
TERRAIN_HIGH: RGBA = (196, 178, 128, 255)


def terrain_mesh(
    terrain: Terrain,
    step: int = 1,
    window: tuple[int, int, int, int] | None = None,
    zrange: tuple[float, float] | None = None,
) -> Mesh:
    """The DEM as a TIN of every ``step``-th grid node (the window's last row and column always kept).

    window : (i0, j0, i1, j1) inclusive grid-node indices (columns i, rows j; default the whole grid).
    Vertex normals come from the grid's slopes; colours blend from green (low) to tan (high) over
    ``zrange`` (default the DEM's range).  One feature, id ``"terrain"``; cells with no data are left out.
    """
    ny, nx = terrain.shape
    i0, j0, i1, j1 = window or (0, 0, nx - 1, ny - 1)
    cols = np.unique(np.append(np.arange(i0, i1, step), i1))
    rows = np.unique(np.append(np.arange(j0, j1, step), j1))
    z = terrain.z[np.ix_(rows, cols)].astype(np.float64)
    gx, gy = np.meshgrid(terrain.x0 + cols * terrain.cell, terrain.y0 + rows * terrain.cell)
    verts = np.column_stack([gx.ravel(), gy.ravel(), z.ravel()])
    h, w = z.shape
    idx = np.arange(h * w).reshape(h, w)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    faces = faces[~np.isnan(verts[faces, 2]).any(axis=1)]
    # normals from central differences of the full-resolution DEM at the kept nodes
    zz = terrain.z.astype(np.float64)
    ci, ri = np.meshgrid(cols, rows)
    il, ir = np.maximum(ci - 1, 0), np.minimum(ci + 1, nx - 1)
    jd, ju = np.maximum(ri - 1, 0), np.minimum(ri + 1, ny - 1)
    dzdx = (zz[ri, ir] - zz[ri, il]) / ((ir - il) * terrain.cell)
    dzdy = (zz[ju, ci] - zz[jd, ci]) / ((ju - jd) * terrain.cell)
    normals = _unit(np.column_stack([-dzdx.ravel(), -dzdy.ravel(), np.ones(h * w)]))
    normals[~np.isfinite(normals).all(axis=1)] = [0.0, 0.0, 1.0]
    used = np.zeros(len(verts), bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    verts, normals, faces = verts[used], normals[used], remap[faces]
    lo, hi = zrange or (float(np.nanmin(terrain.z)), float(np.nanmax(terrain.z)))
    t = np.clip((verts[:, 2] - lo) / max(hi - lo, 1e-9), 0, 1)[:, None]
    colors = np.round(np.asarray(TERRAIN_LOW) * (1 - t) + np.asarray(TERRAIN_HIGH) * t).astype(np.uint8)
    colors[:, 3] = 255
    return Mesh(
        verts, faces.astype(np.int64), normals.astype(np.float32), colors, np.zeros(len(verts), np.int64), ["terrain"]
    )
