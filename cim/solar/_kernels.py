"""Compiled loops of the sunlight analysis (numba; a module of its own, imported on first use so that numba caches
the machine code).  Each has a numpy counterpart in :mod:`cim.solar.shadow` / :mod:`cim.analysis.sunlight`
that gives the same answer (tests compare); these only avoid the large temporaries of the vectorised forms.

* :func:`edge_tops`: the wall kernel (:func:`cim.solar.shadow.wall_shadow_tops`) as a loop over (step, edge)
  pairs and the column range each covers, with edge end heights ``za``/``zb`` (sloped LOD2 triangle edges);
* :func:`terrain_tops`: a conservative upper bound of the terrain's shadow top per (column, step) by marching
  the plan ray over a dilated max-grid of the terrain mesh;
* :func:`candidates` and :func:`finish`: per point and step, from the columns' shadow tops straight to the
  sunlit minutes, the longest run and the proposals that shade it, without (points x steps) arrays.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def edge_tops(S, p0x, p0y, dx, dy, n, hz, tan, pt, e_first, e_count, ax, ay, bx, by, za, zb, front_only):  # noqa: E501  # pragma: no cover
    """S (n, T) float64, updated in place with max(R(s) - d tan h) over the edges of pair m (step pt[m], edges
    e_first[m] .. + e_count[m]) that the plan ray of column k = p0 + k (dx, dy) crosses in front of it."""
    for m in range(pt.shape[0]):
        t = pt[m]
        ux = hz[t, 0]
        uy = hz[t, 1]
        vx = -uy
        vy = ux
        tn = tan[t]
        cd = dx * vx + dy * vy
        ld = dx * ux + dy * uy
        for e in range(e_first[m], e_first[m] + e_count[m]):
            abx = bx[e] - ax[e]
            aby = by[e] - ay[e]
            if front_only and aby * ux - abx * uy >= 0.0:
                continue  # a ray enters a prism through an edge facing it
            rax = ax[e] - p0x
            ray_ = ay[e] - p0y
            rbx = bx[e] - p0x
            rby = by[e] - p0y
            ca = rax * vx + ray_ * vy
            cb = rbx * vx + rby * vy
            la = rax * ux + ray_ * uy
            lb = rbx * ux + rby * uy
            dc = cb - ca
            if abs(dc) <= 1e-12:
                continue  # parallel to the ray: met through its neighbours
            g = (lb - la) / dc
            if abs(cd) > 1e-12:
                ka = ca / cd
                kb = cb / cd
                k0 = math.ceil(min(ka, kb) - 1e-9)
                k1 = math.floor(max(ka, kb) + 1e-9)
            elif min(ca, cb) <= 1e-9 and max(ca, cb) >= -1e-9:
                k0 = 0
                k1 = n - 1
            else:
                continue
            if k0 < 0:
                k0 = 0
            if k1 > n - 1:
                k1 = n - 1
            alpha = la - ca * g
            beta = cd * g - ld
            dz = (zb[e] - za[e]) / dc
            for k in range(k0, k1 + 1):
                dist = alpha + beta * k
                if dist > 1e-6:
                    v = za[e] + dz * (cd * k - ca) - dist * tn
                    if v > S[k, t]:
                        S[k, t] = v


@numba.njit(cache=True, nogil=True)
def terrain_tops(U, ox, oy, zlow, active, hz, tan, M, gx0, gy0, g, gmax):  # pragma: no cover
    """U (C, T) updated in place with an upper bound of max over d > 0 of (terrain(o + d u) - d tan h).

    M (ny, nx): the terrain mesh's highest vertex per cell of size g (origin gx0, gy0), dilated so that every
    point within one cell of a sample is covered: the sample at distance d bounds the ray from d to d + g."""
    ny, nx = M.shape
    for c in range(ox.shape[0]):
        # beyond the grid's farthest corner there is no terrain (low sun: the reach alone may be kilometres)
        dfar = 0.0
        for cx in (gx0, gx0 + nx * g):
            for cy in (gy0, gy0 + ny * g):
                dfar = max(dfar, math.hypot(cx - ox[c], cy - oy[c]))
        for t in range(hz.shape[0]):
            tn = tan[t]
            if not active[c, t] or tn <= 0.0:
                continue
            dmax = (gmax - zlow[c]) / tn
            if dmax < 0.0:
                continue
            dmax = min(dmax, dfar)
            best = U[c, t]
            d = 0.0
            while d <= dmax + g:
                i = int(math.floor((ox[c] + d * hz[t, 0] - gx0) / g))
                j = int(math.floor((oy[c] + d * hz[t, 1] - gy0) / g))
                if 0 <= i < nx and 0 <= j < ny:
                    v = M[j, i] - d * tn
                    if v > best:
                        best = v
                d += g
            U[c, t] = best


@numba.njit(cache=True, nogil=True)
def candidates(S, U, facing, pc, z, margin):  # pragma: no cover
    """(point, step) pairs lit by the prisms (z >= S) that another obstacle may shade (z < U + margin)."""
    N = pc.shape[0]
    T = S.shape[1]
    n = 0
    for i in range(N):
        c = pc[i]
        for t in range(T):
            if facing[c, t] and z[i] >= S[c, t] and z[i] < U[c, t] + margin:
                n += 1
    r = np.empty(n, np.int64)
    s = np.empty(n, np.int64)
    n = 0
    for i in range(N):
        c = pc[i]
        for t in range(T):
            if facing[c, t] and z[i] >= S[c, t] and z[i] < U[c, t] + margin:
                r[n] = i
                s[n] = t
                n += 1
    return r, s


@numba.njit(cache=True, nogil=True)
def finish(S, SP, facing, pc, z, ray_hit, min_steps):  # pragma: no cover
    """Per point: sunlit steps in runs of at least ``min_steps`` without and with the proposals, the longest run
    with them, and (K, N) whether proposal k shades it at some step.  ray_hit (N, T) uint8 (or (0, 0)): steps
    that ray casting found shaded."""
    N = pc.shape[0]
    T = S.shape[1]
    K = SP.shape[0]
    has_ray = ray_hit.shape[0] > 0
    m_wo = np.zeros(N, np.int64)
    m_w = np.zeros(N, np.int64)
    longest = np.zeros(N, np.int64)
    blocked = np.zeros((K, N), np.bool_)
    for i in range(N):
        c = pc[i]
        zi = z[i]
        run_wo = 0
        run_w = 0
        for t in range(T + 1):
            lit_wo = False
            lit_w = False
            if t < T and facing[c, t] and zi >= S[c, t] and not (has_ray and ray_hit[i, t]):
                lit_wo = True
                lit_w = True
                for k in range(K):
                    if zi < SP[k, c, t]:
                        blocked[k, i] = True
                        lit_w = False
            if lit_wo:
                run_wo += 1
            else:
                if run_wo >= min_steps:
                    m_wo[i] += run_wo
                run_wo = 0
            if lit_w:
                run_w += 1
            else:
                if run_w >= min_steps:
                    m_w[i] += run_w
                if run_w > longest[i]:
                    longest[i] = run_w
                run_w = 0
    return m_wo, m_w, longest, blocked


@numba.njit(cache=True, nogil=True)
def sweep_pairs(ts, hz, tan, near, bbox, top, z_low, x0, y0, x1, y1):  # pragma: no cover
    """The (step, obstacle) pairs of :func:`cim.solar.shadow.candidate_pairs` after its distance cut: for each
    step in ``ts`` and obstacle in ``near``, the box seen along the sun overlaps the columns' box across it, lies
    in front of it and is tall enough to reach it.  Same expressions, in loops (no (steps x obstacles) arrays)."""
    gx, gy, gw, gh = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    n = 0
    out_t = np.empty(ts.shape[0] * near.shape[0], np.int64)
    out_o = np.empty(ts.shape[0] * near.shape[0], np.int64)
    for a in range(ts.shape[0]):
        t = ts[a]
        ux, uy = hz[t, 0], hz[t, 1]
        ax_, ay_ = abs(ux), abs(uy)
        g_al = gx * ux + gy * uy
        g_ac = -gx * uy + gy * ux
        g_r = gw * ax_ + gh * ay_
        g_rc = gw * ay_ + gh * ax_
        for b in range(near.shape[0]):
            o = near[b]
            cx, cy = 0.5 * (bbox[o, 0] + bbox[o, 2]), 0.5 * (bbox[o, 1] + bbox[o, 3])
            hx, hy = 0.5 * (bbox[o, 2] - bbox[o, 0]), 0.5 * (bbox[o, 3] - bbox[o, 1])
            o_al = cx * ux + cy * uy
            o_ac = -cx * uy + cy * ux
            o_r = hx * ax_ + hy * ay_
            o_rc = hx * ay_ + hy * ax_
            if abs(o_ac - g_ac) > o_rc + g_rc:
                continue
            if not o_al + o_r > g_al - g_r:
                continue
            gap = max(o_al - o_r - (g_al + g_r), 0.0)
            if gap * tan[t] < top[o] - z_low:
                out_t[n] = t
                out_o[n] = o
                n += 1
    return out_t[:n], out_o[:n]
