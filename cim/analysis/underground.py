"""Underground space use by depth band (GB/T 51358-2019 bands by default; RULES.md §3).

For a region (a polygon in the city CRS) and a list of bands — depths below the ground surface, or one
range of absolute elevations — how much of the soil volume the underground solids occupy, by category
and by feature.  A feature partly inside the region or the band counts with the part inside only.

How each solid is integrated (see :mod:`cim.analysis.solids`):

* **swept solids** (pipes, tunnels, utility tunnels): each straight piece of the centreline is clipped
  to the region exactly in plan (shapely), then cut into sub-pieces of at most ``step`` metres (3-D
  length).  At each sub-piece's midpoint the ground is sampled and the part of the cross-section lying
  between the band's two planes is computed analytically (circular-segment formula; boxes: a
  rectangle); volume = that area x the sub-piece's length.  A horizontal pipe wholly in one band is
  exact, and so is the total of any pipe; a sloping pipe crossing a band boundary is split by the
  midpoint rule on a smooth integrand: against the analytic integral, a DN1000 pipe at 1.3 % slope errs
  by 6e-6 of its volume in each band at ``step`` = 0.5 m (2e-5 at 1 m, 2e-7 at 0.1 m).  The section is
  taken at its axis position, so a pipe cut by the region's edge counts the part whose *axis* lies
  inside (exact when it crosses the edge at right angles), and the section is taken as perpendicular
  to the band planes: exact for level pipes, O(slope^2) for sloping ones, while a vertical drop is
  split between bands only to within one sub-piece.
* **prisms** (basements, civil-defence spaces, stations): footprint ∩ region exactly, cut into cells of
  ``prism_cell`` metres; each cell counts its area x the overlap of [bottom, top] with the band, the
  band's depth converted to elevations with the ground at the cell's centroid.  Exact on flat ground
  and for absolute bands; on sloping ground the band boundary follows the terrain cell by cell.
* **chambers** (manholes, valve chambers): pi r^2 x the vertical overlap, times the share of the
  disc inside the region (exact area of a 64-gon ∩ region for discs on the edge), the ground taken at
  the centre.

Solids are not merged: where two overlap (a pipe's end inside its manhole, a pipe through a station
box), both count.  The soil volume of a depth band is the region's area x the band's thickness (the
volume between the two depth surfaces); of an elevation band, the part of the slab below the ground.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidParameter
from ..store.base import Region, Store
from .params import CRS_DOC, Polygon, city_region
from .regions import check_area
from .registry import Analysis
from .solids import (
    GroundFn,
    Solids,
    _as_box,
    are_boxes,
    box_cells,
    clip_segments,
    discs,
    grid_pieces,
    ground_range,
    section_area,
    section_area_between,
    store_ground,
    subdivide,
    underground_solids,
)

if TYPE_CHECKING:
    from ..city import LocalCity

#: GB/T 51358-2019 as commonly quoted (RULES.md §3, M): shallow 0-15 m, sub-shallow 15-30 m, sub-deep
#: 30-50 m, deep below 50 m.  The deep band needs a bottom to have a volume: 100 m, below any urban
#: underground works in the district (metro stations reach ~25-40 m).
DEFAULT_BANDS: tuple[tuple[float, float], ...] = ((0.0, 15.0), (15.0, 30.0), (30.0, 50.0), (50.0, 100.0))
MAX_DEPTH = 1000.0
STEP = 0.5  # metres: longest sub-piece of a swept solid
PRISM_CELL = 10.0  # metres: cells a prism footprint is cut into to follow the terrain


class FeatureVolume(BaseModel):
    """The volume one feature occupies in a band, m³."""

    id: str
    collection: str
    category: str = Field(
        description="A utility type for pipes; basement, tunnel, utility_tunnel, station, "
        "civil_defence; manhole for pipe-node chambers."
    )
    volume: float = Field(description="Volume inside the region and the band, m³.")


class BandUse(BaseModel):
    """One band: soil volume, occupied volume and their ratio, by category and by feature."""

    reference: Literal["depth", "elevation"] = Field(
        description="depth: top and bottom are metres below the ground surface; elevation: absolute "
        "elevations in the city's height datum (top > bottom)."
    )
    top: float = Field(description="Upper limit of the band, metres (depth or elevation).")
    bottom: float = Field(description="Lower limit of the band, metres (depth or elevation).")
    soil_volume: float = Field(description="Volume of ground in the band under the region, m³.")
    occupied_volume: float = Field(description="Volume of underground solids in it, m³.")
    ratio: float = Field(description="occupied_volume / soil_volume.")
    by_category: dict[str, float] = Field(description="Category -> occupied volume, m³.")
    features: list[FeatureVolume] = Field(description="Each feature with volume in the band, largest first.")


class UndergroundUse(BaseModel):
    """Underground space use under a region, band by band."""

    area: float = Field(description="Region area, m².")
    terrain: bool = Field(description="Whether the city has a terrain (depths need one).")
    step: float = Field(description="Longest sub-piece used to integrate swept solids, metres.")
    bands: list[BandUse]


def check_bands(bands: Sequence[Sequence[float]] | None, parameter: str = "bands") -> list[tuple[float, float]]:
    """Depth bands [top, bottom] (metres below ground), checked: 0 <= top < bottom, in order, not overlapping.

    None gives :data:`DEFAULT_BANDS`.  InvalidParameter names ``parameter`` otherwise.
    """
    if bands is None:
        return list(DEFAULT_BANDS)
    out: list[tuple[float, float]] = []
    if len(bands) == 0:
        raise InvalidParameter(parameter, f"{parameter} must hold at least one [top, bottom] pair.")
    for k, band in enumerate(bands):
        if len(band) != 2:
            raise InvalidParameter(parameter, f"{parameter}[{k}] must be [top, bottom] (2 numbers), got {len(band)}.")
        top, bottom = float(band[0]), float(band[1])
        if not (np.isfinite(top) and np.isfinite(bottom)):
            raise InvalidParameter(parameter, f"{parameter}[{k}] must be finite numbers.")
        if top < 0:
            raise InvalidParameter(parameter, f"{parameter}[{k}]: depths are metres below ground, >= 0; got {top}.")
        if not top < bottom:
            raise InvalidParameter(
                parameter, f"{parameter}[{k}]: top ({top}) must be above bottom ({bottom}), i.e. smaller depth."
            )
        if bottom > MAX_DEPTH:
            raise InvalidParameter(parameter, f"{parameter}[{k}]: bottom {bottom} m is deeper than {MAX_DEPTH:g} m.")
        if out and top < out[-1][1]:
            raise InvalidParameter(
                parameter,
                f"{parameter}[{k}] overlaps or precedes the band before it: bands "
                "must be in order of depth and must not overlap.",
            )
        out.append((top, bottom))
    return out


def check_z_range(z_min: float | None, z_max: float | None) -> tuple[float, float]:
    """``z_min`` and ``z_max`` checked (both given, finite, in order): (lowest, highest) elevation, metres."""
    if z_min is None or z_max is None:
        raise InvalidParameter(
            "z_min" if z_min is None else "z_max", "give both z_min and z_max (absolute elevations, metres)."
        )
    if not (np.isfinite(z_min) and np.isfinite(z_max)):
        raise InvalidParameter("z_min", "z_min and z_max must be finite numbers.")
    if not z_min < z_max:
        raise InvalidParameter("z_min", f"z_min ({z_min}) must be below z_max ({z_max}).")
    return float(z_min), float(z_max)


def _planes(g: np.ndarray | None, top: float, bottom: float, depth: bool) -> tuple[np.ndarray, np.ndarray]:
    """Absolute (lower, upper) elevations of a band where the ground is ``g``."""
    if depth:
        return np.asarray(g - bottom, dtype=float), np.asarray(g - top, dtype=float)  # type: ignore[operator]
    return np.asarray(bottom, dtype=float), np.asarray(top, dtype=float)


def occupancy(
    solids: Solids,
    polygon: shapely.Geometry,
    bands: Sequence[tuple[float, float]],
    *,
    reference: Literal["depth", "elevation"] = "depth",
    ground: GroundFn | None = None,
    step: float = STEP,
    prism_cell: float = PRISM_CELL,
) -> list[BandUse]:
    """Volumes of ``solids`` inside ``polygon`` (city CRS) per band.

    ``bands``: (top, bottom) pairs, depths in metres below ground when ``reference`` is "depth" (needs
    ``ground``), else absolute elevations with top > bottom.  See the module docstring for the method.
    """
    docs = band_docs(
        solids, polygon, bands, reference=reference, ground=ground, step=step, prism_cell=prism_cell
    )  # one validation in pydantic-core for each band and all its features
    return [BandUse.model_validate(d) for d in docs]


def band_docs(
    solids: Solids,
    polygon: shapely.Geometry,
    bands: Sequence[tuple[float, float]],
    *,
    reference: Literal["depth", "elevation"] = "depth",
    ground: GroundFn | None = None,
    step: float = STEP,
    prism_cell: float = PRISM_CELL,
) -> list[dict]:
    """:func:`occupancy`'s bands as plain JSON values (dicts with :class:`BandUse`'s fields, in its order), not
    validated: what the HTTP route writes without building models."""
    depth = reference == "depth"
    if depth and ground is None:
        raise InvalidParameter(
            "bands",
            "The city has no terrain, so depths below ground cannot be measured: "
            "give z_min and z_max (absolute elevations) instead.",
        )
    nb, n_own = len(bands), len(solids.owners)
    vol = np.zeros((nb, n_own))
    shapely.prepare(polygon)

    # swept solids: clip in plan, cut into short pieces, integrate the section between the planes
    sw = solids.swept
    if len(sw):
        a, b, seg = clip_segments(sw.a, sw.b, polygon)
        # a piece whose whole section lies inside a band (or outside it) wherever the ground may be under the
        # region counts its section x length (or nothing) without being cut; the others are integrated
        hh = sw.half_h[seg]
        zlo, zhi = np.minimum(a[:, 2], b[:, 2]) - hh, np.maximum(a[:, 2], b[:, 2]) + hh
        if depth:
            gb = getattr(ground, "bounds", None)
            glo, ghi = gb(*polygon.bounds) if gb is not None else (-np.inf, np.inf)
        else:
            glo = ghi = 0.0
        full, partial = [], np.zeros(len(seg), bool)
        for top, bottom in bands:
            u_lo, u_hi = (glo - top, ghi - top) if depth else (top, top)  # the band's upper plane
            l_lo, l_hi = (glo - bottom, ghi - bottom) if depth else (bottom, bottom)  # and its lower plane
            inside = (zhi <= u_lo) & (zlo >= l_hi)
            outside = (zlo >= u_hi) | (zhi <= l_lo)
            full.append(inside)
            partial |= ~inside & ~outside
        whole = section_area(sw.half_w[seg], hh, sw.circular[seg]) * np.linalg.norm(b - a, axis=1)
        cut = np.flatnonzero(partial)
        mid, length, sub = subdivide(a[cut], b[cut], step)
        src = seg[cut[sub]]
        zc = mid[:, 2]
        g = ground(mid[:, :2]) if depth else None  # type: ignore[misc]
        for k, (top, bottom) in enumerate(bands):
            vol[k] += np.bincount(sw.owner[seg[full[k]]], whole[full[k]], minlength=n_own)
            lo, hi = _planes(g, top, bottom, depth)
            area = section_area_between(lo - zc, hi - zc, sw.half_w[src], sw.half_h[src], sw.circular[src])
            vol[k] += np.bincount(sw.owner[src], area * length, minlength=n_own)

    # prisms: footprint ∩ region, cells following the terrain
    pr = solids.prisms
    if len(pr):
        area, centre, src = _prism_cells(pr.polygons, polygon, prism_cell)
        g = ground(centre) if depth else None  # type: ignore[misc]
        for k, (top, bottom) in enumerate(bands):
            lo, hi = _planes(g, top, bottom, depth)
            overlap = np.clip(np.minimum(hi, pr.top[src]) - np.maximum(lo, pr.bottom[src]), 0.0, None)
            vol[k] += np.bincount(pr.owner[src], area * overlap, minlength=n_own)

    # chambers: the share of the disc inside the region x the vertical overlap
    ch = solids.chambers
    if len(ch):
        pts = shapely.points(ch.xy)
        frac = shapely.contains_xy(polygon, ch.xy[:, 0], ch.xy[:, 1]).astype(float)
        edge = np.flatnonzero((shapely.distance(polygon.boundary, pts) < ch.radius) & (ch.radius > 0))
        if len(edge):
            d = discs(ch.xy[edge], ch.radius[edge])
            frac[edge] = shapely.area(shapely.intersection(d, polygon)) / shapely.area(d)
        g = ground(ch.xy) if depth else None  # type: ignore[misc]
        base = np.pi * ch.radius**2 * frac
        for k, (top, bottom) in enumerate(bands):
            lo, hi = _planes(g, top, bottom, depth)
            overlap = np.clip(np.minimum(hi, ch.top) - np.maximum(lo, ch.bottom), 0.0, None)
            vol[k] += np.bincount(ch.owner, base * overlap, minlength=n_own)

    soil = _soil_volumes(polygon, bands, depth, ground)
    own = solids.owners
    ids, colls, cat_list = own.ids, own.collections, own.categories
    names: dict[str, int] = {}  # category -> code, so that a band's categories are summed over int masks
    codes = np.fromiter((names.setdefault(c, len(names)) for c in cat_list), np.int64, len(cat_list))
    cat_of = list(names)
    out = []
    for k, (top, bottom) in enumerate(bands):
        v = vol[k]
        nz = np.flatnonzero(v > 1e-9)
        nz = nz[np.argsort(-v[nz], kind="stable")]
        vz, cz = v[nz], codes[nz]
        present, first = np.unique(cz, return_index=True)
        by_cat: dict[str, float] = {}
        for j in present[np.argsort(first)].tolist():  # in order of first appearance, as the features
            by_cat[cat_of[j]] = round(float(vz[cz == j].sum()), 6)
        occupied = float(v.sum())
        out.append(
            {
                "reference": reference,
                "top": top,
                "bottom": bottom,
                "soil_volume": round(soil[k], 6),
                "occupied_volume": round(occupied, 6),
                "ratio": round(occupied / soil[k], 10) if soil[k] > 0 else 0.0,
                "by_category": dict(sorted(by_cat.items(), key=lambda kv: -kv[1])),
                "features": [
                    {"id": ids[i], "collection": colls[i], "category": cat_list[i], "volume": vol_i}
                    for i, vol_i in zip(nz.tolist(), round6(vz), strict=True)
                ],
            }
        )
    return out


def round6(x: np.ndarray) -> list[float]:
    """``[round(float(v), 6) for v in x]``, the same floats, mostly in numpy: ``rint(x * 1e6) / 1e6`` is the double
    nearest to the decimal that ``round`` picks unless ``x * 1e6`` lies within a few ulps of a half (where the
    product's rounding may decide the tie) or beyond 2**53 (no fraction left); those few take ``round``."""
    s = x * 1e6
    out = (np.rint(s) / 1e6).tolist()
    for i in np.flatnonzero(~(np.abs(np.abs(s - np.floor(s)) - 0.5) > 4 * np.spacing(s))).tolist():
        out[i] = round(float(x[i]), 6)
    return out


def _prism_cells(
    polygons: np.ndarray, polygon: shapely.Geometry, cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Footprints (k,) ∩ ``polygon`` cut into cells of ``cell`` metres (:func:`grid_pieces`): areas (n,) m²,
    centroids (n, 2) and footprint index (n,).  Axis-aligned rectangles in a rectangular region are clipped
    and cut in numpy (the same cells), the others with GEOS."""
    region_box = _as_box(polygon)
    rect = np.zeros(len(polygons), bool)
    if region_box is not None:
        rect = are_boxes(polygons)
    out_a, out_c, out_i = [], [], []
    if rect.any():
        ri = np.flatnonzero(rect)
        b = shapely.bounds(polygons[ri])
        x0, y0, x1, y1 = region_box  # type: ignore[misc]
        clip = np.column_stack(
            [np.maximum(b[:, 0], x0), np.maximum(b[:, 1], y0), np.minimum(b[:, 2], x1), np.minimum(b[:, 3], y1)]
        )
        hit = (clip[:, 0] < clip[:, 2]) & (clip[:, 1] < clip[:, 3])
        a, c, k = box_cells(clip[hit], cell)
        out_a.append(a)
        out_c.append(c)
        out_i.append(ri[hit][k])
    other = np.flatnonzero(~rect)
    if len(other):
        hit = other[shapely.intersects(polygon, polygons[other])]
        pieces, which = grid_pieces(shapely.intersection(polygons[hit], polygon), cell)
        out_a.append(shapely.area(pieces))
        out_c.append(shapely.get_coordinates(shapely.centroid(pieces)).reshape(-1, 2))
        out_i.append(hit[which])
    if not out_a:
        return np.zeros(0), np.zeros((0, 2)), np.zeros(0, np.int64)
    return np.concatenate(out_a), np.concatenate(out_c), np.concatenate(out_i).astype(np.int64)


def _soil_volumes(
    polygon: shapely.Geometry,
    bands: Sequence[tuple[float, float]],
    depth: bool,
    ground: GroundFn | None,
    cell: float = 5.0,
) -> list[float]:
    area = polygon.area
    if depth:
        return [area * (bottom - top) for top, bottom in bands]
    if ground is None:
        return [area * (top - bottom) for top, bottom in bands]
    cell = max(cell, np.sqrt(area) / 200)
    pieces, _ = grid_pieces(np.array([polygon], dtype=object), cell)
    a = shapely.area(pieces)
    g = ground(shapely.get_coordinates(shapely.centroid(pieces)))
    return [float((a * np.clip(np.minimum(g, top) - bottom, 0.0, None)).sum()) for top, bottom in bands]


def underground_use(
    store: Store,
    polygon: shapely.Geometry,
    *,
    bands: Sequence[Sequence[float]] | None = None,
    z_min: float | None = None,
    z_max: float | None = None,
    step: float = STEP,
    prism_cell: float = PRISM_CELL,
    max_area_km2: float | None = None,
) -> UndergroundUse:
    """Underground space use inside ``polygon`` (city CRS, metres) by band, from a store.

    Either ``bands`` (depths below ground, default :data:`DEFAULT_BANDS`) or ``z_min`` and ``z_max``
    (absolute elevations: one band).  The store's region query finds the candidates (3-D index, then
    the exact 2-D test), with a z range that covers every band over the region's ground.
    """
    doc = underground_use_doc(
        store,
        polygon,
        bands=bands,
        z_min=z_min,
        z_max=z_max,
        step=step,
        prism_cell=prism_cell,
        max_area_km2=max_area_km2,
    )
    bands_ = [BandUse.model_validate(b) for b in doc["bands"]]  # one validation in pydantic-core per band
    return UndergroundUse(area=doc["area"], terrain=doc["terrain"], step=doc["step"], bands=bands_)


def underground_use_doc(
    store: Store,
    polygon: shapely.Geometry,
    *,
    bands: Sequence[Sequence[float]] | None = None,
    z_min: float | None = None,
    z_max: float | None = None,
    step: float = STEP,
    prism_cell: float = PRISM_CELL,
    max_area_km2: float | None = None,
) -> dict:
    """:func:`underground_use`'s answer as plain JSON values (:class:`UndergroundUse`'s fields, in its order), not
    validated into models (the HTTP route writes it with orjson)."""
    if not (0.01 <= step <= 10):
        raise InvalidParameter("step", "step must be between 0.01 and 10 metres.")
    check_area(polygon, max_area_km2)
    absolute = z_min is not None or z_max is not None
    if absolute and bands is not None:
        raise InvalidParameter(
            "bands", "give either bands (depths below ground) or z_min and z_max (elevations), not both."
        )
    ground = store_ground(store)
    if absolute:
        lo, hi = check_z_range(z_min, z_max)
        checked = [(hi, lo)]
        zrange = (lo, hi)
    else:
        checked = check_bands(bands)
        if ground is None:
            raise InvalidParameter(
                "bands",
                "The city has no terrain, so depths below ground cannot be "
                "measured: give z_min and z_max (absolute elevations) instead.",
            )
        # the z filter covers every band over the region's ground: the DEM's bounds there when the sampler
        # knows them (strict, one slice), else sampled
        gb = getattr(ground, "bounds", None)
        gmin, gmax = gb(*polygon.bounds) if gb is not None else ground_range(ground, polygon)
        zrange = (gmin - max(b for _, b in checked) - 1.0, gmax - min(t for t, _ in checked) + 1.0)
    region = Region(polygon, *zrange)
    solids = underground_solids(store, region)
    result = band_docs(
        solids,
        polygon,
        checked,
        reference="elevation" if absolute else "depth",
        ground=ground,
        step=step,
        prism_cell=prism_cell,
    )
    return {"area": round(polygon.area, 3), "terrain": ground is not None, "step": step, "bands": result}


# -- the registered analysis (POST /analysis/underground-use, /processes/underground-use, cim analyse) ----------
class UndergroundUseRequest(BaseModel):
    """Underground space use under a region: depth bands below the ground, or one band of elevations."""

    model_config = ConfigDict(extra="forbid")
    region: Polygon
    crs: str | None = Field(None, description=CRS_DOC)
    bands: list[Annotated[list[float], Field(min_length=2, max_length=2)]] | None = Field(
        None,
        description="Depth bands [top, bottom], metres below the ground, in order and not overlapping. "
        "Default GB/T 51358-2019: 0-15, 15-30, 30-50 and 50-100 m (the deep band, 'below 50 m', "
        "given a 100 m bottom).",
        examples=[[list(b) for b in DEFAULT_BANDS]],
    )
    z_min: float | None = Field(
        None,
        description="Instead of bands: one band between absolute elevations "
        "z_min and z_max (metres, the city's height datum).",
    )
    z_max: float | None = None


def run(city: LocalCity, req: UndergroundUseRequest) -> UndergroundUse:
    """The registered analysis: the request's region in the city CRS, then :func:`underground_use`."""
    poly = city_region(city, req.region, req.crs)
    return underground_use(city.store, poly, bands=req.bands, z_min=req.z_min, z_max=req.z_max)


