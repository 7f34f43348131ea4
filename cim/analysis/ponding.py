"""Surface ponding under a design storm (``POST /analysis/ponding``).

Method: the terrain DEM (of the region; cells outside it and the grid's edge are outlets) with buildings
burnt in as walls; the storm's runoff (rain x runoff coefficient, less a uniform drainage sink per time
step) falls on every cell, and point sources (flooding manholes, :mod:`cim.analysis.drainage`) add their
volumes; Fill-Spill-Merge over the depression hierarchy (:mod:`cim.hydro.fsm`, Barnes et al. 2021) gives
each depression's water level.  A static screen: no travel time, no infiltration while water stands.

The GB 51222 criterion (RULES.md §13): no flooded residential or commercial ground floors, and at most
15 cm on at least one lane; buildings whose wall meets water deeper than ``ground_floor_threshold_m`` and
roads whose centreline meets water deeper than 15 cm are listed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidParameter
from ..hydro.storm import Storm, hyetograph, storm_rules
from .params import CRS_DOC, Region, city_region, output_crs
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity

WALL_M = 100.0  # buildings stand this far above the highest ground: walls water cannot pass


class RunoffCoefficients(BaseModel):
    """Runoff coefficients (0-1, share of rain that runs off) by land cover."""

    model_config = ConfigDict(extra="forbid")
    buildings: float = Field(0.9, ge=0, le=1, description="Roofs.")
    other: float = Field(0.7, ge=0, le=1, description="Everything else.")


class Road(BaseModel):
    """A road centreline to check for standing water."""

    model_config = ConfigDict(extra="forbid")
    id: str
    geometry: dict[str, Any] = Field(description="GeoJSON LineString in the request's crs.")


class PondingRequest(BaseModel):
    """A ponding run: the area, the design storm, runoff coefficients, a uniform drainage sink (mm/h) and thresholds
    (m)."""

    model_config = ConfigDict(extra="forbid")
    region: Region | None = Field(None, description="Area to analyse (default: the whole terrain).")
    crs: str | None = Field(None, description=CRS_DOC)
    storm: Storm = Field(default_factory=Storm, description="Design storm (default: the city's design period).")
    runoff_coefficient: Annotated[float, Field(ge=0, le=1)] | RunoffCoefficients = Field(
        0.8, description="One value, or per land cover."
    )
    drainage_mm_per_h: float = Field(0.0, ge=0, le=500, description="Uniform sink (pipes, infiltration), mm/h.")
    buildings_as_obstacles: bool = True
    ground_floor_threshold_m: float = Field(0.0, ge=0, le=5, description="Water deeper than this at a wall floods.")
    min_pond_depth_m: float = Field(0.01, ge=0, le=10, description="Ponds shallower than this are not listed.")
    roads: list[Road] | None = Field(None, description="Road centrelines to check (default: the streets collection).")


class Pond(BaseModel):
    """One pond: its outline, water level (m), deepest point (m), volume (m³), area (m²) and where it spills."""

    id: str
    geometry: dict[str, Any]
    level_m: float
    max_depth_m: float
    volume_m3: float
    area_m2: float
    spills_to: str | None = Field(description="Pond id it overflows into, 'outside', or null when not full.")


class FloodedBuilding(BaseModel):
    """A building with water deeper than the threshold at its walls (m)."""

    id: str
    depth_m: float
    use: str | None = None


class FloodedRoad(BaseModel):
    """A road with more than 15 cm of standing water somewhere along it; the deepest, m."""

    id: str
    max_depth_m: float


class GridRef(BaseModel):
    """The depth grid written as a Cloud-Optimised GeoTIFF: its URL, file, cell size (m), (rows, columns) and CRS."""

    url: str
    path: str
    cell_m: float
    shape: tuple[int, int]
    crs: str


class PondingResult(BaseModel):
    """Ponds, flooded buildings and roads, the rain and runoff (mm) and the water balance (m³) of a storm."""

    ponds: list[Pond]
    buildings_flooded: list[FloodedBuilding]
    roads_over_15cm: list[FloodedRoad]
    rainfall_mm: float
    runoff_mm: float
    return_period_a: float | None
    total_runoff_m3: float
    stored_m3: float
    outflow_m3: float
    grid: GridRef


def run(city: LocalCity, req: PondingRequest) -> PondingResult:
    """The registered analysis: :func:`ponding` without point sources."""
    return ponding(city, req)


def ponding(city: LocalCity, req: PondingRequest, point_sources: np.ndarray | None = None) -> PondingResult:
    """The analysis; ``point_sources`` (n, 3): easting, northing (city CRS), volume m^3."""
    from ..hydro import fsm, grids
    from ..store import Region as StoreRegion

    terrain = city.terrain()
    if terrain is None:
        raise InvalidParameter("terrain", "The city has no terrain (DEM): import one (LAS/LAZ) before ponding.")
    x0, y0, cell = terrain.x0, terrain.y0, terrain.cell
    z = terrain.z.astype(np.float64)
    ny, nx = z.shape
    # the region: crop to its cells, the rest are outlets
    if req.region is not None:
        poly = city_region(city, req.region, req.crs)
        xs = x0 + cell * np.arange(nx)
        ys = y0 + cell * np.arange(ny)
        gx, gy = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(poly, gx, gy)
        if not inside.any():
            raise InvalidParameter("region", "The region holds no terrain cell: it lies outside the city's DEM.")
        rows, cols = np.nonzero(inside)
        j0, j1, i0, i1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        z = np.where(inside, z, np.nan)[j0:j1, i0:i1]
        x0, y0 = x0 + i0 * cell, y0 + j0 * cell
        ny, nx = z.shape
        if min(ny, nx) < 3:
            raise InvalidParameter("region", "The region is too small: it must span at least 3 x 3 DEM cells.")
    else:
        poly = shapely.box(x0, y0, x0 + (nx - 1) * cell, y0 + (ny - 1) * cell)

    buildings = list(city.iter_features("buildings", region=StoreRegion(poly.envelope)))
    footprints = [{"type": "Polygon", "coordinates": b.footprint} for b in buildings]
    bidx = grids.rasterize(footprints, x0, y0, cell, (ny, nx))
    if req.buildings_as_obstacles and buildings:
        wall = np.nanmax(z) + WALL_M
        z = np.where((bidx > 0) & ~np.isnan(z), wall, z)

    # runoff per cell
    hy = hyetograph(req.storm, city.city().urban_population)
    rc = req.runoff_coefficient
    c_b, c_o = (rc, rc) if isinstance(rc, float | int) else (rc.buildings, rc.other)
    ex_b = hy.excess_mm(c_b, req.drainage_mm_per_h) / 1000.0
    ex_o = hy.excess_mm(c_o, req.drainage_mm_per_h) / 1000.0
    area = cell * cell
    valid = ~np.isnan(z)
    runoff = np.where(bidx > 0, ex_b, ex_o) * area * valid
    h = fsm.hierarchy(z, area)
    leaf_water = np.bincount(h.labels.ravel(), weights=runoff.ravel(), minlength=h.n_leaves + 1)
    total = float(runoff.sum())
    if point_sources is not None and len(point_sources):
        ps = np.asarray(point_sources, dtype=float).reshape(-1, 3)
        ii = np.rint((ps[:, 0] - x0) / cell).astype(np.int64)
        jj = np.rint((ps[:, 1] - y0) / cell).astype(np.int64)
        ok = (ii >= 0) & (ii < nx) & (jj >= 0) & (jj < ny)
        lab = np.zeros(len(ps), dtype=np.int64)
        lab[ok] = h.labels[jj[ok], ii[ok]]
        leaf_water += np.bincount(lab, weights=ps[:, 2], minlength=h.n_leaves + 1)
        total += float(ps[:, 2].sum())
    res = fsm.fill_spill_merge(h, leaf_water)
    depth = fsm.depth_grid(z, h.labels, res.water_level)

    ponds = _ponds(h, res, depth, x0, y0, cell, req.min_pond_depth_m, output_crs(city, req.crs))
    flooded = _buildings_flooded(buildings, depth, bidx, x0, y0, cell, req.ground_floor_threshold_m)
    roads = _roads(city, req, depth, x0, y0, cell, poly)

    # the depth grid, cached by the store version and the request
    key = grids.grid_key(str(getattr(city.store, "url", "")), str(city.version()), req.model_dump_json(), str(total))
    path = grids.grid_dir() / f"{key}.tif"
    if not path.exists():
        grids.write_cog(path, np.where(valid, depth, np.nan), x0, y0, cell, city.crs_epsg, nodata=float("nan"))
    return PondingResult(
        ponds=ponds,
        buildings_flooded=flooded,
        roads_over_15cm=roads,
        rainfall_mm=round(hy.total_mm, 3),
        runoff_mm=round(ex_o * 1000, 3),
        return_period_a=hy.return_period_a,
        total_runoff_m3=round(total, 3),
        stored_m3=round(res.stored_m3, 3),
        outflow_m3=round(res.outflow_m3, 3),
        grid=GridRef(url=f"/grids/{key}.tif", path=str(path), cell_m=cell, shape=(ny, nx), crs=f"EPSG:{city.crs_epsg}"),
    )


def _ponds(h, res, depth, x0, y0, cell, min_depth, out) -> list[Pond]:
    """One pond per lake holding water, named P1, P2 ... by volume; those shallower than ``min_depth`` are
    left out unless a listed pond spills into them."""
    from scipy.ndimage import find_objects

    from ..hydro import grids

    lakes = sorted(res.lakes, key=lambda t: -t[2])
    lake_of_leaf = np.full(h.n_leaves + 1, -1, dtype=np.int64)
    for k, (node, *_rest) in enumerate(lakes):
        lake_of_leaf[h.leaves(node)] = k
    cell_lake = np.where(depth > 0, lake_of_leaf[h.labels], -1)
    n = len(lakes)
    counts = np.bincount(cell_lake.ravel() + 1, minlength=n + 1)[1:]
    dmax = np.zeros(n + 1)
    np.maximum.at(dmax, cell_lake.ravel() + 1, depth.ravel())
    dmax = dmax[1:]

    def target(k: int) -> int | str | None:
        spill_leaf = lakes[k][3]
        if spill_leaf == -2:
            return None
        t = int(lake_of_leaf[spill_leaf]) if spill_leaf > 0 else -1
        return t if t >= 0 and counts[t] > 0 else "outside"

    listed = {k for k in range(n) if counts[k] > 0 and dmax[k] >= min_depth}
    todo = list(listed)
    while todo:
        t = target(todo.pop())
        if isinstance(t, int) and t not in listed:
            listed.add(t)
            todo.append(t)
    slices = find_objects(cell_lake + 1, max_label=n)
    area = cell * cell
    ponds = []
    for k in sorted(listed):
        node, level, vol, _ = lakes[k]
        sl = slices[k]
        mask = cell_lake[sl] == k
        geom = grids.polygons(mask, x0 + sl[1].start * cell, y0 + sl[0].start * cell, cell)
        t = target(k)
        ponds.append(
            Pond(
                id=f"P{k + 1}",
                geometry=shapely.geometry.mapping(shapely.transform(geom, out.xy)),
                level_m=round(level, 4),
                max_depth_m=round(float(dmax[k]), 4),
                volume_m3=round(vol, 3),
                area_m2=float(counts[k] * area),
                spills_to=t if t is None or isinstance(t, str) else f"P{t + 1}",
            )
        )
    return ponds


def _buildings_flooded(buildings, depth, bidx, x0, y0, cell, threshold) -> list[FloodedBuilding]:
    """Buildings whose walls meet water: the deepest water in the cells next to the building's cells (8
    neighbours), or around its centroid when it covers no cell centre."""
    ny, nx = depth.shape
    best = np.zeros(len(buildings) + 1)
    pad_b = np.pad(bidx, 1)
    pad_d = np.pad(depth.astype(np.float64), 1)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            src = pad_b[1 + dy : 1 + dy + ny, 1 + dx : 1 + dx + nx]
            m = src > 0
            np.maximum.at(best, src[m], pad_d[1:-1, 1:-1][m])
    covered = np.zeros(len(buildings) + 1, dtype=bool)
    covered[np.unique(bidx)] = True
    for k, b in enumerate(buildings, start=1):
        if covered[k]:
            continue
        cx, cy = np.asarray(b.footprint[0], dtype=float)[:-1].mean(axis=0)
        i, j = int(round((cx - x0) / cell)), int(round((cy - y0) / cell))
        win = depth[max(j - 1, 0) : j + 2, max(i - 1, 0) : i + 2]
        best[k] = float(win.max()) if win.size else 0.0
    out = [
        FloodedBuilding(id=b.id, depth_m=round(float(best[k]), 3), use=str(b.use.value))
        for k, b in enumerate(buildings, start=1)
        if best[k] > max(threshold, 1e-3)
    ]
    out.sort(key=lambda f: -f.depth_m)
    return out


def _roads(city, req, depth, x0, y0, cell, poly) -> list[FloodedRoad]:
    """Roads whose centreline meets more than the criterion's depth (15 cm)."""
    limit = float(storm_rules()["criterion"]["road_lane_max_depth_m"])
    lines: list[tuple[str, shapely.Geometry]] = []
    if req.roads is not None:
        from .params import city_points

        for r in req.roads:
            coords = r.geometry.get("coordinates")
            if r.geometry.get("type") != "LineString" or not coords or len(coords) < 2:
                raise InvalidParameter("roads", f"Road {r.id!r} needs a GeoJSON LineString geometry.")
            try:
                xy = city_points(city, coords, req.crs, parameter="crs")
            except (TypeError, ValueError):
                raise InvalidParameter("roads", f"Road {r.id!r}: coordinates must be [x, y] numbers.") from None
            if not np.isfinite(xy).all():
                raise InvalidParameter("roads", f"Road {r.id!r}: coordinates must be finite numbers.")
            lines.append((r.id, shapely.LineString(xy)))
    elif "streets" in city.counts():
        from ..store import Region as StoreRegion

        for f in city.iter_features("streets", region=StoreRegion(poly.envelope)):
            g = getattr(f, "geometry", None) or getattr(f, "centreline", None)
            if g is not None:
                lines.append((f.id, shapely.LineString(np.asarray(g, dtype=float)[:, :2])))
    ny, nx = depth.shape
    out = []
    for rid, line in lines:
        n = max(2, int(line.length / (cell / 2)) + 1)
        pts = shapely.get_coordinates(line.interpolate(np.linspace(0, 1, n), normalized=True))
        ii = np.rint((pts[:, 0] - x0) / cell).astype(np.int64)
        jj = np.rint((pts[:, 1] - y0) / cell).astype(np.int64)
        ok = (ii >= 0) & (ii < nx) & (jj >= 0) & (jj < ny)
        if not ok.any():
            continue
        dmax = float(depth[jj[ok], ii[ok]].max())
        if dmax > limit:
            out.append(FloodedRoad(id=rid, max_depth_m=round(dmax, 3)))
    out.sort(key=lambda f: -f.max_depth_m)
    return out


def _geojson(res: PondingResult, req: PondingRequest) -> str:
    feats = [
        {"type": "Feature", "id": p.id, "geometry": p.geometry, "properties": p.model_dump(exclude={"geometry"})}
        for p in res.ponds
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)


ANALYSIS = Analysis(
    id="ponding",
    title="Surface ponding under a design storm",
    description=(
        "Where water ponds on the terrain, how deep, which buildings and roads it reaches: depression "
        "filling and Fill-Spill-Merge of the storm's runoff over the depression hierarchy, buildings as "
        "walls; the depth grid as a Cloud-Optimized GeoTIFF at grid.url."
    ),
    request=PondingRequest,
    result=PondingResult,
    run=run,
    keywords=("flood", "ponding", "内涝", "GB 51222"),
    writers={"geojson": _geojson},
    media_types={"geojson": "application/geo+json"},
)
