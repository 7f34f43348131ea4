"""Compiled loops of :mod:`cim.hydro.fsm` (numba, imported only when a hierarchy is built): the Kruskal merge
of the basins with the capacity sweep, and Fill-Spill-Merge over the merges.  Same semantics as the
pure-Python loops there (the tests compare).  Module-level functions, so that numba caches the machine code."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _find(tree, x):  # pragma: no cover - compiled
    while tree[x] != x:
        tree[x] = tree[tree[x]]
        x = tree[x]
    return x


@numba.njit(cache=True)
def merge(pa, pb, pl, sweep_z, sweep_l, n_leaves, cell_area):  # pragma: no cover - compiled
    m = n_leaves + 1
    nmax = 2 * m + 1
    parent = np.full(nmax, -1, np.int64)
    ca = np.full(nmax, -1, np.int64)
    cb = np.full(nmax, -1, np.int64)
    level = np.zeros(nmax)
    spill = np.full(nmax, np.inf)
    outlet = np.zeros(nmax, np.int64)
    cap = np.full(nmax, np.inf)
    drain = np.full(nmax, -1, np.int64)
    mg = np.empty((len(pa), 5), np.int64)  # new, a, b, leaf_a, leaf_b
    mp = np.empty(len(pa))
    nm = 0
    rep = np.arange(m)
    head = np.arange(m)  # members as linked lists: head[rep] .. nxt[...] = -1
    nxt = np.full(m, -1, np.int64)
    tail = np.arange(m)
    size = np.ones(m, np.int64)
    cnt = np.zeros(m)
    tot = np.zeros(m)
    tree = np.arange(m)
    top = np.arange(m)
    drained = np.zeros(m, np.bool_)
    drained[0] = True
    nodes = m
    done = 0
    nz = len(sweep_z)
    for k in range(len(pa)):
        a, b, p = pa[k], pb[k], pl[k]
        ra, rb = rep[a], rep[b]
        if ra == rb or (drained[ra] and drained[rb]):
            continue
        while done < nz and sweep_z[done] < p:
            r = rep[sweep_l[done]]
            cnt[r] += 1.0
            tot[r] += sweep_z[done]
            done += 1
        va = cell_area * (cnt[ra] * p - tot[ra])
        vb = cell_area * (cnt[rb] * p - tot[rb])
        va = va if va > 0.0 else 0.0
        vb = vb if vb > 0.0 else 0.0
        if drained[ra] or drained[rb]:
            if drained[ra]:
                wet, dry, leaf_wet, leaf_dry, vw = rb, ra, b, a, vb
            else:
                wet, dry, leaf_wet, leaf_dry, vw = ra, rb, a, b, va
            node = top[_find(tree, leaf_wet)]
            spill[node] = p
            outlet[node] = leaf_dry
            cap[node] = vw
            drain[node] = top[_find(tree, leaf_dry)] if leaf_dry != 0 else 0
            mg[nm, 0], mg[nm, 1], mg[nm, 2], mg[nm, 3], mg[nm, 4] = -1, node, -1, leaf_wet, leaf_dry
            mp[nm] = p
            nm += 1
            keep, gone = dry, wet
        else:
            ta, tb = _find(tree, a), _find(tree, b)
            na, nb = top[ta], top[tb]
            new = nodes
            nodes += 1
            ca[new], cb[new] = na, nb
            level[new] = p
            parent[na] = new
            parent[nb] = new
            spill[na] = p
            spill[nb] = p
            outlet[na] = b
            outlet[nb] = a
            cap[na] = va
            cap[nb] = vb
            mg[nm, 0], mg[nm, 1], mg[nm, 2], mg[nm, 3], mg[nm, 4] = new, na, nb, a, b
            mp[nm] = p
            nm += 1
            tree[tb] = ta
            top[ta] = new
            if size[ra] >= size[rb]:
                keep, gone = ra, rb
            else:
                keep, gone = rb, ra
        x = head[gone]
        while x != -1:
            rep[x] = keep
            x = nxt[x]
        nxt[tail[keep]] = head[gone]
        tail[keep] = tail[gone]
        size[keep] += size[gone]
        cnt[keep] += cnt[gone]
        tot[keep] += tot[gone]
        cnt[gone] = 0.0
        tot[gone] = 0.0
        drained[keep] = drained[keep] or drained[gone]
    return (
        parent[:nodes],
        ca[:nodes],
        cb[:nodes],
        level[:nodes],
        spill[:nodes],
        outlet[:nodes],
        cap[:nodes],
        drain[:nodes],
        mg[:nm],
        mp[:nm],
    )


@numba.njit(cache=True)
def _add(w, cap, parent, ca, cb, outlet, tin, tout, node, leaf, e, work_n, work_l, work_e):  # pragma: no cover
    top = 0
    work_n[0], work_l[0], work_e[0] = node, leaf, e
    top = 1
    while top > 0:
        top -= 1
        x, lf, e = work_n[top], work_l[top], work_e[top]
        t = tin[lf]
        while e > 0.0:
            before = w[x]
            w[x] += e
            a, b = ca[x], cb[x]
            tol = 1e-12 * (before if before > 1.0 else 1.0)
            if a < 0 or before >= cap[a] + cap[b] - tol:
                break
            if tin[a] <= t and t < tout[a]:
                c, sib = a, b
            else:
                c, sib = b, a
            room = cap[c] - w[c]
            room = room if room > 0.0 else 0.0
            if e > room:
                space = cap[sib] - w[sib]
                if space > 0.0:
                    rest = e - room
                    work_n[top], work_l[top], work_e[top] = sib, outlet[c], rest if rest < space else space
                    top += 1
                e = room
            x = c


@numba.njit(cache=True)
def pour(w, cap, parent, ca, cb, outlet, drain, tin, tout, mg, outflow):  # pragma: no cover - compiled
    n = len(w)
    work_n = np.empty(n + 1, np.int64)
    work_l = np.empty(n + 1, np.int64)
    work_e = np.empty(n + 1)
    for k in range(len(mg)):
        new, a, b, leaf_a, leaf_b = mg[k, 0], mg[k, 1], mg[k, 2], mg[k, 3], mg[k, 4]
        if new < 0:
            if w[a] > cap[a]:
                e = w[a] - cap[a]
                w[a] = cap[a]
                root, lf = drain[a], leaf_b
                while e > 0.0 and root != 0:
                    room = cap[root] - w[root]
                    put = e if e < room else (room if room > 0.0 else 0.0)
                    _add(w, cap, parent, ca, cb, outlet, tin, tout, root, lf, put, work_n, work_l, work_e)
                    e -= put
                    lf = outlet[root]
                    root = drain[root]
                outflow += e
            continue
        total = w[a] + w[b]
        if total >= cap[a] + cap[b]:
            w[a] = cap[a]
            w[b] = cap[b]
        elif w[a] > cap[a]:
            e = w[a] - cap[a]
            w[a] = cap[a]
            _add(w, cap, parent, ca, cb, outlet, tin, tout, b, leaf_b, e, work_n, work_l, work_e)
        elif w[b] > cap[b]:
            e = w[b] - cap[b]
            w[b] = cap[b]
            _add(w, cap, parent, ca, cb, outlet, tin, tout, a, leaf_a, e, work_n, work_l, work_e)
        w[new] = total
    return outflow
