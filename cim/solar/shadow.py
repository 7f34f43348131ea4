"""Shadow tests: which façade points see the sun at which steps.

**LOD1 prisms, exact and vectorised** (:func:`shadow_tops`).  A prism (footprint, vertical walls, flat roof at
elevation R, standing on the ground) blocks the ray from a point at height z towards the sun (horizontal
direction u, altitude h) iff the ray's plan line enters the footprint at a distance d with z + d tan h < R.  For
one column (plan position) and one step the whole vertical line of points is therefore answered by one number,
the **shadow top** S = max over the footprint edges that the plan ray crosses of (R_edge - d_edge tan h): the
point at z is in shadow iff z < S.  (The first crossing of a footprint gives its largest R - d tan h, so taking
every crossed edge gives the same maximum without tracking polygons; and since a ray enters a footprint through
an edge facing it, edges facing away are dropped.)  Two kernels compute it: :func:`shadow_tops`, the plain one
(every column x (step, edge) pair, one numpy expression reduced by ``np.maximum.reduceat``), and
:func:`wall_shadow_tops`, used by the analysis: the columns of one straight wall are equally spaced, so seen
along the sun the columns an edge covers are one index range and their distances to it are linear in the
index; only the (column, step) entries that really cross an edge are generated (``np.maximum.at``).  Tests
check the two against each other.

Candidates are culled by the sun's sweep: for each step, a building is a candidate only when its bounding box,
seen along the sun's direction, overlaps the columns' bounding box across it, lies in front of them, and is
tall enough to reach them from its nearest corner ((R - z_low) >= gap x tan h).

**LOD2 surfaces and the terrain** (:func:`rays_blocked`): ray casting with trimesh (Embree through ``embreex``
when it is installed, else trimesh's own triangle engine) from each point towards the sun, only for the
(point, step) pairs the prisms left sunlit and that a LOD2 building could reach (the same cull) or that lie
below the terrain's highest point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PAIR_BUDGET = 2_000_000  # column x (step, edge) elements per numpy block
MIN_TAN = np.tan(np.radians(0.5))  # altitude floor for reach computations


@dataclass
class Prisms:
    """LOD1 prisms as footprint edges.

    a, b : (E, 2) edge end points (city CRS metres), exterior rings counter-clockwise and holes clockwise, so the
    outward normal of edge a->b is (b - a) turned clockwise; top : (E,) roof elevation of the edge's prism;
    owner : (E,) prism index, edges sorted by it; bbox : (O, 4) minx, miny, maxx, maxy per prism;
    height : (O,) roof elevation per prism; ids : prism ids.
    """

    a: np.ndarray
    b: np.ndarray
    top: np.ndarray
    owner: np.ndarray
    bbox: np.ndarray
    height: np.ndarray
    ids: list[str]
    za: np.ndarray | None = None  # (E,) edge end heights (sloped edges of LOD2 triangles; None: ``top``)
    zb: np.ndarray | None = None
    closed: bool = True  # prisms: a ray enters through an edge facing it; False: every edge counts (triangles)

    @classmethod
    def build(
        cls, footprints: Sequence[Sequence[Sequence[Sequence[float]]]], roofs: Sequence[float], ids: Sequence[str]
    ):
        a_l, b_l, own, boxes = [], [], [], []
        for k, fp in enumerate(footprints):
            rings = [np.asarray(r, dtype=float)[:, :2] for r in fp]
            for h, r in enumerate(rings):
                if len(r) > 1 and r[0, 0] == r[-1, 0] and r[0, 1] == r[-1, 1]:  # exact: allclose is relative
                    r = r[:-1]
                x, y = r[:, 0] - r[0, 0], r[:, 1] - r[0, 1]
                ccw = float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) > 0
                if ccw != (h == 0):  # exterior counter-clockwise, holes clockwise: material on the left
                    r = r[::-1]
                a_l.append(r)
                b_l.append(np.concatenate([r[1:], r[:1]]))
                own.append(np.full(len(r), k))
            ext = rings[0]
            boxes.append([ext[:, 0].min(), ext[:, 1].min(), ext[:, 0].max(), ext[:, 1].max()])
        if not a_l:
            return cls.empty()
        owner = np.concatenate(own).astype(np.int64)
        roofs_a = np.asarray(roofs, dtype=float)
        return cls(
            np.concatenate(a_l), np.concatenate(b_l), roofs_a[owner], owner, np.asarray(boxes), roofs_a, list(ids)
        )

    @classmethod
    def empty(cls) -> Prisms:
        z2 = np.zeros((0, 2))
        return cls(z2, z2, np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0), [])

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_mesh(cls, vertices: np.ndarray, faces: np.ndarray, feature: np.ndarray, ids: Sequence[str]) -> Prisms:
        """The plan edges of a triangle mesh's faces with their end heights, per feature (``closed=False``).

        Shadow tops over these edges bound any triangle's shade from above: along the plan ray a triangle's
        height minus the ray's rise is linear, so where the ray meets the triangle one of its edge crossings is
        at least as high (vertical triangles included).  An upper bound, not an exact answer, for LOD2 surfaces.
        """
        if len(faces) == 0:
            return cls.empty()
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        e = np.unique(np.sort(e, axis=1), axis=0)
        own = feature[e[:, 0]].astype(np.int64)
        order = np.argsort(own, kind="stable")
        e, own = e[order], own[order]
        va, vb = vertices[e[:, 0]], vertices[e[:, 1]]
        n = len(ids)
        lo = np.full((n, 2), np.inf)
        hi = np.full((n, 3), -np.inf)
        np.minimum.at(lo, feature, vertices[:, :2])
        np.maximum.at(hi, feature, vertices)
        bbox = np.column_stack([lo, hi[:, :2]])
        top = np.maximum(va[:, 2], vb[:, 2])
        return cls(va[:, :2], vb[:, :2], top, own, bbox, hi[:, 2], list(ids), va[:, 2], vb[:, 2], closed=False)

    def edge_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """(start, count) of each prism's edges (computed once)."""
        if getattr(self, "_ranges", None) is None:
            count = np.bincount(self.owner, minlength=len(self.ids))
            self._ranges = (np.cumsum(count) - count, count)
        return self._ranges


