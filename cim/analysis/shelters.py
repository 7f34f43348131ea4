"""Emergency shelters (应急避难场所): who each shelter serves along the streets, its capacity, and who is left out.

Every residential building goes to its nearest shelter, along the walkable streets, among those whose class's
service distance (rule data, M) it lies within; the nearest of each class comes from one multi-source pass per
class (:mod:`cim.analysis.walk`).  A shelter's capacity is its effective area / the area per person (1.5 m²,
GB 21734-2008 §5.4, C).  A shelter whose catchment exceeds its capacity serves each of its buildings the same
fraction capacity / catchment; the rest is unserved, as is the population of buildings no shelter reaches.
Population as in :mod:`cim.analysis.living_circles` (communities spread over their residential buildings).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from ..rules.city_services import shelter_rules
from .living_circles import load_layers
from .params import CRS_DOC, Region, city_region
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity


class SheltersRequest(BaseModel):
    """A shelter analysis: the area, the area per person (m²), the class of unclassed shelters, and off-street legs."""

    region: Region | None = Field(None, description="Only residential buildings in this polygon (default all).")
    crs: str | None = Field(None, description=CRS_DOC)
    area_per_person_m2: float | None = Field(
        None, gt=0, le=100, description="Override of the effective area per person (default 1.5 m², GB 21734)."
    )
    default_class: str = Field("emergency", description="Class of shelters that give none.")
    access: bool = Field(True, description="Add the off-street legs (building and shelter to the street).")


class ShelterRow(BaseModel):
    """One shelter: its class and service distance (m), effective area (m²), capacity and catchment (persons)."""

    id: str
    name: str | None
    shelter_class: str
    service_distance_m: float
    effective_area_m2: float | None
    capacity: float = Field(description="Persons: effective area / area per person.")
    population: float = Field(description="Residents whose shelter this is (catchment).")
    buildings: int
    over_capacity: float = Field(description="Catchment beyond capacity, persons (0 where it fits).")
    meets_min_area: bool | None = Field(description="Effective area over 2,000 m² (GB 21734 §5.4); null: unknown.")


class UnservedCommunity(BaseModel):
    """A community's residents (persons) that no shelter reaches or that exceed their shelter's capacity."""

    id: str | None = Field(description="Community id; null for buildings outside every community.")
    population: float
    out_of_reach: float = Field(description="Residents no shelter reaches, persons.")
    over_capacity: float = Field(description="Residents beyond the capacity of their shelter, persons.")


class SheltersResult(BaseModel):
    """Shelter capacity against the residents: per shelter, the unserved by community, the rules applied."""

    population: float = Field(description="Residents of the buildings analysed (known population).")
    effective_area_m2: float
    area_per_person_m2: float | None = Field(description="Effective shelter area / population, m².")
    area_per_person_standard_m2: float
    shelters: list[ShelterRow]
    unserved_population: float
    unserved: list[UnservedCommunity] = Field(description="Where the unserved live, by community.")
    unreached_buildings: list[str] = Field(description="Residential buildings no shelter reaches.")
    rules: dict[str, str]


def shelters_analysis(city: LocalCity, req: SheltersRequest) -> SheltersResult:
    """The registered analysis: each resident to the nearest shelter within its class's service distance along the
    streets, then capacity against catchment."""
    from ..errors import InvalidParameter

    rules = shelter_rules()
    if req.default_class not in rules.classes:
        raise InvalidParameter("default_class", f"Unknown shelter class; known: {', '.join(rules.classes)}.")
    per_person = req.area_per_person_m2 or rules.area_per_person.value_m2
    if per_person is None:  # the shipped rule file states it
        raise InvalidParameter("area_per_person_m2", "The shelter rules state no area per person: give one.")
    region = city_region(city, req.region, req.crs) if req.region is not None else None
    layers = load_layers(city, region, access=req.access)
    idx = [i for i, f in enumerate(layers.facilities) if f.kind == "shelter"]
    shelters = [layers.facilities[i] for i in idx]
    cls = np.array([s.shelter_class or req.default_class for s in shelters], dtype=object)
    homes = layers.homes
    m = len(homes.ids)
    groups = {c: np.asarray(idx, dtype=np.int64)[cls == c] for c in rules.classes}
    near = layers.access.nearest(groups, homes.xy)
    best = np.full(m, np.inf)
    owner = np.full(m, -1, dtype=np.int64)  # index into `shelters`
    pos = {fi: k for k, fi in enumerate(idx)}
    for c, res in near.items():
        ok = (res.distance <= rules.classes[c].distance_m + 1e-9) & (res.distance < best)
        best[ok] = res.distance[ok]
        owner[ok] = [pos[int(f)] for f in res.facility[ok]]
    pop = np.nan_to_num(homes.population, nan=0.0)
    cap = np.array([(s.effective_area or 0.0) / per_person for s in shelters], dtype=np.float64)
    catch = np.bincount(owner[owner >= 0], weights=pop[owner >= 0], minlength=len(shelters)).astype(float)
    nb = np.bincount(owner[owner >= 0], minlength=len(shelters))
    served_frac = np.where(catch > cap, np.divide(cap, catch, out=np.zeros_like(cap), where=catch > 0), 1.0)
    frac = np.where(owner >= 0, served_frac[np.maximum(owner, 0)], 0.0)
    out_of_reach = np.where(owner < 0, pop, 0.0)
    excess = np.where(owner >= 0, pop * (1 - frac), 0.0)
    min_area = rules.min_effective_area.value_m2
    rows = [
        ShelterRow(
            id=s.id,
            name=s.name,
            shelter_class=str(cls[k]),
            service_distance_m=rules.classes[str(cls[k])].distance_m,
            effective_area_m2=s.effective_area,
            capacity=float(cap[k]),
            population=float(catch[k]),
            buildings=int(nb[k]),
            over_capacity=float(max(catch[k] - cap[k], 0.0)),
            meets_min_area=None if s.effective_area is None or min_area is None else s.effective_area > min_area,
        )
        for k, s in enumerate(shelters)
    ]
    unserved = []
    for ci in range(-1, len(layers.communities)):  # -1: outside every community
        inside = homes.community == ci
        if not inside.any():
            continue
        r, e = float(out_of_reach[inside].sum()), float(excess[inside].sum())
        if r + e > 0:
            unserved.append(
                UnservedCommunity(
                    id=layers.communities[ci].id if ci >= 0 else None,
                    population=float(pop[inside].sum()),
                    out_of_reach=r,
                    over_capacity=e,
                )
            )
    total_pop = float(pop.sum())
    area = float(sum(s.effective_area or 0.0 for s in shelters))
    return SheltersResult(
        population=total_pop,
        effective_area_m2=area,
        area_per_person_m2=area / total_pop if total_pop > 0 else None,
        area_per_person_standard_m2=per_person,
        shelters=rows,
        unserved_population=float(out_of_reach.sum() + excess.sum()),
        unserved=unserved,
        unreached_buildings=[homes.ids[i] for i in np.flatnonzero(owner < 0)],
        rules={
            "area_per_person": f"{rules.area_per_person.clause} ({rules.area_per_person.confidence}): "
            f"{rules.area_per_person.wording}",
            "service_distance": "; ".join(f"{k} {v.distance_m:g} m ({v.confidence})" for k, v in rules.classes.items()),
        },
    )


def write_csv(result: SheltersResult, request: SheltersRequest) -> str:
    """The shelters table as CSV (one row per shelter)."""
    buf = io.StringIO()
    cols = ["id", "name", "shelter_class", "service_distance_m", "effective_area_m2", "capacity", "population"]
    cols += ["buildings", "over_capacity"]
    buf.write(",".join(cols) + "\n")
    for r in result.shelters:
        d = r.model_dump()
        buf.write(",".join("" if d[c] is None else str(d[c]).replace(",", " ") for c in cols) + "\n")
    return buf.getvalue()


ANALYSIS = Analysis(
    id="shelters",
    title="Emergency shelters: catchment, capacity and unserved population",
    description="Residents within each shelter's service distance along the streets (nearest shelter first), "
    "capacity from effective area / area per person (GB 21734-2008: 1.5 m²), and the unserved population "
    "(out of reach, or beyond their shelter's capacity) by community.",
    request=SheltersRequest,
    result=SheltersResult,
    run=shelters_analysis,
    keywords=("应急避难场所", "emergency shelter"),
    writers={"csv": write_csv},
    media_types={"csv": "text/csv; charset=utf-8"},
)
