"""The sunlight rule set (``cim/rules/gb50180_sunlight.toml``): standard days, windows, sampling parameters and
the table 4.0.9 standards by climate zone, city population and use, each with its confidence mark."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Confidence = Literal["C", "S", "M"]
ZONES = ("I", "II", "III", "IV", "V", "VI", "VII")


class Day(BaseModel):
    """A standard day (大寒日, 冬至日): the sun's apparent longitude and the true-solar-time window."""

    model_config = ConfigDict(extra="forbid")
    name_zh: str
    solar_longitude: float
    window: tuple[str, str]
    confidence: Confidence
    source: str


class Standard(BaseModel):
    """One row of GB 50180-2018 table 4.0.9: climate zones, city size, use, day and required hours."""

    model_config = ConfigDict(extra="forbid")
    id: str
    zones: list[str]
    population: Literal["any", "ge_500k", "lt_500k"]
    use: Literal["residential", "elderly"]
    day: str
    hours: float
    confidence: Confidence
    wording: str


class ZoneEntry(BaseModel):
    """A city's building-climate zone, with the names it goes by."""

    model_config = ConfigDict(extra="forbid")
    zone: str
    aliases: list[str]
    confidence: Confidence
    source: str


class SunlightRules(BaseModel):
    """The sunlight rule set (cim/rules/gb50180_sunlight.toml): days, sampling parameters, standards, zones."""

    model_config = ConfigDict(extra="forbid")
    id: str
    document: str
    clause: str
    effective: str
    confidence: Confidence
    source: str
    method_document: str
    population_split: int
    population_split_confidence: Confidence
    days: dict[str, Day]
    sampling: dict[str, Any]
    standards: list[Standard]
    zones: dict[str, ZoneEntry]

    def min_continuous(self, day: str) -> float:
        m = self.sampling["min_continuous_min"]
        return float(m.get(day, m["other"]))

    def city_zone(self, city_name: str) -> ZoneEntry | None:
        for entry in self.zones.values():
            if any(a.lower() in city_name.lower() for a in entry.aliases):
                return entry
        return None

    def standard(self, zone: str, population: int | None, use: str) -> Standard | None:
        """The table 4.0.9 standard for a climate zone, city population (None: unknown) and use."""
        for s in self.standards:
            if s.use != use or zone not in s.zones:
                continue
            if s.population == "any":
                return s
            if population is None:
                continue
            big = population >= self.population_split
            if (s.population == "ge_500k") == big:
                return s
        return None


@lru_cache(maxsize=1)
def load_sunlight_rules() -> SunlightRules:
    """The shipped sunlight rule set (cached)."""
    text = resources.files("cim.rules").joinpath("gb50180_sunlight.toml").read_text(encoding="utf-8")
    return SunlightRules.model_validate(tomllib.loads(text))
