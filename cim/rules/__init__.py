"""Rule sets as data: thresholds with their citations, and the city profiles that select them.

Each ``*.toml`` file in this package is one rule set (GB 50352 height classes, GB 50016 fire classes,
建科〔2021〕76号, the 2020 notice); ``city_profiles.toml`` holds the shipped city profiles.  Every rule has
an id, the document and clause, an effective date, a confidence mark (``C`` read in the source, ``S``
secondary restatement only, ``M`` commonly quoted, unconfirmed: see ``shared/domain/RULES.md``), its wording,
the threshold with its unit, and whether the threshold itself counts (``inclusive``) with a ``reading``
that says why.  A correction is a one-line change to a data file; a city changes a threshold with an
override (``{rule id: value}``) rather than an edit.

    >>> from cim.rules import load_rule_sets
    >>> rules = {r.id: r for s in load_rule_sets() for r in s.rules}
    >>> rules["76.ban.ge3m"].threshold, rules["76.ban.ge3m"].inclusive
    (500.0, True)
    >>> bool(rules["gb50352.ultra-high-rise"].passes(100.0)), bool(rules["gb50352.ultra-high-rise"].passes(100.01))
    (False, True)
"""

from __future__ import annotations

import json
import re
import tomllib
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InvalidParameter
from ..model import XY, BuildingUse, City, FireStation

#: the rule sets screened by default, by file stem
RULE_SETS = ("gb50352_height_classes", "gb50016_fire_classes", "jianke_2021_76", "notice_2020")

Confidence = Literal["C", "S", "M"]
PopulationClass = Literal["lt_3m", "ge_3m"]

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class Verdict(StrEnum):
    """Screening verdicts, least to most severe.

    ``exceeds-new-build-limit`` is the verdict of existing buildings (``new: false``, every building in the
    store) under a rule on new construction (新建): a register entry naming the rule and clause, never
    ``restricted`` or ``not-allowed``, which are meant for proposals.
    """

    ok = "ok"
    consult_fire_rescue = "consult-fire-rescue"
    exceeds_new_build_limit = "exceeds-new-build-limit"
    restricted = "restricted"
    not_allowed = "not-allowed"

    @property
    def rank(self) -> int:
        return _VERDICT_ORDER.index(self)


_VERDICT_ORDER = list(Verdict)


