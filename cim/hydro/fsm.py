"""The depression hierarchy and Fill-Spill-Merge of runoff volumes (after Barnes, Callaghan & Wickert 2021).

The grid is cut into basins (watersheds of the regional minima, 8-connected; cells on the grid's edge and
no-data cells form the "ocean", label 0, where water leaves).  Between two adjacent basins water passes at
the lowest ``max(z_a, z_b)`` over their shared 8-neighbour pairs.  Merging basins in the order of these
passes (Kruskal) gives the depression hierarchy: a binary tree per outlet whose leaves are basins, whose
inner nodes are the meta-depressions formed when two depressions fill to the pass between them, and whose
roots spill into the ocean.

Fill-Spill-Merge runs up that tree in the same order: a depression holds ``V(h) = A * sum(h - z)`` over its
cells below ``h``; when two depressions meet at pass level ``p``, each keeps at most ``V(p)``, the excess
flows across the pass into the other (entering at the basin on the far side, from where it fills that
side's sub-depressions in turn), and if both are full the water rises as one lake above ``p``.  What
reaches the ocean leaves.  Water levels are then exact for the given volumes (a static equilibrium: no
travel time, no infiltration during ponding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OCEAN = 0


@dataclass
class Hierarchy:
    """Basins, passes and the merge tree of one grid.

    ``labels`` (ny, nx) int: basin of each cell (0 = ocean).  Nodes ``1..n_leaves`` are the basins; later
    nodes are meta-depressions.  Per node: ``parent`` (-1: spills to the ocean), ``children`` (a, b) or
    (-1, -1), ``level`` (the pass where its children meet; a leaf: its lowest cell), ``spill`` (the pass
    where it meets its sibling or the ocean), ``outlet`` (the basin across that pass; 0 = ocean).
    """

    labels: np.ndarray
    cell_area: float
    n_leaves: int
    parent: list[int] = field(default_factory=list)
    children: list[tuple[int, int]] = field(default_factory=list)
    level: list[float] = field(default_factory=list)
    spill: list[float] = field(default_factory=list)
    outlet: list[int] = field(default_factory=list)
    leaves: list[np.ndarray] = field(default_factory=list)
    merges: list[tuple[int, int, int, float, int, int]] = field(default_factory=list)  # (new, a, b, p, leaf_a, leaf_b)
    # cells of every basin sorted by elevation: zs[off[l]:off[l + 1]], cumulative sums cs
    zs: np.ndarray = field(default_factory=lambda: np.empty(0))
    cs: np.ndarray = field(default_factory=lambda: np.empty(0))
    off: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _key: np.ndarray = field(default_factory=lambda: np.empty(0))
    _zmin: float = 0.0
    _zspan: float = 1.0

    def volume(self, node: int, h: float) -> float:
        """Water held by ``node`` standing at level ``h``, m^3."""
        ls = self.leaves[node]
        q = ls + np.clip((h - self._zmin) / self._zspan, 0.0, 1.0 - 1e-12)
        idx = np.searchsorted(self._key, q, side="left")
        start = self.off[ls]
        cnt = idx - start
        s = self.cs[idx] - self.cs[start]
        return float(self.cell_area * np.sum(cnt * h - s))

    def level_for(self, node: int, water: float, cap_level: float) -> float:
        """The level at which ``node`` holds ``water`` m^3 (at most ``cap_level``)."""
        parts = [self.zs[self.off[leaf] : self.off[leaf + 1]] for leaf in self.leaves[node]]
        z = np.sort(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        z = z[z < cap_level]
        if water <= 0 or len(z) == 0:
            return float("nan")
        s = np.cumsum(z)
        # the volume when the level reaches z[j]: A * (j * z[j] - sum(z[:j]))
        vol_at = self.cell_area * (np.arange(len(z)) * z - np.concatenate([[0.0], s[:-1]]))
        j = int(np.searchsorted(vol_at, water, side="right"))  # cells under water
        return float(min((water / self.cell_area + s[j - 1]) / j, cap_level))


def basins(z: np.ndarray) -> np.ndarray:
    """Basin labels (ny, nx) int64: 0 = ocean (the grid's edge and NaN cells), 1.. = watersheds of the
    regional minima (8-connected)."""
    from skimage.measure import label
    from skimage.morphology import local_minima
    from skimage.segmentation import watershed

    nodata = np.isnan(z)
    work = np.where(nodata, np.nanmin(z) - 1.0 if (~nodata).any() else 0.0, z)
    ocean = nodata.copy()
    ocean[0, :] = ocean[-1, :] = ocean[:, 0] = ocean[:, -1] = True
    minima = local_minima(work, connectivity=2, allow_borders=True) & ~ocean
    markers = label(minima, connectivity=2).astype(np.int64)
    markers[ocean] = markers.max() + 1
    lab = watershed(work, markers, connectivity=2)
    top = markers.max()
    lab = np.where(lab == top, 0, lab)
    # relabel densely 1..L in order of appearance
    uniq, inv = np.unique(lab, return_inverse=True)
    if uniq[0] != 0:
        inv = inv + 1
    return inv.reshape(z.shape).astype(np.int64)


def passes(z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowest pass between every pair of adjacent basins: (a, b, level) with a < b, sorted by level."""
    zz = np.where(np.isnan(z), -np.inf, z)
    la_all, lb_all, p_all = [], [], []
    for sa, sb in (
        ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
        ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
        ((slice(None, -1), slice(None, -1)), (slice(1, None), slice(1, None))),
        ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))),
    ):
        la, lb = labels[sa], labels[sb]
        d = la != lb
        if not d.any():
            continue
        a, b = la[d], lb[d]
        za, zb = zz[sa][d], zz[sb][d]
        la_all.append(np.minimum(a, b))
        lb_all.append(np.maximum(a, b))
        p_all.append(np.maximum(za, zb))
    if not la_all:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    a = np.concatenate(la_all)
    b = np.concatenate(lb_all)
    p = np.concatenate(p_all)
    n = int(labels.max()) + 1
    key = a * n + b
    order = np.lexsort((p, key))
    key, p = key[order], p[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, p = key[first], p[first]
    a, b = key // n, key % n
    order = np.argsort(p, kind="stable")
    return a[order], b[order], p[order]


def hierarchy(z: np.ndarray, cell_area: float, labels: np.ndarray | None = None) -> Hierarchy:
    """The depression hierarchy of a grid (see the module docstring)."""
    z = np.asarray(z, dtype=np.float64)
    lab = basins(z) if labels is None else labels
    n_leaves = int(lab.max())
    h = Hierarchy(labels=lab, cell_area=cell_area, n_leaves=n_leaves)
    # sorted cells per basin
    flat_l = lab.ravel()
    flat_z = z.ravel()
    inside = flat_l > 0
    lz, ll = flat_z[inside], flat_l[inside]
    order = np.lexsort((lz, ll))
    h.zs = lz[order]
    counts = np.bincount(ll, minlength=n_leaves + 1)
    h.off = np.concatenate([[0], np.cumsum(counts[1:])]).astype(np.int64)
    h.off = np.concatenate([[0], h.off])  # off[l] for l = 0..L+1 (index 0 unused: basin 0 empty)
    h.cs = np.concatenate([[0.0], np.cumsum(h.zs)])
    h._zmin = float(h.zs.min()) if len(h.zs) else 0.0
    h._zspan = float(h.zs.max() - h._zmin + 1.0) if len(h.zs) else 1.0
    h._key = ll[order] + (h.zs - h._zmin) / h._zspan
    # nodes 0 (ocean placeholder) and 1..L
    h.parent = [-1] * (n_leaves + 1)
    h.children = [(-1, -1)] * (n_leaves + 1)
    h.level = [0.0] + [float(h.zs[h.off[i]]) if h.off[i + 1] > h.off[i] else 0.0 for i in range(1, n_leaves + 1)]
    h.spill = [np.inf] * (n_leaves + 1)
    h.outlet = [0] * (n_leaves + 1)
    h.leaves = [np.array([i], dtype=np.int64) for i in range(n_leaves + 1)]
    # Kruskal over the passes
    comp = list(range(n_leaves + 1))  # union-find over leaves -> representative leaf
    top = list(range(n_leaves + 1))  # representative -> top node of its component
    drained = [False] * (n_leaves + 1)
    drained[OCEAN] = True

    def find(x: int) -> int:
        while comp[x] != x:
            comp[x] = comp[comp[x]]
            x = comp[x]
        return x

    pa, pb, pl = passes(z, lab)
    for a, b, p in zip(pa.tolist(), pb.tolist(), pl.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        da, db = drained[ra], drained[rb]
        if da and db:
            continue
        if da or db:  # one side reaches the ocean: the other spills into it here
            r_wet, r_dry, leaf_dry, leaf_wet = (rb, ra, a, b) if da else (ra, rb, b, a)
            node = top[r_wet]
            h.spill[node] = p
            h.outlet[node] = leaf_dry
            h.merges.append((-1, node, -1, p, leaf_wet, leaf_dry))  # leaf_dry: 0 or a drained basin
            comp[r_wet] = r_dry
            continue
        na, nb = top[ra], top[rb]
        new = len(h.parent)
        h.parent.append(-1)
        h.children.append((na, nb))
        h.level.append(p)
        h.spill.append(np.inf)
        h.outlet.append(0)
        h.leaves.append(np.concatenate([h.leaves[na], h.leaves[nb]]))
        h.parent[na] = h.parent[nb] = new
        h.spill[na] = h.spill[nb] = p
        h.outlet[na], h.outlet[nb] = b, a
        h.merges.append((new, na, nb, p, a, b))
        comp[rb] = ra
        top[ra] = new
    return h


@dataclass
class Filled:
    """The outcome of Fill-Spill-Merge."""

    water_level: np.ndarray  # (L + 1,) water level of each basin, metres (NaN: dry)
    lakes: list[tuple[int, float, float, int]]  # (node, level, volume m^3, spills_to node or 0 ocean or -2 none)
    stored_m3: float
    outflow_m3: float
    node_water: list[float]


def fill_spill_merge(h: Hierarchy, leaf_water: np.ndarray, ocean_water: float = 0.0) -> Filled:
    """Distribute water volumes (m^3 per basin, ``leaf_water[l]``; index 0 = ocean) over the hierarchy."""
    n = len(h.parent)
    w = [0.0] * n
    for i in range(1, h.n_leaves + 1):
        w[i] = float(leaf_water[i])
    cap = [np.inf] * n  # volume at the spill level
    outflow = float(ocean_water) + float(leaf_water[0])

    def child_towards(node: int, leaf: int) -> int:
        x = leaf
        while h.parent[x] != node:
            x = h.parent[x]
        return x

    def add(node: int, leaf: int, e: float) -> None:
        """Pour ``e`` m^3 into ``node`` (all of it fits) entering at basin ``leaf``."""
        before = w[node]
        w[node] += e
        a, b = h.children[node]
        if a < 0 or e <= 0:
            return
        if before >= cap[a] + cap[b] - 1e-12 * max(1.0, before):
            return  # already one lake above the children's pass
        c = child_towards(node, leaf)
        s = b if c == a else a
        room = cap[c] - w[c]
        if e <= room:
            add(c, leaf, e)
            return
        add(c, leaf, max(room, 0.0))
        e -= max(room, 0.0)
        room_s = cap[s] - w[s]
        add(s, h.outlet[c], min(e, max(room_s, 0.0)))

    def root_of(leaf: int) -> int:
        while h.parent[leaf] != -1:
            leaf = h.parent[leaf]
        return leaf

    def downstream(leaf: int, e: float) -> float:
        """Pour ``e`` into drained depressions from basin ``leaf`` on, down their chain of outlets to the
        ocean; returns what reaches the ocean."""
        while e > 0 and leaf != OCEAN:
            root = root_of(leaf)
            put = min(e, max(cap[root] - w[root], 0.0))
            add(root, leaf, put)
            e -= put
            leaf = h.outlet[root]
        return e

    for new, a, b, p, leaf_a, leaf_b in h.merges:
        if new < 0:  # a spills at p into the ocean or into a depression that already drains there
            cap[a] = h.volume(a, p)
            if w[a] > cap[a]:
                outflow += downstream(leaf_b, w[a] - cap[a])
                w[a] = cap[a]
            continue
        cap[a] = h.volume(a, p)
        cap[b] = h.volume(b, p)
        total = w[a] + w[b]
        if total >= cap[a] + cap[b]:
            for x, leaf in ((a, leaf_a), (b, leaf_b)):
                if w[x] > cap[x]:
                    w[x] = cap[x]
                elif w[x] < cap[x]:
                    add(x, leaf, cap[x] - w[x])
        elif w[a] > cap[a]:
            e = w[a] - cap[a]
            w[a] = cap[a]
            add(b, leaf_b, e)
        elif w[b] > cap[b]:
            e = w[b] - cap[b]
            w[b] = cap[b]
            add(a, leaf_a, e)
        w[new] = total
    # levels, top-down from the roots (nodes that spill into the ocean)
    level = np.full(h.n_leaves + 1, np.nan)
    lakes: list[tuple[int, float, float, int]] = []
    stack = [i for i in range(1, n) if h.parent[i] == -1]
    stored = 0.0
    while stack:
        node = stack.pop()
        a, b = h.children[node]
        if a >= 0 and w[node] < cap[a] + cap[b] - 1e-9 * max(1.0, w[node]):
            stack += [a, b]
            continue
        if w[node] <= 0:
            continue
        lv = h.level_for(node, w[node], h.spill[node])
        level[h.leaves[node]] = lv
        full = w[node] >= cap[node] - 1e-9 * max(1.0, cap[node])
        lakes.append((node, lv, w[node], h.outlet[node] if full else -2))
        stored += w[node]
    return Filled(level, lakes, stored, outflow, w)


def depth_grid(z: np.ndarray, labels: np.ndarray, water_level: np.ndarray) -> np.ndarray:
    """Water depth per cell, metres (0 where dry), float32."""
    lv = water_level[labels]
    d = np.where(np.isnan(lv), 0.0, lv - z)
    d = np.where(np.isfinite(d) & (d > 0), d, 0.0)
    d[labels == 0] = 0.0
    return d.astype(np.float32)
