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


def _kernels():
    """The compiled (merge, pour) loops, or None without numba."""
    try:
        from . import _fsm_kernels as k
    except ImportError:  # pragma: no cover - numba is in the flood extra
        return None
    return k.merge, k.pour


@dataclass
class Hierarchy:
    """Basins, passes and the merge tree of one grid.

    ``labels`` (ny, nx) int: basin of each cell (0 = ocean).  Nodes ``1..n_leaves`` are the basins; later
    nodes are meta-depressions.  Per node: ``parent`` (-1: a root, spilling into the ocean or into a
    depression that drains there), ``children`` (a, b) or (-1, -1), ``level`` (the pass where its children
    meet; a leaf: its lowest cell), ``spill`` (the pass where it meets its sibling or drains), ``outlet``
    (the basin across that pass; 0 = ocean), ``cap`` (m^3 it holds up to its spill level), ``drain_root``
    (a root: the root of the tree its outlet basin belongs to, 0 = the ocean).  ``merges`` lists, in the
    order of their passes, ``(new, a, b, p, leaf_a, leaf_b)`` (``new`` = -1: ``a`` drains at ``p`` through
    basin ``leaf_b``).
    """

    labels: np.ndarray
    cell_area: float
    n_leaves: int
    parent: list[int] = field(default_factory=list)
    children: list[tuple[int, int]] = field(default_factory=list)
    level: list[float] = field(default_factory=list)
    spill: list[float] = field(default_factory=list)
    outlet: list[int] = field(default_factory=list)
    cap: list[float] = field(default_factory=list)
    drain_root: dict[int, int] = field(default_factory=dict)
    merges: list[tuple[int, int, int, float, int, int]] = field(default_factory=list)
    # cells of every basin sorted by elevation: zs[off[l]:off[l + 1]]
    zs: np.ndarray = field(default_factory=lambda: np.empty(0))
    off: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _arrays: tuple | None = None  # the compiled merge's arrays (parent, ca, cb, outlet, cap, drain, merges)

    def leaves(self, node: int) -> np.ndarray:
        """The basins under ``node``."""
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            a, b = self.children[n]
            if a < 0:
                out.append(n)
            else:
                stack += [a, b]
        return np.asarray(out, dtype=np.int64)

    def level_for(self, node: int, water: float, cap_level: float) -> float:
        """The level at which ``node`` holds ``water`` m^3 (at most ``cap_level``)."""
        parts = [self.zs[self.off[leaf] : self.off[leaf + 1]] for leaf in self.leaves(node).tolist()]
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


