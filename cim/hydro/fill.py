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
        flat = np.where(nodata, -np.inf, z).ravel().copy()
        kernel(flat, nodata.ravel(), z.shape[0], z.shape[1])
        out = flat.reshape(z.shape)
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
        from ._fill_kernel import priority_flood
    except ImportError:  # pragma: no cover - numba is in the flood extra
        return None
    return priority_flood
