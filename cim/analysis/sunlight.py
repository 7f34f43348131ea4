"""Sunlight (日照) checks of proposals against GB 50180-2018 table 4.0.9 (``POST /analysis/sunlight``).

For each target building (given by id, or the residential buildings near the proposals) the window-sill points
on its walls that face the sun's range (:mod:`cim.solar.facade`) are tested at every step of the standard day's
window in true solar time (:mod:`cim.solar.sun`), with and without the proposals: LOD1 prisms by the exact
vectorised shadow-top test, LOD2 surfaces and the terrain by ray casting (:mod:`cim.solar.shadow`).

Per point: the sunlit minutes with and without the proposals (only continuous periods of at least the rule
set's minimum count), the longest continuous period and which proposals shade it.  Per building: the worst
point and a verdict against the standard for the city's climate zone, population and the building's use
(``cim/rules/gb50180_sunlight.toml``):

* ``pass`` — every point gets at least the required time;
* ``fail`` — some point is below it and, with proposals, the proposals reduce that point's time (GB 50180
  §4.0.9: nothing new may lower a neighbour below the standard; Shenyang's rule 64 art. 24: unless it already
  had less and is not made worse); without proposals, below the standard;
* ``existing-shortfall`` — below the standard already, and the proposals take nothing from those points;
* ``not-assessed`` — no standard applies (not housing, the climate zone or population unknown, or the day is
  not the standard's day).

Proposals stand on the terrain at their centroid (or ``ground_elevation``); they replace nothing.  Floors of
existing buildings are ``floors_above`` (else height / 3 m) and their storey height height / floors (the
sill of floor 0 is exact; higher floors are approximate by the parapet).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
import json
import re
from typing import Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import FeatureNotFound, InvalidParameter
from ..model import Building, BuildingUse
from ..solar.rules import ZONES, SunlightRules, load_sunlight_rules
from .params import CRS_DOC, Polygon, city_points, output_crs
from .registry import Analysis

MAX_PROPOSALS = 50
MAX_TARGETS = 2000
MAX_PAIRS = 300_000_000  # point x step pairs one request may ask for (memory: a few bytes each per building)
MAX_STEPS = 1440  # steps in one window
ELDERLY_KINDS = {"elderly", "elderly_housing", "老年人居住建筑", "养老"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


# -- request ----------------------------------------------------------------------------------------------------
class ProposalIn(BaseModel):
    """A proposed building: footprint (GeoJSON Polygon in the request's ``crs``) and height or floors."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    name: str | None = None
    footprint: Polygon
    height: float | None = Field(None, gt=0, le=1000, description="Height above ground, metres.")
    floors: int | None = Field(None, ge=1, le=250, description="Floors above ground (height = floors x storey).")
    storey_height: float = Field(3.0, gt=0, le=20, description="Storey height, metres (with `floors`).")
    ground_elevation: float | None = Field(None, description="Ground elevation, metres (default: the terrain).")
    use: BuildingUse = BuildingUse.residential

    @model_validator(mode="after")
    def _height(self) -> ProposalIn:
        if self.height is None and self.floors is None:
            raise ValueError("give height (metres) or floors")
        if self.design_height() > 1000:
            raise ValueError(f"floors x storey_height = {self.design_height():.0f} m is over 1000 m")
        return self

    def design_height(self) -> float:
        return float(self.height) if self.height is not None else self.floors * self.storey_height  # type: ignore[operator]


class Targets(BaseModel):
    """Which buildings to check: ids, or residential buildings within a distance of the proposals."""

    model_config = ConfigDict(extra="forbid")
    buildings: list[str] | None = Field(None, min_length=1, max_length=MAX_TARGETS)
    within_m: float | None = Field(None, gt=0, le=2000, description="Metres from any proposal's footprint.")

    @model_validator(mode="after")
    def _one(self) -> Targets:
        if (self.buildings is None) == (self.within_m is None):
            raise ValueError("give exactly one of buildings or within_m")
        return self


class PointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spacing_m: float = Field(1.0, ge=0.1, le=100, description="Spacing of points along a wall, metres.")
    floors: Literal["lowest", "all"] = Field("lowest", description="The lowest floor only, or every floor.")
    sill_m: float | None = Field(None, ge=0, le=5, description="Sill above the floor, metres (default 0.9).")
    report: Literal["all", "worst"] = Field(
        "all", description="Report every point, or only each building's worst point (large requests)."
    )


class SunlightRequest(BaseModel):
    """Sunlight of target buildings' sills on one day, with and without proposals (coordinates in ``crs``)."""

    model_config = ConfigDict(extra="forbid")
    crs: str | None = Field(None, description=CRS_DOC)
    proposals: list[ProposalIn] = Field(default_factory=list, max_length=MAX_PROPOSALS)
    targets: Targets | None = Field(None, description="Default: residential buildings within 200 m of proposals.")
    day: str | None = Field(None, description="dahan (大寒日), dongzhi (冬至日) or YYYY-MM-DD; default the standard's.")
    year: int | None = Field(None, ge=1900, le=2100, description="Year of the solar-term day (default 2026).")
    window: list[str] | None = Field(
        None, min_length=2, max_length=2, description='True solar time ["HH:MM", "HH:MM"] (default the day\'s).'
    )
    step_min: float | None = Field(None, gt=0, le=60, description="Time step, minutes (default 1).")
    points: PointSpec = Field(default_factory=PointSpec)
    climate_zone: Literal["I", "II", "III", "IV", "V", "VI", "VII"] | None = Field(
        None, description="Building climate zone (default from the city's name in the rule set)."
    )
    urban_population: int | None = Field(None, ge=0, description="城区常住人口 (default the city model's).")
    min_continuous_min: float | None = Field(None, ge=0, le=240, description="Shortest period that counts, min.")
    sweep_deg: float | None = Field(None, ge=0, lt=90, description="Sweep angle, degrees (default the rule set's).")

    @field_validator("day")
    @classmethod
    def _day(cls, v: str | None) -> str | None:
        if v is None or v in ("dahan", "dongzhi"):
            return v
        if not _DATE.match(v):
            raise ValueError("day must be dahan, dongzhi or a date YYYY-MM-DD")
        try:
            d = dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"day {v!r} is not a calendar date") from None
        if not 1900 <= d.year <= 2100:
            raise ValueError("day must fall in 1900-2100")
        return v

    @field_validator("window")
    @classmethod
    def _window(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            a, b = (_minutes(s) for s in v)
            if not a < b:
                raise ValueError("window must be [start, end] with start before end")
        return v


def _minutes(s: str) -> float:
    m = _HHMM.match(s)
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and int(m.group(2)) > 0):
        raise ValueError(f"{s!r} is not a time HH:MM")
    return int(m.group(1)) * 60.0 + int(m.group(2))