def hierarchy(
    z: np.ndarray, cell_area: float, labels: np.ndarray | None = None, *, compiled: bool | None = None
) -> Hierarchy:
    """The depression hierarchy of a grid (see the module docstring), with each depression's capacity.

    Capacities come from one sweep over the cells in order of elevation interleaved with the merges: before
    the merge at pass ``p`` every cell below ``p`` has been counted (number, sum of z) in the component its
    basin then belongs to, so a component holds ``A (n p - sum z)`` at ``p``."""
    z = np.asarray(z, dtype=np.float64)
    lab = basins(z) if labels is None else labels
    n_leaves = int(lab.max())
    h = Hierarchy(labels=lab, cell_area=cell_area, n_leaves=n_leaves)
    flat_l = lab.ravel()
    flat_z = z.ravel()
    inside = flat_l > 0
    lz, ll = flat_z[inside], flat_l[inside]
    order = np.lexsort((lz, ll))
    h.zs = lz[order]
    counts = np.bincount(ll, minlength=n_leaves + 1)
    h.off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # off[l]..off[l + 1]: basin l (0 empty)
    # the sweep: every cell by elevation
    by_z = np.argsort(lz, kind="stable")
    sweep_z, sweep_l = lz[by_z], ll[by_z]
    done = 0
    cnt = np.zeros(n_leaves + 1)
    tot = np.zeros(n_leaves + 1)
    rep = np.arange(n_leaves + 1)  # basin -> representative basin of its component (kept flat)
    members: dict[int, list[int]] = {i: [i] for i in range(n_leaves + 1)}
    tree = list(range(n_leaves + 1))  # union-find of the trees (joined by node merges only)

    def tree_find(x: int) -> int:
        while tree[x] != x:
            tree[x] = tree[tree[x]]
            x = tree[x]
        return x

    h.parent = [-1] * (n_leaves + 1)
    h.children = [(-1, -1)] * (n_leaves + 1)
    h.level = [0.0] + [float(h.zs[h.off[i]]) if counts[i] else 0.0 for i in range(1, n_leaves + 1)]
    h.spill = [np.inf] * (n_leaves + 1)
    h.outlet = [0] * (n_leaves + 1)
    h.cap = [np.inf] * (n_leaves + 1)
    top = list(range(n_leaves + 1))  # tree representative -> its top node
    drained = np.zeros(n_leaves + 1, dtype=bool)
    drained[OCEAN] = True

    pa, pb, pl = passes(z, lab)
    kern = _kernels() if compiled is not False else None
    if kern is not None:
        parent, ca, cb, level, spill, outlet, cap, drain, mg, mp = kern[0](
            pa, pb, pl, sweep_z, sweep_l.astype(np.int64), n_leaves, float(cell_area)
        )
        level[1 : n_leaves + 1] = h.level[1:]
        h.parent, h.level, h.spill, h.outlet = parent.tolist(), level.tolist(), spill.tolist(), outlet.tolist()
        h.children = list(zip(ca.tolist(), cb.tolist(), strict=True))
        h.cap = cap.tolist()
        h.drain_root = {i: d for i, d in enumerate(drain.tolist()) if d >= 0}
        h.merges = [(r[0], r[1], r[2], p, r[3], r[4]) for r, p in zip(mg.tolist(), mp.tolist(), strict=True)]
        h._arrays = (parent, ca, cb, outlet, cap, drain, mg)
        return h
    for a, b, p in zip(pa.tolist(), pb.tolist(), pl.tolist(), strict=True):
        ra, rb = int(rep[a]), int(rep[b])
        if ra == rb or (drained[ra] and drained[rb]):
            continue
        upto = int(np.searchsorted(sweep_z, p, side="left"))
        if upto > done:
            r = rep[sweep_l[done:upto]]
            if len(r) == 1:
                cnt[r[0]] += 1.0
                tot[r[0]] += sweep_z[done]
            else:
                np.add.at(cnt, r, 1.0)
                np.add.at(tot, r, sweep_z[done:upto])
            done = upto
        vol = {x: cell_area * (cnt[x] * p - tot[x]) for x in (ra, rb)}
        if drained[ra] or drained[rb]:  # one side drains: the other spills into it here
            wet, dry, leaf_wet, leaf_dry = (rb, ra, b, a) if drained[ra] else (ra, rb, a, b)
            node = top[tree_find(leaf_wet)]
            h.spill[node], h.outlet[node], h.cap[node] = p, leaf_dry, max(vol[wet], 0.0)
            h.drain_root[node] = top[tree_find(leaf_dry)] if leaf_dry != OCEAN else OCEAN
            h.merges.append((-1, node, -1, p, leaf_wet, leaf_dry))
            keep, gone = dry, wet
        else:
            na, nb = top[tree_find(a)], top[tree_find(b)]
            new = len(h.parent)
            h.parent.append(-1)
            h.children.append((na, nb))
            h.level.append(p)
            h.spill.append(np.inf)
            h.outlet.append(0)
            h.cap.append(np.inf)
            h.parent[na] = h.parent[nb] = new
            h.spill[na] = h.spill[nb] = p
            h.outlet[na], h.outlet[nb] = b, a
            h.cap[na], h.cap[nb] = max(vol[ra], 0.0), max(vol[rb], 0.0)
            h.merges.append((new, na, nb, p, a, b))
            ta, tb = tree_find(a), tree_find(b)
            tree[tb] = ta
            top[ta] = new
            keep, gone = (ra, rb) if len(members[ra]) >= len(members[rb]) else (rb, ra)
        # the smaller component joins the larger: relabel its basins, move its counts
        rep[members[gone]] = keep
        members[keep] += members.pop(gone)
        cnt[keep] += cnt[gone]
        tot[keep] += tot[gone]
        cnt[gone] = tot[gone] = 0.0
        drained[keep] = drained[keep] or drained[gone]
    return h


@dataclass
class Filled:
    """The outcome of Fill-Spill-Merge."""

    water_level: np.ndarray  # (L + 1,) water level of each basin, metres (NaN: dry)
    lakes: list[tuple[int, float, float, int]]  # (node, level, volume m^3, spills_to node or 0 ocean or -2 none)
    stored_m3: float
    outflow_m3: float
    node_water: list[float]