class Rule(BaseModel):
    """One rule: a threshold (or a class, siting or ladder check) with its citation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    clause: str
    kind: Literal["class", "verdict", "note", "parameter", "plant-room", "ladder", "siting"]
    verdict: Verdict | None = Field(None, description="Verdict a building that meets the rule gets.")
    assigns: str | None = Field(None, description="Class a 'class' rule gives (the rule set's `classes`).")
    category: str = Field("any", description="Use category the rule is about (the rule set's `uses`), or any.")
    population: Literal["any", "lt_3m", "ge_3m"] = "any"
    applies_to: Literal["all", "new", "existing"] = "all"
    new_construction: bool | None = Field(
        None,
        description="A rule on new construction (新建): existing buildings get exceeds-new-build-limit from it "
        "instead of restricted/not-allowed.  Default: whether wording_zh says 新建.",
    )
    threshold: float | None = None
    unit: str | None = None
    inclusive: bool | None = Field(None, description="Whether a value equal to the threshold meets the rule.")
    exempt_single_storey: bool = False
    kinds: list[str] = Field(default_factory=list, description="attributes.kind values the rule is limited to.")
    min_class: str | None = Field(None, description="Lowest GB 50352 height class the rule applies to.")
    layer: Literal["ventilation_corridors", "historic_districts"] | None = None
    wording: str
    wording_zh: str | None = None
    reading: str = ""
    consequence: str | None = None
    # filled from the rule set where not given
    rule_set: str = ""
    document: str = ""
    effective: str = ""
    confidence: Confidence | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.new_construction is None:
            object.__setattr__(self, "new_construction", "新建" in (self.wording_zh or ""))
        if self.kind in ("verdict", "note", "ladder", "siting") and self.verdict is None:
            raise ValueError(f"rule {self.id}: a {self.kind} rule needs a verdict")
        if self.kind == "class" and not self.assigns:
            raise ValueError(f"rule {self.id}: a class rule needs `assigns`")
        if self.kind in ("class", "verdict", "note", "parameter", "plant-room") and (
            self.threshold is None or self.inclusive is None or not self.unit
        ):
            raise ValueError(f"rule {self.id}: a {self.kind} rule needs threshold, unit and inclusive")
        if self.kind == "siting" and (self.layer is None or self.min_class is None):
            raise ValueError(f"rule {self.id}: a siting rule needs layer and min_class")
        return self

    def passes(self, value: Any) -> Any:
        """Whether ``value`` (a number or an array) meets the threshold: ``>=`` if inclusive, else ``>``."""
        v = np.asarray(value, dtype=float)
        out = v >= self.threshold if self.inclusive else v > self.threshold
        return out if out.ndim else bool(out)

    @property
    def text(self) -> str:
        """The wording to show: the Chinese original where recorded, else the English."""
        return self.wording_zh or self.wording


class RuleSet(BaseModel):
    """One rule-set file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    short: str = Field(description="Short name of the document for tables.")
    document: str
    effective: str
    effective_note: str | None = None
    confidence: Confidence
    source: str
    note: str = ""
    uses: dict[str, list[str]] = Field(description="Building use -> the categories whose rules apply to it.")
    classes: list[str] = Field(default_factory=list, description="Classes of the set's class rules, lowest first.")
    rules: list[Rule]

    @field_validator("effective")
    @classmethod
    def _date(cls, v: str) -> str:
        if not _DATE.match(v):
            raise ValueError(f"effective must be YYYY, YYYY-MM or YYYY-MM-DD, got {v!r}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        """Each rule inherits the set's id, document, effective date and confidence unless it gives its own."""
        if isinstance(data, dict) and isinstance(data.get("rules"), list):
            inherit = {
                "rule_set": data.get("id", ""),
                "document": data.get("document", ""),
                "effective": data.get("effective", ""),
                "confidence": data.get("confidence"),
            }
            data = {
                **data,
                "rules": [
                    {**inherit, **r, "rule_set": inherit["rule_set"], "document": inherit["document"]}
                    if isinstance(r, dict)
                    else r
                    for r in data["rules"]
                ],
            }
        return data

    @model_validator(mode="after")
    def _check(self) -> RuleSet:
        missing = {u.value for u in BuildingUse if u != BuildingUse.unknown} - set(self.uses)
        if missing:
            raise ValueError(f"rule set {self.id}: `uses` lacks {sorted(missing)}")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"rule set {self.id}: duplicate rule ids")
        for r in self.rules:
            if r.kind == "class" and self.classes and r.assigns not in self.classes:
                raise ValueError(f"rule {r.id}: class {r.assigns!r} is not one of {self.classes}")
            if r.effective and not _DATE.match(r.effective):
                raise ValueError(f"rule {r.id}: effective must be YYYY, YYYY-MM or YYYY-MM-DD")
        return self

    def categories(self, use: BuildingUse | str) -> list[str]:
        """The categories whose rules apply to a use; an unknown use gets those of residential and public
        (the stricter of each rule set: screened as if it could be either)."""
        v = BuildingUse(use).value
        if v == BuildingUse.unknown.value and v not in self.uses:
            return list(dict.fromkeys([*self.uses.get("residential", []), *self.uses.get("public", [])]))
        return self.uses[v]


# Class names of the two class-giving rule sets, lowest first (kept with the data's `assigns`).
HEIGHT_CLASSES = ["low-multi-storey", "high-rise", "ultra-high-rise"]
FIRE_CLASSES = ["single-multi-storey", "class-II", "class-I"]
CLASS_LABELS_ZH = {
    "low-multi-storey": "低层/多层",
    "high-rise": "高层",
    "ultra-high-rise": "超高层",
    "single-multi-storey": "单、多层",
    "class-II": "二类高层",
    "class-I": "一类高层",
}
_CLASSES = {"gb50352": HEIGHT_CLASSES, "gb50016": FIRE_CLASSES}


def _read_data(name: str) -> dict[str, Any]:
    res = resources.files(__name__).joinpath(name)
    return tomllib.loads(res.read_text(encoding="utf-8"))


@lru_cache(maxsize=16)
def load_rule_set(name: str) -> RuleSet:
    """The rule set in ``cim/rules/<name>.toml`` (package data, read with importlib.resources)."""
    data = _read_data(f"{name}.toml")
    data.setdefault("classes", _CLASSES.get(data.get("id", ""), []))
    return RuleSet.model_validate(data)


