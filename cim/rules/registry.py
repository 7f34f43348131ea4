"""Rule sets as a registry, as the formats and the analyses are: a rule set is a name, a title, the analysis
that uses it, and a loader taking a city's overrides (``{rule id: value}``).

Built in: every TOML file shipped in this package is a rule set named by its file stem; the listing
(:func:`rule_sets`) is made from the files, so a new file is listed without a line here.  The screening sets
(GB 50352 height classes, GB 50016 fire classes, 建科〔2021〕76号, the 2020 notice: :data:`BUILTIN_SCREENING`,
listed first, in screening order) and ``pipelines`` (:mod:`cim.rules.pipelines`: GB 50289-2016 and
GB 50838-2015) take overrides; the others load through their module (:data:`LOADERS`: storms, living
circles, complete community, shelters, green buildings, sunlight, OSM tags, city profiles), or, for a file
no module claims, as the TOML document itself.  Another rule set is one :func:`register_rule_set` call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter


@dataclass(frozen=True)
class RuleSetEntry:
    """One registered rule set: ``load(overrides)`` gives the rules with a city's overrides applied."""

    name: str
    title: str
    used_by: str  # the analyses that apply it (ids of cim.analysis.registry), or what else reads it
    load: Callable[[Mapping[str, float] | None], Any]


RULE_SETS: dict[str, RuleSetEntry] = {}

#: the screening rule sets shipped as TOML files in this package (file stems), screened in this order
BUILTIN_SCREENING = ("gb50352_height_classes", "gb50016_fire_classes", "jianke_2021_76", "notice_2020")


def register_rule_set(entry: RuleSetEntry, *, overwrite: bool = False) -> RuleSetEntry:
    """Add a rule set under its name; a name already taken raises ValueError unless ``overwrite``."""
    if entry.name in RULE_SETS and not overwrite:
        raise ValueError(f"a rule set named {entry.name!r} is already registered")
    RULE_SETS[entry.name] = entry
    return entry


def get_rule_set(name: str) -> RuleSetEntry:
    """The rule set ``name``, or InvalidParameter naming the known ones."""
    _load_builtin()
    try:
        return RULE_SETS[name]
    except KeyError:
        raise InvalidParameter("rules", f"No rule set {name!r}; the rule sets are: {', '.join(RULE_SETS)}.") from None


def rule_sets() -> dict[str, RuleSetEntry]:
    """Every registered rule set by name (built-ins first)."""
    _load_builtin()
    return dict(RULE_SETS)


def load_rules(name: str, overrides: Mapping[str, float] | None = None) -> Any:
    """The rules of the rule set ``name`` with ``overrides`` (rule id -> value) applied."""
    return get_rule_set(name).load(overrides)


def _screening(stem: str) -> RuleSetEntry:
    from . import load_rule_set, load_rule_sets

    def load(overrides: Mapping[str, float] | None) -> Any:
        return load_rule_sets((stem,), dict(overrides) if overrides else None)[0]

    return RuleSetEntry(stem, load_rule_set(stem).title, "high-rise", load)


def _pipelines() -> RuleSetEntry:
    from .pipelines import PipelineRules

    return RuleSetEntry(
        "pipelines",
        "Urban utility pipelines: cover, clearances, crossings (GB 50289-2016) and compartments (GB 50838-2015)",
        "pipe-compliance",
        lambda overrides: PipelineRules.load(overrides),
    )


def shipped_files() -> list[str]:
    """The stems of the rule files shipped in this package (``cim/rules/*.toml``), sorted."""
    from importlib import resources

    return sorted(f.name[: -len(".toml")] for f in resources.files(__package__).iterdir() if f.name.endswith(".toml"))


def _no_overrides(name: str, get: Callable[[], Any]) -> Callable[[Mapping[str, float] | None], Any]:
    def load(overrides: Mapping[str, float] | None) -> Any:
        if overrides:
            raise InvalidParameter("rules", f"The rule set {name!r} takes no overrides.")
        return get()

    return load


def _storms() -> Any:
    from ..hydro.storm import storm_rules

    return storm_rules()


def _sunlight() -> Any:
    from ..solar.rules import load_sunlight_rules

    return load_sunlight_rules()


def _city_services(attr: str) -> Callable[[], Any]:
    def get() -> Any:
        from . import city_services

        return getattr(city_services, attr)()

    return get


def _profiles() -> Any:
    from . import shipped_profiles

    return shipped_profiles()


#: the shipped rule files read through a module of their own: stem -> (title when the file gives none, the
#: analyses or importers that use it, loader)
LOADERS: dict[str, tuple[str, str, Callable[[], Any]]] = {
    "storms": ("Storm-intensity formulas and design return periods (GB 51222-2017)", "ponding, drainage", _storms),
    "living_circles": ("", "living-circles", _city_services("living_circles")),
    "complete_community": ("", "living-circles", _city_services("complete_community")),
    "shelters": ("", "shelters", _city_services("shelter_rules")),
    "green_buildings": ("", "green-buildings", _city_services("green_rules")),
    "osm_tags": ("", "import (OpenStreetMap streets and facilities)", _city_services("osm_tags")),
    "gb50180_sunlight": ("Sunlight standards of residential buildings (GB 50180-2018 §4.0.9)", "sunlight", _sunlight),
    "city_profiles": (
        "Shipped city profiles (population class, rule overrides)",
        "high-rise (cim screen --profile)",
        _profiles,
    ),
}


def _shipped(stem: str) -> RuleSetEntry:
    """A shipped rule file without overrides; its title is the file's ``title``, else :data:`LOADERS`', else its
    ``document``."""
    from . import _read_data

    doc = _read_data(f"{stem}.toml")
    title, used_by, get = LOADERS.get(stem, ("", "", lambda: _read_data(f"{stem}.toml")))
    title = str(doc.get("title") or title or doc.get("document") or stem.replace("_", " "))
    return RuleSetEntry(stem, title, used_by, _no_overrides(stem, get))


def _load_builtin() -> None:
    for stem in BUILTIN_SCREENING:
        if stem not in RULE_SETS:
            register_rule_set(_screening(stem))
    if "pipelines" not in RULE_SETS:
        register_rule_set(_pipelines())
    for stem in shipped_files():
        if stem not in RULE_SETS:
            register_rule_set(_shipped(stem))


__all__ = [
    "RuleSetEntry",
    "RULE_SETS",
    "register_rule_set",
    "get_rule_set",
    "rule_sets",
    "load_rules",
    "shipped_files",
]