def fill_spill_merge(
    h: Hierarchy, leaf_water: np.ndarray, ocean_water: float = 0.0, *, compiled: bool | None = None
) -> Filled:
    """Distribute water volumes (m^3 per basin, ``leaf_water[l]``; index 0 = ocean) over the hierarchy."""
    n = len(h.parent)
    w = [0.0] * n
    for i in range(1, h.n_leaves + 1):
        w[i] = float(leaf_water[i])
    cap = h.cap
    outflow = float(ocean_water) + float(leaf_water[0])

    tin, tout = _euler_tour(h)
    arrays = h._arrays if compiled is not False else None
    kern = _kernels() if arrays is not None else None
    if kern is not None and arrays is not None:
        parent, ca, cb, outlet, cap_a, drain, mg = arrays
        wa = np.zeros(n)
        wa[1 : h.n_leaves + 1] = np.asarray(leaf_water, dtype=np.float64)[1 : h.n_leaves + 1]
        outflow = kern[1](wa, cap_a, parent, ca, cb, outlet, drain, np.asarray(tin), np.asarray(tout), mg, outflow)
        return _levels(h, wa.tolist(), outflow)

    for new, a, b, _p, leaf_a, leaf_b in h.merges:
        if new < 0:  # a drains: into the ocean or into a depression that already drains there
            if w[a] > cap[a]:
                outflow += _downstream(h, w, tin, tout, h.drain_root[a], leaf_b, w[a] - cap[a])
                w[a] = cap[a]
            continue
        total = w[a] + w[b]
        if total >= cap[a] + cap[b]:
            # both full to the pass: one lake above it; below it nothing is read again (the final pass
            # stops at a lake), so the water need not be carried down
            w[a], w[b] = cap[a], cap[b]
        elif w[a] > cap[a]:
            e = w[a] - cap[a]
            w[a] = cap[a]
            _pour(h, w, tin, tout, b, leaf_b, e)
        elif w[b] > cap[b]:
            e = w[b] - cap[b]
            w[b] = cap[b]
            _pour(h, w, tin, tout, a, leaf_a, e)
        w[new] = total
    return _levels(h, w, outflow)


def _pour(h: Hierarchy, w: list[float], tin: list[int], tout: list[int], node: int, leaf: int, e: float) -> None:
    """Pour ``e`` m^3 (all of it fits) into ``node``, entering at basin ``leaf`` below it: down towards the
    basin, each depression keeps what it has room for up to its pass and the rest goes over the pass into
    its sibling (from the basin across it)."""
    cap = h.cap
    work = [(node, leaf, e)]
    while work:
        x, leaf, e = work.pop()
        t = tin[leaf]
        while e > 0:
            before = w[x]
            w[x] += e
            a, b = h.children[x]
            if a < 0 or before >= cap[a] + cap[b] - 1e-12 * (before if before > 1.0 else 1.0):
                break  # a basin, or already one lake above its children's pass
            c, sib = (a, b) if tin[a] <= t < tout[a] else (b, a)
            room = cap[c] - w[c]
            room = room if room > 0.0 else 0.0
            if e > room:
                space = cap[sib] - w[sib]
                if space > 0.0:
                    work.append((sib, h.outlet[c], min(e - room, space)))
                e = room
            x = c


def _downstream(h: Hierarchy, w: list[float], tin: list[int], tout: list[int], root: int, leaf: int, e: float) -> float:
    """Pour ``e`` into drained depressions from ``root`` (entering at basin ``leaf``) down their chain of
    outlets; returns what reaches the ocean."""
    cap = h.cap
    while e > 0 and root != OCEAN:
        put = min(e, max(cap[root] - w[root], 0.0))
        _pour(h, w, tin, tout, root, leaf, put)
        e -= put
        root, leaf = h.drain_root[root], h.outlet[root]
    return e


def _euler_tour(h: Hierarchy) -> tuple[list[int], list[int]]:
    """Euler-tour numbers of the hierarchy's nodes: basin l lies under node x iff tin[x] <= tin[l] < tout[x]."""
    n = len(h.parent)
    tin = [0] * n
    tout = [0] * n
    clock = 0
    for r in range(1, n):
        if h.parent[r] != -1:
            continue
        stack = [(r, False)]
        while stack:
            x, closing = stack.pop()
            if closing:
                tout[x] = clock
                continue
            tin[x] = clock
            clock += 1
            stack.append((x, True))
            a, b = h.children[x]
            if a >= 0:
                stack += [(b, False), (a, False)]
    return tin, tout


def _levels(h: Hierarchy, w: list[float], outflow: float) -> Filled:
    """Water levels top-down from the roots: a node whose water reaches its children's pass is one lake."""
    n = len(h.parent)
    cap = h.cap
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
        level[h.leaves(node)] = lv
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
