"""The district's ground: an analytic surface sampled into a 5 m DEM.

A flood plain along the Xi River (about 44.5 m, falling 0.08 % eastwards with the river) rising
0.3 % away from the river, low sinusoids (+-1.5 m over 0.9-1.7 km) and a 7 m deep river valley
with smooth cosine banks.  Land lies between about 41 and 52 m (EPSG:5737 heights).  The underpass and the
low block of :mod:`sample_city.flood` are cut into it.
"""

from __future__ import annotations

import numpy as np

from cim.terrain import Terrain

from .flood import relief
from .layout import DEM_CELL, DEM_MARGIN, RIVER_DEPTH, SIZE, origin, river_centre

FLOOD_PLAIN = 44.5  # elevation of the flood plain at the west edge, metres
RIVER_FALL = 0.0008  # eastward fall of the river and its plain
VALLEY_SLOPE = 0.003  # the plain rises 0.3 % away from the river
BED_HALF = 35.0  # full depth within this distance of the centre line
BANK_OUT = 75.0  # the banks reach the plain at this distance


def surface(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Analytic ground elevation (metres) at local coordinates ``u``, ``v`` (metres)."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    r = v - river_centre(u)
    soft_abs = np.sqrt(r * r + 60.0**2) - 60.0
    z = FLOOD_PLAIN - RIVER_FALL * u + VALLEY_SLOPE * soft_abs
    z += (
        0.7 * np.sin(2 * np.pi * u / 1700.0 + 0.5)
        + 0.5 * np.sin(2 * np.pi * v / 1300.0 + 1.2)
        + 0.35 * np.sin(2 * np.pi * (u - v) / 900.0 + 2.0)
    )
    t = np.clip((np.abs(r) - BED_HALF) / (BANK_OUT - BED_HALF), 0.0, 1.0)
    z -= RIVER_DEPTH * 0.5 * (1.0 + np.cos(np.pi * t))
    return z + relief(u, v)


def build_terrain() -> Terrain:
    """The DEM: 5 m cells over the district plus a 100 m margin, float32, city CRS."""
    n = int(round((SIZE + 2 * DEM_MARGIN) / DEM_CELL)) + 1
    g = -DEM_MARGIN + DEM_CELL * np.arange(n)
    uu, vv = np.meshgrid(g, g)
    x0, y0 = origin()
    return Terrain(x0 - DEM_MARGIN, y0 - DEM_MARGIN, DEM_CELL, surface(uu, vv).astype(np.float32))
