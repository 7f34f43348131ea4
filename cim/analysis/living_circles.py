"""Living circles (生活圈) and complete communities (完整社区): walking distances from every residential building to
the nearest facility of each kind, coverage per circle and kind, and each community's checklist.

Distances run along walkable streets (:mod:`cim.analysis.walk`: one multi-source pass per facility kind).  With
``access`` (the default) they include the straight legs from the building's footprint centroid and from the
facility (point, or site centroid) to their nearest points on a walkable street.  Population: a community's
population is spread over the residential buildings whose centroid lies in it, by floor area (footprint area x
floors, floors from ``floors_above`` or height / 3 m); a building outside every community takes
``attributes.population`` if it has one, else it counts for the building shares only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import shapely
from pydantic import BaseModel, Field, field_validator

from ..errors import InvalidParameter
from ..layers import Community, Facility, Street
from ..model import Building
from ..rules.city_services import Circle, circles_source, complete_community, facility_kinds, living_circles
from .params import CRS_DOC, Region, city_region
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity
    from .walk import Access

STOREY = 3.0  # metres per floor where a building gives no floor count


# -- shared loading (shelters use it too) ------------------------------------------------------------------------
@dataclass
class Homes:
    """Residential buildings: ids (m,), centroids (m, 2) metres, population (m,) (nan where unknown) and the index
    of the community each lies in (m,) (-1: none)."""

    ids: list[str]
    xy: np.ndarray
    population: np.ndarray
    community: np.ndarray


@dataclass
class Layers:
    """What the living-circle and shelter analyses read: facilities, communities with their polygons (k,)
    shapely, residential buildings, and the street graph with the facilities attached."""

    facilities: list[Facility]
    communities: list[Community]
    community_shapes: np.ndarray  # (k,) shapely polygons, metres
    homes: Homes
    access: Access


def load_layers(city: LocalCity, region: shapely.Geometry | None, *, access: bool = True) -> Layers:
    """Streets, facilities, communities and residential buildings (those in ``region``, else all)."""
    from ..store import Region as StoreRegion
    from ..store.typed import iter_typed
    from .walk import Access, StreetGraph

    store = city.store
    streets = [s for s in iter_typed(store, "streets", Street) if s.walkable]
    if not streets:
        raise InvalidParameter("streets", "The city has no walkable streets: import a streets layer first.")
    graph = StreetGraph.from_lines([s.coords() for s in streets])
    facilities = list(iter_typed(store, "facilities", Facility))
    communities = list(iter_typed(store, "communities", Community))
    shapes = np.array([shapely.Polygon(c.footprint[0], c.footprint[1:]) for c in communities], dtype=object)
    sreg = StoreRegion(region) if region is not None else None
    buildings = [b for b in iter_typed(store, "buildings", Building, region=sreg) if b.use in ("residential", "mixed")]
    homes = _homes(buildings, communities, shapes)
    fxy = np.array([f.point() for f in facilities], dtype=np.float64).reshape(-1, 2)
    return Layers(facilities, communities, shapes, homes, Access(graph, fxy, access=access))


def _homes(buildings: list[Building], communities: list[Community], shapes: np.ndarray) -> Homes:
    """The residential buildings' centroids, communities and population: a community's stated population
    shared among its buildings by floor area (floors x footprint, m²), else a building's own ``population``."""
    polys = np.array([shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in buildings], dtype=object)
    cent = shapely.centroid(polys)
    xy = shapely.get_coordinates(cent).reshape(-1, 2)
    m = len(buildings)
    floors = np.array(
        [b.floors_above if b.floors_above else max(1.0, round(b.height / STOREY)) for b in buildings], dtype=float
    )
    floor_area = shapely.area(polys) * floors if m else np.zeros(0)
    comm = np.full(m, -1, dtype=np.int64)
    if len(shapes) and m:
        tree = shapely.STRtree(shapes)
        hit = tree.query(cent, predicate="within")
        comm[hit[0][::-1]] = hit[1][::-1]  # the first community wins where they overlap
    pop = np.full(m, np.nan)
    for k, b in enumerate(buildings):
        if comm[k] < 0 and isinstance(b.attributes.get("population"), int | float):
            pop[k] = float(b.attributes["population"])
    for c, community in enumerate(communities):
        inside = comm == c
        if community.population is None or not inside.any():
            continue
        share = floor_area[inside] / floor_area[inside].sum()
        pop[inside] = community.population * share
    return Homes([b.id for b in buildings], xy, pop, comm)