# -- result -----------------------------------------------------------------------------------------------------
class SunPoint(BaseModel):
    x: float = Field(description="First coordinate in the request's CRS (its official axis order).")
    y: float = Field(description="Second coordinate in the request's CRS.")
    z: float = Field(description="Elevation, metres (city height datum).")
    floor: int = Field(description="0 = the lowest floor.")
    minutes: float = Field(description="Sunlit minutes with the proposals (periods >= the minimum continuous).")
    minutes_without_proposals: float
    longest_minutes: float = Field(description="Longest continuous sunlit period with the proposals, minutes.")
    blocked_by: list[str] = Field(description="Proposals that shade this point at some step it would be sunlit.")


class SunBuilding(BaseModel):
    id: str
    use: BuildingUse
    verdict: Literal["pass", "fail", "existing-shortfall", "not-assessed"]
    standard: str | None = Field(None, description="Rule id of the standard applied.")
    required_minutes: float | None = None
    confidence: str | None = Field(None, description="Confidence mark of the standard (C, S, M).")
    note: str = ""
    worst_minutes: float | None = Field(None, description="Least sunlit minutes of its points with the proposals.")
    worst_minutes_without_proposals: float | None = None
    worst_point: int | None = Field(None, description="Index of the worst point in `points`.")
    blocked_by: list[str] = Field(default_factory=list)
    points: list[SunPoint]


class SunlightResult(BaseModel):
    """Sunlit minutes per target building and sill point, with the verdict against the rule set."""

    day: str = Field(description="The date analysed (YYYY-MM-DD).")
    day_name: str | None = Field(None, description="dahan or dongzhi when it is a standard day.")
    window: list[str] = Field(description="True solar time window, HH:MM.")
    step_min: float
    min_continuous_min: float
    sweep_deg: float
    sill_m: float
    longitude: float
    latitude: float
    climate_zone: str | None
    urban_population: int | None
    rule_set: str
    document: str
    sampling_confidence: dict[str, str] = Field(description="Confidence mark of each sampling parameter used.")
    proposals: list[str]
    engine: str = Field(description="prisms (LOD1, exact) plus the ray engine used for LOD2 and terrain.")
    rays: int = Field(description="Point x step pairs tested.")
    buildings: list[SunBuilding]


