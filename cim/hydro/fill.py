"""Depression filling: Priority-Flood (Barnes, Lehman & Mulla 2014, algorithm 2 "improved", with a pit queue).

Every cell is raised to the lowest level at which water standing on it could leave the grid (over the
grid's edge or into a no-data cell); 8-connected, exact (no epsilon gradient).  The hot loop is compiled
with numba when it is installed (an array binary heap of (elevation, flat index) and a FIFO of the cells
being filled); without numba the same surface comes from scikit-image's grey reconstruction by erosion
(Soille 2004).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def fill_depressions(z: np.ndarray, *, method: str = "auto") -> np.ndarray:
    """The depression-filled surface.

    Parameters
    ----------
    z : (ny, nx) float elevations, metres; NaN = no data (an outlet, as the grid's edge).
    method : "auto" (numba when importable), "numba" or "reconstruction".

    Returns
    -------
    (ny, nx) float64 filled elevations (NaN where z is NaN), >= z.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError("z must be 2-D")
    if method == "auto":
        method = "numba" if _kernel() is not None else "reconstruction"
    if method == "numba":
        kernel = _kernel()
        if kernel is None:
            raise RuntimeError("numba is not installed")
        nodata = np.isnan(z)
        out = np.where(nodata, -np.inf, z).ravel().copy()
        kernel(out, nodata.ravel(), z.shape[0], z.shape[1])
        out = out.reshape(z.shape)
        out[nodata] = np.nan
        return out
    if method == "reconstruction":
        return _reconstruction(z)
    raise ValueError(f"unknown method {method!r}")


def _reconstruction(z: np.ndarray) -> np.ndarray:
    from skimage.morphology import reconstruction

    nodata = np.isnan(z)
    low = (np.nanmin(z) - 1.0) if (~nodata).any() else 0.0
    mask = np.where(nodata, low, z)
    seed = np.full_like(mask, np.nanmax(mask))
    edge = np.zeros(z.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    edge |= nodata
    seed[edge] = mask[edge]
    out = reconstruction(seed, mask, method="erosion", footprint=np.ones((3, 3)))
    out[nodata] = np.nan
    return out


@lru_cache(maxsize=1)
def _kernel():
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is in the flood extra
        return None

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

    return priority_flood
