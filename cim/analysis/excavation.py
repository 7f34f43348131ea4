"""Excavation conflicts: every underground feature (and building) a pit hits or comes near.

The pit is the region's polygon (city CRS) from the ground surface down to its bottom: ``bottom_z``
(an absolute elevation, flat) or ``depth`` metres below the ground (the bottom follows the terrain;
it is evaluated at the feature's plan position, which is exact on flat ground).  Each feature within
``buffer`` metres (3-D clearance between the surfaces of the two solids) is reported with its
distance (0 when the pit cuts into it), the elevation and depth of its closest point and a severity.

Distances (see :mod:`cim.analysis.solids` for the solids):

* the pit is a product of a plan polygon and a vertical interval, so the distance from a point to it
  is sqrt(d_plan^2 + d_vert^2), with d_plan from shapely (vectorised) and d_vert the height below the
  pit's bottom;
* **swept solids**: points every ``step`` metres along each centreline piece near the pit (both ends
  and the plan crossings of the pit's edge included); circular sections: the point's distance minus
  the radius (the solid is treated as a chain of balls, i.e. a capsule: exact except within one radius
  of a pipe's open end, where it errs on the near side); box sections: the plan and vertical
  distances less the half width and half height.  The best point of each feature is then refined on
  a grid 20 times finer along its centreline piece, so the distance is within step / 40 of the
  capsule's (2.5 mm for the default 0.1 m), or step / 2 where the closest point lies at a bend;
* **prisms** (basements, stations, civil-defence spaces, buildings): exact, from the plan distance
  between the two polygons and the vertical gap between the pit's bottom and the structure's top;
* **chambers** (manholes, valves): exact, disc to polygon in plan, cover-to-floor interval vertically.

Severity (most severe first), by what the feature carries and how close it is:

============  =============================================================  ==========  ===========
class         features                                                       hit (0 m)   within buffer
============  =============================================================  ==========  ===========
hazardous     gas, power and heat pipes and their chambers; utility tunnels;  critical    high
              metro tunnels and stations
structural    water, reclaimed water, sewer and storm pipes and chambers;    high        medium
              basements, civil-defence spaces, buildings
minor         telecom pipes and chambers                                     medium      low
============  =============================================================  ==========  ===========
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidParameter
from ..store.base import Region, Store
from .params import CRS_DOC, Polygon, city_region, output_crs
from .regions import check_area
from .registry import Analysis
from .solids import UNDERGROUND, GroundFn, Solids, ground_range, ground_sampler, sample_points

if TYPE_CHECKING:
    from ..city import LocalCity

STEP = 0.1  # metres between points sampled along centrelines
SEARCH_MARGIN = 12.5  # metres added to the buffer for the candidate search: sections up to 25 m wide
Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
HAZARDOUS = {"gas", "power", "heat", "utility_tunnel", "tunnel", "station"}
MINOR = {"telecom"}


class ExcavationHit(BaseModel):
    id: str
    collection: str
    category: str = Field(description="Utility type (pipes, chambers), structure kind or 'building'.")
    kind: str = Field(description="'pipe', the node kind (manhole, valve ...), the structure kind or 'building'.")
    utility: str | None = Field(None, description="Utility carried (pipes and pipe nodes).")
    name: str | None = None
    distance: float = Field(description="Least 3-D clearance between the pit and the feature, metres (0: hit).")
    elevation: float = Field(description="Elevation of the feature's closest point (pipes: the axis), metres.")
    depth: float | None = Field(None, description="Depth of that point below the ground, metres.")
    severity: Severity
    location: list[float] = Field(
        description="Plan position of the closest point [x, y] (city CRS here; the "
        "HTTP API writes it in the response CRS)."
    )


class Excavation(BaseModel):
    area: float = Field(description="Pit area, m².")
    depth: float | None = Field(None, description="Pit depth below the ground, metres (when given).")
    bottom_z: float | None = Field(None, description="Pit bottom elevation, metres (when given).")
    buffer: float = Field(description="Reporting distance, metres.")
    step: float = Field(description="Sampling step along centrelines, metres.")
    counts: dict[str, int] = Field(description="Hits by severity.")
    hits: list[ExcavationHit] = Field(description="Most severe first, then nearest first.")


def severity(category: str, hit: bool) -> Severity:
    """The severity of a feature of ``category`` that the pit hits (``hit``) or comes near."""
    if category in HAZARDOUS:
        return "critical" if hit else "high"
    if category in MINOR:
        return "medium" if hit else "low"
    return "high" if hit else "medium"


def _category(solids: Solids, i: int) -> str:
    own = solids.owners
    if own.collections[i] == "pipe-nodes":
        return own.utilities[i] or "manhole"
    return own.categories[i]


def _bottom(ground: GroundFn | None, xy: np.ndarray, depth: float | None, bottom_z: float | None) -> np.ndarray:
    if bottom_z is not None:
        return np.full(len(xy), float(bottom_z))
    return ground(xy) - depth  # type: ignore[misc, operator]


def conflicts(
    solids: Solids,
    polygon: shapely.Geometry,
    *,
    depth: float | None = None,
    bottom_z: float | None = None,
    buffer: float = 1.0,
    ground: GroundFn | None = None,
    step: float = STEP,
) -> list[ExcavationHit]:
    """Features of ``solids`` within ``buffer`` metres of the pit ``polygon`` x [bottom, ground]."""
    if (depth is None) == (bottom_z is None):
        raise InvalidParameter("depth", "give either depth (metres below ground) or bottom_z (an elevation).")
    if depth is not None and ground is None:
        raise InvalidParameter(
            "depth",
            "The city has no terrain, so a depth below ground cannot be placed: "
            "give bottom_z (the pit's bottom elevation) instead.",
        )
    shapely.prepare(polygon)
    n = len(solids.owners)
    best = np.full(n, np.inf)
    best_xyz = np.full((n, 3), np.nan)

    def keep(owner: np.ndarray, d: np.ndarray, xyz: np.ndarray) -> None:
        if len(owner) == 0:
            return
        order = np.lexsort((d, owner))
        first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        o = owner[first]
        better = d[first] < best[o]
        best[o[better]] = d[first][better]
        best_xyz[o[better]] = xyz[first][better]

    sw = solids.swept
    if len(sw):
        lines = shapely.linestrings(np.stack([sw.a[:, :2], sw.b[:, :2]], axis=1))
        near = np.flatnonzero(shapely.dwithin(lines, polygon, buffer + np.maximum(sw.half_w, sw.half_h)))
        if len(near):
            a, b = sw.a[near], sw.b[near]
            pts, t, seg = sample_points(a, b, step)
            # the plan crossings of the pit's edge, where the clearance changes fastest
            cross = shapely.intersection(lines[near], polygon.boundary)
            cpts, cidx = shapely.get_coordinates(cross, return_index=True)
            d2 = b[cidx, :2] - a[cidx, :2]
            len2 = (d2**2).sum(axis=1)
            ok = len2 > 0
            tc = ((cpts[ok] - a[cidx[ok], :2]) * d2[ok]).sum(axis=1) / len2[ok]
            t = np.concatenate([t, tc])
            seg = np.concatenate([seg, cidx[ok]])
            pts = a[seg] + t[:, None] * (b[seg] - a[seg])
            d = _swept_distance(pts, near[seg], sw, polygon, ground, depth, bottom_z)
            owner = sw.owner[near[seg]]
            # refine around each feature's best point: 41 points within one step either side
            order = np.lexsort((d, owner))
            first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
            seg_len = np.linalg.norm(b[seg[first]] - a[seg[first]], axis=1)
            dt = np.where(seg_len > 0, step / np.maximum(seg_len, 1e-12), 0.0)
            offs = np.linspace(-1.0, 1.0, 41)
            t2 = np.clip(t[first][:, None] + dt[:, None] * offs[None, :], 0.0, 1.0).ravel()
            s2 = np.repeat(seg[first], len(offs))
            p2 = a[s2] + t2[:, None] * (b[s2] - a[s2])
            d2_ = _swept_distance(p2, near[s2], sw, polygon, ground, depth, bottom_z)
            keep(np.concatenate([owner, sw.owner[near[s2]]]), np.concatenate([d, d2_]), np.vstack([pts, p2]))

    pr = solids.prisms
    if len(pr):
        dh = shapely.distance(pr.polygons, polygon)
        near = np.flatnonzero(dh <= buffer)
        if len(near):
            line = shapely.shortest_line(pr.polygons[near], polygon)
            q = shapely.get_coordinates(shapely.get_point(line, -1))
            bot = _bottom(ground, q, depth, bottom_z)
            dv = np.clip(bot - pr.top[near], 0.0, None)
            d = np.hypot(dh[near], dv)
            z = np.clip(bot, pr.bottom[near], pr.top[near])
            keep(pr.owner[near], d, np.column_stack([shapely.get_coordinates(shapely.get_point(line, 0)), z]))

    ch = solids.chambers
    if len(ch):
        dh = np.clip(shapely.distance(polygon, shapely.points(ch.xy)) - ch.radius, 0.0, None)
        near = np.flatnonzero(dh <= buffer)
        if len(near):
            bot = _bottom(ground, ch.xy[near], depth, bottom_z)
            dv = np.clip(bot - ch.top[near], 0.0, None)
            d = np.hypot(dh[near], dv)
            z = np.clip(bot, ch.bottom[near], ch.top[near])
            keep(ch.owner[near], d, np.column_stack([ch.xy[near], z]))

    found = np.flatnonzero(best <= buffer)
    g = ground(best_xyz[found, :2]) if ground is not None and len(found) else None
    own = solids.owners
    hits = []
    for k, i in enumerate(found.tolist()):
        cat = _category(solids, i)
        dist = float(best[i]) if best[i] > 1e-9 else 0.0
        x, y, z = best_xyz[i].tolist()
        hits.append(
            ExcavationHit(
                id=own.ids[i],
                collection=own.collections[i],
                category=own.categories[i],
                kind=own.kinds[i],
                utility=own.utilities[i],
                name=own.names[i],
                distance=round(dist, 4),
                elevation=round(z, 3),
                depth=None if g is None else round(float(g[k] - z), 3),
                severity=severity(cat, dist == 0.0),
                location=[x, y],
            )
        )
    hits.sort(key=lambda h: (SEVERITIES.index(h.severity), h.distance, h.id))
    return hits


def _swept_distance(
    pts: np.ndarray,
    piece: np.ndarray,
    sw,
    polygon: shapely.Geometry,
    ground: GroundFn | None,
    depth: float | None,
    bottom_z: float | None,
) -> np.ndarray:
    """Clearance (m) between the pit and the section around each centreline point ``pts`` (n, 3)."""
    dh = shapely.distance(polygon, shapely.points(pts[:, :2]))
    dv = np.clip(_bottom(ground, pts[:, :2], depth, bottom_z) - pts[:, 2], 0.0, None)
    hw, hh, circ = sw.half_w[piece], sw.half_h[piece], sw.circular[piece]
    return np.where(
        circ,
        np.clip(np.hypot(dh, dv) - hh, 0.0, None),
        np.hypot(np.clip(dh - hw, 0.0, None), np.clip(dv - hh, 0.0, None)),
    )


def excavation_conflicts(
    store: Store,
    polygon: shapely.Geometry,
    *,
    depth: float | None = None,
    bottom_z: float | None = None,
    buffer: float = 1.0,
    step: float = STEP,
    buildings: bool = True,
    max_area_km2: float | None = None,
) -> Excavation:
    """Conflicts of a pit (``polygon`` in the city CRS, down to ``depth`` below ground or to ``bottom_z``)
    with the store's underground features (and buildings, unless ``buildings`` is False).

    The candidates come from the store's region query: the polygon grown by ``buffer`` + 12.5 m
    (the half width of the widest section considered) and everything reaching above the pit's lowest
    bottom less the buffer.
    """
    check_area(polygon, max_area_km2)
    if (depth is None) == (bottom_z is None):
        raise InvalidParameter("depth", "give either depth (metres below ground) or bottom_z (an elevation).")
    if depth is not None and not (np.isfinite(depth) and 0 < depth <= 200):
        raise InvalidParameter("depth", f"depth must be a positive number of metres (at most 200), got {depth}.")
    if bottom_z is not None and not np.isfinite(bottom_z):
        raise InvalidParameter("bottom_z", "bottom_z must be a finite elevation.")
    if not (np.isfinite(buffer) and 0 <= buffer <= 100):
        raise InvalidParameter("buffer", f"buffer must be between 0 and 100 metres, got {buffer}.")
    if not (0.001 <= step <= 5):
        raise InvalidParameter("step", "step must be between 0.001 and 5 metres.")
    ground = ground_sampler(store.terrain())
    if depth is not None:
        if ground is None:
            raise InvalidParameter(
                "depth",
                "The city has no terrain, so a depth below ground cannot be placed: "
                "give bottom_z (the pit's bottom elevation) instead.",
            )
        lowest = ground_range(ground, polygon)[0] - depth
    else:
        lowest = float(bottom_z)  # type: ignore[arg-type]
    region = Region(polygon.buffer(buffer + SEARCH_MARGIN), lowest - buffer, None)
    cols = (*UNDERGROUND, "buildings") if buildings else UNDERGROUND
    feats = [f for cid in cols for f in store.iter_features(cid, region=region)]
    hits = conflicts(
        Solids.from_features(feats), polygon, depth=depth, bottom_z=bottom_z, buffer=buffer, ground=ground, step=step
    )
    counts = {s: sum(h.severity == s for h in hits) for s in SEVERITIES}
    return Excavation(
        area=round(polygon.area, 3), depth=depth, bottom_z=bottom_z, buffer=buffer, step=step, counts=counts, hits=hits
    )


# -- the registered analysis (POST /analysis/excavation, /processes/excavation, cim analyse) ---------------------
class ExcavationRequest(BaseModel):
    """A pit: the region, from the ground down ``depth`` metres or to the elevation ``bottom_z``."""

    model_config = ConfigDict(extra="forbid")
    region: Polygon
    crs: str | None = Field(None, description=CRS_DOC + " Also the CRS of the hits' locations.")
    depth: float | None = Field(None, gt=0, le=200, description="Pit depth below the ground, metres.")
    bottom_z: float | None = Field(None, description="Or: the pit's bottom elevation, metres.")
    buffer: float = Field(1.0, ge=0, le=100, description="Report features within this clearance, metres.")


def run(city: LocalCity, req: ExcavationRequest) -> Excavation:
    """The registered analysis: :func:`excavation_conflicts` on the request's region, hit locations written in
    the request's CRS and axis order."""
    out = output_crs(city, req.crs)
    poly = city_region(city, req.region, req.crs)
    result = excavation_conflicts(city.store, poly, depth=req.depth, bottom_z=req.bottom_z, buffer=req.buffer)
    if result.hits:
        xy = out.xy(np.array([h.location for h in result.hits], dtype=float))
        for h, p in zip(result.hits, xy.tolist(), strict=True):
            h.location = p
    return result


ANALYSIS = Analysis(
    id="excavation",
    title="Excavation conflicts",
    description="Every pipe, chamber, underground structure and building that a pit (the region, from the "
    "ground down to depth or bottom_z) cuts into or comes within buffer metres of: the least 3-D clearance, "
    "the elevation and depth of the closest point, and a severity (critical: gas, power, heat, utility and "
    "metro tunnels hit).",
    request=ExcavationRequest,
    result=Excavation,
    run=run,
    keywords=("underground", "excavation", "clearance"),
)
