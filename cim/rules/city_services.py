"""Rule data of the city-service analyses: living circles, complete communities, shelters, green buildings,
and the OpenStreetMap tag mapping (one TOML file each in this package; confidence marks as in RULES.md).

    >>> [(c.id, c.distance_m) for c in living_circles()]
    [('5-minute', 300.0), ('10-minute', 500.0), ('15-minute', 1000.0)]
    >>> shelter_rules().area_per_person.value_m2
    1.5
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Confidence = Literal["C", "S", "M"]


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8"))


class Circle(BaseModel):
    """One living circle: its walking distance and the facility kinds it should reach."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=40)
    distance_m: float = Field(gt=0, le=20000, description="Walking distance along the streets, metres.")
    kinds: list[str] = Field(min_length=1, description="Facility kinds of the circle.")
    clause: str = ""
    population: list[int] | None = None
    confidence: Confidence | None = None
    kinds_confidence: Confidence | None = None
    wording: str = ""
    wording_zh: str = ""


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    kind: str
    also: list[str] = Field(default_factory=list, description="Other kinds that satisfy the item.")
    floor_area_m2: float | None = None
    site_area_m2: float | None = None
    confidence: Confidence
    wording_zh: str = ""


class Checklist(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    title: str
    document: str
    effective: str
    confidence: Confidence
    source: str
    target_count: int | None = None
    target_note: str = ""
    items: list[ChecklistItem]


class Value(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    value_m2: float | None = None
    value: float | None = None
    clause: str = ""
    confidence: Confidence
    wording: str = ""
    wording_zh: str = ""


class ShelterClass(BaseModel):
    model_config = ConfigDict(extra="ignore")
    zh: str
    distance_m: float
    confidence: Confidence
    distance_note: str = ""


class ShelterRules(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    document: str
    source: str
    area_per_person: Value
    min_effective_area: Value
    fixed_share: Value
    classes: dict[str, ShelterClass]


class GreenTarget(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    share: float
    year: int
    confidence: Confidence
    wording: str


class GreenRules(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    document: str
    source: str
    confidence: Confidence
    levels: dict[str, str]
    star_rated_from: int
    target: GreenTarget


@lru_cache(maxsize=1)
def _circles_doc() -> dict[str, Any]:
    return _load("living_circles")


def facility_kinds() -> dict[str, str]:
    """The facility-kind vocabulary: kind -> Chinese name."""
    return dict(_circles_doc()["kinds"])


def living_circles() -> list[Circle]:
    """The default circles (5/10/15-minute at 300/500/1,000 m)."""
    return [Circle.model_validate(c) for c in _circles_doc()["circles"]]


def circles_source() -> dict[str, str]:
    """Where the default circles come from: the document, source, confidence and a note."""
    d = _circles_doc()
    return {"document": d["document"], "source": d["source"], "confidence": d["confidence"], "note": d["note"]}


@lru_cache(maxsize=1)
def complete_community() -> Checklist:
    """The complete-community checklist (rule data ``complete_community.toml``)."""
    return Checklist.model_validate(_load("complete_community"))


@lru_cache(maxsize=1)
def shelter_rules() -> ShelterRules:
    """The emergency-shelter rules (rule data ``shelters.toml``): area per person (m²), classes and service distances
    (m)."""
    return ShelterRules.model_validate(_load("shelters"))


@lru_cache(maxsize=1)
def green_rules() -> GreenRules:
    """The green-building rules (rule data ``green_buildings.toml``): the star scale and the target share."""
    return GreenRules.model_validate(_load("green_buildings"))


@lru_cache(maxsize=1)
def osm_tags() -> dict[str, Any]:
    """The OSM tag mapping: ``facilities`` (kind, tags) rules in order, and ``streets`` lists."""
    return _load("osm_tags")


__all__ = [
    "Circle",
    "facility_kinds",
    "living_circles",
    "complete_community",
    "shelter_rules",
    "green_rules",
    "osm_tags",
]