def candidate_pairs(
    xy: np.ndarray,
    z_low: float,
    horizontal: np.ndarray,
    tan_alt: np.ndarray,
    bbox: np.ndarray,
    top: np.ndarray,
    max_reach: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(step, obstacle) index pairs, sorted by step: obstacle o (bounding box ``bbox``, top elevation ``top``)
    may shade some point of ``xy`` at or above ``z_low`` at step t (sun's horizontal direction ``horizontal[t]``,
    altitude tangent ``tan_alt[t]``; steps with ``tan_alt <= 0`` are skipped)."""
    none = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if len(bbox) == 0 or len(xy) == 0:
        return none
    up = tan_alt > 0
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    tall = top > z_low
    gap_x = np.maximum(0.0, np.maximum(bbox[:, 0] - x1, x0 - bbox[:, 2]))
    gap_y = np.maximum(0.0, np.maximum(bbox[:, 1] - y1, y0 - bbox[:, 3]))
    tmin = max(float(tan_alt[up].min()) if up.any() else MIN_TAN, MIN_TAN)
    reach = np.minimum((top - z_low) / tmin, max_reach)
    near = np.flatnonzero(tall & (np.hypot(gap_x, gap_y) <= reach))
    ts = np.flatnonzero(up)
    if len(near) == 0 or len(ts) == 0:
        return none
    k = kernels()
    if k is not None:
        return k.sweep_pairs(ts, horizontal, tan_alt, near, bbox, top, float(z_low), x0, y0, x1, y1)
    bb = bbox[near]
    cx, cy = 0.5 * (bb[:, 0] + bb[:, 2]), 0.5 * (bb[:, 1] + bb[:, 3])
    hx, hy = 0.5 * (bb[:, 2] - bb[:, 0]), 0.5 * (bb[:, 3] - bb[:, 1])
    gx, gy, gw, gh = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    u = horizontal[ts]  # (T', 2) along the sun
    ux, uy = np.abs(u[:, 0])[:, None], np.abs(u[:, 1])[:, None]
    # box projections: centre +- half extent, along u and across (p = (-uy, ux))
    o_al = cx[None, :] * u[:, 0, None] + cy[None, :] * u[:, 1, None]
    o_ac = -cx[None, :] * u[:, 1, None] + cy[None, :] * u[:, 0, None]
    o_r = hx[None, :] * ux + hy[None, :] * uy  # half extent along and across are the same for a box
    o_rc = hx[None, :] * uy + hy[None, :] * ux
    g_al = gx * u[:, 0] + gy * u[:, 1]
    g_ac = -gx * u[:, 1] + gy * u[:, 0]
    g_r = (gw * ux + gh * uy)[:, 0]
    g_rc = (gw * uy + gh * ux)[:, 0]
    across = np.abs(o_ac - g_ac[:, None]) <= o_rc + g_rc[:, None]
    ahead = o_al + o_r > (g_al - g_r)[:, None]
    gap = np.maximum(o_al - o_r - (g_al + g_r)[:, None], 0.0)
    high = gap * tan_alt[ts][:, None] < (top[near] - z_low)[None, :]
    ti, oi = np.nonzero(across & ahead & high)
    return ts[ti], near[oi]


def candidates(xy, z_low, horizontal, tan_alt, bbox, top, max_reach) -> np.ndarray:
    """(T, O) bool form of :func:`candidate_pairs`."""
    out = np.zeros((len(horizontal), len(bbox)), bool)
    t, o = candidate_pairs(xy, z_low, horizontal, tan_alt, bbox, top, max_reach)
    out[t, o] = True
    return out


def shadow_tops(
    origin: np.ndarray,
    z_low: float,
    horizontal: np.ndarray,
    tan_alt: np.ndarray,
    prisms: Prisms,
    *,
    max_reach: float = 3000.0,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """(C, T) shadow tops (elevation, metres; -inf where no prism lies on the plan ray) of columns ``origin``.

    origin : (C, 2) plan positions; z_low : lowest point elevation of these columns (culling);
    horizontal : (T, 2) sun directions; tan_alt : (T,); active : (T,) steps to compute (default all).
    Exact for prisms: the point at elevation z is shaded at step t iff z < S[c, t].
    """
    C, T = len(origin), len(horizontal)
    S = np.full((C, T), -np.inf)
    if C == 0 or len(prisms) == 0:
        return S
    tan_eff = np.where(active, tan_alt, -1.0) if active is not None else tan_alt
    pt, po = candidate_pairs(origin, z_low, horizontal, tan_eff, prisms.bbox, prisms.height, max_reach)
    if len(pt) == 0:
        return S
    start, count = prisms.edge_ranges()
    n = count[po]
    et = np.repeat(pt, n)
    ee = np.repeat(start[po] - np.cumsum(n) + n, n) + np.arange(n.sum())
    # blocks of whole steps with at most PAIR_BUDGET column x pair elements
    steps, first = np.unique(et, return_index=True)
    bounds = np.r_[first, len(et)]
    per = max(1, PAIR_BUDGET // C)
    centre = origin.mean(axis=0)
    oc = (origin - centre).astype(np.float32)
    i = 0
    while i < len(steps):
        j = i + 1
        while j < len(steps) and bounds[j + 1] - bounds[i] <= per:
            j += 1
        sl = slice(bounds[i], bounds[j])
        t, e = et[sl], ee[sl]
        # float32 in coordinates local to the columns (errors ~1e-4 m over kilometres)
        d = horizontal[t].astype(np.float32)  # (P, 2)
        a = (prisms.a[e] - centre).astype(np.float32)
        ab = (prisms.b[e] - prisms.a[e]).astype(np.float32)
        den = d[:, 0] * ab[:, 1] - d[:, 1] * ab[:, 0]  # (P,)
        ok = np.abs(den) > 1e-9
        inv = np.where(ok, 1.0 / np.where(ok, den, 1.0), 0.0).astype(np.float32)
        wx = a[None, :, 0] - oc[:, 0, None]  # (C, P)
        wy = a[None, :, 1] - oc[:, 1, None]
        dist = (wx * ab[:, 1] - wy * ab[:, 0]) * inv
        s = (wx * d[:, 1] - wy * d[:, 0]) * inv
        hit = (s >= 0.0) & (s <= 1.0) & (dist > 1e-6)
        val = np.where(hit, (prisms.top[e] - z_low).astype(np.float32) - dist * tan_alt[t].astype(np.float32), -np.inf)
        local = bounds[i:j] - bounds[i]
        red = np.maximum.reduceat(val, local, axis=1).astype(np.float64) + z_low
        S[:, steps[i:j]] = np.maximum(S[:, steps[i:j]], red)
        i = j
    return S


@dataclass
class TerrainGrid:
    """The highest terrain-mesh vertex near each cell of a regular grid, for :func:`terrain_tops`.

    M : (ny, nx) highest vertex within two cells (-inf: none); cell (j, i) spans x0 + i g .. x0 + (i + 1) g;
    top : the highest vertex.  Two dilations make it conservative: the first covers every triangle touching the
    cell (vertices are binned by floor), the second every point within one cell of a sample of the plan ray.
    """

    M: np.ndarray
    x0: float
    y0: float
    g: float
    top: float

    @classmethod
    def from_vertices(cls, vertices: np.ndarray) -> TerrainGrid | None:
        """From the vertices of a grid TIN (:func:`cim.mesh.terrain_mesh`: every step-th DEM node)."""
        ok = np.isfinite(vertices[:, 2])
        v = vertices[ok]
        if len(v) < 3:
            return None
        dx = np.diff(np.unique(v[:, 0]))
        dy = np.diff(np.unique(v[:, 1]))
        if len(dx) == 0 or len(dy) == 0:
            return None
        g = float(max(dx.max(), dy.max()))  # the regular spacing (a last row or column may be closer)
        pad = 2
        x0, y0 = float(v[:, 0].min()) - pad * g, float(v[:, 1].min()) - pad * g
        i = np.floor((v[:, 0] - x0) / g).astype(np.int64)
        j = np.floor((v[:, 1] - y0) / g).astype(np.int64)
        M = np.full((j.max() + 1 + pad, i.max() + 1 + pad), -np.inf)
        np.maximum.at(M, (j, i), v[:, 2])
        for _ in range(2):  # 3 x 3 maximum filter, twice
            P = np.pad(M, 1, constant_values=-np.inf)
            M = np.max([P[a : a + M.shape[0], b : b + M.shape[1]] for a in range(3) for b in range(3)], axis=0)
        return cls(M, x0, y0, g, float(v[:, 2].max()))


def terrain_tops(
    U: np.ndarray, origin: np.ndarray, z_low: np.ndarray, active: np.ndarray, horizontal, tan_alt, grid: TerrainGrid
) -> None:
    """Raise U (C, T) in place to an upper bound of the terrain's shadow top of each column (origin (C, 2),
    lowest point z_low (C,)) at the active (C, T) steps: a pair with z >= U misses the terrain mesh."""
    k = kernels()
    if k is not None:
        k.terrain_tops(U, origin[:, 0].copy(), origin[:, 1].copy(), z_low, active, horizontal, tan_alt, grid.M,
                       grid.x0, grid.y0, grid.g, grid.top)  # fmt: skip
        return
    ny, nx = grid.M.shape
    tan_c = np.maximum(tan_alt, 1e-12)
    dmax = np.where(active & (tan_alt > 0)[None, :], (grid.top - z_low)[:, None] / tan_c[None, :], -np.inf)
    dmax[dmax < 0] = -np.inf  # the column's lowest point is above every vertex
    corners = np.array([[grid.x0 + a * nx * grid.g, grid.y0 + b * ny * grid.g] for a in (0, 1) for b in (0, 1)])
    dfar = np.hypot(*(corners[None, :, :] - origin[:, None, :]).transpose(2, 0, 1)).max(axis=1)
    dmax = np.minimum(dmax, dfar[:, None])  # no terrain beyond the grid's farthest corner
    steps = int(np.ceil(max(float(dmax.max()) if dmax.size else 0.0, 0.0) / grid.g)) + 2
    for s in range(steps):
        d = s * grid.g
        on = dmax + grid.g >= d
        if not on.any():
            break
        x = origin[:, 0, None] + d * horizontal[None, :, 0]
        y = origin[:, 1, None] + d * horizontal[None, :, 1]
        i = np.floor((x - grid.x0) / grid.g).astype(np.int64)
        j = np.floor((y - grid.y0) / grid.g).astype(np.int64)
        inside = on & (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
        v = np.where(inside, grid.M[np.clip(j, 0, ny - 1), np.clip(i, 0, nx - 1)] - d * tan_alt[None, :], -np.inf)
        np.maximum(U, v, out=U)


def kernels() -> Any:
    """The compiled loops (:mod:`cim.solar._kernels`), or None without numba (the numpy forms then)."""
    global _KERNELS
    if _KERNELS is None:
        try:
            from . import _kernels

            _KERNELS = _kernels
        except ImportError:  # pragma: no cover - numba is in the sunlight extra
            _KERNELS = False
    return _KERNELS or None


_KERNELS: Any = None


def intersector(mesh: Any) -> Any:
    """A trimesh ray intersector for ``mesh`` (a trimesh.Trimesh): Embree when available, else trimesh's own."""
    try:
        from trimesh.ray.ray_pyembree import RayMeshIntersector as EmbreeIntersector

        return EmbreeIntersector(mesh)
    except Exception:  # embreex missing or failing: the pure numpy engine
        from trimesh.ray.ray_triangle import RayMeshIntersector as NumpyIntersector

        return NumpyIntersector(mesh)


