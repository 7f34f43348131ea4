"""The compiled Priority-Flood of :mod:`cim.hydro.fill` (numba; a module of its own, imported on first use,
so that numba caches the machine code)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def priority_flood(z, nodata, ny, nx):  # pragma: no cover - compiled
    n = ny * nx
    closed = nodata.copy()
    hk = np.empty(n, np.float64)  # heap keys (elevations)
    hi = np.empty(n, np.int64)  # heap values (flat indices)
    hn = 0
    pit = np.empty(n, np.int64)  # FIFO of cells being filled (each cell enters once)
    ph = 0
    pt = 0
    dr = (-1, -1, 0, 1, 1, 1, 0, -1)
    dc = (0, 1, 1, 1, 0, -1, -1, -1)
    # seeds: the grid's edge, and cells next to no data
    for k in range(n):
        if closed[k]:
            continue
        r = k // nx
        c = k - r * nx
        seed = r == 0 or c == 0 or r == ny - 1 or c == nx - 1
        if not seed:
            for d in range(8):
                if nodata[(r + dr[d]) * nx + c + dc[d]]:
                    seed = True
                    break
        if seed:
            closed[k] = True
            # sift up
            pos = hn
            hn += 1
            key = z[k]
            while pos > 0:
                par = (pos - 1) >> 1
                if hk[par] <= key:
                    break
                hk[pos] = hk[par]
                hi[pos] = hi[par]
                pos = par
            hk[pos] = key
            hi[pos] = k
    while hn > 0 or ph < pt:
        if ph < pt:
            k = pit[ph]
            ph += 1
        else:
            k = hi[0]
            hn -= 1
            if hn > 0:  # sift down the last element from the root
                key = hk[hn]
                val = hi[hn]
                pos = 0
                while True:
                    ch = 2 * pos + 1
                    if ch >= hn:
                        break
                    if ch + 1 < hn and hk[ch + 1] < hk[ch]:
                        ch += 1
                    if hk[ch] >= key:
                        break
                    hk[pos] = hk[ch]
                    hi[pos] = hi[ch]
                    pos = ch
                hk[pos] = key
                hi[pos] = val
        zc = z[k]
        r = k // nx
        c = k - r * nx
        for d in range(8):
            rr = r + dr[d]
            cc = c + dc[d]
            if rr < 0 or rr >= ny or cc < 0 or cc >= nx:
                continue
            m = rr * nx + cc
            if closed[m]:
                continue
            closed[m] = True
            if z[m] <= zc:
                z[m] = zc
                pit[pt] = m
                pt += 1
            else:
                pos = hn
                hn += 1
                key = z[m]
                while pos > 0:
                    par = (pos - 1) >> 1
                    if hk[par] <= key:
                        break
                    hk[pos] = hk[par]
                    hi[pos] = hi[par]
                    pos = par
                hk[pos] = key
                hi[pos] = m
