"""The pipeline rule schema (GB 50289-2016, GB 50838-2015): the rules of ``pipelines.toml`` as thresholds with
their citations, the selectors that say which pipes a rule applies to, and a city's overrides.

:mod:`cim.analysis.compliance` checks pipes against these rules; the registry of rule sets
(:mod:`cim.rules.registry`) lists them as ``pipelines``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InvalidParameter

Confidence = Literal["C", "S", "M"]


# -- rules -------------------------------------------------------------------------------------------------
def _norm_pressure(p: str | None) -> str | None:
    return None if p is None else " ".join(p.lower().replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class Selector:
    """Which pipes (or "building") one side of a rule applies to."""

    utilities: frozenset[str]
    d_max: float | None = None  # d <= d_max
    d_min: float | None = None  # d > d_min
    pressure: frozenset[str] | None = None
    conduit: bool | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any], side: str) -> Selector | None:
        if side not in data:
            return None
        pressure = data.get(f"{side}_pressure")
        return cls(
            frozenset(data[side]),
            data.get(f"{side}_d_max"),
            data.get(f"{side}_d_min"),
            None if pressure is None else frozenset(str(_norm_pressure(p)) for p in pressure),
            data.get(f"{side}_conduit"),
        )

    def matches(self, pipe: PipeClass) -> bool:
        if pipe.utility not in self.utilities:
            return False
        if self.d_max is not None and not pipe.size <= self.d_max + 1e-9:
            return False
        if self.d_min is not None and not pipe.size > self.d_min + 1e-9:
            return False
        if self.pressure is not None and pipe.pressure not in self.pressure:
            return False
        return self.conduit is None or self.conduit == pipe.conduit


@dataclass(frozen=True)
class PipeClass:
    """What the rules look at in a pipe: utility ("building" for a building), outer size, pressure, conduit."""

    utility: str
    size: float = 0.0
    pressure: str | None = None
    conduit: bool = False


BUILDING = PipeClass("building")


@dataclass(frozen=True)
class Threshold:
    """One rule of ``pipelines.toml`` with its citation."""

    id: str
    section: str
    document: str
    clause: str
    confidence: Confidence
    effective: str | None
    value: float | None
    unit: str | None
    a: Selector | None = None
    b: Selector | None = None
    lane: str | None = None
    wording: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def pair_matches(self, p: PipeClass, q: PipeClass) -> bool:
        assert self.a is not None and self.b is not None
        return (self.a.matches(p) and self.b.matches(q)) or (self.a.matches(q) and self.b.matches(p))


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_overrides(path: str | Path) -> dict[str, float]:
    """``{rule id: value}`` from a TOML file (``"cover.frost" = 1.4``, or dotted keys unquoted; an
    ``[overrides]`` table is also accepted) or a JSON object."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            import json

            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise InvalidParameter("rules", f"Cannot read the rule overrides {p.name}: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidParameter("rules", f"{p.name} must hold rule id = value pairs.")
    return _flatten(data.get("overrides", data))


class PipelineRules:
    """The rules of ``cim/rules/pipelines.toml``, with a city's overrides applied.

    >>> rules = PipelineRules.load(overrides={"cover.gas.motor_lane": 1.0})
    >>> rules.get("cover.gas.motor_lane").value, rules.get("v.drainage.water").confidence
    (1.0, 'S')
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.documents: dict[str, dict[str, Any]] = dict(data.get("documents", {}))
        self.thresholds: dict[str, Threshold] = {}
        for section in ("cover", "horizontal", "vertical", "compartments"):
            sec = data[section]
            for r in sec["rules"]:
                self._add(section, {**{k: v for k, v in sec.items() if k != "rules"}, **r})
        self._add("frost", dict(data["frost"]))
        self._add("order", dict(data["order"]))
        self.order: list[str] = list(data["order"]["top_to_bottom"])

    def _add(self, section: str, r: dict[str, Any]) -> None:
        doc = self.documents.get(r.get("document", ""), {})
        known = {"id", "document", "clause", "confidence", "unit", "value", "a", "b", "lane", "wording", "note"}
        known |= {f"{s}_{k}" for s in "ab" for k in ("d_max", "d_min", "pressure", "conduit")}
        t = Threshold(
            id=r["id"],
            section=section,
            document=r["document"],
            clause=r["clause"],
            confidence=r["confidence"],
            effective=doc.get("effective"),
            value=None if r.get("value") is None else float(r["value"]),
            unit=r.get("unit"),
            a=Selector.parse(r, "a"),
            b=Selector.parse(r, "b"),
            lane=r.get("lane"),
            wording=r.get("wording"),
            note=r.get("note"),
            extra={k: v for k, v in r.items() if k not in known},
        )
        if t.id in self.thresholds:
            raise ValueError(f"duplicate rule id {t.id!r} in pipelines.toml")
        if t.confidence not in ("C", "S", "M"):
            raise ValueError(f"rule {t.id}: confidence must be C, S or M")
        self.thresholds[t.id] = t

    @classmethod
    def load(cls, overrides: Mapping[str, float] | str | Path | None = None) -> PipelineRules:
        """The shipped rules; ``overrides`` (rule id -> value, or a file of them) replace values.

        An unknown rule id or a non-numeric value raises InvalidParameter naming ``rules``.
        """
        text = resources.files("cim.rules").joinpath("pipelines.toml").read_text(encoding="utf-8")
        rules = cls(tomllib.loads(text))
        if isinstance(overrides, str | Path):
            overrides = read_overrides(overrides)
        for rid, value in (overrides or {}).items():
            t = rules.thresholds.get(rid)
            if t is None or t.section in ("order", "compartments"):
                known = ", ".join(k for k, v in rules.thresholds.items() if v.section not in ("order", "compartments"))
                raise InvalidParameter("rules", f"No rule {rid!r} with a value to override; the rules are: {known}.")
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise InvalidParameter("rules", f"The override of {rid!r} must be a number >= 0, got {value!r}.")
            rules.thresholds[rid] = Threshold(**{**t.__dict__, "value": float(value)})
        return rules

    def get(self, rid: str) -> Threshold:
        return self.thresholds[rid]

    def section(self, name: str) -> list[Threshold]:
        return [t for t in self.thresholds.values() if t.section == name]

    def pair(self, section: str, p: PipeClass, q: PipeClass) -> Threshold | None:
        """The rule of ``section`` (horizontal, vertical) for two pipes (or a pipe and BUILDING): the
        largest value where several match; None where the table gives none."""
        hits = [t for t in self.section(section) if t.pair_matches(p, q)]
        return max(hits, key=lambda t: t.value or 0.0) if hits else None
