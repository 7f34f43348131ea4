"""Rule sets as a registry, as the formats and the analyses are: a rule set is a name, a title, the analysis
that uses it, and a loader taking a city's overrides (``{rule id: value}``).

Built in: the screening sets of :mod:`cim.rules` (one TOML file each: GB 50352 height classes, GB 50016 fire
classes, 建科〔2021〕76号, the 2020 notice) and ``pipelines`` (:mod:`cim.rules.pipelines`: GB 50289-2016 and
GB 50838-2015).  A new rule set is a data file and one :func:`register_rule_set` call (or one line in
:data:`BUILTIN_SCREENING` for a screening TOML in this package).
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
    used_by: str  # the analysis that applies it (an id of cim.analysis.registry)
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


def _load_builtin() -> None:
    for stem in BUILTIN_SCREENING:
        if stem not in RULE_SETS:
            register_rule_set(_screening(stem))
    if "pipelines" not in RULE_SETS:
        register_rule_set(_pipelines())


__all__ = ["RuleSetEntry", "RULE_SETS", "register_rule_set", "get_rule_set", "rule_sets", "load_rules"]