def kind_groups(facilities: list[Facility], kinds: list[str]) -> dict[str, np.ndarray]:
    """Per facility kind, the indices (j,) int of the facilities of that kind."""
    fk = np.array([f.kind for f in facilities], dtype=object)
    return {k: np.flatnonzero(fk == k) for k in kinds}


# -- the analysis ------------------------------------------------------------------------------------------------
class CircleIn(BaseModel):
    """A living circle of the request: id, walking distance (m) and its facility kinds."""

    id: str = Field(min_length=1, max_length=40)
    distance_m: float = Field(gt=0, le=20000)
    kinds: list[str] = Field(min_length=1)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        known = facility_kinds()
        bad = [k for k in v if k not in known]
        if bad:
            raise ValueError(f"unknown facility kind(s) {', '.join(bad)}; known: {', '.join(known)}")
        return v


class LivingCirclesRequest(BaseModel):
    """A living-circle analysis: the area, the circles (default: the rule data's) and off-street legs."""

    region: Region | None = Field(None, description="Only residential buildings in this polygon (default all).")
    crs: str | None = Field(None, description=CRS_DOC)
    circles: list[CircleIn] | None = Field(
        None,
        min_length=1,
        description="Override of the rule data's circles (default 5/10/15-minute at 300/500/1,000 m).",
    )
    access: bool = Field(True, description="Add the off-street legs (building and facility to the street).")


class BuildingDistances(BaseModel):
    """A residential building's walking distance (m) to the nearest facility of each kind."""

    id: str
    community: str | None
    population: float | None
    distances_m: dict[str, float | None] = Field(description="Kind -> metres to the nearest; null: none reachable.")


class Coverage(BaseModel):
    """For one circle and facility kind: residential buildings and people within its distance (m), counts and shares."""

    circle: str
    kind: str
    distance_m: float
    buildings: int = Field(description="Residential buildings within the distance.")
    buildings_share: float | None
    population: float
    population_share: float | None


class ChecklistRow(BaseModel):
    """One complete-community item in one community: present, absent or too small against the standard sizes (m²)."""

    item: str
    kind: str
    status: Literal["present", "absent", "too-small", "size-unknown"]
    standard_floor_area_m2: float | None
    standard_site_area_m2: float | None
    facilities: list[str]
    confidence: str


class CommunityCheck(BaseModel):
    """A community's complete-community checklist: complete or not, what is missing or too small."""

    id: str
    name: str | None
    population: int | None
    complete: bool
    missing: list[str]
    too_small: list[str]
    items: list[ChecklistRow]


class LivingCirclesResult(BaseModel):
    """Distances per building, coverage per circle and kind, each community's checklist, the circles and rules used."""

    buildings: list[BuildingDistances]
    coverage: list[Coverage]
    communities: list[CommunityCheck]
    circles: list[Circle]
    rules: dict[str, str]


def circles_of(req_circles: list[CircleIn] | None) -> list[Circle]:
    """The request's circles, or the rule data's (GB 50180-2018) when it gives none."""
    if req_circles is None:
        return living_circles()
    return [Circle(id=c.id, distance_m=c.distance_m, kinds=c.kinds, confidence=None) for c in req_circles]


def coverage(circles: list[Circle], homes: Homes, dist: dict[str, np.ndarray]) -> list[Coverage]:
    """Buildings and population within each circle's distance of each of its kinds; ``dist`` kind -> (m,) metres."""
    rows = []
    known = ~np.isnan(homes.population)
    pop_total = float(homes.population[known].sum())
    m = len(homes.ids)
    for c in circles:
        for kind in c.kinds:
            within = dist[kind] <= c.distance_m + 1e-9
            pop = float(homes.population[within & known].sum())
            rows.append(
                Coverage(
                    circle=c.id,
                    kind=kind,
                    distance_m=c.distance_m,
                    buildings=int(within.sum()),
                    buildings_share=float(within.sum() / m) if m else None,
                    population=pop,
                    population_share=pop / pop_total if pop_total > 0 else None,
                )
            )
    return rows


