"""A synthetic airborne LiDAR survey of the district as a LAS 1.4 file (point format 6).

Ground points (class 2) lie on the DEM (+-5 cm noise) outside buildings and the river channel;
roof points (class 6) lie on the flat roofs at the roof elevation, or on the hip roofs of the
LOD2 landmarks.  Coordinates are EPSG:4550 (WKT CRS VLR) with 1 mm scale; heights EPSG:5737.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import laspy
import numpy as np
import pyproj
import shapely

from cim.model import Building
from cim.terrain import Terrain

from .layout import SIZE, origin, river_channel
from .plans import HIP_PITCH

GROUND_DENSITY = 0.05  # points per square metre (one per 20 m2)
ROOF_DENSITY = 0.1
NOISE = 0.02  # standard deviation of the ground noise, clipped to 2.5 sigma
SURVEY_DATE = datetime.date(2026, 1, 1)


def _ground_points(rng: np.random.Generator, terrain: Terrain, shapes: np.ndarray) -> np.ndarray:
    x0, y0 = origin()
    n = int(SIZE * SIZE * GROUND_DENSITY)
    xy = rng.uniform(0.0, SIZE, size=(n, 2)) + np.array([x0, y0])
    noise = np.clip(rng.normal(0.0, NOISE, n), -2.5 * NOISE, 2.5 * NOISE)
    keep = ~shapely.contains_xy(river_channel(), xy[:, 0], xy[:, 1])
    hit, _ = shapely.STRtree(shapes).query(shapely.points(xy), predicate="intersects")
    keep[hit] = False
    z = terrain.sample(xy) + noise
    return np.column_stack([xy, z])[keep]


def _roof_points(rng: np.random.Generator, buildings: list[Building], shapes: np.ndarray) -> np.ndarray:
    bounds = shapely.bounds(shapes)
    area = shapely.area(shapes)
    counts = np.maximum(3, np.round(area * ROOF_DENSITY).astype(int))
    owner = np.repeat(np.arange(len(buildings)), counts)
    lo, hi = bounds[owner, :2], bounds[owner, 2:]
    xy = lo + rng.uniform(size=(len(owner), 2)) * (hi - lo)
    inside = shapely.contains_xy(shapes[owner], xy[:, 0], xy[:, 1])
    roof = np.array([b.roof_elevation for b in buildings])
    hip = np.array([b.attributes.get("roof") == "hip" for b in buildings])
    # a hip roof with equal pitch all round: z = eaves + pitch * distance to the nearest wall (wall tops
    # are the eaves: surface 1 of hip_surfaces is a wall)
    eaves = np.array([b.surfaces[1].rings[0][2][2] if h else r for b, h, r in zip(buildings, hip, roof, strict=True)])
    roof, hip, eaves = roof[owner], hip[owner], eaves[owner]
    edge = np.minimum(
        np.minimum(xy[:, 0] - lo[:, 0], hi[:, 0] - xy[:, 0]), np.minimum(xy[:, 1] - lo[:, 1], hi[:, 1] - xy[:, 1])
    )
    roof = np.where(hip, eaves + np.minimum(HIP_PITCH * edge, roof - eaves), roof)
    pts = np.column_stack([xy, roof])
    return pts[inside]


def write_las(path: Path, buildings: list[Building], terrain: Terrain, seed: int) -> dict[int, int]:
    """Write the survey to ``path`` (atomically) and return the point count per class."""
    rng = np.random.default_rng([seed, 9])
    shapes = np.array([shapely.Polygon(b.footprint[0]) for b in buildings], dtype=object)
    ground = _ground_points(rng, terrain, shapes)
    roofs = _roof_points(rng, buildings, shapes)
    pts = np.vstack([ground, roofs])
    cls = np.concatenate([np.full(len(ground), 2, np.uint8), np.full(len(roofs), 6, np.uint8)])
    n = len(pts)
    x0, y0 = origin()
    header = laspy.LasHeader(point_format=6, version="1.4")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([x0, y0, 0.0])
    header.add_crs(pyproj.CRS.from_epsg(4550))
    header.date = SURVEY_DATE
    header.system_identifier = "cim sample_city"
    header.generating_software = "cim sample_city generator"
    las = laspy.LasData(header)
    las.x, las.y, las.z = pts[:, 0], pts[:, 1], pts[:, 2]
    las.classification = cls
    las.intensity = np.where(cls == 2, rng.integers(200, 600, n), rng.integers(800, 1500, n)).astype(np.uint16)
    las.return_number = np.ones(n, np.uint8)
    las.number_of_returns = np.ones(n, np.uint8)
    las.gps_time = 4.0e8 + np.arange(n) * 1e-5
    las.point_source_id = np.ones(n, np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        las.write(str(tmp), do_compress=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {2: int(len(ground)), 6: int(len(roofs))}