# -- helpers ----------------------------------------------------------------------------------------------------
def _hhmm(m: float) -> str:
    return f"{int(m // 60):02d}:{int(round(m % 60)):02d}"


def runs(sunlit: np.ndarray, min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) bool -> (counted steps: runs of at least ``min_len`` steps, longest run) per row, both (N,)."""
    N, T = sunlit.shape
    pad = np.zeros((N, T + 2), np.int8)
    pad[:, 1:-1] = sunlit
    d = np.diff(pad, axis=1)
    r0, c0 = np.nonzero(d == 1)
    r1, c1 = np.nonzero(d == -1)  # same row order as the starts
    length = c1 - c0
    longest = np.zeros(N, np.int64)
    np.maximum.at(longest, r0, length)
    counted = np.bincount(r0, weights=np.where(length >= min_len, length, 0), minlength=N)
    return counted.astype(np.int64), longest


def _lonlat(epsg: int, xy: np.ndarray) -> tuple[float, float]:
    from ..solar.sun import transformer

    tr = transformer(f"EPSG:{epsg}", "EPSG:4326")
    lon, lat = tr.transform(float(xy[0]), float(xy[1]))
    return float(lon), float(lat)


def _population(city, req: SunlightRequest) -> int | None:
    if req.urban_population is not None:
        return req.urban_population
    model = city.store.city()
    if model.urban_population is not None:
        return model.urban_population
    from ..rules import resolve_profile

    prof = resolve_profile(model)
    if prof.urban_population is not None:
        return prof.urban_population
    return 3_000_000 if prof.population_class == "ge_3m" else None


def _proposal_polygons(city, req: SunlightRequest) -> list[shapely.Polygon]:
    out = []
    seen = set()
    for i, p in enumerate(req.proposals):
        where = f"proposals.{i}.footprint"
        if p.id in seen:
            raise InvalidParameter(f"proposals.{i}.id", f"proposal id {p.id!r} is given twice.")
        seen.add(p.id)
        rings = []
        for k, ring in enumerate(p.footprint.coordinates):
            xy = np.asarray([q[:2] for q in ring], dtype=float)
            if not np.isfinite(xy).all():
                raise InvalidParameter(where, f"{where} ring {k} has coordinates that are not finite.")
            rings.append(city_points(city, xy, req.crs, parameter="crs"))
        poly = shapely.Polygon(rings[0], rings[1:])
        if poly.is_empty or not poly.is_valid or poly.area <= 0:
            reason = shapely.is_valid_reason(poly) if not poly.is_empty else "empty"
            raise InvalidParameter(where, f"{where} is not a valid polygon ({reason}).")
        out.append(poly)
    return out


def _targets(city, req: SunlightRequest, polys: list[shapely.Polygon]) -> list[Building]:
    from ..store.base import Region

    t = req.targets
    if t is not None and t.buildings is not None:
        out = []
        for k, fid in enumerate(t.buildings):
            try:
                out.append(city.store.get("buildings", fid))
            except FeatureNotFound:
                raise InvalidParameter(
                    f"targets.buildings.{k}", f"targets.buildings: no building {fid!r} in this city."
                ) from None
        return out
    if not polys:
        raise InvalidParameter("targets", "give targets (building ids) or proposals (their neighbours are checked).")
    within = t.within_m if t is not None else 200.0
    union = shapely.union_all(polys)
    region = Region(union.buffer(within))
    found = [
        b
        for b in city.store.iter_features("buildings", region=region)
        if b.use in (BuildingUse.residential, BuildingUse.mixed)
        and shapely.Polygon(b.footprint[0]).distance(union) <= within
    ]
    if len(found) > MAX_TARGETS:
        raise InvalidParameter("targets.within_m", f"{len(found)} buildings are within reach; at most {MAX_TARGETS}.")
    return found


def _terrain_max_near(terrain, xy: np.ndarray, z_low: float, top: float, tan_alt: np.ndarray, reach: float) -> float:
    """Highest DEM node that a ray from these columns (lowest point ``z_low``) could meet: the terrain can only rise
    above a ray within (top - z_low) / tan(lowest altitude) of its start; refined once with the local maximum."""
    if terrain is None or not np.isfinite(top) or len(tan_alt) == 0 or top <= z_low:
        return top if top > z_low else -np.inf
    tmin = max(float(tan_alt.min()), float(np.tan(np.radians(0.5))))
    ny, nx = terrain.shape
    local = top
    for _ in range(2):
        r = min((local - z_low) / tmin, reach) + terrain.cell
        i0, j0 = np.floor((xy.min(axis=0) - r - [terrain.x0, terrain.y0]) / terrain.cell).astype(int)
        i1, j1 = np.ceil((xy.max(axis=0) + r - [terrain.x0, terrain.y0]) / terrain.cell).astype(int)
        win = terrain.z[max(j0, 0) : max(min(j1 + 1, ny), 0), max(i0, 0) : max(min(i1 + 1, nx), 0)]
        if win.size == 0 or np.isnan(win).all():
            return -np.inf
        local = min(local, float(np.nanmax(win)))
        if local <= z_low:
            return -np.inf
    return local


RAY_MARGIN = 0.01  # metres: rays are cast for points up to this far above the LOD2/terrain bound (float32 rays)


def _sunlit_numpy(S, facing, pc, z, origin, wall, zcol, hz, tan, prop_prisms, reach, ray, local, direction, min_steps,
                  lod2_bbox, lod2_top, terrain, terrain_top):  # fmt: skip
    """The numpy form of the compiled path (without numba): (points x steps) masks, rays below the highest LOD2
    building or terrain node that may reach.  Returns (m_wo, m_w, longest, blocked per proposal)."""
    from ..solar import shadow

    active = facing.any(axis=0)
    up = tan > 0
    zlow = float(z.min())
    sun_wo = facing[pc] & (z[:, None] >= S[pc])
    if ray is not None:
        # per step, the top of the highest LOD2 building that may shade these columns: points above it are lit
        lt, lo2 = shadow.candidate_pairs(origin, zlow, hz, np.where(active, tan, -1.0), lod2_bbox, lod2_top, reach)
        lod2_z = np.full(len(hz), -np.inf)
        np.maximum.at(lod2_z, lt, lod2_top[lo2])
        t_top = _terrain_max_near(terrain, origin, zlow, terrain_top, tan[active & up], reach)
        cand = sun_wo & ((z[:, None] < lod2_z[None, :]) | (z < t_top)[:, None])
        r, t = np.nonzero(cand)
        if len(r):
            o = np.column_stack([origin[pc[r]] - local, z[r]])
            hit = shadow.rays_blocked(ray, o, direction[t])
            sun_wo[r[hit], t[hit]] = False
    sun_w = sun_wo.copy()
    blocked = []
    for pp in prop_prisms:
        Sk = shadow.shadow_tops_by_wall(origin, wall, facing, zcol, hz, tan, pp, max_reach=reach)
        shaded = sun_wo & (z[:, None] < Sk[pc])
        blocked.append(shaded.any(axis=1))
        sun_w &= ~shaded
    m_wo, _ = runs(sun_wo, min_steps)
    m_w, longest = runs(sun_w, min_steps)
    return m_wo, m_w, longest, blocked


NEAR_M = 200.0  # metres: every building this close to the targets is loaded as an obstacle


def _obstacles(city, xy: np.ndarray, z_low: float, tan_min: float, reach: float) -> list[Building]:
    """Buildings that may shade points at or above ``z_low`` near ``xy``: all within NEAR_M of the targets' box,
    and farther out (up to ``reach``) only those whose solid rises above z_low + NEAR_M x tan(lowest altitude)
    (the store's 3-D index answers that)."""
    from ..store.base import Region

    lo, hi = xy.min(axis=0), xy.max(axis=0)
    found = {
        b.id: b
        for b in city.store.iter_features(
            "buildings", region=Region.box(lo[0] - NEAR_M, lo[1] - NEAR_M, hi[0] + NEAR_M, hi[1] + NEAR_M)
        )
    }
    zmin = z_low + NEAR_M * max(tan_min, float(np.tan(np.radians(0.5))))
    far = Region.box(lo[0] - reach, lo[1] - reach, hi[0] + reach, hi[1] + reach, zmin, 1e5)
    for b in city.store.iter_features("buildings", region=far):
        found.setdefault(b.id, b)
    return list(found.values())


_POINT_FIELDS = frozenset(SunPoint.model_fields)


def _point(values: dict) -> SunPoint:
    """A SunPoint from values already of the right types, without validation (what ``model_construct`` does,
    minus its per-field work: tens of thousands of points per request)."""
    p = _new(SunPoint)
    _set(p, "__dict__", values)
    _set(p, "__pydantic_fields_set__", set(_POINT_FIELDS))
    _set(p, "__pydantic_extra__", None)
    _set(p, "__pydantic_private__", None)
    return p


_new, _set = SunPoint.__new__, object.__setattr__


def _floors(b: Building) -> tuple[int, float]:
    n = b.floors_above if b.floors_above else max(1, int(round(b.height / 3.0)))
    return n, b.height / n


# -- run --------------------------------------------------------------------------------------------------------
def run(city, req: SunlightRequest) -> SunlightResult:
    """Run the sunlight analysis on a local city."""
    with _gc_paused():
        return _run(city, req)


@contextlib.contextmanager
def _gc_paused():
    """Python's cyclic garbage collector off for the duration: a request makes tens of thousands of result
    objects, and each generational pass would rescan them all (measured: the point models cost 2-3x as much with
    it on).  Reference counting still frees everything; the collector resumes, if it was on, at the end."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _run(city, req: SunlightRequest) -> SunlightResult:  # noqa: C901 - one pass: targets, points, sun, verdicts
    """The analysis (:func:`run`)."""
    from ..mesh import building_meshes
    from ..solar import facade, shadow
    from ..solar.sun import solar_term_date, sun_track

    rules: SunlightRules = load_sunlight_rules()
    samp = rules.sampling
    model = city.store.city()
    epsg = city.crs_epsg
    zone_entry = rules.city_zone(model.name)
    zone = req.climate_zone or (zone_entry.zone if zone_entry else None)
    population = _population(city, req)
    polys = _proposal_polygons(city, req)
    targets = _targets(city, req, polys)

    # the day and the window
    res_std = rules.standard(zone, population, "residential") if zone else None
    day_name = req.day if req.day in (None, "dahan", "dongzhi") else None
    if day_name is None and req.day is None:
        day_name = res_std.day if res_std else "dahan"
    year = req.year or int(samp["reference_year"])
    if day_name:
        date = solar_term_date(year, rules.days[day_name].solar_longitude)
    else:
        date = dt.date.fromisoformat(req.day)  # type: ignore[arg-type]
    win = req.window or list(rules.days[day_name or "dahan"].window)
    start, end = _minutes(win[0]), _minutes(win[1])
    step = float(req.step_min or samp["step_min"])
    n_steps = (end - start) / step
    if abs(n_steps - round(n_steps)) > 1e-6:
        raise InvalidParameter("step_min", f"the window ({end - start:g} min) is not a whole number of steps.")
    if n_steps > MAX_STEPS:
        raise InvalidParameter("step_min", f"{n_steps:.0f} steps in the window; at most {MAX_STEPS}.")
    min_cont = req.min_continuous_min if req.min_continuous_min is not None else rules.min_continuous(day_name or "")
    sweep = req.sweep_deg if req.sweep_deg is not None else float(samp["sweep_deg"])
    sill = req.points.sill_m if req.points.sill_m is not None else float(samp["sill_m"])
    all_floors = req.points.floors == "all"

    terrain = city.store.terrain()
    if not targets:
        return _result(
            city, req, date, day_name, win, step, min_cont, sweep, sill, (0.0, 0.0), zone, population, [], 0, "", []
        )
    fps = [b.footprint for b in targets]
    allxy = np.concatenate([np.asarray(b.footprint[0], float)[:, :2] for b in targets])
    centre = 0.5 * (allxy.min(axis=0) + allxy.max(axis=0))
    lon, lat = _lonlat(epsg, centre)
    ground = np.array([b.ground_elevation for b in targets])
    track = sun_track(
        lon,
        lat,
        date,
        (start, end),
        step,
        epsg=epsg,
        elevation=float(ground.mean()),
        refraction=bool(samp["refraction"]),
    )
    up = track.altitude > 0
    hz, tan = track.horizontal, track.tan_altitude

    # proposals: ground and prisms
    prop_ground = []
    for p, poly in zip(req.proposals, polys, strict=True):
        g = p.ground_elevation
        if g is None and terrain is not None:
            g = float(terrain.sample(np.array([[poly.centroid.x, poly.centroid.y]]))[0])
        if g is None or not np.isfinite(g):
            g = float(ground[np.argmin([shapely.Polygon(b.footprint[0]).distance(poly) for b in targets])])
        prop_ground.append(g)
    prop_prisms = [
        shadow.Prisms.build(
            [[list(poly.exterior.coords), *[list(h.coords) for h in poly.interiors]]], [g + p.design_height()], [p.id]
        )
        for p, poly, g in zip(req.proposals, polys, prop_ground, strict=True)
    ]

    # existing obstacles within reach
    reach = float(samp["max_reach_m"])
    near = _obstacles(city, allxy, float(ground.min() + sill), float(track.tan_altitude[up].min()) if up.any() else 0.0,
                      reach)  # fmt: skip
    lod1 = [b for b in near if not b.surfaces]
    lod2 = [b for b in near if b.surfaces]
    prisms = shadow.Prisms.build(
        [b.footprint for b in lod1], [float(b.roof_elevation or 0.0) for b in lod1], [b.id for b in lod1]
    )
    local = np.round(centre)  # ray casting in local coordinates (Embree works in float32)
    ray_parts, lod2_bbox, lod2_top = [], np.zeros((0, 4)), np.zeros(0)
    lod2_edges, tgrid = shadow.Prisms.empty(), None
    if lod2:
        m = building_meshes(lod2)
        ray_parts.append((m.vertices - [local[0], local[1], 0.0], m.faces))
        lod2_edges = shadow.Prisms.from_mesh(m.vertices, m.faces, m.feature, m.ids)
        lod2_bbox = np.array([[*np.min(b.exterior(), 0), *np.max(b.exterior(), 0)] for b in lod2])
        lod2_top = np.array([max(p[2] for s in b.surfaces or [] for r in s.rings for p in r) for b in lod2])
    terrain_top = -np.inf
    if terrain is not None:
        # the terrain can rise above a ray only within (highest ground - lowest point) / tan(lowest altitude)
        tan_min = max(float(tan[up].min()) if up.any() else 1.0, float(np.tan(np.radians(0.5))))
        t_r = min(reach, max(float(np.nanmax(terrain.z)) - float(ground.min() + sill), 0.0) / tan_min) + terrain.cell
        t_lo, t_hi = allxy.min(axis=0) - t_r, allxy.max(axis=0) + t_r
        tm = city.terrain_mesh((t_lo[0], t_lo[1], t_hi[0], t_hi[1]), max_cells=400_000)
        if tm is not None and len(tm.faces):
            ray_parts.append((tm.vertices - [local[0], local[1], 0.0], tm.faces))
            terrain_top = float(tm.vertices[:, 2].max())
            tgrid = shadow.TerrainGrid.from_vertices(tm.vertices[np.unique(tm.faces)])
    ray = None
    if ray_parts:
        import trimesh

        verts, faces, off = [], [], 0
        for v, f in ray_parts:
            verts.append(v)
            faces.append(f + off)
            off += len(v)
        ray = shadow.intersector(trimesh.Trimesh(np.concatenate(verts), np.concatenate(faces), process=False))
    engine = "prisms" + (f"+{shadow.engine_name(ray)}" if ray is not None else "")

    cols = facade.facade_columns(fps, hz, up, spacing=req.points.spacing_m, sweep_deg=sweep)
    nf = np.array([_floors(b)[0] for b in targets])
    storey = np.array([_floors(b)[1] for b in targets])
    pts = facade.facade_points(cols, ground, nf, storey, sill, all_floors)
    pairs = int(cols.facing[pts.column].sum()) if len(pts) else 0
    if pairs > MAX_PAIRS:
        raise InvalidParameter("points", f"{pairs} point x step pairs; at most {MAX_PAIRS}: coarsen points or step.")
    direction = track.direction
    min_steps = int(np.ceil(min_cont / step - 1e-9))
    kern = shadow.kernels()
    out_crs = output_crs(city, req.crs)

    buildings: list[SunBuilding] = []
    order = np.argsort(cols.building, kind="stable")
    col_start = np.searchsorted(cols.building[order], np.arange(len(targets) + 1))
    pt_order = np.argsort(cols.building[pts.column], kind="stable")
    pt_start = np.searchsorted(cols.building[pts.column][pt_order], np.arange(len(targets) + 1))
    for g, b in enumerate(targets):
        ci = order[col_start[g] : col_start[g + 1]]
        pi = pt_order[pt_start[g] : pt_start[g + 1]]
        if len(pi) == 0:
            buildings.append(_verdict(b, rules, zone, population, day_name, [], None, None, None, [], bool(polys), []))
            continue
        remap = np.full(len(cols), -1)
        remap[ci] = np.arange(len(ci))
        pc = remap[pts.column[pi]]
        z = pts.z[pi]
        origin = cols.origin[ci]
        facing = cols.facing[ci]
        zcol = np.full(len(ci), np.inf)
        np.minimum.at(zcol, pc, z)
        wall = cols.wall[ci]
        groups = shadow.wall_groups(origin, wall, facing, zcol)
        S = shadow.shadow_tops_by_wall(origin, wall, facing, zcol, hz, tan, prisms, max_reach=reach, groups=groups)
        if kern is not None:
            # compiled: LOD2 and terrain bounded from above by shadow tops, rays only below them; no (N, T) masks
            SP = np.zeros((len(prop_prisms), len(ci), len(hz)))
            for k, pp in enumerate(prop_prisms):
                SP[k] = shadow.shadow_tops_by_wall(
                    origin, wall, facing, zcol, hz, tan, pp, max_reach=reach, groups=groups
                )
            ray_hit = np.zeros((0, 0), np.uint8)
            if ray is not None:
                U = shadow.shadow_tops_by_wall(
                    origin, wall, facing, zcol, hz, tan, lod2_edges, max_reach=reach, groups=groups
                )
                if tgrid is not None:
                    shadow.terrain_tops(U, origin, zcol, facing, hz, tan, tgrid)
                r, t = kern.candidates(S, U, facing, pc, z, RAY_MARGIN)
                if len(r):
                    o = np.column_stack([origin[pc[r]] - local, z[r]])
                    hit = shadow.rays_blocked(ray, o, direction[t])
                    ray_hit = np.zeros((len(pi), len(hz)), np.uint8)
                    ray_hit[r[hit], t[hit]] = 1
            m_wo, m_w, longest, blk = kern.finish(S, SP, facing, pc, z, ray_hit, min_steps)
            blocked = list(blk)
        else:
            m_wo, m_w, longest, blocked = _sunlit_numpy(
                S, facing, pc, z, origin, wall, zcol, hz, tan, prop_prisms, reach, ray, local, direction, min_steps,
                lod2_bbox, lod2_top, terrain, terrain_top,
            )  # fmt: skip
        xy = out_crs.xy(cols.xy[ci][pc])
        ids = [p.id for p in req.proposals]
        xs, ys = xy[:, 0].tolist(), xy[:, 1].tolist()
        zs, fl = np.round(z, 3).tolist(), pts.floor[pi].tolist()
        mw, mwo, lg = (m_w * step).tolist(), (m_wo * step).tolist(), (longest * step).tolist()
        by: list[list[str]] = [[] for _ in range(len(pi))]
        for k, hit in enumerate(blocked):
            for i in np.flatnonzero(hit).tolist():
                by[i].append(ids[k])
        sel = range(len(pi)) if req.points.report == "all" else [int(np.argmin(m_w))]
        points = [
            _point(
                {
                    "x": xs[i],
                    "y": ys[i],
                    "z": zs[i],
                    "floor": fl[i],
                    "minutes": mw[i],
                    "minutes_without_proposals": mwo[i],
                    "longest_minutes": lg[i],
                    "blocked_by": by[i],
                }
            )
            for i in sel
        ]
        b_blocked = [ids[k] for k in range(len(ids)) if blocked[k].any()]
        worst_at = None if req.points.report == "all" else 0
        buildings.append(
            _verdict(b, rules, zone, population, day_name, points, m_w * step, m_wo * step, worst_at, ids, bool(polys),
                     b_blocked)
        )  # fmt: skip
    return _result(
        city, req, date, day_name, win, step, min_cont, sweep, sill, (lon, lat), zone, population, buildings,
        pairs * (1 + len(prop_prisms)), engine, [p.id for p in req.proposals],
    )  # fmt: skip


def _verdict(b, rules, zone, population, day_name, points, m_w, m_wo, worst_at, ids, has_props, blocked) -> SunBuilding:
    kind = str(b.attributes.get("kind", "")) if b.attributes else ""
    use = "elderly" if kind in ELDERLY_KINDS else "residential"
    std = None
    note = ""
    if b.use not in (BuildingUse.residential, BuildingUse.mixed):
        note = f"{b.use.value} building: table 4.0.9 applies to housing"
    elif zone is None:
        note = "climate zone unknown: give climate_zone"
    else:
        std = rules.standard(zone, population, use)
        if std is None:
            note = "city population unknown: give urban_population"
        elif day_name != std.day:
            note = f"the standard ({std.id}) is for {std.day}; this run is not"
            std = None
    worst = int(np.argmin(m_w)) if points else None
    base = dict(
        id=b.id,
        use=b.use,
        points=points,
        worst_point=(worst if worst_at is None else worst_at) if worst is not None else None,
        worst_minutes=float(m_w[worst]) if worst is not None else None,
        worst_minutes_without_proposals=float(m_wo.min()) if worst is not None else None,
        blocked_by=blocked,
    )
    if std is None or worst is None:
        return SunBuilding(verdict="not-assessed", note=note or "no wall faces the sun", **base)
    req_min = std.hours * 60.0
    below = m_w < req_min - 1e-9
    if not below.any():
        verdict = "pass"
    elif not has_props:
        verdict = "fail"
    else:
        verdict = "fail" if (below & (m_w < m_wo)).any() else "existing-shortfall"
    return SunBuilding(
        verdict=verdict, standard=std.id, required_minutes=req_min, confidence=std.confidence, note=note, **base
    )


def _result(
    city, req, date, day_name, win, step, min_cont, sweep, sill, lonlat, zone, pop, buildings, rays, engine, props
):
    rules = load_sunlight_rules()
    s = rules.sampling
    return SunlightResult(
        day=date.isoformat(),
        day_name=day_name,
        window=[_hhmm(_minutes(w)) for w in win],
        step_min=step,
        min_continuous_min=float(min_cont),
        sweep_deg=float(sweep),
        sill_m=float(sill),
        longitude=round(lonlat[0], 6),
        latitude=round(lonlat[1], 6),
        climate_zone=zone,
        urban_population=pop,
        rule_set=rules.id,
        document=f"{rules.document} {rules.clause}",
        sampling_confidence={
            "window": (rules.days[day_name].confidence if day_name else "given"),
            "step_min": s["step_min_confidence"] if req.step_min is None else "given",
            "min_continuous_min": s["min_continuous_min"]["confidence"] if req.min_continuous_min is None else "given",
            "sweep_deg": s["sweep_deg_confidence"] if req.sweep_deg is None else "given",
            "sill_m": s["sill_m_confidence"] if req.points.sill_m is None else "given",
        },
        proposals=props,
        engine=engine or "prisms",
        rays=int(rays),
        buildings=buildings,
    )


# -- writers ----------------------------------------------------------------------------------------------------
_COLUMNS = ["building", "verdict", "x", "y", "z", "floor", "minutes", "minutes_without_proposals", "longest_minutes"]


def _rows(res: SunlightResult):
    for b in res.buildings:
        for p in b.points:
            yield b, p


def write_csv(res: SunlightResult, req: SunlightRequest) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*_COLUMNS, "blocked_by"])
    for b, p in _rows(res):
        w.writerow([b.id, b.verdict, p.x, p.y, p.z, p.floor, p.minutes, p.minutes_without_proposals,
                    p.longest_minutes, ";".join(p.blocked_by)])  # fmt: skip
    return buf.getvalue()


def write_geojson(res: SunlightResult, req: SunlightRequest) -> str:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p.x, p.y, p.z]},
            "properties": {
                "building": b.id,
                "verdict": b.verdict,
                "floor": p.floor,
                "minutes": p.minutes,
                "minutes_without_proposals": p.minutes_without_proposals,
                "longest_minutes": p.longest_minutes,
                "blocked_by": p.blocked_by,
            },
        }
        for b, p in _rows(res)
    ]
    fc = {"type": "FeatureCollection", "features": feats, "day": res.day, "window": res.window}
    if req.crs:
        fc["crs"] = req.crs
    return json.dumps(fc, ensure_ascii=False)


ANALYSIS = Analysis(
    id="sunlight",
    title="Sunlight (日照) of neighbours under proposals, GB 50180-2018 table 4.0.9",
    description=(
        "Sunlit minutes at window-sill points of target buildings on the standard day (大寒日/冬至日) in true "
        "solar time, with and without the proposals, and a verdict per building against the standard for the "
        "city's climate zone, population and the building's use."
    ),
    request=SunlightRequest,
    result=SunlightResult,
    run=run,
    keywords=("sunlight", "日照", "GB 50180", "shadow", "proposal"),
    writers={"csv": write_csv, "geojson": write_geojson},
    media_types={"csv": "text/csv", "geojson": "application/geo+json"},
)

__all__ = ["ANALYSIS", "SunlightRequest", "SunlightResult", "ZONES", "runs"]