def checklist(facilities: list[Facility], communities: list[Community], shapes: np.ndarray) -> list[CommunityCheck]:
    """Each community's complete-community checklist: facilities whose point lies in it, against the sizes."""
    items = complete_community().items
    fxy = np.array([f.point() for f in facilities], dtype=float).reshape(-1, 2)
    pts = shapely.points(fxy)
    out = []
    for c, community in enumerate(communities):
        inside = (
            np.flatnonzero(shapely.contains_xy(shapes[c], fxy[:, 0], fxy[:, 1])) if len(pts) else np.zeros(0, np.int64)
        )
        rows, missing, small = [], [], []
        for it in items:
            kinds = {it.kind, *it.also}
            here = [facilities[i] for i in inside if facilities[i].kind in kinds]
            if not here:
                status = "absent"
            else:
                status = "too-small"
                for f in here:
                    known = (it.floor_area_m2 is None or f.floor_area is not None) and (
                        it.site_area_m2 is None or f.site_area is not None
                    )
                    big = (it.floor_area_m2 is None or (f.floor_area or 0) >= it.floor_area_m2) and (
                        it.site_area_m2 is None or (f.site_area or 0) >= it.site_area_m2
                    )
                    if known and big:
                        status = "present"
                        break
                    if not known:
                        status = "size-unknown"
            if status == "absent":
                missing.append(it.kind)
            elif status == "too-small":
                small.append(it.kind)
            rows.append(
                ChecklistRow(
                    item=it.id,
                    kind=it.kind,
                    status=status,
                    standard_floor_area_m2=it.floor_area_m2,
                    standard_site_area_m2=it.site_area_m2,
                    facilities=[f.id for f in here],
                    confidence=it.confidence,
                )
            )
        out.append(
            CommunityCheck(
                id=community.id,
                name=community.name,
                population=community.population,
                complete=not missing and not small and all(r.status == "present" for r in rows),
                missing=missing,
                too_small=small,
                items=rows,
            )
        )
    return out


def living_circles_analysis(city: LocalCity, req: LivingCirclesRequest) -> LivingCirclesResult:
    """The registered analysis: walking distances from every home to each kind, coverage and checklists."""
    region = city_region(city, req.region, req.crs) if req.region is not None else None
    circles = circles_of(req.circles)
    layers = load_layers(city, region, access=req.access)
    kinds = list(dict.fromkeys(k for c in circles for k in c.kinds))
    near = layers.access.nearest(kind_groups(layers.facilities, kinds), layers.homes.xy)
    dist = {k: near[k].distance for k in kinds}
    homes = layers.homes
    names = [c.id for c in layers.communities]
    buildings = [
        BuildingDistances(
            id=bid,
            community=names[homes.community[i]] if homes.community[i] >= 0 else None,
            population=None if np.isnan(homes.population[i]) else round(float(homes.population[i]), 3),
            distances_m={k: (float(dist[k][i]) if np.isfinite(dist[k][i]) else None) for k in kinds},
        )
        for i, bid in enumerate(homes.ids)
    ]
    src = circles_source()
    cc = complete_community()
    return LivingCirclesResult(
        buildings=buildings,
        coverage=coverage(circles, homes, dist),
        communities=checklist(layers.facilities, layers.communities, layers.community_shapes),
        circles=circles,
        rules={
            "circles": f"{src['document']} ({src['confidence']}; facility lists M): {src['note']}",
            "complete_community": f"{cc.document} ({cc.confidence})",
        },
    )


def write_csv(result: LivingCirclesResult, request: LivingCirclesRequest) -> str:
    """The buildings' distances as CSV: id, community, population, then one ``<kind>_m`` column per kind."""
    kinds = list(dict.fromkeys(k for c in result.circles for k in c.kinds))
    buf = io.StringIO()
    buf.write(",".join(["id", "community", "population", *[f"{k}_m" for k in kinds]]) + "\n")
    for b in result.buildings:
        vals = [b.id, b.community or "", "" if b.population is None else f"{b.population:g}"]
        vals += ["" if b.distances_m[k] is None else f"{b.distances_m[k]:.3f}" for k in kinds]
        buf.write(",".join(_csv(v) for v in vals) + "\n")
    return buf.getvalue()


def _csv(v: str) -> str:
    return f'"{v.replace(chr(34), chr(34) * 2)}"' if any(c in v for c in ',"\n') else v


ANALYSIS = Analysis(
    id="living-circles",
    title="15-minute living circles and complete communities",
    description="Walking distance along the streets from every residential building to the nearest facility of "
    "each kind of the living circles (GB 50180-2018: 5/10/15-minute at 300/500/1,000 m), coverage per circle "
    "and kind (share of buildings and of population), and each community's complete-community checklist.",
    request=LivingCirclesRequest,
    result=LivingCirclesResult,
    run=living_circles_analysis,
    keywords=("15-minute city", "生活圈", "完整社区", "accessibility"),
    writers={"csv": write_csv},
    media_types={"csv": "text/csv; charset=utf-8"},
)
