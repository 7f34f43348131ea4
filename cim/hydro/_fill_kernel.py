"""The compiled Priority-Flood of :mod:`cim.hydro.fill` (numba; a module of its own, imported on first use,
so that numba caches the machine code)."""

from __future__ import annotations

import numba
import numpy as np

_DR = (-1, -1, 0, 1, 1, 1, 0, -1)  # the 8 neighbours: row steps
_DC = (0, 1, 1, 1, 0, -1, -1, -1)  # column steps


@numba.njit(cache=True, nogil=True)
def _push(hk, hi, hn, key, val):  # pragma: no cover - compiled
    """Push (key, val) onto the binary min-heap of the first ``hn`` entries of ``hk``/``hi``; the new size."""
    pos = hn
    while pos > 0:
        par = (pos - 1) >> 1
        if hk[par] <= key:
            break
        hk[pos] = hk[par]
        hi[pos] = hi[par]
        pos = par
    hk[pos] = key
    hi[pos] = val
    return hn + 1


@numba.njit(cache=True, nogil=True)
def _pop(hk, hi, hn):  # pragma: no cover - compiled
    """Pop the least key's value from the heap of size ``hn``: (value, new size)."""
    top = hi[0]
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
    return top, hn


@numba.njit(cache=True, nogil=True)
def _is_seed(nodata, k, ny, nx):  # pragma: no cover - compiled
    """Whether flat cell ``k`` is on the grid's edge or next to a no-data cell (an outlet)."""
    r = k // nx
    c = k - r * nx
    if r == 0 or c == 0 or r == ny - 1 or c == nx - 1:
        return True
    for d in range(8):
        if nodata[(r + _DR[d]) * nx + c + _DC[d]]:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def priority_flood(z, nodata, ny, nx):  # pragma: no cover - compiled
    """Fill ``z`` in place: (ny * nx,) float64 elevations (m, row-major), ``nodata`` (ny * nx,) bool."""
    n = ny * nx
    closed = nodata.copy()
    hk = np.empty(n, np.float64)  # heap keys (elevations)
    hi = np.empty(n, np.int64)  # heap values (flat indices)
    hn = 0
    pit = np.empty(n, np.int64)  # FIFO of cells being filled (each cell enters once)
    ph = 0
    pt = 0
    # seeds: the grid's edge, and cells next to no data
    for k in range(n):
        if not closed[k] and _is_seed(nodata, k, ny, nx):
            closed[k] = True
            hn = _push(hk, hi, hn, z[k], k)
    while hn > 0 or ph < pt:
        if ph < pt:
            k = pit[ph]
            ph += 1
        else:
            k, hn = _pop(hk, hi, hn)
        zc = z[k]
        r = k // nx
        c = k - r * nx
        for d in range(8):
            rr = r + _DR[d]
            cc = c + _DC[d]
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
                hn = _push(hk, hi, hn, z[m], m)
