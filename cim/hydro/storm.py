"""Design storms: the storm-intensity formula, the Chicago hyetograph and uniform depths.

The formula (GB 50014-2021) gives the mean intensity over a duration ``t`` (min) for a return period ``P``
(years): ``i = A1 (1 + C lg P) / (t + b)^n`` mm/min (``q = 167 i`` L/(s·ha)).  Its parameters are rule data
(``cim/rules/storms.toml``, one table per city).  The Chicago hyetograph (Keifer & Chu, 1957) arranges that
formula around a peak at ``peak_ratio`` of the duration so that every window centred on the peak holds the
formula's depth; its cumulative depth from the peak is ``D(x) = a x / (x / r + b)^n`` before the peak and
``a x / (x / (1 - r) + b)^n`` after it, so the whole storm holds ``a T / (T + b)^n`` mm exactly.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import InvalidParameter


class Formula(BaseModel):
    """Parameters of ``i = A1 (1 + C lg P) / (t + b)^n`` (mm/min, t in minutes)."""

    model_config = ConfigDict(extra="ignore")
    A1: float = Field(gt=0, le=1000)
    C: float = Field(ge=0, le=10)
    b: float = Field(ge=0, le=1000)
    n: float = Field(gt=0, lt=1)
    name: str = ""
    confidence: str = "I"
    note: str = ""

    def intensity(self, return_period_a: float, duration_min: float) -> float:
        """Mean intensity over ``duration_min``, mm/min."""
        return self.a(return_period_a) / (duration_min + self.b) ** self.n

    def a(self, return_period_a: float) -> float:
        return self.A1 * (1.0 + self.C * np.log10(return_period_a))

    def depth_mm(self, return_period_a: float, duration_min: float) -> float:
        """Depth of the design storm of ``duration_min``, mm."""
        return self.intensity(return_period_a, duration_min) * duration_min


class Storm(BaseModel):
    """A design storm: ``{"return_period_a": 30, "duration_min": 120, "peak_ratio": 0.4}`` (Chicago
    hyetograph from the city's storm-intensity formula) or ``{"rainfall_mm": 80}`` (uniform depth over
    ``duration_min``)."""

    model_config = ConfigDict(extra="forbid")
    return_period_a: float | None = Field(None, ge=1, le=1000, description="Return period, years.")
    rainfall_mm: float | None = Field(
        None, ge=0, le=2000, description="Uniform storm: total depth, mm (instead of a period)."
    )
    duration_min: float = Field(120.0, gt=0, le=24 * 60, description="Storm duration, minutes.")
    peak_ratio: float = Field(0.4, gt=0, lt=1, description="Chicago hyetograph: time of the peak / duration.")
    step_min: float = Field(5.0, ge=1, le=60, description="Time step of the hyetograph, minutes.")
    formula: str | Formula = Field(
        "shenyang", description="Storm-intensity formula: a name in cim/rules/storms.toml or its parameters."
    )

    @model_validator(mode="after")
    def _check(self) -> Storm:
        if self.rainfall_mm is not None and self.return_period_a is not None:
            raise ValueError("give return_period_a or rainfall_mm, not both")
        return self


@dataclass(frozen=True)
class Hyetograph:
    """Rain depth per time step: ``depth_mm[k]`` falls during ``[k, k + 1) * step_min`` minutes."""

    step_min: float
    depth_mm: np.ndarray  # (steps,) float, mm
    return_period_a: float | None
    formula: str | None

    @property
    def total_mm(self) -> float:
        return float(self.depth_mm.sum())

    @property
    def duration_min(self) -> float:
        return self.step_min * len(self.depth_mm)

    @property
    def intensity_mm_per_h(self) -> np.ndarray:
        return self.depth_mm * (60.0 / self.step_min)

    def excess_mm(self, runoff_coefficient: float, sink_mm_per_h: float = 0.0) -> float:
        """Runoff depth, mm: per step ``max(0, c * rain - sink * dt)``, summed."""
        sink = sink_mm_per_h * self.step_min / 60.0
        return float(np.maximum(runoff_coefficient * self.depth_mm - sink, 0.0).sum())


@lru_cache(maxsize=1)
def storm_rules() -> dict[str, Any]:
    """``cim/rules/storms.toml`` as a dict."""
    return tomllib.loads(resources.files("cim.rules").joinpath("storms.toml").read_text("utf-8"))


def formula(name_or_params: str | Formula) -> Formula:
    """A named formula of the rule data, or the one given."""
    if isinstance(name_or_params, Formula):
        return name_or_params
    table = storm_rules()["formulas"]
    if name_or_params not in table:
        raise InvalidParameter(
            "storm.formula", f"Unknown storm-intensity formula {name_or_params!r}; known: {', '.join(table)}."
        )
    return Formula.model_validate(table[name_or_params])


def design_return_period(urban_population: int | None) -> tuple[float, str]:
    """The lower bound of the GB 51222 design return period for a city's class, and the class name.
    Without a population: the 大城市 (1-5 million) class."""
    pop = 1_000_000 if urban_population is None else urban_population
    for c in storm_rules()["return_periods"]["classes"]:
        if pop >= c["min_population"]:
            return float(c["years"][0]), c["class"]
    raise AssertionError("the classes end at 0")  # pragma: no cover


def chicago(f: Formula, return_period_a: float, duration_min: float, peak_ratio: float, step_min: float) -> np.ndarray:
    """Chicago hyetograph: rain depth per step (mm), exact averages of the continuous curve."""
    a, b, n, r = f.a(return_period_a), f.b, f.n, peak_ratio
    tp = r * duration_min
    edges = np.append(np.arange(0.0, duration_min, step_min), duration_min)

    def cum(t: np.ndarray) -> np.ndarray:  # depth from the start to t, mm
        before = np.clip(tp - t, 0.0, None)
        after = np.clip(t - tp, 0.0, None)
        d_before = a * before / (before / r + b) ** n
        d_after = a * after / (after / (1 - r) + b) ** n
        total_before = a * tp / (tp / r + b) ** n
        return np.where(t <= tp, total_before - d_before, total_before + d_after)

    return np.diff(cum(edges))


def hyetograph(storm: Storm, urban_population: int | None = None) -> Hyetograph:
    """The storm's rain per step; a storm with neither a period nor a depth takes the city's design period."""
    steps = max(1, int(np.ceil(storm.duration_min / storm.step_min - 1e-9)))
    if storm.rainfall_mm is not None:
        depth = np.full(steps, storm.rainfall_mm / steps)
        return Hyetograph(storm.duration_min / steps, depth, None, None)
    f = formula(storm.formula)
    period = storm.return_period_a or design_return_period(urban_population)[0]
    depth = chicago(f, period, storm.duration_min, storm.peak_ratio, storm.step_min)
    name = storm.formula if isinstance(storm.formula, str) else "given"
    return Hyetograph(storm.step_min, depth, period, name)