def load_rule_sets(names: tuple[str, ...] = RULE_SETS, overrides: dict[str, float] | None = None) -> list[RuleSet]:
    """The rule sets, with thresholds replaced by ``overrides`` (rule id -> value).

    An unknown rule id, or a rule without a threshold, raises InvalidParameter naming ``overrides``.
    """
    sets = [load_rule_set(n) for n in names]
    if not overrides:
        return sets
    known = {r.id: r for s in sets for r in s.rules}
    for rid, value in overrides.items():
        if rid not in known:
            raise InvalidParameter(
                "overrides", f"No rule {rid!r} to override; the rules are: {', '.join(sorted(known))}."
            )
        if known[rid].threshold is None:
            raise InvalidParameter("overrides", f"Rule {rid!r} has no threshold to override.")
        if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
            raise InvalidParameter("overrides", f"The override of {rid!r} must be a finite number, got {value!r}.")
    out = []
    for s in sets:
        rules = [
            r.model_copy(update={"threshold": float(overrides[r.id])}) if r.id in overrides else r for r in s.rules
        ]
        out.append(s.model_copy(update={"rules": rules}))
    return out


# -- city profiles -------------------------------------------------------------------------------------------


class Zone(BaseModel):
    """A polygon of a city profile (ventilation corridor, historic district): rings in the city CRS, metres."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str | None = None
    rings: list[list[XY]] = Field(min_length=1, description="Exterior ring then holes, (easting, northing).")


class CityProfile(BaseModel):
    """What selects and tunes the rules for a city.

    Every field is optional: a field left out falls back on the city model (``City.urban_population``,
    ``City.fire_stations``).
    """

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    urban_population: int | None = Field(None, ge=0, description="城区常住人口.")
    population_class: PopulationClass | None = Field(
        None, description="lt_3m or ge_3m; derived from urban_population when not given."
    )
    confidence: Confidence | None = None
    note: str | None = None
    fire_stations: list[FireStation] | None = None
    ventilation_corridors: list[Zone] = Field(default_factory=list)
    historic_districts: list[Zone] = Field(default_factory=list)
    overrides: dict[str, float] = Field(default_factory=dict, description="Rule id -> threshold value.")


@lru_cache(maxsize=1)
def shipped_profiles() -> dict[str, CityProfile]:
    """The profiles of ``city_profiles.toml`` by key (shenyang, dalian, anshan)."""
    return {k: CityProfile.model_validate(v) for k, v in _read_data("city_profiles.toml").items()}


def load_profile(name_or_path: str | Path) -> CityProfile:
    """A shipped profile by key or city name (``"anshan"``, ``"鞍山"``), or a TOML / JSON profile file."""
    key = str(name_or_path)
    for k, p in shipped_profiles().items():
        if key.lower() == k or key == p.name or key in p.aliases:
            return p
    path = Path(key)
    if not path.is_file():
        raise InvalidParameter(
            "profile",
            f"No city profile {key!r}: give one of {', '.join(shipped_profiles())} or a TOML/JSON profile file.",
        )
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        return CityProfile.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise InvalidParameter("profile", f"The profile file {path.name} is not valid: {exc}") from None


def resolve_profile(city: City, profile: CityProfile | str | Path | None = None) -> CityProfile:
    """The profile the screening uses for ``city``.

    Precedence: the fields of an explicit ``profile``; then the city model (population, fire stations); then a
    shipped profile whose name matches the city's.
    """
    if isinstance(profile, str | Path):
        profile = load_profile(profile)
    base = profile or CityProfile()
    shipped = next((p for p in shipped_profiles().values() if city.name in (p.name, *p.aliases)), None)
    update: dict[str, Any] = {}
    if base.name is None:
        update["name"] = city.name
    if base.urban_population is None and base.population_class is None:
        if city.urban_population is not None:
            update["urban_population"] = city.urban_population
            update["confidence"] = None
            update["note"] = "urban population of the city model"
        elif shipped is not None:
            update.update(
                urban_population=shipped.urban_population,
                population_class=shipped.population_class,
                confidence=shipped.confidence,
                note=shipped.note,
            )
    if base.fire_stations is None:
        update["fire_stations"] = list(city.fire_stations)
    return base.model_copy(update=update)


def population_class(profile: CityProfile, split: Rule) -> PopulationClass | None:
    """``profile.population_class``, else the class of its urban population by ``split`` (76.population-split)."""
    if profile.population_class is not None:
        return profile.population_class
    if profile.urban_population is None:
        return None
    return "ge_3m" if split.passes(profile.urban_population) else "lt_3m"


__all__ = [
    "RULE_SETS",
    "HEIGHT_CLASSES",
    "FIRE_CLASSES",
    "CLASS_LABELS_ZH",
    "Confidence",
    "PopulationClass",
    "Verdict",
    "Rule",
    "RuleSet",
    "Zone",
    "CityProfile",
    "load_rule_set",
    "load_rule_sets",
    "shipped_profiles",
    "load_profile",
    "resolve_profile",
    "population_class",
]
