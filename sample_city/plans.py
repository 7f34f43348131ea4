"""Building plans in local metres, and their conversion to :class:`cim.model.Building`.

A :class:`Plan` is one building before it is placed on the terrain: an axis-aligned rectangle
or L-shaped footprint (counter-clockwise), floors, floor height, parapet and attributes.  The
block fillers in ``buildings.py`` produce plans; :func:`to_buildings` turns them into features
with ground elevations sampled from the DEM and, for landmarks, LOD2 boundary surfaces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from cim.model import Building, BuildingUse, StructureType, Surface, SurfaceType
from cim.terrain import Terrain

from .layout import origin

Ring = list[tuple[float, float]]
HIP_PITCH = math.tan(math.radians(25.0))

# Heights that the threshold towers test; ordinary buildings never land exactly on one.
THRESHOLD_HEIGHTS = frozenset(
    {
        24.0,
        25.0,
        27.0,
        28.0,
        50.0,
        54.0,
        55.0,
        79.0,
        80.0,
        81.0,
        99.0,
        100.0,
        101.0,
        149.0,
        150.0,
        151.0,
        249.0,
        250.0,
        251.0,
        499.0,
        500.0,
        501.0,
    }
)


def r1(x: float) -> float:
    """Round to 0.1 m (plan coordinates)."""
    return float(round(x, 1))


def rect(x0: float, y0: float, x1: float, y1: float) -> Ring:
    x0, y0, x1, y1 = r1(x0), r1(y0), r1(x1), r1(y1)
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def l_shape(x0: float, y0: float, x1: float, y1: float, corner: str, cw: float, ch: float) -> Ring:
    """Rectangle (x0, y0, x1, y1) with a ``cw`` x ``ch`` notch cut at ``corner`` ("ne", "nw", "se", "sw")."""
    x0, y0, x1, y1, cw, ch = r1(x0), r1(y0), r1(x1), r1(y1), r1(cw), r1(ch)
    if corner == "ne":
        return [(x0, y0), (x1, y0), (x1, y1 - ch), (x1 - cw, y1 - ch), (x1 - cw, y1), (x0, y1)]
    if corner == "nw":
        return [(x0, y0), (x1, y0), (x1, y1), (x0 + cw, y1), (x0 + cw, y1 - ch), (x0, y1 - ch)]
    if corner == "se":
        return [(x0, y0), (x1 - cw, y0), (x1 - cw, y0 + ch), (x1, y0 + ch), (x1, y1), (x0, y1)]
    if corner == "sw":
        return [(x0 + cw, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0 + ch), (x0 + cw, y0 + ch)]
    raise ValueError(corner)


def split_floors(height: float, fmin: float, fmax: float) -> tuple[int, float, float]:
    """(floors, floor height, parapet) giving exactly ``height`` with fmin <= floor height <= fmax."""
    for parapet in (1.0, 0.9, 1.1, 0.8, 1.2, 0.7, 0.6, 0.5, 0.0):
        floors = math.ceil((height - parapet) / fmax - 1e-9)
        fh = (height - parapet) / floors
        if fmin - 1e-9 <= fh <= fmax + 1e-9:
            return floors, fh, parapet
    raise ValueError(f"no floor split for {height} m")


@dataclass
class Plan:
    """One building in local metres (see module docstring)."""

    ring: Ring
    use: BuildingUse
    floors: int
    floor_h: float
    parapet: float
    year: int
    structure: StructureType
    kind: str
    floors_below: int = 0
    name: str | None = None
    exact_height: float | None = None  # threshold towers: the height, exactly
    green_star: int | None = None
    roof: str = "flat"  # "flat" or "hip" (hip: rectangles only)
    lod2: bool = False
    basement: str | None = None  # None, "footprint" or "podium"
    bid: str | None = None
    threshold: str | None = None  # what a threshold tower tests

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        a = np.asarray(self.ring)
        return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())

    @property
    def is_rect(self) -> bool:
        return len(self.ring) == 4

    def hip_rise(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return round(HIP_PITCH * min(x1 - x0, y1 - y0) / 2, 2)

    def eaves(self) -> float:
        """Height of the top of the walls (parapet top, or eaves of a hip roof), metres."""
        return round(self.floors * self.floor_h + (self.parapet if self.roof == "flat" else 0.0), 2)

    def height(self) -> float:
        if self.exact_height is not None:
            return float(self.exact_height)
        h = self.eaves() + (self.hip_rise() if self.roof == "hip" else 0.0)
        if round(h, 2) in THRESHOLD_HEIGHTS:  # keep the thresholds to the towers that test them
            h += 0.05
            if self.roof == "flat":
                self.parapet = round(self.parapet + 0.05, 2)
        return round(h, 2)


def _xyz(ring: list[tuple[float, float]], z: float | list[float]) -> list[tuple[float, float, float]]:
    zs = z if isinstance(z, list) else [z] * len(ring)
    return [(x, y, float(zz)) for (x, y), zz in zip(ring, zs, strict=True)]


def prism_surfaces(ring: Ring, ground: float, top: float) -> list[Surface]:
    """LOD2 surfaces of a flat-roofed prism: ground (facing down), roof (up), outward walls."""
    n = len(ring)
    out = [
        Surface(type=SurfaceType.ground, rings=[_xyz(ring[::-1], ground)]),
        Surface(type=SurfaceType.roof, rings=[_xyz(ring, top)]),
    ]
    for i in range(n):
        (xa, ya), (xb, yb) = ring[i], ring[(i + 1) % n]
        out.append(
            Surface(type=SurfaceType.wall, rings=[[(xa, ya, ground), (xb, yb, ground), (xb, yb, top), (xa, ya, top)]])
        )
    return out


def hip_surfaces(ring: Ring, ground: float, eaves: float, ridge: float) -> list[Surface]:
    """LOD2 surfaces of a rectangle with a hip roof (equal pitch on all four sides)."""
    (x0, y0), _, (x1, y1), _ = ring
    out = [Surface(type=SurfaceType.ground, rings=[_xyz(ring[::-1], ground)])]
    for i in range(4):
        (xa, ya), (xb, yb) = ring[i], ring[(i + 1) % 4]
        out.append(
            Surface(
                type=SurfaceType.wall, rings=[[(xa, ya, ground), (xb, yb, ground), (xb, yb, eaves), (xa, ya, eaves)]]
            )
        )
    w, d = x1 - x0, y1 - y0
    if w >= d:  # ridge runs east-west
        h = d / 2
        ym = y0 + h
        ra, rb = (x0 + h, ym, ridge), (x1 - h, ym, ridge)
        faces = [
            [(x0, y0, eaves), (x1, y0, eaves), rb, ra],  # south
            [(x1, y1, eaves), (x0, y1, eaves), ra, rb],  # north
            [(x1, y0, eaves), (x1, y1, eaves), rb],  # east
            [(x0, y1, eaves), (x0, y0, eaves), ra],
        ]  # west
    else:  # ridge runs north-south
        h = w / 2
        xm = x0 + h
        ra, rb = (xm, y0 + h, ridge), (xm, y1 - h, ridge)
        faces = [
            [(x1, y0, eaves), (x1, y1, eaves), rb, ra],  # east
            [(x0, y1, eaves), (x0, y0, eaves), ra, rb],  # west
            [(x0, y0, eaves), (x1, y0, eaves), ra],  # south
            [(x1, y1, eaves), (x0, y1, eaves), rb],
        ]  # north
    out += [Surface(type=SurfaceType.roof, rings=[f]) for f in faces]
    return out


def global_ring(ring: Ring) -> Ring:
    x0, y0 = origin()
    return [(round(x0 + x, 3), round(y0 + y, 3)) for x, y in ring]


def to_buildings(plans: list[Plan], terrain: Terrain) -> list[Building]:
    """Features for the plans: ground elevation = DEM at the footprint centroid (city CRS)."""
    rings = [global_ring(p.ring) for p in plans]
    cent = shapely.get_coordinates(shapely.centroid([shapely.Polygon(r) for r in rings]))
    ground = terrain.sample(cent)
    out = []
    for p, ring, g in zip(plans, rings, ground.tolist(), strict=True):
        h = p.height()
        surfaces = None
        if p.lod2:
            if p.roof == "hip":
                surfaces = hip_surfaces(ring, g, g + p.eaves(), g + h)
            else:
                surfaces = prism_surfaces(ring, g, g + h)
        out.append(
            Building(
                id=p.bid,
                name=p.name,
                footprint=[ring],
                ground_elevation=g,
                height=h,
                floors_above=p.floors,
                floors_below=p.floors_below,
                use=p.use,
                year_built=p.year,
                structure=p.structure,
                green_star=p.green_star,
                cim_level=4 if p.lod2 else 3,
                surfaces=surfaces,
                attributes={
                    "roof": p.roof,
                    "kind": p.kind,
                    "floor_height": round(p.floor_h, 3),
                    **({"tests": p.threshold} if p.threshold else {}),
                },
            )
        )
    return out