def region_of(city: LocalCity, req: UndergroundUseRequest) -> shapely.Geometry:
    """The request's region in the city CRS, checked (:func:`city_region`)."""
    return city_region(city, req.region, req.crs)


def run_json(city: LocalCity, req: UndergroundUseRequest, polygon: shapely.Geometry | None = None) -> bytes:
    """:func:`run`'s answer as JSON bytes, written by orjson from plain values (no models): the same JSON values as
    the model's serialisation.  ``polygon``: the request's region in the city CRS when already made."""
    import orjson

    poly = region_of(city, req) if polygon is None else polygon
    doc = underground_use_doc(city.store, poly, bands=req.bands, z_min=req.z_min, z_max=req.z_max)
    return orjson.dumps(doc)


ANALYSIS = Analysis(
    id="underground-use",
    title="Underground space use by depth band",
    description="Soil volume, occupied volume and their ratio in each depth band under a region, by category "
    "(utility types, basement, tunnel, utility_tunnel, station, civil_defence, manhole) and by feature. Pipes "
    "and tunnels are integrated along their centrelines in pieces of at most 0.5 m; the part of a feature "
    "inside the region and the band counts.",
    request=UndergroundUseRequest,
    result=UndergroundUse,
    run=run,
    keywords=("underground", "GB/T 51358-2019", "volume"),
)