def engine_name(ray: Any) -> str:
    """Which ray engine trimesh uses: embree (embreex) or its own."""
    return "embree" if "pyembree" in type(ray).__module__ else "trimesh"


def rays_blocked(ray: Any, origins: np.ndarray, directions: np.ndarray, chunk: int = 1_000_000) -> np.ndarray:
    """(R,) bool: the ray from origins[i] (R, 3) along directions[i] (R, 3) hits the intersector's mesh."""
    out = np.zeros(len(origins), bool)
    wrap: Any = getattr(ray, "_scene", None)
    direct = engine_name(ray) == "embree" and hasattr(wrap, "scene") and hasattr(wrap, "scale")
    for k in range(0, len(origins), chunk):
        o, d = origins[k : k + chunk], directions[k : k + chunk]
        if direct:
            # Embree's occlusion query on trimesh's scaled scene, straight: trimesh's intersects_any spends most
            # of its time converting and re-normalising (directions here are unit vectors already)
            so = ((o - wrap.origin) * wrap.scale).astype(np.float32)
            out[k : k + chunk] = wrap.scene.run(so, d.astype(np.float32), query="OCCLUDED") != -1
        else:
            out[k : k + chunk] = ray.intersects_any(o, d)
    return out


def wall_shadow_tops(
    p0: np.ndarray,
    delta: np.ndarray,
    n: int,
    z_low: float,
    horizontal: np.ndarray,
    tan_alt: np.ndarray,
    prisms: Prisms,
    *,
    max_reach: float = 3000.0,
    active: np.ndarray | None = None,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """(n, T) shadow tops of n equally spaced columns p0 + k delta (k = 0..n-1) on one straight wall.

    The same answer as :func:`shadow_tops`, computed per (step, edge) pair instead of per (column, step, edge):
    seen along the sun, the columns a given edge covers form one index range [k0, k1] (their across-sun
    coordinate is linear in k) and the distance to the edge along the ray is linear in k too, so only the
    (column, step) entries that really cross an edge are generated and reduced with ``np.maximum.at``.
    """
    T = len(horizontal)
    S = np.full((n, T), -np.inf)
    if n == 0 or len(prisms) == 0:
        return S
    if pairs is None:
        tan_eff = np.where(active, tan_alt, -1.0) if active is not None else tan_alt
        ends = np.stack([p0, p0 + (n - 1) * delta])
        pairs = candidate_pairs(ends, z_low, horizontal, tan_eff, prisms.bbox, prisms.height, max_reach)
    pt, po = pairs
    if len(pt) == 0:
        return S
    start, count = prisms.edge_ranges()
    k = kernels()
    if k is not None:
        za = prisms.top if prisms.za is None else prisms.za
        zb = prisms.top if prisms.zb is None else prisms.zb
        k.edge_tops(S, float(p0[0]), float(p0[1]), float(delta[0]), float(delta[1]), n, horizontal, tan_alt,
                    pt, start[po], count[po], prisms.a[:, 0], prisms.a[:, 1], prisms.b[:, 0], prisms.b[:, 1], za, zb,
                    prisms.closed)  # fmt: skip
        return S
    m = count[po]
    t = np.repeat(pt, m)
    e = np.repeat(start[po] - np.cumsum(m) + m, m) + np.arange(m.sum())
    # a ray enters a prism through an edge facing it (outward normal against the ray): the entry gives the
    # prism's largest R - d tan h, so edges facing away never decide the maximum
    ab = prisms.b[e] - prisms.a[e]
    front = ab[:, 1] * horizontal[t, 0] - ab[:, 0] * horizontal[t, 1] < 0  # normal (aby, -abx) . u < 0
    if prisms.closed:
        t, e = t[front], e[front]
    u = horizontal[t]
    vx, vy = -u[:, 1], u[:, 0]
    a = prisms.a[e] - p0
    b = prisms.b[e] - p0
    ca, cb = a[:, 0] * vx + a[:, 1] * vy, b[:, 0] * vx + b[:, 1] * vy  # across the sun, from column 0
    la, lb = a[:, 0] * u[:, 0] + a[:, 1] * u[:, 1], b[:, 0] * u[:, 0] + b[:, 1] * u[:, 1]  # along the sun
    cd = delta[0] * vx + delta[1] * vy
    ld = delta[0] * u[:, 0] + delta[1] * u[:, 1]
    dc = cb - ca
    ok = np.abs(dc) > 1e-12  # an edge parallel to the ray is met through its neighbours
    g = np.where(ok, (lb - la) / np.where(ok, dc, 1.0), 0.0)
    lo_c, hi_c = np.minimum(ca, cb), np.maximum(ca, cb)
    moving = np.abs(cd) > 1e-12
    safe = np.where(moving, cd, 1.0)
    ka, kb = ca / safe, cb / safe  # the k where column k meets each end of the edge, across the sun
    k0 = np.where(moving, np.ceil(np.minimum(ka, kb) - 1e-9), np.where((lo_c <= 1e-9) & (hi_c >= -1e-9), 0, n))
    k1 = np.where(moving, np.floor(np.maximum(ka, kb) + 1e-9), np.where((lo_c <= 1e-9) & (hi_c >= -1e-9), n - 1, -1))
    k0 = np.clip(k0, 0, n).astype(np.int64)
    k1 = np.clip(k1, -1, n - 1).astype(np.int64)
    cnt = np.where(ok, np.maximum(k1 - k0 + 1, 0), 0)
    total = int(cnt.sum())
    if total == 0:
        return S
    alpha = la - ca * g  # distance along the ray from column 0 to the edge, at k = 0 ...
    beta = cd * g - ld  # ... and its change per column
    rep = np.repeat(np.arange(len(t)), cnt)
    k = k0[rep] + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    dist = alpha[rep] + beta[rep] * k
    front = dist > 1e-6
    rep, k, dist = rep[front], k[front], dist[front]
    val = prisms.top[e[rep]] - dist * tan_alt[t[rep]]
    np.maximum.at(S, (k, t[rep]), val)
    return S


def wall_groups(origin: np.ndarray, wall: np.ndarray, facing: np.ndarray, z_low: np.ndarray) -> list[tuple]:
    """The columns of each wall, for :func:`shadow_tops_by_wall` (computed once, used for every obstacle set):
    (column indices, equally spaced in order?, step between columns (2,), lowest point, facing steps (T,))."""
    order = np.argsort(wall, kind="stable")
    _, first = np.unique(wall[order], return_index=True)
    out = []
    for k, start in enumerate(first):
        idx = order[start : first[k + 1] if k + 1 < len(first) else len(order)]
        xy = origin[idx]
        n = len(idx)
        delta = (xy[-1] - xy[0]) / (n - 1) if n > 1 else np.zeros(2)
        line = xy[0] + np.arange(n)[:, None] * delta
        straight = bool(np.all(np.diff(idx) == 1) and np.abs(line - xy).max() < 1e-6)
        out.append((idx, straight, delta, float(z_low[idx].min()), facing[idx[0]]))
    return out


def shadow_tops_by_wall(
    origin: np.ndarray,
    wall: np.ndarray,
    facing: np.ndarray,
    z_low: np.ndarray,
    horizontal: np.ndarray,
    tan_alt: np.ndarray,
    prisms: Prisms,
    *,
    max_reach: float = 3000.0,
    groups: list[tuple] | None = None,
) -> np.ndarray:
    """Shadow tops wall by wall: each wall's columns only at the steps the sun faces it, culled with the wall's
    own (thin) bounding box.  wall : (C,) wall index, a wall's columns consecutive, equally spaced and in order
    (as :func:`cim.solar.facade.facade_columns` makes them; :func:`wall_shadow_tops`), others fall back on
    :func:`shadow_tops`; facing : (C, T); z_low : (C,) lowest point per column; groups: :func:`wall_groups` of
    these columns (computed here when not given)."""
    S = np.full(facing.shape, -np.inf)
    if len(prisms) == 0 or len(origin) == 0:
        return S
    if groups is None:
        groups = wall_groups(origin, wall, facing, z_low)
    # candidate (step, prism) pairs once for all the walls, then each wall keeps those of its own steps
    any_facing = facing.any(axis=0)
    tan_eff = np.where(any_facing, tan_alt, -1.0)
    bt, bo = candidate_pairs(origin, float(z_low.min()), horizontal, tan_eff, prisms.bbox, prisms.height, max_reach)
    for idx, straight, delta, zl, act in groups:
        if straight:
            keep = act[bt]
            S[idx] = wall_shadow_tops(
                origin[idx[0]], delta, len(idx), zl, horizontal, tan_alt, prisms, max_reach=max_reach,
                pairs=(bt[keep], bo[keep]),
            )  # fmt: skip
        else:
            S[idx] = shadow_tops(origin[idx], zl, horizontal, tan_alt, prisms, max_reach=max_reach, active=act)
    return S
