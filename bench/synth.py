"""A scalable synthetic city for benchmarks: n buildings on a street grid, a pipe network in proportion.

Deterministic (seeded), vectorised where it counts; coordinates in EPSG:4550 around Shenyang.
Blocks of 8 x 8 buildings (pitch 25 m) on a 220 m grid; under each block's southern street one segment
of each of 4 utilities, so pipes ~ n / 16.
"""

from __future__ import annotations

import numpy as np

from cim.model import Building, BuildingUse, City, PipeSegment, Utility

X0, Y0 = 520_000.0, 4_600_000.0
CITY = City(name="Synthetic city", crs_epsg=4550, urban_population=9_000_000)
_USES = list(BuildingUse)
_UTIL = [Utility.water, Utility.gas, Utility.sewer, Utility.power]


def blocks(n: int) -> int:
    """Blocks per side of the square grid holding n buildings (64 a block)."""
    return int(np.ceil(np.sqrt(np.ceil(n / 64))))


def extent(n: int) -> tuple[float, float, float, float]:
    side = blocks(n) * 220.0
    return X0, Y0, X0 + side, Y0 + side


def buildings(n: int, seed: int = 7) -> list[Building]:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    blk, inner = np.divmod(k, 64)
    side = blocks(n)
    bx, by = np.divmod(blk, side)
    ix, iy = np.divmod(inner, 8)
    x = X0 + bx * 220.0 + 10 + ix * 25.0
    y = Y0 + by * 220.0 + 10 + iy * 25.0
    w, d = rng.uniform(8, 20, n), rng.uniform(8, 20, n)
    h = np.round(np.clip(rng.lognormal(2.8, 0.6, n), 3, 300), 2)
    ground = np.round(45 + 0.001 * (x - X0) + rng.normal(0, 0.2, n), 3)
    use = rng.integers(0, len(_USES), n)
    year = rng.integers(1950, 2025, n)
    return [
        Building(
            id=f"S{i:07d}",
            footprint=[[(x[i], y[i]), (x[i] + w[i], y[i]), (x[i] + w[i], y[i] + d[i]), (x[i], y[i] + d[i])]],
            ground_elevation=ground[i],
            height=h[i],
            floors_above=max(1, int(h[i] // 3)),
            use=_USES[use[i]],
            year_built=int(year[i]),
        )
        for i in range(n)
    ]


def pipes(n_buildings: int, seed: int = 8) -> list[PipeSegment]:
    rng = np.random.default_rng(seed)
    side = blocks(n_buildings)
    out = []
    for bx in range(side):
        for by in range(side):
            x, y = X0 + bx * 220.0, Y0 + by * 220.0 + 2
            for j, u in enumerate(_UTIL):
                z = 45 - 1.5 - 0.6 * j
                out.append(
                    PipeSegment(
                        id=f"SP{bx:04d}{by:04d}{j}",
                        utility=u,
                        centreline=[(x, y + 1.5 * j, z), (x + 220.0, y + 1.5 * j, z - 0.2)],
                        diameter=float(np.round(rng.uniform(0.1, 0.8), 2)),
                    )
                )
    return out


def city(n: int) -> list:
    """n buildings and their pipes."""
    return [*buildings(n), *pipes(n)]
